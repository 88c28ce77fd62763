"""GPU hardware as the NVIDIA DRA driver sees it: models and per-slot PCI topology of real servers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GpuModel:
    key: str
    product: str  # NVML product name (type: gpu devices)
    pci_name: str  # PCI database name (type: vfio devices publish this as productName)
    device_id: str
    architecture: str
    compute_capability: str
    memory: str  # capacity `memory` of a gpu device
    addressable: str  # capacity `addressableMemory` of a vfio device (sum of BARs)
    vgpu_profile: str = ""
    vgpus_per_gpu: int = 0


H100 = GpuModel(
    key="h100",
    product="NVIDIA H100 80GB HBM3",
    pci_name="GH100 [H100 SXM5 80GB]",
    device_id="0x2330",
    architecture="Hopper",
    compute_capability="9.0.0",
    memory="81559Mi",
    addressable="131120Mi",
)
L40S = GpuModel(
    key="l40s",
    product="NVIDIA L40S",
    pci_name="AD102GL [L40S]",
    device_id="0x26b9",
    architecture="Ada Lovelace",
    compute_capability="8.9.0",
    memory="46068Mi",
    addressable="65568Mi",
    vgpu_profile="NVIDIA L40S-12Q",
    vgpus_per_gpu=4,
)
MODELS = {m.key: m for m in (H100, L40S)}

NVIDIA_KERNEL_DRIVER = "580.105.8"  # semver form of 580.105.08, as the driver publishes `driverVersion`
CUDA_DRIVER = "13.0.0"


@dataclass(frozen=True)
class Slot:
    pci: str  # extended BDF, lowercase
    root: str  # resource.kubernetes.io/pcieRoot
    numa: int
    iommu_group: int


# Dell PowerEdge XE8640 (2x Xeon, 4x H100 SXM5): two GPUs per socket.
XE8640_SLOTS = (
    Slot("0000:19:00.0", "pci0000:15", 0, 41),
    Slot("0000:3b:00.0", "pci0000:37", 0, 73),
    Slot("0000:9b:00.0", "pci0000:97", 1, 161),
    Slot("0000:bb:00.0", "pci0000:b7", 1, 193),
)
# An 8-GPU HGX board (XE9680 style), used by the large synthetic clusters.
HGX8_SLOTS = (
    Slot("0000:18:00.0", "pci0000:15", 0, 38),
    Slot("0000:2a:00.0", "pci0000:26", 0, 55),
    Slot("0000:3a:00.0", "pci0000:37", 0, 71),
    Slot("0000:5d:00.0", "pci0000:59", 0, 99),
    Slot("0000:9a:00.0", "pci0000:97", 1, 160),
    Slot("0000:ab:00.0", "pci0000:a7", 1, 177),
    Slot("0000:ba:00.0", "pci0000:b7", 1, 192),
    Slot("0000:db:00.0", "pci0000:d7", 1, 225),
)
# A 2-GPU L40S inference box (R760xa style).
R760_SLOTS = (
    Slot("0000:4a:00.0", "pci0000:49", 0, 60),
    Slot("0000:ca:00.0", "pci0000:c9", 1, 150),
)


def slots_for(count: int, model: GpuModel) -> tuple[Slot, ...]:
    if model is L40S and count <= len(R760_SLOTS):
        return R760_SLOTS[:count]
    if count <= len(XE8640_SLOTS):
        return XE8640_SLOTS[:count]
    return HGX8_SLOTS[:count]
