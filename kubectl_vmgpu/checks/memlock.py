"""libvirt's memlock refusal for VFIO devices: `cannot limit locked memory of process ...: Operation not permitted`."""

from __future__ import annotations

from collections.abc import Iterator

from ..chain import LinkName, VmiView
from ..model import Ref
from ..views import Event
from .base import Context, E, Hit, VmiCheck
from .vfio import api_device_seen, is_vfio

MEMLOCK_TEXT = "cannot limit locked memory"

# Each upstream cause (views/kubevirt.py KubeVirt.memlock_causes verified the releases with `git tag --contains`):
# what it is, and what fixes it.
CAUSES = {
    "multi-device": (
        "{n} VFIO devices: KubeVirt {kv} sets the memlock limit for one device only (libvirt locks guest memory "
        "per device; kubevirt PR 17805, fixed in v1.9.0 and by its cherry-pick PR 17863 in v1.8.3)",
        "upgrade KubeVirt to v1.8.3 or newer",
    ),
    "non-root": (
        "the launcher runs as non-root (VMI status.runtimeUser {user}): libvirt's own prlimit on QEMU needs "
        "CAP_SYS_RESOURCE, which non-root launchers lack (kubevirt issue 17694; no release up to v1.9.0 fixes it)",
        "run the VM's launcher as root: add the `Root` feature gate to the KubeVirt CR, then restart the VM",
    ),
    "dra-ipc-lock": (
        "DRA launchers get no IPC_LOCK (compute container adds {caps}) and virt-handler's memlock limit can fall "
        "short of libvirt's (kubevirt issue 17674; fixed by PR 17857 on main, in no release up to v1.9.0)",
        "use a KubeVirt release that carries kubevirt PR 17857 (unlimited memlock prlimit for VFIO VMIs)",
    ),
}


def _non_root(view: VmiView) -> tuple[bool, str]:
    """Whether the launcher runs as non-root, and the user it runs as (KubeVirt sets status.runtimeUser)."""
    user = view.vmi.runtime_user if view.vmi is not None else None
    if user is None:
        return False, "unknown"
    return user != 0, str(user)


def _events(ctx: Context, view: VmiView) -> list[Event]:
    assert view.vmi is not None
    return [e for e in ctx.idx.events(view.vmi.meta) if e.type == "Warning" and MEMLOCK_TEXT in e.message]


def _preconditions(ctx: Context, view: VmiView) -> bool:
    """The domain is defined with every VFIO GPU and its API device is there, yet the VMI is not running and no
    SyncFailed event names another cause: what libvirt's memlock refusal leaves behind once its events expire."""
    vfio = [c for c in view.chains if is_vfio(c)]
    if view.phase == "Running" or view.pod is None or not view.pod.running or view.vmi is None:
        return False
    if any(c.evidence.hostdev is None or not api_device_seen(c) for c in vfio):
        return False
    return not any(e.reason == "SyncFailed" for e in ctx.idx.events(view.vmi.meta))


def launcher_memlock_denied(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """libvirt cannot raise QEMU's memlock limit for the VMI's DRA VFIO devices: the event, or its preconditions."""
    vfio = [c for c in view.chains if is_vfio(c)]
    if view.vmi is None or not vfio:
        return
    pod = view.pod
    caps = pod.compute_caps if pod is not None else None
    non_root, user = _non_root(view)
    causes = list(view.kubevirt.memlock_causes(len(vfio), non_root))
    if caps is not None and "IPC_LOCK" in caps and "dra-ipc-lock" in causes:
        causes.remove("dra-ipc-lock")
    events = _events(ctx, view)
    if events:
        count = sum(e.count for e in events)
        seen = f"libvirt refuses to lock the guest memory for VFIO ({count}x: {events[-1].message})"
    elif causes and _preconditions(ctx, view):
        seen = (
            "the domain is defined with its VFIO devices but does not run, as when libvirt cannot limit QEMU's "
            "locked memory"
        )
    else:
        return
    fields = {"n": len(vfio), "kv": view.kubevirt.label, "user": user, "caps": ", ".join(caps or ()) or "nothing"}
    why = "; ".join(CAUSES[c][0].format(**fields) for c in causes) or "no known upstream cause fits this release"
    fix = "; or ".join(CAUSES[c][1] for c in causes) or "see the launcher's log for libvirt's memlock limit"
    yield Hit(
        Ref("VirtualMachineInstance", view.namespace, view.name),
        f"{seen}. Upstream cause: {why}",
        fix,
        LinkName.DOMAIN,
    )


CHECKS = (
    VmiCheck(
        id="VG508",
        name="launcher-memlock-denied",
        severity=E,
        stage="launcher",
        summary="libvirt cannot limit locked memory for the VFIO devices",
        explanation=(
            "libvirt fails with `cannot limit locked memory of process ...: Operation not permitted`. Upstream has "
            "three causes: several VFIO devices under-counted (kubevirt PR 17805/17863, fixed in v1.9.0/v1.8.3), "
            "non-root launchers without CAP_SYS_RESOURCE (issue 17694, unfixed), DRA launchers without IPC_LOCK "
            "(issue 17674, PR 17857 on main, in no release up to v1.9.0). Found from the event, or from its "
            "preconditions when the domain is defined but never runs."
        ),
        fix="Per cause: upgrade to the release with the fix, or run the launcher as root (the Root feature gate).",
        versions="KubeVirt v1.6-v1.9.0 (the multi-device cause: before v1.8.3)",
        run=launcher_memlock_denied,
    ),
)
