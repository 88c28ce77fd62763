"""Pass/fail tests of the cluster and configuration checks (checks/cluster.py), built from views."""

from __future__ import annotations

from kubectl_vmgpu.chain import LinkName
from kubectl_vmgpu.checks import cluster as k
from kubectl_vmgpu.checks.base import ClusterCheck
from kubectl_vmgpu.model import ClusterFacts, Ref, Severity
from kubectl_vmgpu.views import Attribute

from . import factory as f

SERVED = {"kubevirt.io": ("v1",), "resource.k8s.io": ("v1", "v1beta2")}


def test_healthy_cluster_passes_every_cluster_check() -> None:
    ctx, view = f.ctx(cluster=ClusterFacts(groups=SERVED)), f.view()
    for check in k.CHECKS:
        found = f.hits(check.run, ctx) if isinstance(check, ClusterCheck) else f.hits(check.run, ctx, view)
        assert found == [], check.name


def test_kubevirt_missing() -> None:
    (hit,) = f.hits(k.kubevirt_missing, f.ctx(cluster=ClusterFacts(groups={"resource.k8s.io": ("v1",)})))
    assert hit.message.startswith("the API server does not serve kubevirt.io/v1: KubeVirt is not installed")
    assert hit.link is None and hit.subject == Ref("APIService", None, "kubevirt.io")
    assert f.hits(k.kubevirt_missing, f.ctx()) == []  # served groups unknown (a snapshot)


def test_dra_api_missing() -> None:
    (hit,) = f.hits(k.dra_api, f.ctx(cluster=ClusterFacts(groups={"kubevirt.io": ("v1",)})))
    assert hit.message.startswith("the API server does not serve resource.k8s.io: DRA is unavailable")
    # Beta-only is dra-api-beta's finding, not this one's.
    assert f.hits(k.dra_api, f.ctx(resource_versions={"resource.k8s.io": {"v1beta1"}})) == []


def test_dra_api_beta() -> None:
    beta = ClusterFacts(groups={"resource.k8s.io": ("v1beta2", "v1beta1")})
    (hit,) = f.hits(k.dra_api_beta, f.ctx(cluster=beta))
    assert hit.message.startswith("resource.k8s.io is served only as v1beta2, v1beta1 (Kubernetes < 1.34)")
    assert hit.severity is Severity.WARNING
    # A snapshot tells the versions its objects were written in.
    (seen,) = f.hits(k.dra_api_beta, f.ctx(resource_versions={"resource.k8s.io": {"v1beta2", "v1beta1"}}))
    assert "served only as v1beta1, v1beta2 " in seen.message


def test_feature_gate_disabled_on_v1_9() -> None:
    view = f.view(kubevirt=f.kubevirt((1, 9, 0), disabled_gates=("GPUsWithDRA",)))
    (hit,) = f.hits(k.feature_gate_off, f.ctx(), view)
    assert hit.message == (
        "vms/vm1 uses DRA devices (gpu1) but GPUsWithDRA is listed in disabledFeatureGates (it is Beta and on by "
        "default in v1.9.0)"
    )
    assert hit.fix == (
        "kubectl edit kubevirt -n kubevirt kubevirt: remove GPUsWithDRA from "
        "spec.configuration.developerConfiguration.disabledFeatureGates; then restart the VM"
    )
    assert hit.subject == Ref("KubeVirt", "kubevirt", "kubevirt") and hit.link is LinkName.SPEC


def test_feature_gate_alpha_not_listed() -> None:
    host = f.chain(gpu=f.gpu(kind="hostDevice", name="nic"))
    (hit,) = f.hits(k.feature_gate_off, f.ctx(), f.view([host], kubevirt=f.kubevirt((1, 7, 0))))
    assert hit.message.endswith(
        "uses DRA devices (nic) but HostDevicesWithDRA is Alpha in v1.7.0 and not listed in featureGates"
    )
    on = f.kubevirt((1, 7, 0), enabled_gates=("HostDevicesWithDRA",))
    assert f.hits(k.feature_gate_off, f.ctx(), f.view([host], kubevirt=on)) == []
    # No KubeVirt CR read: the gates are unknown, not off.
    assert f.hits(k.feature_gate_off, f.ctx(), f.view(kubevirt=f.kubevirt((1, 7, 0), meta=None))) == []


def test_old_metadata_path() -> None:
    unread = [f.chain(evidence=f.evidence(metadata=None, metadata_files=()))]
    (hit,) = f.hits(k.old_metadata_path, f.ctx(), f.view(unread, kubevirt=f.kubevirt((1, 8, 1))))
    assert hit.message.startswith(
        "KubeVirt v1.8.1 reads DRA metadata from /var/run/dra-device-attributes/<claim>/<request>/"
    )
    assert hit.subject == Ref("KubeVirt", "kubevirt", "kubevirt") and hit.link is LinkName.METADATA
    (no_cr,) = f.hits(k.old_metadata_path, f.ctx(), f.view(unread, kubevirt=f.kubevirt((1, 8, 2), meta=None)))
    assert no_cr.subject == Ref("KubeVirt", None, "kubevirt")
    assert f.hits(k.old_metadata_path, f.ctx(), f.view(unread, kubevirt=f.kubevirt((1, 8, 3)))) == []
    # The launcher shows v1.8.2's reader found the file under the old root (kubevirt v1.8.2 pkg/dra/utils.go
    # findMetadataByPodClaimName): nothing to upgrade for.
    assert f.hits(k.old_metadata_path, f.ctx(), f.view(kubevirt=f.kubevirt((1, 8, 2)))) == []
    failing = [f.chain(evidence=f.evidence(metadata_launcher_error="metadata not found for claim \"c\""))]
    assert len(f.hits(k.old_metadata_path, f.ctx(), f.view(failing, kubevirt=f.kubevirt((1, 8, 2))))) == 1


def test_device_class_missing() -> None:
    view = f.view([f.chain(device_class=None)])
    (hit,) = f.hits(k.device_class_missing, f.ctx(), view)
    assert hit.message == (
        "request 'gpu' of GPU 'gpu1' asks for device class 'vfio.gpu.nvidia.com', which does not exist "
        "(scheduler: `request gpu: device class vfio.gpu.nvidia.com does not exist`)"
    )
    assert hit.fix.endswith(f"or fix deviceClassName in ResourceClaim vms/{f.CLAIM}")
    no_claim = f.view([f.chain(device_class=None, claim=None)])
    assert f.hits(k.device_class_missing, f.ctx(), no_claim)[0].fix.endswith("ResourceClaimTemplate vms/gpu-tpl")
    assert f.hits(k.device_class_missing, f.ctx([], listed=()), view) == []


def test_driver_not_publishing() -> None:
    unallocated = f.view([f.chain(results=(), device=None)])
    (hit,) = f.hits(k.driver_not_publishing, f.ctx([f.pod()]), unallocated)
    assert (
        hit.message == "driver gpu.nvidia.com publishes no ResourceSlice on any node, so GPU 'gpu1' cannot be allocated"
    )
    assert hit.subject == Ref("ResourceSlice", None, "driver=gpu.nvidia.com")
    elsewhere = f.ctx([f.resource_slice(node="node2")])
    assert (
        "publishes no ResourceSlice on node node1,"
        in f.hits(k.driver_not_publishing, elsewhere, unallocated)[0].message
    )
    everywhere = f.ctx([f.resource_slice(node=None, all_nodes=True)])
    assert f.hits(k.driver_not_publishing, everywhere, unallocated) == []


def test_passthrough_not_enabled() -> None:
    unallocated = f.view([f.chain(results=(), device=None)])
    container = f.slice_device(attributes={"type": Attribute("string", "gpu")})
    (hit,) = f.hits(k.passthrough_not_enabled, f.ctx([f.resource_slice(devices=(container,))]), unallocated)
    assert hit.message == (
        "GPU 'gpu1' requests vfio.gpu.nvidia.com, but none of the 1 gpu.nvidia.com devices is `type: vfio`: "
        "the driver's PassthroughSupport feature gate is off"
    )
    assert hit.link is LinkName.CLASS
    # dra-driver-nvidia-gpu pkg/featuregates/featuregates.go: the plugin refuses these combinations.
    assert "PassthroughSupport cannot be combined with DynamicMIG, nor (driver v0.4+) with NVMLDeviceHealthCheck" in (
        hit.fix
    )
    assert f.hits(k.passthrough_not_enabled, f.ctx(), unallocated) == []


def test_api_unreadable() -> None:
    facts = ClusterFacts(unavailable={"pods": "403 Forbidden", "events": "timeout"})
    found = f.hits(k.api_unreadable, f.ctx(cluster=facts))
    assert [h.subject.name for h in found] == ["events", "pods"]
    assert found[1].message == "pods could not be read, so the checks that need it were skipped: 403 Forbidden"
    assert all(h.link is None for h in found)


def test_feature_gate_in_both_lists_is_on() -> None:
    # kubevirt v1.9.0 pkg/virt-config/featuregate IsEnabled / v1.8.0 isFeatureGateEnabled: enabled wins.
    for version in ((1, 8, 3), (1, 9, 0)):
        both = f.kubevirt(version, enabled_gates=("GPUsWithDRA",), disabled_gates=("GPUsWithDRA",))
        assert f.hits(k.feature_gate_off, f.ctx(), f.view(kubevirt=both)) == [], version
