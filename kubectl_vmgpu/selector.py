"""kubectl's label selectors (`-l`): equality (`a=b`, `a==b`, `a!=b`), set-based (`a in (x,y)`, `a notin (x)`,
`a`, `!a`), requirements ANDed by commas, as k8s.io/apimachinery/pkg/labels/selector.go parses them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

Labels = Mapping[str, str]
Selector = Callable[[Labels], bool]

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET = re.compile(rf"^\s*({_KEY})\s+(in|notin)\s*\(([^()]*)\)\s*$")
_EQ = re.compile(rf"^\s*({_KEY})\s*(==|=|!=)\s*({_VALUE})\s*$")
_EXISTS = re.compile(rf"^\s*(!?)\s*({_KEY})\s*$")


class SelectorError(ValueError):
    """A selector kubectl would refuse too."""


def _split(text: str) -> list[str]:
    """Requirements split at the commas outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _requirement(req: str) -> Selector:
    m = _SET.match(req)
    if m:
        key, op = m.group(1), m.group(3)
        values = {v.strip() for v in m.group(4).split(",")}
        if not all(re.fullmatch(_VALUE, v) for v in values):
            raise SelectorError(f"invalid value in {req.strip()!r}")
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    m = _EQ.match(req)
    if m:
        key, op, value = m.group(1), m.group(3), m.group(4)
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    m = _EXISTS.match(req)
    if m:
        negate, key = bool(m.group(1)), m.group(2)
        return lambda labels: (key in labels) != negate
    raise SelectorError(f"unable to parse requirement {req.strip()!r}")


def parse(text: str) -> Selector:
    """A predicate over a labels mapping; an empty selector matches everything."""
    if not text.strip():
        return lambda _labels: True
    reqs = [_requirement(part) for part in _split(text)]
    return lambda labels: all(r(labels) for r in reqs)
