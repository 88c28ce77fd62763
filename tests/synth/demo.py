"""The demo shipped in kubectl_vmgpu/demo/: a two-node H100 lab where most things work and a few do not."""

from __future__ import annotations

from pathlib import Path

from .lab import Lab
from .model import GPU_CLASS

VFIO_NO_API = {"iommu": {"backendPolicy": "LegacyOnly"}}


def demo_lab() -> Lab:
    lab = Lab("demo", kubernetes="v1.36.1", kubevirt="v1.9.0", driver="v0.4.1")
    lab.add_node("xe8640-01", gpus=4)
    lab.add_node("xe8640-02", gpus=4)
    # xe8640-01
    lab.add_vm("ubuntu-h100", namespace="gpu-lab", node="xe8640-01", template="h100-passthrough",
               pod_claim="gpu")
    lab.add_vm("win-cad-ws", namespace="gpu-lab", node="xe8640-01", template="h100-passthrough-basic",
               pod_claim="gpu", vfio=dict(VFIO_NO_API), cores=16, memory="64Gi",
               image="registry.lab.local/vdi/win2022-cad:2026.10")
    lab.add_vm("llm-finetune", namespace="ml-team", node="xe8640-01", template="h100-vfio", pod_claim="gpu",
               faults={"pci-mismatch"}, cores=32, memory="256Gi")
    lab.add_vm("jupyter-gpu", namespace="ml-team", node="xe8640-01", template="h100-vfio", pod_claim="gpu",
               vmi_request_names=["gpu"], cores=8, memory="64Gi")
    # xe8640-02
    lab.add_vm("train-2gpu", namespace="ml-team", node="xe8640-02", template="h100-x2", pod_claim="gpus", gpus=2,
               cores=48, memory="384Gi")
    lab.add_vm("cuda-in-a-vm", namespace="gpu-lab", node="xe8640-02", template="h100-container", pod_claim="gpu",
               device_class=GPU_CLASS, vfio=None)
    lab.add_vm("inference-h100", namespace="ml-team", node="xe8640-02", template="h100-vfio", pod_claim="gpu",
               cores=16, memory="128Gi")
    lab.add_vm("llm-70b", namespace="ml-team", template="h100-x2-numa", pod_claim="gpus", gpus=2, same_numa=True,
               cores=64, memory="512Gi")
    lab.add_vm("archive-vm", namespace="gpu-lab", template="h100-passthrough", pod_claim="gpu",
               run_strategy="Halted")
    return lab


README = (Path(__file__).parent / "demo_readme.md").read_text()
