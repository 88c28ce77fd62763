"""The report of one run: findings per VMI and GPU with each link's status, counts, and the exit code."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .allocation import Explanation
from .chain import Chain, VmiView
from .links import Link, addresses, links
from .model import Finding, Role, Severity


@dataclass(frozen=True)
class GpuReport:
    """One chain, its links with their status, and its findings."""

    chain: Chain
    links: tuple[Link, ...]
    findings: tuple[Finding, ...]
    explanation: Explanation | None
    addresses: Mapping[str, Mapping[str, str]]


@dataclass(frozen=True)
class VmiReport:
    view: VmiView
    gpus: tuple[GpuReport, ...]
    findings: tuple[Finding, ...]  # about the VMI as a whole (no GPU)

    @property
    def all_findings(self) -> tuple[Finding, ...]:
        return self.findings + tuple(f for g in self.gpus for f in g.findings)

    def link(self, gpu: GpuReport, name: str) -> Link | None:
        return next((lk for lk in gpu.links if lk.name.value == name), None)


@dataclass(frozen=True)
class Summary:
    vmis: int
    vmis_with_errors: int
    counts: Mapping[Severity, int]
    silenced: int
    problems: int = 0  # findings whose role is cause: what the user has to fix
    findings: int = 0  # every finding, causes and consequences


@dataclass(frozen=True)
class Report:
    """Everything a renderer needs: kind (Describe|Doctor), source, cluster findings, VMIs, summary."""

    kind: str
    origin: str
    kubevirt_version: str | None
    findings: tuple[Finding, ...]
    vmis: tuple[VmiReport, ...]
    summary: Summary

    def exit_code(self, fail_on: Severity) -> int:
        """1 when any finding (cause or consequence alike) is at least `fail_on`, else 0."""
        every = self.findings + tuple(f for v in self.vmis for f in v.all_findings)
        return 1 if any(f.severity >= fail_on for f in every) else 0


def _vmi(
    view: VmiView, findings: tuple[Finding, ...], explanations: Mapping[tuple[str, str, str], Explanation]
) -> VmiReport:
    gpus = []
    for chain in view.chains:
        mine = tuple(f for f in findings if f.gpu == chain.gpu.name)
        gpus.append(
            GpuReport(
                chain=chain,
                links=links(view, chain, mine),
                findings=mine,
                explanation=explanations.get((view.namespace, view.name, chain.gpu.name)),
                addresses=addresses(chain),
            )
        )
    return VmiReport(view, tuple(gpus), tuple(f for f in findings if f.gpu is None))


def assemble(
    kind: str,
    origin: str,
    views: list[VmiView],
    cluster: tuple[Finding, ...],
    by_vmi: Mapping[tuple[str, str], tuple[Finding, ...]],
    silenced: int,
    explanations: Mapping[tuple[str, str, str], Explanation],
    kubevirt_version: str | None,
) -> Report:
    """The typed report: each VMI's chains with link statuses, and the counts."""
    vmis = tuple(_vmi(v, by_vmi.get((v.namespace, v.name), ()), explanations) for v in views)
    every = list(cluster) + [f for fs in by_vmi.values() for f in fs]
    counts = {s: sum(1 for f in every if f.severity == s) for s in reversed(Severity)}
    with_errors = sum(1 for fs in by_vmi.values() if any(f.severity == Severity.ERROR for f in fs))
    problems = sum(1 for f in every if f.role is Role.CAUSE)
    summary = Summary(len(views), with_errors, counts, silenced, problems, len(every))
    return Report(kind, origin, kubevirt_version, cluster, vmis, summary)
