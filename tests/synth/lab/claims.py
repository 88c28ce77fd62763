"""ResourceClaims and their templates: the specs users write, and the resourceclaim controller that creates them."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..ids import claim_generate_name, generate_name, ts, uid
from ..model import DRIVER, VM
from .driver import vfio_params
from .objects import event, meta, ref
from .records import Chain, Device, Obj

if TYPE_CHECKING:
    from . import Lab


def _request_spec(lab: Lab, vm: VM, rname: str) -> Obj:
    exactly: Obj = {"allocationMode": "All" if vm.all_mode else "ExactCount", "deviceClassName": vm.device_class}
    if not vm.all_mode:
        exactly["count"] = vm.count
    if vm.selectors:
        exactly["selectors"] = [{"cel": {"expression": e}} for e in vm.selectors]
    if vm.tolerations:
        exactly["tolerations"] = copy.deepcopy(vm.tolerations)
    if vm.first_available:
        subs = [
            {"allocationMode": "ExactCount", "count": 1, "deviceClassName": vm.device_class, "name": "h100",
             "selectors": [{"cel": {"expression": f"device.attributes['{DRIVER}'].productName == "
                                                  "'GH100 [H100 SXM5 80GB]'"}}]},
            {"allocationMode": "ExactCount", "count": 1, "deviceClassName": vm.device_class, "name": "any"},
        ]
        return {"firstAvailable": subs, "name": rname}
    if lab.resource_api == "v1beta1":
        return {"name": rname, **exactly}
    return {"exactly": exactly, "name": rname}


def claim_spec(lab: Lab, vm: VM) -> Obj:
    names = vm.request_names()
    devices: Obj = {"requests": [_request_spec(lab, vm, r) for r in names]}
    if vm.vfio is not None and vm.config_source == "claim":
        devices["config"] = [{"opaque": {"driver": DRIVER, "parameters": vfio_params(vm)}, "requests": list(names)}]
    if vm.same_numa and len(names) > 1:
        devices["constraints"] = [{"matchAttribute": "resource.kubernetes.io/numaNode", "requests": list(names)}]
    return {"devices": devices}


def template(lab: Lab, vm: VM, when: datetime) -> None:
    """The user's ResourceClaimTemplate, applied with kubectl (once per namespace and name)."""
    obj: Obj = {
        "apiVersion": lab.res_api(),
        "kind": "ResourceClaimTemplate",
        "metadata": meta("ResourceClaimTemplate", vm.template, when, vm.namespace, generation=1,
                         annotations={"kubectl.kubernetes.io/last-applied-configuration": ""}),
        "spec": {"metadata": {"labels": {"app.kubernetes.io/part-of": "gpu-vms"}}, "spec": claim_spec(lab, vm)},
    }
    last = {"apiVersion": obj["apiVersion"], "kind": obj["kind"],
            "metadata": {"annotations": {}, "name": vm.template, "namespace": vm.namespace},
            "spec": obj["spec"]}
    obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = (
        json.dumps(last, separators=(",", ":"), sort_keys=True) + "\n"
    )
    if not any(o["kind"] == "ResourceClaimTemplate" and o["metadata"]["name"] == vm.template
               and o["metadata"].get("namespace") == vm.namespace for _, o in lab.objects):
        lab.emit(when, obj)


def claim_obj(
    lab: Lab,
    vm: VM,
    name: str,
    when: datetime,
    *,
    pod: Obj | None,
    pod_claim: str | None,
    results: list[tuple[str, Device]],
    node: str,
    reserved: list[Obj],
    generate: str | None = None,
) -> Obj:
    """A ResourceClaim of the VM's spec; with results, allocated on `node` (config copied from claim or class)."""
    m = meta(
        "ResourceClaim", name, when, vm.namespace,
        annotations={"resource.kubernetes.io/pod-claim-name": pod_claim} if pod_claim else None,
        owner=ref(pod) if pod is not None and pod_claim else None,
        finalizers=["resource.kubernetes.io/delete-protection"] if results else None,
        generation=1, generate=generate, labels={"app.kubernetes.io/part-of": "gpu-vms"},
    )
    obj: Obj = {"apiVersion": lab.res_api(), "kind": "ResourceClaim", "metadata": m, "spec": claim_spec(lab, vm)}
    if results:
        res = [{"device": d.name, "driver": DRIVER, "pool": d.node, "request": r} for r, d in results]
        alloc: Obj = {"devices": {"results": res}}
        if vm.vfio is not None:
            alloc["devices"]["config"] = [{
                "opaque": {"driver": DRIVER, "parameters": vfio_params(vm)},
                "requests": vm.request_names(),
                "source": "FromClaim" if vm.config_source == "claim" else "FromClass",
            }]
        alloc["nodeSelector"] = {"nodeSelectorTerms": [{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": [node]}]}]}
        status: Obj = {"allocation": alloc}
        if reserved:
            status["reservedFor"] = reserved
        obj["status"] = status
    return obj


def direct_claim(lab: Lab, vm: VM, t0: datetime) -> Obj | None:
    """The claim a user created by name for the VM (not yet allocated), if the VM uses one and it exists."""
    if vm.claim != "direct" or not vm.create_claim:
        return None
    claim = claim_obj(lab, vm, vm.direct_claim(), t0 - timedelta(minutes=1), pod=None, pod_claim=None, results=[],
                      node="", reserved=[])
    return lab.emit(t0 - timedelta(minutes=1), claim)


def generate_for_pod(lab: Lab, vm: VM, ch: Chain, pod: Obj, tp: datetime) -> str:
    """kube-controller-manager's resourceclaim controller on a template claim: why it created nothing, or ''."""
    if not vm.create_template:
        ch.pod_state = "unschedulable"
        pending = (f"PodResourceClaim {vm.pod_claim}: resource claim template \"{vm.template}\": "
                   f"resourceclaimtemplate.resource.k8s.io \"{vm.template}\" not found")
        event(lab, pod, "FailedResourceClaimCreation", pending, tp, component="resource_claim",
              count=9, last=lab.ids.at(minutes=90))
        return pending
    if "claim-quota" in vm.faults:
        ch.pod_state = "unschedulable"
        gen = claim_generate_name(ch.pod_name, vm.pod_claim)
        pending = (f"PodResourceClaim {vm.pod_claim}: create ResourceClaim : resourceclaims.resource.k8s.io "
                   f"\"{gen}\" is forbidden: exceeded quota: gpu-claims, requested: "
                   f"count/resourceclaims.resource.k8s.io=1, used: count/resourceclaims.resource.k8s.io=4, "
                   f"limited: count/resourceclaims.resource.k8s.io=4")
        event(lab, pod, "FailedResourceClaimCreation", pending, tp, component="resource_claim",
              count=11, last=lab.ids.at(minutes=90))
        return pending
    return ""


def name_claim(lab: Lab, vm: VM, ch: Chain) -> None:
    """The claim behind the pod: generated `<pod>-<pod claim>-<suffix>`, or the user's by name."""
    if vm.claim == "template" and vm.create_template and "claim-quota" not in vm.faults:
        ch.claim_name = claim_generate_name(ch.pod_name, vm.pod_claim) + lab.ids.suffix()
    elif vm.claim == "direct":
        ch.claim_name = vm.direct_claim()


def record(lab: Lab, vm: VM, ch: Chain, pod: Obj, direct: Obj | None, results: list[tuple[str, Device]],
           alloc_node: str, t0: datetime, tp: datetime) -> Obj | None:
    """The claim as it stands after scheduling: created (template) or updated (direct) with the allocation."""
    if not ch.claim_name:
        return None
    claim: Obj | None = None
    reserved = []
    if results and "not-reserved" not in vm.faults:
        reserved = [{"name": ch.pod_name, "resource": "pods", "uid": ch.pod_uid}]
    if vm.claim == "template":
        claim = claim_obj(lab, vm, ch.claim_name, tp + timedelta(seconds=1), pod=pod, pod_claim=vm.pod_claim,
                          results=results, node=alloc_node, reserved=reserved,
                          generate=claim_generate_name(ch.pod_name, vm.pod_claim))
        lab.emit(tp + timedelta(seconds=2), claim)
    elif direct is not None:
        claim = direct
        upd = claim_obj(lab, vm, ch.claim_name, t0, pod=None, pod_claim=None, results=results, node=alloc_node,
                        reserved=reserved)
        if "status" in upd:
            claim["status"] = upd["status"]
            claim["metadata"]["finalizers"] = ["resource.kubernetes.io/delete-protection"]
            lab.objects = [(tp + timedelta(seconds=2) if o is claim else w, o) for w, o in lab.objects]
    if claim is not None:
        ch.claim_uid = claim["metadata"]["uid"]
        if "deleting" in vm.faults:
            claim["metadata"]["deletionTimestamp"] = ts(lab.ids.at(minutes=88))
            claim["metadata"]["deletionGracePeriodSeconds"] = 0
    return claim


def stale(lab: Lab, vm: VM, t0: datetime) -> None:
    """The generated claim of a launcher pod that was force-deleted: owner gone, still holding a GPU."""
    old_pod = generate_name(f"virt-launcher-{vm.name}-") + lab.ids.suffix()
    old_uid = uid("Pod", vm.namespace, old_pod)
    free = [d for (node, _), d in lab.devices.items() if d.kind == "vfio" and (node, d.name) not in lab.taken
            and d.published]
    if not free:
        return
    d = free[0]
    lab.taken[(d.node, d.name)] = "stale"
    gen = claim_generate_name(old_pod, vm.pod_claim)
    name = gen + lab.ids.suffix()
    when = t0 - timedelta(hours=26)
    claim = claim_obj(lab, vm, name, when, pod=None, pod_claim=vm.pod_claim, results=[(vm.request_names()[0], d)],
                      node=d.node, reserved=[{"name": old_pod, "resource": "pods", "uid": old_uid}], generate=gen)
    claim["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "blockOwnerDeletion": True, "controller": True,
                                             "kind": "Pod", "name": old_pod, "uid": old_uid}]
    lab.emit(when + timedelta(seconds=3), claim)
