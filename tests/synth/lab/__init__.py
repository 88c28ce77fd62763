"""The Lab: describe a cluster in a few lines, get coherent `kubectl get -o yaml` objects and launcher evidence.

    lab = Lab("healthy-template-claim")              # KubeVirt v1.9.0, Kubernetes v1.36.1, driver v0.4.1
    lab.add_node("xe8640-01", gpus=4)                # PassthroughSupport on: gpu-<n> and gpu-vfio-<n>
    lab.add_vm("vm-gpu", namespace="gpu-lab")       # template claim, VfioDeviceConfig with enableAPIDevice
    lab.write("out/snapshot")

The builder simulates what the components do (webhook, KubeVirt controllers, resourceclaim controller,
scheduler, kubelet and the NVIDIA driver, virt-launcher and libvirt), so one changed knob gives every
downstream symptom a real cluster would show. Everything is derived from the lab name: same code, same bytes.

This module keeps the facade (inputs, versions, the object registry, the build order); each simulated
component has its module beside it, and the domain rules shared with the product come from tests/synth/rules.py.
"""


from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..ids import Ids
from ..model import VM, Node, Workload
from . import claims, cluster, driver, flow, launcherpod, objects, patches, slices, workloads
from .records import Chain, Device, Obj, go_quote, vtuple

__all__ = ["Chain", "Device", "Lab", "Obj", "go_quote", "vtuple"]


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
        metadata_old_root: bool = False,
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
        if feature_gates is None:
            feature_gates = [] if vtuple(kubevirt) >= (1, 9) else ["GPUsWithDRA"]
        self.feature_gates = feature_gates
        self.disabled_gates = disabled_gates or []
        self.kubevirt_installed = kubevirt_installed
        self.permitted_host_devices = permitted_host_devices
        # FailedScheduling as kube-scheduler writes it for a pod with claims: the DynamicResources PostFilter's
        # "still not schedulable" precedes DefaultPreemption's message. Off only for the scenarios generated
        # before it was modelled (their bytes are frozen).
        self.postfilter_message = postfilter_message
        # The driver writes its metadata under /var/run/dra-device-attributes/<claim>/<request>/, the root
        # KubeVirt v1.8.0-v1.8.2 read (current drivers use the KEP-5304 root /var/run/kubernetes.io/...).
        self.metadata_old_root = metadata_old_root
        self.nodes: list[Node] = []
        self.vms: list[VM] = []
        self.workloads: list[Workload] = []
        self.extra_events: list[Obj] = []
        self.unavailable: list[dict[str, str]] = []
        self.hooks: list[Any] = []  # callables(lab) run after the simulation, before resourceVersions
        self.patches: list[patches.Patch] = []  # a user's `kubectl patch` of the input objects (lab/patches.py)
        # simulation state
        self.devices: dict[tuple[str, str], Device] = {}
        self.taken: dict[tuple[str, str], str] = {}  # (node, device) -> who holds it
        self.racing: set[tuple[str, str]] = set()  # allocated but not prepared: the twin is still usable
        self.prepared: set[tuple[str, str]] = set()  # devices a kubelet prepare succeeded for
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
        # explicitly enabled > explicitly disabled > Beta default [kubevirt v1.9.0 pkg/virt-config/featuregate
        # IsEnabled; v1.8.0 isFeatureGateEnabled checks featureGates first]
        if gate in self.feature_gates:
            return True
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

    meta = staticmethod(objects.meta)
    ref = staticmethod(objects.ref)

    def event(self, involved: Obj, reason: str, message: str, when: datetime, **kw: Any) -> Obj:
        """A core/v1 Event from a client-go EventRecorder (kubelet, KubeVirt, kube-controller-manager)."""
        return objects.event(self, involved, reason, message, when, **kw)

    def sched_event(self, pod: Obj, reason: str, message: str, when: datetime, **kw: Any) -> Obj:
        """kube-scheduler records through events.k8s.io/v1: read as core/v1 it has eventTime, no counts."""
        return objects.sched_event(self, pod, reason, message, when, **kw)

    # ---- what the components derive (kept on the facade for callers) ----------------------------

    def node_labels(self, n: Node) -> dict[str, str]:
        return cluster.node_labels(self, n)

    def driver_feature_gates(self) -> str:
        return driver.feature_gates(self)

    def device_class_types(self) -> dict[str, str]:
        return driver.device_class_types(self)

    class_selector = staticmethod(driver.class_selector)
    pod_node_selector = staticmethod(launcherpod.pod_node_selector)

    def claim_spec(self, vm: VM) -> Obj:
        return claims.claim_spec(self, vm)

    # ---- build ----------------------------------------------------------------------------------

    def build(self) -> Lab:
        if self._built:
            return self
        self._built = True
        patches.apply(self)
        cluster.install(self)
        slices.inventory(self)
        for w in self.workloads:
            workloads.run(self, w)
        for vm in self.vms:
            self.chains.append(flow.run_vm(self, vm))
        slices.publish(self)
        cluster.cluster_info(self)
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

    # ---- output ---------------------------------------------------------------------------------------

    def write(self, folder: str | Path, layout: str = "kubectl") -> list[Path]:
        from ..layout import write_snapshot

        return write_snapshot(self, Path(folder), layout)
