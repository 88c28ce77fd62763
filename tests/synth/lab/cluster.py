"""The cluster's standing objects: Nodes (with NFD and GPU feature discovery labels), the KubeVirt CR, discovery."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..ids import ts, uid
from ..model import Node
from . import driver
from .objects import meta
from .records import Obj

if TYPE_CHECKING:
    from . import Lab

_NODE_RESOURCES = {"devices.kubevirt.io/kvm": "1k", "devices.kubevirt.io/tun": "1k",
                   "devices.kubevirt.io/vhost-net": "1k", "hugepages-1Gi": "0", "hugepages-2Mi": "0", "pods": "110"}


def install(lab: Lab) -> None:
    """Nodes first (41 days ago), then KubeVirt, then the NVIDIA driver."""
    t_nodes = lab.ids.at(minutes=-60 * 24 * 41)
    for i, n in enumerate(lab.nodes):
        _node(lab, n, t_nodes + timedelta(minutes=3 * i), i)
    if lab.kubevirt_installed:
        _kubevirt_cr(lab, lab.ids.at(minutes=-60 * 24 * 30))
    driver.install(lab, lab.ids.at(minutes=-60 * 24 * 9))


def node_labels(lab: Lab, n: Node) -> dict[str, str]:
    """The Node object's labels (node-feature-discovery / GPU feature discovery, KubeVirt, the knob's)."""
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "feature.node.kubernetes.io/pci-10de.present": "true",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": n.name,
        "kubernetes.io/os": "linux",
        "node-role.kubernetes.io/worker": "",
        "nvidia.com/gpu.count": str(n.gpus),
        "nvidia.com/gpu.present": "true",
        "nvidia.com/gpu.product": n.model.product.replace(" ", "-"),
    }
    if lab.kubevirt_installed:
        labels["kubevirt.io/schedulable"] = "true"
        labels["cpumanager"] = "false"
    labels.update(n.labels)
    return labels


def _node(lab: Lab, n: Node, when: datetime, i: int) -> None:
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": meta(
            "Node",
            n.name,
            when,
            labels=node_labels(lab, n),
            annotations={
                "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        ),
        "spec": {"podCIDR": f"10.244.{i + 1}.0/24", "podCIDRs": [f"10.244.{i + 1}.0/24"]},
        "status": _node_status(lab, n, when),
    }
    lab.emit(lab.ids.at(minutes=-5), obj)


def _node_status(lab: Lab, n: Node, when: datetime) -> Obj:
    return {
        "addresses": [{"address": n.ip, "type": "InternalIP"}, {"address": n.name, "type": "Hostname"}],
        "allocatable": {"cpu": "126", "ephemeral-storage": "846110443476", "memory": "1054378396Ki",
                        **_NODE_RESOURCES},
        "capacity": {"cpu": "128", "ephemeral-storage": "918112180Ki", "memory": "1056577948Ki", **_NODE_RESOURCES},
        "conditions": [
            _node_cond("MemoryPressure", "False", "KubeletHasSufficientMemory",
                       "kubelet has sufficient memory available", when),
            _node_cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", when),
            _node_cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available",
                       when),
            _node_cond("Ready", "True", "KubeletReady", "kubelet is posting ready status", when),
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "architecture": "amd64",
            "bootID": uid("boot", "", n.name),
            "containerRuntimeVersion": "containerd://2.1.4",
            "kernelVersion": "6.8.0-87-generic",
            "kubeProxyVersion": "",
            "kubeletVersion": lab.kubernetes,
            "machineID": uid("machine", "", n.name).replace("-", ""),
            "operatingSystem": "linux",
            "osImage": "Ubuntu 24.04.3 LTS",
            "systemUUID": uid("system", "", n.name),
        },
    }


def _node_cond(t: str, status: str, reason: str, message: str, when: datetime) -> Obj:
    return {
        "lastHeartbeatTime": ts(when + timedelta(days=41)),
        "lastTransitionTime": ts(when + timedelta(minutes=2)),
        "message": message,
        "reason": reason,
        "status": status,
        "type": t,
    }


def kubevirt_config(lab: Lab) -> Obj:
    dev: Obj = {}
    if lab.feature_gates:
        dev["featureGates"] = list(lab.feature_gates)
    if lab.disabled_gates:
        dev["disabledFeatureGates"] = list(lab.disabled_gates)
    config: Obj = {"developerConfiguration": dev}
    if lab.permitted_host_devices:
        config["permittedHostDevices"] = {
            "pciHostDevices": [
                {
                    "externalResourceProvider": True,
                    "pciVendorSelector": "10DE:2330",
                    "resourceName": "nvidia.com/GH100_H100_SXM5_80GB",
                }
            ]
        }
    return config


def _kubevirt_cr(lab: Lab, when: datetime) -> None:
    deploy_id = lab.ids.hexid(16)
    ready = ts(when + timedelta(days=20))
    conditions = [{"lastProbeTime": ready, "lastTransitionTime": ready, "message": "All components are ready.",
                   "reason": "AllComponentsReady", "status": status, "type": typ}
                  for typ, status in (("Available", "True"), ("Progressing", "False"), ("Degraded", "False"))]
    obj: Obj = {
        "apiVersion": "kubevirt.io/v1",
        "kind": "KubeVirt",
        "metadata": meta(
            "KubeVirt", "kubevirt", when, "kubevirt",
            annotations={"kubevirt.io/latest-observed-api-version": "v1",
                         "kubevirt.io/storage-observed-api-version": "v1"},
            finalizers=["foregroundDeleteKubeVirt"],
            generation=4,
        ),
        "spec": {"certificateRotateStrategy": {}, "configuration": kubevirt_config(lab), "customizeComponents": {},
                 "imagePullPolicy": "IfNotPresent", "workloadUpdateStrategy": {}},
        "status": {
            "conditions": conditions,
            "defaultArchitecture": "amd64",
            "observedDeploymentID": deploy_id,
            "observedGeneration": 4,
            "observedKubeVirtRegistry": "quay.io/kubevirt",
            "observedKubeVirtVersion": lab.kubevirt,
            "operatorVersion": lab.kubevirt,
            "outdatedVirtualMachineInstanceWorkloads": 0,
            "phase": "Deployed",
            "targetDeploymentID": deploy_id,
            "targetKubeVirtRegistry": "quay.io/kubevirt",
            "targetKubeVirtVersion": lab.kubevirt,
        },
    }
    lab.emit(when + timedelta(days=20), obj)


def cluster_info(lab: Lab) -> None:
    """What discovery says: the served API groups and what the user could not list."""
    groups: Obj = {"apps": ["v1"]}
    if lab.kubevirt_installed:
        groups["kubevirt.io"] = ["v1", "v1alpha3"]
    if lab.served:
        groups["resource.k8s.io"] = list(lab.served)
    info: Obj = {"apiVersion": "vmgpu.kubevirt.io/v1alpha1", "kind": "ClusterInfo",
                 "serverVersion": lab.kubernetes, "groups": groups}
    if lab.unavailable:
        info["unavailable"] = lab.unavailable
    lab.objects.append((lab.ids.at(minutes=100), info))
