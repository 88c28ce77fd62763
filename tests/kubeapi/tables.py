"""Server-side printing: the meta.k8s.io Table kubectl asks for, with real columns per kind."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from kubectl_vmgpu.render.get import human_duration  # kubectl's HumanDuration, one implementation

from .discovery import Resource

Cell = Callable[[dict[str, Any]], Any]


def _get(obj: Any, *keys: str | int) -> Any:
    for key in keys:
        if isinstance(key, int):
            obj = obj[key] if isinstance(obj, list) and len(obj) > key else None
        else:
            obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def _since(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return "<unknown>"
    try:
        then = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return "<invalid>"
    return human_duration((datetime.now(timezone.utc) - then).total_seconds())


def _age(obj: dict[str, Any]) -> str:
    return _since(_get(obj, "metadata", "creationTimestamp"))


def _condition(kind: str) -> Cell:
    def cell(obj: dict[str, Any]) -> Any:
        for cond in _get(obj, "status", "conditions") or ():
            if isinstance(cond, dict) and cond.get("type") == kind:
                return cond.get("status")
        return None

    return cell


def _pod_ready(pod: dict[str, Any]) -> str:
    statuses = _get(pod, "status", "containerStatuses") or []
    ready = sum(1 for s in statuses if isinstance(s, dict) and s.get("ready"))
    return f"{ready}/{len(_get(pod, 'spec', 'containers') or [])}"


def _pod_status(pod: dict[str, Any]) -> str:
    reason = _get(pod, "status", "reason") or _get(pod, "status", "phase") or "Unknown"
    for status in _get(pod, "status", "containerStatuses") or ():
        waiting = _get(status, "state", "waiting", "reason")
        terminated = _get(status, "state", "terminated", "reason")
        reason = waiting or terminated or reason
    if _get(pod, "metadata", "deletionTimestamp"):
        return "Terminating"
    return str(reason)


def _restarts(pod: dict[str, Any]) -> int:
    return sum(int(s.get("restartCount") or 0) for s in _get(pod, "status", "containerStatuses") or ())


def _claim_state(claim: dict[str, Any]) -> str:
    # pkg/printers/internalversion printResourceClaim: resourceClaimState
    states = ["deleted"] if _get(claim, "metadata", "deletionTimestamp") else []
    if _get(claim, "status", "allocation") is None:
        if not states:
            states.append("pending")
    else:
        states.append("allocated")
        if _get(claim, "status", "reservedFor"):
            states.append("reserved")
    return ",".join(states)


def _node_status(node: dict[str, Any]) -> str:
    ready = _condition("Ready")(node)
    status = {"True": "Ready", "False": "NotReady"}.get(str(ready), "Unknown")
    return status + (",SchedulingDisabled" if _get(node, "spec", "unschedulable") else "")


def _event_object(event: dict[str, Any]) -> str:
    ref = _get(event, "involvedObject") or _get(event, "regarding") or {}
    return f"{str(ref.get('kind', '')).lower()}/{ref.get('name', '')}"


def _event_last_seen(event: dict[str, Any]) -> str:
    for key in ("lastTimestamp", "deprecatedLastTimestamp", "eventTime"):
        if event.get(key):
            return _since(event[key])
    return _age(event)


def _none(value: Any) -> Any:
    return "<none>" if value in (None, "") else value


# (column name, type, priority, cell); `table` puts "Name" first unless the kind places it.
Column = tuple[str, str, int, Cell]
AGE: Column = ("Age", "string", 0, _age)
COLUMNS: dict[tuple[str, str], list[Column]] = {
    ("", "pods"): [
        ("Ready", "string", 0, _pod_ready),
        ("Status", "string", 0, _pod_status),
        ("Restarts", "string", 0, _restarts),
        AGE,
        ("IP", "string", 1, lambda p: _none(_get(p, "status", "podIP"))),
        ("Node", "string", 1, lambda p: _none(_get(p, "spec", "nodeName"))),
    ],
    ("", "nodes"): [
        ("Status", "string", 0, _node_status),
        ("Roles", "string", 0, lambda n: ",".join(
            sorted(k.rpartition("/")[2] for k in _get(n, "metadata", "labels") or {}
                   if k.startswith("node-role.kubernetes.io/"))) or "<none>"),
        AGE,
        ("Version", "string", 0, lambda n: _get(n, "status", "nodeInfo", "kubeletVersion") or ""),
    ],
    ("", "namespaces"): [("Status", "string", 0, lambda n: _get(n, "status", "phase") or "Active"), AGE],
    ("", "events"): [
        ("Last Seen", "string", 0, _event_last_seen),
        ("Type", "string", 0, lambda e: e.get("type", "")),
        ("Reason", "string", 0, lambda e: e.get("reason", "")),
        ("Object", "string", 0, _event_object),
        ("Message", "string", 0, lambda e: e.get("message") or e.get("note") or ""),
        ("Name", "string", 1, lambda e: _get(e, "metadata", "name") or ""),
    ],
    ("kubevirt.io", "virtualmachineinstances"): [
        ("Age", "date", 0, _age),
        ("Phase", "string", 0, lambda v: _get(v, "status", "phase")),
        ("IP", "string", 0, lambda v: _get(v, "status", "interfaces", 0, "ipAddress")),
        ("NodeName", "string", 0, lambda v: _get(v, "status", "nodeName")),
        ("Ready", "string", 0, _condition("Ready")),
        ("Live-Migratable", "string", 1, _condition("LiveMigratable")),
        ("Paused", "string", 1, _condition("Paused")),
    ],
    ("kubevirt.io", "virtualmachines"): [
        ("Age", "date", 0, _age),
        ("Status", "string", 0, lambda v: _get(v, "status", "printableStatus")),
        ("Ready", "string", 0, _condition("Ready")),
    ],
    ("kubevirt.io", "kubevirts"): [
        ("Age", "date", 0, _age),
        ("Phase", "string", 0, lambda k: _get(k, "status", "phase")),
    ],
    ("resource.k8s.io", "resourceclaims"): [("State", "string", 0, _claim_state), AGE],
    ("resource.k8s.io", "resourceslices"): [
        ("Node", "string", 0, lambda s: _none(_get(s, "spec", "nodeName"))),
        ("Driver", "string", 0, lambda s: _get(s, "spec", "driver") or ""),
        ("Pool", "string", 0, lambda s: _get(s, "spec", "pool", "name") or ""),
        AGE,
    ],
}


COLUMNS["events.k8s.io", "events"] = COLUMNS["", "events"]


def table(res: Resource, items: list[dict[str, Any]], api_version: str, include: str,
          metadata: dict[str, Any]) -> dict[str, Any]:
    """A Table of `items`; `include` is the includeObject parameter (None, Metadata, Object)."""
    columns = COLUMNS.get((res.group, res.name), [AGE])
    if not any(c[0] == "Name" for c in columns):  # first, except for events (priority 1, last)
        columns = [("Name", "string", 0, lambda o: _get(o, "metadata", "name") or ""), *columns]
    rows = []
    for obj in items:
        row: dict[str, Any] = {"cells": [cell(obj) for _, _, _, cell in columns]}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": obj.get("metadata") or {}}
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": metadata,
        "columnDefinitions": [
            {"name": name, "type": kind, "format": "name" if name == "Name" else "", "description": name,
             "priority": priority}
            for name, kind, priority, _ in columns
        ],
        "rows": rows,
    }
