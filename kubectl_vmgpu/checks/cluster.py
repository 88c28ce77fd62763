"""Cluster and configuration checks: APIs served, KubeVirt gates and versions, classes, drivers."""

from __future__ import annotations

from collections.abc import Iterator

from ..chain import LinkName, VmiView
from ..model import FixPatch, Ref, Severity
from .base import ClusterCheck, Context, E, Hit, I, VmiCheck, W, gpu_label, restart

DRA_GROUP = "resource.k8s.io"
VFIO_CLASS = "vfio.gpu.nvidia.com"
NVIDIA_DRIVER = "gpu.nvidia.com"
_API = Ref("APIService", None, DRA_GROUP)


def _served(ctx: Context, group: str) -> tuple[str, ...] | None:
    """Served versions of a group: from cluster facts, else what the objects were written in."""
    return ctx.idx.served(group)


def kubevirt_missing(ctx: Context) -> Iterator[Hit]:
    """The API server does not serve kubevirt.io/v1."""
    served = ctx.idx.discovered("kubevirt.io")
    if served is not None and "v1" not in served:
        yield Hit(
            Ref("APIService", None, "kubevirt.io"),
            "the API server does not serve kubevirt.io/v1: KubeVirt is not installed (or its API is down)",
            "install KubeVirt (virt-operator and the KubeVirt CR), then check `kubectl get kubevirt -A`",
            None,
        )


def dra_api(ctx: Context) -> Iterator[Hit]:
    """The API server serves no version of resource.k8s.io."""
    served = _served(ctx, DRA_GROUP)
    if served is None or "v1" in served:
        return
    if not served:
        yield Hit(
            _API,
            "the API server does not serve resource.k8s.io: DRA is unavailable, no GPU claim can be allocated",
            "use Kubernetes 1.34 or newer (resource.k8s.io/v1 is GA and on by default)",
            None,
        )


def dra_api_beta(ctx: Context) -> Iterator[Hit]:
    """resource.k8s.io is served, but only as beta versions."""
    served = _served(ctx, DRA_GROUP)
    if served and "v1" not in served:
        yield Hit(
            _API,
            f"resource.k8s.io is served only as {', '.join(served)} (Kubernetes < 1.34): beta DRA APIs change "
            "between releases and current KubeVirt and NVIDIA drivers target v1",
            "upgrade Kubernetes to 1.34 or newer",
            None,
            severity=Severity.WARNING,
        )


def _gate_for(kind: str) -> str:
    return "GPUsWithDRA" if kind == "gpu" else "HostDevicesWithDRA"


def feature_gate_off(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """The VMI uses DRA devices but the KubeVirt CR turns their feature gate off."""
    kv = view.kubevirt
    for gate in sorted({_gate_for(c.gpu.kind) for c in view.chains}):
        if kv.meta is None or kv.gate_enabled(gate) is not False:
            continue
        devices = ", ".join(c.gpu.name for c in view.chains if _gate_for(c.gpu.kind) == gate)
        vtext = kv.label if kv.version else "this KubeVirt"
        if kv.dra_gates_beta():
            why, fix = (
                f"{gate} is listed in disabledFeatureGates (it is Beta and on by default in {vtext})",
                f"remove {gate} from spec.configuration.developerConfiguration.disabledFeatureGates",
            )
            rest = [g for g in kv.disabled_gates if g != gate]
            # null: a merge patch removes the list once empty
            gates: dict[str, list[str] | None] = {"disabledFeatureGates": rest or None}
        else:
            why, fix = (
                f"{gate} is Alpha in {vtext} and not listed in featureGates",
                f"add {gate} to spec.configuration.developerConfiguration.featureGates",
            )
            gates = {"featureGates": [*kv.enabled_gates, gate]}
        # A refused VM is retried by the VM controller; a running VMI's pod was rendered without the gate.
        then = restart(view) if view.vmi is not None else None
        yield Hit(
            kv.meta.ref,
            f"{view.namespace}/{view.name} uses DRA devices ({devices}) but {why}",
            f"kubectl edit kubevirt -n {kv.meta.namespace} {kv.meta.name}: {fix}"
            + ("; then restart the VM" if then else "; the VM controller then starts the VM"),
            LinkName.SPEC,
            fix_patch=FixPatch(
                "kubevirt.io/v1",
                "KubeVirt",
                kv.meta.namespace,
                kv.meta.name,
                "merge",
                {"spec": {"configuration": {"developerConfiguration": gates}}},
                then,
            ),
        )


def old_metadata_path(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """KubeVirt v1.8.0-v1.8.2 read DRA metadata from a folder current drivers do not write.

    Not when the launcher shows that this version's reader found every GPU's file there (a driver that
    writes the old root; v1.8.2 globs it for template claims: kubevirt v1.8.2 pkg/dra/utils.go).
    """
    kv = view.kubevirt
    found = bool(view.chains) and all(
        c.evidence.metadata is not None and c.evidence.metadata_error is None and not c.evidence.metadata_launcher_error
        for c in view.chains
    )
    if kv.uses_old_metadata_path() and kv.reads_metadata_from() == "metadata" and not found:
        yield Hit(
            kv.meta.ref if kv.meta else Ref("KubeVirt", None, "kubevirt"),
            f"KubeVirt {kv.label} reads DRA metadata from /var/run/dra-device-attributes/<claim>/<request>/, "
            "which current drivers do not write (they use /var/run/kubernetes.io/dra-device-attributes/, KEP-5304)",
            "upgrade KubeVirt to v1.8.3 or newer (kubevirt/kubevirt#17672)",
            LinkName.METADATA,
        )


def device_class_missing(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """A request names a DeviceClass that does not exist."""
    for chain in view.chains:
        if chain.class_name and chain.device_class is None:
            if not ctx.idx.inv.knows("DeviceClass", "deviceclasses.resource.k8s.io"):
                continue
            # The claim when there is one (not the template, unlike base.claim_holder): as before the views.
            holder = chain.claim or chain.template
            where = holder.meta.ref if holder else Ref("?", None, "?")
            yield Hit(
                Ref("DeviceClass", None, chain.class_name),
                f"request {chain.gpu.request_name!r} of {gpu_label(chain)} asks for device class "
                f"{chain.class_name!r}, which does not exist (scheduler: `request {chain.gpu.request_name}: "
                f"device class {chain.class_name} does not exist`)",
                f"install the DRA driver that provides {chain.class_name!r} (`kubectl get deviceclasses`), "
                f"or fix deviceClassName in {where}",
                LinkName.CLASS,
                gpu=chain.gpu.name,
            )


def driver_not_publishing(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """The class's driver publishes no ResourceSlice anywhere, or none for the VMI's node."""
    if not ctx.idx.inv.knows("ResourceSlice", "resourceslices.resource.k8s.io"):
        return
    for chain in view.chains:
        driver = chain.device_class.driver if chain.device_class else None
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
            LinkName.DEVICE,
            gpu=chain.gpu.name,
        )


def passthrough_not_enabled(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """vfio.gpu.nvidia.com is requested but the NVIDIA driver publishes no `type: vfio` device.

    The exclusions: dra-driver-nvidia-gpu pkg/featuregates/featuregates.go ValidateFeatureGates (DynamicMIG
    at v25.12.0, v0.4.0, v0.4.1; NVMLDeviceHealthCheck from v0.4.0).
    """
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
            "(featureGates) and make sure the IOMMU is on (intel_iommu=on / amd_iommu=on, vfio-pci loaded); "
            "PassthroughSupport cannot be combined with DynamicMIG, nor (driver v0.4+) with NVMLDeviceHealthCheck: "
            "the kubelet plugin refuses to start with both (`feature gate ... is currently mutually exclusive "
            "with ...`), so turn those off",
            LinkName.CLASS,
            gpu=chain.gpu.name,
        )


def api_unreadable(ctx: Context) -> Iterator[Hit]:
    """A resource the API server refused to list: the checks that need it were skipped."""
    unavailable = ctx.idx.inv.cluster.unavailable
    for resource in sorted(unavailable):
        why = unavailable[resource]
        yield Hit(
            Ref("APIResource", None, resource),
            f"{resource} could not be read, so the checks that need it were skipped: {why}",
            "grant get/list on it (see docs/rbac.yaml), or run `kubectl vmgpu collect` where it is allowed",
            None,
        )


CHECKS = (
    ClusterCheck(
        id="VG101",
        name="kubevirt-missing",
        severity=E,
        stage="cluster",
        summary="KubeVirt's API is not served",
        explanation="No `virtualmachineinstances.kubevirt.io` API: KubeVirt is not installed or its API is down.",
        fix="Install KubeVirt.",
        run=kubevirt_missing,
    ),
    ClusterCheck(
        id="VG102",
        name="dra-api-missing",
        severity=E,
        stage="cluster",
        summary="resource.k8s.io is not served",
        explanation="Without the DRA API no ResourceClaim can exist, so no VM gets a DRA GPU.",
        fix="Use Kubernetes 1.34+ (resource.k8s.io/v1 GA) or enable the API.",
        run=dra_api,
    ),
    ClusterCheck(
        id="VG103",
        name="dra-api-beta",
        severity=W,
        stage="cluster",
        summary="resource.k8s.io is served only as a beta version",
        explanation="Kubernetes < 1.34 serves DRA as v1beta1/v1beta2 only; current KubeVirt and drivers target v1.",
        fix="Upgrade Kubernetes to 1.34 or newer.",
        versions="Kubernetes < 1.34",
        run=dra_api_beta,
    ),
    VmiCheck(
        id="VG104",
        name="feature-gate-off",
        severity=E,
        stage="cluster",
        summary="the KubeVirt DRA feature gate is off",
        explanation="GPUsWithDRA (HostDevicesWithDRA for hostDevices) is Alpha in v1.6-v1.8 (must be in featureGates) "
        "and Beta, on by default, from v1.9 (off only when in disabledFeatureGates). A gate in both lists is on "
        "(explicitly enabled wins).",
        fix="Enable the gate in the KubeVirt CR.",
        versions="KubeVirt v1.6-v1.9",
        run=feature_gate_off,
    ),
    VmiCheck(
        id="VG105",
        name="kubevirt-old-metadata-path",
        severity=E,
        stage="cluster",
        summary="KubeVirt v1.8.0-v1.8.2 reads metadata at the old path",
        explanation="These releases look in /var/run/dra-device-attributes/, which current drivers do not write "
        "(silent when the launcher shows every file found there).",
        fix="Upgrade KubeVirt to v1.8.3 or newer.",
        versions="KubeVirt v1.8.0-v1.8.2",
        run=old_metadata_path,
    ),
    VmiCheck(
        id="VG106",
        name="device-class-missing",
        severity=E,
        stage="cluster",
        summary="a request names a DeviceClass that does not exist",
        explanation="The scheduler cannot allocate a request whose class is missing.",
        fix="Install the driver chart or fix deviceClassName.",
        run=device_class_missing,
    ),
    VmiCheck(
        id="VG107",
        name="driver-not-publishing",
        severity=E,
        stage="cluster",
        summary="the class's driver publishes no ResourceSlice there",
        explanation="No ResourceSlice of the driver on the VMI's node (or anywhere): its kubelet plugin is not "
        "running.",
        fix="Check the driver's kubelet-plugin pods on that node.",
        run=driver_not_publishing,
    ),
    VmiCheck(
        id="VG108",
        name="passthrough-not-enabled",
        severity=E,
        stage="cluster",
        summary="no VFIO devices published for vfio.gpu.nvidia.com",
        explanation="The NVIDIA driver publishes `type: vfio` devices only with its PassthroughSupport gate.",
        fix="Enable PassthroughSupport in the driver (not with DynamicMIG or NVMLDeviceHealthCheck); IOMMU on.",
        versions="all supported (KubeVirt v1.6-v1.9); NVIDIA DRA driver with PassthroughSupport",
        run=passthrough_not_enabled,
    ),
    ClusterCheck(
        id="VG109",
        name="api-unreadable",
        severity=I,
        stage="cluster",
        summary="a resource could not be read",
        explanation="A list the API server refused (RBAC, 5xx, timeout): the checks that need it are skipped, not "
        "assumed healthy.",
        fix="Grant get/list on it (docs/rbac.yaml) or collect a snapshot where it is allowed.",
        run=api_unreadable,
    ),
)
