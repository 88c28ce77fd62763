"""Launcher pod and ResourceClaim checks: scheduling, wiring, allocation, reservation."""

from __future__ import annotations

from collections.abc import Iterator

from ..chain import Chain, LinkName, VmiView
from ..model import Ref
from ..views import Claim, ClaimState, Event, Meta
from .base import Context, E, Hit, VmiCheck, W, gpu_label, pod_ref

_DONE = ("Succeeded", "Failed")


def last_event(ctx: Context, obj: Meta | None, reason: str) -> Event | None:
    """The newest event with `reason` about an object."""
    if obj is None:
        return None
    found = [e for e in ctx.idx.events(obj) if e.reason == reason]
    return found[-1] if found else None


def _quote(event: Event | None) -> str:
    if event is None:
        return ""
    times = f" (x{event.count})" if event.count > 1 else ""
    return f"; {event.reason}{times}: {event.message}"


def _any_pending(view: VmiView) -> bool:
    return any(c.claim is not None and c.claim_state is ClaimState.PENDING for c in view.chains)


def launcher_pod_missing(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """A running VMI without a virt-launcher pod, or with one the scheduler has not placed."""
    if view.vmi is None or view.phase in _DONE:
        return
    if view.pod is None:
        if not ctx.idx.inv.knows("Pod", "pods"):
            return
        event = last_event(ctx, view.vmi.meta, "FailedCreate")
        yield Hit(
            Ref("Pod", view.namespace, f"virt-launcher-{view.name}-*"),
            f"VMI {view.name} is {view.phase or 'without a phase'} and has no virt-launcher pod{_quote(event)}",
            "see the VMI events (`kubectl describe vmi -n "
            f"{view.namespace} {view.name}`); virt-controller creates the pod once the cause is fixed",
            LinkName.POD,
        )
        return
    if view.pod.phase == "Pending" and not view.pod.node and not _any_pending(view):
        event = last_event(ctx, view.pod.meta, "FailedScheduling")
        yield Hit(
            pod_ref(view),
            f"launcher pod {view.pod.meta.name} is Pending, not scheduled{_quote(event)}",
            "act on the scheduler's message; for `cannot allocate all claims` free or add matching devices",
            LinkName.POD,
        )


def _wired(claims: tuple[tuple[str, str | None], ...], chain: Chain) -> bool:
    return any(name == chain.gpu.claim_name and req in (chain.gpu.request_name, None) for name, req in claims)


def pod_claim_not_wired(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """A DRA device whose claim and request are missing from the compute container's resources.claims."""
    if view.pod is None:
        return
    kv = view.kubevirt
    for chain in view.chains:
        if chain.source is None or _wired(view.pod.compute_claims, chain):
            continue
        if kv.keeps_first_request_only() and len(view.chains) > 1:
            why = f"KubeVirt {kv.label} keeps only the first request of a claim on the pod (kubevirt/kubevirt#17672)"
            fix = "upgrade KubeVirt to v1.8.3 or newer, then restart the VM"
        else:
            why = "the DRA feature gate was off when virt-controller rendered the pod"
            fix = "enable the gate (GPUsWithDRA / HostDevicesWithDRA) in the KubeVirt CR, then restart the VM"
        yield Hit(
            pod_ref(view),
            f"the compute container of {view.pod.meta.name} does not list claim {chain.gpu.claim_name!r} "
            f"request {chain.gpu.request_name!r} in resources.claims, so it gets neither the device nor its "
            f"metadata: {why}",
            fix,
            LinkName.POD,
            gpu=chain.gpu.name,
        )


def claim_not_generated(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """A template-backed device whose launcher pod has no generated ResourceClaim yet."""
    if view.pod is None or not ctx.idx.inv.knows("ResourceClaim", "resourceclaims.resource.k8s.io"):
        return
    for chain in view.chains:
        if chain.template is None or chain.claim is not None:
            continue
        event = last_event(ctx, view.pod.meta, "FailedScheduling")
        yield Hit(
            pod_ref(view),
            f"pod {view.pod.meta.name} has no ResourceClaim generated from template "
            f"{chain.template.meta.name!r} for {chain.gpu.claim_name!r} (no entry in "
            f"status.resourceClaimStatuses){_quote(event)}",
            "check kube-controller-manager (its resource-claim controller creates the claim) and the pod events "
            "(`ResourceClaim not created yet`)",
            LinkName.CLAIM,
            gpu=chain.gpu.name,
        )


def _why_pending(ctx: Context, view: VmiView, claim: Claim) -> str:
    """The allocation explanations of the requests of `claim`, with the nodes they looked at."""
    summaries: dict[str, None] = {}  # ordered, without repeats: requests often share nodes
    nodes: dict[str, None] = {}
    for c in view.chains:
        key = (view.namespace, view.name, c.gpu.name)
        if c.claim is claim and key in ctx.explanations:
            found = ctx.explanations[key]
            summaries[f"request {found.request}: {found.summary}"] = None
            nodes.update((n.summary, None) for n in found.nodes)
    shown = list(nodes)[:10]
    more = f"; and {len(nodes) - len(shown)} more nodes" if len(nodes) > len(shown) else ""
    return f"; {'; '.join(summaries)} ({'; '.join(shown)}{more})" if summaries else ""


def claim_pending(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """A claim that is not allocated, with the scheduler's event and the allocation explanation."""
    seen: set[str] = set()
    for chain in view.chains:
        claim = chain.claim
        if claim is None or chain.claim_state is not ClaimState.PENDING or claim.meta.uid in seen:
            continue
        seen.add(claim.meta.uid)
        gpus = [gpu_label(c) for c in view.chains if c.claim is claim]
        event = last_event(ctx, view.pod.meta if view.pod else None, "FailedScheduling")
        yield Hit(
            claim.meta.ref,
            f"claim {claim.meta.name} for {', '.join(gpus)} is not allocated{_quote(event)}"
            f"{_why_pending(ctx, view, claim)}",
            "free a matching device (another VM or pod may hold it), add devices the request's class selects, "
            "or fix the request's deviceClassName/selectors (see `kubectl get resourceslices -o yaml`)",
            LinkName.CLAIM,
            gpu=chain.gpu.name,
        )


def claim_wrong_node(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """A claim allocated on another node than the one the launcher pod runs on."""
    pod = view.pod
    node = pod.node if pod else None
    for chain in view.chains:
        if pod and node and chain.claim and chain.alloc_node and chain.alloc_node != node:
            yield Hit(
                chain.claim.meta.ref,
                f"claim {chain.claim.meta.name} is allocated on node {chain.alloc_node} but launcher pod "
                f"{pod.meta.name} runs on {node}",
                f"delete the launcher pod (`kubectl delete pod -n {view.namespace} {pod.meta.name}`) "
                "or restart the VM so it reschedules with the claim",
                LinkName.ALLOCATION,
                gpu=chain.gpu.name,
            )


def claim_not_reserved(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """An allocated claim whose reservedFor does not name the scheduled launcher pod."""
    pod = view.pod
    if pod is None or not pod.node or pod.phase in _DONE:
        return
    for chain in view.chains:
        claim = chain.claim
        if claim is None or chain.claim_state is ClaimState.PENDING:
            continue
        if any(r.uid == pod.meta.uid for r in claim.reserved_for):
            continue
        holders = ", ".join(f"{r.resource}/{r.name}" for r in claim.reserved_for) or "nobody"
        yield Hit(
            claim.meta.ref,
            f"claim {claim.meta.name} is reserved for {holders}, not for launcher pod "
            f"{pod.meta.name}: kubelet refuses it (`pod ... is not allowed to use ResourceClaim`)",
            "restart the VM; if another pod holds the claim, stop that consumer first",
            LinkName.CLAIM,
            gpu=chain.gpu.name,
        )


def claim_deleting(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """A claim with a deletionTimestamp."""
    for chain in view.chains:
        claim = chain.claim
        if claim is not None and claim.meta.deleted:
            yield Hit(
                claim.meta.ref,
                f"claim {claim.meta.name} is being deleted (since {claim.meta.deleted}; finalizers "
                f"{', '.join(claim.meta.finalizers) or 'none'})",
                "let the deletion finish, then restart the VM so a new claim is made",
                LinkName.CLAIM,
                gpu=chain.gpu.name,
            )


def prepare_failed(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """A Pending launcher pod whose claims kubelet could not prepare (FailedPrepareDynamicResources)."""
    if view.pod is None or view.pod.phase != "Pending":
        return
    event = last_event(ctx, view.pod.meta, "FailedPrepareDynamicResources")
    if event:
        yield Hit(
            pod_ref(view),
            f"kubelet on {view.pod.node} could not prepare the pod's claims{_quote(event)}",
            "read the driver's kubelet-plugin log on that node; `timeout acquiring lock` or DeadlineExceeded "
            "usually means a host process still holds the GPU, a strict decoding error means a bad config",
            LinkName.POD,
        )


def claim_not_owned(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """A generated claim not controlled by the current launcher pod, or one left by a vanished launcher."""
    yield from _orphaned_claims(ctx, view)
    if view.pod is None:
        return
    for chain in view.chains:
        if chain.template is None or chain.claim is None:
            continue
        owner = chain.claim.meta.controller("Pod")
        uid = owner.uid if owner else None
        if uid != view.pod.meta.uid:
            yield Hit(
                chain.claim.meta.ref,
                f"generated claim {chain.claim.meta.name} is controlled by "
                f"{'pod uid ' + uid if uid else 'no pod'}, not by launcher pod {view.pod.meta.name}: "
                "a stale claim from a force-deleted pod",
                f"delete the stale claim (`kubectl delete resourceclaim -n {view.namespace} "
                f"{chain.claim.meta.name}`) and restart the VM",
                LinkName.CLAIM,
                gpu=chain.gpu.name,
            )


def _orphaned_claims(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """Claims generated for an earlier launcher of this VMI whose pod is gone (force-deleted)."""
    if view.vmi is None or not ctx.idx.inv.knows("Pod", "pods"):
        return
    prefix = f"virt-launcher-{view.name}-"
    ns = view.namespace
    orphans = ctx.idx.orphans(ns)
    for claim, owner in orphans:
        if not owner.name.startswith(prefix):
            continue
        name = claim.meta.name
        held = ", ".join(f"{r.pool}/{r.device}" for r in claim.results)
        yield Hit(
            claim.meta.ref,
            f"claim {name} was generated for launcher pod {owner.name}, which no longer exists (force-deleted?)"
            + (f"; it still holds {held}" if held else ""),
            f"delete the stale claim: kubectl delete resourceclaim -n {ns} {name}",
            LinkName.CLAIM,
        )


CHECKS = (
    VmiCheck(
        id="VG301",
        name="launcher-pod-missing",
        severity=E,
        stage="claim",
        summary="the VMI has no running launcher pod",
        explanation="No virt-launcher pod, or a Pending one: the scheduler's event says why.",
        fix="See the event.",
        run=launcher_pod_missing,
    ),
    VmiCheck(
        id="VG302",
        name="pod-claim-not-wired",
        severity=E,
        stage="claim",
        summary="the compute container does not list the claim",
        explanation="Without resources.claims the container sees neither the device nor its metadata.",
        fix="Enable the gate / upgrade KubeVirt, restart the VM.",
        versions="all supported (KubeVirt v1.6-v1.9); KubeVirt v1.8.0-v1.8.2 drop all but the first request",
        run=pod_claim_not_wired,
    ),
    VmiCheck(
        id="VG303",
        name="claim-not-generated",
        severity=E,
        stage="claim",
        summary="no claim was generated from the template",
        explanation="The resource-claim controller has not created the pod's claim.",
        fix="Check kube-controller-manager.",
        run=claim_not_generated,
    ),
    VmiCheck(
        id="VG304",
        name="claim-pending",
        severity=E,
        stage="claim",
        summary="the claim is not allocated",
        explanation="No device satisfied the request; the pod's FailedScheduling event says why.",
        fix="Free or add matching devices.",
        run=claim_pending,
    ),
    VmiCheck(
        id="VG305",
        name="claim-wrong-node",
        severity=E,
        stage="claim",
        summary="the claim is allocated on another node than the pod",
        explanation="Node-local devices only work on the node they were allocated on.",
        fix="Delete the pod so it reschedules.",
        run=claim_wrong_node,
    ),
    VmiCheck(
        id="VG306",
        name="claim-not-reserved",
        severity=E,
        stage="claim",
        summary="the claim is not reserved for the launcher pod",
        explanation="kubelet refuses to run a pod with a claim not reserved for it.",
        fix="Restart the VM.",
        run=claim_not_reserved,
    ),
    VmiCheck(
        id="VG307",
        name="claim-deleting",
        severity=W,
        stage="claim",
        summary="the claim is being deleted",
        explanation="A claim with a deletionTimestamp goes away once its consumers stop.",
        fix="Let it finish; restart the VM.",
        run=claim_deleting,
    ),
    VmiCheck(
        id="VG308",
        name="prepare-failed",
        severity=E,
        stage="claim",
        summary="kubelet could not prepare the claim",
        explanation="FailedPrepareDynamicResources: the driver's NodePrepareResources failed.",
        fix="See the message; a host process may hold the GPU.",
        run=prepare_failed,
    ),
    VmiCheck(
        id="VG309",
        name="claim-not-owned",
        severity=W,
        stage="claim",
        summary="the generated claim is not controlled by the launcher pod",
        explanation="A stale claim left by a force-deleted pod.",
        fix="Delete the stale claim.",
        run=claim_not_owned,
    ),
)
