"""Shell completion for `get -o`: the output forms, and the item fields after jsonpath= / custom-columns=."""

from __future__ import annotations

import click
from click.shell_completion import CompletionItem

FORMATS = ("wide", "name", "json", "yaml", "jsonpath=", "custom-columns=")
# The fields of a `get -o json` item (render/json.py get_row), as paths and default column headers.
FIELDS = (
    ("NAME", ".name"),
    ("NAMESPACE", ".namespace"),
    ("KIND", ".kind"),
    ("PHASE", ".phase"),
    ("NODE", ".node"),
    ("READY", ".gpus.ready"),
    ("TOTAL", ".gpus.total"),
    ("DEVICES", ".devices"),
    ("STATUS", ".status"),
    ("SEVERITY", ".severity"),
    ("CREATED", ".creationTimestamp"),
    ("AGE", ".age"),
    ("CLAIMS", ".claims"),
    ("PCI", ".pciBusIDs"),
    ("KUBEVIRT", ".kubevirtVersion"),
    ("DRIVERS", ".drivers"),
)


def complete_get_output(_ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """`-o w` -> wide; `-o custom-columns=NAME:.name,` -> the next HEADER:.path; `-o jsonpath={.` -> fields."""
    kind, sep, arg = incomplete.partition("=")
    if not sep:
        return [CompletionItem(f) for f in FORMATS if f.startswith(incomplete)]
    if kind == "custom-columns":
        done, _, last = arg.rpartition(",")
        prefix = f"{kind}={done}{',' if done else ''}"
        return [CompletionItem(f"{prefix}{h}:{p}") for h, p in FIELDS if f"{h}:{p}".startswith(last)]
    if kind == "jsonpath":
        return [CompletionItem(f"{kind}={{.items[*]{p}}}") for _h, p in FIELDS if f"{{.items[*]{p}}}".startswith(arg)]
    return []
