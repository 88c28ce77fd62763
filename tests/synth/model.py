"""The lab's inputs: cluster versions, nodes, VMs and the knobs that break a chain."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .hw import H100, GpuModel

API_DEVICE: dict[str, Any] = {"iommu": {"backendPolicy": "LegacyOnly", "enableAPIDevice": True}}
VFIO_CLASS = "vfio.gpu.nvidia.com"
GPU_CLASS = "gpu.nvidia.com"
VGPU_CLASS = "vgpu.nvidia.com"
DRIVER = "gpu.nvidia.com"

# Per-VM faults the builder knows how to render coherently (objects, events and evidence).
FAULTS = {
    "pod-quota": "virt-controller cannot create the launcher pod (ResourceQuota)",
    "claim-quota": "kube-controller-manager cannot create the generated claim (ResourceQuota)",
    "prepare-timeout": "kubelet NodePrepareResources times out",
    "gpu-busy": "the driver times out waiting for the GPU to be free (host process holds it)",
    "not-reserved": "the claim's reservedFor lacks the launcher pod",
    "wrong-node": "the claim is allocated on another node than the pod's",
    "deleting": "the claim has a deletionTimestamp",
    "stale-claim": "a generated claim of a force-deleted launcher pod is left behind, holding a GPU",
    "device-gone": "the allocated device is no longer in the current slice",
    "pci-mismatch": "the driver republished the allocated device with another pciBusID",
    "pci-malformed": "the driver publishes NVML's bus id form with an 8-digit domain (00000000:3b:00.0)",
    "pci-uppercase": "the driver publishes an uppercase pciBusID (KubeVirt accepts it)",
    "no-pci": "the allocated device has no pciBusID attribute",
    "taint": "the allocated device carries a NoSchedule taint",
    "metadata-v1beta1": "the metadata stream holds only metadata.resource.k8s.io/v1beta1",
    "prebound": "the driver's CDI spec misses /dev/vfio/vfio (GPU was already bound to vfio-pci)",
    "memlock": "libvirt cannot raise the memlock limit of the non-root launcher",
    "hostdev-detached": "someone ran virsh detach-device: the live domain lost the GPU",
    "exec-forbidden": "pods/exec forbidden: no launcher evidence",
    "devicestatus-mismatch": "VMI deviceStatus carries another pciAddress than the slice (v1.6/v1.7)",
}


@dataclass
class Node:
    name: str
    gpus: int = 4
    model: GpuModel = H100
    passthrough: bool = True  # driver gate PassthroughSupport: gpu-vfio-<n> twins
    publish: bool = True  # the kubelet plugin publishes a ResourceSlice
    vgpu: bool = False  # publish vGPU (mdev) partitions
    ip: str = ""
    slices: int = 1  # slices the pool is split into (pool.resourceSliceCount)
    missing_slices: int = 0  # slices of the pool not (yet) published
    stale_generation: bool = False  # an older-generation slice is still present
    labels: dict[str, str] = field(default_factory=dict)  # extra Node labels (zone, pool, ...)
    # device name -> taints the driver published before any allocation ({key, value, effect}; timeAdded is filled)
    device_taints: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    # GPU indexes left bound to vfio-pci by a failed unbind or a plugin restart: the driver publishes gpu-vfio-<n>
    # without its gpu-<n> twin although no claim holds it (dra-driver-nvidia-gpu issues 1089, 1331)
    stranded_vfio: list[int] = field(default_factory=list)


@dataclass
class VM:
    name: str
    namespace: str = "gpu-lab"
    gpus: int = 1
    requests: list[str] | None = None  # request names in the claim; default dra-gpu / gpu0..n
    claim: str = "template"  # template | direct
    pod_claim: str = "dra-gpu-claim"  # VMI/pod-local claim name
    template: str = "dra-gpu-claim-template"
    claim_name: str = ""  # direct claim object name (default <vm>-gpu)
    device_class: str = VFIO_CLASS
    vfio: dict[str, Any] | None = field(default_factory=lambda: dict(API_DEVICE))
    config_source: str = "claim"  # claim | class
    host_devices: bool = False
    vgpu: bool = False
    first_available: bool = False
    count: int = 1
    all_mode: bool = False
    same_numa: bool = False  # constraint matchAttribute resource.kubernetes.io/numaNode
    run_strategy: str = "Always"
    node: str | None = None  # placement preference
    cores: int = 8
    memory: str = "32Gi"
    image: str = "quay.io/containerdisks/ubuntu:24.04"
    device_plugin_gpu: bool = False  # also a `deviceName` GPU (mixed flows)
    vmi_request_names: list[str] | None = None  # what the VMI references (typos)
    declare_claim: bool = True  # spec.resourceClaims lists the claim
    claim_source: str = "one"  # one | both | neither
    create_template: bool = True
    create_claim: bool = True
    duplicate_gpu: bool = False  # two GPUs with the same claimName/requestName
    faults: set[str] = field(default_factory=set)
    labels: dict[str, str] = field(default_factory=dict)
    minutes: float | None = None  # creation time, minutes after the lab start
    selectors: list[str] = field(default_factory=list)  # CEL selectors of every request (not firstAvailable)
    tolerations: list[dict[str, Any]] = field(default_factory=list)  # DeviceTolerations of every request
    node_selector: dict[str, str] = field(default_factory=dict)  # spec.template.spec.nodeSelector

    def request_names(self) -> list[str]:
        if self.requests:
            return list(self.requests)
        return ["dra-gpu"] if self.gpus == 1 else [f"gpu{i}" for i in range(self.gpus)]

    def device_names(self) -> list[str]:
        prefix = "hostdev" if self.host_devices else ("vgpu" if self.vgpu else "gpu")
        return [f"{prefix}{i}" for i in range(self.gpus)]

    def direct_claim(self) -> str:
        return self.claim_name or f"{self.name}-gpu"


@dataclass
class Workload:
    """A plain container pod holding a GPU (type gpu) through its own claim."""

    name: str
    namespace: str
    node: str
    device: str
    minutes: float = 2.0
    prepared: bool = True  # False: allocated in the same scheduling window as a VM's twin device (a race)
