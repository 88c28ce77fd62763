"""Checks on what the virt-launcher shows: metadata files, /dev/vfio, domain XML, VMI events."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..chain import Chain, LinkName, VmiView
from ..links import addresses
from ..model import Ref
from ..views import PCI_ATTR
from .base import Context, E, Hit, VmiCheck, gpu_label, pod_ref
from .vfio import IOMMU_DEVICE, iommufd_mode, is_vfio, vfio_configs

# virt-launcher and libvirt texts that tie a SyncFailed event to DRA devices (chain.md 6, 7; breaks.md).
SYNC_PATTERNS = re.compile(
    r"no mdevUUID or pciBusID|failed to read metadata|no compatible metadata version|"
    r"only supports exactly one device per request|passthrough of host PCI devices|"
    r"VFIO PCI device assignment is not supported|cannot limit locked memory|dra-device-attributes|"
    r"hostdev|vfio",
    re.IGNORECASE,
)


# KEP-5304 has no Kubernetes feature gate (kep.yaml `feature-gates: NA`): the driver writes the files and CDI
# mounts them (chain.md 6, 7).
DEVICE_METADATA_FIX = (
    "enable the NVIDIA DRA driver's DeviceMetadata feature gate (driver v0.4 or newer, with PassthroughSupport) "
    "in its Helm values; the files reach the container through CDI, so the container runtime must have CDI "
    "enabled, and the cluster must run Kubernetes 1.36 or newer; then restart the VM so its new launcher pod "
    "is prepared with metadata"
)


def metadata_fix(view: VmiView, chain: Chain) -> str:
    """What makes the metadata appear: DeviceMetadata only for a vfio device with no metadata file anywhere."""
    evd, kv = chain.evidence, view.kubevirt
    if evd.metadata_other:
        where = ", ".join(evd.metadata_other)
        if kv.uses_old_metadata_path():
            return (
                f"the driver wrote {where}, but KubeVirt {kv.label} reads {evd.metadata_dir}/: upgrade KubeVirt "
                "to v1.8.3 or newer, which reads /var/run/kubernetes.io/dra-device-attributes/"
            )
        return (
            f"the metadata is at {where}, not under {evd.metadata_dir}/ where KubeVirt {kv.label} looks for claim "
            f"{chain.gpu.claim_name!r} request {chain.gpu.request_name!r}: make claimName/requestName of "
            f"{gpu_label(chain)} name the claim's request"
        )
    if not is_vfio(chain):
        kind = chain.device.device.type if chain.device else None
        return (
            f"{gpu_label(chain)} is not a VFIO device{f' (type {kind})' if kind else ''}: the NVIDIA driver writes "
            "metadata only for `type: vfio` devices; claim it from vfio.gpu.nvidia.com (see not-a-passthrough-class)"
        )
    if chain.request is None:
        return f"the claim has no request {chain.gpu.request_name!r}: fix requestName (see request-not-found)"
    return DEVICE_METADATA_FIX


def metadata_missing(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """no *-metadata.json for the (claim, request) in the folder this KubeVirt version reads."""
    for chain in view.chains:
        evd = chain.evidence
        if evd.metadata_dir is None or evd.metadata_files or evd.metadata_error:
            continue
        elsewhere = f"; metadata found elsewhere: {', '.join(evd.metadata_other)}" if evd.metadata_other else ""
        yield Hit(
            pod_ref(view),
            f"no *-metadata.json in {evd.metadata_dir}/ for {gpu_label(chain)}: virt-launcher cannot tell which "
            f'device to attach (`failed to read metadata for claim "{chain.gpu.claim_name}" request '
            f'"{chain.gpu.request_name}": no files matching ...`){elsewhere}',
            metadata_fix(view, chain),
            LinkName.METADATA,
            gpu=chain.gpu.name,
        )


def metadata_unreadable(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """A metadata file KubeVirt cannot use: several files, a parse error, or not exactly one device for the request."""
    for chain in view.chains:
        evd = chain.evidence
        if evd.metadata_dir is None:
            continue
        problem = None
        if len(evd.metadata_files) > 1:
            problem = f"{len(evd.metadata_files)} metadata files ({', '.join(evd.metadata_files)}); KubeVirt needs one"
        elif evd.metadata_error and evd.metadata_files:
            problem = evd.metadata_error
        elif evd.metadata is not None and len(evd.metadata_devices) != 1:
            problem = (
                f"{evd.metadata.path} lists {len(evd.metadata_devices)} devices for request "
                f"{chain.gpu.request_name!r}; KubeVirt needs exactly one"
            )
        if problem:
            yield Hit(
                pod_ref(view),
                f"the DRA metadata of {gpu_label(chain)} cannot be used: {problem}",
                "align the driver and KubeVirt versions (KubeVirt reads metadata.resource.k8s.io/v1alpha1, one "
                "file and one device per claim request)",
                LinkName.METADATA,
                gpu=chain.gpu.name,
            )


def _sources(view: VmiView, chain: Chain) -> dict[str, dict[str, str]]:
    """The device's address per source, the slice's as this KubeVirt reads it (v1.6/v1.7: pcieRoot, mDevUUID)."""
    found = addresses(chain)
    pci_key, mdev_key = view.kubevirt.slice_address_keys()
    if pci_key != PCI_ATTR and chain.device is not None:
        for attr, key in (("pciBusID", pci_key), ("mdevUUID", mdev_key)):
            found[attr].pop("ResourceSlice", None)
            value = chain.device.device.text(key)
            if value:
                found[attr] = {f"ResourceSlice {key.rsplit('/', 1)[-1]}": value, **found[attr]}
    return found


def pci_mismatch(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """The slice, deviceStatus, metadata file and domain XML disagree on the pciBusID or mdevUUID."""
    for chain in view.chains:
        for attr, seen in _sources(view, chain).items():
            if len({v.lower() for v in seen.values()}) > 1:
                listing = ", ".join(f"{k} {v}" for k, v in seen.items())
                yield Hit(
                    Ref("VirtualMachineInstance", view.namespace, view.name),
                    f"{gpu_label(chain)} has different {attr}s: {listing}: the guest may get another device "
                    "than the one allocated",
                    "restart the VM so the launcher is rebuilt from the current allocation; if the slice is "
                    "wrong, restart the driver's kubelet plugin on that node",
                    LinkName.DOMAIN,
                    gpu=chain.gpu.name,
                )


def api_device_absent(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """A VFIO GPU whose compute container lacks the API device of its mode: /dev/vfio/vfio, or /dev/iommu.

    In iommufd mode the driver injects /dev/iommu and /dev/vfio/devices/vfioN, never /dev/vfio/vfio
    [dra-driver-nvidia-gpu vfio-cdi.go GetCommonEdits, GetDeviceSpecsByPCIBusID].
    """
    for chain in view.chains:
        evd = chain.evidence
        if not is_vfio(chain):
            continue
        if iommufd_mode(chain):
            if evd.iommu is None or IOMMU_DEVICE in evd.iommu:
                continue
            cdevs = [p.rsplit("/", 1)[1] for p in evd.iommu if p.startswith("/dev/vfio/devices/")]
            message = (
                "iommufd mode (backendPolicy PreferIommuFD on a host with iommufd), but the compute container has "
                f"no /dev/iommu (VFIO cdevs: {', '.join(cdevs) or 'none'}): libvirt cannot open the iommufd API device"
            )
        else:
            if evd.vfio is None or "vfio" in evd.vfio:
                continue
            groups = [n for n in evd.vfio if n.isdigit()]
            message = (
                f"/dev/vfio in the compute container holds {', '.join(groups) or 'no IOMMU group'} but no "
                "/dev/vfio/vfio: libvirt cannot open the VFIO container (`unsupported configuration: host doesn't "
                "support passthrough of host PCI devices`)"
            )
        yield Hit(
            pod_ref(view),
            message,
            _api_device_fix(chain),
            LinkName.VFIO,
            gpu=chain.gpu.name,
        )


def _api_device_fix(chain: Chain) -> str:
    node = IOMMU_DEVICE if iommufd_mode(chain) else "/dev/vfio/vfio"
    if not any(c.vfio is not None and c.vfio.enable_api_device is True for c in vfio_configs(chain)):
        return (
            "set iommu.enableAPIDevice: true in the claim's VfioDeviceConfig (see api-device-not-enabled), "
            "then restart the VM"
        )
    return (
        f"the claim already sets iommu.enableAPIDevice: true, yet the driver's CDI spec did not inject {node} "
        "(a GPU already bound to vfio-pci when the driver prepared it): restart the driver's kubelet plugin on "
        "the node, then restart the VM so the claim is prepared again"
    )


def hostdev_missing(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """A running VMI's domain XML without the GPU's `ua-dra-gpu-<name>` hostdev."""
    if view.phase != "Running":
        return
    for chain in view.chains:
        evd = chain.evidence
        if evd.domain_name is None or evd.hostdev is not None:
            continue
        others = ", ".join(h.alias for h in evd.hostdevs if h.alias) or "none"
        yield Hit(
            Ref("VirtualMachineInstance", view.namespace, view.name),
            f"domain {evd.domain_name} has no hostdev with alias {chain.gpu.alias} (hostdevs: {others}): "
            "the guest does not see the device",
            f"see the VMI's SyncFailed events (`kubectl get events -n {view.namespace} --field-selector "
            f"involvedObject.name={view.name}`) and restart the VM after fixing their cause",
            LinkName.DOMAIN,
            gpu=chain.gpu.name,
        )


def launcher_sync_failed(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """Warning SyncFailed events on the VMI whose text ties them to DRA devices (the last one quoted)."""
    if view.vmi is None:
        return
    events = [
        e
        for e in ctx.idx.events(view.vmi.meta)
        if e.reason == "SyncFailed" and e.type == "Warning" and SYNC_PATTERNS.search(e.message)
    ]
    if events:
        last = events[-1]
        yield Hit(
            Ref("VirtualMachineInstance", view.namespace, view.name),
            f"virt-handler reports SyncFailed ({sum(e.count for e in events)}x): {last.message}",
            _sync_fix(view, last.message),
            LinkName.DOMAIN,
        )


def _sync_fix(view: VmiView, message: str) -> str:
    """The fix for what a SyncFailed message names."""
    text = message.lower()
    if "passthrough of host pci" in text or "vfio pci device assignment" in text:
        return "set iommu.enableAPIDevice: true in the claim's VfioDeviceConfig so /dev/vfio/vfio is injected"
    if "no compatible metadata version" in text:
        return "align the DRA driver with KubeVirt: KubeVirt reads metadata.resource.k8s.io/v1alpha1"
    if "failed to read metadata" in text or "no mdevuuid or pcibusid" in text:
        missing = [c for c in view.chains if c.evidence.metadata_dir is not None and not c.evidence.metadata_files]
        if missing:
            return metadata_fix(view, missing[0])
        return "check the claim/request names of the VMI's GPUs and the metadata files in the compute container"
    if "locked memory" in text:
        return "the launcher cannot lock guest memory for VFIO: check the launcher's memlock limits/privileges"
    if "exactly one device" in text:
        return "use count: 1 per request and one gpus[] entry per request"
    return "act on the message; virt-launcher retries until the cause is fixed"


_METADATA_VERSIONS = "KubeVirt v1.8+ (v1.6/v1.7 take the address from VMI deviceStatus)"

CHECKS = (
    VmiCheck(
        id="VG501",
        name="metadata-missing",
        severity=E,
        stage="launcher",
        summary="no DRA metadata file where KubeVirt reads it",
        explanation="virt-launcher reads the device's pciBusID/mdevUUID from the KEP-5304 metadata file.",
        fix="Enable the driver's DeviceMetadata gate.",
        versions=_METADATA_VERSIONS,
        run=metadata_missing,
    ),
    VmiCheck(
        id="VG502",
        name="metadata-unreadable",
        severity=E,
        stage="launcher",
        summary="the metadata file cannot be used",
        explanation=(
            "No metadata.resource.k8s.io/v1alpha1 object, several files, or not exactly one device per request."
        ),
        fix="Align driver and KubeVirt versions.",
        versions=_METADATA_VERSIONS,
        run=metadata_unreadable,
    ),
    VmiCheck(
        id="VG503",
        name="pci-mismatch",
        severity=E,
        stage="launcher",
        summary="sources disagree on the device address",
        explanation=(
            "The pciBusID differs between the slice, metadata file, domain XML or VMI deviceStatus; on v1.6/v1.7 "
            "the slice's address is its pcieRoot (and resource.kubernetes.io/mDevUUID), as virt-controller reads it."
        ),
        fix="Restart the VM; check the driver's slice.",
        run=pci_mismatch,
    ),
    VmiCheck(
        id="VG504",
        name="api-device-absent",
        severity=E,
        stage="launcher",
        summary="/dev/vfio/vfio is missing in the compute container",
        explanation="libvirt needs the VFIO API device to assign a PCI device.",
        fix="enableAPIDevice.",
        run=api_device_absent,
    ),
    VmiCheck(
        id="VG505",
        name="hostdev-missing",
        severity=E,
        stage="launcher",
        summary="the domain XML has no hostdev for the GPU",
        explanation="The running domain lacks the ua-dra-gpu-<name> hostdev.",
        fix="See the VMI SyncFailed events.",
        run=hostdev_missing,
    ),
    VmiCheck(
        id="VG506",
        name="launcher-sync-failed",
        severity=E,
        stage="launcher",
        summary="virt-handler reports DRA SyncFailed events",
        explanation="virt-launcher could not build the domain for a DRA device and retries forever.",
        fix="Message-specific.",
        run=launcher_sync_failed,
    ),
)
