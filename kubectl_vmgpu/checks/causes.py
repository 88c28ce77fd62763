"""Which finding explains which: the "X explains Y when ..." table, and the pass that assigns roles."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from ..model import CausedBy, Finding, Role


@dataclass(frozen=True)
class Rule:
    """`cause` explains `consequence` (same scope) when the consequence's message matches `pattern`."""

    cause: str
    consequence: str
    when: str = ""  # the condition in words, for docs/checks.md
    pattern: re.Pattern[str] | None = None


# virt-launcher's texts when it finds no usable metadata (chain.md 6) and libvirt's when /dev/vfio/vfio is absent.
_NO_METADATA = re.compile(r"no mdevUUID or pciBusID|failed to read metadata|metadata not found|no metadata file")
_NO_VFIO_API = re.compile(r"passthrough of host PCI devices|VFIO PCI device assignment is not supported")
_ONE_DEVICE = re.compile(r"exactly one device")
_POD_NOT_RUNNING = re.compile(r"launcher evidence: pod \S+ is (?!Running)")
_GATE_REFUSED = re.compile(r"feature gate|GPUsWithDRA|HostDevicesWithDRA", re.IGNORECASE)
_CLAIMS_REFUSED = re.compile(r"resourceClaims|claimName")

SYNC_METADATA = "the SyncFailed text is virt-launcher's missing-metadata error"
SYNC_VFIO = "the SyncFailed text is libvirt's `host doesn't support passthrough of host PCI devices`"
NOT_RUNNING = "evidence is missing because the launcher pod is not running"

# Where the launcher reads no device address: what follows (metadata, hostdev, SyncFailed).
_NO_ADDRESS = ("metadata-missing", "metadata-unreadable", "hostdev-missing")
# Where the launcher pod never runs: what follows.
_NO_POD = ("launcher-pod-missing",)


def _rules(
    cause: str, consequences: Iterable[str], when: str = "", pattern: re.Pattern[str] | None = None
) -> list[Rule]:
    return [Rule(cause, c, when, pattern) for c in consequences if c != cause]


def _address_causes(cause: str, *, reads: bool = True) -> list[Rule]:
    """A cause that leaves virt-launcher without the device's address (`reads`: it also spoils the metadata)."""
    follows = _NO_ADDRESS if reads else ("hostdev-missing",)
    return _rules(cause, follows) + [Rule(cause, "launcher-sync-failed", SYNC_METADATA, _NO_METADATA)]


def _pending_causes(cause: str, *more: str) -> list[Rule]:
    """A cause that keeps the launcher pod Pending."""
    return _rules(cause, (*_NO_POD, *more)) + [Rule(cause, "evidence-unavailable", NOT_RUNNING, _POD_NOT_RUNNING)]


RULES: tuple[Rule, ...] = (
    # cluster-wide: no DRA API, no KubeVirt
    *_rules(
        "dra-api-missing",
        (
            "pod-claim-not-wired",
            "template-missing",
            "claim-missing",
            "device-class-missing",
            "driver-not-publishing",
            "claim-not-generated",
            "vm-start-refused",
        ),
    ),
    *_pending_causes("dra-api-missing"),
    *_rules("kubevirt-missing", ("vm-start-refused", "launcher-pod-missing")),
    # the VM spec and KubeVirt's configuration
    Rule("feature-gate-off", "vm-start-refused", "the refusal names the DRA feature gate", _GATE_REFUSED),
    *_rules("feature-gate-off", ("pod-claim-not-wired",)),
    Rule("claim-not-declared", "vm-start-refused", "the refusal names the claims", _CLAIMS_REFUSED),
    Rule("claim-source-invalid", "vm-start-refused", "the refusal names the claims", _CLAIMS_REFUSED),
    *_rules("claim-source-invalid", _NO_POD),
    *_address_causes("request-not-found"),
    *_address_causes("not-a-passthrough-class"),
    *_rules("not-a-passthrough-class", ("api-device-absent", "pci-address-missing")),
    *_address_causes("kubevirt-old-metadata-path"),
    *_address_causes("pod-claim-not-wired"),
    *_rules("pod-claim-not-wired", ("api-device-absent",)),
    *_address_causes("request-multi-device"),
    Rule("request-multi-device", "launcher-sync-failed", "the SyncFailed text is `exactly one device`", _ONE_DEVICE),
    *_address_causes("pci-address-missing"),
    *_address_causes("metadata-missing", reads=False),
    *_address_causes("metadata-unreadable", reads=False),
    # VFIO configuration
    *_rules("vfio-config-invalid", ("api-device-not-enabled", "prepare-failed")),
    *_pending_causes("vfio-config-invalid"),
    *_rules("iommufd-unsupported", ("api-device-absent", "hostdev-missing")),
    Rule("iommufd-unsupported", "launcher-sync-failed", SYNC_VFIO, _NO_VFIO_API),
    *_rules("api-device-not-enabled", ("api-device-absent", "hostdev-missing")),
    Rule("api-device-not-enabled", "launcher-sync-failed", SYNC_VFIO, _NO_VFIO_API),
    *_rules("api-device-absent", ("hostdev-missing",)),
    Rule("api-device-absent", "launcher-sync-failed", SYNC_VFIO, _NO_VFIO_API),
    # claims: missing, not generated, not allocated, not prepared
    *_pending_causes("template-missing", "claim-not-generated"),
    *_pending_causes("claim-missing"),
    *_pending_causes("claim-not-generated"),
    *_rules("device-class-missing", ("claim-pending",)),
    *_rules("driver-not-publishing", ("claim-pending",)),
    *_rules("passthrough-not-enabled", ("claim-pending",)),
    *_pending_causes("claim-pending"),
    *_rules("claim-not-reserved", ("prepare-failed",)),
    *_pending_causes("claim-not-reserved"),
    *_rules("claim-wrong-node", ("prepare-failed",)),
    *_pending_causes("claim-wrong-node"),
    *_rules("device-double-allocated", ("prepare-failed",)),
    *_pending_causes("device-double-allocated"),
    *_pending_causes("prepare-failed"),
    *_pending_causes("launcher-pod-missing"),
)


def _in_scope(cause: Finding, consequence: Finding) -> bool:
    """A cluster cause explains any VMI; a VMI-level one its VMI; a GPU-level one its GPU and its VMI as a whole."""
    if cause.vmi is None:
        return consequence.vmi is not None
    if cause.vmi != consequence.vmi:
        return False
    return cause.gpu is None or consequence.gpu is None or cause.gpu == consequence.gpu


def _explains(rule: Rule, cause: Finding, consequence: Finding) -> bool:
    return (
        rule.cause == cause.name
        and rule.consequence == consequence.name
        and cause is not consequence
        and _in_scope(cause, consequence)
        and (rule.pattern is None or bool(rule.pattern.search(consequence.message)))
    )


def _direct(found: Sequence[Finding], i: int) -> int | None:
    """The index of the first finding that explains found[i] directly (table order, then finding order)."""
    for rule in RULES:
        if rule.consequence != found[i].name:
            continue
        for j, other in enumerate(found):
            if _explains(rule, other, found[i]):
                return j
    return None


def assign(found: Sequence[Finding]) -> list[Finding]:
    """Each finding with its role; a consequence's `caused_by` is the root it follows from (transitively)."""
    direct = [_direct(found, i) for i in range(len(found))]
    out = []
    for i, f in enumerate(found):
        root, seen = i, {i}
        while (up := direct[root]) is not None and up not in seen:  # the table is a DAG; `seen` guards anyway
            seen.add(up)
            root = up
        if root == i:
            out.append(replace(f, role=Role.CAUSE, caused_by=None))
        else:
            out.append(replace(f, role=Role.CONSEQUENCE, caused_by=CausedBy(found[root].name, found[root].subject)))
    return out


def edges() -> dict[str, set[str]]:
    """cause name -> the names it may explain."""
    graph: dict[str, set[str]] = {}
    for rule in RULES:
        graph.setdefault(rule.cause, set()).add(rule.consequence)
    return graph


def is_acyclic() -> bool:
    """Whether the table is a DAG (no check can explain itself through others)."""
    graph: dict[str, set[str]] = edges()
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(node: str) -> bool:
        if node in visiting:
            return False
        if node in done:
            return True
        visiting.add(node)
        ok = all(visit(n) for n in (graph[node] if node in graph else ()))  # noqa: SIM401
        visiting.discard(node)
        done.add(node)
        return ok

    return all(visit(n) for n in list(graph))
