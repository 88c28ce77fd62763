"""Pass/fail tests of launcher-memlock-denied (checks/memlock.py): libvirt's memlock refusal and its causes.

Upstream (kubevirt/kubevirt, `git tag --contains`): PR 17805 first in v1.9.0, its cherry-pick PR 17863 first in
v1.8.3; PR 17857 (issue 17674) on main, in no tag up to v1.9.0; issue 17694's PR 17696 never merged.
"""

from __future__ import annotations

from kubectl_vmgpu.checks import memlock as m
from kubectl_vmgpu.model import PodEvidence

from . import factory as f

TEXT = (
    "server error. command SyncVMI failed: \"LibvirtError(Code=38, Domain=0, Message='cannot limit locked memory "
    "of process 77: Operation not permitted')\""
)
COLLECTED = PodEvidence(metadata_files={}, vfio_listing="", domain_xml="<domain/>")


def _vmi_event(message: str = TEXT) -> object:
    return f.event(f.meta("VirtualMachineInstance", f.VMI, uid=f.VMI_UID), "SyncFailed", message, count=41)


def _view(version: tuple[int, int, int], user: int | None = 107, gpus: int = 1, **kw: object) -> f.VmiView:
    chains = [f.vfio_chain(gpu=f.gpu(name=f"gpu{i}")) for i in range(gpus)]
    vmi = f.vmi(runtime_user=user, devices=f.devices(entries=tuple(c.gpu for c in chains)))
    return f.view(chains, **{"kubevirt": f.kubevirt(version), "vmi": vmi, "pod_evidence": COLLECTED, **kw})


def test_healthy_running_vmi_passes() -> None:
    assert f.hits(m.launcher_memlock_denied, f.ctx(), _view((1, 9, 0))) == []


def test_event_names_the_non_root_cause_on_v1_9() -> None:
    (hit,) = f.hits(m.launcher_memlock_denied, f.ctx(extra=[_vmi_event()]), _view((1, 9, 0), phase="Scheduled"))
    assert hit.message.startswith("libvirt refuses to lock the guest memory for VFIO (41x: server error.")
    assert "the launcher runs as non-root (VMI status.runtimeUser 107)" in hit.message
    assert "issue 17694" in hit.message and "issue 17674" in hit.message
    assert "PR 17805" not in hit.message  # one device: the multi-device cause does not fit
    assert hit.fix.startswith("run the VM's launcher as root: add the `Root` feature gate")


def test_event_names_the_multi_device_cause_before_v1_8_3() -> None:
    ctx = f.ctx(extra=[_vmi_event()])
    (hit,) = f.hits(m.launcher_memlock_denied, ctx, _view((1, 8, 2), user=0, gpus=2, phase="Scheduled"))
    assert "2 VFIO devices: KubeVirt v1.8.2 sets the memlock limit for one device only" in hit.message
    assert hit.fix.startswith("upgrade KubeVirt to v1.8.3 or newer")
    assert "non-root" not in hit.message
    (fixed,) = f.hits(m.launcher_memlock_denied, ctx, _view((1, 8, 3), user=0, gpus=2, phase="Scheduled"))
    assert "PR 17805" not in fixed.message and "issue 17674" in fixed.message


def test_preconditions_without_the_event() -> None:
    # The domain is defined with the GPU, the API device is there, yet the VMI does not run and no event is left.
    (hit,) = f.hits(m.launcher_memlock_denied, f.ctx(), _view((1, 9, 0), phase="Scheduled"))
    assert hit.message.startswith("the domain is defined with its VFIO devices but does not run")
    # Another SyncFailed names the cause: not ours.
    other = _vmi_event("failed to create DRA GPU host-devices: ...")
    assert f.hits(m.launcher_memlock_denied, f.ctx(extra=[other]), _view((1, 9, 0), phase="Scheduled")) == []
    # The compute container has IPC_LOCK and runs as root: no cause fits, no guess.
    root = _view((1, 9, 0), user=0, phase="Scheduled", pod=f.pod(compute_caps=("NET_BIND_SERVICE", "IPC_LOCK")))
    assert f.hits(m.launcher_memlock_denied, f.ctx(), root) == []


def test_not_a_vfio_vmi() -> None:
    container = f.chain(class_name="gpu.nvidia.com", device=None)
    view = f.view([container], vmi=f.vmi(runtime_user=107), phase="Scheduled")
    assert f.hits(m.launcher_memlock_denied, f.ctx(extra=[_vmi_event()]), view) == []
