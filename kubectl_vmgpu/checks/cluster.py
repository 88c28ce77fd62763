"""Cluster and configuration checks: APIs served, KubeVirt gates and versions, classes, drivers."""

from __future__ import annotations

from collections.abc import Iterator

from ..chain import VmiView, class_driver, reads_metadata, uses_old_metadata_path
from ..index import meta
from ..model import Ref, Severity
from .base import Context, Hit, gpu_label, ref

DRA_GROUP = "resource.k8s.io"
VFIO_CLASS = "vfio.gpu.nvidia.com"
NVIDIA_DRIVER = "gpu.nvidia.com"
_API = Ref("APIService", None, DRA_GROUP)


def _served(ctx: Context, group: str) -> tuple[str, ...] | None:
    """Served versions of a group: from cluster facts, else what the objects were written in."""
    groups = ctx.idx.inv.cluster.groups
    if groups is not None:
        return groups.get(group, ())
    seen = ctx.idx.inv.resource_versions.get(group)
    return tuple(sorted(seen)) if seen else None


def kubevirt_missing(ctx: Context) -> Iterator[Hit]:
    groups = ctx.idx.inv.cluster.groups
    if groups is not None and "v1" not in groups.get("kubevirt.io", ()):
        yield Hit(
            Ref("APIService", None, "kubevirt.io"),
            "the API server does not serve kubevirt.io/v1: KubeVirt is not installed (or its API is down)",
            "install KubeVirt (virt-operator and the KubeVirt CR), then check `kubectl get kubevirt -A`",
            "cluster",
        )


def dra_api(ctx: Context) -> Iterator[Hit]:
    served = _served(ctx, DRA_GROUP)
    if served is None or "v1" in served:
        return
    if not served:
        yield Hit(
            _API,
            "the API server does not serve resource.k8s.io: DRA is unavailable, no GPU claim can be allocated",
            "use Kubernetes 1.34 or newer (resource.k8s.io/v1 is GA and on by default)",
            "cluster",
        )


def dra_api_beta(ctx: Context) -> Iterator[Hit]:
    served = _served(ctx, DRA_GROUP)
    if served and "v1" not in served:
        yield Hit(
            _API,
            f"resource.k8s.io is served only as {', '.join(served)} (Kubernetes < 1.34): beta DRA APIs change "
            "between releases and current KubeVirt and NVIDIA drivers target v1",
            "upgrade Kubernetes to 1.34 or newer",
            "cluster",
            severity=Severity.WARNING,
        )


def _gate_for(kind: str) -> str:
    return "GPUsWithDRA" if kind == "gpu" else "HostDevicesWithDRA"


def feature_gate_off(ctx: Context, view: VmiView) -> Iterator[Hit]:
    kv = ctx.idx.kubevirt
    version = ctx.idx.kubevirt_version
    for gate in sorted({_gate_for(c.gpu.kind) for c in view.chains}):
        if ctx.idx.gate_enabled(gate) is not False:
            continue
        devices = ", ".join(c.gpu.name for c in view.chains if _gate_for(c.gpu.kind) == gate)
        vtext = f"v{'.'.join(map(str, version))}" if version else "this KubeVirt"
        if version and version >= (1, 9, 0):
            why, fix = (
                f"{gate} is listed in disabledFeatureGates (it is Beta and on by default in {vtext})",
                f"remove {gate} from spec.configuration.developerConfiguration.disabledFeatureGates",
            )
        else:
            why, fix = (
                f"{gate} is Alpha in {vtext} and not listed in featureGates",
                f"add {gate} to spec.configuration.developerConfiguration.featureGates",
            )
        yield Hit(
            ref(kv, "KubeVirt"),
            f"{view.namespace}/{view.name} uses DRA devices ({devices}) but {why}",
            f"kubectl edit kubevirt -n {meta(kv, 'namespace')} {meta(kv, 'name')}: {fix}; then restart the VM",
            "spec",
        )


def old_metadata_path(ctx: Context, view: VmiView) -> Iterator[Hit]:
    version = ctx.idx.kubevirt_version
    if uses_old_metadata_path(version) and reads_metadata(version):
        vtext = ".".join(map(str, version or ()))
        yield Hit(
            ref(ctx.idx.kubevirt, "KubeVirt", (None, "kubevirt")),
            f"KubeVirt v{vtext} reads DRA metadata from /var/run/dra-device-attributes/<claim>/<request>/, "
            "which current drivers do not write (they use /var/run/kubernetes.io/dra-device-attributes/, KEP-5304)",
            "upgrade KubeVirt to v1.8.3 or newer (kubevirt/kubevirt#17672)",
            "metadata",
        )


def device_class_missing(ctx: Context, view: VmiView) -> Iterator[Hit]:
    for chain in view.chains:
        if chain.class_name and chain.device_class is None:
            if not ctx.idx.inv.knows("DeviceClass", "deviceclasses.resource.k8s.io"):
                continue
            holder = chain.claim or chain.template
            yield Hit(
                Ref("DeviceClass", None, chain.class_name),
                f"request {chain.gpu.request_name!r} of {gpu_label(chain)} asks for device class "
                f"{chain.class_name!r}, which does not exist (scheduler: `request {chain.gpu.request_name}: "
                f"device class {chain.class_name} does not exist`)",
                f"install the DRA driver that provides {chain.class_name!r} (`kubectl get deviceclasses`), "
                f"or fix deviceClassName in {ref(holder)}",
                "class",
                gpu=chain.gpu.name,
            )


def driver_not_publishing(ctx: Context, view: VmiView) -> Iterator[Hit]:
    if not ctx.idx.inv.knows("ResourceSlice", "resourceslices.resource.k8s.io"):
        return
    for chain in view.chains:
        driver = class_driver(chain.device_class)
        if not driver or chain.results:
            continue
        slices, nodes, _ = ctx.idx.driver_slices(driver)
        node = view.node
        if not slices:
            where = "on any node"
        elif node and node not in nodes and None not in nodes:
            where = f"on node {node}"
        else:
            continue
        yield Hit(
            Ref("ResourceSlice", None, f"driver={driver}"),
            f"driver {driver} publishes no ResourceSlice {where}, so {gpu_label(chain)} cannot be allocated",
            f"check the driver's kubelet-plugin pods (`kubectl get pods -A -o wide | grep {driver.split('.')[0]}`) "
            "and their logs on that node",
            "device",
            gpu=chain.gpu.name,
        )


def passthrough_not_enabled(ctx: Context, view: VmiView) -> Iterator[Hit]:
    if not ctx.idx.inv.knows("ResourceSlice", "resourceslices.resource.k8s.io"):
        return
    for chain in view.chains:
        if chain.class_name != VFIO_CLASS or chain.results:
            continue
        slices, _, (count, vfio) = ctx.idx.driver_slices(NVIDIA_DRIVER)
        if not slices:
            continue  # driver-not-publishing says it
        if vfio:
            continue
        yield Hit(
            Ref("DeviceClass", None, VFIO_CLASS),
            f"{gpu_label(chain)} requests {VFIO_CLASS}, but none of the {count} {NVIDIA_DRIVER} devices "
            "is `type: vfio`: the driver's PassthroughSupport feature gate is off",
            "enable the driver's PassthroughSupport (and DeviceMetadata) feature gates in its Helm values "
            "(featureGates) and make sure the IOMMU is on (intel_iommu=on / amd_iommu=on, vfio-pci loaded)",
            "class",
            gpu=chain.gpu.name,
        )


def api_unreadable(ctx: Context) -> Iterator[Hit]:
    for resource, why in sorted(ctx.idx.inv.cluster.unavailable.items()):
        yield Hit(
            Ref("APIResource", None, resource),
            f"{resource} could not be read, so the checks that need it were skipped: {why}",
            "grant get/list on it (see docs/rbac.yaml), or run `kubectl vmgpu collect` where it is allowed",
            "cluster",
        )
