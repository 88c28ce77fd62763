"""Pass/fail tests of the VMI spec checks (checks/vmi.py), built from views."""

from __future__ import annotations

from typing import Any

from kubectl_vmgpu.chain import Device, LinkName
from kubectl_vmgpu.checks import vfio as cv
from kubectl_vmgpu.checks import vmi as c
from kubectl_vmgpu.model import Ref, Severity
from kubectl_vmgpu.views import Attribute, ClaimSpec

from . import factory as f

TEMPLATE_REF = Ref("ResourceClaimTemplate", f.NS, f.TEMPLATE)


def test_healthy_view_passes_every_vmi_check() -> None:
    ctx, view = f.ctx(), f.view([f.vfio_chain()])
    for check in c.CHECKS:
        assert f.hits(check.run, ctx, view) == [], check.name


def test_claim_not_declared() -> None:
    (hit,) = f.hits(c.claim_not_declared, f.ctx(), f.view([f.vfio_chain(source=None, gpu=f.gpu(claim_name="gpu-x"))]))
    assert hit.message == (
        "GPU 'gpu1' uses claimName 'gpu-x', which is not in spec.template.spec.resourceClaims (declared: gpu-claim)"
    )
    assert hit.subject == Ref("VirtualMachine", f.NS, f.VMI) and hit.link is LinkName.SPEC and hit.gpu == f.GPU
    assert hit.fix.startswith("kubectl edit virtualmachine -n vms vm1: add `- name: gpu-x`")


def test_claim_not_declared_without_claim_name_on_a_bare_vmi() -> None:
    chain = f.vfio_chain(source=None, gpu=f.gpu(claim_name=""))
    (hit,) = f.hits(c.claim_not_declared, f.ctx(), f.view([chain], vm=None))
    assert hit.message == "GPU 'gpu1' has requestName but no claimName (`claimName is required for DRA GPU`)"
    assert hit.subject.kind == "VirtualMachineInstance" and "spec.domain.devices.gpus" in hit.fix
    host = f.vfio_chain(source=None, gpu=f.gpu(claim_name="", kind="hostDevice"))
    (hit,) = f.hits(c.claim_not_declared, f.ctx(), f.view([host], vm=None))
    assert hit.message.endswith("(`claimName is required for DRA HostDevice`)")


def test_claim_source_invalid() -> None:
    assert f.hits(c.claim_source_invalid, f.ctx(), f.view()) == []
    both = f.devices(sources=(f.source(claim_name="direct"),))
    (hit,) = f.hits(c.claim_source_invalid, f.ctx(), f.view(devices=both))
    assert hit.message == (
        "spec.template.spec.resourceClaims entry 'gpu-claim' sets both of resourceClaimName and "
        "resourceClaimTemplateName"
    )
    assert hit.link is LinkName.SOURCE and hit.gpu is None
    neither = f.devices(sources=(f.source(template_name=None),))
    (hit,) = f.hits(c.claim_source_invalid, f.ctx(), f.view(devices=neither))
    assert "sets neither of" in hit.message


def test_template_missing() -> None:
    (hit,) = f.hits(c.template_missing, f.ctx(), f.view([f.vfio_chain(template=None)]))
    assert hit.message == (
        "claim 'gpu-claim' uses template 'gpu-tpl', which does not exist in namespace vms "
        "(the claim generated earlier still works until the VM restarts)"
    )
    assert hit.subject == TEMPLATE_REF and hit.link is LinkName.SOURCE
    # A snapshot without templates says nothing about this one.
    assert f.hits(c.template_missing, f.ctx([], listed=()), f.view([f.vfio_chain(template=None)])) == []


def test_claim_missing() -> None:
    direct = f.source(claim_name="my-claim", template_name=None)
    assert f.hits(c.claim_missing, f.ctx(), f.view([f.vfio_chain(source=direct, template=None)])) == []
    (hit,) = f.hits(c.claim_missing, f.ctx(), f.view([f.vfio_chain(source=direct, template=None, claim=None)]))
    assert hit.message == (
        "claim 'gpu-claim' names ResourceClaim 'my-claim', which does not exist in namespace vms "
        '(scheduler: `could not find ResourceClaim "vms/my-claim"`)'
    )
    assert hit.subject == Ref("ResourceClaim", f.NS, "my-claim")


def test_request_not_found() -> None:
    chain = f.vfio_chain(gpu=f.gpu(request_name="gpu-typo"), request=None)
    (hit,) = f.hits(c.request_not_found, f.ctx(), f.view([chain]))
    assert hit.message == (
        "GPU 'gpu1' uses requestName 'gpu-typo', but ResourceClaimTemplate vms/gpu-tpl has requests 'gpu' "
        "(the admission webhook does not check this; virt-launcher finds no device for it)"
    )
    assert hit.fix == "set requestName of 'gpu1' in spec.template.spec.domain.devices.gpus to gpu, then restart the VM"


def test_request_multi_device() -> None:
    (hit,) = f.hits(c.request_multi_device, f.ctx(), f.view([f.vfio_chain(request=f.request(count=2))]))
    assert hit.message.startswith("request 'gpu' (count: 2) backs GPU 'gpu1', but KubeVirt takes exactly one device")
    assert hit.subject == TEMPLATE_REF and hit.link is LinkName.CLAIM
    sub = f.request(name="any", mode="All")
    chain = f.vfio_chain(request=f.request(device_class=None, first_available=(sub,)))
    (hit,) = f.hits(c.request_multi_device, f.ctx(), f.view([chain]))
    assert "(subrequest 'any' with allocationMode: All)" in hit.message


def test_not_a_passthrough_class() -> None:
    (hit,) = f.hits(c.not_a_passthrough_class, f.ctx(), f.view([f.vfio_chain(class_name="gpu.nvidia.com")]))
    assert hit.message == (
        "GPU 'gpu1' is claimed from device class 'gpu.nvidia.com' and got device gpu-0 (type vfio): that is a "
        "container GPU driven by the NVIDIA kernel driver, not a VFIO passthrough device"
    )
    assert hit.link is LinkName.CLASS
    container = f.slice_device(attributes={"type": Attribute("string", "gpu")})
    chain = f.vfio_chain(device=Device(f.resource_slice(), container, True))
    assert "(type gpu)" in f.messages(f.hits(c.not_a_passthrough_class, f.ctx(), f.view([chain])))[0]


def test_api_device_not_enabled() -> None:
    no_config = f.vfio_chain(configs=(), evidence=f.evidence(vfio=("42",)))
    (hit,) = f.hits(cv.api_device_not_enabled, f.ctx(), f.view([no_config]))
    assert hit.message == (
        "GPU 'gpu1' is a VFIO passthrough request but it has no VfioDeviceConfig: the driver will not inject "
        "/dev/vfio/vfio and libvirt cannot assign the GPU"
    )
    assert hit.fix.startswith("add to spec.spec.devices of ResourceClaimTemplate vms/gpu-tpl:\nconfig:\n")
    off = f.vfio_chain(configs=(f.vfio_config(api_device=False),), evidence=f.evidence(vfio=("42",)))
    assert (
        "lacks iommu.enableAPIDevice: true" in f.messages(f.hits(cv.api_device_not_enabled, f.ctx(), f.view([off])))[0]
    )
    # The driver (v25.12) injects /dev/vfio/vfio anyway: nothing to fix.
    injected = f.vfio_chain(configs=(), evidence=f.evidence(vfio=("42", "vfio")))
    assert f.hits(cv.api_device_not_enabled, f.ctx(), f.view([injected])) == []


def test_iommufd_unsupported() -> None:
    chain = f.vfio_chain(configs=(f.vfio_config(policy="PreferIommuFD"),))
    (hit,) = f.hits(cv.iommufd_unsupported, f.ctx(), f.view([chain], kubevirt=f.kubevirt((1, 8, 3))))
    assert hit.message == (
        "GPU 'gpu1' asks for backendPolicy PreferIommuFD (config FromClaim): KubeVirt v1.8.3 has no iommufd backend "
        "(it needs v1.9 or newer)"
    )
    assert hit.fix == "set iommu.backendPolicy: LegacyOnly in the VfioDeviceConfig of ResourceClaimTemplate vms/gpu-tpl"
    gated = f.kubevirt((1, 9, 0), enabled_gates=("IOMMUFD",))
    assert f.hits(cv.iommufd_unsupported, f.ctx(), f.view([chain], kubevirt=gated)) == []
    assert f.hits(cv.iommufd_unsupported, f.ctx(), f.view([chain], kubevirt=f.kubevirt(None))) == []


def test_vfio_config_invalid() -> None:
    chain = f.vfio_chain(configs=(f.vfio_config(policy="Legacy", extra=1),))
    (hit,) = f.hits(cv.vfio_config_invalid, f.ctx(), f.view([chain]))
    assert hit.message == (
        "the VfioDeviceConfig for GPU 'gpu1' is invalid; the driver fails NodePrepareResources: "
        'strict decoding error: unknown field "extra"; unknown IOMMU backend policy: Legacy, supported IOMMU '
        "backend policies: LegacyOnly, PreferIommuFD"
    )
    assert hit.subject == TEMPLATE_REF and hit.link is LinkName.CLAIM


def test_vfio_config_invalid_types_driver_requests_and_duplicates() -> None:
    bad = f.vfio_config(api_device="yes", driver="other.example.com", requests=("gpu", "gone"))
    (msg,) = f.messages(f.hits(cv.vfio_config_invalid, f.ctx(), f.view([f.vfio_chain(configs=(bad,))])))
    assert msg.endswith(
        "iommu.enableAPIDevice must be true or false, not 'yes'; a VfioDeviceConfig is addressed to driver "
        "'other.example.com', not gpu.nvidia.com; config names request 'gone', which the claim does not have"
    )
    two = (f.vfio_config(), f.vfio_config(source="FromClass"))
    (msg,) = f.messages(f.hits(cv.vfio_config_invalid, f.ctx(), f.view([f.vfio_chain(configs=two)])))
    assert msg.endswith(
        "2 VfioDeviceConfigs apply to request 'gpu'; the driver accepts one VFIO config group per claim"
    )
    # Two GPUs on the same request of the same template: reported once.
    gpus = [f.vfio_chain(configs=(bad,)), f.vfio_chain(configs=(bad,), gpu=f.gpu(name="gpu2"))]
    assert len(f.hits(cv.vfio_config_invalid, f.ctx(), f.view(gpus))) == 1


def test_vfio_config_iommu_not_an_object() -> None:
    chain = f.vfio_chain(configs=(f.vfio_config(iommu="on"),))
    (msg,) = f.messages(f.hits(cv.vfio_config_invalid, f.ctx(), f.view([chain])))
    assert msg.endswith("NodePrepareResources: iommu must be an object")


def test_vm_start_refused() -> None:
    refused = f.vm(failure="admission webhook denied the request: GPUsWithDRA feature gate is not enabled")
    stopped: dict[str, Any] = {"vmi": None, "pod": None, "phase": "Stopped", "node": None, "pod_evidence": None}
    (hit,) = f.hits(c.vm_start_refused, f.ctx(), f.view(vm=refused, **stopped))
    assert hit.message == (
        "VM vm1 (runStrategy Always) has no VMI: admission webhook denied the request: GPUsWithDRA feature gate "
        "is not enabled"
    )
    assert hit.subject == Ref("VirtualMachine", f.NS, f.VMI) and hit.link is LinkName.SPEC and hit.gpu is None
    halted = f.vm(failure="denied", run_strategy="Halted")
    assert f.hits(c.vm_start_refused, f.ctx(), f.view(vm=halted, **stopped)) == []
    assert f.hits(c.vm_start_refused, f.ctx(), f.view(vm=refused)) == []  # it has a VMI


def test_dra_mixed_with_device_plugin() -> None:
    mixed = f.devices(device_plugin_gpus=("legacy",))
    (hit,) = f.hits(c.dra_mixed_with_device_plugin, f.ctx(), f.view(devices=mixed))
    assert hit.message == (
        "GPUs legacy use deviceName (device plugin) while gpu1 use DRA; KubeVirt v1.9.0 rejects such a spec "
        "(`vmi.spec.domain.devices.gpus contains both DRA and non-DRA GPUs; each GPU must be either DRA or non-DRA`)"
    )
    assert hit.fix == "move every GPU of vm1 to one flow (DRA: claimName/requestName)"
    assert hit.severity is Severity.ERROR
    (old,) = f.hits(c.dra_mixed_with_device_plugin, f.ctx(), f.view(devices=mixed, kubevirt=f.kubevirt((1, 8, 2))))
    assert old.severity is None and old.message.endswith(
        "KubeVirt v1.8.2 admits it, but v1.8.3 and later reject it (`contains both DRA and non-DRA GPUs`)"
    )
    # hostDevices may mix (kubevirt v1.9.0 dra_admitter_test "should accept a VMI with both DRA and non-DRA
    # HostDevices"): no finding.
    hosts = f.devices(device_plugin_host_devices=("nic",))
    assert f.hits(c.dra_mixed_with_device_plugin, f.ctx(), f.view(devices=hosts)) == []


def test_request_not_found_lists_subrequests() -> None:
    sub = f.request(name="a100")
    spec = ClaimSpec(requests=(f.request(device_class=None, first_available=(sub,)),))
    chain = f.vfio_chain(gpu=f.gpu(request_name="x"), request=None, template=f.template(spec=spec), claim=None)
    (msg,) = f.messages(f.hits(c.request_not_found, f.ctx(), f.view([chain])))
    assert "has requests 'gpu', 'gpu/a100'" in msg


def test_api_device_not_enabled_is_a_warning_when_the_driver_may_be_v25_12() -> None:
    from kubectl_vmgpu.model import Severity

    # /dev/vfio unread and the device publishes no iommuFDEnabled (driver v25.12 never does).
    doubt = f.vfio_chain(configs=(), evidence=f.evidence(vfio=None))
    (hit,) = f.hits(cv.api_device_not_enabled, f.ctx(), f.view([doubt]))
    assert hit.severity is Severity.WARNING
    assert hit.message.endswith(
        "(unconfirmed: /dev/vfio could not be read, and the driver's vfio devices publish no iommuFDEnabled, so it "
        "may be v25.12, which always injects /dev/vfio/vfio and needs no VfioDeviceConfig)"
    )
    # A v0.4+ device (iommuFDEnabled published) settles it: the check's own severity, no doubt.
    dev = f.slice_device()
    v04 = f.replace(dev, attributes={**dev.attributes, "iommuFDEnabled": Attribute("bool", True)})
    settled = f.vfio_chain(configs=(), evidence=f.evidence(vfio=None), device=Device(f.resource_slice(), v04, True))
    (hit,) = f.hits(cv.api_device_not_enabled, f.ctx(), f.view([settled]))
    assert hit.severity is None and "unconfirmed" not in hit.message


def _stopped(spec: dict[str, Any], version: tuple[int, int, int] = (1, 9, 0), **vm_kw: Any) -> list[str]:
    from kubectl_vmgpu import build

    vm = f.vm(devices=build.vmi_devices(spec), run_strategy="Halted", **vm_kw)
    stopped: dict[str, Any] = {"vmi": None, "pod": None, "phase": "Stopped", "node": None, "pod_evidence": None}
    kv = f.kubevirt(version, enabled_gates=("GPUsWithDRA", "HostDevicesWithDRA"))
    view = f.view(vm=vm, kubevirt=kv, **stopped)
    return f.messages(f.hits(c.vm_start_refused, f.ctx(), view))


def _spec(gpus: list[dict[str, Any]], claims: list[dict[str, Any]] | None = None, **devices: Any) -> dict[str, Any]:
    rcs = [{"name": "c", "resourceClaimTemplateName": "t"}] if claims is None else claims
    return {"resourceClaims": rcs, "domain": {"devices": {"gpus": gpus, **devices}}}


DENIED = (
    "VM vm1 is stopped; KubeVirt {} will refuse to start it: admission webhook "
    '"virtualmachineinstances-create-validator.kubevirt.io" denied the request: '
)


def test_vm_start_refused_judges_a_stopped_vm_by_the_admitter() -> None:
    # kubevirt pkg/dra/admitter (v1.8.3, v1.9.0): the causes and texts of admission.py.
    ok = _spec([{"name": "g0", "claimName": "c", "requestName": "r"}])
    assert _stopped(ok) == []
    pair = {"claimName": "c", "requestName": "r"}
    dup = _spec([{"name": "g0", **pair}, {"name": "g1", **pair}])
    assert _stopped(dup) == [DENIED.format("v1.9.0") + 'duplicate claimName/requestName pair "c/r"']
    no_request = _spec([{"name": "g0", "claimName": "c"}])
    assert _stopped(no_request, (1, 8, 3)) == [DENIED.format("v1.8.3") + "requestName is required for DRA GPU"]
    both = _spec([{"name": "g0", "deviceName": "nvidia.com/GH100", "claimName": "c", "requestName": "r"}])
    assert _stopped(both) == [
        DENIED.format("v1.9.0") + "vmi.spec.domain.devices.gpus contains GPUs with both deviceName and claimRequest"
    ]
    bad_name = _spec([{"name": "g0", "claimName": "GPU.c", "requestName": "r"}], [{"name": "GPU.c",
                                                                                   "resourceClaimName": "x"}])
    (msg,) = _stopped(bad_name)
    assert "spec.resourceClaims[0].name does not conform to the kubernetes DNS_LABEL rules" in msg
    cross = _spec([{"name": "g0", "claimName": "c", "requestName": "r"}],
                  hostDevices=[{"name": "h0", "claimName": "c", "requestName": "r"}])
    assert _stopped(cross, (1, 8, 3)) == [
        DENIED.format("v1.8.3") + 'duplicate claimName/requestName pair "c/r" between GPUs[0] and HostDevices[0]'
    ]
    assert _stopped(cross, (1, 8, 2)) == []  # the cross-list check came in v1.8.3
