"""Launcher pod and ResourceClaim checks: scheduling, wiring, allocation, reservation."""

from __future__ import annotations

from collections.abc import Iterator

from ..chain import Chain, VmiView
from ..index import controller_uid, dig, items, meta
from ..model import Obj, Ref
from .base import Context, Hit, gpu_label, ref

_DONE = ("Succeeded", "Failed")


def _pod_ref(view: VmiView) -> Ref:
    return ref(view.pod, "Pod")


def last_event(ctx: Context, obj: Obj | None, reason: str) -> Obj | None:
    if obj is None:
        return None
    found = [e for e in ctx.idx.events(obj) if e.get("reason") == reason]
    return found[-1] if found else None


def _quote(event: Obj | None) -> str:
    if not event:
        return ""
    count = event.get("count")
    times = f" (x{count})" if isinstance(count, int) and count > 1 else ""
    return f"; {event.get('reason')}{times}: {event.get('message')}"


def _any_pending(view: VmiView) -> bool:
    return any(c.claim is not None and c.claim_state == "pending" for c in view.chains)


def launcher_pod_missing(ctx: Context, view: VmiView) -> Iterator[Hit]:
    if view.vmi is None or view.phase in _DONE:
        return
    if view.pod is None:
        if not ctx.idx.inv.knows("Pod", "pods"):
            return
        event = last_event(ctx, view.vmi, "FailedCreate")
        yield Hit(
            Ref("Pod", view.namespace, f"virt-launcher-{view.name}-*"),
            f"VMI {view.name} is {view.phase or 'without a phase'} and has no virt-launcher pod{_quote(event)}",
            "see the VMI events (`kubectl describe vmi -n "
            f"{view.namespace} {view.name}`); virt-controller creates the pod once the cause is fixed",
            "pod",
        )
        return
    if (
        dig(view.pod, "status", "phase") == "Pending"
        and not dig(view.pod, "spec", "nodeName")
        and not _any_pending(view)
    ):
        event = last_event(ctx, view.pod, "FailedScheduling")
        yield Hit(
            _pod_ref(view),
            f"launcher pod {meta(view.pod, 'name')} is Pending, not scheduled{_quote(event)}",
            "act on the scheduler's message; for `cannot allocate all claims` free or add matching devices",
            "pod",
        )


def _wired(pod: Obj, chain: Chain) -> bool:
    for container in items(pod, "spec", "containers"):
        if container.get("name") == "compute":
            return any(
                c.get("name") == chain.gpu.claim_name and c.get("request") in (chain.gpu.request_name, None)
                for c in items(container, "resources", "claims")
            )
    return False


def pod_claim_not_wired(ctx: Context, view: VmiView) -> Iterator[Hit]:
    if view.pod is None:
        return
    version = ctx.idx.kubevirt_version
    for chain in view.chains:
        if chain.source is None or _wired(view.pod, chain):
            continue
        if version and (1, 8, 0) <= version < (1, 8, 3) and len(view.chains) > 1:
            why = (
                f"KubeVirt v{'.'.join(map(str, version))} keeps only the first request of a claim on the pod "
                "(kubevirt/kubevirt#17672)"
            )
            fix = "upgrade KubeVirt to v1.8.3 or newer, then restart the VM"
        else:
            why = "the DRA feature gate was off when virt-controller rendered the pod"
            fix = "enable the gate (GPUsWithDRA / HostDevicesWithDRA) in the KubeVirt CR, then restart the VM"
        yield Hit(
            _pod_ref(view),
            f"the compute container of {meta(view.pod, 'name')} does not list claim {chain.gpu.claim_name!r} "
            f"request {chain.gpu.request_name!r} in resources.claims, so it gets neither the device nor its "
            f"metadata: {why}",
            fix,
            "pod",
            gpu=chain.gpu.name,
        )


def claim_not_generated(ctx: Context, view: VmiView) -> Iterator[Hit]:
    if view.pod is None or not ctx.idx.inv.knows("ResourceClaim", "resourceclaims.resource.k8s.io"):
        return
    for chain in view.chains:
        if chain.template is None or chain.claim is not None:
            continue
        event = last_event(ctx, view.pod, "FailedScheduling")
        yield Hit(
            _pod_ref(view),
            f"pod {meta(view.pod, 'name')} has no ResourceClaim generated from template "
            f"{meta(chain.template, 'name')!r} for {chain.gpu.claim_name!r} (no entry in "
            f"status.resourceClaimStatuses){_quote(event)}",
            "check kube-controller-manager (its resource-claim controller creates the claim) and the pod events "
            "(`ResourceClaim not created yet`)",
            "claim",
            gpu=chain.gpu.name,
        )


def claim_pending(ctx: Context, view: VmiView) -> Iterator[Hit]:
    seen: set[str] = set()
    for chain in view.chains:
        if chain.claim is None or chain.claim_state != "pending" or meta(chain.claim, "uid") in seen:
            continue
        seen.add(meta(chain.claim, "uid"))
        gpus = [gpu_label(c) for c in view.chains if c.claim is chain.claim]
        event = last_event(ctx, view.pod, "FailedScheduling")
        summaries: dict[str, None] = {}  # ordered, without repeats: requests often share nodes
        nodes: dict[str, None] = {}
        for c in view.chains:
            found = ctx.explanations.get((view.namespace, view.name, c.gpu.name)) if c.claim is chain.claim else None
            if found is not None:
                summaries[f"request {found.request}: {found.summary}"] = None
                nodes.update((n.summary, None) for n in found.nodes)
        shown = list(nodes)[:10]
        more = f"; and {len(nodes) - len(shown)} more nodes" if len(nodes) > len(shown) else ""
        why = f"; {'; '.join(summaries)} ({'; '.join(shown)}{more})" if summaries else ""
        yield Hit(
            ref(chain.claim, "ResourceClaim"),
            f"claim {meta(chain.claim, 'name')} for {', '.join(gpus)} is not allocated{_quote(event)}{why}",
            "free a matching device (another VM or pod may hold it), add devices the request's class selects, "
            "or fix the request's deviceClassName/selectors (see `kubectl get resourceslices -o yaml`)",
            "claim",
            gpu=chain.gpu.name,
        )


def claim_wrong_node(ctx: Context, view: VmiView) -> Iterator[Hit]:
    node = dig(view.pod, "spec", "nodeName") if view.pod else None
    for chain in view.chains:
        if node and chain.alloc_node and chain.alloc_node != node:
            yield Hit(
                ref(chain.claim, "ResourceClaim"),
                f"claim {meta(chain.claim, 'name')} is allocated on node {chain.alloc_node} but launcher pod "
                f"{meta(view.pod, 'name')} runs on {node}",
                f"delete the launcher pod (`kubectl delete pod -n {view.namespace} {meta(view.pod, 'name')}`) "
                "or restart the VM so it reschedules with the claim",
                "allocation",
                gpu=chain.gpu.name,
            )


def claim_not_reserved(ctx: Context, view: VmiView) -> Iterator[Hit]:
    if view.pod is None or not dig(view.pod, "spec", "nodeName") or dig(view.pod, "status", "phase") in _DONE:
        return
    uid = meta(view.pod, "uid")
    for chain in view.chains:
        if chain.claim is None or chain.claim_state == "pending":
            continue
        reserved = items(chain.claim, "status", "reservedFor")
        if any(r.get("uid") == uid for r in reserved):
            continue
        holders = ", ".join(f"{r.get('resource')}/{r.get('name')}" for r in reserved) or "nobody"
        yield Hit(
            ref(chain.claim, "ResourceClaim"),
            f"claim {meta(chain.claim, 'name')} is reserved for {holders}, not for launcher pod "
            f"{meta(view.pod, 'name')}: kubelet refuses it (`pod ... is not allowed to use ResourceClaim`)",
            "restart the VM; if another pod holds the claim, stop that consumer first",
            "claim",
            gpu=chain.gpu.name,
        )


def claim_deleting(ctx: Context, view: VmiView) -> Iterator[Hit]:
    for chain in view.chains:
        stamp = dig(chain.claim, "metadata", "deletionTimestamp") if chain.claim else None
        if stamp:
            yield Hit(
                ref(chain.claim, "ResourceClaim"),
                f"claim {meta(chain.claim, 'name')} is being deleted (since {stamp}; finalizers "
                f"{', '.join(dig(chain.claim, 'metadata', 'finalizers', default=[]) or []) or 'none'})",
                "let the deletion finish, then restart the VM so a new claim is made",
                "claim",
                gpu=chain.gpu.name,
            )


def prepare_failed(ctx: Context, view: VmiView) -> Iterator[Hit]:
    if view.pod is None or dig(view.pod, "status", "phase") != "Pending":
        return
    event = last_event(ctx, view.pod, "FailedPrepareDynamicResources")
    if event:
        yield Hit(
            _pod_ref(view),
            f"kubelet on {dig(view.pod, 'spec', 'nodeName')} could not prepare the pod's claims{_quote(event)}",
            "read the driver's kubelet-plugin log on that node; `timeout acquiring lock` or DeadlineExceeded "
            "usually means a host process still holds the GPU, a strict decoding error means a bad config",
            "pod",
        )


def claim_not_owned(ctx: Context, view: VmiView) -> Iterator[Hit]:
    yield from _orphaned_claims(ctx, view)
    if view.pod is None:
        return
    for chain in view.chains:
        if chain.template is None or chain.claim is None:
            continue
        owner = controller_uid(chain.claim, "Pod")
        if owner != meta(view.pod, "uid"):
            yield Hit(
                ref(chain.claim, "ResourceClaim"),
                f"generated claim {meta(chain.claim, 'name')} is controlled by "
                f"{'pod uid ' + owner if owner else 'no pod'}, not by launcher pod {meta(view.pod, 'name')}: "
                "a stale claim from a force-deleted pod",
                f"delete the stale claim (`kubectl delete resourceclaim -n {view.namespace} "
                f"{meta(chain.claim, 'name')}`) and restart the VM",
                "claim",
                gpu=chain.gpu.name,
            )


def _orphaned_claims(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """Claims generated for an earlier launcher of this VMI whose pod is gone (force-deleted)."""
    if view.vmi is None or not ctx.idx.inv.knows("Pod", "pods"):
        return
    prefix = f"virt-launcher-{view.name}-"
    ns = view.namespace
    for name, claim, owner in ctx.idx.orphan_claims.get(ns, ()):
        if not str(owner.get("name", "")).startswith(prefix):
            continue
        held = ", ".join(
            f"{r.get('pool')}/{r.get('device')}" for r in items(claim, "status", "allocation", "devices", "results")
        )
        yield Hit(
            ref(claim, "ResourceClaim"),
            f"claim {name} was generated for launcher pod {owner.get('name')}, which no longer exists (force-deleted?)"
            + (f"; it still holds {held}" if held else ""),
            f"delete the stale claim: kubectl delete resourceclaim -n {ns} {name}",
            "claim",
        )
