"""YAML as `kubectl get -o yaml` prints it (sigs.k8s.io/yaml on go-yaml v2), emulated with PyYAML.

What kubectl does and PyYAML does differently by default, and what this module copies:
- map keys are sorted with go-yaml's `keyList.Less` (digit runs compare as numbers, a non-letter
  sorts before a letter), not by code point;
- a string is double-quoted when go-yaml would resolve it as something else unquoted (bool, int,
  float, null, timestamp) or when it looks like a YAML 1.1 base-60 float (`0000:19:00.0`, quoted
  "for compatibility with other parsers"); other strings are plain, or single-quoted when plain
  is not allowed (`: ` inside, leading `*`, ...); strings with a newline are literal blocks;
- lines are folded at 80 columns, sequences inside mappings are not indented.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

import yaml

_BOOL_NULL = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"), "bool"),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"), "bool"),
    **dict.fromkeys(("~", "null", "Null", "NULL"), "null"),
    **dict.fromkeys((".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF"), "float"),
    **dict.fromkeys(("+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF"), "float"),
    "<<": "merge",
}
_GO_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_BASE60 = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
_TIMESTAMP = re.compile(
    r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:(?:[Tt]| )[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?(?:Z|[-+][0-9]{2}:[0-9]{2})?)?$"
)
_GO_INT = re.compile(r"^[-+]?(?:0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|[0-9]+)$")


def go_tag(s: str) -> str:
    """The tag go-yaml v2 resolves a plain scalar to ('str' when it stays a string)."""
    if s == "":
        return "null"
    if s in _BOOL_NULL:
        return _BOOL_NULL[s]
    first = s[0]
    if first == ".":
        return "float" if _GO_FLOAT.match(s) else "str"
    if first.isdigit() or first in "+-":
        if _TIMESTAMP.match(s):
            return "timestamp"
        plain = s.replace("_", "")
        if _GO_INT.match(plain):
            return "int"
        if _GO_FLOAT.match(plain):
            return "float"
    return "str"


def _needs_quotes(s: str) -> bool:
    return go_tag(s) != "str" or (bool(s) and (s[0].isdigit() or s[0] in "+-") and ":" in s and bool(_BASE60.match(s)))


def _go_less(a: str, b: str) -> bool:
    """go-yaml v2 keyList.Less for two string keys."""
    ar, br = a, b
    for i in range(min(len(ar), len(br))):
        if ar[i] == br[i]:
            continue
        al, bl = ar[i].isalpha(), br[i].isalpha()
        if al and bl:
            return ar[i] < br[i]
        if al or bl:
            return bl
        an = bn = 0
        if ar[i] == "0" or br[i] == "0":
            j = i - 1
            while j >= 0 and ar[j].isdigit():
                if ar[j] != "0":
                    an = bn = 1
                    break
                j -= 1
        ai = i
        while ai < len(ar) and ar[ai].isdigit():
            an = an * 10 + int(ar[ai])
            ai += 1
        bi = i
        while bi < len(br) and br[bi].isdigit():
            bn = bn * 10 + int(br[bi])
            bi += 1
        if an != bn:
            return an < bn
        if ai != bi:
            return ai < bi
        return ar[i] < br[i]
    return len(ar) < len(br)


def _go_cmp(a: str, b: str) -> int:
    if a == b:
        return 0
    return -1 if _go_less(a, b) else 1


def go_sorted(keys: Iterable[str]) -> list[str]:
    return sorted(keys, key=functools.cmp_to_key(_go_cmp))


class KubeDumper(yaml.SafeDumper):
    """A SafeDumper whose implicit resolution and quoting follow go-yaml v2."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            tag = go_tag(value)
            if tag == "str" and _needs_quotes(value):
                tag = "float"
            return "tag:yaml.org,2002:" + tag
        return super().resolve(kind, value, implicit)


def _represent_str(dumper: KubeDumper, data: str) -> yaml.ScalarNode:
    style: str | None = None
    if "\n" in data:
        style = "|"
    elif _needs_quotes(data):
        style = '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def _represent_dict(dumper: KubeDumper, data: dict[str, Any]) -> yaml.MappingNode:
    items = [(k, data[k]) for k in go_sorted(data)]
    return dumper.represent_mapping("tag:yaml.org,2002:map", items, flow_style=False)


def _represent_none(dumper: KubeDumper, _data: None) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:null", "null")


KubeDumper.add_representer(str, _represent_str)
KubeDumper.add_representer(dict, _represent_dict)
KubeDumper.add_representer(type(None), _represent_none)


def dump(obj: Any) -> str:
    """One document, as `kubectl get -o yaml` prints it."""
    return yaml.dump(obj, Dumper=KubeDumper, default_flow_style=False, allow_unicode=True, width=80, sort_keys=False)


def dump_all(objs: list[Any]) -> str:
    """Several documents separated by `---` (as `kubectl get ... -o yaml` of single objects, concatenated)."""
    return "---\n".join(dump(o) for o in objs)
