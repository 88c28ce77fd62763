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
