"""The `get` table: one row per VMI (or VM without one) from the typed report, and its kubectl output forms.

AGE is kubectl's (k8s.io/apimachinery/pkg/util/duration/duration.go HumanDuration) of the time since
creationTimestamp: since now for a cluster, and for a snapshot since the newest timestamp it holds (the
moment it was taken, near enough), so that a snapshot prints the same ages whenever it is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from ..chain import Chain
from ..index import Index
from ..model import Role, Severity
from ..report import GpuReport, Report, VmiReport
from .table import table

COLUMNS = ("NAMESPACE", "NAME", "PHASE", "NODE", "GPUS", "DEVICES", "STATUS", "AGE")
WIDE = ("CLAIMS", "PCI", "KUBEVIRT", "DRIVER")
OK = "OK"


@dataclass(frozen=True)
class Row:
    """What one line of `get` says about one VMI (or VM)."""

    kind: str  # VirtualMachineInstance | VirtualMachine
    namespace: str
    name: str
    phase: str
    node: str | None
    gpus_ready: int
    gpus_total: int
    devices: tuple[str, ...]
    status: str  # the first cause's check name (errors first, then warnings), else OK
    severity: str | None  # that finding's severity
    created: str
    age: str
    claims: tuple[str, ...]
    pci: tuple[str, ...]
    kubevirt: str | None
    drivers: tuple[str, ...]

    @property
    def resource(self) -> str:
        """kubectl's `-o name` form, e.g. virtualmachineinstance.kubevirt.io/NAME."""
        return f"{self.kind.lower()}.kubevirt.io/{self.name}"


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 timestamp as the API writes it (`2026-11-20T09:10:03Z`, fractions allowed)."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def human_duration(seconds: float) -> str:
    """kubectl's AGE: 45s, 5m12s, 12m, 3h20m, 14h, 5d3h, 30d, 2y40d, 9y."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def snapshot_time(idx: Index) -> datetime | None:
    """The newest creationTimestamp of a snapshot's VMIs, VMs, launcher pods and claims."""
    stamps = [x.meta.created for x in idx.vmis.values()] + [x.meta.created for x in idx.vms.values()]
    stamps += [p.meta.created for p in idx.pods_by_uid.values()] + [c.meta.created for c in idx.claims.values()]
    times = [t for t in map(parse_time, stamps) if t is not None]
    return max(times) if times else None


def _ready(gpu: GpuReport) -> bool:
    """A GPU is ready when nothing is wrong on its chain and the domain has its hostdev."""
    return gpu.chain.evidence.hostdev is not None and not any(f.severity == Severity.ERROR for f in gpu.findings)


def _status(v: VmiReport) -> tuple[str, str | None]:
    """The first cause (consequences never stand in for it): errors first, then warnings."""
    causes = [f for f in v.all_findings if f.role is Role.CAUSE]
    for severity in (Severity.ERROR, Severity.WARNING):
        found = next((f for f in causes if f.severity == severity), None)
        if found is not None:
            return found.name, str(severity)
    return OK, None


def _devices(chain: Chain) -> list[str]:
    return [chain.device.name] if chain.device else [r.device for r in chain.results]


def row(rep: Report, v: VmiReport, now: datetime) -> Row:
    view = v.view
    owner = view.vmi or view.vm
    created = owner.meta.created if owner else ""
    when = parse_time(created)
    status, severity = _status(v)
    chains = [g.chain for g in v.gpus]
    pci = [p for g in v.gpus for p in dict.fromkeys(g.addresses["pciBusID"].values())]
    return Row(
        kind="VirtualMachine" if view.vmi is None else "VirtualMachineInstance",
        namespace=view.namespace,
        name=view.name,
        phase=view.phase,
        node=view.node,
        gpus_ready=sum(1 for g in v.gpus if _ready(g)),
        gpus_total=len(v.gpus),
        devices=tuple(d for c in chains for d in _devices(c)),
        status=status,
        severity=severity,
        created=created,
        age=human_duration((now - when).total_seconds()) if when else "<unknown>",
        claims=tuple(dict.fromkeys(c.claim.meta.name for c in chains if c.claim is not None)),
        pci=tuple(dict.fromkeys(pci)),
        kubevirt=rep.kubevirt_version,
        drivers=tuple(dict.fromkeys(r.driver for c in chains for r in c.results)),
    )


def rows(rep: Report, now: datetime, match: Callable[[Mapping[str, str]], bool] | None = None) -> list[Row]:
    """The rows of the VMIs whose labels, or whose VM's labels, `match` (a label selector)."""
    return [row(rep, v, now) for v in rep.vmis if match is None or _labelled(v, match)]


def _labelled(v: VmiReport, match: Callable[[Mapping[str, str]], bool]) -> bool:
    return any(match(o.meta.labels) for o in (v.view.vmi, v.view.vm) if o is not None)


def _join(values: Sequence[str]) -> str:
    return ",".join(values) or "<none>"


def cells(r: Row, wide: bool) -> dict[str, str]:
    """Every column's text for one row, by header."""
    out = {
        "NAMESPACE": r.namespace,
        "NAME": r.name,
        "PHASE": r.phase or "<unknown>",
        "NODE": r.node or "<none>",
        "GPUS": f"{r.gpus_ready}/{r.gpus_total}",
        "DEVICES": _join(r.devices),
        "STATUS": r.status,
        "AGE": r.age,
    }
    if wide:
        kubevirt = r.kubevirt or "<unknown>"
        out.update(CLAIMS=_join(r.claims), PCI=_join(r.pci), KUBEVIRT=kubevirt, DRIVER=_join(r.drivers))
    return out


def text(found: Iterable[Row], all_namespaces: bool, wide: bool, no_headers: bool) -> str:
    headers = [c for c in COLUMNS if all_namespaces or c != "NAMESPACE"] + (list(WIDE) if wide else [])
    body = [[cells(r, wide)[h] for h in headers] for r in found]
    return table(headers, body, no_headers)


def names(found: Iterable[Row]) -> str:
    return "".join(f"{r.resource}\n" for r in found)
