"""The check registry (each stage module declares its own checks) and the function that runs them."""

from __future__ import annotations

from dataclasses import dataclass

from ..chain import VmiView, link_order
from ..model import Finding, Ref
from . import causes, claim, cluster, device, gaps, launcher, memlock, vfio, vmi
from .base import Check, ClusterCheck, Context, Hit, VmiCheck

IGNORE_ANNOTATION = "vmgpu.kubevirt.io/ignore-checks"

CHECKS: tuple[Check, ...] = tuple(
    sorted(
        (
            *cluster.CHECKS,
            *vmi.CHECKS,
            *vfio.CHECKS,
            *claim.CHECKS,
            *device.CHECKS,
            *launcher.CHECKS,
            *gaps.CHECKS,
            *memlock.CHECKS,
        ),
        key=lambda c: c.id,
    )
)
CLUSTER_CHECKS = tuple(c for c in CHECKS if isinstance(c, ClusterCheck))
VMI_CHECKS = tuple(c for c in CHECKS if isinstance(c, VmiCheck))
BY_KEY: dict[str, Check] = {c.id.lower(): c for c in CHECKS} | {c.name: c for c in CHECKS}


def lookup(key: str) -> Check | None:
    """A check by id (any case) or name."""
    key = key.lower()
    return BY_KEY[key] if key in BY_KEY else None  # noqa: SIM401


@dataclass(frozen=True)
class Report:
    """Findings of one run: cluster-level, per VMI, and how many were silenced."""

    cluster: tuple[Finding, ...]
    by_vmi: dict[tuple[str, str], tuple[Finding, ...]]
    silenced: int


def _finding(check: Check, hit: Hit, view: VmiView | None) -> Finding:
    return Finding(
        id=check.id,
        name=check.name,
        severity=hit.severity if hit.severity is not None else check.severity,
        subject=hit.subject,
        message=hit.message,
        fix=hit.fix,
        link=hit.link.value if hit.link is not None else "cluster",
        vmi=Ref("VirtualMachineInstance", view.namespace, view.name) if view else None,
        gpu=hit.gpu,
        fix_patch=hit.fix_patch,
    )


def _annotated_ignores(view: VmiView) -> set[str]:
    return {k.strip().lower() for text in view.annotated(IGNORE_ANNOTATION) for k in text.split(",") if k.strip()}


def _ignored(check: Check, keys: set[str] | frozenset[str]) -> bool:
    return check.id.lower() in keys or check.name in keys


def _vmi_findings(ctx: Context, view: VmiView, keys: set[str]) -> tuple[list[Finding], int]:
    found, silenced = [], 0
    for check in VMI_CHECKS:
        for hit in check.run(ctx, view):
            if _ignored(check, keys):
                silenced += 1
            else:
                found.append(_finding(check, hit, view))
    gpu_order = [c.gpu.name for c in view.chains]
    found.sort(key=lambda f: (gpu_order.index(f.gpu) if f.gpu in gpu_order else -1, link_order(f.link)))
    return found, silenced


def run(ctx: Context, views: list[VmiView], ignore: frozenset[str] = frozenset()) -> Report:
    """Run every registered check and assign each finding its role; `ignore` holds ids (lower case) and names."""
    silenced = 0
    cluster_findings: list[Finding] = []
    for check in CLUSTER_CHECKS:
        for hit in check.run(ctx):
            if _ignored(check, ignore):
                silenced += 1
            else:
                cluster_findings.append(_finding(check, hit, None))
    by_vmi: dict[tuple[str, str], tuple[Finding, ...]] = {}
    for view in views:
        found, quiet = _vmi_findings(ctx, view, set(ignore) | _annotated_ignores(view))
        silenced += quiet
        # roles: the cluster's findings may explain the VMI's (checks/causes.py)
        by_vmi[(view.namespace, view.name)] = tuple(causes.assign(cluster_findings + found)[len(cluster_findings) :])
    return Report(cluster=tuple(cluster_findings), by_vmi=by_vmi, silenced=silenced)


__all__ = ["CHECKS", "Check", "ClusterCheck", "Context", "Report", "VmiCheck", "lookup", "run"]
