"""The NVIDIA DRA driver's install: the Helm release's kubelet-plugin DaemonSet, its pods and the DeviceClasses."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..ids import generate_name, ts, uid
from ..model import DRIVER, GPU_CLASS, VFIO_CLASS, VGPU_CLASS, VM, Node
from .objects import meta, ref
from .records import Obj

if TYPE_CHECKING:
    from . import Lab


def names(lab: Lab) -> tuple[str, str, str, str]:
    """(namespace, release/app name, image, chart version)."""
    v = lab.driver.lstrip("v")
    if lab.driver_new:
        return ("dra-driver-nvidia-gpu", "dra-driver-nvidia-gpu",
                f"registry.k8s.io/dra-driver-nvidia/dra-driver-nvidia-gpu:{lab.driver}", v)
    return ("nvidia-dra-driver-gpu", "nvidia-dra-driver-gpu", f"nvcr.io/nvidia/k8s-dra-driver-gpu:{lab.driver}", v)


def feature_gates(lab: Lab) -> str:
    gates = []
    if lab.driver_new and lab.device_metadata:
        gates.append("DeviceMetadata=true")
    if any(n.passthrough for n in lab.nodes):
        gates.append("PassthroughSupport=true")
    if any(n.vgpu for n in lab.nodes):
        gates.append("VGPUSupport=true")
    return ",".join(gates) + ("," if gates else "")


def install(lab: Lab, when: datetime) -> None:
    """The DaemonSet, one kubelet-plugin pod per node (crash-looping where the node does not publish), classes."""
    ds = _daemonset(lab, when)
    lab.emit(when, ds)
    for i, n in enumerate(lab.nodes):
        _plugin_pod(lab, ds, n, i, when + timedelta(minutes=1 + i))
    _device_classes(lab, when)


def _daemonset(lab: Lab, when: datetime) -> Obj:
    ns, app, image, chart = names(lab)
    labels = {
        "app.kubernetes.io/instance": app,
        "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/version": chart,
        "helm.sh/chart": f"{app}-{chart}",
    }
    selector = {f"{app}-component": "kubelet-plugin"}
    ready = sum(1 for n in lab.nodes if n.publish)
    total = len(lab.nodes)
    container: Obj = {
        "command": ["bash", "-c"],
        "args": ["gpu-kubelet-plugin -v $(LOG_VERBOSITY)"],
        "env": [
            {"name": "LOG_VERBOSITY", "value": "4"},
            {"name": "FEATURE_GATES", "value": feature_gates(lab)},
            {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}},
            {"name": "IMAGE_NAME", "value": image},
        ],
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "name": "gpus",
        "resources": {},
        "securityContext": {"privileged": True},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": meta(
            "DaemonSet", f"{app}-kubelet-plugin", when, ns, labels=labels,
            annotations={"deprecated.daemonset.template.generation": "1",
                         "meta.helm.sh/release-name": app, "meta.helm.sh/release-namespace": ns},
            generation=1,
        ),
        "spec": {
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/instance": app, "app.kubernetes.io/name": app, **selector}},
                "spec": {
                    "containers": [container],
                    "priorityClassName": "system-node-critical",
                    "serviceAccountName": f"{app}-service-account-kubeletplugin",
                    "tolerations": [{"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Exists"}],
                },
            },
            "updateStrategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "100%"}, "type": "RollingUpdate"},
        },
        "status": {
            "currentNumberScheduled": total, "desiredNumberScheduled": total, "numberAvailable": ready,
            "numberMisscheduled": 0, "numberReady": ready, "observedGeneration": 1, "updatedNumberScheduled": total,
            **({"numberUnavailable": total - ready} if ready < total else {}),
        },
    }


def _plugin_state(lab: Lab, n: Node, ns: str, pname: str, started: datetime) -> tuple[Obj, Obj, bool, int, str]:
    """(state, lastState, ready, restarts, Ready condition) of the plugin container: running, or crash-looping."""
    if n.publish:
        return {"running": {"startedAt": ts(started)}}, {}, True, 0, "True"
    state = {"waiting": {"message": "back-off 5m0s restarting failed container=gpus pod="
                                    f"{pname}_{ns}({uid('Pod', ns, pname)})",
                         "reason": "CrashLoopBackOff"}}
    last = {"terminated": {"containerID": "containerd://" + lab.ids.hexid(64), "exitCode": 1,
                           "finishedAt": ts(lab.ids.at(minutes=-3)), "reason": "Error",
                           "startedAt": ts(lab.ids.at(minutes=-3, seconds=-4))}}
    return state, last, False, 212, "False"


def _plugin_pod(lab: Lab, ds: Obj, n: Node, i: int, started: datetime) -> None:
    ns, app, image, _ = names(lab)
    ds_name = ds["metadata"]["name"]
    selector = {f"{app}-component": "kubelet-plugin"}
    pname = generate_name(f"{ds_name}-") + lab.ids.suffix()
    state, last, ready, restarts, phase_ready = _plugin_state(lab, n, ns, pname, started)
    status: Obj = {
        "conditions": [
            {"lastProbeTime": None, "lastTransitionTime": ts(started), "status": phase_ready, "type": "Ready"},
            {"lastProbeTime": None, "lastTransitionTime": ts(started), "status": "True", "type": "PodScheduled"},
        ],
        "containerStatuses": [
            {"containerID": "containerd://" + lab.ids.hexid(64), "image": image,
             "imageID": image.split(":")[0] + "@sha256:" + lab.ids.hexid(64), "lastState": last,
             "name": "gpus", "ready": ready, "restartCount": restarts, "started": ready, "state": state}
        ],
        "hostIP": n.ip,
        "phase": "Running",
        "podIP": f"10.244.{i + 1}.4",
        "qosClass": "BestEffort",
        "startTime": ts(started),
    }
    pod: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta(
            "Pod", pname, started, ns,
            labels={"app.kubernetes.io/instance": app, "app.kubernetes.io/name": app,
                    "controller-revision-hash": "6d5f8c7b9", "pod-template-generation": "1", **selector},
            owner=ref(ds), generate=f"{ds_name}-",
        ),
        "spec": {
            "containers": [{"image": image, "imagePullPolicy": "IfNotPresent", "name": "gpus",
                            "resources": {}, "securityContext": {"privileged": True}}],
            "nodeName": n.name,
            "priorityClassName": "system-node-critical",
            "restartPolicy": "Always",
            "serviceAccountName": f"{app}-service-account-kubeletplugin",
        },
        "status": status,
    }
    lab.emit(started if n.publish else lab.ids.at(minutes=-3), pod)


def _device_classes(lab: Lab, when: datetime) -> None:
    ns, app, _, _ = names(lab)
    class_config = [vm for vm in lab.vms if vm.config_source == "class" and vm.vfio is not None]
    for name, typ in device_class_types(lab).items():
        spec: Obj = {"selectors": [{"cel": {"expression": class_selector(typ)}}]}
        if typ == "vfio" and class_config:
            spec["config"] = [{"opaque": {"driver": DRIVER, "parameters": vfio_params(class_config[0])}}]
        obj: Obj = {
            "apiVersion": lab.res_api(),
            "kind": "DeviceClass",
            "metadata": meta(
                "DeviceClass", name, when,
                labels={"app.kubernetes.io/managed-by": "Helm"},
                annotations={"meta.helm.sh/release-name": app, "meta.helm.sh/release-namespace": ns},
                generation=1,
            ),
            "spec": spec,
        }
        lab.emit(when, obj)


def device_class_types(lab: Lab) -> dict[str, str]:
    """The chart installs the gpu, mig and vfio classes whatever the driver gates; vgpu only with VGPUSupport."""
    classes = {GPU_CLASS: "gpu", "mig.nvidia.com": "mig", VFIO_CLASS: "vfio"}
    if any(n.vgpu for n in lab.nodes):
        classes[VGPU_CLASS] = "vgpu"
    return classes


def class_selector(typ: str) -> str:
    return f"device.driver == '{DRIVER}' && device.attributes['{DRIVER}'].type == '{typ}'"


def vfio_params(vm: VM) -> Obj:
    params: Obj = {"apiVersion": "resource.nvidia.com/v1beta1", "kind": "VfioDeviceConfig"}
    params.update(copy.deepcopy(vm.vfio or {}))
    return params
