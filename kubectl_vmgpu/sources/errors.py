"""The one error a source raises: the input could not be read (exit code 3)."""

from __future__ import annotations

import re
from typing import Any

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text from a cluster, a file or a pod, safe on a terminal: control characters are escaped."""
    return _CONTROL.sub(lambda m: "\\n" if m.group() == "\n" else f"\\x{ord(m.group()):02x}", text)


def for_terminal(data: Any, keep: str = "fix") -> Any:
    """A report with every string made printable, for text output (JSON and YAML stay exact).

    Values under the key `keep` (a fix: the tool's own words, several lines) keep their newlines.
    """
    if isinstance(data, str):
        return printable(data)
    if isinstance(data, dict):
        return {
            k: "\n".join(map(printable, v.split("\n"))) if k == keep and isinstance(v, str) else for_terminal(v, keep)
            for k, v in data.items()
        }
    if isinstance(data, (list, tuple)):
        return [for_terminal(v, keep) for v in data]
    return data


class SourceError(Exception):
    """A cluster or snapshot that could not be read; the message is one line for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(printable(message))
