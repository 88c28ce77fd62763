"""Large synthetic clusters for benchmarks: N VMs over M 8-GPU nodes, mostly healthy, some broken chains."""

from __future__ import annotations

from typing import Any

from .lab import Lab

# every 7th VM gets one of these, in turn (the rest are healthy)
BREAKS: list[dict[str, Any]] = [
    {"vfio": {"iommu": {"backendPolicy": "LegacyOnly"}}},  # api-device-not-enabled
    {"faults": {"pci-mismatch"}},
    {"faults": {"prepare-timeout"}},
    {"vmi_request_names": ["gpu"]},  # request-not-found
    {"faults": {"no-pci"}},
    {"count": 2},  # request-multi-device
    {"faults": {"hostdev-detached"}},
    {"create_template": False, "template": "missing-template"},
    {"faults": {"taint"}},
    {"faults": {"exec-forbidden"}},
]


def big_lab(vmis: int, nodes: int, seed: str = "big") -> Lab:
    lab = Lab(f"big-{seed}-{vmis}-{nodes}")
    for i in range(nodes):
        lab.add_node(f"hgx-{i + 1:03d}", gpus=8, ip=f"10.12.{i // 200}.{10 + i % 200}")
    gpus_total = nodes * 8
    for i in range(vmis):
        kw: dict[str, Any] = {}
        if i % 7 == 3:
            kw.update(BREAKS[(i // 7) % len(BREAKS)])
        ns = f"team-{i % 12:02d}"
        gpus = 2 if i % 5 == 0 and i < gpus_total // 2 else 1
        if gpus == 2 and "count" not in kw:
            kw["gpus"] = 2
            kw.setdefault("template", "h100-x2")
        lab.add_vm(f"vm-{i:05d}", namespace=ns, minutes=5 + i * 0.2, cores=8, memory="32Gi", **kw)
    return lab


# A selector no vfio device matches (they publish the PCI database name, not NVML's): the claim stays pending.
NVML_NAME = "device.attributes['gpu.nvidia.com'].productName == 'NVIDIA H100 80GB HBM3'"


def fleet_base(vmis: int = 100, nodes: int = 15, seed: str = "fleet") -> Lab:
    """One unit of a fleet, for `clone.write_clone`: `vmis` VMIs over `nodes` 8-GPU nodes, a few spare GPUs.

    `big_lab`'s mix (every 7th VM broken in one of ten ways, every 5th of the first half with two GPUs)
    plus what a fleet always has somewhere: a VM whose claim stays pending (its selector matches no
    device, so the allocation is explained device by device over every node), two stopped VMs (no VMI)
    and a container pod holding a GPU through its own claim. VM names stay `vm-NNNNN`, numbered in order.
    """
    lab = big_lab(vmis - 1, nodes, seed)
    lab.add_vm(f"vm-{vmis - 1:05d}", namespace="team-03", minutes=4.0, selectors=[NVML_NAME])
    for i in (vmis, vmis + 1):
        lab.add_vm(f"vm-{i:05d}", namespace=f"team-{i % 12:02d}", minutes=3.0, run_strategy="Halted")
    lab.add_workload("cuda-job-0", "batch", lab.nodes[-1].name, "gpu-7", minutes=1.0)
    return lab


def running_lab(vmis: int = 100, seed: str = "running") -> Lab:
    """`vmis` healthy, running GPU VMs (one H100 each) on 8-GPU nodes: every launcher answers all four execs."""
    lab = Lab(f"running-{seed}-{vmis}")
    for i in range(-(-vmis // 8)):
        lab.add_node(f"hgx-{i + 1:03d}", gpus=8, ip=f"10.14.{i // 200}.{10 + i % 200}")
    for i in range(vmis):
        lab.add_vm(f"vm-{i:05d}", namespace=f"team-{i % 12:02d}", minutes=5 + i * 0.2, cores=8, memory="32Gi")
    return lab
