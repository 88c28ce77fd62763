"""Typed views of core objects: metadata, taints and tolerations, launcher pods, nodes, events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..model import Ref


@dataclass(frozen=True, slots=True)
class Owner:
    """One ownerReference."""

    kind: str
    name: str
    uid: str
    controller: bool


@dataclass(frozen=True, slots=True)
class Meta:
    """The metadata every view carries."""

    kind: str
    namespace: str
    name: str
    uid: str = ""
    created: str = ""
    deleted: str | None = None  # deletionTimestamp
    finalizers: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    owners: tuple[Owner, ...] = ()

    def controller(self, kind: str) -> Owner | None:
        return next((o for o in self.owners if o.kind == kind and o.controller), None)

    @property
    def ref(self) -> Ref:
        return Ref(self.kind, self.namespace or None, self.name)


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str
    effect: str
    time_added: str = ""

    def __str__(self) -> str:
        return f"{self.key}{'=' + self.value if self.value else ''}:{self.effect or 'None'}"


@dataclass(frozen=True, slots=True)
class Toleration:
    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""


def tolerates(taint: Taint, tolerations: tuple[Toleration, ...]) -> bool:
    """Kubernetes toleration matching for a device taint (Equal by default, Exists, effect)."""
    for tol in tolerations:
        if tol.effect and tol.effect != taint.effect:
            continue
        if tol.operator == "Exists" and (not tol.key or tol.key == taint.key):
            return True
        if tol.key == taint.key and tol.value == taint.value:
            return True
    return False


@dataclass(frozen=True, slots=True)
class Requirement:
    """A node selector requirement (matchExpressions or matchFields)."""

    key: str
    operator: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LauncherPod:
    """A virt-launcher pod: where it runs and how its compute container is wired to claims."""

    meta: Meta
    phase: str
    node: str | None
    compute_claims: tuple[tuple[str, str | None], ...] = ()  # (claim, request or None)
    claim_statuses: Mapping[str, str] = field(default_factory=dict)  # pod claim name -> generated claim
    node_selector: Mapping[str, str] = field(default_factory=dict)
    affinity_terms: tuple[tuple[Requirement, ...], ...] = ()  # required node affinity, ORed terms
    vmi_uid: str | None = None  # the VMI it serves (controller reference or created-by label)
    compute_caps: tuple[str, ...] | None = None  # compute container's capabilities.add; None = no compute container

    @property
    def running(self) -> bool:
        return self.phase == "Running"


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    labels: Mapping[str, str]
    unschedulable: bool = False


@dataclass(frozen=True, slots=True)
class Event:
    """A core/v1 Event (events.k8s.io/v1 converted)."""

    reason: str
    type: str
    message: str
    count: int
    last: str
    involved_kind: str
    involved_namespace: str
    involved_name: str
    involved_uid: str
