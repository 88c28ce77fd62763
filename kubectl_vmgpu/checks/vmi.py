"""VMI spec checks: claims declared and found, requests, device classes, admission."""

from __future__ import annotations

from collections.abc import Iterator

from .. import admission
from ..chain import Chain, LinkName, VmiView
from ..model import FixPatch, Ref, Severity
from ..views import KubeVirt
from .base import (
    Context,
    E,
    Hit,
    VmiCheck,
    W,
    claim_holder,
    claims_path,
    class_field,
    gpu_label,
    owner_ref,
    restart,
    spec_path,
    template_request_path,
    vm_gpu_patch,
)
from .vfio import api_device_op, vfio_configs

NVIDIA_DRIVER = "gpu.nvidia.com"
CONTAINER_CLASSES = ("gpu.nvidia.com", "mig.nvidia.com")


def claim_not_declared(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """A GPU whose claimName names no spec.resourceClaims entry (or that has no claimName)."""
    declared = [s.name for s in view.devices.sources]
    for chain in view.chains:
        if chain.source is not None:
            continue
        if not chain.gpu.claim_name:
            # kubevirt v1.8.3+ pkg/dra/admitter: "DRA GPU" or "DRA HostDevice" by the list
            typ = "GPU" if chain.gpu.kind == "gpu" else "HostDevice"
            message = f"{gpu_label(chain)} has requestName but no claimName (`claimName is required for DRA {typ}`)"
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
            LinkName.SPEC,
            gpu=chain.gpu.name,
        )


def claim_source_invalid(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """A spec.resourceClaims entry with both or neither of resourceClaimName and resourceClaimTemplateName."""
    for source in view.devices.sources:
        if source.valid:
            continue
        both = bool(source.claim_name and source.template_name)
        yield Hit(
            owner_ref(view),
            f"{claims_path(view)} entry {source.name!r} sets "
            f"{'both' if both else 'neither'} of resourceClaimName and resourceClaimTemplateName",
            f"set exactly one of them on entry {source.name!r} of {claims_path(view)}",
            LinkName.SOURCE,
        )


def template_missing(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """A resourceClaimTemplateName that names no ResourceClaimTemplate in the namespace."""
    if not ctx.idx.inv.knows("ResourceClaimTemplate", "resourceclaimtemplates.resource.k8s.io"):
        return
    for chain in _unique_sources(view):
        assert chain.source is not None
        name = chain.source.template_name
        if name and not chain.source.claim_name and chain.template is None:
            later = " (the claim generated earlier still works until the VM restarts)" if chain.claim else ""
            yield Hit(
                Ref("ResourceClaimTemplate", view.namespace, name),
                f"claim {chain.gpu.claim_name!r} uses template {name!r}, which does not exist in namespace "
                f"{view.namespace}{later}",
                f"create ResourceClaimTemplate {name!r} in {view.namespace} (kubectl get resourceclaimtemplates "
                f"-n {view.namespace}), or fix resourceClaimTemplateName in {claims_path(view)}",
                LinkName.SOURCE,
                gpu=chain.gpu.name,
            )


def claim_missing(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """A resourceClaimName that names no ResourceClaim in the namespace."""
    if not ctx.idx.inv.knows("ResourceClaim", "resourceclaims.resource.k8s.io"):
        return
    for chain in _unique_sources(view):
        assert chain.source is not None
        name = chain.source.claim_name
        if name and not chain.source.template_name and chain.claim is None:
            yield Hit(
                Ref("ResourceClaim", view.namespace, name),
                f"claim {chain.gpu.claim_name!r} names ResourceClaim {name!r}, which does not exist in namespace "
                f'{view.namespace} (scheduler: `could not find ResourceClaim "{view.namespace}/{name}"`)',
                f"create ResourceClaim {name!r} in {view.namespace}, or fix resourceClaimName in {claims_path(view)}",
                LinkName.SOURCE,
                gpu=chain.gpu.name,
            )


def _unique_sources(view: VmiView) -> list[Chain]:
    seen, out = set(), []
    for chain in view.chains:
        if chain.source is not None and chain.gpu.claim_name not in seen:
            seen.add(chain.gpu.claim_name)
            out.append(chain)
    return out


def request_not_found(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """A GPU whose requestName is not a request (or `<req>/<sub>`) of its claim or template."""
    for chain in view.chains:
        if chain.source is None or (chain.claim is None and chain.template is None) or chain.request:
            continue
        names = list(chain.claim_spec.names) if chain.claim_spec else []
        asked = chain.gpu.request_name or "(empty)"
        yield Hit(
            owner_ref(view),
            f"{gpu_label(chain)} uses requestName {asked!r}, but {claim_holder(chain)} has requests "
            f"{', '.join(repr(n) for n in names) or 'none'} (the admission webhook does not check this; "
            "virt-launcher finds no device for it)",
            f"set requestName of {chain.gpu.name!r} in {spec_path(view, chain)} to "
            f"{names[0] if len(names) == 1 else 'one of ' + ', '.join(names)}, then restart the VM",
            LinkName.SPEC,
            gpu=chain.gpu.name,
            fix_patch=vm_gpu_patch(view, chain, "requestName", names[0]) if len(names) == 1 else None,
        )


def request_multi_device(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """A request (or subrequest) that may yield more than one device: count > 1 or allocationMode All."""
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
                claim_holder(chain),
                f"request {req.name!r} ({what}) backs {gpu_label(chain)}, but KubeVirt takes exactly one device "
                f'per request (`request "{req.name}" has N devices but KubeVirt only supports exactly one '
                "device per request`)",
                "use one request per GPU with allocationMode: ExactCount and count: 1, and one gpus[] entry per "
                "request",
                LinkName.CLAIM,
                gpu=chain.gpu.name,
            )


def _device_type(chain: Chain) -> str | None:
    return chain.device.device.type if chain.device else None


def not_a_passthrough_class(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """A VM GPU claimed from a container GPU class, or allocated an NVIDIA `gpu`/`mig` device."""
    for chain in view.chains:
        container_type = _device_type(chain) in ("gpu", "mig") and chain.device and chain.device.driver == NVIDIA_DRIVER
        if chain.class_name in CONTAINER_CLASSES or container_type:
            yield Hit(
                claim_holder(chain),
                f"{gpu_label(chain)} is claimed from device class {chain.class_name!r}"
                + (f" and got device {chain.device.name} (type {_device_type(chain)})" if chain.device else "")
                + ": that is a container GPU driven by the NVIDIA kernel driver, not a VFIO passthrough device",
                f"set deviceClassName: vfio.gpu.nvidia.com in request {chain.gpu.request_name!r} of "
                f"{claim_holder(chain)}"
                + ("" if vfio_configs(chain) else " and add a VfioDeviceConfig with iommu.enableAPIDevice: true")
                + ", then restart the VM",
                LinkName.CLASS,
                gpu=chain.gpu.name,
                fix_patch=_class_patch(ctx, view, chain, "vfio.gpu.nvidia.com"),
            )


def _class_patch(ctx: Context, view: VmiView, chain: Chain, device_class: str) -> FixPatch | None:
    """deviceClassName of the GPU's request in its template, and the VfioDeviceConfig with enableAPIDevice when
    it has none (else api-device-not-enabled follows); the VM restart makes a new claim from it."""
    found = template_request_path(ctx, chain)
    if found is None or chain.template is None or (chain.request and chain.request.first_available):
        return None
    api_version, path = found
    ops: list[dict[str, object]] = [
        {"op": "replace", "path": f"{path}/{class_field(api_version)}", "value": device_class}
    ]
    if not vfio_configs(chain):
        ops.append(api_device_op(chain))
    meta = chain.template.meta
    return FixPatch(api_version, "ResourceClaimTemplate", meta.namespace, meta.name, "json", ops, restart(view))


_WEBHOOK = 'admission webhook "virtualmachineinstances-create-validator.kubevirt.io" denied the request: '


def _gates(kv: KubeVirt) -> admission.Gates:
    """The DRA gates as the cluster resolves them; an unknown gate counts as on (feature-gate-off says when not)."""
    return admission.Gates(
        gpus=kv.gate_enabled("GPUsWithDRA") is not False,
        host_devices=kv.gate_enabled("HostDevicesWithDRA") is not False,
        networks=kv.gate_enabled("NetworkDevicesWithDRA") is True,
    )


def vm_start_refused(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """A VirtualMachine without a VMI that the DRA admission webhook refuses (or would refuse) to start.

    A True `Failure` condition carries the refusal as recorded; otherwise (a stopped VM, or a snapshot taken
    before the first attempt) the template spec is judged by the model of this release's admitter
    (admission.py, kubevirt pkg/dra/admitter), with the webhook's own text.
    """
    vm, kv = view.vm, view.kubevirt
    if view.vmi is not None or vm is None:
        return
    fix = (
        f"fix what the message names in VirtualMachine {view.namespace}/{view.name} "
        "(kubectl edit vm), or in the KubeVirt CR for a feature gate"
    )
    if vm.failure is not None and vm.run_strategy != "Halted":
        yield Hit(
            owner_ref(view),
            f"VM {view.name} (runStrategy {vm.run_strategy}) has no VMI: {vm.failure}",
            fix + "; the VM controller retries",
            LinkName.SPEC,
        )
        return
    causes = admission.admit(kv.admitter_release(), _gates(kv), *admission.inputs(vm.devices))
    if causes:
        state = "is stopped" if vm.run_strategy == "Halted" else f"(runStrategy {vm.run_strategy}) has no VMI yet"
        yield Hit(
            owner_ref(view),
            f"VM {view.name} {state}; KubeVirt {kv.label} will refuse to start it: "
            + _WEBHOOK
            + admission.webhook_message(causes),
            fix + ", before starting it",
            LinkName.SPEC,
        )


def dra_mixed_with_device_plugin(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """A VMI whose gpus[] mix device-plugin (deviceName) and DRA entries: refused from v1.8.3, a warning before.

    hostDevices may mix in every release: kubevirt v1.8.3/v1.9.0 pkg/dra/admitter sets rejectMixed for GPUs
    only (test "should accept a VMI with both DRA and non-DRA HostDevices"), whatever issue 16 says.
    """
    plugin = view.devices.device_plugin_gpus
    dra = ", ".join(c.gpu.name for c in view.chains if c.gpu.kind == "gpu")
    if not plugin or not dra:
        return
    kv = view.kubevirt
    refused = kv.rejects_mixed_flows()
    yield Hit(
        owner_ref(view),
        f"GPUs {', '.join(plugin)} use deviceName (device plugin) while {dra} use DRA; "
        + (
            f"KubeVirt {kv.label} rejects such a spec (`vmi.spec.domain.devices.gpus contains both DRA and non-DRA "
            "GPUs; each GPU must be either DRA or non-DRA`)"
            if refused
            else f"KubeVirt {kv.label} admits it, but v1.8.3 and later reject it (`contains both DRA and non-DRA GPUs`)"
        ),
        f"move every GPU of {view.name} to one flow (DRA: claimName/requestName)",
        LinkName.SPEC,
        severity=Severity.ERROR if refused else None,
    )


CHECKS = (
    VmiCheck(
        id="VG201",
        name="claim-not-declared",
        severity=E,
        stage="vmi",
        summary="a GPU's claimName is not in spec.resourceClaims",
        explanation="KubeVirt needs every claimName declared in spec.resourceClaims.",
        fix="Add the claim to spec.resourceClaims.",
        run=claim_not_declared,
    ),
    VmiCheck(
        id="VG202",
        name="claim-source-invalid",
        severity=E,
        stage="vmi",
        summary="a resourceClaims entry has both or neither source",
        explanation=(
            "Each spec.resourceClaims entry names exactly one of resourceClaimName / resourceClaimTemplateName."
        ),
        fix="Set exactly one.",
        run=claim_source_invalid,
    ),
    VmiCheck(
        id="VG203",
        name="template-missing",
        severity=E,
        stage="vmi",
        summary="the ResourceClaimTemplate does not exist",
        explanation="No claim can be generated for the launcher pod from a missing template.",
        fix="Create the template or fix the name.",
        run=template_missing,
    ),
    VmiCheck(
        id="VG204",
        name="claim-missing",
        severity=E,
        stage="vmi",
        summary="the ResourceClaim does not exist",
        explanation="The launcher pod cannot be scheduled without its claim.",
        fix="Create the claim or fix the name.",
        run=claim_missing,
    ),
    VmiCheck(
        id="VG205",
        name="request-not-found",
        severity=E,
        stage="vmi",
        summary="a GPU's requestName is not a request of its claim",
        explanation="The admission webhook does not check it; the pod or virt-launcher fails later.",
        fix="Fix requestName.",
        run=request_not_found,
    ),
    VmiCheck(
        id="VG206",
        name="request-multi-device",
        severity=E,
        stage="vmi",
        summary="a request may yield more than one device",
        explanation="KubeVirt takes exactly one device per request; count > 1 or allocationMode All breaks it.",
        fix="One request per GPU, count 1.",
        run=request_multi_device,
    ),
    VmiCheck(
        id="VG207",
        name="not-a-passthrough-class",
        severity=E,
        stage="vmi",
        summary="a VM GPU is claimed from a container GPU class",
        explanation="gpu.nvidia.com / mig.nvidia.com devices are for containers, not VFIO passthrough.",
        fix="Use vfio.gpu.nvidia.com.",
        versions="all supported (KubeVirt v1.6-v1.9); NVIDIA DRA driver classes",
        run=not_a_passthrough_class,
    ),
    VmiCheck(
        id="VG211",
        name="vm-start-refused",
        severity=E,
        stage="vmi",
        summary="the admission webhook refuses (or would refuse) to start a VirtualMachine",
        explanation="The VM's Failure condition carries the admission webhook's refusal; a stopped VM (or one not "
        "yet started) is judged by the model of that release's DRA admitter (requestName/claimName required, "
        "duplicate names and claim/request pairs, DNS names, deviceName and claim both or neither, the gate).",
        fix="Fix what the message names, on the VM.",
        versions="KubeVirt v1.6-v1.9 (the admitter of each release: v1.6.0, v1.8.0, v1.8.3, v1.9.0)",
        run=vm_start_refused,
    ),
    VmiCheck(
        id="VG212",
        name="dra-mixed-with-device-plugin",
        severity=W,
        stage="vmi",
        summary="a VMI mixes device-plugin and DRA GPUs",
        explanation="KubeVirt v1.8.3+ rejects VMIs whose gpus mix both flows (an error there, a warning before); "
        "hostDevices may mix in every release (upstream admitter test).",
        fix="Use one flow.",
        versions="KubeVirt v1.6-v1.9 (an error from v1.8.3)",
        run=dra_mixed_with_device_plugin,
    ),
)
