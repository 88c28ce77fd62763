"""A model of Go's encoding/json as KubeVirt uses it on DRA metadata: streams, typed decoding, error texts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# Go's JSON whitespace (encoding/json scanner.go isSpace); Python's str.isspace() is wider.
_SPACE = " \t\n\r"
_INT64 = (-(1 << 63), (1 << 63) - 1)


class GoJSONError(ValueError):
    """A decoding error, worded as Go's encoding/json words it."""


class Obj(list[tuple[str, Any]]):
    """A JSON object as its (key, value) pairs in order: Go sees duplicate keys, a dict would not."""


@dataclass(frozen=True)
class Num:
    """A JSON number kept as its literal: Go checks int64 range, and ignored fields may be any length."""

    text: str


@dataclass(frozen=True)
class GoType:
    """A Go type: kind is string|int64|bool|struct|slice|map|ptr; go is its name in error texts."""

    kind: str
    go: str
    fields: tuple[tuple[str, GoType], ...] = ()  # struct: (json name, type)
    elem: GoType | None = None  # slice, map, ptr
    name: str = ""  # a struct's reflect Name(), "" for an anonymous struct


def _no_constant(name: str) -> Any:
    """Go has no NaN/Infinity literals (scanner.go)."""
    if name.startswith("-"):
        raise GoJSONError(f"invalid character {quote_char(name[1])} in numeric literal")
    raise GoJSONError(f"invalid character {quote_char(name[0])} looking for beginning of value")


_DECODER = json.JSONDecoder(object_pairs_hook=Obj, parse_int=Num, parse_float=Num, parse_constant=_no_constant)


def go_quote(text: str) -> str:
    """strconv.Quote: what Go's %q prints."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'  # the common case, as it is (no escape to write)
    out = ['"']
    for ch in text:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable() and not 0xD800 <= o <= 0xDFFF:
            out.append(ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append(repr(ch)[1:-1] if ch not in "\a\v" else {"\a": "\\a", "\v": "\\v"}[ch])
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif 0xD800 <= o <= 0xDFFF:
            out.append("\\ufffd")
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    return "".join(out) + '"'


def quote_char(ch: str) -> str:
    """encoding/json quoteChar: Go quotes the offending byte (the first UTF-8 byte, read as a rune)."""
    if ch == "'":
        return "'\\''"
    if ch == '"':
        return "'\"'"
    byte = ch.encode("utf-8", "surrogatepass")[0]
    return "'" + go_quote(chr(byte))[1:-1] + "'"


def _open_container(text: str, start: int, pos: int) -> str:
    """The innermost unclosed bracket between start and pos, outside strings."""
    stack: list[str] = []
    in_str = esc = False
    for ch in text[start:pos]:
        if in_str:
            esc, in_str = (False, True) if esc else (ch == "\\", ch != '"')
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            stack.append(ch)
        elif ch in "]}" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def _syntax_error(text: str, start: int, exc: json.JSONDecodeError, eof: str) -> str:
    """Go's SyntaxError text for what Python's scanner refused (context words from scanner.go)."""
    if exc.pos >= len(text) or exc.msg.startswith("Unterminated string"):
        return eof
    ch = text[exc.pos]
    msg = exc.msg
    if msg.startswith("Expecting property name"):
        where = "looking for beginning of object key string"
    elif msg.startswith("Expecting ':'"):
        where = "after object key"
    elif msg.startswith("Expecting ','"):
        where = "after object key:value pair" if _open_container(text, start, exc.pos) == "{" else "after array element"
    elif msg.startswith("Invalid control character"):
        where = "in string literal"
    elif msg.startswith("Invalid \\u"):
        where = "in \\u hexadecimal character escape"
    elif msg.startswith("Invalid \\escape"):
        where = "in string escape code"
    else:
        where = "looking for beginning of value"
    return f"invalid character {quote_char(ch)} {where}"


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _SPACE:
        pos += 1
    return pos


def _decode_value(text: str, pos: int, eof: str) -> tuple[Any, int]:
    try:
        return _DECODER.raw_decode(text, pos)
    except json.JSONDecodeError as exc:
        raise GoJSONError(_syntax_error(text, pos, exc, eof)) from None
    except RecursionError:
        raise GoJSONError("exceeded max depth") from None


def stream(text: str) -> Any:
    """json.Decoder over text: yields each top-level value while dec.More() (EOF, `]` or `}` end it)."""
    pos = 0
    while True:
        pos = _skip_space(text, pos)
        if pos >= len(text) or text[pos] in "]}":
            return
        value, pos = _decode_value(text, pos, "unexpected EOF")
        yield value


def unmarshal_document(text: str) -> Any:
    """json.Unmarshal's syntax pass: exactly one value, then only whitespace."""
    start = _skip_space(text, 0)
    if start >= len(text):
        raise GoJSONError("unexpected end of JSON input")
    value, end = _decode_value(text, start, "unexpected end of JSON input")
    end = _skip_space(text, end)
    if end < len(text):
        raise GoJSONError(f"invalid character {quote_char(text[end])} after top-level value")
    return value


def fold(name: str) -> str:
    """encoding/json foldName: ASCII upper-cased, other runes ToUpper(ToLower(r)); keys match folded."""
    if name.isascii():
        return name.upper()
    out = []
    for ch in name:
        if ord(ch) < 0x80:
            out.append(ch.upper())
            continue
        low = ch.lower() if len(ch.lower()) == 1 else ch
        out.append(low.upper() if len(low.upper()) == 1 else low)
    return "".join(out)


def describe(value: Any) -> str:
    """UnmarshalTypeError.Value: what kind of JSON value was found."""
    if isinstance(value, Obj):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    return "number" if isinstance(value, Num) else "string"


class Decoder:
    """json.Unmarshal into a typed value: the first type error is kept, decoding goes on (Go's saveError)."""

    def __init__(self) -> None:
        self.error: str | None = None
        self._stack: list[str] = []
        self._struct = ""

    def _fail(self, found: str, gotype: str) -> None:
        if self.error is not None:
            return
        # UnmarshalTypeError.Error(): the innermost struct's name, then the JSON field path from the top
        where = f"Go struct field {self._struct}.{'.'.join(self._stack)}" if self._stack else "Go value"
        self.error = f"json: cannot unmarshal {found} into {where} of type {gotype}"

    def decode(self, value: Any, t: GoType, current: Any = None) -> Any:
        if value is None:  # null: nil for pointers, slices and maps; no-op otherwise
            return None if t.kind in ("ptr", "slice", "map") else current
        if t.kind == "ptr":
            assert t.elem is not None
            return self.decode(value, t.elem, current)
        if t.kind in ("struct", "map"):
            return self._object(value, t, current)
        if t.kind == "slice":
            if not isinstance(value, list) or isinstance(value, Obj):
                self._fail(describe(value), t.go)
                return current
            assert t.elem is not None
            return [self.decode(v, t.elem) for v in value]
        return self._literal(value, t, current)

    def _literal(self, value: Any, t: GoType, current: Any) -> Any:
        if t.kind == "string" and isinstance(value, str):
            return value
        if t.kind == "bool" and isinstance(value, bool):
            return value
        if t.kind == "int64" and isinstance(value, Num):
            try:
                number = int(value.text, 10)
            except ValueError:
                number = None
            if number is None or not _INT64[0] <= number <= _INT64[1]:
                self._fail(f"number {value.text}", t.go)
                return current
            return number
        self._fail(describe(value), t.go)
        return current

    def _object(self, value: Any, t: GoType, current: Any) -> Any:
        if not isinstance(value, Obj):
            self._fail(describe(value), t.go)
            return current
        out: dict[str, Any] = dict(current) if isinstance(current, dict) else {}
        if t.kind == "map":  # map elements start from zero; a repeated key replaces the earlier one
            assert t.elem is not None
            for key, item in value:
                out[key] = self.decode(item, t.elem)
            return out
        exact, folded = _fields(t)
        stack, saved = self._stack, self._struct
        depth = len(stack)
        for key, item in value:
            match = (key, exact[key]) if key in exact else folded.get(fold(key))
            if match is None:
                continue  # unknown fields are ignored, whatever their value
            stack.append(match[0])
            self._struct = t.name
            out[match[0]] = self.decode(item, match[1], out.get(match[0]))
            del stack[depth:]
            self._struct = saved
        return out


_FieldTables = tuple[dict[str, GoType], dict[str, tuple[str, GoType]]]
_TABLES: dict[int, tuple[GoType, _FieldTables]] = {}


def _fields(t: GoType) -> _FieldTables:
    """A struct's fields by exact and by folded name, made once per type (keyed by identity: hashing a
    GoType walks every nested type)."""
    cached = _TABLES.get(id(t))
    if cached is not None and cached[0] is t:
        return cached[1]
    folded: dict[str, tuple[str, GoType]] = {}
    for name, ftype in t.fields:
        folded.setdefault(fold(name), (name, ftype))
    tables = (dict(t.fields), folded)
    _TABLES[id(t)] = (t, tables)
    return tables
