"""Raw objects (already resource.k8s.io/v1 shaped) -> typed views: the one reader of raw Kubernetes JSON.

Every accessor tolerates missing keys, nulls and wrong types: a value of the wrong type reads as absent,
as if the API server's validation had refused it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from . import views as v
from .buildspec import admission_inputs
from .model import Obj

_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")
VFIO_KIND = "VfioDeviceConfig"
_VFIO_FIELDS = {"apiVersion", "kind", "iommu"}
_IOMMU_FIELDS = {"backendPolicy", "enableAPIDevice"}


def d(obj: Any, key: str) -> dict[str, Any]:
    """obj[key] when both are dicts, else {}."""
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}


def _list(obj: Any, key: str) -> list[Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, list) else []


def dicts(obj: Any, key: str) -> list[dict[str, Any]]:
    """The dict items of the list obj[key]."""
    value = obj.get(key) if isinstance(obj, dict) else None
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def _text(value: object) -> str:
    if type(value) is str:  # the common case, first (issue 15: millions of calls on a large fleet)
        return value
    return str(value).lower() if isinstance(value, bool) else str(value)


def s(obj: Any, key: str) -> str:
    """obj[key] as text ('' when absent or not a scalar; YAML booleans as Kubernetes writes them)."""
    value = obj.get(key) if isinstance(obj, dict) else None
    if type(value) is str:
        return value
    return "" if value is None or isinstance(value, (dict, list)) else _text(value)


def opt(obj: Any, key: str) -> str | None:
    return s(obj, key) or None


def strs(obj: Any, key: str) -> tuple[str, ...]:
    value = obj.get(key) if isinstance(obj, dict) else None
    return tuple(_text(x) for x in value if isinstance(x, (str, int, float))) if isinstance(value, list) else ()


def strmap(obj: Any, key: str) -> dict[str, str]:
    return {str(k): _text(x) for k, x in d(obj, key).items() if isinstance(x, (str, int, float, bool))}


def integer(obj: Any, key: str, default: int = 0) -> int:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def parse_version(text: object) -> v.Version | None:
    match = _VERSION.search(str(text or ""))
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def meta(obj: Obj, kind: str | None = None) -> v.Meta:
    m = d(obj, "metadata")
    return v.Meta(
        kind=kind or s(obj, "kind"),
        namespace=s(m, "namespace"),
        name=s(m, "name"),
        uid=s(m, "uid"),
        created=s(m, "creationTimestamp"),
        deleted=opt(m, "deletionTimestamp"),
        finalizers=strs(m, "finalizers"),
        labels=strmap(m, "labels"),
        annotations=strmap(m, "annotations"),
        owners=tuple(
            v.Owner(s(o, "kind"), s(o, "name"), s(o, "uid"), o.get("controller") is True)
            for o in dicts(m, "ownerReferences")
        ),
    )


def toleration(raw: Obj) -> v.Toleration:
    return v.Toleration(s(raw, "key"), s(raw, "operator") or "Equal", s(raw, "value"), s(raw, "effect"))


def taint(raw: Obj) -> v.Taint:
    return v.Taint(s(raw, "key"), s(raw, "value"), s(raw, "effect"), s(raw, "timeAdded"))


def request(raw: Obj) -> v.Request:
    exact = raw.get("exactly")
    if not isinstance(exact, dict):
        exact = raw
    subs = tuple(request(x) for x in dicts(raw, "firstAvailable"))
    return v.Request(
        name=s(raw, "name"),
        device_class=None if subs else opt(exact, "deviceClassName"),
        selectors=tuple(
            s(d(x, "cel"), "expression") for x in dicts(exact, "selectors") if s(d(x, "cel"), "expression")
        ),
        mode=s(exact, "allocationMode") or "ExactCount",
        count=integer(exact, "count", 1),
        tolerations=tuple(toleration(t) for t in dicts(exact, "tolerations")),
        first_available=subs,
    )


def vfio(params: Mapping[str, Any]) -> v.VfioConfig:
    """A VfioDeviceConfig as the driver decodes it (strict) and normalises it (empty policy, null flag)."""
    iommu = params.get("iommu")
    unknown = sorted(set(params) - _VFIO_FIELDS)
    policy: object = None
    api: object = None
    if isinstance(iommu, dict):
        unknown += sorted(f"iommu.{k}" for k in set(iommu) - _IOMMU_FIELDS)
        policy, api = iommu.get("backendPolicy"), iommu.get("enableAPIDevice")
    elif iommu is not None:
        unknown.append("iommu")
    # The driver decodes, then Normalize() turns an empty (or null) backendPolicy into LegacyOnly and a null
    # enableAPIDevice into false before Validate() [dra-driver-nvidia-gpu v0.4.1
    # api/nvidia.com/resource/v1beta1/vfiodeviceconfig.go]: both are valid.
    policy_text = policy if isinstance(policy, str) else ("" if policy is None else str(policy))
    return v.VfioConfig(
        backend_policy=policy_text or "LegacyOnly",
        enable_api_device=bool(api) if api is None or isinstance(api, bool) else None,
        unknown_fields=tuple(unknown),
        policy_raw=policy_text,
        policy_given=policy_text != "",
        api_device_invalid=None if api is None or isinstance(api, bool) else repr(api),
        iommu_block=isinstance(iommu, dict),
    )


def config(raw: Obj, default_source: str, index: int = -1) -> v.OpaqueConfig:
    opaque = d(raw, "opaque")
    params = d(opaque, "parameters")
    kind = s(params, "kind")
    return v.OpaqueConfig(
        source=s(raw, "source") or default_source,
        driver=s(opaque, "driver"),
        requests=strs(raw, "requests"),
        parameters=params,
        kind=kind,
        vfio=vfio(params) if kind == VFIO_KIND else None,
        index=index,
    )


def claim_spec(spec: Obj) -> v.ClaimSpec:
    devices = d(spec, "devices")
    return v.ClaimSpec(
        requests=tuple(request(r) for r in dicts(devices, "requests")),
        configs=tuple(
            config(c, "FromClaim", i) for i, c in enumerate(_list(devices, "config")) if isinstance(c, dict)
        ),
    )


def _alloc_node(alloc: Obj) -> str | None:
    for term in dicts(d(alloc, "nodeSelector"), "nodeSelectorTerms"):
        for expr in dicts(term, "matchFields") + dicts(term, "matchExpressions"):
            values = strs(expr, "values")
            if s(expr, "key") in ("metadata.name", "kubernetes.io/hostname") and values:
                return values[0]
    return None


def claim(obj: Obj) -> v.Claim:
    status = d(obj, "status")
    alloc = d(status, "allocation")
    devices = d(alloc, "devices")
    return v.Claim(
        meta=meta(obj, "ResourceClaim"),
        spec=claim_spec(d(obj, "spec")),
        allocated=bool(alloc),
        results=tuple(
            v.Result(
                s(r, "request"),
                s(r, "driver"),
                s(r, "pool"),
                s(r, "device"),
                tuple(toleration(t) for t in dicts(r, "tolerations")),
            )
            for r in dicts(devices, "results")
        ),
        allocation_configs=tuple(config(c, "FromClaim") for c in dicts(devices, "config")),
        node=_alloc_node(alloc),
        reserved_for=tuple(
            v.Consumer(s(r, "resource"), s(r, "name"), s(r, "uid")) for r in dicts(status, "reservedFor")
        ),
    )


def template(obj: Obj) -> v.Template:
    return v.Template(meta(obj, "ResourceClaimTemplate"), claim_spec(d(d(obj, "spec"), "spec")))


def device_class(obj: Obj) -> v.DeviceClass:
    spec = d(obj, "spec")
    return v.DeviceClass(
        name=s(d(obj, "metadata"), "name"),
        selectors=tuple(s(d(x, "cel"), "expression") for x in dicts(spec, "selectors")),
        configs=tuple(config(c, "FromClass") for c in dicts(spec, "config")),
    )


def attribute(raw: object) -> v.Attribute | None:
    """A DeviceAttribute is `{string|int|bool|version: value}`; a value of the wrong type is dropped."""
    if not isinstance(raw, dict):
        return None
    for name in ("string", "version"):
        text = raw.get(name)
        if isinstance(text, str):
            return v.Attribute(name, text)
    number = raw.get("int")
    if isinstance(number, int) and not isinstance(number, bool):
        return v.Attribute("int", number)
    flag = raw.get("bool")
    return v.Attribute("bool", flag) if isinstance(flag, bool) else None


def slice_device(raw: Obj) -> v.SliceDevice:
    attrs = {}
    for name, value in d(raw, "attributes").items():
        found = attribute(value)
        if found is not None:
            attrs[str(name)] = found
    capacity = {str(k): s(x, "value") for k, x in d(raw, "capacity").items() if isinstance(x, dict) and s(x, "value")}
    return v.SliceDevice(s(raw, "name"), attrs, capacity, tuple(taint(t) for t in dicts(raw, "taints")))


def resource_slice(obj: Obj) -> v.Slice:
    spec = d(obj, "spec")
    pool = d(spec, "pool")
    return v.Slice(
        name=s(d(obj, "metadata"), "name"),
        driver=s(spec, "driver"),
        pool=s(pool, "name"),
        generation=integer(pool, "generation"),
        slice_count=integer(pool, "resourceSliceCount", 1) or 1,
        node=opt(spec, "nodeName"),
        all_nodes=spec.get("allNodes") is True,
        devices=tuple(slice_device(x) for x in dicts(spec, "devices")),
    )


def _requirements(term: Obj) -> tuple[v.Requirement, ...]:
    return tuple(
        v.Requirement(s(e, "key"), s(e, "operator"), strs(e, "values"))
        for e in dicts(term, "matchExpressions") + dicts(term, "matchFields")
    )


def launcher_pod(obj: Obj) -> v.LauncherPod:
    m = meta(obj, "Pod")
    spec, status = d(obj, "spec"), d(obj, "status")
    compute = next((c for c in dicts(spec, "containers") if s(c, "name") == "compute"), {})
    required = d(d(d(spec, "affinity"), "nodeAffinity"), "requiredDuringSchedulingIgnoredDuringExecution")
    owner = m.controller("VirtualMachineInstance")
    return v.LauncherPod(
        meta=m,
        phase=s(status, "phase"),
        node=opt(spec, "nodeName"),
        compute_claims=tuple((s(c, "name"), opt(c, "request")) for c in dicts(d(compute, "resources"), "claims")),
        claim_statuses={
            s(x, "name"): s(x, "resourceClaimName") for x in dicts(status, "resourceClaimStatuses") if s(x, "name")
        },
        node_selector=strmap(spec, "nodeSelector"),
        affinity_terms=tuple(_requirements(t) for t in dicts(required, "nodeSelectorTerms")),
        vmi_uid=owner.uid if owner else m.labels.get("kubevirt.io/created-by"),
        compute_caps=strs(d(d(compute, "securityContext"), "capabilities"), "add") if compute else None,
    )


def node(obj: Obj) -> v.Node:
    return v.Node(
        s(d(obj, "metadata"), "name"), strmap(d(obj, "metadata"), "labels"), d(obj, "spec").get("unschedulable") is True
    )


def event(obj: Obj) -> v.Event:
    involved = d(obj, "involvedObject")
    return v.Event(
        reason=s(obj, "reason"),
        type=s(obj, "type"),
        message=s(obj, "message"),
        count=integer(obj, "count", 1) or 1,
        last=s(obj, "lastTimestamp"),
        involved_kind=s(involved, "kind"),
        involved_namespace=s(involved, "namespace"),
        involved_name=s(involved, "name"),
        involved_uid=s(involved, "uid"),
    )


def vmi_devices(spec: Obj) -> v.VmiDevices:
    """DRA GPUs and host devices of a VMI spec, its claim sources, and its device-plugin entries."""
    entries: list[v.GpuEntry] = []
    plugin: dict[str, list[str]] = {"gpu": [], "hostDevice": []}
    devices = d(d(spec, "domain"), "devices")
    for kind, field_name in (("gpu", "gpus"), ("hostDevice", "hostDevices")):
        for i, dev in enumerate(dicts(devices, field_name)):
            if s(dev, "deviceName"):
                plugin[kind].append(s(dev, "name"))
            elif s(dev, "claimName") or s(dev, "requestName"):
                entries.append(v.GpuEntry(kind, s(dev, "name"), s(dev, "claimName"), s(dev, "requestName"), i))
    spec_entries, spec_claims = admission_inputs(spec)
    return v.VmiDevices(
        entries=tuple(entries),
        sources=tuple(
            v.ClaimSource(s(x, "name"), opt(x, "resourceClaimName"), opt(x, "resourceClaimTemplateName"))
            for x in dicts(spec, "resourceClaims")
        ),
        device_plugin_gpus=tuple(plugin["gpu"]),
        device_plugin_host_devices=tuple(plugin["hostDevice"]),
        spec_entries=spec_entries,
        spec_claims=spec_claims,
    )


def _status_devices(status: Obj) -> tuple[v.StatusDevice, ...]:
    out = []
    for kind, group in (("gpu", "gpuStatuses"), ("hostDevice", "hostDeviceStatuses")):
        for st in dicts(d(status, "deviceStatus"), group):
            attrs = d(d(st, "deviceResourceClaimStatus"), "attributes")
            out.append(v.StatusDevice(kind, s(st, "name"), opt(attrs, "pciAddress"), opt(attrs, "mDevUUID")))
    return tuple(out)


def vmi(obj: Obj) -> v.Vmi:
    status = d(obj, "status")
    return v.Vmi(
        meta=meta(obj, "VirtualMachineInstance"),
        phase=s(status, "phase"),
        node=opt(status, "nodeName"),
        devices=vmi_devices(d(obj, "spec")),
        device_status=_status_devices(status),
        active_pods=strmap(status, "activePods"),
        launcher_image=s(status, "launcherContainerImageVersion"),
        runtime_user=integer(status, "runtimeUser", -1) if "runtimeUser" in status else None,
    )


def vm(obj: Obj) -> v.Vm:
    spec, status = d(obj, "spec"), d(obj, "status")
    failure = next(
        (
            s(c, "message") or s(c, "reason")
            for c in dicts(status, "conditions")
            if s(c, "type") == "Failure" and s(c, "status") == "True"
        ),
        None,
    )
    return v.Vm(
        meta=meta(obj, "VirtualMachine"),
        devices=vmi_devices(d(d(spec, "template"), "spec")),
        run_strategy=s(spec, "runStrategy") or ("Always" if spec.get("running") is True else "Halted"),
        printable_status=s(status, "printableStatus"),
        failure=failure,
    )


def kubevirt(cr: Obj | None, vmis: list[v.Vmi]) -> v.KubeVirt:
    """The KubeVirt CR's gates and version; the version falls back to a launcher image tag."""
    dev = d(d(d(cr, "spec"), "configuration"), "developerConfiguration") if cr else {}
    version = parse_version(s(d(cr, "status"), "observedKubeVirtVersion")) if cr else None
    if version is None:
        for x in vmis:
            image = x.launcher_image
            tag = image.rpartition(":")[2] if ":" in image and "@" not in image else ""
            version = parse_version(tag) if tag.startswith("v") else None
            if version:
                break
    return v.KubeVirt(
        version=version,
        enabled_gates=strs(dev, "featureGates"),
        disabled_gates=strs(dev, "disabledFeatureGates"),
        meta=meta(cr, "KubeVirt") if cr else None,
    )
