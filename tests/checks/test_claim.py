"""Pass/fail tests of the launcher pod and ResourceClaim checks (checks/claim.py), built from views."""

from __future__ import annotations

from dataclasses import replace

from kubectl_vmgpu.allocation import Explanation, NodeReport
from kubectl_vmgpu.chain import LinkName
from kubectl_vmgpu.checks import claim as c
from kubectl_vmgpu.model import Ref
from kubectl_vmgpu.views import Consumer, Owner

from . import factory as f


def test_healthy_view_passes_every_claim_check() -> None:
    ctx, view = f.ctx(), f.view()
    for check in c.CHECKS:
        assert f.hits(check.run, ctx, view) == [], check.name


def test_launcher_pod_missing() -> None:
    vmi_meta = f.vmi().meta
    ctx = f.ctx(extra=[f.event(vmi_meta, "FailedCreate", "exceeded quota", count=3)])
    (hit,) = f.hits(c.launcher_pod_missing, ctx, f.view(pod=None))
    assert hit.message == "VMI vm1 is Running and has no virt-launcher pod; FailedCreate (x3): exceeded quota"
    assert hit.subject == Ref("Pod", f.NS, "virt-launcher-vm1-*") and hit.link is LinkName.POD
    # Without pods in the snapshot the absence says nothing.
    assert f.hits(c.launcher_pod_missing, f.ctx([], listed=()), f.view(pod=None)) == []


def test_launcher_pod_pending_unscheduled() -> None:
    pod = f.pod(phase="Pending", node=None)
    ctx = f.ctx(extra=[f.event(pod.meta, "FailedScheduling", "0/3 nodes are available")])
    (hit,) = f.hits(c.launcher_pod_missing, ctx, f.view(pod=pod))
    assert hit.message == (f"launcher pod {f.POD} is Pending, not scheduled; FailedScheduling: 0/3 nodes are available")
    # A pending claim explains it instead (claim-pending).
    pending = f.chain(claim=f.claim(allocated=False, results=(), reserved_for=()), results=())
    assert f.hits(c.launcher_pod_missing, ctx, f.view([pending], pod=pod)) == []


def test_pod_claim_not_wired() -> None:
    view = f.view(pod=f.pod(compute_claims=(("other", None),)))
    (hit,) = f.hits(c.pod_claim_not_wired, f.ctx(), view)
    assert "does not list claim 'gpu-claim' request 'gpu' in resources.claims" in hit.message
    assert hit.message.endswith("the DRA feature gate was off when virt-controller rendered the pod")
    assert hit.gpu == f.GPU and hit.subject == Ref("Pod", f.NS, f.POD)
    # A claim listed without a request gives the container every request of it.
    wired = f.view(pod=f.pod(compute_claims=((f.CLAIM_ENTRY, None),)))
    assert f.hits(c.pod_claim_not_wired, f.ctx(), wired) == []


def test_pod_claim_not_wired_first_request_only() -> None:
    second = f.chain(gpu=f.gpu(name="gpu2", request_name="gpu2"))
    view = f.view([f.chain(), second], kubevirt=f.kubevirt((1, 8, 1)))
    (hit,) = f.hits(c.pod_claim_not_wired, f.ctx(), view)
    assert "KubeVirt v1.8.1 keeps only the first request of a claim on the pod" in hit.message
    assert hit.fix == "upgrade KubeVirt to v1.8.3 or newer, then restart the VM" and hit.gpu == "gpu2"


def test_claim_not_generated() -> None:
    view = f.view([f.chain(claim=None, claim_generated=False, results=(), device=None)])
    (hit,) = f.hits(c.claim_not_generated, f.ctx(), view)
    assert hit.message == (
        f"pod {f.POD} has no ResourceClaim generated from template 'gpu-tpl' for 'gpu-claim' "
        "(no entry in status.resourceClaimStatuses)"
    )
    assert hit.link is LinkName.CLAIM
    assert f.hits(c.claim_not_generated, f.ctx([], listed=()), view) == []


def _pending_chain(**kw: object) -> f.Chain:
    return f.chain(
        claim=f.claim(allocated=False, results=(), node=None, reserved_for=()), results=(), device=None, **kw
    )


def test_claim_pending() -> None:
    pending = _pending_chain()
    (hit,) = f.hits(c.claim_pending, f.ctx(), f.view([pending]))
    assert hit.message == f"claim {f.CLAIM} for GPU 'gpu1' is not allocated"
    assert hit.subject == Ref("ResourceClaim", f.NS, f.CLAIM)


def test_claim_pending_once_per_claim_with_event_and_explanation() -> None:
    first = _pending_chain()
    second = replace(first, gpu=f.gpu(name="gpu2"))
    node = NodeReport("node1", True, "", (), "node1: 0 of 1 devices free")
    why = Explanation("gpu", f.CLASS, f.DRIVER, (node,), (), "no free device")
    ctx = f.ctx(
        extra=[f.event(f.pod().meta, "FailedScheduling", "cannot allocate all claims", count=2)],
        explanations={(f.NS, f.VMI, f.GPU): why},
    )
    (hit,) = f.hits(c.claim_pending, ctx, f.view([first, second]))
    assert hit.message == (
        f"claim {f.CLAIM} for GPU 'gpu1', GPU 'gpu2' is not allocated; FailedScheduling (x2): cannot allocate all "
        "claims; request gpu: no free device (node1: 0 of 1 devices free)"
    )


def test_claim_wrong_node() -> None:
    view = f.view([f.chain(claim=f.claim(node="node2"))])
    (hit,) = f.hits(c.claim_wrong_node, f.ctx(), view)
    assert hit.message == f"claim {f.CLAIM} is allocated on node node2 but launcher pod {f.POD} runs on node1"
    assert hit.link is LinkName.ALLOCATION
    assert f.hits(c.claim_wrong_node, f.ctx(), f.view(pod=f.pod(node=None))) == []


def test_claim_not_reserved() -> None:
    other = f.view([f.chain(claim=f.claim(reserved_for=(Consumer("pods", "other", "other-uid"),)))])
    (hit,) = f.hits(c.claim_not_reserved, f.ctx(), other)
    assert hit.message.startswith(f"claim {f.CLAIM} is reserved for pods/other, not for launcher pod {f.POD}")
    nobody = f.view([f.chain(claim=f.claim(reserved_for=()))])
    assert "is reserved for nobody" in f.hits(c.claim_not_reserved, f.ctx(), nobody)[0].message
    assert f.hits(c.claim_not_reserved, f.ctx(), replace(nobody, pod=f.pod(phase="Succeeded"))) == []


def test_claim_deleting() -> None:
    gone = f.claim(meta=replace(f.claim().meta, deleted="2025-01-02T00:00:00Z", finalizers=("x.io/keep",)))
    (hit,) = f.hits(c.claim_deleting, f.ctx(), f.view([f.chain(claim=gone)]))
    assert hit.message == f"claim {f.CLAIM} is being deleted (since 2025-01-02T00:00:00Z; finalizers x.io/keep)"


def test_prepare_failed() -> None:
    pod = f.pod(phase="Pending")
    ctx = f.ctx(extra=[f.event(pod.meta, "FailedPrepareDynamicResources", "timeout acquiring lock")])
    (hit,) = f.hits(c.prepare_failed, ctx, f.view(pod=pod))
    assert hit.message == (
        "kubelet on node1 could not prepare the pod's claims; FailedPrepareDynamicResources: timeout acquiring lock"
    )
    assert f.hits(c.prepare_failed, f.ctx(), f.view(pod=pod)) == []


def test_claim_not_owned_by_current_pod() -> None:
    stale = f.claim(meta=replace(f.claim().meta, owners=(Owner("Pod", "virt-launcher-vm1-old", "old-uid", True),)))
    (hit,) = f.hits(c.claim_not_owned, f.ctx(), f.view([f.chain(claim=stale)]))
    assert hit.message == (
        f"generated claim {f.CLAIM} is controlled by pod uid old-uid, not by launcher pod {f.POD}: "
        "a stale claim from a force-deleted pod"
    )
    unowned = f.claim(meta=replace(f.claim().meta, owners=()))
    assert "controlled by no pod" in f.hits(c.claim_not_owned, f.ctx(), f.view([f.chain(claim=unowned)]))[0].message


def test_claim_not_owned_orphan_of_earlier_launcher() -> None:
    gone = Owner("Pod", "virt-launcher-vm1-zzzzz", "gone-uid", True)
    orphan = f.claim(meta=f.meta("ResourceClaim", "old-claim", uid="old", owners=(gone,)))
    (hit,) = f.hits(c.claim_not_owned, f.ctx(extra=[orphan]), f.view())
    assert hit.message == (
        "claim old-claim was generated for launcher pod virt-launcher-vm1-zzzzz, which no longer exists "
        "(force-deleted?); it still holds node1/gpu-0"
    )
    assert hit.fix == f"delete the stale claim: kubectl delete resourceclaim -n {f.NS} old-claim" and hit.gpu is None
    # Another VM's orphan is not this VM's business.
    other = replace(orphan, meta=replace(orphan.meta, owners=(replace(gone, name="virt-launcher-vm2-aaaaa"),)))
    assert f.hits(c.claim_not_owned, f.ctx(extra=[other]), f.view()) == []
