"""What one document may cost: nesting depth and YAML alias expansion, bounded before and while parsing."""

from __future__ import annotations

import io
import re
from typing import Any

import yaml

from .errors import SourceError

try:  # libyaml is several times faster when the platform has it
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - pure-Python PyYAML (the single-file build)
    _Loader = yaml.SafeLoader

MAX_DEPTH = 100  # nesting levels of one document; Kubernetes objects use a few dozen at most
MAX_NODES = 2_000_000  # nodes of one document with its YAML aliases expanded
_ANCHOR = re.compile(r"(?:^|[\s\[{,])[&*][^\s,\[\]{}]")
_OPENER = re.compile(r"\[(?!\s*\])|\{(?!\s*\})")
# Indentation and block indicators at the start of a line, one indicator (with the blanks before it) per
# repetition and at most MAX_DEPTH + 1 of them: a repeated group costs the regex engine memory per
# repetition (a 10 MB line of spaces once peaked at 1.27 GB), and past MAX_DEPTH the bound has done its job.
_LEAD = re.compile(rf"^(?:[ \t]*(?:[-?:](?=[ \t]|$)|[&!][^ \t]*)){{0,{MAX_DEPTH + 1}}}[ \t]*", re.MULTILINE)
_SURROGATE = re.compile(r"\\[uU]0{0,4}[dD][89a-fA-F]")


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0].split(";")[0]


def _openers(text: str) -> int:
    """How many non-empty flow collections open in the text: a bound on flow nesting."""
    return text.count("[") + text.count("{")


def _indent_bound(text: str) -> int:
    """The longest run of indentation and block indicators: a bound on block nesting."""
    return max((m.end() - m.start() for m in _LEAD.finditer(text)), default=0)


class _Expansion:
    """Counts YAML nodes as aliases would expand them, and refuses nesting and expansion past the bounds."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.stack: list[int] = []  # nodes counted so far in each open collection
        self.anchors: dict[str, int] = {}  # anchor -> expanded node count (-1 while its collection is open)
        self.open_anchors: list[str | None] = []
        self.total = 0

    def add(self, size: int) -> None:
        if self.stack:
            self.stack[-1] += size
        else:
            self.total += size

    def start(self, anchor: str | None) -> None:
        if len(self.stack) >= MAX_DEPTH:
            raise SourceError(f"{self.label}: YAML nested deeper than {MAX_DEPTH} levels, refused")
        self.stack.append(1)
        self.open_anchors.append(anchor)
        if anchor:
            self.anchors[anchor] = -1

    def end(self) -> None:
        size = self.stack.pop()
        anchor = self.open_anchors.pop()
        if anchor:
            self.anchors[anchor] = size
        self.add(size)

    def leaf(self, event: yaml.ScalarEvent | yaml.AliasEvent) -> None:
        size = 1
        if isinstance(event, yaml.AliasEvent):
            size = self.anchors.get(str(event.anchor), 1)
            if size < 0:
                raise SourceError(f"{self.label}: YAML alias *{event.anchor} refers to itself, refused")
        elif event.anchor:
            self.anchors[event.anchor] = 1
        self.add(size)

    def feed(self, event: yaml.Event) -> None:
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            self.start(event.anchor)
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)) and self.stack:
            self.end()
        elif isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent)):
            self.leaf(event)
        elif isinstance(event, yaml.DocumentEndEvent):
            self.total = 0
        if self.total + sum(self.stack) > MAX_NODES:
            raise SourceError(f"{self.label}: YAML aliases expand to more than {MAX_NODES} nodes, refused")


def _check_events(label: str, text: str) -> None:
    """Refuse YAML nested too deep, with recursive aliases, or whose aliases expand too far."""
    expansion = _Expansion(label)
    try:
        for event in yaml.parse(io.StringIO(text), Loader=_Loader):
            expansion.feed(event)
    except yaml.YAMLError as exc:
        if "maximum nesting depth" in str(exc):  # libyaml's own limit, reached before ours is counted
            raise SourceError(f"{label}: YAML nested deeper than {MAX_DEPTH} levels, refused") from None
        return  # the load that follows reports the syntax error with its line


def json_too_deep(data: bytes) -> bool | None:
    """Whether JSON text, valid as `json.loads` reads it, nests deeper than MAX_DEPTH; None: walk the
    parsed document instead (`walk_too_deep`), for a text of mostly escapes.

    Read from the bytes before they are decoded, so that they can be freed before parsing: the brackets
    outside strings, nested pairs removed a level per pass (C-speed bytes operations, a few passes for
    real objects).
    """
    brackets = _json_brackets(data)
    if brackets is None:
        return None
    for _ in range(MAX_DEPTH):
        if not brackets:
            return False
        brackets = brackets.replace(b"[]", b"")  # every innermost pair: one level less everywhere
    return bool(brackets)


_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'[]{}"')))
_SQUARE = bytes.maketrans(b"{}", b"[]")


def _json_brackets(data: bytes) -> bytes | None:
    """The brackets of valid JSON text outside its strings, `{}` as `[]`; None when escapes abound.

    Bracket bytes never occur inside a multi-byte UTF-8 sequence, so the bytes are read as they are.
    """
    parts = []
    escapes, most = 0, len(data) >> 8
    start, i = 0, data.find(b"\\")
    while i >= 0:  # outside strings valid JSON has no backslash; inside, each starts an escape of one more byte
        escapes += 1
        if escapes > most:
            return None  # one Python step per escape: the tree walk is cheaper then
        parts.append(data[start:i].translate(None, _NOT_STRUCTURE))
        start = i + 2
        i = data.find(b"\\", start)
    parts.append(data[start:].translate(None, _NOT_STRUCTURE))
    # `""`: a string without brackets, or two strings with no bracket between them; dropping the pair
    # keeps every later quote's parity, so what is left between quotes is still string content
    seq = b"".join(parts).replace(b'""', b"")
    if b'"' in seq:
        seq = b"".join(seq.split(b'"')[::2])
    return seq.translate(_SQUARE)


def walk_too_deep(doc: Any) -> bool:
    """Whether a parsed JSON document nests deeper than MAX_DEPTH (walked without recursion)."""
    stack = [(doc, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        if depth > MAX_DEPTH:
            return True
        depth += 1
        for child in node.values() if type(node) is dict else node if type(node) is list else ():
            if type(child) is dict or type(child) is list:
                push((child, depth))
    return False
