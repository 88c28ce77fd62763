"""One VM through the components, in the order a cluster runs them; each step may stop the chain."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..ids import generate_name
from ..model import VM
from . import claims, collect, kubelet, kubevirt, launcher, launcherpod, scheduler, webhook
from .objects import event
from .records import Chain, Device, Obj

if TYPE_CHECKING:
    from . import Lab


def run_vm(lab: Lab, vm: VM) -> Chain:
    """The user's objects, admission, the VMI, the launcher pod and everything that happens to it."""
    ch = Chain(vm)
    t0 = lab.ids.at(minutes=vm.minutes or 0.0)
    if vm.claim == "template" and vm.create_template:
        claims.template(lab, vm, t0 - timedelta(minutes=1))
    vm_obj = kubevirt.vm_object(lab, vm, t0)
    direct = claims.direct_claim(lab, vm, t0)
    if vm.run_strategy == "Halted":
        kubevirt.halted(vm_obj, t0)
        return ch
    denial = webhook.admission(lab, vm)
    if denial:
        ch.refused = denial
        webhook.refused(lab, vm, vm_obj, denial, t0)
        return ch
    vmi = kubevirt.vmi_object(lab, vm, vm_obj, t0)
    tp = t0 + timedelta(seconds=4)
    pod_base = generate_name(f"virt-launcher-{vm.name}-")
    pod_name = pod_base + lab.ids.suffix()
    if kubevirt.pod_refused(lab, ch, vmi, vm_obj, pod_name, t0, tp):
        return ch
    ch.pod_name = pod_name
    pod = launcherpod.render(lab, ch, vmi, pod_base, tp)
    ch.pod_uid = pod["metadata"]["uid"]
    event(lab, vmi, "SuccessfulCreate", f"Created virtual machine pod {pod_name}", tp, type_="Normal",
          component="virtualmachine-controller")
    claim = _place(lab, ch, pod, direct, t0, tp)
    if ch.pod_state == "creating":
        scheduler.scheduled(lab, ch, pod, tp)
        kubelet.prepare(lab, ch, pod, tp)
    kubelet.pod_status(lab, ch, pod, tp)
    if ch.pod_state == "running":
        launcher.start(lab, ch, vmi, tp)
    else:
        ch.vmi_phase = "Scheduling"
        ch.domain = "none"
    kubevirt.vmi_status(lab, ch, vmi, vm_obj, t0)
    collect.evidence(lab, ch, pod, claim, tp)
    return ch


def _place(lab: Lab, ch: Chain, pod: Obj, direct: Obj | None, t0: datetime, tp: datetime) -> Obj | None:
    """The claim behind the pod (resourceclaim controller), its allocation (scheduler), the claim's status."""
    vm = ch.vm
    if vm.claim == "template":
        pending = claims.generate_for_pod(lab, vm, ch, pod, tp)
    else:
        pending = scheduler.claim_missing(lab, vm, ch, pod, tp)
    results: list[tuple[str, Device]] = []
    if not ch.pod_state:
        results, pending = scheduler.allocate(lab, vm, vm.node)
        if pending:
            ch.pod_state = "unschedulable"
    claims.name_claim(lab, vm, ch)
    alloc_node = scheduler.bind(lab, vm, ch, results)
    claim = claims.record(lab, vm, ch, pod, direct, results, alloc_node, t0, tp)
    scheduler.report_unschedulable(lab, ch, pod, pending, tp)
    ch.pending_reason = pending
    if "stale-claim" in vm.faults:
        claims.stale(lab, vm, t0)
    return claim
