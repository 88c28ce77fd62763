"""What a check is, what it yields, and the context it reads (typed views only)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..chain import Chain, LinkName, VmiView
from ..index import Index
from ..model import FixPatch, Ref, Severity

if TYPE_CHECKING:
    from ..allocation import Explanation

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO


@dataclass(frozen=True)
class Hit:
    """One occurrence found by a check; the registry turns it into a Finding."""

    subject: Ref
    message: str
    fix: str
    link: LinkName | None  # None: the cluster, not one link of a chain
    gpu: str | None = None
    severity: Severity | None = None  # None: the check's own severity
    fix_patch: FixPatch | None = None  # when the fix is an object change


@dataclass(frozen=True)
class Context:
    """Everything a check may read: the typed index and how evidence was gathered."""

    idx: Index
    exec_disabled: bool = False  # --no-exec
    explanations: Mapping[tuple[str, str, str], Explanation] = field(default_factory=dict)


VmiRun = Callable[[Context, VmiView], Iterable[Hit]]
ClusterRun = Callable[[Context], Iterable[Hit]]


@dataclass(frozen=True, kw_only=True)
class _Declared:
    """A registered check: stable id and name (the breaks.md slug), its docs, and the versions it applies to."""

    id: str
    name: str
    severity: Severity
    stage: str
    summary: str
    explanation: str
    fix: str
    versions: str = "all supported (KubeVirt v1.6-v1.9)"


@dataclass(frozen=True, kw_only=True)
class VmiCheck(_Declared):
    """A check run once per VMI (or stopped VM) view."""

    run: VmiRun


@dataclass(frozen=True, kw_only=True)
class ClusterCheck(_Declared):
    """A check run once per report, on the cluster as a whole."""

    run: ClusterRun


Check = VmiCheck | ClusterCheck


def owner_ref(view: VmiView) -> Ref:
    """The object users edit: the VirtualMachine when there is one, else the VMI."""
    kind = "VirtualMachine" if view.vm else "VirtualMachineInstance"
    return Ref(kind, view.namespace, view.name)


def gpu_label(chain: Chain) -> str:
    return chain.gpu.label


def spec_path(view: VmiView, chain: Chain) -> str:
    """Where users edit the device: on the VM template, or the VMI when it has no VM."""
    prefix = "spec.template.spec" if view.vm else "spec"
    field_name = "gpus" if chain.gpu.kind == "gpu" else "hostDevices"
    return f"{prefix}.domain.devices.{field_name}"


def claims_path(view: VmiView) -> str:
    return ("spec.template.spec" if view.vm else "spec") + ".resourceClaims"


def pod_ref(view: VmiView) -> Ref:
    return Ref("Pod", view.namespace, view.pod.meta.name if view.pod else "?")


def claim_holder(chain: Chain) -> Ref:
    """What users edit to change requests: the template for template claims, else the claim."""
    if chain.template is not None:
        return chain.template.meta.ref
    if chain.claim is not None:
        return chain.claim.meta.ref
    return Ref("ResourceClaim", None, "?")


def restart(view: VmiView) -> str:
    return f"restart the VM: virtctl restart {view.name} -n {view.namespace}"


def vm_gpu_patch(view: VmiView, chain: Chain, field_name: str, value: str) -> FixPatch | None:
    """A JSON patch of one field of the GPU's entry in the VM template (the object users edit), then a restart."""
    if view.vm is None:
        return None
    entry = next((e for e in view.vm.devices.entries if e.kind == chain.gpu.kind and e.name == chain.gpu.name), None)
    if entry is None or entry.index < 0:
        return None
    spec_list = "gpus" if entry.kind == "gpu" else "hostDevices"
    path = f"/spec/template/spec/domain/devices/{spec_list}/{entry.index}/{field_name}"
    ops = [
        {"op": "test", "path": path, "value": getattr(entry, _ENTRY_FIELDS[field_name])},
        {"op": "replace", "path": path, "value": value},
    ]
    return FixPatch("kubevirt.io/v1", "VirtualMachine", view.namespace, view.name, "json", ops, restart(view))


_ENTRY_FIELDS = {"requestName": "request_name", "claimName": "claim_name"}


def dra_api_version(ctx: Context) -> str:
    """The resource.k8s.io version a user's kubectl writes: v1 when served (or unknown), else the preferred one."""
    served = ctx.idx.served("resource.k8s.io")
    return "resource.k8s.io/" + ("v1" if not served or "v1" in served else served[0])


def template_request_path(ctx: Context, chain: Chain) -> tuple[str, str] | None:
    """(apiVersion, JSON pointer of the request) in the GPU's ResourceClaimTemplate; None without one."""
    if chain.template is None or chain.claim_spec is None or chain.request is None:
        return None
    names = [r.name for r in chain.claim_spec.requests]
    if chain.request.name not in names:
        return None
    return dra_api_version(ctx), f"/spec/spec/devices/requests/{names.index(chain.request.name)}"


def class_field(api_version: str) -> str:
    """Where deviceClassName sits in a request: under `exactly` from v1beta2 on, at the top in v1beta1."""
    return "deviceClassName" if api_version.endswith("v1beta1") else "exactly/deviceClassName"
