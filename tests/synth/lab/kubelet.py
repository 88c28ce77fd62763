"""The kubelet: NodePrepareResources through the DRA driver, and the launcher pod's status it reports."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..ids import ts, uid
from ..model import VFIO_CLASS, VM
from .objects import event
from .records import Chain, Obj, go_quote

if TYPE_CHECKING:
    from . import Lab

_PREPARE = "Failed to prepare dynamic resources: prepare dynamic resources: "


def prepare(lab: Lab, ch: Chain, pod: Obj, tp: datetime) -> None:
    """Prepare the claim's devices: the pod runs, or FailedPrepareDynamicResources repeats."""
    error = _prepare_error(lab, ch)
    if error:
        event(lab, pod, "FailedPrepareDynamicResources", error, tp + timedelta(seconds=5), component="kubelet",
              host=ch.node, count=27, last=lab.ids.at(minutes=93))
    else:
        ch.pod_state = "running"
        lab.prepared.update((d.node, d.name) for _, d in ch.devices)


def _prepare_error(lab: Lab, ch: Chain) -> str:
    vm, cname = ch.vm, ch.claim_name
    failed = f"NodePrepareResources failed for ResourceClaim {cname}: "
    devices = f"error preparing devices for claim {vm.namespace}/{cname}:{ch.claim_uid}: prepare devices failed: "
    if "not-reserved" in vm.faults:
        return _PREPARE + f"pod {ch.pod_name} ({ch.pod_uid}) is not allowed to use ResourceClaim {cname}"
    if "wrong-node" in vm.faults:
        return _PREPARE + failed + f"claim {vm.namespace}/{cname} is not allocated for node {ch.node}"
    if "prepare-timeout" in vm.faults:
        return _PREPARE + "NodePrepareResources: rpc error: code = DeadlineExceeded desc = context deadline exceeded"
    if "gpu-busy" in vm.faults:
        d = ch.devices[0][1]
        return _PREPARE + failed + devices + (f"error unbinding GPU {go_quote(d.slot.pci)} from nvidia driver: "
                                              "timed out waiting for gpu to be free")
    return _config_error(lab, vm, _PREPARE + failed + devices)


def _config_error(lab: Lab, vm: VM, prefix: str) -> str:
    """The driver decodes the VfioDeviceConfig strictly: unknown fields and policies fail the prepare."""
    params = (vm.vfio or {}) if vm.device_class == VFIO_CLASS else {}
    iommu = params.get("iommu", {}) if isinstance(params.get("iommu"), dict) else {}
    if lab.driver_new:
        unknown = [k for k in params if k not in ("iommu",)] + [f"iommu.{k}" for k in iommu
                                                                 if k not in ("backendPolicy", "enableAPIDevice")]
    else:
        unknown = [k for k in params] + [f"iommu.{k}" for k in iommu]
    if unknown:
        return prefix + ("error creating map of opaque device config: error decoding config parameters: strict "
                         f"decoding error: unknown field {go_quote(unknown[0])}")
    # Normalize() then Validate(): "" (or null) becomes LegacyOnly; an unknown value is refused with `%v` and the
    # supported list [dra-driver-nvidia-gpu v0.4.1 cmd/gpu-kubelet-plugin/device_state.go,
    # api/nvidia.com/resource/v1beta1/iommu.go; unchanged on main]
    pol = iommu.get("backendPolicy")
    if pol and pol not in ("LegacyOnly", "PreferIommuFD"):
        return prefix + (f"error validating GPU config: unknown IOMMU backend policy: {pol}, supported IOMMU backend "
                         "policies: LegacyOnly, PreferIommuFD")
    return ""


def pod_status(lab: Lab, ch: Chain, pod: Obj, tp: datetime) -> None:
    """Pending (unschedulable, or containers waiting for the prepare) or Running, as the kubelet reports it."""
    vm = ch.vm
    status: Obj = {"qosClass": "Burstable"}
    t_sched = tp + timedelta(seconds=3)
    if ch.pod_state == "unschedulable":
        status["phase"] = "Pending"
        if not ch.pending_reason.startswith("PodResourceClaim"):
            status["conditions"] = [{"lastProbeTime": None, "lastTransitionTime": ts(t_sched),
                                     "message": ch.pending_reason, "reason": "Unschedulable", "status": "False",
                                     "type": "PodScheduled"}]
    else:
        node = next((n for n in lab.nodes if n.name == ch.node), None)
        pod["spec"]["nodeName"] = ch.node
        status["hostIP"] = node.ip if node else ""
        status["hostIPs"] = [{"ip": status["hostIP"]}]
        status["startTime"] = ts(t_sched)
        running = ch.pod_state == "running"
        t_run = tp + timedelta(seconds=21)
        ready = "True" if running else "False"
        status["conditions"] = [
            {"lastProbeTime": None, "lastTransitionTime": ts(t_run), "status": ready, "type": t}
            for t in ("kubevirt.io/virtual-machine-unpaused", "PodReadyToStartContainers", "Initialized", "Ready",
                      "ContainersReady")
        ] + [{"lastProbeTime": None, "lastTransitionTime": ts(t_sched), "status": "True", "type": "PodScheduled"}]
        if running:
            ip = f"10.244.{lab.nodes.index(node) + 1 if node else 9}.{30 + len(lab.chains)}"
            status.update(phase="Running", podIP=ip, podIPs=[{"ip": ip}])
            _running(lab, vm, status, t_run)
        else:
            _creating(lab, vm, status, t_sched)
    if ch.claim_name and vm.claim == "template" and "claim-quota" not in vm.faults:
        status["resourceClaimStatuses"] = [{"name": vm.pod_claim, "resourceClaimName": ch.claim_name}]
    pod["status"] = status


def _creating(lab: Lab, vm: VM, status: Obj, t_sched: datetime) -> None:
    """ContainerCreating: the prepare failed, so no container started."""
    image = f"quay.io/kubevirt/virt-launcher:{lab.kubevirt}"
    for c in status["conditions"][:5]:
        c["lastTransitionTime"] = ts(t_sched)
    for c in status["conditions"][2:5]:
        c["reason"] = "ContainersNotInitialized" if c["type"] == "Initialized" else "ContainersNotReady"
    status["conditions"][2]["message"] = "containers with incomplete status: [container-disk-binary]"
    status["conditions"][3]["message"] = "containers with unready status: [compute volumerootdisk]"
    status["conditions"][4]["message"] = "containers with unready status: [compute volumerootdisk]"
    status["phase"] = "Pending"
    status["containerStatuses"] = [
        {"image": image, "imageID": "", "lastState": {}, "name": "compute", "ready": False,
         "restartCount": 0, "started": False, "state": {"waiting": {"reason": "ContainerCreating"}}},
        {"image": vm.image, "imageID": "", "lastState": {}, "name": "volumerootdisk", "ready": False,
         "restartCount": 0, "started": False, "state": {"waiting": {"reason": "PodInitializing"}}},
    ]
    status["initContainerStatuses"] = [
        {"image": image, "imageID": "", "lastState": {}, "name": "container-disk-binary",
         "ready": False, "restartCount": 0, "started": False,
         "state": {"waiting": {"reason": "PodInitializing"}}}]


def _image_id(image: str, filler: str) -> str:
    return image.split(":")[0] + "@sha256:" + uid("img", "", image).replace("-", "") + filler * 32


def _running(lab: Lab, vm: VM, status: Obj, t_run: datetime) -> None:
    image = f"quay.io/kubevirt/virt-launcher:{lab.kubevirt}"
    status["containerStatuses"] = [
        {"containerID": "containerd://" + lab.ids.hexid(64), "image": image, "imageID": _image_id(image, "0"),
         "lastState": {}, "name": "compute", "ready": True, "restartCount": 0, "started": True,
         "state": {"running": {"startedAt": ts(t_run)}}},
        {"containerID": "containerd://" + lab.ids.hexid(64), "image": vm.image, "imageID": _image_id(vm.image, "1"),
         "lastState": {}, "name": "volumerootdisk", "ready": True, "restartCount": 0, "started": True,
         "state": {"running": {"startedAt": ts(t_run)}}},
    ]
    status["initContainerStatuses"] = [
        {"containerID": "containerd://" + lab.ids.hexid(64), "image": image, "imageID": _image_id(image, "0"),
         "lastState": {}, "name": "container-disk-binary", "ready": True, "restartCount": 0,
         "started": False, "state": {"terminated": {
             "containerID": "containerd://" + lab.ids.hexid(64), "exitCode": 0,
             "finishedAt": ts(t_run - timedelta(seconds=2)), "reason": "Completed",
             "startedAt": ts(t_run - timedelta(seconds=3))}}}]
