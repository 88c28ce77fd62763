"""Pass/fail tests of the ResourceSlice device checks (checks/device.py), built from views."""

from __future__ import annotations

from kubectl_vmgpu.chain import LinkName
from kubectl_vmgpu.checks import device as d
from kubectl_vmgpu.model import Ref, Severity
from kubectl_vmgpu.views import Attribute, Taint, Toleration

from . import factory as f


def test_healthy_view_passes_every_device_check() -> None:
    ctx, view = f.ctx(), f.view()
    for check in d.CHECKS:
        assert f.hits(check.run, ctx, view) == [], check.name


def test_device_not_published_anywhere() -> None:
    ctx = f.ctx([f.claim(), f.pod(), f.resource_slice(pool="other")])
    (hit,) = f.hits(d.device_not_published, ctx, f.view())
    assert hit.message.startswith(
        "GPU 'gpu1' is allocated device gpu-0, which is in no ResourceSlice of driver gpu.nvidia.com pool node1: "
    )
    assert hit.subject == Ref("ResourceSlice", None, "gpu.nvidia.com/node1") and hit.link is LinkName.DEVICE
    # Slices not read: nothing can be said.
    assert f.hits(d.device_not_published, f.ctx([], listed=()), f.view()) == []


def test_device_only_in_an_old_generation() -> None:
    newer = f.resource_slice(name="node1-new", generation=2, devices=(f.slice_device("gpu-1"),))
    (hit,) = f.hits(d.device_not_published, f.ctx(extra=[newer]), f.view())
    assert "which is only in an old generation of pool node1 (current: 2): the driver restarted" in hit.message


def test_pool_incomplete() -> None:
    short = f.ctx([f.resource_slice(slice_count=2)])
    (hit,) = f.hits(d.pool_incomplete, short, f.view())
    assert hit.message == (
        "pool node1 of driver gpu.nvidia.com is being re-published: 1 of 2 slices of the current generation are "
        "published"
    )
    stale = f.ctx(extra=[f.resource_slice(name="node1-old", generation=0)])
    assert f.hits(d.pool_incomplete, stale, f.view())[0].message.endswith(
        "1 slice(s) of older generations are still present"
    )


def test_pci_address_missing() -> None:
    bare = f.view([f.chain(device=f.device(device=f.slice_device(pci=None)))])
    (hit,) = f.hits(d.pci_address_missing, f.ctx(), bare)
    assert hit.message == (
        "device gpu-0 (gpu.nvidia.com, type vfio) has neither resource.kubernetes.io/pciBusID nor mdevUUID: "
        "KubeVirt cannot build a hostdev for GPU 'gpu1'"
    )
    assert hit.subject == Ref("ResourceSlice", None, f.SLICE)
    mdev = f.slice_device(pci=None, attributes={"mdevUUID": Attribute("string", "0b1e-...")})
    assert f.hits(d.pci_address_missing, f.ctx(), f.view([f.chain(device=f.device(device=mdev))])) == []


def test_pci_address_malformed() -> None:
    short = f.view([f.chain(device=f.device(device=f.slice_device(pci="3b:00.0")))])
    (hit,) = f.hits(d.pci_address_malformed, f.ctx(), short)
    assert hit.message == (
        "device gpu-0 publishes resource.kubernetes.io/pciBusID '3b:00.0', not a DDDD:BB:SS.F "
        "address: KubeVirt cannot use it"
    )


def test_pci_address_uppercase_is_accepted() -> None:
    # kubevirt pkg/util/hardware/hw_utils.go PCI_ADDRESS_PATTERN takes hex digits of either case.
    upper = f.view([f.chain(device=f.device(device=f.slice_device(pci="0000:3B:00.0")))])
    assert f.hits(d.pci_address_malformed, f.ctx(), upper) == []


def _tainted(effect: str) -> f.Chain:
    taint = Taint("gpu.nvidia.com/unhealthy", "xid", effect)
    return f.chain(device=f.device(device=f.slice_device(taints=(taint,))))


def test_device_tainted() -> None:
    (hit,) = f.hits(d.device_tainted, f.ctx(), f.view([_tainted("NoSchedule")]))
    assert hit.message == (
        "device gpu-0 of GPU 'gpu1' carries taint gpu.nvidia.com/unhealthy=xid:NoSchedule that the allocation "
        "does not tolerate"
    )
    assert hit.severity is None  # the check's warning
    (evict,) = f.hits(d.device_tainted, f.ctx(), f.view([_tainted("NoExecute")]))
    assert evict.message.endswith(": NoExecute evicts the pod") and evict.severity is Severity.ERROR


def test_device_taint_tolerated_by_the_request() -> None:
    chain = _tainted("NoExecute")
    tolerant = f.request(tolerations=(Toleration("gpu.nvidia.com/unhealthy", "Exists"),))
    assert f.hits(d.device_tainted, f.ctx(), f.view([f.chain(device=chain.device, request=tolerant)])) == []


def test_device_double_allocated() -> None:
    twin = f.slice_device("gpu-vfio-0")
    both = f.resource_slice(devices=(f.slice_device(), twin))
    other = f.claim(
        meta=f.meta("ResourceClaim", "c2", namespace="team", uid="c2-uid"),
        results=(f.result(device="gpu-vfio-0"),),
    )
    view = f.view([f.chain(device=f.device(slice=both))])
    (hit,) = f.hits(d.device_double_allocated, f.ctx([both, f.claim(), other, f.pod()]), view)
    assert hit.message == "gpu-0 (GPU 'gpu1') and gpu-vfio-0, held by claim team/c2, are the same GPU 0000:3b:00.0"
    assert hit.fix == "delete one consumer: the workload that owns claim team/c2, or this VM"
    # The twin published but not allocated is no conflict.
    assert f.hits(d.device_double_allocated, f.ctx([both, f.claim(), f.pod()]), view) == []
