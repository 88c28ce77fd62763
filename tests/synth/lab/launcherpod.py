"""The virt-launcher pod virt-controller renders for a VMI: compute container, DRA claims, node selector."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..model import VM
from .objects import meta, ref
from .records import Chain, Obj

if TYPE_CHECKING:
    from . import Lab

_KVM = {"devices.kubevirt.io/kvm": "1", "devices.kubevirt.io/tun": "1", "devices.kubevirt.io/vhost-net": "1"}
_TERMINATION = {"terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}


def pod_node_selector(vm: VM) -> dict[str, str]:
    """virt-controller's launcher nodeSelector: the VMI's, the architecture, then kubevirt.io/schedulable."""
    return {**vm.node_selector, "kubernetes.io/arch": "amd64", "kubevirt.io/schedulable": "true"}


def wired(lab: Lab, vm: VM) -> list[tuple[str, str]]:
    """compute container resources.claims: only with the gate on; v1.8.0-v1.8.2 keep only the first request."""
    gate = "HostDevicesWithDRA" if vm.host_devices else "GPUsWithDRA"
    if not lab.gate_on(gate) or not vm.declare_claim:
        return []
    names = vm.vmi_request_names or vm.request_names()
    pairs: list[tuple[str, str]] = []
    for i, _ in enumerate(vm.device_names()):
        p = (vm.pod_claim, names[min(i, len(names) - 1)])
        if p not in pairs:
            pairs.append(p)
    if (1, 8, 0) <= lab.kv < (1, 8, 3):
        pairs = pairs[:1]
    return pairs


def _mem_request(vm: VM) -> str:
    gi = int(vm.memory.rstrip("Gi"))
    return str(gi * 1024 * 1024 * 1024 + 347_160_577)


def _compute(vm: VM, vmi: Obj, image: str, claims: list[tuple[str, str]]) -> Obj:
    compute: Obj = {
        "command": ["/usr/bin/virt-launcher-monitor", "--qemu-timeout", "289s", "--name", vm.name, "--uid",
                    vmi["metadata"]["uid"], "--namespace", vm.namespace, "--kubevirt-share-dir", "/var/run/kubevirt",
                    "--ephemeral-disk-dir", "/var/run/kubevirt-ephemeral-disks", "--container-disk-dir",
                    "/var/run/kubevirt/container-disks", "--grace-period-seconds", "195", "--hook-sidecars",
                    "0", "--ovmf-path", "/usr/share/OVMF", "--run-as-nonroot"],
        "env": [{"name": "XDG_CACHE_HOME", "value": "/var/run/kubevirt-private"},
                {"name": "XDG_CONFIG_HOME", "value": "/var/run/kubevirt-private"},
                {"name": "XDG_RUNTIME_DIR", "value": "/var/run"},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "name": "compute",
        "resources": {"limits": dict(_KVM), "requests": {"cpu": f"{vm.cores * 100}m", **_KVM,
                                                           "ephemeral-storage": "50M", "memory": _mem_request(vm)}},
        "securityContext": {"allowPrivilegeEscalation": False,
                            "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
                            "privileged": False, "runAsGroup": 107, "runAsNonRoot": True, "runAsUser": 107},
        **_TERMINATION,
        "volumeMounts": [
            {"mountPath": "/var/run/kubevirt-private", "name": "private"},
            {"mountPath": "/var/run/kubevirt", "name": "public"},
            {"mountPath": "/var/run/kubevirt-ephemeral-disks", "name": "ephemeral-disks"},
            {"mountPath": "/var/run/kubevirt/container-disks", "mountPropagation": "HostToContainer",
             "name": "container-disks"},
            {"mountPath": "/var/run/libvirt", "name": "libvirt-runtime"},
            {"mountPath": "/var/run/kubevirt/sockets", "name": "sockets"},
            {"mountPath": "/var/run/kubevirt/hotplug-disks", "mountPropagation": "HostToContainer",
             "name": "hotplug-disks"},
        ],
    }
    if vm.device_plugin_gpu:
        compute["resources"]["limits"]["nvidia.com/GH100_H100_SXM5_80GB"] = "1"
        compute["resources"]["requests"]["nvidia.com/GH100_H100_SXM5_80GB"] = "1"
    if claims:
        compute["resources"]["claims"] = [{"name": c, "request": r} for c, r in claims]
    return compute


def _disk_containers(vm: VM, vmi: Obj, image: str) -> tuple[Obj, Obj]:
    """The container-disk container of the root disk, and the init container that copies its binary."""
    data = f"/var/run/kubevirt-ephemeral-disks/container-disk-data/{vmi['metadata']['uid']}"
    disk: Obj = {
        "args": ["--copy-path", f"{data}/disk_0"], "command": ["/usr/bin/container-disk"], "image": vm.image,
        "imagePullPolicy": "IfNotPresent", "name": "volumerootdisk",
        "resources": {"limits": {"cpu": "10m", "memory": "40M"},
                      "requests": {"cpu": "1m", "ephemeral-storage": "50M", "memory": "1M"}},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True,
                            "runAsUser": 107},
        **_TERMINATION,
        "volumeMounts": [{"mountPath": data, "name": "container-disks"}],
    }
    init: Obj = {
        "command": ["/usr/bin/cp", "/usr/bin/container-disk", "/init/usr/bin/container-disk"],
        "image": image, "imagePullPolicy": "IfNotPresent", "name": "container-disk-binary",
        "resources": {"limits": {"cpu": "100m", "memory": "40M"}, "requests": {"cpu": "10m", "memory": "1M"}},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "privileged": False,
                            "runAsGroup": 107, "runAsNonRoot": True, "runAsUser": 107},
        **_TERMINATION,
        "volumeMounts": [{"mountPath": "/init/usr/bin", "name": "virt-bin-share-dir"}],
    }
    return disk, init


def _spec(vm: VM, vmi: Obj, image: str, claims: list[tuple[str, str]]) -> Obj:
    disk, init = _disk_containers(vm, vmi, image)
    spec: Obj = {
        "automountServiceAccountToken": False,
        "containers": [_compute(vm, vmi, image, claims), disk],
        "dnsPolicy": "ClusterFirst",
        "enableServiceLinks": False,
        "hostname": vm.name,
        "initContainers": [init],
        "nodeSelector": pod_node_selector(vm),
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0,
        "readinessGates": [{"conditionType": "kubevirt.io/virtual-machine-unpaused"}],
        "restartPolicy": "Never",
        "schedulerName": "default-scheduler",
        "securityContext": {"fsGroup": 107, "runAsGroup": 107, "runAsNonRoot": True, "runAsUser": 107},
        "serviceAccount": "default",
        "serviceAccountName": "default",
        "terminationGracePeriodSeconds": 210,
        "tolerations": [
            {"effect": "NoExecute", "key": key, "operator": "Exists", "tolerationSeconds": 300}
            for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
        ],
        "volumes": [{"emptyDir": {}, "name": name} for name in (
            "private", "public", "sockets", "virt-bin-share-dir", "libvirt-runtime", "ephemeral-disks",
            "container-disks", "hotplug-disks")],
    }
    rcs = vmi["spec"].get("resourceClaims")
    if rcs:
        spec["resourceClaims"] = copy.deepcopy(rcs)
    return spec


def render(lab: Lab, ch: Chain, vmi: Obj, pod_base: str, tp: datetime) -> Obj:
    """The launcher pod as created (no status yet); records which claim requests the compute container lists."""
    vm, ns = ch.vm, ch.vm.namespace
    image = f"quay.io/kubevirt/virt-launcher:{lab.kubevirt}"
    ch.wired = wired(lab, vm)
    labels = {**vmi["metadata"].get("labels", {}), "kubevirt.io": "virt-launcher",
              "kubevirt.io/created-by": vmi["metadata"]["uid"], "vm.kubevirt.io/name": vm.name}
    freezer = '["/usr/bin/virt-freezer", "--{}", "--name", "' + vm.name + '", "--namespace", "' + ns + '"]'
    pod: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta(
            "Pod", ch.pod_name, tp, ns, labels=labels,
            annotations={
                "descheduler.alpha.kubernetes.io/request-evict-only": "",
                "kubectl.kubernetes.io/default-container": "compute",
                "kubevirt.io/domain": vm.name,
                "kubevirt.io/migrationTransportUnix": "true",
                "kubevirt.io/vm-generation": "1",
                "post.hook.backup.velero.io/command": freezer.format("unfreeze"),
                "post.hook.backup.velero.io/container": "compute",
                "pre.hook.backup.velero.io/command": freezer.format("freeze"),
                "pre.hook.backup.velero.io/container": "compute",
            },
            owner=ref(vmi), generate=pod_base,
        ),
        "spec": _spec(vm, vmi, image, ch.wired),
    }
    return lab.emit(tp + timedelta(seconds=30), pod)
