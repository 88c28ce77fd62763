"""The fixed, read-only commands run by exec in a virt-launcher `compute` container."""

from __future__ import annotations

# Where drivers write KEP-5304 metadata: the current path (KubeVirt v1.8.3+) and the one
# KubeVirt v1.8.0-v1.8.2 read (kubevirt/kubevirt#17672).
METADATA_ROOT = "/var/run/kubernetes.io/dra-device-attributes"
OLD_METADATA_ROOT = "/var/run/dra-device-attributes"
METADATA_ROOTS = (METADATA_ROOT, OLD_METADATA_ROOT)

CONTAINER = "compute"
MAX_FILE_BYTES = 1 << 20  # per metadata file, enforced by `head -c`
MAX_OUTPUT_BYTES = 8 << 20  # per exec call, enforced by the reader

# NUL-separated (-print0): a file name holding a newline stays one name (never read as two paths).
FIND_METADATA = ("find", *METADATA_ROOTS, "-type", "f", "-name", "*-metadata.json", "-print0")
LIST_VFIO = ("ls", "-l", "/dev/vfio")
# iommufd mode (PreferIommuFD on a host with /dev/iommu): the driver injects /dev/iommu (API device) and
# /dev/vfio/devices/vfioN instead of /dev/vfio/vfio and the group nodes [dra-driver-nvidia-gpu vfio-cdi.go].
LIST_IOMMU = ("ls", "-l", "/dev/iommu", "/dev/vfio/devices")


def read_files(paths: list[str]) -> tuple[str, ...]:
    """`head -v` prints every file behind a `==> path <==` header, capped per file."""
    return ("head", "-v", "-c", str(MAX_FILE_BYTES), "--", *paths)


def dump_domain(namespace: str, vmi: str) -> tuple[str, ...]:
    """libvirt names the domain `<namespace>_<vmi name>`; `-r` opens a read-only connection."""
    return ("virsh", "-r", "dumpxml", f"{namespace}_{vmi}")
