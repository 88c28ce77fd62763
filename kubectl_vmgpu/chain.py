"""Pure linking: VMI -> claim source -> launcher pod -> claim -> allocation -> device -> evidence.

A missing link is a value (None or an error string), never an exception.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import evidence as ev
from .index import Index, dig, items, meta, newest
from .model import Obj, PodEvidence

# The links of a chain, in order; findings name the link they concern.
LINKS = (
    "spec",
    "source",
    "pod",
    "claim",
    "allocation",
    "class",
    "device",
    "deviceStatus",
    "metadata",
    "vfio",
    "domain",
)


@dataclass(frozen=True)
class GpuEntry:
    """A DRA device of the VMI spec: `gpus[]` or `hostDevices[]`."""

    kind: str  # "gpu" | "hostDevice"
    name: str
    claim_name: str
    request_name: str

    @property
    def alias(self) -> str:
        prefix = "ua-dra-gpu-" if self.kind == "gpu" else "ua-dra-hostdevice-"
        return prefix + self.name


@dataclass(frozen=True)
class Request:
    """A device request (v1 shape); `first_available` holds its subrequests."""

    name: str
    device_class: str | None
    selectors: tuple[str, ...] = ()
    mode: str = "ExactCount"
    count: int = 1
    tolerations: tuple[Obj, ...] = ()
    first_available: tuple[Request, ...] = ()


@dataclass(frozen=True)
class Config:
    """An opaque driver config that applies to a request."""

    source: str  # FromClaim | FromClass
    driver: str
    requests: tuple[str, ...]
    parameters: Mapping[str, Any]


@dataclass(frozen=True)
class Result:
    """One allocated device of the request."""

    request: str
    driver: str
    pool: str
    device: str
    tolerations: tuple[Obj, ...] = ()


@dataclass(frozen=True)
class Device:
    """The ResourceSlice device an allocation result points to."""

    slice_name: str
    driver: str
    pool: str
    name: str
    generation: int
    current: bool
    attributes: Mapping[str, str]
    taints: tuple[Obj, ...]

    @property
    def pci(self) -> str | None:
        return self.attributes.get(ev.PCI_ATTR)

    @property
    def mdev(self) -> str | None:
        return self.attributes.get(ev.MDEV_ATTR)

    @property
    def type(self) -> str | None:
        return self.attributes.get("type")

    @property
    def product(self) -> str | None:
        return self.attributes.get("productName")


@dataclass(frozen=True)
class Evidence:
    """What the launcher shows for one GPU; `*_error` says why a piece is unknown."""

    metadata_dir: str | None = None  # the folder this KubeVirt version reads; None = not used
    metadata_files: tuple[str, ...] = ()  # matching files in that folder
    metadata_other: tuple[str, ...] = ()  # metadata files elsewhere in the container
    metadata: ev.MetadataFile | None = None
    metadata_devices: tuple[ev.MetadataDevice, ...] = ()
    metadata_error: str | None = None
    vfio: tuple[str, ...] | None = None
    vfio_error: str | None = None
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
    source: Obj | None = None  # the spec.resourceClaims entry
    template: Obj | None = None
    claim: Obj | None = None
    claim_generated: bool = False
    request: Request | None = None
    results: tuple[Result, ...] = ()
    configs: tuple[Config, ...] = ()
    alloc_node: str | None = None
    class_name: str | None = None
    device_class: Obj | None = None
    device: Device | None = None
    evidence: Evidence = field(default_factory=Evidence)

    @property
    def claim_state(self) -> str:
        """kubectl's STATE column of the claim."""
        if self.claim is None:
            return "missing"
        if dig(self.claim, "metadata", "deletionTimestamp"):
            return "deleted"
        if not dig(self.claim, "status", "allocation"):
            return "pending"
        return "allocated,reserved" if items(self.claim, "status", "reservedFor") else "allocated"


@dataclass(frozen=True)
class VmiView:
    """One VMI (or a VM with no VMI, read from its template) and the chains of its DRA devices."""

    namespace: str
    name: str
    uid: str
    phase: str
    node: str | None
    vmi: Obj | None
    vm: Obj | None
    spec: Obj
    pod: Obj | None
    pod_evidence: PodEvidence | None
    chains: tuple[Chain, ...]
    device_plugin_gpus: tuple[str, ...] = ()  # gpus[] with deviceName (the older flow)

    @property
    def from_template(self) -> bool:
        return self.vmi is None

    @property
    def owner(self) -> Obj:
        """The object a user edits: the VM when there is one."""
        return self.vm or self.vmi or {}


def dra_entries(spec: Obj) -> tuple[list[GpuEntry], list[str]]:
    """DRA GPUs and host devices of a VMI spec, and the names of device-plugin GPUs."""
    entries, plugin = [], []
    devices = dig(spec, "domain", "devices", default={})
    for kind, field_name in (("gpu", "gpus"), ("hostDevice", "hostDevices")):
        for dev in items(devices, field_name):
            if dev.get("deviceName"):
                if kind == "gpu":
                    plugin.append(str(dev.get("name")))
                continue
            if dev.get("claimName") or dev.get("requestName"):
                entries.append(
                    GpuEntry(
                        kind=kind,
                        name=str(dev.get("name") or ""),
                        claim_name=str(dev.get("claimName") or ""),
                        request_name=str(dev.get("requestName") or ""),
                    )
                )
    return entries, plugin


def _request(raw: Obj) -> Request:
    exact = raw.get("exactly")
    if not isinstance(exact, dict):
        exact = raw
    subs = tuple(_request(s) for s in items(raw, "firstAvailable"))
    count = exact.get("count", 1)
    return Request(
        name=str(raw.get("name") or ""),
        device_class=None if subs else (str(exact.get("deviceClassName")) if exact.get("deviceClassName") else None),
        selectors=tuple(
            str(dig(s, "cel", "expression")) for s in items(exact, "selectors") if dig(s, "cel", "expression")
        ),
        mode=str(exact.get("allocationMode") or "ExactCount"),
        count=count if isinstance(count, int) else 1,
        tolerations=tuple(items(exact, "tolerations")),
        first_available=subs,
    )


def claim_spec(chain_claim: Obj | None, template: Obj | None) -> Obj:
    if chain_claim is not None:
        return dig(chain_claim, "spec", default={})
    return dig(template, "spec", "spec", default={})


def request_matches(result_request: str, request_name: str) -> bool:
    """A result for subrequest `<req>/<sub>` belongs to request `<req>`."""
    return result_request == request_name or result_request.startswith(request_name + "/")


def find_request(spec: Obj, name: str) -> Request | None:
    """The request `name`, or the subrequest `<req>/<sub>` of a firstAvailable request."""
    parent, _, sub = name.partition("/")
    for raw in items(spec, "devices", "requests"):
        if raw.get("name") == parent:
            request = _request(raw)
            if not sub:
                return request
            return next((s for s in request.first_available if s.name == sub), None)
    return None


def _configs(raw: Iterable[Obj], request: str, default_source: str) -> tuple[Config, ...]:
    out = []
    for cfg in raw:
        reqs = tuple(str(r) for r in cfg.get("requests") or [])
        if reqs and not any(request_matches(r, request) or request_matches(request, r) for r in reqs):
            continue
        opaque = cfg.get("opaque")
        if not isinstance(opaque, dict):
            opaque = {}
        params = opaque.get("parameters")
        out.append(
            Config(
                source=str(cfg.get("source") or default_source),
                driver=str(opaque.get("driver") or ""),
                requests=reqs,
                parameters=params if isinstance(params, dict) else {},
            )
        )
    return tuple(out)


def effective_configs(claim: Obj | None, spec: Obj, device_class: Obj | None, request: str) -> tuple[Config, ...]:
    """The allocation's config once allocated; before that, class config then claim config."""
    allocated = items(claim, "status", "allocation", "devices", "config") if claim else []
    if allocated:
        return _configs(allocated, request, "FromClaim")
    from_class = _configs(items(device_class, "spec", "config"), request, "FromClass") if device_class else ()
    return from_class + _configs(items(spec, "devices", "config"), request, "FromClaim")


def _alloc_node(claim: Obj | None) -> str | None:
    for term in items(claim, "status", "allocation", "nodeSelector", "nodeSelectorTerms"):
        for expr in items(term, "matchFields") + items(term, "matchExpressions"):
            if expr.get("key") in ("metadata.name", "kubernetes.io/hostname") and expr.get("values"):
                return str(expr["values"][0])
    return None


def _attributes(dev: Obj) -> dict[str, str]:
    attrs = {}
    for name, value in (dev.get("attributes") or {}).items():
        text = ev._attr_value(value)
        if text is not None:
            # Unprefixed names belong to the driver's domain; the standard ones keep their prefix.
            attrs[str(name)] = text
    return attrs


def _device(idx: Index, result: Result) -> Device | None:
    found = idx.devices.get((result.driver, result.pool, result.device))
    if not found:
        return None
    sl, dev = found[0]
    return Device(
        slice_name=meta(sl, "name"),
        driver=result.driver,
        pool=result.pool,
        name=result.device,
        generation=int(dig(sl, "spec", "pool", "generation", default=0) or 0),
        current=idx.is_current(sl),
        attributes=_attributes(dev),
        taints=tuple(items(dev, "taints")),
    )


def select_pod(idx: Index, vmi: Obj) -> Obj | None:
    """The current launcher: the newest running pod on the VMI's node, else the newest one."""
    pods = idx.pods_by_owner.get(meta(vmi, "uid"), [])
    if not pods:
        return None
    node = dig(vmi, "status", "nodeName")
    running = [p for p in pods if dig(p, "status", "phase") == "Running" and dig(p, "spec", "nodeName") == node]
    active = dig(vmi, "status", "activePods", default={})
    return newest(running) or newest(p for p in pods if meta(p, "uid") in active) or newest(pods)


def _pod_claim_name(pod: Obj | None, entry: str) -> str | None:
    for st in items(pod, "status", "resourceClaimStatuses"):
        if st.get("name") == entry and st.get("resourceClaimName"):
            return str(st["resourceClaimName"])
    return None


def uses_old_metadata_path(version: tuple[int, int, int] | None) -> bool:
    return version is not None and (1, 8, 0) <= version < (1, 8, 3)


def reads_metadata(version: tuple[int, int, int] | None) -> bool:
    """KubeVirt v1.6/v1.7 take the device from VMI status.deviceStatus instead."""
    return version is None or version >= (1, 8, 0)


def _evidence(
    idx: Index,
    view_ns: str,
    vmi: Obj | None,
    gpu: GpuEntry,
    chain_claim: str | None,
    template: bool,
    pod_ev: PodEvidence | None,
    results: tuple[Result, ...],
) -> Evidence:
    out: dict[str, Any] = {}
    status = dig(vmi, "status", "deviceStatus")
    if isinstance(status, dict):
        group = "gpuStatuses" if gpu.kind == "gpu" else "hostDeviceStatuses"
        for st in items(status, group):
            if st.get("name") == gpu.name:
                attrs = dig(st, "deviceResourceClaimStatus", "attributes", default={})
                out.update(status_present=True, status_pci=attrs.get("pciAddress"), status_mdev=attrs.get("mDevUUID"))
    if pod_ev is None:
        return Evidence(**out)
    version = idx.kubevirt_version
    if reads_metadata(version) and pod_ev.metadata_files is not None and chain_claim:
        folder, _ = ev.metadata_paths(template, chain_claim, gpu.request_name, uses_old_metadata_path(version))
        files = tuple(
            sorted(
                p
                for p in pod_ev.metadata_files
                if p.startswith(folder + "/") and "/" not in p[len(folder) + 1 :] and p.endswith("-metadata.json")
            )
        )
        out.update(
            metadata_dir=folder,
            metadata_files=files,
            metadata_other=tuple(sorted(p for p in pod_ev.metadata_files if p not in files)),
        )
        if len(files) == 1:
            try:
                parsed = ev.parse_metadata(files[0], pod_ev.metadata_files[files[0]])
            except ev.EvidenceError as exc:
                out["metadata_error"] = str(exc)
            else:
                devices: tuple[ev.MetadataDevice, ...] = ()
                for name, devs in parsed.requests.items():
                    if request_matches(name, gpu.request_name):
                        devices += devs
                out.update(metadata=parsed, metadata_devices=devices)
    elif reads_metadata(version) and "metadata" in pod_ev.unavailable:
        out["metadata_error"] = pod_ev.unavailable["metadata"]
    if pod_ev.vfio_listing is not None:
        out["vfio"] = ev.parse_vfio_listing(pod_ev.vfio_listing)
    elif "vfio" in pod_ev.unavailable:
        out["vfio_error"] = pod_ev.unavailable["vfio"]
    if pod_ev.domain_xml is not None:
        try:
            name, hostdevs = ev.parse_domain(pod_ev.domain_xml)
        except ev.EvidenceError as exc:
            out["domain_error"] = str(exc)
        else:
            out.update(
                domain_name=name, hostdevs=hostdevs, hostdev=next((h for h in hostdevs if h.alias == gpu.alias), None)
            )
    elif "domain" in pod_ev.unavailable:
        out["domain_error"] = pod_ev.unavailable["domain"]
    return Evidence(**out)


def link_gpu(
    idx: Index, ns: str, vmi: Obj | None, spec: Obj, pod: Obj | None, pod_ev: PodEvidence | None, gpu: GpuEntry
) -> Chain:
    """Walk one GPU's chain as far as the objects go."""
    source = next((s for s in items(spec, "resourceClaims") if s.get("name") == gpu.claim_name), None)
    if source is None:
        return Chain(gpu=gpu)
    template_name, claim_name = source.get("resourceClaimTemplateName"), source.get("resourceClaimName")
    template = idx.templates.get((ns, str(template_name))) if template_name and not claim_name else None
    claim: Obj | None = None
    generated = False
    if claim_name and not template_name:
        claim = idx.claims.get((ns, str(claim_name)))
    elif template_name and pod is not None:
        generated_name = _pod_claim_name(pod, gpu.claim_name)
        claim = idx.claims.get((ns, generated_name)) if generated_name else None
        if claim is None:  # status not written yet: find the claim the pod owns for this entry
            claim = next(
                (
                    c
                    for c in idx.claims_by_pod.get(meta(pod, "uid"), [])
                    if dig(c, "metadata", "annotations", "resource.kubernetes.io/pod-claim-name") == gpu.claim_name
                ),
                None,
            )
        generated = claim is not None
    spec_of_claim = claim_spec(claim, template)
    request = find_request(spec_of_claim, gpu.request_name)
    results = tuple(
        Result(
            request=str(r.get("request")),
            driver=str(r.get("driver")),
            pool=str(r.get("pool")),
            device=str(r.get("device")),
            tolerations=tuple(items(r, "tolerations")),
        )
        for r in items(claim, "status", "allocation", "devices", "results")
        if request_matches(str(r.get("request")), gpu.request_name)
    )
    class_name = request.device_class if request else None
    if request and request.first_available:
        chosen = results[0].request.partition("/")[2] if results else ""
        sub = next((s for s in request.first_available if s.name == chosen), request.first_available[0])
        class_name = sub.device_class
    device_class = idx.classes.get(class_name) if class_name else None
    device = _device(idx, results[0]) if results else None
    chain_claim = gpu.claim_name if template_name else (str(claim_name) if claim_name else None)
    return Chain(
        gpu=gpu,
        source=source,
        template=template,
        claim=claim,
        claim_generated=generated,
        request=request,
        results=results,
        configs=effective_configs(claim, spec_of_claim, device_class, gpu.request_name),
        alloc_node=_alloc_node(claim),
        class_name=class_name,
        device_class=device_class,
        device=device,
        evidence=_evidence(idx, ns, vmi, gpu, chain_claim, bool(template_name), pod_ev, results),
    )


def _view(idx: Index, ns: str, name: str, vmi: Obj | None, vm: Obj | None) -> VmiView | None:
    spec = dig(vmi, "spec", default=None) if vmi else dig(vm, "spec", "template", "spec", default=None)
    if not isinstance(spec, dict):
        spec = {}
    entries, plugin = dra_entries(spec)
    if not entries:
        return None
    pod = select_pod(idx, vmi) if vmi else None
    running = pod is not None and dig(pod, "status", "phase") == "Running"
    pod_ev = idx.inv.evidence.get((ns, meta(pod, "name"))) if running else None  # nothing to read otherwise
    chains = tuple(link_gpu(idx, ns, vmi, spec, pod, pod_ev, e) for e in entries)
    phase = str(dig(vmi, "status", "phase") or "") if vmi else str(dig(vm, "status", "printableStatus") or "Stopped")
    return VmiView(
        namespace=ns,
        name=name,
        uid=meta(vmi or vm or {}, "uid"),
        phase=phase,
        node=dig(vmi, "status", "nodeName") if vmi else None,
        vmi=vmi,
        vm=vm,
        spec=spec,
        pod=pod,
        pod_evidence=pod_ev,
        chains=chains,
        device_plugin_gpus=tuple(plugin),
    )


def link(idx: Index, namespace: str | None = None, name: str | None = None) -> list[VmiView]:
    """Every VMI with DRA devices (and every VM without a VMI), sorted by namespace and name.

    `name` matches a VMI or a VM; `namespace` None means all namespaces.
    """
    keys = set(idx.vmis) | set(idx.vms)
    views = []
    for ns, nm in sorted(keys):
        if (namespace is not None and ns != namespace) or (name is not None and nm != name):
            continue
        view = _view(idx, ns, nm, idx.vmis.get((ns, nm)), idx.vms.get((ns, nm)))
        if view is not None:
            views.append(view)
    return views


def vmi_key(view: VmiView) -> tuple[str, str]:
    return view.namespace, view.name


def class_driver(device_class: Obj | None) -> str | None:
    """The driver a DeviceClass selects, from `device.driver == '...'` in its CEL."""
    for sel in items(device_class, "spec", "selectors"):
        expr = str(dig(sel, "cel", "expression") or "")
        for quote in ("'", '"'):
            marker = f"device.driver == {quote}"
            if marker in expr:
                return expr.split(marker, 1)[1].split(quote, 1)[0]
    return None


def tolerates(taint: Obj, tolerations: tuple[Obj, ...]) -> bool:
    """Kubernetes toleration matching for a device taint (Equal by default, Exists, effect)."""
    for tol in tolerations:
        if tol.get("effect") and tol.get("effect") != taint.get("effect"):
            continue
        if tol.get("operator") == "Exists" and (not tol.get("key") or tol.get("key") == taint.get("key")):
            return True
        if tol.get("key") == taint.get("key") and tol.get("value") == taint.get("value"):
            return True
    return False
