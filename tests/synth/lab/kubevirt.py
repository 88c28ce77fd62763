"""virt-controller: the VirtualMachine, the VMI it starts, launcher pod creation failures, and both statuses."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..ids import micro, ts
from ..model import VM
from . import vmspec
from .objects import event, meta, ref
from .records import Chain, Obj

if TYPE_CHECKING:
    from . import Lab

_OBSERVED = {"kubevirt.io/latest-observed-api-version": "v1", "kubevirt.io/storage-observed-api-version": "v1"}


def vm_object(lab: Lab, vm: VM, t0: datetime) -> Obj:
    """The VirtualMachine as applied, with the status virt-controller gives it before any VMI."""
    labels = {"kubevirt.io/vm": vm.name, **vm.labels}
    vm_obj: Obj = {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": meta(
            "VirtualMachine", vm.name, t0, vm.namespace, annotations=dict(_OBSERVED),
            finalizers=["kubevirt.io/virtualMachineControllerFinalize"], generation=1,
            labels={"app.kubernetes.io/part-of": "gpu-vms"},
        ),
        "spec": {
            "runStrategy": vm.run_strategy,
            "template": {"metadata": {"creationTimestamp": None, "labels": labels},
                         "spec": vmspec.spec(vm, defaults=False)},
        },
    }
    vm_obj["status"] = {"desiredGeneration": 1, "observedGeneration": 1, "runStrategy": vm.run_strategy,
                        "volumeSnapshotStatuses": [
                            {"enabled": False, "name": "rootdisk",
                             "reason": "Snapshot is not supported for this volumeSource type [rootdisk]"},
                            {"enabled": False, "name": "cloudinitdisk",
                             "reason": "Snapshot is not supported for this volumeSource type [cloudinitdisk]"}]}
    return lab.emit(t0 + timedelta(seconds=2), vm_obj)


def halted(vm_obj: Obj, t0: datetime) -> None:
    vm_obj["status"]["printableStatus"] = "Stopped"
    vm_obj["status"]["conditions"] = [{"lastProbeTime": None, "lastTransitionTime": ts(t0), "message":
                                       "VMI does not exist", "reason": "VMINotExists", "status": "False",
                                       "type": "Ready"}]


def vmi_object(lab: Lab, vm: VM, vm_obj: Obj, t0: datetime) -> Obj:
    """The VMI virt-controller creates for the VM (admitted), and the VM's SuccessfulCreate event."""
    vmi: Obj = {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": meta(
            "VirtualMachineInstance", vm.name, t0 + timedelta(seconds=3), vm.namespace,
            labels={"kubevirt.io/vm": vm.name, **vm.labels},
            annotations={**_OBSERVED, "kubevirt.io/vm-generation": "1"},
            owner=ref(vm_obj), finalizers=["kubevirt.io/virtualMachineControllerFinalize",
                                           "foregroundDeleteVirtualMachine"], generation=8,
        ),
        "spec": vmspec.spec(vm, defaults=True),
    }
    vmi["status"] = {"guestOSInfo": {}, "qosClass": "Burstable", "runtimeUser": 107,
                     "virtualMachineRevisionName": f"revision-start-vm-{vm_obj['metadata']['uid']}-1"}
    lab.emit(t0 + timedelta(minutes=2), vmi)
    event(lab, vm_obj, "SuccessfulCreate", f"Started the virtual machine by creating the new virtual machine "
          f"instance {vm.name}", t0 + timedelta(seconds=3), type_="Normal", component="virtualmachine-controller")
    return vmi


def pod_refused(lab: Lab, ch: Chain, vmi: Obj, vm_obj: Obj, pod_name: str, t0: datetime, tp: datetime) -> bool:
    """The apiserver refuses the launcher pod (quota, or an invalid spec.resourceClaims): VMI stays Pending."""
    vm = ch.vm
    if "pod-quota" in vm.faults:
        message = (f"Error creating pod: pods \"{pod_name}\" is forbidden: exceeded quota: compute-resources, "
                   f"requested: requests.memory=33822Mi, used: requests.memory=194Gi, limited: requests.memory=200Gi")
    elif vm.claim_source == "both" or (vm.claim_source == "neither" and vm.declare_claim):
        rc = vmspec.resource_claims(vm)[0]
        detail = ("at most one of `resourceClaimName` or `resourceClaimTemplateName` may be specified"
                  if vm.claim_source == "both" else
                  "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`")
        message = (f"Error creating pod: Pod \"{pod_name}\" is invalid: spec.resourceClaims[0]: Invalid value: "
                   f"{json.dumps(rc, separators=(',', ':'))}: {detail}")
    else:
        return False
    ch.vmi_phase = "Pending"
    vmi_status(lab, ch, vmi, vm_obj, t0)
    event(lab, vmi, "FailedCreate", message, tp, component="virtualmachine-controller", count=14,
          last=lab.ids.at(minutes=95))
    return True


def vmi_status(lab: Lab, ch: Chain, vmi: Obj, vm_obj: Obj, t0: datetime) -> None:
    """The VMI's and the VM's status for the phase the chain reached."""
    st = vmi["status"]
    phase = ch.vmi_phase or "Pending"
    st["phase"] = phase
    trans = [{"phase": "Pending", "phaseTransitionTimestamp": micro(t0 + timedelta(seconds=3))}]
    if phase in ("Scheduling", "Scheduled", "Running"):
        trans.append({"phase": "Scheduling", "phaseTransitionTimestamp": micro(t0 + timedelta(seconds=4))})
    if phase in ("Scheduled", "Running"):
        trans.append({"phase": "Scheduled", "phaseTransitionTimestamp": micro(t0 + timedelta(seconds=26))})
    if phase == "Running":
        trans.append({"phase": "Running", "phaseTransitionTimestamp": micro(t0 + timedelta(seconds=30))})
    st["phaseTransitionTimestamps"] = trans
    conds = _conditions(ch, phase, vm_obj["status"], t0)
    st["conditions"] = conds
    if ch.pod_name and ch.pod_state in ("creating", "running"):
        st["activePods"] = {ch.pod_uid: ch.node}
        vmi["metadata"]["labels"]["kubevirt.io/nodeName"] = ch.node
    if phase in ("Scheduled", "Running"):
        _placed(lab, ch, st)
    if phase == "Running":
        _running(lab, ch, st)
    # v1.6 / v1.7: virt-controller fills deviceStatus from the allocation and the slice.
    if lab.kv < (1, 8) and ch.devices and phase in ("Scheduled", "Running", "Scheduling"):
        _device_status(lab, ch, st)


def _conditions(ch: Chain, phase: str, vm_status: Obj, t0: datetime) -> list[Obj]:
    """The VMI's conditions; the VM's printableStatus, ready flags and the conditions it mirrors."""
    conds: list[Obj] = []
    if phase == "Running":
        conds.append({"lastProbeTime": None, "lastTransitionTime": ts(t0 + timedelta(seconds=30)), "status": "True",
                      "type": "Ready"})
        conds.append({"lastProbeTime": None, "lastTransitionTime": None, "message": "VMI uses a PCI host devices",
                      "reason": "HostDeviceNotLiveMigratable", "status": "False", "type": "LiveMigratable"})
        conds.append({"lastProbeTime": None, "lastTransitionTime": None, "status": "True",
                      "type": "StorageLiveMigratable"})
        vm_status["printableStatus"] = "Running"
        vm_status["ready"] = True
        vm_status["created"] = True
    else:
        if ch.pod_state == "unschedulable" and not ch.pending_reason.startswith("PodResourceClaim"):
            conds.append({"lastProbeTime": None, "lastTransitionTime": ts(t0 + timedelta(seconds=7)),
                          "message": ch.pending_reason, "reason": "Unschedulable", "status": "False",
                          "type": "PodScheduled"})
            vm_status["printableStatus"] = "ErrorUnschedulable"
        else:
            vm_status["printableStatus"] = "Starting"
        conds.append({"lastProbeTime": None, "lastTransitionTime": ts(t0 + timedelta(seconds=4)),
                      "message": "Guest VM is not reported as running", "reason": "GuestNotRunning",
                      "status": "False", "type": "Ready"})
        if ch.sync_error:
            conds.append({"lastProbeTime": None, "lastTransitionTime": ts(t0 + timedelta(seconds=27)),
                          "message": ch.sync_error, "reason": "Synchronizing with the Domain failed.",
                          "status": "False", "type": "Synchronized"})
        vm_status["created"] = True
        vm_status["ready"] = False
    vm_status["conditions"] = [c for c in conds if c["type"] in ("Ready", "LiveMigratable", "PodScheduled",
                                                                 "StorageLiveMigratable")]
    return conds


def _placed(lab: Lab, ch: Chain, st: Obj) -> None:
    vm = ch.vm
    st["nodeName"] = ch.node
    st["launcherContainerImageVersion"] = f"quay.io/kubevirt/virt-launcher:{lab.kubevirt}"
    st["currentCPUTopology"] = {"cores": vm.cores, "sockets": 1, "threads": 1}
    st["machine"] = {"type": "pc-q35-rhel9.6.0"}
    st["memory"] = {"guestAtBoot": vm.memory, "guestCurrent": vm.memory, "guestRequested": vm.memory}
    st["migrationMethod"] = "BlockMigration"
    st["migrationTransport"] = "Unix"
    st["selinuxContext"] = "none"
    st["volumeStatus"] = [{"name": "cloudinitdisk", "size": 1048576, "target": "vdb"},
                          {"containerDiskVolume": {"checksum": 3612416983}, "name": "rootdisk", "target": "vda"}]


def _running(lab: Lab, ch: Chain, st: Obj) -> None:
    ip = f"10.244.{_node_index(lab, ch.node) + 1}.{30 + len(lab.chains)}"
    st["interfaces"] = [{"infoSource": "domain, guest-agent", "interfaceName": "enp1s0", "ipAddress": ip,
                         "ipAddresses": [ip], "linkState": "up", "mac": lab.ids.mac(), "name": "default",
                         "podInterfaceName": "eth0", "queueCount": 1}]
    st["guestOSInfo"] = {"id": "ubuntu", "kernelRelease": "6.8.0-87-generic", "machine": "x86_64",
                         "name": "Ubuntu", "prettyName": "Ubuntu 24.04.3 LTS", "version": "24.04.3 LTS",
                         "versionId": "24.04"}


def _device_status(lab: Lab, ch: Chain, st: Obj) -> None:
    vm = ch.vm
    statuses = []
    for i, dname in enumerate(vm.device_names()):
        if i >= len(ch.devices):
            break
        _, d = ch.devices[i]
        # virt-controller copies the slice's resource.kubernetes.io/pcieRoot (a PCIe root such as pci0000:15 for
        # the NVIDIA driver), not its pciBusID [kubevirt v1.6.0..v1.7.x pkg/virt-controller/watch/dra/dra.go].
        pci = d.slot.root
        if "devicestatus-mismatch" in vm.faults:
            others = [x for (n, _), x in lab.devices.items() if n == d.node and x.slot.root != d.slot.root]
            pci = others[0].slot.root if others else pci
        attrs: Obj = {"pciAddress": pci}
        statuses.append({"deviceResourceClaimStatus": {"attributes": attrs, "name": d.name,
                                                       "resourceClaimName": ch.claim_name},
                         "name": dname})
    key = "hostDeviceStatuses" if vm.host_devices else "gpuStatuses"
    st["deviceStatus"] = {key: statuses}


def _node_index(lab: Lab, name: str) -> int:
    for i, n in enumerate(lab.nodes):
        if n.name == name:
            return i
    return 9
