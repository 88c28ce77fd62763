"""`-o json` text: the bytes of `json.dumps(doc, indent=2, ensure_ascii=False)`, written by the C encoder.

CPython's C encoder (`_json.c_make_encoder`) is used only when `indent` is None: with `indent=2` every
node of the report goes through the pure-Python `_make_iterencode` (issue 15: a quarter of a large
`doctor -A -o json`). Here C encoders whose item separator carries the newline and indentation of a
depth write each container, nested containers standing in as null; Python visits containers only.
Without the C encoder (another Python), json.dumps itself is used.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json import encoder as _encoder
from typing import Any

_STEP = 2
_CONTAINERS = (dict, list, tuple)
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
    """Encoders per depth, made once; `text` is the JSON text of one value at a depth."""

    def __init__(self) -> None:
        self.encoders: list[_Encode] = []

    def encoder(self, depth: int) -> _Encode:
        while len(self.encoders) <= depth:
            made = _c_encoder(len(self.encoders))
            if made is None:
                raise _NoCEncoder
            self.encoders.append(made)
        return self.encoders[depth]

    def write(self, value: Any, depth: int, out: list[str]) -> None:
        """Append the text of `value`, whose first line is indented `depth` levels, to `out`."""
        if isinstance(value, dict):
            values: Any = value.values()
        elif isinstance(value, (list, tuple)):
            values = value
        else:
            out.append("".join(self.encoder(depth)(value, 0)))
            return
        if not value:
            out.append("{}" if isinstance(value, dict) else "[]")
            return
        pad = "\n" + " " * (_STEP * (depth + 1))
        close = "\n" + " " * (_STEP * depth)
        nested = [i for i, v in enumerate(values) if isinstance(v, _CONTAINERS)]
        if not nested:
            body = "".join(self.encoder(depth + 1)(value, 0))
            out.append(f"{body[0]}{pad}{body[1:-1]}{close}{body[-1]}")
            return
        # nested containers stand in as null; encoded strings hold no raw newline, so the
        # separators split the items exactly, and each null is replaced by its container's text
        shallow: Any = (
            {k: None if isinstance(v, _CONTAINERS) else v for k, v in value.items()}
            if isinstance(value, dict)
            else [None if isinstance(v, _CONTAINERS) else v for v in value]
        )
        body = "".join(self.encoder(depth + 1)(shallow, 0))
        items = body[1:-1].split("," + pad)
        children = list(values)
        out.append(body[0])
        done = 0
        for i in nested:
            if i > done:
                out.append(pad + ("," + pad).join(items[done:i]) + ",")
            out.append(pad + items[i][: -len("null")])
            self.write(children[i], depth + 1, out)
            out.append(",")
            done = i + 1
        if done < len(items):
            out.append(pad + ("," + pad).join(items[done:]))
        else:
            out.pop()  # the comma after the last item
        out.append(close + body[-1])


class _NoCEncoder(Exception):
    """This Python has no C encoder."""


def dumps_indented(doc: Any) -> str:
    """Exactly `json.dumps(doc, indent=2, ensure_ascii=False)` (no trailing newline)."""
    out: list[str] = []
    try:
        _Writer().write(doc, 0, out)
    except _NoCEncoder:
        return json.dumps(doc, indent=_STEP, ensure_ascii=False)
    return "".join(out)
