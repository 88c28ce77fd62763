"""One shape per object: resource.k8s.io v1beta1/v1beta2 to v1, and objects keyed for de-duplication."""

from __future__ import annotations

import copy
from typing import Any

from .model import Inventory, Obj

DRA_GROUP = "resource.k8s.io"

# Kinds the tool reads (anything else in a snapshot is ignored), with their API group.
KIND_GROUPS = {
    "VirtualMachine": "kubevirt.io",
    "VirtualMachineInstance": "kubevirt.io",
    "KubeVirt": "kubevirt.io",
    "Pod": "",
    "Event": "",
    "Node": "",
    "ResourceClaim": DRA_GROUP,
    "ResourceClaimTemplate": DRA_GROUP,
    "DeviceClass": DRA_GROUP,
    "ResourceSlice": DRA_GROUP,
}
KINDS = frozenset(KIND_GROUPS)

# v1beta1 exact-request fields that v1 moved under `exactly`.
_EXACT_FIELDS = ("deviceClassName", "selectors", "allocationMode", "count", "adminAccess", "tolerations")


def group_version(obj: Obj) -> tuple[str, str]:
    """`resource.k8s.io/v1beta1` -> ("resource.k8s.io", "v1beta1"); `v1` -> ("", "v1")."""
    api_version = str(obj.get("apiVersion") or "")
    group, _, version = api_version.rpartition("/")
    return group, version


def identity(obj: Obj) -> tuple[str, str, str, str]:
    """The same object seen twice (any version of its group) has the same identity."""
    meta = obj.get("metadata") or {}
    group, _ = group_version(obj)
    if obj.get("kind") == "Event":  # core/v1 and events.k8s.io/v1 serve the same events
        group = ""
    return (group, str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def resource_version(obj: Obj) -> tuple[int, str]:
    """An order on resourceVersions (decimal strings of any length); anything else sorts first."""
    meta = obj.get("metadata")
    rv = str((meta if isinstance(meta, dict) else {}).get("resourceVersion") or "").lstrip("0")
    return (len(rv), rv) if rv.isascii() and rv.isdigit() else (-1, "")


def _request_v1(req: Any) -> Any:
    """A v1beta1 request is flat; v1 nests the exact request under `exactly`."""
    if not isinstance(req, dict) or "exactly" in req or "firstAvailable" in req:
        return req
    out = {k: v for k, v in req.items() if k not in _EXACT_FIELDS}
    out["exactly"] = {k: req[k] for k in _EXACT_FIELDS if k in req}
    return out


def _claim_spec_v1(spec: Any) -> Any:
    if not isinstance(spec, dict):
        return spec
    devices = spec.get("devices")
    if isinstance(devices, dict) and isinstance(devices.get("requests"), list):
        devices["requests"] = [_request_v1(r) for r in devices["requests"]]
    return spec


def _device_v1(dev: Any) -> Any:
    """v1beta1 slice devices keep everything but `name` under `basic`."""
    if isinstance(dev, dict) and isinstance(dev.get("basic"), dict):
        merged = {k: v for k, v in dev.items() if k != "basic"}
        merged.update(dev["basic"])
        return merged
    return dev


def to_v1(obj: Obj) -> Obj:
    """Return the object in resource.k8s.io/v1 shape (a copy when anything changes)."""
    group, version = group_version(obj)
    if group != DRA_GROUP or version == "v1":
        return obj
    obj = copy.deepcopy(obj)
    obj["apiVersion"] = f"{DRA_GROUP}/v1"
    kind = obj.get("kind")
    if version == "v1beta1":
        spec = obj.get("spec")
        if kind == "ResourceClaim":
            obj["spec"] = _claim_spec_v1(spec)
        elif kind == "ResourceClaimTemplate" and isinstance(spec, dict):
            spec["spec"] = _claim_spec_v1(spec.get("spec"))
        elif kind == "ResourceSlice" and isinstance(spec, dict) and isinstance(spec.get("devices"), list):
            spec["devices"] = [_device_v1(d) for d in spec["devices"]]
    return obj


def dig_dict(obj: Obj, key: str) -> Obj:
    """obj[key] when it is a mapping, else an empty one."""
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def _event_v1(obj: Obj) -> Obj:
    """events.k8s.io/v1 Events become core/v1 shaped (involvedObject, message, lastTimestamp)."""
    group, _ = group_version(obj)
    if group != "events.k8s.io":
        return obj
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": obj.get("metadata") or {},
        "involvedObject": dig_dict(obj, "regarding"),
        "reason": obj.get("reason"),
        "message": obj.get("note"),
        "type": obj.get("type"),
        "count": dig_dict(obj, "series").get("count", obj.get("deprecatedCount", 1)),
        "lastTimestamp": obj.get("eventTime") or obj.get("deprecatedLastTimestamp"),
        "source": {"component": obj.get("reportingController")},
    }


_META_TEXT = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "generateName")


def _well_formed(raw: Any) -> Obj | None:
    """The object with what identifies it as text, or None when it cannot be one of ours.

    Known kind, a metadata mapping with a name; scalar identity fields become strings (YAML reads
    `name: 1234` as a number) and other shapes of them are dropped, so every consumer can
    format, compare and sort them.
    """
    if not isinstance(raw, dict) or not isinstance(raw.get("kind"), str) or raw["kind"] not in KINDS:
        return None
    meta = raw.get("metadata")
    if not isinstance(meta, dict) or not _scalar(meta.get("name")) or meta.get("name") in ("", None):
        return None
    fixed = {}
    for name in _META_TEXT:
        value = meta.get(name)
        if value is not None and not isinstance(value, str):
            fixed[name] = _text(value) if _scalar(value) else None
    if fixed or not isinstance(raw.get("apiVersion"), str):
        meta = {k: v for k, v in {**meta, **fixed}.items() if v is not None}
        raw = {**raw, "metadata": meta, "apiVersion": _text(raw.get("apiVersion") or "")}
    out: Obj = raw
    return out


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def add_objects(inv: Inventory, objs: list[Obj]) -> None:
    """Add raw objects to an inventory: known kinds only, normalized, the newest copy kept.

    Fields keep their JSON types: `build` reads them tolerantly into typed views.
    """
    seen: dict[tuple[str, str, str, str], tuple[int, tuple[int, str]]] = {}
    for items in inv.objects.values():
        for i, item in enumerate(items):
            seen[identity(item)] = (i, resource_version(item))
    for candidate in objs:
        raw = _well_formed(candidate)
        if raw is None:
            continue
        group, version = group_version(raw)
        if group == DRA_GROUP:
            inv.resource_versions.setdefault(group, set()).add(version)
            obj = to_v1(raw)
        elif group == "events.k8s.io":
            obj = _event_v1(raw)
        else:
            obj = raw
        key = identity(raw)
        items = inv.objects.setdefault(str(obj["kind"]), [])
        rv = resource_version(obj)
        if key in seen:
            index, old_rv = seen[key]
            if rv > old_rv:
                items[index] = obj
                seen[key] = (index, rv)
            continue
        seen[key] = (len(items), rv)
        items.append(obj)
