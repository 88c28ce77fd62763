"""Pass/fail tests of the ResourceSlice device checks (checks/device.py), built from views."""

from __future__ import annotations

from kubectl_vmgpu.chain import LinkName
from kubectl_vmgpu.checks import device as d
from kubectl_vmgpu.checks.base import ClusterCheck
from kubectl_vmgpu.model import Ref, Severity
from kubectl_vmgpu.views import PCI_ATTR, Attribute, Taint, Toleration

from . import factory as f


def test_healthy_view_passes_every_device_check() -> None:
    ctx, view = f.ctx(), f.view()
    for check in d.CHECKS:
        args = (ctx,) if isinstance(check, ClusterCheck) else (ctx, view)
        assert f.hits(check.run, *args) == [], check.name


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


def _v17(**kw: object) -> f.VmiView:
    return f.view(**{"kubevirt": f.kubevirt((1, 7, 2)), **kw})


ROOTED = f.slice_device(
    attributes={**f.slice_device().attributes, "resource.kubernetes.io/pcieRoot": Attribute("string", "pci0000:37")}
)


def test_kubevirt_pcieroot_address_on_v1_7() -> None:
    view = _v17(chains=(f.chain(device=f.device(device=ROOTED)),))
    (hit,) = f.hits(d.kubevirt_pcieroot_address, f.ctx(), view)
    assert hit.message == (
        "KubeVirt v1.7.2 takes the PCI address of GPU 'gpu1' from resource.kubernetes.io/pcieRoot, which device "
        "gpu-0 publishes as 'pci0000:37', not a PCI address: virt-launcher cannot build the hostdev "
        "(`failed to create PCI device for gpu1: failed to parse pci address pci0000:37`)"
    )
    assert "v1.8.3" in hit.fix and "restart" in hit.fix and "does not help" in hit.fix
    # v1.8+ read the pciBusID from the metadata file: pcieRoot is not used.
    assert f.hits(d.kubevirt_pcieroot_address, f.ctx(), f.view([f.chain(device=f.device(device=ROOTED))])) == []


def test_pci_address_missing_uses_the_key_of_the_version() -> None:
    # v1.7 reads pcieRoot (and resource.kubernetes.io/mDevUUID): a pciBusID alone does not help it.
    (hit,) = f.hits(d.pci_address_missing, f.ctx(), _v17())
    assert "has neither resource.kubernetes.io/pcieRoot nor resource.kubernetes.io/mDevUUID" in hit.message
    assert "neither pciAddress nor mdevUUIDa attribute found for device gpu-0" in hit.message
    assert hit.fix.startswith("upgrade KubeVirt to v1.8.3 or newer") and "restart the VM" not in hit.fix
    assert f.hits(d.pci_address_missing, f.ctx(), _v17(chains=(f.chain(device=f.device(device=ROOTED)),))) == []


def _twin(name: str, pci: str) -> object:
    return f.slice_device(
        name, pci, attributes={"type": Attribute("string", "gpu"), PCI_ATTR: Attribute("string", pci)}
    )


def _pool(*devices: object) -> object:
    return f.resource_slice(devices=tuple(devices))


def test_vfio_device_stranded() -> None:
    vfio1 = f.slice_device("gpu-vfio-1", "0000:65:00.0")
    gpu1 = _twin("gpu-1", "0000:65:00.0")
    # gpu-0 (held by the healthy claim) has no twin: normal while prepared; gpu-vfio-1 is free with its twin.
    ok = f.ctx([_pool(f.slice_device(), vfio1, gpu1), f.claim(), f.pod(), f.node(), f.kubevirt()])
    assert f.hits(d.vfio_device_stranded, ok) == []
    (hit,) = f.hits(d.vfio_device_stranded, f.ctx([_pool(f.slice_device(), vfio1), f.claim(), f.pod()]))
    assert hit.message.startswith(
        "device gpu-vfio-1 of pool node1 looks stranded: no claim holds it and its type-gpu twin (0000:65:00.0) "
        "is not published"
    )
    assert hit.severity is None and hit.link is None and "issues 1089" in hit.message
    # Lacking an attribute both siblings carry (partition0), twin present.
    part = {"partition0": Attribute("string", "x")}
    a = f.slice_device("gpu-vfio-2", "0000:66:00.0", attributes={**f.slice_device().attributes, **part})
    b = f.slice_device("gpu-vfio-3", "0000:67:00.0", attributes={**f.slice_device().attributes, **part})
    bare = f.slice_device("gpu-vfio-4", "0000:68:00.0")
    twins = [_twin(f"gpu-{i}", f"0000:6{i + 4}:00.0") for i in (2, 3, 4)]
    (hit,) = f.hits(d.vfio_device_stranded, f.ctx([_pool(a, b, bare, *twins)]))
    assert "gpu-vfio-4" in hit.message and "lacks attributes its sibling vfio devices carry: partition0" in hit.message
    # Claims not read cluster-wide: a device held elsewhere would look stranded, so nothing is said.
    unread = f.ctx([_pool(f.slice_device(), vfio1)], listed=set(f.ALL_KINDS) - {"ResourceClaim"})
    assert f.hits(d.vfio_device_stranded, unread) == []
