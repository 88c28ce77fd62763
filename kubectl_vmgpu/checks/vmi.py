"""VMI spec checks: claims declared and found, requests, device classes and VFIO config."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..chain import Chain, Config, VmiView
from ..index import dig, items
from ..model import Ref
from .base import Context, Hit, claims_path, gpu_label, owner_ref, ref, spec_path

NVIDIA_DRIVER = "gpu.nvidia.com"
VFIO_KIND = "VfioDeviceConfig"
CONTAINER_CLASSES = ("gpu.nvidia.com", "mig.nvidia.com")
BACKEND_POLICIES = ("LegacyOnly", "PreferIommuFD")
VFIO_FIELDS = {"apiVersion", "kind", "iommu"}
IOMMU_FIELDS = {"backendPolicy", "enableAPIDevice"}

API_DEVICE_YAML = """config:
- requests: [{request}]
  opaque:
    driver: gpu.nvidia.com
    parameters:
      apiVersion: resource.nvidia.com/v1beta1
      kind: VfioDeviceConfig
      iommu:
        backendPolicy: LegacyOnly
        enableAPIDevice: true"""


def claim_not_declared(ctx: Context, view: VmiView) -> Iterator[Hit]:
    declared = [str(s.get("name")) for s in items(view.spec, "resourceClaims")]
    for chain in view.chains:
        if chain.source is not None:
            continue
        if not chain.gpu.claim_name:
            message = f"{gpu_label(chain)} has requestName but no claimName (`claimName is required for DRA GPU`)"
        else:
            message = (
                f"{gpu_label(chain)} uses claimName {chain.gpu.claim_name!r}, which is not in "
                f"{claims_path(view)} (declared: {', '.join(declared) or 'none'})"
            )
        yield Hit(
            owner_ref(view),
            message,
            f"kubectl edit {owner_ref(view).kind.lower()} -n {view.namespace} {view.name}: add "
            f"`- name: {chain.gpu.claim_name or '<claim>'}` with resourceClaimTemplateName (or resourceClaimName) "
            f"to {claims_path(view)}, or fix claimName in {spec_path(view, chain)}",
            "spec",
            gpu=chain.gpu.name,
        )


def claim_source_invalid(ctx: Context, view: VmiView) -> Iterator[Hit]:
    for entry in items(view.spec, "resourceClaims"):
        both = entry.get("resourceClaimName") and entry.get("resourceClaimTemplateName")
        neither = not entry.get("resourceClaimName") and not entry.get("resourceClaimTemplateName")
        if both or neither:
            yield Hit(
                owner_ref(view),
                f"{claims_path(view)} entry {entry.get('name')!r} sets "
                f"{'both' if both else 'neither'} of resourceClaimName and resourceClaimTemplateName",
                f"set exactly one of them on entry {entry.get('name')!r} of {claims_path(view)}",
                "source",
            )


def template_missing(ctx: Context, view: VmiView) -> Iterator[Hit]:
    if not ctx.idx.inv.knows("ResourceClaimTemplate", "resourceclaimtemplates.resource.k8s.io"):
        return
    for chain in _unique_sources(view):
        name = dig(chain.source, "resourceClaimTemplateName")
        if name and not dig(chain.source, "resourceClaimName") and chain.template is None:
            later = " (the claim generated earlier still works until the VM restarts)" if chain.claim else ""
            yield Hit(
                Ref("ResourceClaimTemplate", view.namespace, str(name)),
                f"claim {chain.gpu.claim_name!r} uses template {name!r}, which does not exist in namespace "
                f"{view.namespace}{later}",
                f"create ResourceClaimTemplate {name!r} in {view.namespace} (kubectl get resourceclaimtemplates "
                f"-n {view.namespace}), or fix resourceClaimTemplateName in {claims_path(view)}",
                "source",
                gpu=chain.gpu.name,
            )


def claim_missing(ctx: Context, view: VmiView) -> Iterator[Hit]:
    if not ctx.idx.inv.knows("ResourceClaim", "resourceclaims.resource.k8s.io"):
        return
    for chain in _unique_sources(view):
        name = dig(chain.source, "resourceClaimName")
        if name and not dig(chain.source, "resourceClaimTemplateName") and chain.claim is None:
            yield Hit(
                Ref("ResourceClaim", view.namespace, str(name)),
                f"claim {chain.gpu.claim_name!r} names ResourceClaim {name!r}, which does not exist in namespace "
                f'{view.namespace} (scheduler: `could not find ResourceClaim "{view.namespace}/{name}"`)',
                f"create ResourceClaim {name!r} in {view.namespace}, or fix resourceClaimName in {claims_path(view)}",
                "source",
                gpu=chain.gpu.name,
            )


def _unique_sources(view: VmiView) -> list[Chain]:
    seen, out = set(), []
    for chain in view.chains:
        if chain.source is not None and chain.gpu.claim_name not in seen:
            seen.add(chain.gpu.claim_name)
            out.append(chain)
    return out


def _claim_spec(chain: Chain) -> Any:
    if chain.claim is not None:
        return dig(chain.claim, "spec", default={})
    return dig(chain.template, "spec", "spec", default={})


def _holder(chain: Chain) -> Ref:
    """What users edit to change requests: the template for template claims, else the claim."""
    return ref(chain.template, "ResourceClaimTemplate") if chain.template else ref(chain.claim, "ResourceClaim")


def request_not_found(ctx: Context, view: VmiView) -> Iterator[Hit]:
    for chain in view.chains:
        if chain.source is None or (chain.claim is None and chain.template is None) or chain.request:
            continue
        names = []
        for raw in items(_claim_spec(chain), "devices", "requests"):
            names.append(str(raw.get("name")))
            names += [f"{raw.get('name')}/{s.get('name')}" for s in items(raw, "firstAvailable")]
        asked = chain.gpu.request_name or "(empty)"
        yield Hit(
            owner_ref(view),
            f"{gpu_label(chain)} uses requestName {asked!r}, but {_holder(chain)} has requests "
            f"{', '.join(repr(n) for n in names) or 'none'} (the admission webhook does not check this; "
            "virt-launcher finds no device for it)",
            f"set requestName of {chain.gpu.name!r} in {spec_path(view, chain)} to "
            f"{names[0] if len(names) == 1 else 'one of ' + ', '.join(names)}, then restart the VM",
            "spec",
            gpu=chain.gpu.name,
        )


def request_multi_device(ctx: Context, view: VmiView) -> Iterator[Hit]:
    for chain in view.chains:
        req = chain.request
        if req is None:
            continue
        subs = [s for s in req.first_available if s.mode == "All" or s.count > 1]
        if req.mode == "All" or req.count > 1 or subs:
            what = "allocationMode: All" if req.mode == "All" else f"count: {req.count}"
            if subs:
                what = f"subrequest {subs[0].name!r} with " + (
                    "allocationMode: All" if subs[0].mode == "All" else f"count: {subs[0].count}"
                )
            yield Hit(
                _holder(chain),
                f"request {req.name!r} ({what}) backs {gpu_label(chain)}, but KubeVirt takes exactly one device "
                f'per request (`request "{req.name}" has N devices but KubeVirt only supports exactly one '
                "device per request`)",
                "use one request per GPU with allocationMode: ExactCount and count: 1, and one gpus[] entry per "
                "request",
                "claim",
                gpu=chain.gpu.name,
            )


def _device_type(chain: Chain) -> str | None:
    return chain.device.type if chain.device else None


def not_a_passthrough_class(ctx: Context, view: VmiView) -> Iterator[Hit]:
    for chain in view.chains:
        container_type = _device_type(chain) in ("gpu", "mig") and chain.device and chain.device.driver == NVIDIA_DRIVER
        if chain.class_name in CONTAINER_CLASSES or container_type:
            yield Hit(
                _holder(chain),
                f"{gpu_label(chain)} is claimed from device class {chain.class_name!r}"
                + (f" and got device {chain.device.name} (type {chain.device.type})" if chain.device else "")
                + ": that is a container GPU driven by the NVIDIA kernel driver, not a VFIO passthrough device",
                f"set deviceClassName: vfio.gpu.nvidia.com in request {chain.gpu.request_name!r} of "
                f"{_holder(chain)}, then restart the VM",
                "class",
                gpu=chain.gpu.name,
            )


def is_vfio(chain: Chain) -> bool:
    return chain.class_name == "vfio.gpu.nvidia.com" or _device_type(chain) == "vfio"


def vfio_configs(chain: Chain) -> list[Config]:
    return [c for c in chain.configs if c.parameters.get("kind") == VFIO_KIND]


def api_device_not_enabled(ctx: Context, view: VmiView) -> Iterator[Hit]:
    for chain in view.chains:
        if not is_vfio(chain) or chain.request is None:
            continue
        configs = vfio_configs(chain)
        if any(dig(c.parameters, "iommu", "enableAPIDevice") is True for c in configs):
            continue
        if chain.evidence.vfio is not None and "vfio" in chain.evidence.vfio:
            continue  # the driver injects /dev/vfio/vfio anyway (v25.12): works as is
        found = "its VfioDeviceConfig lacks iommu.enableAPIDevice: true" if configs else "it has no VfioDeviceConfig"
        yield Hit(
            _holder(chain),
            f"{gpu_label(chain)} is a VFIO passthrough request but {found}: the driver will not inject "
            "/dev/vfio/vfio and libvirt cannot assign the GPU",
            f"add to spec{'.spec' if chain.template else ''}.devices of {_holder(chain)}:\n"
            + API_DEVICE_YAML.format(request=chain.gpu.request_name)
            + "\nthen delete and recreate the claim (restart the VM for a template claim)",
            "claim",
            gpu=chain.gpu.name,
        )


def iommufd_unsupported(ctx: Context, view: VmiView) -> Iterator[Hit]:
    version = ctx.idx.kubevirt_version
    if version is None or version >= (1, 9, 0):
        return
    for chain in view.chains:
        for cfg in vfio_configs(chain):
            if dig(cfg.parameters, "iommu", "backendPolicy") == "PreferIommuFD":
                yield Hit(
                    _holder(chain),
                    f"{gpu_label(chain)} asks for backendPolicy PreferIommuFD (config {cfg.source}), which KubeVirt "
                    f"v{'.'.join(map(str, version))} cannot use (iommufd needs KubeVirt v1.9 or newer)",
                    f"set iommu.backendPolicy: LegacyOnly in the VfioDeviceConfig of {_holder(chain)}",
                    "claim",
                    gpu=chain.gpu.name,
                )
                break


def _config_problems(cfg: Config, request_names: set[str]) -> list[str]:
    problems = []
    params = cfg.parameters
    for name in sorted(set(params) - VFIO_FIELDS):
        problems.append(f'strict decoding error: unknown field "{name}"')
    iommu = params.get("iommu")
    if iommu is not None and not isinstance(iommu, dict):
        problems.append("iommu must be an object")
    elif isinstance(iommu, dict):
        for name in sorted(set(iommu) - IOMMU_FIELDS):
            problems.append(f'strict decoding error: unknown field "iommu.{name}"')
        policy = iommu.get("backendPolicy")
        if policy is not None and policy not in BACKEND_POLICIES:
            problems.append(
                f"unknown IOMMU backend policy: {policy}, supported IOMMU backend policies: "
                + ", ".join(BACKEND_POLICIES)
            )
        if "enableAPIDevice" in iommu and not isinstance(iommu["enableAPIDevice"], bool):
            problems.append(f"iommu.enableAPIDevice must be true or false, not {iommu['enableAPIDevice']!r}")
    if cfg.driver and cfg.driver != NVIDIA_DRIVER:
        problems.append(f"a VfioDeviceConfig is addressed to driver {cfg.driver!r}, not {NVIDIA_DRIVER}")
    for req in cfg.requests:
        if req.partition("/")[0] not in request_names:
            problems.append(f"config names request {req!r}, which the claim does not have")
    return problems


def vfio_config_invalid(ctx: Context, view: VmiView) -> Iterator[Hit]:
    seen: set[tuple[str, str]] = set()
    for chain in view.chains:
        spec = _claim_spec(chain)
        names = {str(r.get("name")) for r in items(spec, "devices", "requests")}
        configs = vfio_configs(chain)
        problems = [p for cfg in configs for p in _config_problems(cfg, names)]
        if len({(c.source, str(c.requests)) for c in configs}) > 1:
            problems.append(
                f"{len(configs)} VfioDeviceConfigs apply to request {chain.gpu.request_name!r}; "
                "the driver accepts one VFIO config group per claim"
            )
        holder = _holder(chain)
        if not problems or (holder.name, chain.gpu.request_name) in seen:
            continue
        seen.add((holder.name, chain.gpu.request_name))
        yield Hit(
            holder,
            f"the VfioDeviceConfig for {gpu_label(chain)} is invalid; the driver fails NodePrepareResources: "
            + "; ".join(problems),
            f"fix the opaque config in {holder} (allowed: iommu.backendPolicy LegacyOnly|PreferIommuFD, "
            "iommu.enableAPIDevice true|false), then recreate the claim",
            "claim",
            gpu=chain.gpu.name,
        )


def vm_start_refused(ctx: Context, view: VmiView) -> Iterator[Hit]:
    if view.vmi is not None or view.vm is None:
        return
    strategy = dig(view.vm, "spec", "runStrategy") or ("Always" if dig(view.vm, "spec", "running") else "Halted")
    for cond in items(view.vm, "status", "conditions"):
        if cond.get("type") == "Failure" and cond.get("status") == "True" and strategy != "Halted":
            message = str(cond.get("message") or cond.get("reason") or "")
            yield Hit(
                owner_ref(view),
                f"VM {view.name} (runStrategy {strategy}) has no VMI: {message}",
                f"fix what the message names in VirtualMachine {view.namespace}/{view.name} "
                "(kubectl edit vm), or in the KubeVirt CR for a feature gate; the VM controller retries",
                "spec",
            )


def dra_mixed_with_device_plugin(ctx: Context, view: VmiView) -> Iterator[Hit]:
    if view.device_plugin_gpus and view.chains:
        dra = ", ".join(c.gpu.name for c in view.chains if c.gpu.kind == "gpu")
        yield Hit(
            owner_ref(view),
            f"GPUs {', '.join(view.device_plugin_gpus)} use deviceName (device plugin) while {dra} use DRA; "
            "KubeVirt v1.8.3+ rejects such a spec (`contains both DRA and non-DRA GPUs`)",
            f"move every GPU of {view.name} to one flow (DRA: claimName/requestName)",
            "spec",
        )
