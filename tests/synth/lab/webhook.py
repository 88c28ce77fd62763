"""KubeVirt's VMI admission webhook (virt-api), and what the VM controller records when it denies a VMI."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..ids import ts
from ..model import VM
from .objects import event
from .records import Obj

if TYPE_CHECKING:
    from . import Lab

_WEBHOOK = "virtualmachineinstances-create-validator.kubevirt.io"


def admission(lab: Lab, vm: VM) -> str:
    """The denial message of virtualmachineinstances-create-validator for the VM's VMI, or ''."""
    msgs = []
    field = "hostDevices" if vm.host_devices else "gpus"
    typ = "HostDevice" if vm.host_devices else "GPU"
    gate = "HostDevicesWithDRA" if vm.host_devices else "GPUsWithDRA"
    if vm.device_plugin_gpu and lab.kv >= (1, 8, 3) and not vm.host_devices:
        return (f"vmi.spec.domain.devices.{field} contains both DRA and non-DRA {typ}s; each {typ} must be "
                f"either DRA or non-DRA")
    if not lab.gate_on(gate):
        return f"vmi.spec.domain.devices.{field} contains DRA enabled {typ}s but feature gate is not enabled"
    if vm.duplicate_gpu:
        r = (vm.vmi_request_names or vm.request_names())[0]
        msgs.append(f"duplicate claimName/requestName pair \"{vm.pod_claim}/{r}\"")
    if not vm.declare_claim:
        msgs.append("vmi.spec.resourceClaims must specify all claims used in vmi.spec.domain.devices.gpus and "
                    "vmi.spec.domain.devices.hostDevices")
    return ", ".join(msgs)


def refused(lab: Lab, vm: VM, vm_obj: Obj, denial: str, t0: datetime) -> None:
    """The VM's Failure condition, startFailure back-off and FailedCreate events after a denial."""
    vm_status = vm_obj["status"]
    msg = f"Failure while starting VMI: admission webhook \"{_WEBHOOK}\" denied the request: {denial}"
    vm_status["printableStatus"] = "Starting"
    vm_status["conditions"] = [
        {"lastProbeTime": None, "lastTransitionTime": ts(t0), "message": "VMI does not exist",
         "reason": "VMINotExists", "status": "False", "type": "Ready"},
        {"lastProbeTime": None, "lastTransitionTime": ts(t0 + timedelta(seconds=1)), "message": msg,
         "reason": "FailedCreate", "status": "True", "type": "Failure"},
    ]
    vm_status["startFailure"] = {"consecutiveFailCount": 6, "lastFailedVMIUID": "",
                                 "retryAfterTimestamp": ts(lab.ids.at(minutes=120))}
    event(lab, vm_obj, "FailedCreate", "Error creating virtual machine instance: Failed to create virtual "
          f"machine instance {vm.name}: admission webhook \"{_WEBHOOK}\" denied the request: {denial}",
          t0 + timedelta(seconds=1), component="virtualmachine-controller", count=6, last=lab.ids.at(minutes=95))
