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


# The JSON type of the fields the tool reads where another type would break a consumer; a value
# of another type is dropped, as if absent (the API server's validation would have refused it).
# `a.b[]` is each item of the list at a.b. Types: dict, list, int, str; "dicts" (a list, non-dict
# items dropped), "strs" (a list of text), "strmap" (a mapping of text), "attrs" (DRA device
# attributes), "caps" (DRA device capacities).
_CLAIM_SPEC = {
    "devices": dict,
    "devices.requests": "dicts",
    "devices.requests[].exactly": dict,
    "devices.requests[].exactly.selectors": "dicts",
    "devices.requests[].exactly.tolerations": "dicts",
    "devices.requests[].selectors": "dicts",
    "devices.requests[].tolerations": "dicts",
    "devices.requests[].firstAvailable": "dicts",
    "devices.requests[].firstAvailable[].selectors": "dicts",
    "devices.requests[].firstAvailable[].tolerations": "dicts",
    "devices.config": "dicts",
    "devices.config[].requests": "strs",
    "devices.config[].opaque": dict,
}
_VMI_SPEC = {
    "domain": dict,
    "domain.devices": dict,
    "domain.devices.gpus": "dicts",
    "domain.devices.hostDevices": "dicts",
    "resourceClaims": "dicts",
}
_SHAPES: dict[str, dict[str, Any]] = {
    "*": {
        "metadata.labels": "strmap",
        "metadata.annotations": "strmap",
        "metadata.ownerReferences": "dicts",
        "metadata.finalizers": "strs",
        "spec": dict,
        "status": dict,
    },
    "Event": {"involvedObject": dict, "regarding": dict, "series": dict, "count": int, "deprecatedCount": int},
    "Pod": {
        "spec.nodeSelector": "strmap",
        "spec.containers": "dicts",
        "spec.containers[].resources": dict,
        "spec.containers[].resources.claims": "dicts",
        "spec.affinity": dict,
        "spec.affinity.nodeAffinity": dict,
        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution": dict,
        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms": "dicts",
        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[]"
        ".matchExpressions": "dicts",
        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[]"
        ".matchExpressions[].values": "strs",
        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[]"
        ".matchFields": "dicts",
        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[]"
        ".matchFields[].values": "strs",
        "status.resourceClaimStatuses": "dicts",
        "status.containerStatuses": "dicts",
    },
    "ResourceSlice": {
        "spec.pool": dict,
        "spec.pool.generation": int,
        "spec.pool.resourceSliceCount": int,
        "spec.devices": "dicts",
        "spec.devices[].attributes": "attrs",
        "spec.devices[].capacity": "caps",
        "spec.devices[].taints": "dicts",
    },
    "ResourceClaim": {
        **{f"spec.{k}": v for k, v in _CLAIM_SPEC.items()},
        "status.allocation": dict,
        "status.allocation.devices": dict,
        "status.allocation.devices.results": "dicts",
        "status.allocation.devices.results[].tolerations": "dicts",
        "status.allocation.devices.config": "dicts",
        "status.allocation.devices.config[].requests": "strs",
        "status.allocation.devices.config[].opaque": dict,
        "status.allocation.nodeSelector": dict,
        "status.allocation.nodeSelector.nodeSelectorTerms": "dicts",
        "status.allocation.nodeSelector.nodeSelectorTerms[].matchFields": "dicts",
        "status.allocation.nodeSelector.nodeSelectorTerms[].matchFields[].values": "strs",
        "status.allocation.nodeSelector.nodeSelectorTerms[].matchExpressions": "dicts",
        "status.allocation.nodeSelector.nodeSelectorTerms[].matchExpressions[].values": "strs",
        "status.reservedFor": "dicts",
    },
    "ResourceClaimTemplate": {"spec.spec": dict, **{f"spec.spec.{k}": v for k, v in _CLAIM_SPEC.items()}},
    "DeviceClass": {
        "spec.selectors": "dicts",
        "spec.config": "dicts",
        "spec.config[].requests": "strs",
        "spec.config[].opaque": dict,
    },
    "VirtualMachineInstance": {
        **{f"spec.{k}": v for k, v in _VMI_SPEC.items()},
        "status.activePods": "strmap",
        "status.deviceStatus": dict,
        "status.deviceStatus.gpuStatuses": "dicts",
        "status.deviceStatus.gpuStatuses[].deviceResourceClaimStatus": dict,
        "status.deviceStatus.gpuStatuses[].deviceResourceClaimStatus.attributes": "strmap",
        "status.deviceStatus.hostDeviceStatuses": "dicts",
        "status.deviceStatus.hostDeviceStatuses[].deviceResourceClaimStatus": dict,
        "status.deviceStatus.hostDeviceStatuses[].deviceResourceClaimStatus.attributes": "strmap",
    },
    "VirtualMachine": {
        "spec.template": dict,
        "spec.template.spec": dict,
        **{f"spec.template.spec.{k}": v for k, v in _VMI_SPEC.items()},
        "status.conditions": "dicts",
    },
    "KubeVirt": {
        "spec.configuration": dict,
        "spec.configuration.developerConfiguration": dict,
        "spec.configuration.developerConfiguration.featureGates": "strs",
        "spec.configuration.developerConfiguration.disabledFeatureGates": "strs",
    },
}
_ATTRIBUTE_TYPES = {"string": str, "version": str, "int": int, "bool": bool}


def _shape(kind: str, obj: Obj) -> None:
    """Enforce _SHAPES on an object, in place."""
    for path, shape in (*_SHAPES["*"].items(), *_SHAPES.get(kind, {}).items()):
        _enforce(obj, path.replace("[]", ".[]").split("."), shape)


def _enforce(node: Any, parts: list[str], shape: Any) -> None:
    if not parts:
        return
    head, rest = parts[0], parts[1:]
    if head == "[]":
        for item in node if isinstance(node, list) else ():
            _enforce(item, rest, shape)
        return
    if not isinstance(node, dict) or head not in node:
        return
    if rest:
        _enforce(node[head], rest, shape)
        return
    fixed = _coerce(node[head], shape)
    if fixed is _DROP:
        del node[head]
    else:
        node[head] = fixed


_DROP = object()


def _coerce(value: Any, shape: Any) -> Any:
    if value is None:
        return None
    if shape is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else _DROP
    if shape is str:
        return _text(value) if _scalar(value) else _DROP
    if shape in (dict, list):
        return value if isinstance(value, shape) else _DROP
    if shape == "dicts":
        return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else _DROP
    if shape == "strs":
        return [_text(v) for v in value if _scalar(v)] if isinstance(value, list) else _DROP
    if shape == "strmap":
        return {str(k): _text(v) for k, v in value.items() if _scalar(v)} if isinstance(value, dict) else _DROP
    if shape == "attrs":
        if not isinstance(value, dict):
            return _DROP
        return {
            str(name): {k: v for k, v in attr.items() if _attribute_ok(k, v)}
            for name, attr in value.items()
            if isinstance(attr, dict)
        }
    if shape == "caps":
        if not isinstance(value, dict):
            return _DROP
        return {str(n): c for n, c in value.items() if isinstance(c, dict) and _scalar(c.get("value"))}
    return value


def _attribute_ok(key: str, value: Any) -> bool:
    wanted = _ATTRIBUTE_TYPES.get(key)
    if wanted is None:
        return True  # a type this version does not know: kept, consumers look for the four above
    return isinstance(value, wanted) and (wanted is bool or not isinstance(value, bool))


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
    return raw


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def add_objects(inv: Inventory, objs: list[Obj]) -> None:
    """Add raw objects to an inventory: known kinds only, normalized, the newest copy kept.

    The objects are taken over: their fields are shaped in place (see _SHAPES).
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
        key = identity(raw)
        obj = _event_v1(to_v1(raw))
        _shape(str(obj["kind"]), obj)
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
