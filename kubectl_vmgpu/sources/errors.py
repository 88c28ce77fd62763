"""The one error a source raises: the input could not be read (exit code 3)."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text from a cluster, a file or a pod, safe on a terminal: control characters are escaped."""
    return _CONTROL.sub(lambda m: "\\n" if m.group() == "\n" else f"\\x{ord(m.group()):02x}", text)


class SourceError(Exception):
    """A cluster or snapshot that could not be read; the message is one line for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(printable(message))
