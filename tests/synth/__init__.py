"""Synthetic but realistic cluster snapshots for kubectl-vmgpu: a Lab builder, scenarios, the demo, big clusters."""

from .lab import Lab
from .model import API_DEVICE, GPU_CLASS, VFIO_CLASS, VGPU_CLASS, VM, Node

__all__ = ["API_DEVICE", "GPU_CLASS", "VFIO_CLASS", "VGPU_CLASS", "VM", "Lab", "Node"]
