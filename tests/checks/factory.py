"""Healthy-default builders for check tests: every typed view of one working VMI -> claim -> device chain.

Each builder returns a healthy value; keyword arguments replace fields (`dataclasses.replace`), so a test
states only what it breaks. `ctx(...)` builds a real Index from raw objects made from the same views (the
Index only reads raw JSON), so index lookups (slices, allocations, events) agree with the chain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from kubectl_vmgpu import evidence as ev
from kubectl_vmgpu import metadatafile as mf
from kubectl_vmgpu import views as v
from kubectl_vmgpu.chain import Chain, Device, Evidence, VmiView
from kubectl_vmgpu.checks.base import Context, Hit
from kubectl_vmgpu.index import Index
from kubectl_vmgpu.model import ClusterFacts, Inventory, Obj, PodEvidence

NS = "vms"
VMI = "vm1"
VMI_UID = "vmi-uid"
NODE = "node1"
DRIVER = "gpu.nvidia.com"
CLASS = "vfio.gpu.nvidia.com"
POOL = "node1"
DEVICE = "gpu-0"
PCI = "0000:3b:00.0"
POD = "virt-launcher-vm1-abcde"
POD_UID = "pod-uid"
TEMPLATE = "gpu-tpl"
CLAIM_ENTRY = "gpu-claim"  # spec.resourceClaims[].name
REQUEST = "gpu"
CLAIM = f"{POD}-{CLAIM_ENTRY}-x7k2p"  # the generated claim
SLICE = "node1-gpu.nvidia.com-abcd"
GPU = "gpu1"
ALIAS = "ua-dra-gpu-" + GPU

# Every kind a check may ask `inv.knows(...)` about, listed in full by default.
ALL_KINDS = frozenset(
    {
        "Pod",
        "ResourceClaim",
        "ResourceClaimTemplate",
        "DeviceClass",
        "ResourceSlice",
        "Node",
        "Event",
        "KubeVirt",
        "VirtualMachineInstance",
        "VirtualMachine",
    }
)


def meta(kind: str, name: str, namespace: str = NS, **kw: Any) -> v.Meta:
    return v.Meta(kind=kind, namespace=namespace, name=name, **kw)


def gpu(**kw: Any) -> v.GpuEntry:
    return replace(v.GpuEntry("gpu", GPU, CLAIM_ENTRY, REQUEST), **kw)


def source(**kw: Any) -> v.ClaimSource:
    """A template-backed spec.resourceClaims entry (how KubeVirt VMs usually get GPUs)."""
    return replace(v.ClaimSource(CLAIM_ENTRY, None, TEMPLATE), **kw)


def request(**kw: Any) -> v.Request:
    return replace(v.Request(REQUEST, CLASS), **kw)


def spec(**kw: Any) -> v.ClaimSpec:
    return replace(v.ClaimSpec(requests=(request(),)), **kw)


def template(**kw: Any) -> v.Template:
    return replace(v.Template(meta("ResourceClaimTemplate", TEMPLATE), spec()), **kw)


def result(**kw: Any) -> v.Result:
    return replace(v.Result(REQUEST, DRIVER, POOL, DEVICE), **kw)


def claim(**kw: Any) -> v.Claim:
    """The claim generated for the launcher pod: allocated on NODE and reserved for the pod."""
    return replace(
        v.Claim(
            meta=meta(
                "ResourceClaim",
                CLAIM,
                uid="claim-uid",
                annotations={"resource.kubernetes.io/pod-claim-name": CLAIM_ENTRY},
                owners=(v.Owner("Pod", POD, POD_UID, True),),
            ),
            spec=spec(),
            allocated=True,
            results=(result(),),
            node=NODE,
            reserved_for=(v.Consumer("pods", POD, POD_UID),),
        ),
        **kw,
    )


def device_class(**kw: Any) -> v.DeviceClass:
    return replace(v.DeviceClass(CLASS, selectors=(f"device.driver == '{DRIVER}'",)), **kw)


def slice_device(name: str = DEVICE, pci: str | None = PCI, **kw: Any) -> v.SliceDevice:
    attrs = {"type": v.Attribute("string", "vfio"), "productName": v.Attribute("string", "NVIDIA A100")}
    if pci is not None:
        attrs[v.PCI_ATTR] = v.Attribute("string", pci)
    return replace(v.SliceDevice(name, attrs), **kw)


def resource_slice(**kw: Any) -> v.Slice:
    return replace(v.Slice(SLICE, DRIVER, POOL, 1, 1, NODE, False, (slice_device(),)), **kw)


def device(**kw: Any) -> Device:
    return replace(Device(resource_slice(), slice_device(), True), **kw)


def metadata_device(**kw: Any) -> mf.MetadataDevice:
    return replace(mf.MetadataDevice(DRIVER, POOL, DEVICE, PCI, None), **kw)


METADATA_DIR = f"/var/run/kubernetes.io/dra-device-attributes/resourceclaimtemplates/{CLAIM_ENTRY}/{REQUEST}"
METADATA_FILE = f"{METADATA_DIR}/{DRIVER}-metadata.json"


def hostdev(**kw: Any) -> ev.Hostdev:
    return replace(ev.Hostdev(ALIAS, "pci", PCI, None), **kw)


def evidence(**kw: Any) -> Evidence:
    """What a healthy running launcher shows: one metadata file, the vfio group, a matching hostdev."""
    md = mf.MetadataFile(METADATA_FILE, ("metadata.resource.k8s.io/v1alpha1",), {REQUEST: (metadata_device(),)})
    return replace(
        Evidence(
            metadata_dir=METADATA_DIR,
            metadata_files=(METADATA_FILE,),
            metadata=md,
            metadata_devices=(metadata_device(),),
            vfio=("42",),
            domain_name=f"{NS}_{VMI}",
            hostdev=hostdev(),
            hostdevs=(hostdev(),),
        ),
        **kw,
    )


def chain(**kw: Any) -> Chain:
    """One GPU linked all the way: source, template, generated claim, class, device, evidence."""
    return Chain(
        **{
            "gpu": gpu(),
            "source": source(),
            "template": template(),
            "claim": claim(),
            "claim_generated": True,
            "request": request(),
            "results": (result(),),
            "configs": (),
            "class_name": CLASS,
            "device_class": device_class(),
            "device": device(),
            "evidence": evidence(),
            **kw,
        }
    )


def pod(**kw: Any) -> v.LauncherPod:
    return replace(
        v.LauncherPod(
            meta=meta(
                "Pod",
                POD,
                uid=POD_UID,
                labels={"kubevirt.io": "virt-launcher"},
                created="2025-01-01T00:00:00Z",
                owners=(v.Owner("VirtualMachineInstance", VMI, VMI_UID, True),),
            ),
            phase="Running",
            node=NODE,
            compute_claims=((CLAIM_ENTRY, REQUEST),),
            claim_statuses={CLAIM_ENTRY: CLAIM},
            vmi_uid=VMI_UID,
        ),
        **kw,
    )


def devices(**kw: Any) -> v.VmiDevices:
    return replace(v.VmiDevices(entries=(gpu(),), sources=(source(),)), **kw)


def vmi(**kw: Any) -> v.Vmi:
    return replace(
        v.Vmi(
            meta("VirtualMachineInstance", VMI, uid=VMI_UID),
            "Running",
            NODE,
            devices(),
            launcher_image="quay.io/kubevirt/virt-launcher:v1.9.0",
        ),
        **kw,
    )


def vm(**kw: Any) -> v.Vm:
    return replace(v.Vm(meta("VirtualMachine", VMI, uid="vm-uid"), devices(), "Always", "Running"), **kw)


def kubevirt(version: v.Version | None = (1, 9, 0), **kw: Any) -> v.KubeVirt:
    return replace(v.KubeVirt(version, meta=meta("KubeVirt", "kubevirt", "kubevirt")), **kw)


def node(**kw: Any) -> v.Node:
    return replace(v.Node(NODE, {"kubernetes.io/hostname": NODE}), **kw)


def event(involved: v.Meta, reason: str, message: str, **kw: Any) -> v.Event:
    return replace(
        v.Event(
            reason,
            "Warning",
            message,
            1,
            "2025-01-01T00:01:00Z",
            involved.kind,
            involved.namespace,
            involved.name,
            involved.uid,
        ),
        **kw,
    )


def view(chains: Iterable[Chain] | None = None, **kw: Any) -> VmiView:
    """A running VMI with a VM, its launcher pod and its chains (default: one healthy chain)."""
    found = tuple(chains) if chains is not None else (chain(),)
    return VmiView(
        **{
            "namespace": NS,
            "name": VMI,
            "uid": VMI_UID,
            "phase": "Running",
            "node": NODE,
            "vmi": vmi(devices=devices(entries=tuple(c.gpu for c in found))),
            "vm": vm(),
            "devices": devices(entries=tuple(c.gpu for c in found)),
            "pod": pod(),
            "pod_evidence": PodEvidence(),
            "chains": found,
            "kubevirt": kubevirt(),
            **kw,
        }
    )


# --- typed views -> the raw objects the Index reads (only the fields build.py reads) ---


def _raw_meta(m: v.Meta) -> Obj:
    out: Obj = {
        "name": m.name,
        "uid": m.uid,
        "creationTimestamp": m.created,
        "labels": dict(m.labels),
        "annotations": dict(m.annotations),
        "finalizers": list(m.finalizers),
        "ownerReferences": [
            {"kind": o.kind, "name": o.name, "uid": o.uid, "controller": o.controller} for o in m.owners
        ],
    }
    if m.namespace:
        out["namespace"] = m.namespace
    if m.deleted:
        out["deletionTimestamp"] = m.deleted
    return out


def _raw_attr(a: v.Attribute) -> Obj:
    return {a.type: a.value}


def _raw_tol(t: v.Toleration) -> Obj:
    return {"key": t.key, "operator": t.operator, "value": t.value, "effect": t.effect}


def _raw_request(r: v.Request) -> Obj:
    if r.first_available:
        return {"name": r.name, "firstAvailable": [_raw_request(x) for x in r.first_available]}
    return {
        "name": r.name,
        "exactly": {
            "deviceClassName": r.device_class,
            "allocationMode": r.mode,
            "count": r.count,
            "selectors": [{"cel": {"expression": x}} for x in r.selectors],
            "tolerations": [_raw_tol(t) for t in r.tolerations],
        },
    }


def _raw_config(c: v.OpaqueConfig) -> Obj:
    return {
        "source": c.source,
        "requests": list(c.requests),
        "opaque": {"driver": c.driver, "parameters": dict(c.parameters)},
    }


def _raw_spec(s: v.ClaimSpec) -> Obj:
    return {
        "devices": {"requests": [_raw_request(r) for r in s.requests], "config": [_raw_config(c) for c in s.configs]}
    }


def raw(view_obj: object) -> tuple[str, Obj]:
    """(kind, raw object) for a Slice, Claim, Template, DeviceClass, LauncherPod, Node, Event or KubeVirt view."""
    if isinstance(view_obj, v.Slice):
        devs = [
            {
                "name": dv.name,
                "attributes": {k: _raw_attr(a) for k, a in dv.attributes.items()},
                "capacity": {k: {"value": x} for k, x in dv.capacity.items()},
                "taints": [{"key": t.key, "value": t.value, "effect": t.effect} for t in dv.taints],
            }
            for dv in view_obj.devices
        ]
        spec_: Obj = {
            "driver": view_obj.driver,
            "devices": devs,
            "pool": {
                "name": view_obj.pool,
                "generation": view_obj.generation,
                "resourceSliceCount": view_obj.slice_count,
            },
        }
        if view_obj.node:
            spec_["nodeName"] = view_obj.node
        if view_obj.all_nodes:
            spec_["allNodes"] = True
        return "ResourceSlice", {"metadata": {"name": view_obj.name}, "spec": spec_}
    if isinstance(view_obj, v.Claim):
        status: Obj = {
            "reservedFor": [{"resource": c.resource, "name": c.name, "uid": c.uid} for c in view_obj.reserved_for]
        }
        if view_obj.allocated:
            alloc: Obj = {
                "devices": {
                    "results": [
                        {
                            "request": r.request,
                            "driver": r.driver,
                            "pool": r.pool,
                            "device": r.device,
                            "tolerations": [_raw_tol(t) for t in r.tolerations],
                        }
                        for r in view_obj.results
                    ],
                    "config": [_raw_config(c) for c in view_obj.allocation_configs],
                }
            }
            if view_obj.node:
                alloc["nodeSelector"] = {
                    "nodeSelectorTerms": [
                        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [view_obj.node]}]}
                    ]
                }
            status["allocation"] = alloc
        return "ResourceClaim", {
            "metadata": _raw_meta(view_obj.meta),
            "spec": _raw_spec(view_obj.spec),
            "status": status,
        }
    if isinstance(view_obj, v.Template):
        return "ResourceClaimTemplate", {
            "metadata": _raw_meta(view_obj.meta),
            "spec": {"spec": _raw_spec(view_obj.spec)},
        }
    if isinstance(view_obj, v.DeviceClass):
        return "DeviceClass", {
            "metadata": {"name": view_obj.name},
            "spec": {
                "selectors": [{"cel": {"expression": x}} for x in view_obj.selectors],
                "config": [_raw_config(c) for c in view_obj.configs],
            },
        }
    if isinstance(view_obj, v.LauncherPod):
        p = view_obj
        return "Pod", {
            "metadata": _raw_meta(p.meta),
            "spec": {
                **({"nodeName": p.node} if p.node else {}),
                "nodeSelector": dict(p.node_selector),
                "containers": [
                    {
                        "name": "compute",
                        "resources": {
                            "claims": [{"name": n, **({"request": r} if r else {})} for n, r in p.compute_claims]
                        },
                    }
                ],
            },
            "status": {
                "phase": p.phase,
                "resourceClaimStatuses": [{"name": k, "resourceClaimName": x} for k, x in p.claim_statuses.items()],
            },
        }
    if isinstance(view_obj, v.Node):
        return "Node", {
            "metadata": {"name": view_obj.name, "labels": dict(view_obj.labels)},
            "spec": {"unschedulable": view_obj.unschedulable},
        }
    if isinstance(view_obj, v.Event):
        e = view_obj
        return "Event", {
            "reason": e.reason,
            "type": e.type,
            "message": e.message,
            "count": e.count,
            "lastTimestamp": e.last,
            "involvedObject": {
                "kind": e.involved_kind,
                "namespace": e.involved_namespace,
                "name": e.involved_name,
                "uid": e.involved_uid,
            },
        }
    if isinstance(view_obj, v.KubeVirt):
        kv = view_obj
        m = kv.meta or meta("KubeVirt", "kubevirt", "kubevirt")
        return "KubeVirt", {
            "metadata": _raw_meta(m),
            "spec": {
                "configuration": {
                    "developerConfiguration": {
                        "featureGates": list(kv.enabled_gates),
                        "disabledFeatureGates": list(kv.disabled_gates),
                    }
                }
            },
            "status": {"observedKubeVirtVersion": kv.label if kv.version else ""},
        }
    raise TypeError(f"no raw form for {type(view_obj).__name__}")


def healthy_objects() -> list[object]:
    """The cluster objects behind `view()`: its slice, claim, template, class, pod, node and KubeVirt CR."""
    return [resource_slice(), claim(), template(), device_class(), pod(), node(), kubevirt()]


def inventory(
    objects: Iterable[object] | None = None,
    *,
    listed: Iterable[str] = ALL_KINDS,
    cluster: ClusterFacts | None = None,
    resource_versions: Mapping[str, set[str]] | None = None,
    evidence_: Mapping[tuple[str, str], PodEvidence] | None = None,
) -> Inventory:
    """An Inventory of the given views (default: `healthy_objects()`), converted to raw objects."""
    inv = Inventory(
        listed=set(listed),
        cluster=cluster or ClusterFacts(),
        resource_versions=dict(resource_versions or {}),
        evidence=dict(evidence_ or {}),
    )
    for obj in healthy_objects() if objects is None else objects:
        kind, body = raw(obj)
        inv.objects.setdefault(kind, []).append(body)
    return inv


def ctx(
    objects: Iterable[object] | None = None,
    *,
    extra: Iterable[object] = (),
    exec_disabled: bool = False,
    explanations: Mapping[tuple[str, str, str], Any] | None = None,
    **inv_kw: Any,
) -> Context:
    """A Context over a real Index: `objects` replaces the healthy cluster, `extra` adds to it."""
    objs = [*(healthy_objects() if objects is None else objects), *extra]
    return Context(Index(inventory(objs, **inv_kw)), exec_disabled=exec_disabled, explanations=dict(explanations or {}))


def hits(run: Any, *args: Any) -> list[Hit]:
    """Run a check function (VmiRun or ClusterRun) and list its hits."""
    return list(run(*args))


def messages(found: Iterable[Hit]) -> list[str]:
    return [h.message for h in found]


# --- appended for the vmi/launcher check tests ---


def vfio_config(
    policy: object = "LegacyOnly", api_device: object = True, requests: tuple[str, ...] = (REQUEST,), **kw: Any
) -> v.OpaqueConfig:
    """A VfioDeviceConfig for REQUEST, read by `build.config` from its raw form (so VfioConfig is what the
    driver's decoding sees); `kw` adds raw `parameters` fields, `driver=`/`source=` set the opaque driver/source."""
    from kubectl_vmgpu import build

    driver = kw.pop("driver", DRIVER)
    source_ = kw.pop("source", "FromClaim")
    params = {
        "apiVersion": "resource.nvidia.com/v1beta1",
        "kind": "VfioDeviceConfig",
        "iommu": {"backendPolicy": policy, "enableAPIDevice": api_device},
        **kw,
    }
    raw_cfg = {"source": source_, "requests": list(requests), "opaque": {"driver": driver, "parameters": params}}
    return build.config(raw_cfg, "FromClaim")


def vfio_chain(**kw: Any) -> Chain:
    """`chain()` made whole for VFIO: a VfioDeviceConfig with enableAPIDevice and /dev/vfio/vfio in the container."""
    return chain(**{"configs": (vfio_config(),), "evidence": evidence(vfio=("42", "vfio")), **kw})
