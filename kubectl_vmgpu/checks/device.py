"""ResourceSlice device checks: published, complete pools, PCI address, taints, double allocation."""

from __future__ import annotations

from collections.abc import Iterator

from ..allocation import stranded
from ..chain import Chain, Device, LinkName, VmiView
from ..evidence import PCI_ADDRESS  # KubeVirt's PCI_ADDRESS_PATTERN: either case
from ..model import Ref, Severity
from ..views import PCI_ATTR, PCIE_ROOT_ATTR, Claim, Slice, tolerates
from .base import ClusterCheck, Context, E, Hit, VmiCheck, W, gpu_label


def _slices_known(ctx: Context) -> bool:
    return ctx.idx.inv.knows("ResourceSlice", "resourceslices.resource.k8s.io")


def _pool(ctx: Context, driver: str, pool: str) -> list[Slice]:
    return ctx.idx.pool_slices(driver, pool)


def _device_ref(chain: Chain) -> Ref:
    res = chain.results[0]
    name = chain.device.slice.name if chain.device else f"{res.driver}/{res.pool}"
    return Ref("ResourceSlice", None, name)


def device_not_published(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """An allocated device that no current-generation ResourceSlice of its pool lists."""
    if not _slices_known(ctx):
        return
    for chain in view.chains:
        for res in chain.results:
            key = (res.driver, res.pool, res.device)
            found = ctx.idx.published(key)
            if found and ctx.idx.is_current(found[0][0]):
                continue
            gen = max((sl.generation for sl in _pool(ctx, res.driver, res.pool)), default=None)
            why = (
                f"only in an old generation of pool {res.pool} (current: {gen})"
                if found
                else f"in no ResourceSlice of driver {res.driver} pool {res.pool}"
            )
            yield Hit(
                Ref("ResourceSlice", None, f"{res.driver}/{res.pool}"),
                f"{gpu_label(chain)} is allocated device {res.device}, which is {why}: the driver restarted, "
                "the device was removed, or it was re-published under another name",
                "restart the VM once the driver has re-published its devices (`kubectl get resourceslices "
                f"--field-selector spec.driver={res.driver}`)",
                LinkName.DEVICE,
                gpu=chain.gpu.name,
            )


def _pool_problems(ctx: Context, driver: str, pool: str) -> list[str]:
    """What is unfinished in a pool: missing current slices, leftover old generations."""
    slices = _pool(ctx, driver, pool)
    current = [s for s in slices if ctx.idx.is_current(s)]
    if not current:
        return []
    expected = max(s.slice_count for s in current)
    stale = len(slices) - len(current)
    parts = []
    if len(current) < expected:
        parts.append(f"{len(current)} of {expected} slices of the current generation are published")
    if stale:
        parts.append(f"{stale} slice(s) of older generations are still present")
    return parts


def pool_incomplete(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """An allocated device's pool with fewer current slices than resourceSliceCount, or old generations left."""
    if not _slices_known(ctx):
        return
    seen = set()
    for chain in view.chains:
        for res in chain.results:
            if (res.driver, res.pool) in seen:
                continue
            seen.add((res.driver, res.pool))
            parts = _pool_problems(ctx, res.driver, res.pool)
            if not parts:
                continue
            yield Hit(
                Ref("ResourceSlice", None, f"{res.driver}/{res.pool}"),
                f"pool {res.pool} of driver {res.driver} is being re-published: {'; '.join(parts)}",
                "wait for the driver to finish publishing; if it stays so, check the driver's kubelet plugin "
                "on that node",
                LinkName.DEVICE,
                gpu=chain.gpu.name,
            )


def pci_address_missing(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """An allocated device with neither of the attributes this KubeVirt takes its address from.

    v1.8+: `resource.kubernetes.io/pciBusID` or `mdevUUID` (via the metadata file); v1.6/v1.7: virt-controller
    reads `resource.kubernetes.io/pcieRoot` or `resource.kubernetes.io/mDevUUID` from the slice
    [kubevirt v1.6.0..v1.7.x pkg/virt-controller/watch/dra/dra.go getDeviceAttributes].
    """
    kv = view.kubevirt
    pci_key, mdev_key = kv.slice_address_keys()
    old = pci_key == PCIE_ROOT_ATTR
    for chain in view.chains:
        dev = chain.device
        if dev is None or dev.device.text(pci_key) or dev.device.text(mdev_key):
            continue
        if old:
            why = (
                f"KubeVirt {kv.label} fails (`neither pciAddress nor mdevUUIDa attribute found for device {dev.name}`) "
                f"and {gpu_label(chain)} gets no deviceStatus"
            )
            fix = (
                "upgrade KubeVirt to v1.8.3 or newer, which reads resource.kubernetes.io/pciBusID "
                "(a restart does not help)"
            )
        else:
            why = f"KubeVirt cannot build a hostdev for {gpu_label(chain)}"
            fix = (
                "use a driver version that publishes resource.kubernetes.io/pciBusID, and a passthrough device "
                "class (vfio.gpu.nvidia.com)"
            )
        yield Hit(
            _device_ref(chain),
            f"device {dev.name} ({dev.driver}, type {dev.device.type or '?'}) has neither {pci_key} nor {mdev_key}: "
            + why,
            fix,
            LinkName.DEVICE,
            gpu=chain.gpu.name,
        )


def kubevirt_pcieroot_address(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """KubeVirt v1.6/v1.7 copy the slice's pcieRoot into deviceStatus pciAddress; NVIDIA's is no PCI address.

    [kubevirt v1.6.0..v1.7.x pkg/virt-controller/watch/dra/dra.go PCIAddressDeviceAttributeKey; virt-launcher
    gpu_hostdev.go NewPciAddressField fails with `failed to parse pci address <value>`]
    """
    kv = view.kubevirt
    if kv.slice_address_keys()[0] != PCIE_ROOT_ATTR:
        return
    for chain in view.chains:
        dev = chain.device
        root = dev.device.pcie_root if dev is not None else None
        if dev is None or root is None or PCI_ADDRESS.match(root):
            continue
        yield Hit(
            _device_ref(chain),
            f"KubeVirt {kv.label} takes the PCI address of {gpu_label(chain)} from {PCIE_ROOT_ATTR}, which device "
            f"{dev.name} publishes as {root!r}, not a PCI address: virt-launcher cannot build the hostdev "
            f"(`failed to create PCI device for {chain.gpu.name}: failed to parse pci address {root}`)",
            "upgrade KubeVirt to v1.8.3 or newer (it reads resource.kubernetes.io/pciBusID from the DRA metadata "
            "file); restarting the VM does not help",
            LinkName.DEVICE,
            gpu=chain.gpu.name,
        )


def pci_address_malformed(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """An allocated device whose pciBusID is not a DDDD:BB:SS.F address in hex (either case, as KubeVirt reads it)."""
    for chain in view.chains:
        dev = chain.device
        if dev is not None and dev.pci and not PCI_ADDRESS.match(dev.pci):
            yield Hit(
                _device_ref(chain),
                f"device {dev.name} publishes {PCI_ATTR} {dev.pci!r}, not a DDDD:BB:SS.F address: "
                "KubeVirt cannot use it",
                "report it to the driver's maintainers and upgrade the driver",
                LinkName.DEVICE,
                gpu=chain.gpu.name,
            )


def device_tainted(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """A device taint neither the allocation result nor the request tolerates (NoExecute: an error)."""
    for chain in view.chains:
        dev = chain.device
        if dev is None:
            continue
        tolerations = chain.results[0].tolerations + (chain.request.tolerations if chain.request else ())
        for taint in dev.device.taints:
            if tolerates(taint, tolerations):
                continue
            no_execute = taint.effect == "NoExecute"
            yield Hit(
                _device_ref(chain),
                f"device {dev.name} of {gpu_label(chain)} carries taint {taint} that "
                "the allocation does not tolerate" + (": NoExecute evicts the pod" if no_execute else ""),
                "fix the device (see the driver's health status) or add a matching toleration to the request",
                LinkName.DEVICE,
                gpu=chain.gpu.name,
                severity=Severity.ERROR if no_execute else None,
            )


def _twins(ctx: Context, dev: Device, own: str) -> Iterator[tuple[str, Claim]]:
    """Other devices of the pool's current slices with the same PCI address, and a claim holding each."""
    for sl in _pool(ctx, dev.driver, dev.pool):
        if not ctx.idx.is_current(sl):
            continue
        for other in sl.devices:
            if other.name == dev.name or other.pci != dev.pci:
                continue
            key = (dev.driver, dev.pool, other.name)
            claims = ctx.idx.holders(key)
            holders = [c for c in claims if c.meta.uid != own]
            if holders:
                yield other.name, holders[0]


def device_double_allocated(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """The allocated device and another allocated device of the same pool share one pciBusID."""
    for chain in view.chains:
        dev = chain.device
        if dev is None or not dev.pci:
            continue
        own = chain.claim.meta.uid if chain.claim else ""
        for name, held in _twins(ctx, dev, own):
            yield Hit(
                _device_ref(chain),
                f"{dev.name} ({gpu_label(chain)}) and {name}, held by claim "
                f"{held.meta.namespace}/{held.meta.name}, are the same GPU {dev.pci}",
                f"delete one consumer: the workload that owns claim {held.meta.namespace}/{held.meta.name}, or this VM",
                LinkName.DEVICE,
                gpu=chain.gpu.name,
            )


def vfio_device_stranded(ctx: Context) -> Iterator[Hit]:
    """A `gpu-vfio-N` no claim holds whose `gpu-N` twin is gone, or that lacks its siblings' attributes."""
    for (driver, pool, name), why in sorted(stranded(ctx.idx).items()):
        found = ctx.idx.published((driver, pool, name))
        where = found[0][0].name if found else f"{driver}/{pool}"
        node = (found[0][0].node if found else None) or pool
        yield Hit(
            Ref("ResourceSlice", None, where),
            f"device {name} of pool {pool} looks stranded: {why}; the GPU likely stayed bound to vfio-pci after a "
            "failed unbind or a kubelet-plugin restart (dra-driver-nvidia-gpu issues 1089, 1331)",
            f"restart the driver's kubelet plugin on node {node}, or rebind the GPU to the nvidia driver; see "
            "dra-driver-nvidia-gpu issues 1089 and 1331",
            None,
        )


CHECKS = (
    VmiCheck(
        id="VG401",
        name="device-not-published",
        severity=E,
        stage="device",
        summary="the allocated device is in no current ResourceSlice",
        explanation="The driver restarted, the device was removed, or the pool generation moved on.",
        fix="Restart the VM after the driver republishes.",
        run=device_not_published,
    ),
    VmiCheck(
        id="VG402",
        name="pool-incomplete",
        severity=W,
        stage="device",
        summary="the device's pool is still being published",
        explanation="Fewer current slices than resourceSliceCount, or older generations still present.",
        fix="Wait; check the driver.",
        run=pool_incomplete,
    ),
    VmiCheck(
        id="VG403",
        name="pci-address-missing",
        severity=E,
        stage="device",
        summary="the device has no address attribute this KubeVirt reads",
        explanation=(
            "KubeVirt cannot build a hostdev without an address: v1.8+ read pciBusID or mdevUUID; v1.6/v1.7 read "
            "resource.kubernetes.io/pcieRoot or resource.kubernetes.io/mDevUUID."
        ),
        fix="Use a driver that publishes it / a passthrough device.",
        run=pci_address_missing,
    ),
    VmiCheck(
        id="VG404",
        name="pci-address-malformed",
        severity=E,
        stage="device",
        summary="the pciBusID is not DDDD:BB:SS.F",
        explanation="KubeVirt parses the extended BDF form only (PCI_ADDRESS_PATTERN, pkg/util/hardware/hw_utils.go: "
        "hex digits of either case).",
        versions="KubeVirt v1.6-v1.9",
        fix="Driver bug: upgrade the driver.",
        run=pci_address_malformed,
    ),
    VmiCheck(
        id="VG405",
        name="device-tainted",
        severity=W,
        stage="device",
        summary="the device carries a taint the allocation does not tolerate",
        explanation="Warning; a NoExecute taint is an error (the pod is evicted).",
        fix="Fix the device or tolerate.",
        run=device_tainted,
    ),
    VmiCheck(
        id="VG406",
        name="device-double-allocated",
        severity=E,
        stage="device",
        summary="two allocated devices share one pciBusID",
        explanation="A GPU's gpu-N and gpu-vfio-N twins are one device; both allocated is a conflict.",
        fix="Delete one consumer.",
        run=device_double_allocated,
    ),
    VmiCheck(
        id="VG407",
        name="kubevirt-pcieroot-address",
        severity=E,
        stage="device",
        summary="KubeVirt v1.6/v1.7 take the PCI address from pcieRoot, which is no PCI address",
        explanation=(
            "virt-controller v1.6/v1.7 copy resource.kubernetes.io/pcieRoot into VMI deviceStatus pciAddress; the "
            "NVIDIA driver publishes a PCIe root (pci0000:49) there, so virt-launcher cannot build the hostdev."
        ),
        fix="Upgrade KubeVirt to v1.8.3 or newer (a restart does not help).",
        versions="KubeVirt v1.6-v1.7",
        run=kubevirt_pcieroot_address,
    ),
    ClusterCheck(
        id="VG408",
        name="vfio-device-stranded",
        severity=W,
        stage="device",
        summary="an unheld gpu-vfio-N device without its gpu-N twin or its siblings' attributes",
        explanation=(
            "The driver publishes each GPU twice (gpu-N, gpu-vfio-N) and removes the twin only while the vfio "
            "device is prepared; an unheld vfio device without its twin, or without attributes its siblings carry "
            "(e.g. partitionN), is a GPU left on vfio-pci (dra-driver-nvidia-gpu issues 1089, 1331)."
        ),
        fix="Restart the driver's kubelet plugin on the node, or rebind the GPU.",
        versions="all supported; NVIDIA DRA driver with PassthroughSupport",
        run=vfio_device_stranded,
    ),
)
