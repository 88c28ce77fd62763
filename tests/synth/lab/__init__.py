"""The Lab: describe a cluster in a few lines, get coherent `kubectl get -o yaml` objects and launcher evidence.

    lab = Lab("healthy-template-claim")              # KubeVirt v1.9.0, Kubernetes v1.36.1, driver v0.4.1
    lab.add_node("xe8640-01", gpus=4)                # PassthroughSupport on: gpu-<n> and gpu-vfio-<n>
    lab.add_vm("vm-gpu", namespace="gpu-lab")       # template claim, VfioDeviceConfig with enableAPIDevice
    lab.write("out/snapshot")

The builder simulates what the components do (webhook, KubeVirt controllers, resourceclaim controller,
scheduler, kubelet and the NVIDIA driver, virt-launcher and libvirt), so one changed knob gives every
downstream symptom a real cluster would show. Everything is derived from the lab name: same code, same bytes.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .. import celsim
from .. import evidence as ev
from ..hw import CUDA_DRIVER, NVIDIA_KERNEL_DRIVER, GpuModel, Slot, slots_for
from ..ids import Ids, claim_generate_name, generate_name, micro, ts, uid
from ..model import DRIVER, GPU_CLASS, VFIO_CLASS, VGPU_CLASS, VM, Node, Workload

Obj = dict[str, Any]


def vtuple(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.lstrip("v").split("-")[0].split("."))


def go_quote(s: str) -> str:
    """Go's %q for the ASCII messages used here."""
    return json.dumps(s, ensure_ascii=False)


@dataclass
class Device:
    node: str
    name: str
    kind: str  # gpu | vfio | vgpu
    slot: Slot
    index: int
    model: GpuModel
    attrs: dict[str, Any]
    capacity: dict[str, Any]
    taints: list[dict[str, Any]] = field(default_factory=list)
    published: bool = True
    pci_published: str | None = None  # what the current slice says, if it differs from the truth


@dataclass
class Chain:
    """What happened to one VM: the objects it produced and where it stopped."""

    vm: VM
    vmi_phase: str = ""  # "" = no VMI
    refused: str = ""  # admission denial message
    pod_name: str = ""
    pod_uid: str = ""
    pod_state: str = ""  # none | unschedulable | creating | running
    node: str = ""
    claim_name: str = ""
    claim_uid: str = ""
    devices: list[tuple[str, Device]] = field(default_factory=list)  # (result request, device)
    pending_reason: str = ""
    sync_error: str = ""
    domain: str = ""  # live | inactive | none
    wired: list[tuple[str, str]] = field(default_factory=list)


class Lab:
    def __init__(
        self,
        name: str,
        *,
        kubernetes: str = "v1.36.1",
        kubevirt: str = "v1.9.0",
        resource_api: str = "v1",
        served: list[str] | None = None,
        driver: str = "v0.4.1",
        device_metadata: bool = True,
        feature_gates: list[str] | None = None,
        disabled_gates: list[str] | None = None,
        kubevirt_installed: bool = True,
        start_minutes: float = 0.0,
        permitted_host_devices: bool = False,
        postfilter_message: bool = True,
    ) -> None:
        self.name = name
        self.ids = Ids(name)
        self.ids.start = self.ids.start + timedelta(minutes=start_minutes)
        self.kubernetes = kubernetes
        self.kubevirt = kubevirt
        self.resource_api = resource_api
        self.served = served if served is not None else self._default_served()
        self.driver = driver
        self.device_metadata = device_metadata
        kv = vtuple(kubevirt)
        if feature_gates is None:
            feature_gates = [] if kv >= (1, 9) else ["GPUsWithDRA"]
        self.feature_gates = feature_gates
        self.disabled_gates = disabled_gates or []
        self.kubevirt_installed = kubevirt_installed
        self.permitted_host_devices = permitted_host_devices
        # FailedScheduling as kube-scheduler writes it for a pod with claims: the DynamicResources PostFilter's
        # "still not schedulable" precedes DefaultPreemption's message. Off only for the scenarios generated
        # before it was modelled (their bytes are frozen).
        self.postfilter_message = postfilter_message
        self.nodes: list[Node] = []
        self.vms: list[VM] = []
        self.workloads: list[Workload] = []
        self.extra_events: list[Obj] = []
        self.unavailable: list[dict[str, str]] = []
        self.hooks: list[Any] = []  # callables(lab) run after the simulation, before resourceVersions
        # outputs
        self.objects: list[tuple[datetime, Obj]] = []
        self.files: dict[str, bytes] = {}
        self.chains: list[Chain] = []
        self._built = False

    # ---- inputs ---------------------------------------------------------------------------------

    def _default_served(self) -> list[str]:
        minor = vtuple(self.kubernetes)[1]
        if minor >= 34:
            return ["v1"]
        if minor == 33:
            return ["v1beta2", "v1beta1"]
        return ["v1beta1"]

    def add_node(self, name: str, gpus: int = 4, **kw: Any) -> Node:
        node = Node(name=name, gpus=gpus, **kw)
        if not node.ip:
            node.ip = f"10.10.20.{11 + len(self.nodes)}"
        self.nodes.append(node)
        return node

    def add_vm(self, name: str, **kw: Any) -> VM:
        vm = VM(name=name, **kw)
        if vm.minutes is None:
            vm.minutes = 10.0 + 7 * len(self.vms)
        self.vms.append(vm)
        return vm

    def add_workload(self, name: str, namespace: str, node: str, device: str, minutes: float = 2.0,
                     prepared: bool = True) -> Workload:
        w = Workload(name, namespace, node, device, minutes, prepared)
        self.workloads.append(w)
        return w

    # ---- versions -------------------------------------------------------------------------------

    @property
    def kv(self) -> tuple[int, ...]:
        return vtuple(self.kubevirt)

    @property
    def driver_new(self) -> bool:
        """kubernetes-sigs driver (v0.4+): VfioDeviceConfig fields, /dev/vfio/vfio only with enableAPIDevice."""
        return vtuple(self.driver)[0] == 0

    def gate_on(self, gate: str) -> bool:
        if gate in self.disabled_gates and self.kv >= (1, 8):
            return False
        if self.kv >= (1, 9):
            return True
        return gate in self.feature_gates

    def metadata_written(self) -> bool:
        return self.driver_new and self.device_metadata and vtuple(self.kubernetes)[1] >= 36

    def res_api(self) -> str:
        return "resource.k8s.io/" + self.resource_api

    # ---- registry -------------------------------------------------------------------------------

    def emit(self, when: datetime, obj: Obj) -> Obj:
        self.objects.append((when, obj))
        return obj

    def meta(
        self,
        kind: str,
        name: str,
        when: datetime,
        namespace: str | None = None,
        *,
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
        owner: Obj | None = None,
        finalizers: list[str] | None = None,
        generation: int | None = None,
        generate: str | None = None,
    ) -> Obj:
        m: Obj = {"creationTimestamp": ts(when), "name": name, "uid": uid(kind, namespace or "", name)}
        if namespace:
            m["namespace"] = namespace
        if labels:
            m["labels"] = dict(labels)
        if annotations:
            m["annotations"] = dict(annotations)
        if owner:
            m["ownerReferences"] = [owner]
        if finalizers:
            m["finalizers"] = list(finalizers)
        if generation is not None:
            m["generation"] = generation
        if generate:
            m["generateName"] = generate
        return m

    @staticmethod
    def ref(obj: Obj, controller: bool = True, block: bool = True) -> Obj:
        r: Obj = {
            "apiVersion": obj["apiVersion"],
            "kind": obj["kind"],
            "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"],
        }
        if controller:
            r["controller"] = True
        if block:
            r["blockOwnerDeletion"] = True
        return r

    # ---- build ----------------------------------------------------------------------------------

    def build(self) -> Lab:
        if self._built:
            return self
        self._built = True
        self.devices: dict[tuple[str, str], Device] = {}
        self.taken: dict[tuple[str, str], str] = {}
        self.racing: set[tuple[str, str]] = set()
        self.prepared: set[tuple[str, str]] = set()  # devices a kubelet prepare succeeded for
        self._cluster()
        self._slices_devices()
        for w in self.workloads:
            self._workload(w)
        for vm in self.vms:
            self.chains.append(self._vm(vm))
        self._slices()
        self._cluster_info()
        for hook in self.hooks:
            hook(self)
        self._assign_versions()
        return self

    def _assign_versions(self) -> None:
        order = sorted(range(len(self.objects)), key=lambda i: (self.objects[i][0], i))
        rv = 1_048_576 + 7919 * (sum(map(ord, self.name)) % 97)
        for i in order:
            rv += 1 + (i * 37) % 11
            obj = self.objects[i][1]
            if obj.get("kind") != "ClusterInfo":
                obj["metadata"]["resourceVersion"] = str(rv)
        # Events carry the resourceVersion their object had when they were recorded.
        by_uid = {o["metadata"].get("uid"): o for _, o in self.objects if "metadata" in o}
        for _, o in self.objects:
            if o.get("kind") == "Event" and "resourceVersion" in o.get("involvedObject", {}):
                target = by_uid.get(o["involvedObject"].get("uid"))
                o["involvedObject"]["resourceVersion"] = target["metadata"]["resourceVersion"] if target else ""

    def all_objects(self) -> list[Obj]:
        self.build()
        return [o for _, o in self.objects]

    # ---- cluster objects --------------------------------------------------------------------------

    def _cluster(self) -> None:
        t_nodes = self.ids.at(minutes=-60 * 24 * 41)
        for i, n in enumerate(self.nodes):
            self._node(n, t_nodes + timedelta(minutes=3 * i), i)
        if self.kubevirt_installed:
            self._kubevirt_cr(self.ids.at(minutes=-60 * 24 * 30))
        self._driver(self.ids.at(minutes=-60 * 24 * 9))

    def node_labels(self, n: Node) -> dict[str, str]:
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
        if self.kubevirt_installed:
            labels["kubevirt.io/schedulable"] = "true"
            labels["cpumanager"] = "false"
        labels.update(n.labels)
        return labels

    def _node(self, n: Node, when: datetime, i: int) -> None:
        cpu = "128"
        labels = self.node_labels(n)
        obj: Obj = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": self.meta(
                "Node",
                n.name,
                when,
                labels=labels,
                annotations={
                    "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
                    "node.alpha.kubernetes.io/ttl": "0",
                    "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                },
            ),
            "spec": {"podCIDR": f"10.244.{i + 1}.0/24", "podCIDRs": [f"10.244.{i + 1}.0/24"]},
            "status": {
                "addresses": [{"address": n.ip, "type": "InternalIP"}, {"address": n.name, "type": "Hostname"}],
                "allocatable": {
                    "cpu": "126",
                    "devices.kubevirt.io/kvm": "1k",
                    "devices.kubevirt.io/tun": "1k",
                    "devices.kubevirt.io/vhost-net": "1k",
                    "ephemeral-storage": "846110443476",
                    "hugepages-1Gi": "0",
                    "hugepages-2Mi": "0",
                    "memory": "1054378396Ki",
                    "pods": "110",
                },
                "capacity": {
                    "cpu": cpu,
                    "devices.kubevirt.io/kvm": "1k",
                    "devices.kubevirt.io/tun": "1k",
                    "devices.kubevirt.io/vhost-net": "1k",
                    "ephemeral-storage": "918112180Ki",
                    "hugepages-1Gi": "0",
                    "hugepages-2Mi": "0",
                    "memory": "1056577948Ki",
                    "pods": "110",
                },
                "conditions": [
                    self._node_cond("MemoryPressure", "False", "KubeletHasSufficientMemory",
                                    "kubelet has sufficient memory available", when),
                    self._node_cond("DiskPressure", "False", "KubeletHasNoDiskPressure",
                                    "kubelet has no disk pressure", when),
                    self._node_cond("PIDPressure", "False", "KubeletHasSufficientPID",
                                    "kubelet has sufficient PID available", when),
                    self._node_cond("Ready", "True", "KubeletReady", "kubelet is posting ready status", when),
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {
                    "architecture": "amd64",
                    "bootID": uid("boot", "", n.name),
                    "containerRuntimeVersion": "containerd://2.1.4",
                    "kernelVersion": "6.8.0-87-generic",
                    "kubeProxyVersion": "",
                    "kubeletVersion": self.kubernetes,
                    "machineID": uid("machine", "", n.name).replace("-", ""),
                    "operatingSystem": "linux",
                    "osImage": "Ubuntu 24.04.3 LTS",
                    "systemUUID": uid("system", "", n.name),
                },
            },
        }
        self.emit(self.ids.at(minutes=-5), obj)

    @staticmethod
    def _node_cond(t: str, status: str, reason: str, message: str, when: datetime) -> Obj:
        return {
            "lastHeartbeatTime": ts(when + timedelta(days=41)),
            "lastTransitionTime": ts(when + timedelta(minutes=2)),
            "message": message,
            "reason": reason,
            "status": status,
            "type": t,
        }

    def _kubevirt_cr(self, when: datetime) -> None:
        dev: Obj = {}
        if self.feature_gates:
            dev["featureGates"] = list(self.feature_gates)
        if self.disabled_gates:
            dev["disabledFeatureGates"] = list(self.disabled_gates)
        config: Obj = {"developerConfiguration": dev}
        if self.permitted_host_devices:
            config["permittedHostDevices"] = {
                "pciHostDevices": [
                    {
                        "externalResourceProvider": True,
                        "pciVendorSelector": "10DE:2330",
                        "resourceName": "nvidia.com/GH100_H100_SXM5_80GB",
                    }
                ]
            }
        deploy_id = self.ids.hexid(16)
        obj: Obj = {
            "apiVersion": "kubevirt.io/v1",
            "kind": "KubeVirt",
            "metadata": self.meta(
                "KubeVirt",
                "kubevirt",
                when,
                "kubevirt",
                annotations={
                    "kubevirt.io/latest-observed-api-version": "v1",
                    "kubevirt.io/storage-observed-api-version": "v1",
                },
                finalizers=["foregroundDeleteKubeVirt"],
                generation=4,
            ),
            "spec": {
                "certificateRotateStrategy": {},
                "configuration": config,
                "customizeComponents": {},
                "imagePullPolicy": "IfNotPresent",
                "workloadUpdateStrategy": {},
            },
            "status": {
                "conditions": [
                    {
                        "lastProbeTime": ts(when + timedelta(days=20)),
                        "lastTransitionTime": ts(when + timedelta(days=20)),
                        "message": "All components are ready.",
                        "reason": "AllComponentsReady",
                        "status": "True",
                        "type": "Available",
                    },
                    {
                        "lastProbeTime": ts(when + timedelta(days=20)),
                        "lastTransitionTime": ts(when + timedelta(days=20)),
                        "message": "All components are ready.",
                        "reason": "AllComponentsReady",
                        "status": "False",
                        "type": "Progressing",
                    },
                    {
                        "lastProbeTime": ts(when + timedelta(days=20)),
                        "lastTransitionTime": ts(when + timedelta(days=20)),
                        "message": "All components are ready.",
                        "reason": "AllComponentsReady",
                        "status": "False",
                        "type": "Degraded",
                    },
                ],
                "defaultArchitecture": "amd64",
                "observedDeploymentID": deploy_id,
                "observedGeneration": 4,
                "observedKubeVirtRegistry": "quay.io/kubevirt",
                "observedKubeVirtVersion": self.kubevirt,
                "operatorVersion": self.kubevirt,
                "outdatedVirtualMachineInstanceWorkloads": 0,
                "phase": "Deployed",
                "targetDeploymentID": deploy_id,
                "targetKubeVirtRegistry": "quay.io/kubevirt",
                "targetKubeVirtVersion": self.kubevirt,
            },
        }
        self.emit(when + timedelta(days=20), obj)

    def _driver_names(self) -> tuple[str, str, str, str]:
        """(namespace, release/app name, image, chart version)."""
        if self.driver_new:
            v = self.driver.lstrip("v")
            return ("dra-driver-nvidia-gpu", "dra-driver-nvidia-gpu",
                    f"registry.k8s.io/dra-driver-nvidia/dra-driver-nvidia-gpu:{self.driver}", v)
        v = self.driver.lstrip("v")
        return ("nvidia-dra-driver-gpu", "nvidia-dra-driver-gpu", f"nvcr.io/nvidia/k8s-dra-driver-gpu:{self.driver}", v)

    def driver_feature_gates(self) -> str:
        gates = []
        if self.driver_new and self.device_metadata:
            gates.append("DeviceMetadata=true")
        if any(n.passthrough for n in self.nodes):
            gates.append("PassthroughSupport=true")
        if any(n.vgpu for n in self.nodes):
            gates.append("VGPUSupport=true")
        return ",".join(gates) + ("," if gates else "")

    def _driver(self, when: datetime) -> None:
        ns, app, image, chart = self._driver_names()
        labels = {
            "app.kubernetes.io/instance": app,
            "app.kubernetes.io/managed-by": "Helm",
            "app.kubernetes.io/name": app,
            "app.kubernetes.io/version": chart,
            "helm.sh/chart": f"{app}-{chart}",
        }
        selector = {f"{app}-component": "kubelet-plugin"}
        ready = sum(1 for n in self.nodes if n.publish)
        ds_name = f"{app}-kubelet-plugin"
        ds: Obj = {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": self.meta(
                "DaemonSet", ds_name, when, ns, labels=labels,
                annotations={"deprecated.daemonset.template.generation": "1",
                             "meta.helm.sh/release-name": app, "meta.helm.sh/release-namespace": ns},
                generation=1,
            ),
            "spec": {
                "revisionHistoryLimit": 10,
                "selector": {"matchLabels": selector},
                "template": {
                    "metadata": {"labels": {"app.kubernetes.io/instance": app, "app.kubernetes.io/name": app,
                                            **selector}},
                    "spec": {
                        "containers": [
                            {
                                "command": ["bash", "-c"],
                                "args": ["gpu-kubelet-plugin -v $(LOG_VERBOSITY)"],
                                "env": [
                                    {"name": "LOG_VERBOSITY", "value": "4"},
                                    {"name": "FEATURE_GATES", "value": self.driver_feature_gates()},
                                    {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                                                     "fieldPath": "spec.nodeName"}}},
                                    {"name": "IMAGE_NAME", "value": image},
                                ],
                                "image": image,
                                "imagePullPolicy": "IfNotPresent",
                                "name": "gpus",
                                "resources": {},
                                "securityContext": {"privileged": True},
                            }
                        ],
                        "priorityClassName": "system-node-critical",
                        "serviceAccountName": f"{app}-service-account-kubeletplugin",
                        "tolerations": [{"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Exists"}],
                    },
                },
                "updateStrategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "100%"},
                                   "type": "RollingUpdate"},
            },
            "status": {
                "currentNumberScheduled": len(self.nodes),
                "desiredNumberScheduled": len(self.nodes),
                "numberAvailable": ready,
                "numberMisscheduled": 0,
                "numberReady": ready,
                "observedGeneration": 1,
                "updatedNumberScheduled": len(self.nodes),
                **({"numberUnavailable": len(self.nodes) - ready} if ready < len(self.nodes) else {}),
            },
        }
        self.emit(when, ds)
        for i, n in enumerate(self.nodes):
            pname = generate_name(f"{ds_name}-") + self.ids.suffix()
            started = when + timedelta(minutes=1 + i)
            if n.publish:
                state: Obj = {"running": {"startedAt": ts(started)}}
                last: Obj = {}
                ready_s, restarts, phase_ready = True, 0, "True"
            else:
                state = {"waiting": {"message": "back-off 5m0s restarting failed container=gpus pod="
                                                f"{pname}_{ns}({uid('Pod', ns, pname)})",
                                     "reason": "CrashLoopBackOff"}}
                last = {"terminated": {"containerID": "containerd://" + self.ids.hexid(64), "exitCode": 1,
                                       "finishedAt": ts(self.ids.at(minutes=-3)), "reason": "Error",
                                       "startedAt": ts(self.ids.at(minutes=-3, seconds=-4))}}
                ready_s, restarts, phase_ready = False, 212, "False"
            pod: Obj = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": self.meta(
                    "Pod", pname, started, ns,
                    labels={"app.kubernetes.io/instance": app, "app.kubernetes.io/name": app,
                            "controller-revision-hash": "6d5f8c7b9", "pod-template-generation": "1", **selector},
                    owner=self.ref(ds), generate=f"{ds_name}-",
                ),
                "spec": {
                    "containers": [{"image": image, "imagePullPolicy": "IfNotPresent", "name": "gpus",
                                    "resources": {}, "securityContext": {"privileged": True}}],
                    "nodeName": n.name,
                    "priorityClassName": "system-node-critical",
                    "restartPolicy": "Always",
                    "serviceAccountName": f"{app}-service-account-kubeletplugin",
                },
                "status": {
                    "conditions": [
                        {"lastProbeTime": None, "lastTransitionTime": ts(started), "status": phase_ready,
                         "type": "Ready"},
                        {"lastProbeTime": None, "lastTransitionTime": ts(started), "status": "True",
                         "type": "PodScheduled"},
                    ],
                    "containerStatuses": [
                        {"containerID": "containerd://" + self.ids.hexid(64), "image": image,
                         "imageID": image.split(":")[0] + "@sha256:" + self.ids.hexid(64), "lastState": last,
                         "name": "gpus", "ready": ready_s, "restartCount": restarts, "started": ready_s,
                         "state": state}
                    ],
                    "hostIP": n.ip,
                    "phase": "Running",
                    "podIP": f"10.244.{i + 1}.4",
                    "qosClass": "BestEffort",
                    "startTime": ts(started),
                },
            }
            self.emit(started if n.publish else self.ids.at(minutes=-3), pod)
        self._device_classes(when)

    def _device_classes(self, when: datetime) -> None:
        ns, app, _, chart = self._driver_names()
        class_config = [vm for vm in self.vms if vm.config_source == "class" and vm.vfio is not None]
        for name, typ in self.device_class_types().items():
            spec: Obj = {"selectors": [{"cel": {"expression": self.class_selector(typ)}}]}
            if typ == "vfio" and class_config:
                spec["config"] = [{"opaque": {"driver": DRIVER, "parameters": self._vfio_params(class_config[0])}}]
            obj: Obj = {
                "apiVersion": self.res_api(),
                "kind": "DeviceClass",
                "metadata": self.meta(
                    "DeviceClass", name, when,
                    labels={"app.kubernetes.io/managed-by": "Helm"},
                    annotations={"meta.helm.sh/release-name": app, "meta.helm.sh/release-namespace": ns},
                    generation=1,
                ),
                "spec": spec,
            }
            self.emit(when, obj)

    def device_class_types(self) -> dict[str, str]:
        """The chart installs the gpu, mig and vfio classes whatever the driver gates; vgpu only with VGPUSupport."""
        classes = {GPU_CLASS: "gpu", "mig.nvidia.com": "mig", VFIO_CLASS: "vfio"}
        if any(n.vgpu for n in self.nodes):
            classes[VGPU_CLASS] = "vgpu"
        return classes

    @staticmethod
    def class_selector(typ: str) -> str:
        return f"device.driver == '{DRIVER}' && device.attributes['{DRIVER}'].type == '{typ}'"

    def _vfio_params(self, vm: VM) -> Obj:
        params: Obj = {"apiVersion": "resource.nvidia.com/v1beta1", "kind": "VfioDeviceConfig"}
        params.update(copy.deepcopy(vm.vfio or {}))
        return params

    # ---- devices and slices -------------------------------------------------------------------

    def _slices_devices(self) -> None:
        for n in self.nodes:
            for idx, slot in enumerate(slots_for(n.gpus, n.model)):
                gpu_uuid = "GPU-" + uid("gpu", n.name, str(idx))
                gpu_attrs: Obj = {
                    "architecture": {"string": n.model.architecture},
                    "brand": {"string": "Nvidia"},
                    "cudaComputeCapability": {"version": n.model.compute_capability},
                    "cudaDriverVersion": {"version": CUDA_DRIVER},
                    "driverVersion": {"version": NVIDIA_KERNEL_DRIVER},
                    "productName": {"string": n.model.product},
                    "resource.kubernetes.io/pciBusID": {"string": slot.pci},
                    "resource.kubernetes.io/pcieRoot": {"string": slot.root},
                    "type": {"string": "gpu"},
                    "uuid": {"string": gpu_uuid},
                }
                if self.driver_new:
                    gpu_attrs["resource.kubernetes.io/numaNode"] = {"int": slot.numa}
                self._add_device(Device(n.name, f"gpu-{idx}", "gpu", slot, idx, n.model, gpu_attrs,
                                        {"memory": {"value": n.model.memory}}))
                if n.passthrough:
                    import uuid as _uuid

                    vattrs: Obj = {
                        "deviceID": {"string": n.model.device_id},
                        "productName": {"string": n.model.pci_name},
                        "resource.kubernetes.io/pciBusID": {"string": slot.pci},
                        "resource.kubernetes.io/pcieRoot": {"string": slot.root},
                        "type": {"string": "vfio"},
                        # uuid.NewSHA1(uuid.NameSpaceDNS, pciBusID): a hash of the address, not the GPU UUID
                        "uuid": {"string": str(_uuid.uuid5(_uuid.NAMESPACE_DNS, slot.pci))},
                        "vendorID": {"string": "0x10de"},
                    }
                    if self.driver_new:
                        vattrs["iommuFDEnabled"] = {"bool": True}
                        vattrs["resource.kubernetes.io/numaNode"] = {"int": slot.numa}
                    else:
                        vattrs["numa"] = {"int": slot.numa}
                    self._add_device(Device(n.name, f"gpu-vfio-{idx}", "vfio", slot, idx, n.model, vattrs,
                                            {"addressableMemory": {"value": n.model.addressable}}))
                if n.vgpu:
                    for j in range(n.model.vgpus_per_gpu):
                        a: Obj = {
                            "parentUUID": {"string": gpu_uuid},
                            "productName": {"string": n.model.product},
                            "profile": {"string": n.model.vgpu_profile},
                            "resource.kubernetes.io/pciBusID": {"string": slot.pci},
                            "resource.kubernetes.io/pcieRoot": {"string": slot.root},
                            "type": {"string": "vgpu"},
                        }
                        self._add_device(Device(n.name, f"gpu-{idx}-vgpu-{j}", "vgpu", slot, idx, n.model, a,
                                                {"framebuffer": {"value": "12Gi"}}))
            # taints the driver published before the VMs came (e.g. a fatal XID): the allocator sees them
            for dname, taints in n.device_taints.items():
                for t in taints:
                    taint = {"timeAdded": ts(self.ids.at(minutes=-60 * 5)), **t}
                    self.devices[(n.name, dname)].taints.append(taint)

    def _add_device(self, d: Device) -> None:
        self.devices[(d.node, d.name)] = d

    def _slices(self) -> None:
        when = self.ids.at(minutes=-60 * 24 * 9 + 2)
        for n in self.nodes:
            if not n.publish:
                continue
            devs = [d for (node, _), d in self.devices.items() if node == n.name and d.published]
            # After a VFIO prepare the driver drops the gpu-<n> twin of the prepared GPU and republishes.
            prepared = {d.index for (node, _), d in self.devices.items()
                        if node == n.name and d.kind == "vfio" and (node, d.name) in self.prepared}
            devs = [d for d in devs if not (d.kind == "gpu" and d.index in prepared)]
            generation = 1 + len(prepared) + sum(1 for (node, _), d in self.devices.items()
                                                 if node == n.name and (not d.published or d.pci_published is not None))
            generation += 1 if n.device_taints else 0  # the driver republished the pool with the taints
            count = n.slices
            chunks: list[list[Device]] = [[] for _ in range(count)]
            for i, d in enumerate(devs):
                chunks[i * count // max(len(devs), 1)].append(d)
            if n.stale_generation:
                self._slice(n, devs[: max(1, len(devs) // 2)], generation - 1, count, when, 0)
            for i, chunk in enumerate(chunks[: count - n.missing_slices]):
                self._slice(n, chunk, generation, count, when, i)

    def _slice(self, n: Node, devs: list[Device], generation: int, count: int, when: datetime, i: int) -> None:
        node_obj = next(o for _, o in self.objects if o["kind"] == "Node" and o["metadata"]["name"] == n.name)
        if self.driver_new:
            gen = f"00000-{DRIVER}-{n.name}-" if vtuple(self.kubernetes)[1] >= 35 else f"{n.name}-{DRIVER}-"
        else:
            gen = f"{n.name}-{DRIVER}-"
        name = gen + self.ids.suffix()
        devices = []
        for d in sorted(devs, key=lambda x: (x.index, x.kind != "gpu", x.name)):
            attrs = copy.deepcopy(d.attrs)
            if d.pci_published is not None:
                if d.pci_published == "":
                    attrs.pop("resource.kubernetes.io/pciBusID", None)
                else:
                    attrs["resource.kubernetes.io/pciBusID"] = {"string": d.pci_published}
            dev: Obj = {"attributes": attrs, "capacity": copy.deepcopy(d.capacity), "name": d.name}
            if d.taints:
                dev["taints"] = copy.deepcopy(d.taints)
            devices.append(self._device_version(dev))
        spec: Obj = {
            "devices": devices,
            "driver": DRIVER,
            "nodeName": n.name,
            "pool": {"generation": generation, "name": n.name, "resourceSliceCount": count},
        }
        obj: Obj = {
            "apiVersion": self.res_api(),
            "kind": "ResourceSlice",
            "metadata": self.meta("ResourceSlice", name, when + timedelta(seconds=i),
                                  owner=self.ref(node_obj, block=False), generate=gen, generation=generation),
            "spec": spec,
        }
        self.emit(self.ids.at(minutes=-1 + 0.1 * i) if generation > 1 else when, obj)

    def _device_version(self, dev: Obj) -> Obj:
        if self.resource_api != "v1beta1":
            return dev
        basic = {k: v for k, v in dev.items() if k != "name"}
        return {"basic": basic, "name": dev["name"]}

    # ---- claims -----------------------------------------------------------------------------------

    def _request_spec(self, vm: VM, rname: str) -> Obj:
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
        if self.resource_api == "v1beta1":
            flat = {"name": rname, **exactly}
            return flat
        return {"exactly": exactly, "name": rname}

    def claim_spec(self, vm: VM) -> Obj:
        names = vm.request_names()
        devices: Obj = {"requests": [self._request_spec(vm, r) for r in names]}
        if vm.vfio is not None and vm.config_source == "claim":
            devices["config"] = [{"opaque": {"driver": DRIVER, "parameters": self._vfio_params(vm)},
                                  "requests": list(names)}]
        if vm.same_numa and len(names) > 1:
            devices["constraints"] = [{"matchAttribute": "resource.kubernetes.io/numaNode", "requests": list(names)}]
        return {"devices": devices}

    def _template(self, vm: VM, when: datetime) -> None:
        obj: Obj = {
            "apiVersion": self.res_api(),
            "kind": "ResourceClaimTemplate",
            "metadata": self.meta("ResourceClaimTemplate", vm.template, when, vm.namespace, generation=1,
                                  annotations={"kubectl.kubernetes.io/last-applied-configuration": ""}),
            "spec": {"metadata": {"labels": {"app.kubernetes.io/part-of": "gpu-vms"}}, "spec": self.claim_spec(vm)},
        }
        last = {"apiVersion": obj["apiVersion"], "kind": obj["kind"],
                "metadata": {"annotations": {}, "name": vm.template, "namespace": vm.namespace},
                "spec": obj["spec"]}
        obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = (
            json.dumps(last, separators=(",", ":"), sort_keys=True) + "\n"
        )
        if not any(o["kind"] == "ResourceClaimTemplate" and o["metadata"]["name"] == vm.template
                   and o["metadata"].get("namespace") == vm.namespace for _, o in self.objects):
            self.emit(when, obj)

    def _allocate(self, vm: VM, prefer: str | None) -> tuple[list[tuple[str, Device]], str]:
        """Pick devices like the scheduler's allocator; returns (results, failure message)."""
        classes = self.device_class_types()
        if vm.device_class not in classes:
            r = vm.request_names()[0]
            k = len(self.nodes)
            return [], (f"0/{k} nodes are available: request {r}: device class {vm.device_class} does not exist. "
                        f"preemption: 0/{k} nodes are available: {k} Preemption is not helpful for scheduling.")
        # Filter: NodeAffinity (the pod's nodeSelector) runs before DynamicResources; a node it rejects never
        # reaches the allocator.
        selector = self.pod_node_selector(vm)
        excluded = [n for n in self.nodes if any(self.node_labels(n).get(k) != v for k, v in selector.items())]
        nodes = [n for n in self.nodes if n.publish and n not in excluded]
        if prefer:
            nodes.sort(key=lambda n: n.name != prefer)
        total = len(self.nodes)
        for n in nodes:
            free = [d for (node, _), d in self.devices.items()
                    if node == n.name and self._selectable(vm, d, self.class_selector(classes[vm.device_class]))]
            need = vm.count * len(vm.request_names()) if not vm.all_mode else len(free)
            if vm.same_numa and len(vm.request_names()) > 1:
                for numa in sorted({d.slot.numa for d in free}):
                    group = [d for d in free if d.slot.numa == numa]
                    if len(group) >= need:
                        free = group
                        break
                else:
                    continue
            if need == 0 or len(free) < need:
                continue
            picked = free[:need]
            results: list[tuple[str, Device]] = []
            for i, r in enumerate(vm.request_names()):
                chunk = picked if vm.all_mode else picked[i * vm.count:(i + 1) * vm.count]
                for d in chunk:
                    results.append((f"{r}/h100" if vm.first_available else r, d))
            return results, ""
        return [], self._unschedulable(total, {"node(s) didn't match Pod's node affinity/selector": len(excluded),
                                               "cannot allocate all claims": total - len(excluded)})

    def _selectable(self, vm: VM, d: Device, class_selector: str) -> bool:
        """Can the allocator hand this device to the VM's requests?"""
        if not d.published or (d.node, d.name) in self.taken:
            return False
        if not all(celsim.matches(e, d.attrs, DRIVER) for e in (class_selector, *vm.selectors)):
            return False  # the class's selectors, then the request's
        if any(t.get("effect") in ("NoSchedule", "NoExecute") and not self._tolerated(t, vm.tolerations)
               for t in d.taints):
            return False
        # a prepared twin (gpu-<n> / gpu-vfio-<n>) makes the other one unusable
        return not self._twin_busy(d)

    @staticmethod
    def _tolerated(taint: Obj, tolerations: list[Obj]) -> bool:
        """resource.k8s.io DeviceToleration matching: operator Equal (default) or Exists, effect empty = all."""
        for tol in tolerations:
            if tol.get("effect") and tol["effect"] != taint.get("effect"):
                continue
            if tol.get("operator", "Equal") == "Exists":
                if not tol.get("key") or tol["key"] == taint.get("key"):
                    return True
            elif tol.get("key") == taint.get("key") and tol.get("value", "") == taint.get("value", ""):
                return True
        return False

    def _unschedulable(self, total: int, reasons: dict[str, int]) -> str:
        """FitError.Error(): `0/N nodes are available: <count reason>, ... (sorted).` then the PostFilter message.

        Both reasons here are UnschedulableAndUnresolvable, so preemption finds no node where it might help."""
        hist = ", ".join(sorted(f"{v} {k}" for k, v in reasons.items() if v))
        post = "still not schedulable, " if self.postfilter_message else ""
        return (f"0/{total} nodes are available: {hist}. {post}preemption: 0/{total} nodes are available: {total} "
                f"Preemption is not helpful for scheduling.")

    def _claim_obj(
        self,
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
        meta = self.meta(
            "ResourceClaim", name, when, vm.namespace,
            annotations={"resource.kubernetes.io/pod-claim-name": pod_claim} if pod_claim else None,
            owner=self.ref(pod) if pod is not None and pod_claim else None,
            finalizers=["resource.kubernetes.io/delete-protection"] if results else None,
            generation=1, generate=generate,
            labels={"app.kubernetes.io/part-of": "gpu-vms"} if pod_claim else {"app.kubernetes.io/part-of": "gpu-vms"},
        )
        obj: Obj = {"apiVersion": self.res_api(), "kind": "ResourceClaim", "metadata": meta,
                    "spec": self.claim_spec(vm)}
        if results:
            res = [{"device": d.name, "driver": DRIVER, "pool": d.node, "request": r} for r, d in results]
            alloc: Obj = {"devices": {"results": res}}
            if vm.vfio is not None:
                alloc["devices"]["config"] = [{
                    "opaque": {"driver": DRIVER, "parameters": self._vfio_params(vm)},
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

    # ---- events -----------------------------------------------------------------------------------

    def event(
        self,
        involved: Obj,
        reason: str,
        message: str,
        when: datetime,
        *,
        type_: str = "Warning",
        component: str,
        host: str = "",
        count: int = 1,
        last: datetime | None = None,
    ) -> Obj:
        """A core/v1 Event from a client-go EventRecorder (kubelet, KubeVirt, kube-controller-manager)."""
        ns = involved["metadata"].get("namespace", "default")
        name = f"{involved['metadata']['name']}.{int(when.timestamp() * 1e9) + len(self.objects):x}"
        src: Obj = {"component": component}
        if host:
            src["host"] = host
        obj: Obj = {
            "apiVersion": "v1",
            "count": count,
            "eventTime": None,
            "firstTimestamp": ts(when),
            "involvedObject": {
                "apiVersion": involved["apiVersion"],
                "kind": involved["kind"],
                "name": involved["metadata"]["name"],
                "namespace": ns,
                "resourceVersion": "",
                "uid": involved["metadata"]["uid"],
            },
            "kind": "Event",
            "lastTimestamp": ts(last or when),
            "message": message,
            "metadata": self.meta("Event", name, when, ns),
            "reason": reason,
            "reportingComponent": component,
            "reportingInstance": host,
            "source": src,
            "type": type_,
        }
        return self.emit(last or when, obj)

    def sched_event(self, pod: Obj, reason: str, message: str, when: datetime, *, count: int = 1,
                    last: datetime | None = None, type_: str = "Warning") -> Obj:
        """kube-scheduler records through events.k8s.io/v1: read as core/v1 it has eventTime, no counts."""
        ns = pod["metadata"]["namespace"]
        name = f"{pod['metadata']['name']}.{int(when.timestamp() * 1e9) + len(self.objects):x}"
        obj: Obj = {
            "action": "Scheduling" if reason == "FailedScheduling" else "Binding",
            "apiVersion": "v1",
            "eventTime": micro(when),
            "firstTimestamp": None,
            "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": pod["metadata"]["name"], "namespace": ns,
                               "resourceVersion": "", "uid": pod["metadata"]["uid"]},
            "kind": "Event",
            "lastTimestamp": None,
            "message": message,
            "metadata": self.meta("Event", name, when, ns),
            "reason": reason,
            "reportingComponent": "default-scheduler",
            "reportingInstance": "default-scheduler-cp-01",
            "source": {},
            "type": type_,
        }
        if count > 1:
            obj["series"] = {"count": count, "lastObservedTime": micro(last or when)}
        return self.emit(last or when, obj)

    # ---- VM chain ---------------------------------------------------------------------------------

    def _admission(self, vm: VM) -> str:
        msgs = []
        field = "hostDevices" if vm.host_devices else "gpus"
        typ = "HostDevice" if vm.host_devices else "GPU"
        gate = "HostDevicesWithDRA" if vm.host_devices else "GPUsWithDRA"
        if vm.device_plugin_gpu and self.kv >= (1, 8, 3) and not vm.host_devices:
            return (f"vmi.spec.domain.devices.{field} contains both DRA and non-DRA {typ}s; each {typ} must be "
                    f"either DRA or non-DRA")
        if not self.gate_on(gate):
            return f"vmi.spec.domain.devices.{field} contains DRA enabled {typ}s but feature gate is not enabled"
        if vm.duplicate_gpu:
            r = (vm.vmi_request_names or vm.request_names())[0]
            msgs.append(f"duplicate claimName/requestName pair \"{vm.pod_claim}/{r}\"")
        if not vm.declare_claim:
            msgs.append("vmi.spec.resourceClaims must specify all claims used in vmi.spec.domain.devices.gpus and "
                        "vmi.spec.domain.devices.hostDevices")
        return ", ".join(msgs)

    def _vmi_devices(self, vm: VM) -> Obj:
        names = vm.vmi_request_names or vm.request_names()
        entries = []
        for i, dname in enumerate(vm.device_names()):
            e: Obj = {"claimName": vm.pod_claim, "name": dname, "requestName": names[min(i, len(names) - 1)]}
            entries.append(e)
        if vm.duplicate_gpu:
            entries.append({"claimName": vm.pod_claim, "name": f"gpu{len(entries)}",
                            "requestName": entries[0]["requestName"]})
        devices: Obj = {
            "disks": [{"disk": {"bus": "virtio"}, "name": "rootdisk"}, {"disk": {"bus": "virtio"},
                                                                         "name": "cloudinitdisk"}],
            "interfaces": [{"masquerade": {}, "name": "default"}],
        }
        if vm.host_devices:
            devices["hostDevices"] = entries
        else:
            if vm.device_plugin_gpu:
                entries = [{"deviceName": "nvidia.com/GH100_H100_SXM5_80GB", "name": "gpu-legacy"}] + entries
            devices["gpus"] = entries
        return devices

    def _resource_claims(self, vm: VM) -> list[Obj]:
        if not vm.declare_claim:
            return []
        rc: Obj = {"name": vm.pod_claim}
        if vm.claim_source in ("one", "both"):
            if vm.claim == "template" or vm.claim_source == "both":
                rc["resourceClaimTemplateName"] = vm.template
            if vm.claim == "direct" or vm.claim_source == "both":
                rc["resourceClaimName"] = vm.direct_claim()
        return [rc]

    def _vm_spec(self, vm: VM, *, defaults: bool) -> Obj:
        domain: Obj = {"cpu": {"cores": vm.cores}, "devices": self._vmi_devices(vm),
                       "memory": {"guest": vm.memory}, "resources": {}}
        if defaults:
            domain["cpu"] = {"cores": vm.cores, "model": "host-model", "sockets": 1, "threads": 1}
            domain["features"] = {"acpi": {"enabled": True}}
            domain["firmware"] = {"serial": uid("serial", vm.namespace, vm.name),
                                  "uuid": uid("firmware", vm.namespace, vm.name)}
            domain["machine"] = {"type": "q35"}
            domain["resources"] = {"requests": {"memory": vm.memory}}
        else:
            domain["machine"] = {"type": "q35"}
        spec: Obj = {
            "architecture": "amd64",
            "domain": domain,
            "evictionStrategy": "None",
            "networks": [{"name": "default", "pod": {}}],
            "terminationGracePeriodSeconds": 180,
            "volumes": [
                {"containerDisk": {"image": vm.image, "imagePullPolicy": "IfNotPresent"}, "name": "rootdisk"},
                {"cloudInitNoCloud": {"userData": "#cloud-config\nuser: ubuntu\nssh_authorized_keys:\n"
                                                  "  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGpu lab@bastion\n"
                                                  "packages:\n  - nvidia-driver-580-server\n"},
                 "name": "cloudinitdisk"},
            ],
        }
        rcs = self._resource_claims(vm)
        if rcs:
            spec["resourceClaims"] = rcs
        if vm.node_selector:
            spec["nodeSelector"] = dict(vm.node_selector)
        return spec

    def _vm(self, vm: VM) -> Chain:
        ch = Chain(vm)
        t0 = self.ids.at(minutes=vm.minutes or 0.0)
        ns = vm.namespace
        # user objects: template or direct claim
        if vm.claim == "template" and vm.create_template:
            self._template(vm, t0 - timedelta(minutes=1))
        labels = {"kubevirt.io/vm": vm.name, **vm.labels}
        vm_obj: Obj = {
            "apiVersion": "kubevirt.io/v1",
            "kind": "VirtualMachine",
            "metadata": self.meta(
                "VirtualMachine", vm.name, t0, ns,
                annotations={"kubevirt.io/latest-observed-api-version": "v1",
                             "kubevirt.io/storage-observed-api-version": "v1"},
                finalizers=["kubevirt.io/virtualMachineControllerFinalize"], generation=1,
                labels={"app.kubernetes.io/part-of": "gpu-vms"},
            ),
            "spec": {
                "runStrategy": vm.run_strategy,
                "template": {"metadata": {"creationTimestamp": None, "labels": labels},
                             "spec": self._vm_spec(vm, defaults=False)},
            },
        }
        vm_status: Obj = {"desiredGeneration": 1, "observedGeneration": 1, "runStrategy": vm.run_strategy,
                          "volumeSnapshotStatuses": [
                              {"enabled": False, "name": "rootdisk",
                               "reason": "Snapshot is not supported for this volumeSource type [rootdisk]"},
                              {"enabled": False, "name": "cloudinitdisk",
                               "reason": "Snapshot is not supported for this volumeSource type [cloudinitdisk]"}]}
        vm_obj["status"] = vm_status
        self.emit(t0 + timedelta(seconds=2), vm_obj)
        direct_claim: Obj | None = None
        if vm.claim == "direct" and vm.create_claim:
            direct_claim = self._claim_obj(vm, vm.direct_claim(), t0 - timedelta(minutes=1), pod=None,
                                           pod_claim=None, results=[], node="", reserved=[])
            self.emit(t0 - timedelta(minutes=1), direct_claim)
        if vm.run_strategy == "Halted":
            vm_status["printableStatus"] = "Stopped"
            vm_status["conditions"] = [{"lastProbeTime": None, "lastTransitionTime": ts(t0), "message":
                                        "VMI does not exist", "reason": "VMINotExists", "status": "False",
                                        "type": "Ready"}]
            return ch
        denial = self._admission(vm)
        if denial:
            ch.refused = denial
            msg = ("Failure while starting VMI: admission webhook "
                   f"\"virtualmachineinstances-create-validator.kubevirt.io\" denied the request: {denial}")
            vm_status["printableStatus"] = "Starting"
            vm_status["conditions"] = [
                {"lastProbeTime": None, "lastTransitionTime": ts(t0), "message": "VMI does not exist",
                 "reason": "VMINotExists", "status": "False", "type": "Ready"},
                {"lastProbeTime": None, "lastTransitionTime": ts(t0 + timedelta(seconds=1)), "message": msg,
                 "reason": "FailedCreate", "status": "True", "type": "Failure"},
            ]
            vm_status["startFailure"] = {"consecutiveFailCount": 6, "lastFailedVMIUID": "",
                                         "retryAfterTimestamp": ts(self.ids.at(minutes=120))}
            self.event(vm_obj, "FailedCreate", "Error creating virtual machine instance: Failed to create virtual "
                       f"machine instance {vm.name}: admission webhook \"virtualmachineinstances-create-validator."
                       f"kubevirt.io\" denied the request: {denial}", t0 + timedelta(seconds=1),
                       component="virtualmachine-controller", count=6, last=self.ids.at(minutes=95))
            return ch
        # VMI
        vmi_spec = self._vm_spec(vm, defaults=True)
        vmi: Obj = {
            "apiVersion": "kubevirt.io/v1",
            "kind": "VirtualMachineInstance",
            "metadata": self.meta(
                "VirtualMachineInstance", vm.name, t0 + timedelta(seconds=3), ns, labels=dict(labels),
                annotations={"kubevirt.io/latest-observed-api-version": "v1",
                             "kubevirt.io/storage-observed-api-version": "v1", "kubevirt.io/vm-generation": "1"},
                owner=self.ref(vm_obj), finalizers=["kubevirt.io/virtualMachineControllerFinalize",
                                                    "foregroundDeleteVirtualMachine"], generation=8,
            ),
            "spec": vmi_spec,
        }
        vmi_status: Obj = {"guestOSInfo": {}, "qosClass": "Burstable", "runtimeUser": 107,
                           "virtualMachineRevisionName": f"revision-start-vm-{vm_obj['metadata']['uid']}-1"}
        vmi["status"] = vmi_status
        self.emit(t0 + timedelta(minutes=2), vmi)
        self.event(vm_obj, "SuccessfulCreate", f"Started the virtual machine by creating the new virtual machine "
                   f"instance {vm.name}", t0 + timedelta(seconds=3), type_="Normal",
                   component="virtualmachine-controller")
        tp = t0 + timedelta(seconds=4)
        pod_base = generate_name(f"virt-launcher-{vm.name}-")
        pod_name = pod_base + self.ids.suffix()
        if "pod-quota" in vm.faults:
            ch.vmi_phase = "Pending"
            self._vmi_status(vm, ch, vmi, vm_obj, None, t0)
            self.event(vmi, "FailedCreate", f"Error creating pod: pods \"{pod_name}\" is forbidden: exceeded quota: "
                       f"compute-resources, requested: requests.memory=33822Mi, used: requests.memory=194Gi, "
                       f"limited: requests.memory=200Gi", tp, component="virtualmachine-controller",
                       count=14, last=self.ids.at(minutes=95))
            return ch
        if vm.claim_source == "both" or (vm.claim_source == "neither" and vm.declare_claim):
            ch.vmi_phase = "Pending"
            self._vmi_status(vm, ch, vmi, vm_obj, None, t0)
            rc = self._resource_claims(vm)[0]
            detail = ("at most one of `resourceClaimName` or `resourceClaimTemplateName` may be specified"
                      if vm.claim_source == "both" else
                      "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`")
            self.event(vmi, "FailedCreate", f"Error creating pod: Pod \"{pod_name}\" is invalid: "
                       f"spec.resourceClaims[0]: Invalid value: {json.dumps(rc, separators=(',', ':'))}: {detail}",
                       tp, component="virtualmachine-controller", count=14, last=self.ids.at(minutes=95))
            return ch
        ch.pod_name = pod_name
        pod = self._launcher_pod(vm, ch, vmi, pod_name, pod_base, tp)
        ch.pod_uid = pod["metadata"]["uid"]
        self.event(vmi, "SuccessfulCreate", f"Created virtual machine pod {pod_name}", tp, type_="Normal",
                   component="virtualmachine-controller")
        # the claim behind the pod
        claim: Obj | None = None
        results: list[tuple[str, Device]] = []
        pending = ""
        if vm.claim == "template":
            if not vm.create_template:
                ch.pod_state = "unschedulable"
                pending = (f"PodResourceClaim {vm.pod_claim}: resource claim template \"{vm.template}\": "
                           f"resourceclaimtemplate.resource.k8s.io \"{vm.template}\" not found")
                self.event(pod, "FailedResourceClaimCreation", pending, tp, component="resource_claim",
                           count=9, last=self.ids.at(minutes=90))
            elif "claim-quota" in vm.faults:
                ch.pod_state = "unschedulable"
                gen = claim_generate_name(pod_name, vm.pod_claim)
                pending = (f"PodResourceClaim {vm.pod_claim}: create ResourceClaim : resourceclaims.resource.k8s.io "
                           f"\"{gen}\" is forbidden: exceeded quota: gpu-claims, requested: "
                           f"count/resourceclaims.resource.k8s.io=1, used: count/resourceclaims.resource.k8s.io=4, "
                           f"limited: count/resourceclaims.resource.k8s.io=4")
                self.event(pod, "FailedResourceClaimCreation", pending, tp, component="resource_claim",
                           count=11, last=self.ids.at(minutes=90))
        elif not vm.create_claim:
            ch.pod_state = "unschedulable"
            pending = f"0/{len(self.nodes)} nodes are available: could not find ResourceClaim \"{ns}/" \
                      f"{vm.direct_claim()}\". preemption: 0/{len(self.nodes)} nodes are available: " \
                      f"{len(self.nodes)} Preemption is not helpful for scheduling."
            self.sched_event(pod, "FailedScheduling", pending, tp, count=17, last=self.ids.at(minutes=92))
        if not ch.pod_state:
            prefer = vm.node
            results, fail = self._allocate(vm, prefer)
            if fail:
                ch.pod_state = "unschedulable"
                pending = fail
        if vm.claim == "template" and vm.create_template and "claim-quota" not in vm.faults:
            gen = claim_generate_name(pod_name, vm.pod_claim)
            ch.claim_name = gen + self.ids.suffix()
        elif vm.claim == "direct":
            ch.claim_name = vm.direct_claim()
        node = ""
        if results:
            node = results[0][1].node
            if "wrong-node" in vm.faults:
                others = [n.name for n in self.nodes if n.name != node]
                node, alloc_node = (others[0] if others else node), node
            else:
                alloc_node = node
            for r, d in results:
                self.taken[(d.node, d.name)] = f"{ns}/{vm.name}"
                ch.devices.append((r, d))
                self._device_faults(vm, d)
            ch.node = node
            ch.pod_state = "creating"
        else:
            alloc_node = ""
        if ch.claim_name:
            reserved = []
            if results and "not-reserved" not in vm.faults:
                reserved = [{"name": pod_name, "resource": "pods", "uid": ch.pod_uid}]
            if vm.claim == "template":
                claim = self._claim_obj(vm, ch.claim_name, tp + timedelta(seconds=1), pod=pod, pod_claim=vm.pod_claim,
                                        results=results, node=alloc_node, reserved=reserved,
                                        generate=claim_generate_name(pod_name, vm.pod_claim))
                self.emit(tp + timedelta(seconds=2), claim)
            elif direct_claim is not None:
                claim = direct_claim
                upd = self._claim_obj(vm, ch.claim_name, t0, pod=None, pod_claim=None, results=results,
                                      node=alloc_node, reserved=reserved)
                if "status" in upd:
                    claim["status"] = upd["status"]
                    claim["metadata"]["finalizers"] = ["resource.kubernetes.io/delete-protection"]
                    self.objects = [(tp + timedelta(seconds=2) if o is claim else w, o) for w, o in self.objects]
            if claim is not None:
                ch.claim_uid = claim["metadata"]["uid"]
                if "deleting" in vm.faults:
                    claim["metadata"]["deletionTimestamp"] = ts(self.ids.at(minutes=88))
                    claim["metadata"]["deletionGracePeriodSeconds"] = 0
        if ch.pod_state == "unschedulable" and pending and not pending.startswith("PodResourceClaim") and \
                "could not find" not in pending:
            self.sched_event(pod, "FailedScheduling", pending, tp + timedelta(seconds=2), count=23,
                             last=self.ids.at(minutes=94))
        ch.pending_reason = pending
        if "stale-claim" in vm.faults:
            self._stale_claim(vm, ch, t0)
        # kubelet: prepare
        if ch.pod_state == "creating":
            self.sched_event(pod, "Scheduled", f"Successfully assigned {ns}/{pod_name} to {node}",
                             tp + timedelta(seconds=3), type_="Normal")
            prep = self._prepare_error(vm, ch, claim)
            if prep:
                self.event(pod, "FailedPrepareDynamicResources", prep, tp + timedelta(seconds=5),
                           component="kubelet", host=node, count=27, last=self.ids.at(minutes=93))
            else:
                ch.pod_state = "running"
                self.prepared.update((d.node, d.name) for _, d in ch.devices)
        self._pod_status(vm, ch, pod, tp, pending)
        # virt-launcher
        if ch.pod_state == "running":
            self._launcher(vm, ch, vmi, pod, claim, tp)
        else:
            ch.vmi_phase = "Scheduling"
            ch.domain = "none"
        self._vmi_status(vm, ch, vmi, vm_obj, pod, t0)
        self._evidence(vm, ch, pod, claim, tp)
        return ch

    def _twin_busy(self, d: Device) -> bool:
        if d.kind == "gpu":
            twin = (d.node, f"gpu-vfio-{d.index}")
        elif d.kind == "vfio":
            twin = (d.node, f"gpu-{d.index}")
        else:
            return False
        return twin in self.taken and twin not in self.racing

    def _device_faults(self, vm: VM, d: Device) -> None:
        """What the driver publishes about an allocated device after the fact."""
        if "device-gone" in vm.faults:
            d.published = False
        if "pci-mismatch" in vm.faults:
            dom, bus, rest = d.slot.pci.split(":")
            d.pci_published = f"{dom}:{int(bus, 16) + 1:02x}:{rest}"
        if "no-pci" in vm.faults:
            d.pci_published = ""
        if "pci-malformed" in vm.faults:
            d.pci_published = d.slot.pci.upper()
        if "taint" in vm.faults:
            d.taints.append({"effect": "NoSchedule", "key": "gpu.nvidia.com/xid", "timeAdded":
                             ts(self.ids.at(minutes=71)), "value": "79"})

    def _stale_claim(self, vm: VM, ch: Chain, t0: datetime) -> None:
        """The generated claim of a launcher pod that was force-deleted: owner gone, still holding a GPU."""
        old_pod = generate_name(f"virt-launcher-{vm.name}-") + self.ids.suffix()
        old_uid = uid("Pod", vm.namespace, old_pod)
        free = [d for (node, _), d in self.devices.items() if d.kind == "vfio" and (node, d.name) not in self.taken
                and d.published]
        if not free:
            return
        d = free[0]
        self.taken[(d.node, d.name)] = "stale"
        gen = claim_generate_name(old_pod, vm.pod_claim)
        name = gen + self.ids.suffix()
        when = t0 - timedelta(hours=26)
        claim = self._claim_obj(vm, name, when, pod=None, pod_claim=vm.pod_claim, results=[(vm.request_names()[0], d)],
                                node=d.node, reserved=[{"name": old_pod, "resource": "pods", "uid": old_uid}],
                                generate=gen)
        claim["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "blockOwnerDeletion": True, "controller": True,
                                                 "kind": "Pod", "name": old_pod, "uid": old_uid}]
        self.emit(when + timedelta(seconds=3), claim)

    def _prepare_error(self, vm: VM, ch: Chain, claim: Obj | None) -> str:
        cname = ch.claim_name
        base = "Failed to prepare dynamic resources: prepare dynamic resources: "
        if "not-reserved" in vm.faults:
            return base + f"pod {ch.pod_name} ({ch.pod_uid}) is not allowed to use ResourceClaim {cname}"
        if "wrong-node" in vm.faults:
            return base + (f"NodePrepareResources failed for ResourceClaim {cname}: claim {vm.namespace}/{cname} "
                           f"is not allocated for node {ch.node}")
        if "prepare-timeout" in vm.faults:
            return base + "NodePrepareResources: rpc error: code = DeadlineExceeded desc = context deadline exceeded"
        if "gpu-busy" in vm.faults:
            d = ch.devices[0][1]
            return base + (f"NodePrepareResources failed for ResourceClaim {cname}: error preparing devices for "
                           f"claim {vm.namespace}/{cname}:{ch.claim_uid}: prepare devices failed: error unbinding "
                           f"GPU {go_quote(d.slot.pci)} from nvidia driver: timed out waiting for gpu to be free")
        params = (vm.vfio or {}) if vm.device_class == VFIO_CLASS else {}
        iommu = params.get("iommu", {}) if isinstance(params.get("iommu"), dict) else {}
        if self.driver_new:
            unknown = [k for k in params if k not in ("iommu",)] + [f"iommu.{k}" for k in iommu
                                                                     if k not in ("backendPolicy", "enableAPIDevice")]
        else:
            unknown = [k for k in params] + [f"iommu.{k}" for k in iommu]
        if unknown:
            return base + (f"NodePrepareResources failed for ResourceClaim {cname}: error preparing devices for "
                           f"claim {vm.namespace}/{cname}:{ch.claim_uid}: prepare devices failed: error creating "
                           f"map of opaque device config: error decoding config parameters: strict decoding error: "
                           f"unknown field {go_quote(unknown[0])}")
        pol = iommu.get("backendPolicy")
        if pol is not None and pol not in ("LegacyOnly", "PreferIommuFD"):
            return base + (f"NodePrepareResources failed for ResourceClaim {cname}: error preparing devices for "
                           f"claim {vm.namespace}/{cname}:{ch.claim_uid}: prepare devices failed: error validating "
                           f"VfioDeviceConfig: unknown IOMMU backend policy: {go_quote(pol)}")
        return ""

    # ---- launcher pod ----------------------------------------------------------------------------

    def _mem_request(self, vm: VM) -> str:
        gi = int(vm.memory.rstrip("Gi"))
        return str(gi * 1024 * 1024 * 1024 + 347_160_577)

    def _launcher_pod(self, vm: VM, ch: Chain, vmi: Obj, pod_name: str, pod_base: str, tp: datetime) -> Obj:
        ns = vm.namespace
        image = f"quay.io/kubevirt/virt-launcher:{self.kubevirt}"
        claims = self._wired(vm)
        ch.wired = claims
        compute: Obj = {
            "command": ["/usr/bin/virt-launcher-monitor", "--qemu-timeout", "289s", "--name", vm.name, "--uid",
                        vmi["metadata"]["uid"], "--namespace", ns, "--kubevirt-share-dir", "/var/run/kubevirt",
                        "--ephemeral-disk-dir", "/var/run/kubevirt-ephemeral-disks", "--container-disk-dir",
                        "/var/run/kubevirt/container-disks", "--grace-period-seconds", "195", "--hook-sidecars",
                        "0", "--ovmf-path", "/usr/share/OVMF", "--run-as-nonroot"],
            "env": [{"name": "XDG_CACHE_HOME", "value": "/var/run/kubevirt-private"},
                    {"name": "XDG_CONFIG_HOME", "value": "/var/run/kubevirt-private"},
                    {"name": "XDG_RUNTIME_DIR", "value": "/var/run"},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                                    "fieldPath": "metadata.name"}}}],
            "image": image,
            "imagePullPolicy": "IfNotPresent",
            "name": "compute",
            "resources": {
                "limits": {"devices.kubevirt.io/kvm": "1", "devices.kubevirt.io/tun": "1",
                           "devices.kubevirt.io/vhost-net": "1"},
                "requests": {"cpu": f"{vm.cores * 100}m", "devices.kubevirt.io/kvm": "1",
                             "devices.kubevirt.io/tun": "1", "devices.kubevirt.io/vhost-net": "1",
                             "ephemeral-storage": "50M", "memory": self._mem_request(vm)},
            },
            "securityContext": {"allowPrivilegeEscalation": False,
                                "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
                                "privileged": False, "runAsGroup": 107, "runAsNonRoot": True, "runAsUser": 107},
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
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
        disk_img = vm.image
        spec: Obj = {
            "automountServiceAccountToken": False,
            "containers": [
                compute,
                {"args": ["--copy-path", "/var/run/kubevirt-ephemeral-disks/container-disk-data/"
                                         f"{vmi['metadata']['uid']}/disk_0"],
                 "command": ["/usr/bin/container-disk"], "image": disk_img, "imagePullPolicy": "IfNotPresent",
                 "name": "volumerootdisk",
                 "resources": {"limits": {"cpu": "10m", "memory": "40M"},
                               "requests": {"cpu": "1m", "ephemeral-storage": "50M", "memory": "1M"}},
                 "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                     "runAsNonRoot": True, "runAsUser": 107},
                 "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                 "volumeMounts": [{"mountPath": "/var/run/kubevirt-ephemeral-disks/container-disk-data/"
                                                f"{vmi['metadata']['uid']}", "name": "container-disks"}]},
            ],
            "dnsPolicy": "ClusterFirst",
            "enableServiceLinks": False,
            "hostname": vm.name,
            "initContainers": [
                {"command": ["/usr/bin/cp", "/usr/bin/container-disk", "/init/usr/bin/container-disk"],
                 "image": image, "imagePullPolicy": "IfNotPresent", "name": "container-disk-binary",
                 "resources": {"limits": {"cpu": "100m", "memory": "40M"},
                               "requests": {"cpu": "10m", "memory": "1M"}},
                 "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                     "privileged": False, "runAsGroup": 107, "runAsNonRoot": True,
                                     "runAsUser": 107},
                 "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                 "volumeMounts": [{"mountPath": "/init/usr/bin", "name": "virt-bin-share-dir"}]},
            ],
            "nodeSelector": self.pod_node_selector(vm),
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
                {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists",
                 "tolerationSeconds": 300},
                {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists",
                 "tolerationSeconds": 300},
            ],
            "volumes": [
                {"emptyDir": {}, "name": "private"},
                {"emptyDir": {}, "name": "public"},
                {"emptyDir": {}, "name": "sockets"},
                {"emptyDir": {}, "name": "virt-bin-share-dir"},
                {"emptyDir": {}, "name": "libvirt-runtime"},
                {"emptyDir": {}, "name": "ephemeral-disks"},
                {"emptyDir": {}, "name": "container-disks"},
                {"emptyDir": {}, "name": "hotplug-disks"},
            ],
        }
        rcs = vmi["spec"].get("resourceClaims")
        if rcs:
            spec["resourceClaims"] = copy.deepcopy(rcs)
        labels = {**vmi["metadata"].get("labels", {}), "kubevirt.io": "virt-launcher",
                  "kubevirt.io/created-by": vmi["metadata"]["uid"], "vm.kubevirt.io/name": vm.name}
        freezer = '["/usr/bin/virt-freezer", "--{}", "--name", "' + vm.name + '", "--namespace", "' + ns + '"]'
        pod: Obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": self.meta(
                "Pod", pod_name, tp, ns, labels=labels,
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
                owner=self.ref(vmi), generate=pod_base,
            ),
            "spec": spec,
        }
        self.emit(tp + timedelta(seconds=30), pod)
        return pod

    @staticmethod
    def pod_node_selector(vm: VM) -> dict[str, str]:
        """virt-controller's launcher nodeSelector: the VMI's, the architecture, then kubevirt.io/schedulable."""
        return {**vm.node_selector, "kubernetes.io/arch": "amd64", "kubevirt.io/schedulable": "true"}

    def _wired(self, vm: VM) -> list[tuple[str, str]]:
        """compute container resources.claims: only with the gate on; v1.8.0-v1.8.2 keep only the first request."""
        gate = "HostDevicesWithDRA" if vm.host_devices else "GPUsWithDRA"
        if not self.gate_on(gate) or not vm.declare_claim:
            return []
        names = vm.vmi_request_names or vm.request_names()
        pairs: list[tuple[str, str]] = []
        for i, _ in enumerate(vm.device_names()):
            p = (vm.pod_claim, names[min(i, len(names) - 1)])
            if p not in pairs:
                pairs.append(p)
        if (1, 8, 0) <= self.kv < (1, 8, 3):
            pairs = pairs[:1]
        return pairs

    def _pod_status(self, vm: VM, ch: Chain, pod: Obj, tp: datetime, pending: str) -> None:
        image = f"quay.io/kubevirt/virt-launcher:{self.kubevirt}"
        node = next((n for n in self.nodes if n.name == ch.node), None)
        status: Obj = {"qosClass": "Burstable"}
        t_sched = tp + timedelta(seconds=3)
        if ch.pod_state == "unschedulable":
            status["phase"] = "Pending"
            if not pending.startswith("PodResourceClaim"):
                status["conditions"] = [{"lastProbeTime": None, "lastTransitionTime": ts(t_sched),
                                         "message": pending, "reason": "Unschedulable", "status": "False",
                                         "type": "PodScheduled"}]
        else:
            pod["spec"]["nodeName"] = ch.node
            status["hostIP"] = node.ip if node else ""
            status["hostIPs"] = [{"ip": status["hostIP"]}]
            status["startTime"] = ts(t_sched)
            running = ch.pod_state == "running"
            t_run = tp + timedelta(seconds=21)
            ready = "True" if running else "False"
            status["conditions"] = [
                {"lastProbeTime": None, "lastTransitionTime": ts(t_run), "status": ready,
                 "type": "kubevirt.io/virtual-machine-unpaused"},
                {"lastProbeTime": None, "lastTransitionTime": ts(t_run), "status": ready,
                 "type": "PodReadyToStartContainers"},
                {"lastProbeTime": None, "lastTransitionTime": ts(t_run), "status": ready, "type": "Initialized"},
                {"lastProbeTime": None, "lastTransitionTime": ts(t_run), "status": ready, "type": "Ready"},
                {"lastProbeTime": None, "lastTransitionTime": ts(t_run), "status": ready, "type": "ContainersReady"},
                {"lastProbeTime": None, "lastTransitionTime": ts(t_sched), "status": "True", "type": "PodScheduled"},
            ]
            if not running:
                for c in status["conditions"][:5]:
                    c["lastTransitionTime"] = ts(t_sched)
                for c in status["conditions"][2:5]:
                    c["reason"] = "ContainersNotInitialized" if c["type"] == "Initialized" else \
                        "ContainersNotReady"
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
            else:
                status["phase"] = "Running"
                ip = f"10.244.{self.nodes.index(node) + 1 if node else 9}.{30 + len(self.chains)}"
                status["podIP"] = ip
                status["podIPs"] = [{"ip": ip}]
                status["containerStatuses"] = [
                    {"containerID": "containerd://" + self.ids.hexid(64), "image": image,
                     "imageID": "quay.io/kubevirt/virt-launcher@sha256:" + uid("img", "", image).replace("-", "")
                     + "00000000000000000000000000000000"[:32],
                     "lastState": {}, "name": "compute", "ready": True, "restartCount": 0, "started": True,
                     "state": {"running": {"startedAt": ts(t_run)}}},
                    {"containerID": "containerd://" + self.ids.hexid(64), "image": vm.image,
                     "imageID": vm.image.split(":")[0] + "@sha256:" + uid("img", "", vm.image).replace("-", "")
                     + "11111111111111111111111111111111"[:32],
                     "lastState": {}, "name": "volumerootdisk", "ready": True, "restartCount": 0, "started": True,
                     "state": {"running": {"startedAt": ts(t_run)}}},
                ]
                status["initContainerStatuses"] = [
                    {"containerID": "containerd://" + self.ids.hexid(64), "image": image,
                     "imageID": "quay.io/kubevirt/virt-launcher@sha256:" + uid("img", "", image).replace("-", "")
                     + "00000000000000000000000000000000"[:32],
                     "lastState": {}, "name": "container-disk-binary", "ready": True, "restartCount": 0,
                     "started": False, "state": {"terminated": {
                         "containerID": "containerd://" + self.ids.hexid(64), "exitCode": 0,
                         "finishedAt": ts(t_run - timedelta(seconds=2)), "reason": "Completed",
                         "startedAt": ts(t_run - timedelta(seconds=3))}}}]
        if ch.claim_name and vm.claim == "template" and "claim-quota" not in vm.faults:
            status["resourceClaimStatuses"] = [{"name": vm.pod_claim, "resourceClaimName": ch.claim_name}]
        pod["status"] = status

    # ---- virt-launcher ---------------------------------------------------------------------------

    def _metadata_error(self, vm: VM, claim_ref: str, request: str, path_root: str, wired: bool, ch: Chain) -> str:
        """The error virt-launcher hits reading the metadata of one GPU, or ''."""
        d = ch.devices[0][1] if ch.devices else None
        sub = "resourceclaimtemplates" if vm.claim == "template" else "resourceclaims"
        if (1, 8, 0) <= self.kv < (1, 8, 3):
            return "old-path"
        has_request = any(r.split("/")[0] == request for r, _ in ch.devices)
        written = self.metadata_written() and wired and has_request and d is not None and d.kind in ("vfio", "vgpu")
        if not written:
            pattern = f"{path_root}/{sub}/{claim_ref}/{request}/*-metadata.json"
            err = f"failed to read metadata for claim {go_quote(claim_ref)} request {go_quote(request)}: " \
                  f"no files matching {pattern}"
            return f"(mdev: {err}, pci: {err})"
        if "metadata-v1beta1" in vm.faults:
            f = f"{path_root}/{sub}/{claim_ref}/{request}/{DRIVER}-metadata.json"
            err = f"{f}: no compatible metadata version found in stream (unknown versions: " \
                  "metadata.resource.k8s.io/v1beta1)"
            return f"(mdev: {err}, pci: {err})"
        per_request = [x for r, x in ch.devices if r.split("/")[0] == request]
        if len(per_request) > 1:
            err = (f"request {go_quote(request)} has {len(per_request)} devices but KubeVirt only supports exactly "
                   "one device per request (count > 1 is not supported)")
            return f"(mdev: {err}, pci: {err})"
        if "no-pci" in vm.faults and d is not None and d.kind == "vfio":
            return (f"(mdev: mdevUUID not found for claim {go_quote(claim_ref)} request {go_quote(request)}, "
                    f"pci: pciBusID not found for claim {go_quote(claim_ref)} request {go_quote(request)})")
        return ""

    def _launcher(self, vm: VM, ch: Chain, vmi: Obj, pod: Obj, claim: Obj | None, tp: datetime) -> None:
        node = ch.node
        t_sync = tp + timedelta(seconds=24)
        errors: list[str] = []
        dev_names = vm.device_names()
        req_refs = vm.vmi_request_names or vm.request_names()
        claim_ref = vm.pod_claim if vm.claim == "template" else vm.direct_claim()
        root = "/var/run/kubernetes.io/dra-device-attributes"
        kind_word = "HostDevice" if vm.host_devices else "GPU"
        if self.kv >= (1, 8):
            for i, dname in enumerate(dev_names):
                r = req_refs[min(i, len(req_refs) - 1)]
                wired = (vm.pod_claim, r) in ch.wired
                err = self._metadata_error(vm, claim_ref, r, root, wired, ch)
                if err == "old-path":
                    if self.metadata_written() and wired:
                        errors.append(f"{kind_word} {dname} has no mdevUUID or pciBusID in metadata for claim "
                                      f"{vm.pod_claim} request {r}")
                    else:
                        errors.append(f"{kind_word} {dname} has no mdevUUID or pciBusID in metadata for claim "
                                      f"{vm.pod_claim} request {r}")
                    break
                if err:
                    errors.append(f"{kind_word} {dname} has no mdevUUID or pciBusID in metadata for claim "
                                  f"{vm.pod_claim} request {r} {err}")
                    break
        if errors:
            prefix = "failed to create DRA GPU host-devices: " if not vm.host_devices else \
                "failed to create dra generic host-devices: "
            ch.sync_error = "server error. command SyncVMI failed: " + go_quote(prefix + errors[0])
            ch.domain = "none"
        else:
            api = self._api_device(vm)
            lib = ""
            if "memlock" in vm.faults:
                lib = "LibvirtError(Code=38, Domain=0, Message='cannot limit locked memory of process 77: " \
                      "Operation not permitted')"
            elif not api and not vm.vgpu:
                lib = "LibvirtError(Code=67, Domain=10, Message='unsupported configuration: host doesn't " \
                      "support passthrough of host PCI devices')"
            if lib:
                ch.sync_error = "server error. command SyncVMI failed: " + go_quote(lib)
                ch.domain = "inactive"
            else:
                ch.domain = "live"
        if ch.sync_error:
            ch.vmi_phase = "Scheduled"
            self.event(vmi, "SyncFailed", ch.sync_error, t_sync, component="virt-handler", host=node, count=41,
                       last=self.ids.at(minutes=96))
        else:
            ch.vmi_phase = "Running"
            self.event(vmi, "Created", "VirtualMachineInstance defined.", t_sync, type_="Normal",
                       component="virt-handler", host=node)
            self.event(vmi, "Started", "VirtualMachineInstance started.", t_sync + timedelta(seconds=1),
                       type_="Normal", component="virt-handler", host=node)

    def _api_device(self, vm: VM) -> bool:
        """Is /dev/vfio/vfio in the compute container?"""
        if "prebound" in vm.faults:
            return False
        if not self.driver_new:
            return True
        if vm.vgpu:
            return True
        iommu = (vm.vfio or {}).get("iommu") or {}
        if iommu.get("backendPolicy") == "PreferIommuFD":
            return False  # iommufd: /dev/iommu and /dev/vfio/devices/vfioN instead
        return bool(iommu.get("enableAPIDevice"))

    def _vmi_status(self, vm: VM, ch: Chain, vmi: Obj, vm_obj: Obj, pod: Obj | None, t0: datetime) -> None:
        st = vmi["status"]
        phase = ch.vmi_phase or "Pending"
        st["phase"] = phase
        t_run = t0 + timedelta(seconds=30)
        trans = [{"phase": "Pending", "phaseTransitionTimestamp": micro(t0 + timedelta(seconds=3))}]
        if phase in ("Scheduling", "Scheduled", "Running"):
            trans.append({"phase": "Scheduling", "phaseTransitionTimestamp": micro(t0 + timedelta(seconds=4))})
        if phase in ("Scheduled", "Running"):
            trans.append({"phase": "Scheduled", "phaseTransitionTimestamp": micro(t0 + timedelta(seconds=26))})
        if phase == "Running":
            trans.append({"phase": "Running", "phaseTransitionTimestamp": micro(t_run)})
        st["phaseTransitionTimestamps"] = trans
        conds: list[Obj] = []
        vm_status = vm_obj["status"]
        if phase == "Running":
            conds.append({"lastProbeTime": None, "lastTransitionTime": ts(t_run), "status": "True", "type": "Ready"})
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
        st["conditions"] = conds
        if pod is not None and ch.pod_state in ("creating", "running"):
            st["activePods"] = {pod["metadata"]["uid"]: ch.node}
            vmi["metadata"]["labels"]["kubevirt.io/nodeName"] = ch.node
        if phase in ("Scheduled", "Running"):
            st["nodeName"] = ch.node
            st["launcherContainerImageVersion"] = f"quay.io/kubevirt/virt-launcher:{self.kubevirt}"
            st["currentCPUTopology"] = {"cores": vm.cores, "sockets": 1, "threads": 1}
            st["machine"] = {"type": "pc-q35-rhel9.6.0"}
            st["memory"] = {"guestAtBoot": vm.memory, "guestCurrent": vm.memory, "guestRequested": vm.memory}
            st["migrationMethod"] = "BlockMigration"
            st["migrationTransport"] = "Unix"
            st["selinuxContext"] = "none"
            st["volumeStatus"] = [{"name": "cloudinitdisk", "size": 1048576, "target": "vdb"},
                                  {"containerDiskVolume": {"checksum": 3612416983}, "name": "rootdisk",
                                   "target": "vda"}]
        if phase == "Running":
            st["interfaces"] = [{"infoSource": "domain, guest-agent", "interfaceName": "enp1s0",
                                 "ipAddress": f"10.244.{self._node_index(ch.node) + 1}.{30 + len(self.chains)}",
                                 "ipAddresses": [f"10.244.{self._node_index(ch.node) + 1}.{30 + len(self.chains)}"],
                                 "linkState": "up", "mac": self.ids.mac(), "name": "default",
                                 "podInterfaceName": "eth0", "queueCount": 1}]
            st["guestOSInfo"] = {"id": "ubuntu", "kernelRelease": "6.8.0-87-generic", "machine": "x86_64",
                                 "name": "Ubuntu", "prettyName": "Ubuntu 24.04.3 LTS", "version": "24.04.3 LTS",
                                 "versionId": "24.04"}
        # v1.6 / v1.7: virt-controller fills deviceStatus from the allocation and the slice.
        if self.kv < (1, 8) and ch.devices and phase in ("Scheduled", "Running", "Scheduling"):
            statuses = []
            for i, dname in enumerate(vm.device_names()):
                if i >= len(ch.devices):
                    break
                _, d = ch.devices[i]
                pci = d.pci_published if d.pci_published else d.slot.pci
                if "devicestatus-mismatch" in vm.faults:
                    others = [x for (n, _), x in self.devices.items() if n == d.node and x.slot.pci != d.slot.pci]
                    pci = others[0].slot.pci if others else pci
                attrs: Obj = {"pciAddress": pci}
                statuses.append({"deviceResourceClaimStatus": {"attributes": attrs, "name": d.name,
                                                               "resourceClaimName": ch.claim_name},
                                 "name": dname})
            key = "hostDeviceStatuses" if vm.host_devices else "gpuStatuses"
            st["deviceStatus"] = {key: statuses}

    def _node_index(self, name: str) -> int:
        for i, n in enumerate(self.nodes):
            if n.name == name:
                return i
        return 9

    # ---- evidence ----------------------------------------------------------------------------------

    def _evidence(self, vm: VM, ch: Chain, pod: Obj, claim: Obj | None, tp: datetime) -> None:
        if not ch.pod_name:
            return
        base = f"evidence/{vm.namespace}/{ch.pod_name}"
        unavailable: dict[str, str] = {}
        if "exec-forbidden" in vm.faults:
            msg = (f"pods \"{ch.pod_name}\" is forbidden: User \"system:serviceaccount:ops:auditor\" cannot create "
                   f"resource \"pods/exec\" in API group \"\" in the namespace \"{vm.namespace}\"")
            unavailable = {"metadata": msg, "vfio": msg, "domain": msg}
        elif ch.pod_state != "running":
            phase = pod["status"].get("phase", "Pending")
            msg = f"container compute is not running (pod phase {phase}): cannot exec"
            unavailable = {"metadata": msg, "vfio": msg, "domain": msg}
        if unavailable:
            self.files[f"{base}/unavailable.yaml"] = "".join(
                f"{k}: {go_quote(v)}\n" for k, v in unavailable.items()).encode()
            return
        t_dev = tp + timedelta(seconds=20)
        # metadata files, as the driver wrote them
        sub = "resourceclaimtemplates" if vm.claim == "template" else "resourceclaims"
        claim_dir = vm.pod_claim if vm.claim == "template" else vm.direct_claim()
        if self.metadata_written() and claim is not None:
            by_req: dict[str, list[Device]] = {}
            for r, d in ch.devices:
                if d.kind in ("vfio", "vgpu"):
                    by_req.setdefault(r.split("/")[0], []).append(d)
            for r, devs in by_req.items():
                if (vm.pod_claim, r) not in ch.wired:
                    continue  # only containers listing the claim/request see the file
                entries = []
                for d in devs:
                    attrs = copy.deepcopy(d.attrs)
                    pci = self._pci_in_metadata(vm, d)
                    if pci is None:
                        attrs.pop("resource.kubernetes.io/pciBusID", None)
                    else:
                        attrs["resource.kubernetes.io/pciBusID"] = {"string": pci}
                    if d.kind == "vgpu":
                        attrs["mdevUUID"] = {"string": self._mdev_uuid(d, ch)}
                    entries.append({"driver": DRIVER, "pool": d.node, "name": d.name, "attributes": attrs})
                apis = ("metadata.resource.k8s.io/v1beta1",) if "metadata-v1beta1" in vm.faults else \
                    (ev.METADATA_API,)
                stream = ev.metadata_stream(claim, vm.pod_claim if vm.claim == "template" else None, [(r, entries)],
                                            apis)
                path = f"{base}/files/var/run/kubernetes.io/dra-device-attributes/{sub}/{claim_dir}/{r}/" \
                       f"{DRIVER}-metadata.json"
                self.files[path] = stream
        # /dev/vfio
        nodes: list[ev.VfioNode] = []
        iommufd = ((vm.vfio or {}).get("iommu") or {}).get("backendPolicy") == "PreferIommuFD" and self.driver_new
        # CDI injects the device nodes of the requests the container lists in resources.claims, and only those.
        seen = [(r, d) for r, d in ch.devices if (vm.pod_claim, r.split("/")[0]) in ch.wired]
        for i, (_, d) in enumerate(seen):
            if d.kind == "gpu":
                continue
            if iommufd:
                continue
            group = d.slot.iommu_group if d.kind == "vfio" else 300 + d.index * 8 + int(d.name.rsplit("-", 1)[1])
            nodes.append(ev.VfioNode(str(group), 509, i, owner="qemu", mode="crw-------"))
        if iommufd and seen:
            nodes.append(ev.VfioNode("devices", 0, 0, mode="drwxr-xr-x"))
        if self._api_device(vm) and any(d.kind != "gpu" for _, d in seen):
            nodes.append(ev.VfioNode("vfio", 10, 196))
        if nodes:
            self.files[f"{base}/dev-vfio.txt"] = ev.ls_dev_vfio(nodes, t_dev).encode()
        else:
            self.files[f"{base}/dev-vfio.txt"] = b""
            unavailable["vfio"] = "ls -l /dev/vfio exited 2: ls: cannot access '/dev/vfio': No such file or directory"
        # domain
        if ch.domain in ("live", "inactive"):
            hostdevs = []
            prefix = "ua-dra-hostdevice-" if vm.host_devices else "ua-dra-gpu-"
            for i, dname in enumerate(vm.device_names()):
                if i >= len(ch.devices):
                    break
                _, d = ch.devices[i]
                if "hostdev-detached" in vm.faults and i == 0:
                    continue
                if d.kind == "vgpu":
                    hostdevs.append(ev.Hostdev(prefix + dname, mdev_uuid=self._mdev_uuid(d, ch), guest_bus=8 + i))
                else:
                    hostdevs.append(ev.Hostdev(prefix + dname, pci=self._pci_in_metadata(vm, d) or d.slot.pci,
                                               guest_bus=8 + i))
            if vm.device_plugin_gpu:
                legacy = [x for (n, _), x in self.devices.items() if n == ch.node and x.kind == "gpu"
                          and (n, x.name) in self.taken and self.taken[(n, x.name)].startswith("device-plugin")]
                if legacy:
                    hostdevs.insert(0, ev.Hostdev("ua-gpu-gpu-legacy", pci=legacy[0].slot.pci, guest_bus=9))
            mem_kib = int(vm.memory.rstrip("Gi")) * 1024 * 1024
            xml = ev.domain_xml(namespace=vm.namespace, vmi=vm.name, vmi_uid=uid("VirtualMachineInstance",
                                                                                   vm.namespace, vm.name),
                                cores=vm.cores, memory_kib=mem_kib, hostdevs=hostdevs, mac=self.ids.mac(),
                                disk_image=vm.image, live=ch.domain == "live",
                                domain_id=1)
            self.files[f"{base}/domain.xml"] = xml.encode()
        else:
            unavailable["domain"] = (f"virsh -r dumpxml {vm.namespace}_{vm.name} exited 1: error: failed to get "
                                     f"domain '{vm.namespace}_{vm.name}'")
        if unavailable:
            self.files[f"{base}/unavailable.yaml"] = "".join(
                f"{k}: {go_quote(v)}\n" for k, v in unavailable.items()).encode()

    def _pci_in_metadata(self, vm: VM, d: Device) -> str | None:
        if "no-pci" in vm.faults:
            return None
        pci = d.slot.pci
        if "pci-malformed" in vm.faults:
            return pci.upper().replace("0X", "0x")
        return pci

    def _mdev_uuid(self, d: Device, ch: Chain) -> str:
        return uid("mdev", d.node, f"{d.name}/{ch.claim_name}")

    # ---- workloads -----------------------------------------------------------------------------------

    def _workload(self, w: Workload) -> None:
        when = self.ids.at(minutes=w.minutes)
        d = self.devices[(w.node, w.device)]
        if w.namespace == "device-plugin":
            self.taken[(w.node, w.device)] = "device-plugin"
            return
        self.taken[(w.node, w.device)] = f"{w.namespace}/{w.name}"
        if not w.prepared:
            self.racing.add((w.node, w.device))
        pod_name = w.name
        pod: Obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": self.meta("Pod", pod_name, when, w.namespace, labels={"app": "cuda-job"}),
            "spec": {
                "containers": [{"command": ["python", "train.py"], "image": "nvcr.io/nvidia/pytorch:25.10-py3",
                                "imagePullPolicy": "IfNotPresent", "name": "trainer",
                                "resources": {"claims": [{"name": "gpu"}]}}],
                "nodeName": w.node,
                "resourceClaims": [{"name": "gpu", "resourceClaimTemplateName": "single-gpu"}],
                "restartPolicy": "Never",
                "schedulerName": "default-scheduler",
            },
            "status": {"phase": "Running", "hostIP": next(n.ip for n in self.nodes if n.name == w.node),
                       "qosClass": "BestEffort", "startTime": ts(when)},
        }
        gen = claim_generate_name(pod_name, "gpu")
        cname = gen + self.ids.suffix()
        pod["status"]["resourceClaimStatuses"] = [{"name": "gpu", "resourceClaimName": cname}]
        self.emit(when + timedelta(seconds=20), pod)
        tmpl_vm = VM(name="_", namespace=w.namespace, device_class=GPU_CLASS, vfio=None, requests=["gpu"])
        if not any(o["kind"] == "ResourceClaimTemplate" and o["metadata"]["name"] == "single-gpu"
                   and o["metadata"].get("namespace") == w.namespace for _, o in self.objects):
            tmpl: Obj = {
                "apiVersion": self.res_api(),
                "kind": "ResourceClaimTemplate",
                "metadata": self.meta("ResourceClaimTemplate", "single-gpu", when - timedelta(hours=2),
                                      w.namespace, generation=1),
                "spec": {"spec": self.claim_spec(tmpl_vm)},
            }
            self.emit(when - timedelta(hours=2), tmpl)
        claim = self._claim_obj(tmpl_vm, cname, when, pod=pod, pod_claim="gpu", results=[("gpu", d)], node=w.node,
                                reserved=[{"name": pod_name, "resource": "pods", "uid": pod["metadata"]["uid"]}],
                                generate=gen)
        claim["metadata"].pop("labels", None)
        self.emit(when + timedelta(seconds=2), claim)

    # ---- cluster info -----------------------------------------------------------------------------

    def _cluster_info(self) -> None:
        groups: Obj = {"apps": ["v1"]}
        if self.kubevirt_installed:
            groups["kubevirt.io"] = ["v1", "v1alpha3"]
        if self.served:
            groups["resource.k8s.io"] = list(self.served)
        info: Obj = {"apiVersion": "vmgpu.kubevirt.io/v1alpha1", "kind": "ClusterInfo",
                     "serverVersion": self.kubernetes, "groups": groups}
        if self.unavailable:
            info["unavailable"] = self.unavailable
        self.objects.append((self.ids.at(minutes=100), info))

    # ---- output ---------------------------------------------------------------------------------------

    def write(self, folder: str | Path, layout: str = "kubectl") -> list[Path]:
        from ..layout import write_snapshot

        return write_snapshot(self, Path(folder), layout)
