"""`python -m kubectl_vmgpu`: the same entry point as the `kubectl-vmgpu` executable."""

from .entry import main

if __name__ == "__main__":
    main()
