"""The few DRA CEL selector forms the lab's allocator evaluates by hand, as the scheduler's CEL would.

    device.driver == 'gpu.nvidia.com'
    device.attributes['gpu.nvidia.com'].type == 'vfio'
    device.attributes['gpu.nvidia.com'].productName.lowerAscii().contains('h100')
    a && b, a || b (no parentheses)

Attribute maps are keyed by domain: an unqualified slice attribute (`productName`) belongs to the driver's
domain, a qualified one (`resource.kubernetes.io/pciBusID`) to its prefix; that rule is the product's
(`kubectl_vmgpu.cel.qualified`). The methods are those of Kubernetes' CEL string library (lowerAscii,
upperAscii) and of CEL itself (contains, startsWith, endsWith, matches). A missing attribute is a CEL
runtime error, as in the scheduler (where it aborts the scheduling attempt); anything outside these forms
raises, so a scenario never silently gets a wrong allocation.
"""

from __future__ import annotations

import re
from typing import Any

from kubectl_vmgpu.cel import qualified

_TOKEN = re.compile(r"\s*(?:(&&|\|\||==|!=|\(|\)|\[|\]|\.)|'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"|"
                    r"(-?\d+)|([A-Za-z_][A-Za-z0-9_]*))")
_METHODS = {
    "lowerAscii": lambda s: s.lower(),
    "upperAscii": lambda s: s.upper(),
}
_PREDICATES = {
    "contains": lambda s, a: a in s,
    "startsWith": lambda s, a: s.startswith(a),
    "endsWith": lambda s, a: s.endswith(a),
    "matches": lambda s, a: re.search(a, s) is not None,
}


class SelectorError(ValueError):
    """The expression is outside the simulated forms, or fails at run time (no such key)."""


def _tokens(expr: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(expr.rstrip()):
        m = _TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise SelectorError(f"cannot simulate `{expr}` at column {pos}")
        op, sq, dq, num, ident = m.groups()
        if op:
            out.append(("op", op))
        elif sq is not None or dq is not None:
            out.append(("str", sq if sq is not None else dq))
        elif num is not None:
            out.append(("int", int(num)))
        else:
            out.append(("ident", {"true": True, "false": False}.get(ident, ident)))
        pos = m.end()
    return out


class _Eval:
    def __init__(self, expr: str, attrs: dict[str, Any], driver: str) -> None:
        self.expr, self.attrs, self.driver = expr, attrs, driver
        self.toks = _tokens(expr)
        self.i = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, kind: str, value: Any = None) -> Any:
        tok = self.peek()
        if tok is None or tok[0] != kind or (value is not None and tok[1] != value):
            raise SelectorError(f"cannot simulate `{self.expr}`: expected {value or kind}, got {tok}")
        self.i += 1
        return tok[1]

    def run(self) -> bool:
        result = self.disjunction()
        if self.peek() is not None:
            raise SelectorError(f"cannot simulate `{self.expr}`: trailing {self.peek()}")
        return result

    def disjunction(self) -> bool:
        values = [self.conjunction()]
        while self.peek() == ("op", "||"):
            self.i += 1
            values.append(self.conjunction())
        return any(values)

    def conjunction(self) -> bool:
        values = [self.comparison()]
        while self.peek() == ("op", "&&"):
            self.i += 1
            values.append(self.comparison())
        return all(values)

    def comparison(self) -> bool:
        left = self.term()
        tok = self.peek()
        if tok in (("op", "=="), ("op", "!=")):
            self.i += 1
            kind, right = self.peek() or ("", None)
            if kind not in ("str", "int") and not isinstance(right, bool):
                raise SelectorError(f"cannot simulate `{self.expr}`: compare to a literal")
            if type(left) is not type(right):
                raise SelectorError(f"`{self.expr}`: no such overload: {type(left).__name__} == {type(right).__name__}")
            self.i += 1
            return (left == right) if tok[1] == "==" else (left != right)
        if not isinstance(left, bool):
            raise SelectorError(f"cannot simulate `{self.expr}`: {left!r} is not a boolean")
        return left

    def term(self) -> Any:
        self.take("ident", "device")
        self.take("op", ".")
        field = self.take("ident")
        if field == "driver":
            value: Any = self.driver
        elif field == "attributes":
            self.take("op", "[")
            domain = self.take("str")
            self.take("op", "]")
            self.take("op", ".")
            name = self.take("ident")
            value = self.attribute(domain, name)
        else:
            raise SelectorError(f"cannot simulate `{self.expr}`: device.{field}")
        while self.peek() == ("op", "."):
            self.i += 1
            method = self.take("ident")
            self.take("op", "(")
            if method in _METHODS:
                self.take("op", ")")
                value = _METHODS[method](str(value))
            elif method in _PREDICATES:
                arg = self.take("str")
                self.take("op", ")")
                value = _PREDICATES[method](str(value), arg)
            else:
                raise SelectorError(f"cannot simulate `{self.expr}`: .{method}()")
        return value

    def attribute(self, domain: str, name: str) -> Any:
        # the product's rule for which domain a slice attribute is in (kubectl_vmgpu/cel.py), not a copy
        by_domain = {qualified(str(k), self.driver): v for k, v in self.attrs.items()}
        raw = by_domain.get((domain, name))
        if raw is None:
            raise SelectorError(f"`{self.expr}`: no such key: {name}")
        for kind in ("string", "int", "bool"):
            if kind in raw:
                return raw[kind]
        raise SelectorError(f"cannot simulate `{self.expr}`: {name} is not a string, int or bool")


def matches(expr: str, attrs: dict[str, Any], driver: str) -> bool:
    """Whether a device with these slice attributes satisfies the selector."""
    return _Eval(expr, attrs, driver).run()
