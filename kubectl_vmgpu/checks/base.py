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
