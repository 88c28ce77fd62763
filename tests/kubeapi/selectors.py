"""Label and field selectors with the API server's syntax, field labels and error messages."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .discovery import Resource

Predicate = Callable[[dict[str, Any]], bool]


class SelectorError(ValueError):
    """An unparsable selector or an unsupported field label: the API answers 400 BadRequest."""


def _split(text: str) -> list[str]:
    """Split on commas outside parentheses and not escaped by a backslash."""
    parts, depth, current, escaped = [], 0, "", False
    for ch in text:
        if escaped:
            current, escaped = current + ch, False
            continue
        if ch == "\\":
            current, escaped = current + ch, True
            continue
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
_SET = re.compile(rf"^({_KEY})\s+(in|notin)\s*\((.*)\)$")
_CMP = re.compile(rf"^({_KEY})\s*(==|=|!=|>|<)\s*(.*)$")


def label_selector(text: str) -> Predicate:
    """Parse `a=b,c!=d,e in (f,g),h notin (i),j,!k,l>3`; return a predicate over objects."""
    checks: list[Callable[[dict[str, str]], bool]] = []
    for req in _split(text):
        checks.append(_label_requirement(req))

    def match(obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(check(labels) for check in checks)

    return match


def _label_requirement(req: str) -> Callable[[dict[str, str]], bool]:
    if re.fullmatch(rf"!\s*{_KEY}", req):
        key = req[1:].strip()
        return lambda labels: key not in labels
    if re.fullmatch(_KEY, req):
        return lambda labels: req in labels
    if m := _SET.match(req):
        key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
        if op == "in":
            return lambda labels: key in labels and labels[key] in values
        return lambda labels: key not in labels or labels[key] not in values
    if m := _CMP.match(req):
        key, op, value = m.group(1), m.group(2), m.group(3).strip()
        if op in ("=", "=="):
            return lambda labels: labels.get(key) == value
        if op == "!=":
            return lambda labels: labels.get(key) != value
        if not value.isdigit():
            raise SelectorError(f"unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an "
                                f"integer: {value!r}")
        bound = int(value)

        def compare(labels: dict[str, str]) -> bool:
            if not labels.get(key, "").isdigit():
                return False
            return int(labels[key]) > bound if op == ">" else int(labels[key]) < bound

        return compare
    raise SelectorError(f"unable to parse requirement: found '{req}', expected: in, notin, =, ==, !=, gt, lt")


def _path(*keys: str, default: str = "") -> Callable[[dict[str, Any]], str]:
    def get(obj: dict[str, Any]) -> str:
        value: Any = obj
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            return default
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return get


_META = {"metadata.name": _path("metadata", "name"), "metadata.namespace": _path("metadata", "namespace")}
_REFERENCE = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
# Field labels each built-in resource registers (pkg/registry/*/strategy.go, *FieldsSet).
FIELD_LABELS: dict[tuple[str, str], dict[str, Callable[[dict[str, Any]], str]]] = {
    ("", "pods"): {
        "spec.nodeName": _path("spec", "nodeName"),
        "spec.restartPolicy": _path("spec", "restartPolicy"),
        "spec.schedulerName": _path("spec", "schedulerName"),
        "spec.serviceAccountName": _path("spec", "serviceAccountName"),
        "spec.hostNetwork": _path("spec", "hostNetwork", default="false"),
        "status.phase": _path("status", "phase"),
        "status.podIP": _path("status", "podIP"),
        "status.nominatedNodeName": _path("status", "nominatedNodeName"),
    },
    ("", "events"): {
        **{f"involvedObject.{k}": _path("involvedObject", k) for k in _REFERENCE},
        "reason": _path("reason"),
        "reportingComponent": _path("reportingComponent"),
        "source": _path("source", "component"),
        "type": _path("type"),
    },
    ("events.k8s.io", "events"): {
        **{f"regarding.{k}": _path("regarding", k) for k in _REFERENCE},
        "reason": _path("reason"),
        "reportingController": _path("reportingController"),
        "type": _path("type"),
    },
    ("", "nodes"): {"spec.unschedulable": _path("spec", "unschedulable", default="false")},
    ("", "namespaces"): {"status.phase": _path("status", "phase")},
    ("resource.k8s.io", "resourceslices"): {
        "spec.nodeName": _path("spec", "nodeName"),
        "spec.driver": _path("spec", "driver"),
    },
}


def field_selector(text: str, resource: Resource) -> Predicate:
    """Parse `a=b,c!=d` against the field labels `resource` supports."""
    labels = {**_META, **FIELD_LABELS.get((resource.group, resource.name), {})}
    checks: list[Predicate] = []
    for req in _split(text):
        m = re.fullmatch(r"([^=!]+?)\s*(==|=|!=)\s*(.*)", req)
        if not m:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{req}'")
        label, op, value = m.group(1).strip(), m.group(2), re.sub(r"\\(.)", r"\1", m.group(3).strip())
        if label not in labels:
            if resource.builtin:
                raise SelectorError(f"field label not supported: {label}")
            raise SelectorError(f'"{label}" is not a known field selector: only "metadata.name", "metadata.namespace"')
        checks.append(_field_check(labels[label], value, op == "!="))
    return lambda obj: all(check(obj) for check in checks)


def _field_check(get: Callable[[dict[str, Any]], str], value: str, negate: bool) -> Predicate:
    return lambda obj: (get(obj) == value) != negate
