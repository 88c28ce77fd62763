"""`-o json` text: the bytes of `json.dumps(doc, indent=2, ensure_ascii=False)`, written by the C encoder.

CPython's C encoder (`_json.c_make_encoder`) is used only when `indent` is None: with `indent=2` every
node of the report goes through the pure-Python `_make_iterencode` (issue 15: a quarter of a large
`doctor -A -o json`). Here C encoders whose item separator carries the newline and indentation of a
depth write each container in one call, its nested containers standing in as a placeholder string;
the text is cut at the placeholders and each nested container written in its place. Python visits
containers only. Without the C encoder (another Python), json.dumps itself is used.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json import encoder as _encoder
from typing import Any

_STEP = 2
_CONTAINERS = (dict, list, tuple)  # and their subclasses, as the encoder takes them
# What a nested container stands in as: a string no encoder writes for anything else but itself, so
# that the text cuts at it exactly (a value or key equal to it is found by the count of the cuts).
_HOLE = "\x00\x01hole\x01\x00"
_HOLE_TEXT = json.dumps(_HOLE)
_Encode = Callable[[Any, int], Any]


def _c_encoder(depth: int) -> _Encode | None:
    """The C encoder of a container whose items sit at `depth` levels of indentation."""
    make = getattr(_encoder, "c_make_encoder", None)
    basestring = getattr(_encoder, "c_encode_basestring", None)
    if make is None or basestring is None:
        return None
    separator = ",\n" + " " * (_STEP * depth)
    # the arguments of json.JSONEncoder.iterencode, as json.dumps(ensure_ascii=False) passes them
    return make({}, _no_default, basestring, None, ": ", separator, False, False, True)  # type: ignore[no-any-return]


def _no_default(o: Any) -> Any:
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


class _Writer:
    """Encoders and line breaks per depth, made once."""

    def __init__(self) -> None:
        self.encoders: list[_Encode] = []
        self.breaks: list[str] = []

    def encoder(self, depth: int) -> _Encode:
        while len(self.encoders) <= depth:
            made = _c_encoder(len(self.encoders))
            if made is None:
                raise _NoCEncoder
            self.encoders.append(made)
            self.breaks.append("\n" + " " * (_STEP * len(self.breaks)))
        return self.encoders[depth]

    def write(self, value: Any, depth: int, out: list[str]) -> None:
        """Append the text of the non-empty container `value`, its first line indented `depth` levels."""
        encode = self.encoder(depth + 1)
        # empty containers are written by the encoder as `{}` and `[]`, whatever the separators
        if isinstance(value, dict):
            nested: list[Any] = [v for v in value.values() if v and isinstance(v, _CONTAINERS)]
            shallow: Any = (
                {k: _HOLE if v and isinstance(v, _CONTAINERS) else v for k, v in value.items()} if nested else value
            )
        else:
            nested = [v for v in value if v and isinstance(v, _CONTAINERS)]
            shallow = [_HOLE if v and isinstance(v, _CONTAINERS) else v for v in value] if nested else value
        pieces = "".join(encode(shallow, 0)).split(_HOLE_TEXT)
        if len(pieces) != len(nested) + 1:  # the placeholder was in the data too
            self.write_items(value, depth, out)
            return
        last = len(pieces) - 1
        pieces[0] = pieces[0][0] + self.breaks[depth + 1] + pieces[0][1:]
        pieces[last] = pieces[last][:-1] + self.breaks[depth] + pieces[last][-1]
        out.append(pieces[0])
        for child, piece in zip(nested, pieces[1:], strict=True):
            self.write(child, depth + 1, out)
            out.append(piece)

    def write_items(self, value: Any, depth: int, out: list[str]) -> None:
        """`write`, item by item (a container holding the placeholder string)."""
        pad, close = self.breaks[depth + 1], self.breaks[depth]
        dict_ = isinstance(value, dict)
        items = value.items() if dict_ else enumerate(value)
        out.append("{" if dict_ else "[")
        for i, (key, item) in enumerate(items):
            out.append(("," if i else "") + pad)
            if dict_:  # a key as the encoder writes it: `{"k": 0}` less its ends and value
                out.append("".join(self.encoder(0)({key: 0}, 0))[1:-1].removesuffix("0"))
            if item and isinstance(item, _CONTAINERS):
                self.write(item, depth + 1, out)
            else:
                out.append("".join(self.encoder(0)(item, 0)))
        out.append(close + ("}" if dict_ else "]"))


class _NoCEncoder(Exception):
    """This Python has no C encoder."""


def dumps_indented(doc: Any) -> str:
    """Exactly `json.dumps(doc, indent=2, ensure_ascii=False)` (no trailing newline)."""
    out: list[str] = []
    try:
        if doc and isinstance(doc, _CONTAINERS):
            _Writer().write(doc, 0, out)
        else:
            out.append("".join(_Writer().encoder(0)(doc, 0)))
    except _NoCEncoder:
        return json.dumps(doc, indent=_STEP, ensure_ascii=False)
    return "".join(out)
