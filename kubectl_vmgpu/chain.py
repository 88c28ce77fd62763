"""Pure linking over typed views: VMI -> claim source -> launcher pod -> claim -> allocation -> device -> evidence.

A missing link is a value (None or an error string), never an exception; `links` gives each link its status.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from . import evidence as ev
from . import metadata as md
from .index import Index, newest
from .metadatafile import MetadataDevice, MetadataFile
from .model import PodEvidence
from .views import (
    Claim,
    ClaimSource,
    ClaimSpec,
    ClaimState,
    DeviceClass,
    GpuEntry,
    KubeVirt,
    LauncherPod,
    Meta,
    OpaqueConfig,
    Request,
    Result,
    Slice,
    SliceDevice,
    Template,
    Vm,
    Vmi,
    VmiDevices,
    request_matches,
)


class LinkName(enum.Enum):
    """The links of a chain, in order; findings name the link they concern (or `cluster`)."""

    SPEC = "spec"
    SOURCE = "source"
    POD = "pod"
    CLAIM = "claim"
    ALLOCATION = "allocation"
    CLASS = "class"
    DEVICE = "device"
    DEVICE_STATUS = "deviceStatus"
    METADATA = "metadata"
    VFIO = "vfio"
    DOMAIN = "domain"


LINKS = tuple(n.value for n in LinkName)
_ORDER = {name: i for i, name in enumerate(LINKS)}


@dataclass(frozen=True, slots=True)
class Device:
    """The ResourceSlice device an allocation result points to, with its slice."""

    slice: Slice
    device: SliceDevice
    current: bool

    @property
    def name(self) -> str:
        return self.device.name

    @property
    def driver(self) -> str:
        return self.slice.driver

    @property
    def pool(self) -> str:
        return self.slice.pool

    @property
    def pci(self) -> str | None:
        return self.device.pci


@dataclass(frozen=True)
class Evidence:
    """What the launcher shows for one GPU; `*_error` says why a piece is unknown."""

    metadata_dir: str | None = None  # the folder this KubeVirt version reads; None = not used
    metadata_files: tuple[str, ...] = ()  # matching files in that folder
    metadata_other: tuple[str, ...] = ()  # metadata files elsewhere in the container
    metadata: MetadataFile | None = None
    metadata_devices: tuple[MetadataDevice, ...] = ()
    metadata_error: str | None = None  # the reader's error for the one file it read
    metadata_launcher_error: str | None = None  # what virt-launcher fails with, in upstream's words
    vfio: tuple[str, ...] | None = None
    vfio_error: str | None = None
    iommu: tuple[str, ...] | None = None  # /dev/iommu and /dev/vfio/devices/vfioN paths found (iommufd mode)
    iommu_error: str | None = None
    domain_name: str | None = None
    hostdev: ev.Hostdev | None = None
    hostdevs: tuple[ev.Hostdev, ...] = ()
    domain_error: str | None = None
    status_pci: str | None = None  # VMI status.deviceStatus (KubeVirt v1.6/v1.7)
    status_mdev: str | None = None
    status_present: bool = False


@dataclass(frozen=True)
class Chain:
    """Every link of one DRA GPU of one VMI; None marks a missing link."""

    gpu: GpuEntry
    source: ClaimSource | None = None
    template: Template | None = None
    claim: Claim | None = None
    claim_generated: bool = False
    request: Request | None = None
    results: tuple[Result, ...] = ()
    configs: tuple[OpaqueConfig, ...] = ()
    class_name: str | None = None
    device_class: DeviceClass | None = None
    device: Device | None = None
    evidence: Evidence = field(default_factory=Evidence)

    @property
    def claim_state(self) -> ClaimState:
        return ClaimState.MISSING if self.claim is None else self.claim.state

    @property
    def alloc_node(self) -> str | None:
        return self.claim.node if self.claim else None

    @property
    def claim_spec(self) -> ClaimSpec | None:
        """The requests the VMI's GPU is matched against: the claim's, else the template's."""
        if self.claim is not None:
            return self.claim.spec
        return self.template.spec if self.template else None


@dataclass(frozen=True)
class VmiView:
    """One VMI (or a VM with no VMI, read from its template) and the chains of its DRA devices."""

    namespace: str
    name: str
    uid: str
    phase: str
    node: str | None
    vmi: Vmi | None
    vm: Vm | None
    devices: VmiDevices
    pod: LauncherPod | None
    pod_evidence: PodEvidence | None
    chains: tuple[Chain, ...]
    kubevirt: KubeVirt

    @property
    def from_template(self) -> bool:
        return self.vmi is None

    @property
    def owner(self) -> Meta:
        """The object a user edits: the VM when there is one."""
        if self.vm is not None:
            return self.vm.meta
        assert self.vmi is not None
        return self.vmi.meta

    def annotated(self, key: str) -> tuple[str, ...]:
        """The values of an annotation on the VMI and on its VM."""
        return tuple(o.meta.annotations[key] for o in (self.vmi, self.vm) if o and key in o.meta.annotations)


def select_pod(idx: Index, vmi: Vmi) -> LauncherPod | None:
    """The current launcher: the newest running pod on the VMI's node, else the newest one."""
    pods = idx.pods_by_owner.get(vmi.meta.uid, [])
    if not pods:
        return None
    running = [p for p in pods if p.running and p.node == vmi.node]
    return newest(running) or newest(p for p in pods if p.meta.uid in vmi.active_pods) or newest(pods)


def effective_configs(
    claim: Claim | None, spec: ClaimSpec, cls: DeviceClass | None, request: str
) -> tuple[OpaqueConfig, ...]:
    """The allocation's config once allocated; before that, class config then claim config."""
    allocated = claim.allocation_configs if claim else ()
    if allocated:
        return _for_request(allocated, request)
    return _for_request(cls.configs if cls else (), request) + _for_request(spec.configs, request)


def _for_request(configs: Iterable[OpaqueConfig], request: str) -> tuple[OpaqueConfig, ...]:
    return tuple(
        c
        for c in configs
        if not c.requests or any(request_matches(r, request) or request_matches(request, r) for r in c.requests)
    )


def _device(idx: Index, result: Result) -> Device | None:
    found = idx.devices.get((result.driver, result.pool, result.device))
    if not found:
        return None
    sl, dev = found[0]
    return Device(sl, dev, idx.is_current(sl))


def _generated_claim(idx: Index, pod: LauncherPod, gpu: GpuEntry) -> Claim | None:
    name = pod.claim_statuses.get(gpu.claim_name)
    claim = idx.claims.get((pod.meta.namespace, name)) if name else None
    if claim is None:  # status not written yet: find the claim the pod owns for this entry
        claim = next((c for c in idx.claims_by_pod.get(pod.meta.uid, []) if c.pod_claim_name == gpu.claim_name), None)
    return claim


def _evidence(
    kv: KubeVirt, vmi: Vmi | None, chain: Chain, pod_ev: PodEvidence | None, pod_read: dict[str, Any] | None
) -> Evidence:
    out: dict[str, Any] = {}
    gpu = chain.gpu
    for st in vmi.device_status if vmi else ():
        if st.kind == gpu.kind and st.name == gpu.name:
            out.update(status_present=True, status_pci=st.pci, status_mdev=st.mdev)
    if pod_ev is None:
        return Evidence(**out)
    source = chain.source
    reads = kv.reads_metadata_from() == "metadata"
    folder_claim = gpu.claim_name if source and source.template_name else (source.claim_name if source else None)
    if reads and pod_ev.metadata_files is not None and folder_claim:
        devices = vmi.devices if vmi else VmiDevices()
        out.update(_metadata(kv, gpu, devices, bool(source and source.template_name), folder_claim, pod_ev))
    elif reads and "metadata" in pod_ev.unavailable:
        out["metadata_error"] = pod_ev.unavailable["metadata"]
    out.update(pod_read if pod_read is not None else pod_nodes_and_domain(pod_ev))
    if "hostdevs" in out:
        out["hostdev"] = next((h for h in out["hostdevs"] if h.alias == gpu.alias), None)
    return Evidence(**out)


def pod_nodes_and_domain(pod_ev: PodEvidence) -> dict[str, Any]:
    """The /dev listings and the domain XML's name and hostdevs, or why each is unknown: read once per pod
    (a VM with 8 GPUs has one domain)."""
    out: dict[str, Any] = {}
    if pod_ev.vfio_listing is not None:
        out["vfio"] = ev.parse_vfio_listing(pod_ev.vfio_listing)
    elif "vfio" in pod_ev.unavailable:
        out["vfio_error"] = pod_ev.unavailable["vfio"]
    if pod_ev.iommu_listing is not None:
        out["iommu"] = ev.parse_iommu_listing(pod_ev.iommu_listing)
    elif "iommu" in pod_ev.unavailable:
        out["iommu_error"] = pod_ev.unavailable["iommu"]
    if pod_ev.domain_xml is not None:
        try:
            out["domain_name"], out["hostdevs"] = ev.parse_domain(pod_ev.domain_xml)
        except ev.EvidenceError as exc:
            out["domain_error"] = str(exc)
    elif "domain" in pod_ev.unavailable:
        out["domain_error"] = pod_ev.unavailable["domain"]
    return out


def _metadata(
    kv: KubeVirt, gpu: GpuEntry, devices: VmiDevices, template: bool, claim: str, pod_ev: PodEvidence
) -> dict[str, Any]:
    """What this KubeVirt version's virt-launcher reads for the GPU, modelled on its own reader."""
    files_in = pod_ev.metadata_files or {}
    folder, _ = md.metadata_paths(template, claim, gpu.request_name, kv.uses_old_metadata_path())
    reader = md.KubeVirtReader.of(kv) or md.KubeVirtReader.V1_8_3
    out: dict[str, Any] = {"metadata_dir": folder, "metadata_other": tuple(sorted(files_in))}
    try:
        result = md.read_metadata(reader, files_in, devices.sources, gpu.claim_name, gpu.request_name)
    except ev.EvidenceError as exc:  # a file we refuse to model (truncated or too deep)
        refused = tuple(p for p in sorted(files_in) if p.startswith(folder + "/"))
        return {**out, "metadata_files": refused or tuple(sorted(files_in))[:1], "metadata_error": str(exc)}
    files = result.files
    out.update(
        metadata_files=files,
        metadata_other=tuple(sorted(p for p in files_in if p not in files)),
        metadata=result.metadata,
        metadata_devices=result.devices,
        metadata_launcher_error=result.launcher_error(gpu.kind, gpu.name, gpu.claim_name, gpu.request_name),
    )
    if files and result.error and len(files) == 1:
        out["metadata_error"] = result.error
    return out


def link_gpu(
    idx: Index,
    devices: VmiDevices,
    ns: str,
    vmi: Vmi | None,
    pod: LauncherPod | None,
    gpu: GpuEntry,
    pod_ev: PodEvidence | None,
    pod_read: dict[str, Any] | None = None,
) -> Chain:
    """Walk one GPU's chain as far as the objects go; `pod_read`: `pod_nodes_and_domain(pod_ev)`, when made."""
    source = devices.source(gpu.claim_name)
    if source is None:
        return Chain(gpu=gpu)
    template_name, claim_name = source.template_name, source.claim_name
    template = idx.templates.get((ns, template_name)) if template_name and not claim_name else None
    claim: Claim | None = None
    generated = False
    if claim_name and not template_name:
        claim = idx.claims.get((ns, claim_name))
    elif template_name and pod is not None:
        claim = _generated_claim(idx, pod, gpu)
        generated = claim is not None
    spec = claim.spec if claim is not None else (template.spec if template else ClaimSpec())
    request = spec.find(gpu.request_name)
    results = tuple(r for r in (claim.results if claim else ()) if request_matches(r.request, gpu.request_name))
    class_name = request.device_class if request else None
    if request and request.first_available:
        chosen = results[0].request.partition("/")[2] if results else ""
        sub = next((x for x in request.first_available if x.name == chosen), request.first_available[0])
        class_name = sub.device_class
    device_class = idx.classes.get(class_name) if class_name else None
    chain = Chain(
        gpu=gpu,
        source=source,
        template=template,
        claim=claim,
        claim_generated=generated,
        request=request,
        results=results,
        configs=effective_configs(claim, spec, device_class, gpu.request_name),
        class_name=class_name,
        device_class=device_class,
        device=_device(idx, results[0]) if results else None,
    )
    return replace(chain, evidence=_evidence(idx.kubevirt, vmi, chain, pod_ev, pod_read))


def _view(idx: Index, ns: str, name: str, vmi: Vmi | None, vm: Vm | None) -> VmiView | None:
    devices = vmi.devices if vmi else vm.devices if vm else VmiDevices()
    if not devices.entries:
        return None
    pod = select_pod(idx, vmi) if vmi else None
    pod_ev = idx.inv.evidence.get((ns, pod.meta.name)) if pod is not None and pod.running else None
    pod_read = pod_nodes_and_domain(pod_ev) if pod_ev is not None else None
    chains = tuple(link_gpu(idx, devices, ns, vmi, pod, e, pod_ev, pod_read) for e in devices.entries)
    phase = vmi.phase if vmi else (vm.printable_status if vm else "") or "Stopped"
    owner = vmi or vm
    return VmiView(
        namespace=ns,
        name=name,
        uid=owner.meta.uid if owner else "",
        phase=phase,
        node=vmi.node if vmi else None,
        vmi=vmi,
        vm=vm,
        devices=devices,
        pod=pod,
        pod_evidence=pod_ev,
        chains=chains,
        kubevirt=idx.kubevirt,
    )


def link(idx: Index, namespace: str | None = None, name: str | None = None) -> list[VmiView]:
    """Every VMI with DRA devices (and every VM without a VMI), sorted by namespace and name.

    `name` matches a VMI or a VM; `namespace` None means all namespaces.
    """
    views = []
    for ns, nm in sorted(set(idx.vmis) | set(idx.vms)):
        if (namespace is not None and ns != namespace) or (name is not None and nm != name):
            continue
        view = _view(idx, ns, nm, idx.vmis.get((ns, nm)), idx.vms.get((ns, nm)))
        if view is not None:
            views.append(view)
    return views


def evidence_targets(views: Iterable[VmiView]) -> list[tuple[str, str, str]]:
    """(namespace, pod, VMI name) of each running launcher whose evidence the chains need."""
    return [(v.namespace, v.pod.meta.name, v.name) for v in views if v.pod is not None and v.pod.running]


def nodes(views: Iterable[VmiView]) -> set[str]:
    """Nodes the chains touch: where each VMI runs and where its claims are allocated."""
    found = {v.node for v in views} | {c.alloc_node for v in views for c in v.chains}
    return {n for n in found if n}


def link_order(link: str) -> int:
    return _ORDER.get(link, 99)
