"""What could not be checked inside the launcher, and why: exec refused, pod not running, --no-exec, snapshots."""

from __future__ import annotations

from collections.abc import Iterator

from ..chain import Evidence, LinkName, VmiView
from ..model import Ref
from ..views import LauncherPod
from .base import Context, Hit, I, VmiCheck

# virt-launcher and libvirt texts that tie a SyncFailed event to DRA devices (chain.md 6, 7; breaks.md).

NO_DOMAIN = "failed to get domain"
NO_SNAPSHOT_EVIDENCE = "no launcher evidence in the snapshot"


def evidence_unavailable(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """What could not be read inside a live VMI's launcher (pod not running, --no-exec, exec refused, ...)."""
    pod = view.pod
    if view.vmi is None or view.phase in ("Succeeded", "Failed") or not view.chains or pod is None:
        return
    gaps = _gaps(ctx, view, pod)
    if gaps:
        by_reason: dict[str, list[str]] = {}
        for piece, reason in gaps.items():
            by_reason.setdefault(reason, []).append(piece)
        what = "; ".join(f"{_and(pieces)}: {reason}" for reason, pieces in by_reason.items())
        fixes = dict.fromkeys(_gap_fix(view, pod, reason) for reason in by_reason)
        yield Hit(
            Ref("Pod", view.namespace, pod.meta.name),
            f"not checked inside the launcher ({what})",
            "; ".join(fixes),
            LinkName.METADATA,
        )


def _gap_fix(view: VmiView, pod: LauncherPod, reason: str) -> str:
    """What gets the evidence: a running pod, exec without --no-exec, exec permitted, or a bundle that has it."""
    if not pod.running:
        return (
            f"the pod is not running: see why it is {pod.phase or 'not running'} "
            f"(`kubectl describe pod -n {view.namespace} {pod.meta.name}`)"
        )
    if reason == "--no-exec":
        return "run without --no-exec"
    if reason == NO_SNAPSHOT_EVIDENCE:
        return "collect a bundle where exec is allowed (`kubectl vmgpu collect`) and use it with --snapshot"
    if "forbidden" in reason.lower() or "403" in reason:
        return (
            f"grant create on pods/exec in namespace {view.namespace} (docs/rbac.yaml), or run `kubectl vmgpu "
            "collect` where it is allowed and use --snapshot"
        )
    return "see the reason above; `kubectl vmgpu collect` where exec works gives the evidence for --snapshot"


def _gaps(ctx: Context, view: VmiView, pod: LauncherPod) -> dict[str, str]:
    """Each piece of launcher evidence that is missing, and why."""
    if not pod.running:
        return {"launcher evidence": f"pod {pod.meta.name} is {pod.phase or 'not running'}"}
    pe = view.pod_evidence
    if pe is None:
        reason = "--no-exec" if ctx.exec_disabled else NO_SNAPSHOT_EVIDENCE
        return {"metadata files, /dev/vfio and domain XML": reason}
    # Why a piece was not collected: chain.link copies the pod's `unavailable` reasons into every linked chain.
    why = _linked(view)
    gaps = {}
    if view.kubevirt.reads_metadata_from() == "metadata" and pe.metadata_files is None:
        gaps["metadata files"] = why.metadata_error or "not collected"
    if pe.vfio_listing is None:
        gaps["/dev/vfio"] = why.vfio_error or "not collected"
    if pe.domain_xml is None:
        reason = why.domain_error or "not collected"
        if view.phase == "Running" or NO_DOMAIN not in reason:  # before Running there may be no domain yet
            gaps["domain XML"] = reason
    elif view.chains[0].evidence.domain_error:
        gaps["domain XML"] = view.chains[0].evidence.domain_error or ""
    for chain in view.chains:
        if chain.evidence.metadata_error and not chain.evidence.metadata_files:
            gaps["metadata files"] = chain.evidence.metadata_error
    return gaps


def _linked(view: VmiView) -> Evidence:
    """The evidence of the first chain that reached its claim source (a chain without one reads no evidence)."""
    return next((c.evidence for c in view.chains if c.source is not None), Evidence())


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


CHECKS = (
    VmiCheck(
        id="VG507",
        name="evidence-unavailable",
        severity=I,
        stage="launcher",
        summary="launcher evidence could not be read",
        explanation="exec not permitted, pod not running, tool missing, --no-exec, or not in the snapshot.",
        fix="Grant pods/exec or collect a snapshot.",
        run=evidence_unavailable,
    ),
)
