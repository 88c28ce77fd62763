"""The values that flow through the tool: inventory, chain links and findings."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


class Severity(enum.IntEnum):
    """Ordered so that `--fail-on` is a comparison."""

    INFO = 0
    WARNING = 1
    ERROR = 2

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


@dataclass(frozen=True)
class Ref:
    """An object by kind, namespace and name: the subject of a finding."""

    kind: str
    namespace: str | None
    name: str

    def __str__(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {ns}{self.name}"

    def as_dict(self) -> dict[str, str | None]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name}


class Role(enum.Enum):
    """A cause is a problem to fix; a consequence goes away once its cause is fixed."""

    CAUSE = "cause"
    CONSEQUENCE = "consequence"


@dataclass(frozen=True)
class FixPatch:
    """A fix that is an object change: `kubectl patch KIND NAME --type TYPE -p PATCH`, then `then`."""

    api_version: str
    kind: str
    namespace: str | None
    name: str
    type: str  # "merge" (RFC 7386) | "json" (RFC 6902)
    patch: Any  # a JSON-serialisable object (merge) or list of operations (json)
    then: str | None = None  # what to do after the patch, e.g. "restart the VM: virtctl restart NAME"


@dataclass(frozen=True)
class CausedBy:
    """The cause a consequence follows from: its check name and subject."""

    name: str
    subject: Ref


@dataclass(frozen=True)
class Finding:
    """One break (or gap) found by one check, at one link of one chain."""

    id: str
    name: str
    severity: Severity
    subject: Ref
    message: str
    fix: str
    link: str  # the chain link it concerns (see chain.LINKS), or "cluster"
    vmi: Ref | None = None
    gpu: str | None = None
    fix_patch: FixPatch | None = None
    role: Role = Role.CAUSE
    caused_by: CausedBy | None = None  # set when role is CONSEQUENCE (checks/causes.py)


@dataclass(frozen=True)
class PodEvidence:
    """What was read inside one virt-launcher compute container; None = not collected."""

    metadata_files: Mapping[str, str] | None = None  # container path -> content
    vfio_listing: str | None = None  # `ls -l /dev/vfio` stdout
    domain_xml: str | None = None  # `virsh -r dumpxml` stdout
    unavailable: Mapping[str, str] = field(default_factory=dict)  # metadata|vfio|iommu|domain -> why
    iommu_listing: str | None = None  # `ls -l /dev/iommu /dev/vfio/devices` stdout (what exists of the two)


@dataclass(frozen=True)
class ClusterFacts:
    """What the API server serves, when known."""

    server_version: str | None = None
    groups: Mapping[str, tuple[str, ...]] | None = None  # group -> served versions, preferred first
    unavailable: Mapping[str, str] = field(default_factory=dict)  # resource.group -> why not read
    claims_namespace: str | None = None  # claims read only here (cluster-wide refused): other holders unknown


@dataclass
class Inventory:
    """Every object read from a source, resource.k8s.io normalized to v1; never mutated by checks."""

    objects: dict[str, list[Obj]] = field(default_factory=dict)  # kind -> objects
    evidence: dict[tuple[str, str], PodEvidence] = field(default_factory=dict)  # (ns, pod)
    cluster: ClusterFacts = field(default_factory=ClusterFacts)
    resource_versions: dict[str, set[str]] = field(default_factory=dict)  # group -> seen versions
    origin: str = ""  # a short description of the source, for reports
    listed: set[str] = field(default_factory=set)  # kinds read in full (live lists, collect bundles)
    notes: list[str] = field(default_factory=list)  # what the source skipped, one line each (shown on stderr)

    def of(self, kind: str) -> list[Obj]:
        return self.objects.get(kind, [])

    def knows(self, kind: str, resource: str) -> bool:
        """Whether the absence of a `kind` object means it does not exist in the cluster.

        True for kinds listed in full, and in other snapshots for kinds with at least one object.
        """
        if resource in self.cluster.unavailable:
            return False
        return kind in self.listed or bool(self.objects.get(kind))


@dataclass(frozen=True)
class Connection:
    """kubectl's connection and auth flags, laid over the kubeconfig as clientcmd does (sources/kubeconfig.py)."""

    cluster: str | None = None  # --cluster: the kubeconfig cluster to use
    user: str | None = None  # --user: the kubeconfig user to use
    server: str | None = None  # --server/-s
    token: str | None = None  # --token
    certificate_authority: str | None = None  # --certificate-authority
    insecure_skip_tls_verify: bool = False  # --insecure-skip-tls-verify (false never overrides)
    impersonate: str | None = None  # --as
    impersonate_uid: str | None = None  # --as-uid
    impersonate_groups: tuple[str, ...] = ()  # --as-group, repeatable


@dataclass(frozen=True)
class Scope:
    """What the user asked to look at and where it comes from."""

    name: str | None
    namespace: str | None
    all_namespaces: bool
    snapshots: tuple[str, ...]
    demo: bool
    kubeconfig: str | None
    context: str | None
    request_timeout: float | None
    no_exec: bool
    connection: Connection = Connection()
