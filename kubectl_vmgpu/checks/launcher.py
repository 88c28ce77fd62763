"""Checks on what the virt-launcher shows: metadata files, /dev/vfio, domain XML, VMI events."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..chain import Chain, VmiView, reads_metadata
from ..index import dig, meta
from ..model import Ref
from .base import Context, Hit, gpu_label
from .vmi import is_vfio

# virt-launcher and libvirt texts that tie a SyncFailed event to DRA devices (chain.md 6, 7; breaks.md).
SYNC_PATTERNS = re.compile(
    r"no mdevUUID or pciBusID|failed to read metadata|no compatible metadata version|"
    r"only supports exactly one device per request|passthrough of host PCI devices|"
    r"VFIO PCI device assignment is not supported|cannot limit locked memory|dra-device-attributes|"
    r"hostdev|vfio",
    re.IGNORECASE,
)


NO_DOMAIN = "failed to get domain"


def _pod(view: VmiView) -> Ref:
    return Ref("Pod", view.namespace, meta(view.pod, "name") if view.pod else "?")


def _running(view: VmiView) -> bool:
    return view.pod is not None and dig(view.pod, "status", "phase") == "Running"


def metadata_missing(ctx: Context, view: VmiView) -> Iterator[Hit]:
    for chain in view.chains:
        evd = chain.evidence
        if evd.metadata_dir is None or evd.metadata_files or evd.metadata_error:
            continue
        elsewhere = f"; metadata found elsewhere: {', '.join(evd.metadata_other)}" if evd.metadata_other else ""
        yield Hit(
            _pod(view),
            f"no *-metadata.json in {evd.metadata_dir}/ for {gpu_label(chain)}: virt-launcher cannot tell which "
            f'device to attach (`failed to read metadata for claim "{chain.gpu.claim_name}" request '
            f'"{chain.gpu.request_name}": no files matching ...`){elsewhere}',
            "enable the driver's DeviceMetadata feature gate (needs PassthroughSupport and Kubernetes 1.36+ "
            "with the DRA device metadata feature), then restart the VM",
            "metadata",
            gpu=chain.gpu.name,
        )


def metadata_unreadable(ctx: Context, view: VmiView) -> Iterator[Hit]:
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
                _pod(view),
                f"the DRA metadata of {gpu_label(chain)} cannot be used: {problem}",
                "align the driver and KubeVirt versions (KubeVirt reads metadata.resource.k8s.io/v1alpha1, one "
                "file and one device per claim request)",
                "metadata",
                gpu=chain.gpu.name,
            )


def pci_mismatch(ctx: Context, view: VmiView) -> Iterator[Hit]:
    for chain in view.chains:
        for attr, seen in addresses(chain).items():
            if len({v.lower() for v in seen.values()}) > 1:
                listing = ", ".join(f"{k} {v}" for k, v in seen.items())
                yield Hit(
                    Ref("VirtualMachineInstance", view.namespace, view.name),
                    f"{gpu_label(chain)} has different {attr}s: {listing}: the guest may get another device "
                    "than the one allocated",
                    "restart the VM so the launcher is rebuilt from the current allocation; if the slice is "
                    "wrong, restart the driver's kubelet plugin on that node",
                    "domain",
                    gpu=chain.gpu.name,
                )


def addresses(chain: Chain) -> dict[str, dict[str, str]]:
    """The device's pciBusID and mdevUUID as each source shows it."""
    evd = chain.evidence
    found: dict[str, dict[str, str]] = {"pciBusID": {}, "mdevUUID": {}}
    sources: list[tuple[str, str | None, str | None]] = []
    if chain.device is not None:
        sources.append(("ResourceSlice", chain.device.pci, chain.device.mdev))
    if evd.status_present:
        sources.append(("VMI deviceStatus", evd.status_pci, evd.status_mdev))
    if len(evd.metadata_devices) == 1:
        sources.append(("metadata", evd.metadata_devices[0].pci, evd.metadata_devices[0].mdev))
    if evd.hostdev is not None:
        sources.append(("domain XML", evd.hostdev.pci, evd.hostdev.mdev))
    for source, pci, mdev in sources:
        if pci:
            found["pciBusID"][source] = pci
        if mdev:
            found["mdevUUID"][source] = mdev
    return found


def api_device_absent(ctx: Context, view: VmiView) -> Iterator[Hit]:
    for chain in view.chains:
        vfio = chain.evidence.vfio
        if vfio is None or not is_vfio(chain) or "vfio" in vfio:
            continue
        groups = [n for n in vfio if n.isdigit()]
        yield Hit(
            _pod(view),
            f"/dev/vfio in the compute container holds {', '.join(groups) or 'nothing'} but no /dev/vfio/vfio: "
            "libvirt cannot open the VFIO container (`unsupported configuration: host doesn't support "
            "passthrough of host PCI devices`)",
            "set iommu.enableAPIDevice: true in the claim's VfioDeviceConfig (see api-device-not-enabled), "
            "then restart the VM",
            "vfio",
            gpu=chain.gpu.name,
        )


def hostdev_missing(ctx: Context, view: VmiView) -> Iterator[Hit]:
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
            "domain",
            gpu=chain.gpu.name,
        )


def launcher_sync_failed(ctx: Context, view: VmiView) -> Iterator[Hit]:
    if view.vmi is None:
        return
    events = [
        e
        for e in ctx.idx.events(view.vmi)
        if e.get("reason") == "SyncFailed"
        and e.get("type") == "Warning"
        and SYNC_PATTERNS.search(str(e.get("message")))
    ]
    if events:
        last = events[-1]
        count = sum(int(e.get("count") or 1) for e in events)
        yield Hit(
            Ref("VirtualMachineInstance", view.namespace, view.name),
            f"virt-handler reports SyncFailed ({count}x): {last.get('message')}",
            _sync_fix(str(last.get("message"))),
            "domain",
        )


def _sync_fix(message: str) -> str:
    text = message.lower()
    if "passthrough of host pci" in text or "vfio pci device assignment" in text:
        return "set iommu.enableAPIDevice: true in the claim's VfioDeviceConfig so /dev/vfio/vfio is injected"
    if "no compatible metadata version" in text:
        return "align the DRA driver with KubeVirt: KubeVirt reads metadata.resource.k8s.io/v1alpha1"
    if "failed to read metadata" in text or "no mdevuuid or pcibusid" in text:
        return "enable the driver's DeviceMetadata gate and check the claim/request names of the VMI's GPUs"
    if "locked memory" in text:
        return "the launcher cannot lock guest memory for VFIO: check the launcher's memlock limits/privileges"
    if "exactly one device" in text:
        return "use count: 1 per request and one gpus[] entry per request"
    return "act on the message; virt-launcher retries until the cause is fixed"


def evidence_unavailable(ctx: Context, view: VmiView) -> Iterator[Hit]:
    if view.vmi is None or view.phase in ("Succeeded", "Failed") or not view.chains:
        return
    if view.pod is None:
        return
    pod_name = meta(view.pod, "name")
    if not _running(view):
        gaps = {"launcher evidence": f"pod {pod_name} is {dig(view.pod, 'status', 'phase') or 'not running'}"}
    elif ctx.exec_disabled and view.pod_evidence is None:
        gaps = {"metadata files, /dev/vfio and domain XML": "--no-exec"}
    elif view.pod_evidence is None:
        gaps = {"metadata files, /dev/vfio and domain XML": "no launcher evidence in the snapshot"}
    else:
        pe = view.pod_evidence
        gaps = {}
        needs_metadata = reads_metadata(ctx.idx.kubevirt_version)
        if needs_metadata and pe.metadata_files is None:
            gaps["metadata files"] = pe.unavailable.get("metadata", "not collected")
        if pe.vfio_listing is None:
            gaps["/dev/vfio"] = pe.unavailable.get("vfio", "not collected")
        if pe.domain_xml is None:
            reason = pe.unavailable.get("domain", "not collected")
            if view.phase == "Running" or NO_DOMAIN not in reason:  # before Running there may be no domain yet
                gaps["domain XML"] = reason
        elif view.chains[0].evidence.domain_error:
            gaps["domain XML"] = view.chains[0].evidence.domain_error or ""
        for chain in view.chains:
            if chain.evidence.metadata_error and not chain.evidence.metadata_files:
                gaps["metadata files"] = chain.evidence.metadata_error
    if gaps:
        by_reason: dict[str, list[str]] = {}
        for piece, reason in gaps.items():
            by_reason.setdefault(reason, []).append(piece)
        what = "; ".join(f"{_and(pieces)}: {reason}" for reason, pieces in by_reason.items())
        yield Hit(
            Ref("Pod", view.namespace, pod_name),
            f"not checked inside the launcher ({what})",
            "grant get on pods/exec in this namespace, or run `kubectl vmgpu collect` where it is allowed and "
            "use --snapshot",
            "metadata",
        )


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
