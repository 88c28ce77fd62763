"""Pass/fail tests of the iommufd corrections: the API device by mode, and PreferIommuFD per KubeVirt version.

The driver injects /dev/iommu and /dev/vfio/devices/vfioN in iommufd mode (PreferIommuFD on a host with
/dev/iommu: slice `iommuFDEnabled: true`), never /dev/vfio/vfio [dra-driver-nvidia-gpu vfio-cdi.go].
"""

from __future__ import annotations

from dataclasses import replace

from kubectl_vmgpu import evidence as ev
from kubectl_vmgpu.chain import LinkName
from kubectl_vmgpu.checks import launcher as cl
from kubectl_vmgpu.checks import vfio as cv
from kubectl_vmgpu.model import PodEvidence
from kubectl_vmgpu.views import Attribute

from . import factory as f

COLLECTED = PodEvidence(metadata_files={}, vfio_listing="", domain_xml="<domain/>", iommu_listing="")
IOMMUFD_DEVICE = f.slice_device(attributes={**f.slice_device().attributes, "iommuFDEnabled": Attribute("bool", True)})


def _iommufd_chain(api_device: object = True, iommu: tuple[str, ...] | None = ("/dev/iommu",)) -> f.Chain:
    return f.vfio_chain(
        configs=(f.vfio_config(policy="PreferIommuFD", api_device=api_device),),
        device=f.device(device=IOMMUFD_DEVICE),
        evidence=f.evidence(vfio=("devices",), iommu=iommu),
    )


def test_iommufd_mode_needs_the_policy_and_the_host() -> None:
    assert cv.iommufd_mode(_iommufd_chain())
    # PreferIommuFD on a host without /dev/iommu: the driver falls back to the legacy nodes.
    assert not cv.iommufd_mode(replace(_iommufd_chain(), device=f.device()))
    assert not cv.iommufd_mode(f.vfio_chain(device=f.device(device=IOMMUFD_DEVICE)))


def test_api_device_absent_iommufd_mode_never_demands_dev_vfio_vfio() -> None:
    ok = _iommufd_chain(iommu=("/dev/iommu", "/dev/vfio/devices/vfio0"))
    assert f.hits(cl.api_device_absent, f.ctx(), f.view([ok], pod_evidence=COLLECTED)) == []
    missing = _iommufd_chain(iommu=("/dev/vfio/devices/vfio0",))
    (hit,) = f.hits(cl.api_device_absent, f.ctx(), f.view([missing], pod_evidence=COLLECTED))
    assert hit.message == (
        "iommufd mode (backendPolicy PreferIommuFD on a host with iommufd), but the compute container has no "
        "/dev/iommu (VFIO cdevs: vfio0): libvirt cannot open the iommufd API device"
    )
    assert hit.link is LinkName.VFIO
    # /dev/iommu not listed (an older snapshot): no claim either way.
    unknown = _iommufd_chain(iommu=None)
    assert f.hits(cl.api_device_absent, f.ctx(), f.view([unknown], pod_evidence=COLLECTED)) == []


def test_api_device_not_enabled_words_the_mode() -> None:
    off = _iommufd_chain(api_device=False, iommu=("/dev/vfio/devices/vfio0",))
    (msg,) = f.messages(f.hits(cv.api_device_not_enabled, f.ctx(), f.view([off])))
    assert "the driver will not inject /dev/iommu (iommufd mode" in msg and "/dev/vfio/vfio" not in msg
    legacy = f.vfio_chain(configs=(f.vfio_config(api_device=False),), evidence=f.evidence(vfio=("42",)))
    (msg,) = f.messages(f.hits(cv.api_device_not_enabled, f.ctx(), f.view([legacy])))
    assert "the driver will not inject /dev/vfio/vfio and" in msg


def test_iommufd_unsupported_on_v1_9_without_the_gate() -> None:
    chain = _iommufd_chain()
    (hit,) = f.hits(cv.iommufd_unsupported, f.ctx(), f.view([chain], kubevirt=f.kubevirt((1, 9, 0))))
    assert hit.message.endswith("KubeVirt v1.9.0 uses iommufd only with its Alpha IOMMUFD feature gate, which is off")
    assert "LegacyOnly" in hit.fix and "IOMMUFD feature gate" in hit.fix and "libvirt >= 12.2" in hit.fix
    on = f.kubevirt((1, 9, 0), enabled_gates=("IOMMUFD",))
    assert f.hits(cv.iommufd_unsupported, f.ctx(), f.view([chain], kubevirt=on)) == []
    no_cr = f.kubevirt((1, 9, 0), meta=None)  # version from launcher images only: the gate is unknown
    assert f.hits(cv.iommufd_unsupported, f.ctx(), f.view([chain], kubevirt=no_cr)) == []


def test_parse_iommu_listing() -> None:
    text = (
        "crw-rw-rw- 1 root root 10, 123 May  4 10:00 /dev/iommu\n\n/dev/vfio/devices:\ntotal 0\n"
        "crw------- 1 qemu qemu 237, 0 May  4 10:00 vfio0\n"
    )
    assert ev.parse_iommu_listing(text) == ("/dev/iommu", "/dev/vfio/devices/vfio0")
    assert ev.parse_iommu_listing("") == ()
