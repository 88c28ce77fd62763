"""DRA CEL selectors evaluated against ResourceSlice devices, with cel-python when it is installed.

Kubernetes' DRA environment: `device.driver`, `device.attributes[<domain>].<name>` and
`device.capacity[<domain>].<name>`, where an unqualified attribute name belongs to the driver's
domain; version attributes are semver values and capacities are quantities, with the semver and
quantity libraries (`semver('1.2.3')`, `quantity('40Gi')`, `compareTo`, `isGreaterThan`, ...).
Without cel-python (the single-file plugin cannot carry it) nothing is evaluated and the caller
says which selectors it could not check.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from .views import Attribute, SliceDevice

INSTALL_HINT = "install the CEL extra (pip install 'kubectl-vmgpu[cel]') to evaluate it"
STANDARD_DOMAIN = "resource.kubernetes.io"

_SUFFIXES: dict[str, Decimal | int] = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|)$")
_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


class CelUnavailable(Exception):
    """cel-python is not installed."""


class CelUnsupported(ValueError):
    """The expression uses something the evaluator does not implement (never taken as true or false)."""


class Quantity:
    """A Kubernetes resource quantity, compared by value."""

    def __init__(self, text: str) -> None:
        match = _QUANTITY.match(str(text).strip())
        if not match:
            raise ValueError(f"invalid quantity {text!r}")
        try:
            number, suffix = Decimal(match.group(1)), match.group(2)
            self.value = (
                number * Decimal(10) ** int(suffix[1:])
                if suffix[:1] in "eE" and suffix
                else (number * Decimal(_SUFFIXES[suffix]))
            )
        except (InvalidOperation, KeyError):
            raise ValueError(f"invalid quantity {text!r}") from None
        self.text = str(text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Quantity) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return f"quantity({self.text!r})"


class SemVer:
    """A semantic version, ordered as semver orders (pre-releases before the release)."""

    def __init__(self, text: str) -> None:
        match = _SEMVER.match(str(text).strip())
        if not match:
            raise ValueError(f"invalid semver {text!r}")
        self.parts = (int(match.group(1)), int(match.group(2)), int(match.group(3)))
        self.pre = match.group(4) or ""
        self.text = str(text)

    def key(self) -> tuple[Any, ...]:
        return (*self.parts, self.pre == "", self.pre)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SemVer) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def __repr__(self) -> str:
        return f"semver({self.text!r})"


def _order(a: Any, b: Any) -> int:
    ka = a.key() if isinstance(a, SemVer) else a.value
    kb = b.key() if isinstance(b, SemVer) else b.value
    return (ka > kb) - (ka < kb)


def _functions() -> dict[str, Any]:
    from celpy import celtypes

    def compare_to(a: Any, b: Any) -> Any:
        return celtypes.IntType(_order(a, b))

    def checked(kind: type, text: Any) -> Any:
        try:
            kind(str(text))
        except ValueError:
            return celtypes.BoolType(False)
        return celtypes.BoolType(True)

    return {
        "semver": lambda s: SemVer(str(s)),
        "isSemver": lambda s: checked(SemVer, s),
        "quantity": lambda s: Quantity(str(s)),
        "isQuantity": lambda s: checked(Quantity, s),
        "compareTo": compare_to,
        "isGreaterThan": lambda a, b: celtypes.BoolType(_order(a, b) > 0),
        "isLessThan": lambda a, b: celtypes.BoolType(_order(a, b) < 0),
        "major": lambda v: celtypes.IntType(v.parts[0]),
        "minor": lambda v: celtypes.IntType(v.parts[1]),
        "patch": lambda v: celtypes.IntType(v.parts[2]),
        "asInteger": lambda q: celtypes.IntType(int(q.value)),
        "asApproximateFloat": lambda q: celtypes.DoubleType(float(q.value)),
        "sign": lambda q: celtypes.IntType((q.value > 0) - (q.value < 0)),
    }


@functools.cache
def available() -> bool:
    try:
        import celpy  # noqa: F401
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=256)
def _program(expression: str) -> Any:
    if not available():  # Python does not remember a failed import: it would search sys.path every call
        raise CelUnavailable(INSTALL_HINT)
    import celpy

    env = celpy.Environment()
    try:
        return env.program(env.compile(expression), functions=_functions())
    except Exception as exc:  # celpy's parser errors carry the text and a caret diagram
        column = getattr(exc, "column", None)
        raise ValueError("does not compile" + (f" (column {column})" if column else "")) from None


def _typed(attr: Attribute) -> Any:
    from celpy import celtypes

    if attr.type == "version":
        try:
            return SemVer(str(attr.value))
        except ValueError:
            return celtypes.StringType(str(attr.value))
    if attr.type == "int":
        return celtypes.IntType(int(attr.value))
    if attr.type == "bool":
        return celtypes.BoolType(bool(attr.value))
    return celtypes.StringType(str(attr.value))


def qualified(name: str, driver: str) -> tuple[str, str]:
    """(domain, short name) of a slice attribute or capacity: an unqualified name is in the driver's domain.

    Shared with the test lab's selector evaluator (tests/synth/celsim.py), so both read slices the same way.
    """
    domain, _, short = name.rpartition("/")
    return domain or driver, short


def _by_domain(values: Mapping[str, Any], driver: str, convert: Any) -> Any:
    """`{name or domain/name: v}` -> `{domain: {name: v}}`, unqualified names in the driver's domain."""
    from celpy import celtypes

    domains: dict[str, dict[Any, Any]] = {}
    for name, value in values.items():
        domain, short = qualified(str(name), driver)
        domains.setdefault(domain, {})[celtypes.StringType(short)] = convert(value)
    return celtypes.MapType({celtypes.StringType(d): celtypes.MapType(v) for d, v in domains.items()})


def _capacity(value: str) -> Any:
    try:
        return Quantity(value)
    except ValueError:
        from celpy import celtypes

        return celtypes.StringType(value)


def evaluate(expression: str, device: SliceDevice, driver: str) -> bool:
    """Whether the device satisfies the expression.

    Raises CelUnavailable without cel-python, and ValueError (with CEL's message) when the
    expression does not compile or fails at run time, as the scheduler would.
    """
    program = _program(expression)
    from celpy import CELEvalError, celtypes

    activation = {
        "device": celtypes.MapType(
            {
                celtypes.StringType("driver"): celtypes.StringType(driver),
                celtypes.StringType("attributes"): _by_domain(device.attributes, driver, _typed),
                celtypes.StringType("capacity"): _by_domain(device.capacity, driver, _capacity),
            }
        )
    }
    try:
        result = program.evaluate(activation)
    except (CELEvalError, TypeError, ValueError, KeyError) as exc:
        raise _error(exc) from None
    if isinstance(result, Exception):
        raise _error(result)
    if not isinstance(result, (bool, celtypes.BoolType)):
        raise ValueError(f"expression yields {type(result).__name__}, not a boolean")
    return bool(result)


def _error(exc: BaseException) -> ValueError:
    """CEL's message, without the activation dump celpy appends."""
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], str):
        message = args[0].split(" (in activation")[0]
        if message.startswith("undeclared reference") and len(args) > 2:
            name = args[2][0] if isinstance(args[2], tuple) and args[2] else args[2]
            return CelUnsupported(f"uses {name}(), which the evaluator does not implement")
        detail = f" {args[2]}" if len(args) > 2 and args[2] is not None else ""
        return ValueError(f"{message}{detail}")
    return ValueError(str(exc) or type(exc).__name__)
