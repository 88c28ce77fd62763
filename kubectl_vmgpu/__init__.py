"""kubectl-vmgpu: walk and check the DRA GPU chain of KubeVirt virtual machines."""

__version__ = "0.1.0"
