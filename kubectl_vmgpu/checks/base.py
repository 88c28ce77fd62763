"""What a check is, what it yields, and the context it reads."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..chain import Chain, VmiView
from ..index import Index, meta
from ..model import Obj, Ref, Severity


@dataclass(frozen=True)
class Hit:
    """One occurrence found by a check; the registry turns it into a Finding."""

    subject: Ref
    message: str
    fix: str
    link: str
    gpu: str | None = None
    severity: Severity | None = None  # None: the check's own severity


@dataclass(frozen=True)
class Context:
    """Everything a check may read: the indexed inventory and how evidence was gathered."""

    idx: Index
    exec_disabled: bool = False  # --no-exec
    explanations: Mapping[tuple[str, str, str], Any] = field(default_factory=dict)  # allocation.Explanation


VmiRun = Callable[[Context, VmiView], Iterable[Hit]]
ClusterRun = Callable[[Context], Iterable[Hit]]


@dataclass(frozen=True)
class Check:
    """A registered check: stable id and name (the breaks.md slug), docs, and its function."""

    id: str
    name: str
    severity: Severity
    stage: str
    summary: str
    explanation: str
    fix: str
    vmi_run: VmiRun | None = None
    cluster_run: ClusterRun | None = None


def ref(obj: Obj | None, kind: str | None = None, fallback: tuple[str | None, str] = (None, "?")) -> Ref:
    """A Ref for an object, or a fallback (namespace, name) when it does not exist."""
    if obj:
        return Ref(kind or str(obj.get("kind")), meta(obj, "namespace") or None, meta(obj, "name"))
    return Ref(kind or "?", fallback[0], fallback[1])


def owner_ref(view: VmiView) -> Ref:
    """The object users edit: the VirtualMachine when there is one, else the VMI."""
    kind = "VirtualMachine" if view.vm else "VirtualMachineInstance"
    return Ref(kind, view.namespace, view.name)


def gpu_label(chain: Chain) -> str:
    return f"{'GPU' if chain.gpu.kind == 'gpu' else 'host device'} {chain.gpu.name!r}"


def spec_path(view: VmiView, chain: Chain) -> str:
    """Where users edit the device: on the VM template, or the VMI when it has no VM."""
    prefix = "spec.template.spec" if view.vm else "spec"
    field = "gpus" if chain.gpu.kind == "gpu" else "hostDevices"
    return f"{prefix}.domain.devices.{field}"


def claims_path(view: VmiView) -> str:
    return ("spec.template.spec" if view.vm else "spec") + ".resourceClaims"
