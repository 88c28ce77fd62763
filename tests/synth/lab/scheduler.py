"""kube-scheduler: NodeAffinity, then the DynamicResources allocator, binding, and its FailedScheduling messages."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .. import rules
from ..model import DRIVER, VM
from .cluster import node_labels
from .driver import class_selector, device_class_types
from .launcherpod import pod_node_selector
from .objects import sched_event
from .records import Chain, Device, Obj
from .slices import after_allocation

if TYPE_CHECKING:
    from . import Lab


def claim_missing(lab: Lab, vm: VM, ch: Chain, pod: Obj, tp: datetime) -> str:
    """A direct claim that does not exist: the scheduler's PreFilter fails on it."""
    if vm.create_claim:
        return ""
    k = len(lab.nodes)
    ch.pod_state = "unschedulable"
    pending = (f"0/{k} nodes are available: could not find ResourceClaim \"{vm.namespace}/{vm.direct_claim()}\". "
               f"preemption: 0/{k} nodes are available: {k} Preemption is not helpful for scheduling.")
    sched_event(lab, pod, "FailedScheduling", pending, tp, count=17, last=lab.ids.at(minutes=92))
    return pending


def allocate(lab: Lab, vm: VM, prefer: str | None) -> tuple[list[tuple[str, Device]], str]:
    """Pick devices like the scheduler's allocator; returns (results, failure message)."""
    classes = device_class_types(lab)
    if vm.device_class not in classes:
        r = vm.request_names()[0]
        k = len(lab.nodes)
        return [], (f"0/{k} nodes are available: request {r}: device class {vm.device_class} does not exist. "
                    f"preemption: 0/{k} nodes are available: {k} Preemption is not helpful for scheduling.")
    # Filter: NodeAffinity (the pod's nodeSelector) runs before DynamicResources; a node it rejects never
    # reaches the allocator.
    selector = pod_node_selector(vm)
    excluded = [n for n in lab.nodes if any(node_labels(lab, n).get(k) != v for k, v in selector.items())]
    nodes = [n for n in lab.nodes if n.publish and n not in excluded]
    if prefer:
        nodes.sort(key=lambda n: n.name != prefer)
    total = len(lab.nodes)
    class_cel = class_selector(classes[vm.device_class])
    for n in nodes:
        free = [d for (node, _), d in lab.devices.items() if node == n.name and _selectable(lab, vm, d, class_cel)]
        picked = _pick(vm, free)
        if picked is None:
            continue
        results: list[tuple[str, Device]] = []
        for i, r in enumerate(vm.request_names()):
            chunk = picked if vm.all_mode else picked[i * vm.count:(i + 1) * vm.count]
            for d in chunk:
                results.append((f"{r}/h100" if vm.first_available else r, d))
        return results, ""
    return [], _unschedulable(lab, total, {"node(s) didn't match Pod's node affinity/selector": len(excluded),
                                           "cannot allocate all claims": total - len(excluded)})


def _pick(vm: VM, free: list[Device]) -> list[Device] | None:
    """The devices of one node the allocator takes for the VM's requests, or None if they do not fit."""
    need = vm.count * len(vm.request_names()) if not vm.all_mode else len(free)
    if vm.same_numa and len(vm.request_names()) > 1:
        for numa in sorted({d.slot.numa for d in free}):
            group = [d for d in free if d.slot.numa == numa]
            if len(group) >= need:
                free = group
                break
        else:
            return None
    if need == 0 or len(free) < need:
        return None
    return free[:need]


def _selectable(lab: Lab, vm: VM, d: Device, class_cel: str) -> bool:
    """Can the allocator hand this device to the VM's requests?"""
    if not d.published or (d.node, d.name) in lab.taken:
        return False
    if not all(rules.matches(e, d.attrs, DRIVER) for e in (class_cel, *vm.selectors)):
        return False  # the class's selectors, then the request's
    if any(t.get("effect") in ("NoSchedule", "NoExecute") and not rules.tolerates(t, tuple(vm.tolerations))
           for t in d.taints):
        return False
    # a prepared twin (gpu-<n> / gpu-vfio-<n>) makes the other one unusable
    return not _twin_busy(lab, d)


def _twin_busy(lab: Lab, d: Device) -> bool:
    if d.kind == "gpu":
        twin = (d.node, f"gpu-vfio-{d.index}")
    elif d.kind == "vfio":
        twin = (d.node, f"gpu-{d.index}")
    else:
        return False
    return twin in lab.taken and twin not in lab.racing


def _unschedulable(lab: Lab, total: int, reasons: dict[str, int]) -> str:
    """FitError.Error(): `0/N nodes are available: <count reason>, ... (sorted).` then the PostFilter message.

    Both reasons here are UnschedulableAndUnresolvable, so preemption finds no node where it might help."""
    hist = ", ".join(sorted(f"{v} {k}" for k, v in reasons.items() if v))
    post = "still not schedulable, " if lab.postfilter_message else ""
    return (f"0/{total} nodes are available: {hist}. {post}preemption: 0/{total} nodes are available: {total} "
            f"Preemption is not helpful for scheduling.")


def bind(lab: Lab, vm: VM, ch: Chain, results: list[tuple[str, Device]]) -> str:
    """Reserve the devices and put the pod on their node; returns the node the claim is allocated on."""
    if not results:
        return ""
    node = results[0][1].node
    if "wrong-node" in vm.faults:
        others = [n.name for n in lab.nodes if n.name != node]
        node, alloc_node = (others[0] if others else node), node
    else:
        alloc_node = node
    for r, d in results:
        lab.taken[(d.node, d.name)] = f"{vm.namespace}/{vm.name}"
        ch.devices.append((r, d))
        after_allocation(lab, vm, d)
    ch.node = node
    ch.pod_state = "creating"
    return alloc_node


def report_unschedulable(lab: Lab, ch: Chain, pod: Obj, pending: str, tp: datetime) -> None:
    """The FailedScheduling event of an allocation that failed (claim-creation failures are not the scheduler's)."""
    if ch.pod_state == "unschedulable" and pending and not pending.startswith("PodResourceClaim") and \
            "could not find" not in pending:
        sched_event(lab, pod, "FailedScheduling", pending, tp + timedelta(seconds=2), count=23,
                    last=lab.ids.at(minutes=94))


def scheduled(lab: Lab, ch: Chain, pod: Obj, tp: datetime) -> None:
    sched_event(lab, pod, "Scheduled", f"Successfully assigned {ch.vm.namespace}/{ch.pod_name} to {ch.node}",
                tp + timedelta(seconds=3), type_="Normal")
