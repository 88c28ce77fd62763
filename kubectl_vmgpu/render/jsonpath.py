"""kubectl's `-o jsonpath=`, `-o custom-columns=` and `--sort-by`, over the `get` List, with jsonpath-ng.

kubectl's template language (k8s.io/client-go/util/jsonpath): text outside braces is printed as is,
`{.path}` prints every match separated by a space, `{"\\n"}` a quoted literal, `{range .path}...{end}`
repeats its body for each match; missing keys print nothing (kubectl's --allow-missing-template-keys
default). Expressions are jsonpath-ng's extended dialect (filters such as `[?(@.status=="OK")]`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .table import table

_TOKEN = re.compile(r'\{((?:"(?:[^"\\]|\\.)*"|[^{}])*)\}')


class TemplateError(ValueError):
    """A template or path kubectl would refuse too."""


@dataclass
class _Node:
    text: str | None = None  # literal text
    path: str | None = None  # an expression
    body: list[_Node] = field(default_factory=list)  # a range's body
    is_range: bool = False


def _compile(path: str) -> Any:
    from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
    from jsonpath_ng.ext.parser import parse

    expr = path.strip()
    expr = "$" + expr if expr.startswith((".", "[")) else expr
    if not expr.startswith("$"):
        expr = "$." + expr
    try:
        return parse(expr)
    except (JsonPathLexerError, JsonPathParserError, Exception) as exc:  # the lexer raises bare Exceptions too
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TemplateError(f"error parsing jsonpath {path!r}: {why}") from None


def values(path: str, data: Any) -> list[Any]:
    """Every value `path` (`.a.b`, `{.a.b}`, `$.a[*]`) matches in `data`."""
    inner = path.strip()
    if inner.startswith("{") and inner.endswith("}"):
        inner = inner[1:-1]
    return [m.value for m in _compile(inner).find(data)]


def _parse(template: str) -> list[_Node]:
    root: list[_Node] = []
    stack = [root]
    pos = 0
    for m in _TOKEN.finditer(template):
        if m.start() > pos:
            stack[-1].append(_Node(text=template[pos : m.start()]))
        pos = m.end()
        inner = m.group(1).strip()
        if inner.startswith('"'):
            try:
                stack[-1].append(_Node(text=json.loads(inner)))
            except ValueError:
                raise TemplateError(f"invalid string literal {inner}") from None
        elif inner.startswith("range "):
            node = _Node(path=inner[6:], is_range=True)
            stack[-1].append(node)
            stack.append(node.body)
        elif inner == "end":
            if len(stack) == 1:
                raise TemplateError("not in range, nothing to end")
            stack.pop()
        else:
            _compile(inner)
            stack[-1].append(_Node(path=inner))
    if len(stack) > 1:
        raise TemplateError("unclosed range")
    rest = template[pos:]
    if "{" in rest or "}" in rest:
        raise TemplateError(f"unclosed action in {template!r}")
    if rest:
        root.append(_Node(text=rest))
    return root


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def _render(nodes: list[_Node], data: Any) -> str:
    out = []
    for node in nodes:
        if node.text is not None:
            out.append(node.text)
        elif node.is_range:
            out += [_render(node.body, item) for item in values(node.path or "", data)]
        else:
            out.append(" ".join(_text(v) for v in values(node.path or "", data)))
    return "".join(out)


def template(text: str, data: Any) -> str:
    """kubectl -o jsonpath=TEMPLATE (a template without braces is one expression, as kubectl reads it)."""
    if "{" not in text:
        text = "{" + text + "}"
    return _render(_parse(text), data)


def columns(spec: str) -> list[tuple[str, str]]:
    """`HEADER:PATH,...` of -o custom-columns (PATH with or without braces)."""
    out = []
    for part in filter(None, spec.split(",")):
        header, sep, path = part.partition(":")
        if not sep or not header or not path:
            raise TemplateError(f"unexpected custom-columns spec: {part}, expected <header>:<json-path-expr>")
        values(path, {})  # refuse a bad path before anything is read
        out.append((header, path))
    if not out:
        raise TemplateError("custom-columns format specified but no custom columns given")
    return out


def custom_columns(spec: list[tuple[str, str]], items: list[dict[str, Any]], no_headers: bool) -> str:
    """One row per item; several matches joined by commas, none printed as <none> (as kubectl)."""
    rows = [[",".join(_text(v) for v in values(path, item)) or "<none>" for _h, path in spec] for item in items]
    return table([h for h, _p in spec], rows, no_headers)


def sort_key(path: str) -> Any:
    """A key for sorted(): the first match, numbers before text, missing first (kubectl's --sort-by)."""
    values(path, {})

    def key(item: dict[str, Any]) -> tuple[int, float, str]:
        found = values(path, item)
        if not found or found[0] is None:
            return (0, 0.0, "")
        first = found[0]
        if isinstance(first, (int, float)) and not isinstance(first, bool):
            return (1, float(first), "")
        return (2, 0.0, _text(first))

    return key
