"""The check registry (one explicit tuple) and the function that runs it."""

from __future__ import annotations

from dataclasses import dataclass

from ..chain import LINKS, VmiView
from ..index import dig
from ..model import Finding, Ref, Severity
from . import claim, cluster, device, launcher, vmi
from .base import Check, Context, Hit

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO

IGNORE_ANNOTATION = "vmgpu.kubevirt.io/ignore-checks"

CHECKS: tuple[Check, ...] = (
    # Cluster and configuration
    Check(
        "VG101",
        "kubevirt-missing",
        E,
        "cluster",
        "KubeVirt's API is not served",
        "No `virtualmachineinstances.kubevirt.io` API: KubeVirt is not installed or its API is down.",
        "Install KubeVirt.",
        cluster_run=cluster.kubevirt_missing,
    ),
    Check(
        "VG102",
        "dra-api-missing",
        E,
        "cluster",
        "resource.k8s.io is not served",
        "Without the DRA API no ResourceClaim can exist, so no VM gets a DRA GPU.",
        "Use Kubernetes 1.34+ (resource.k8s.io/v1 GA) or enable the API.",
        cluster_run=cluster.dra_api,
    ),
    Check(
        "VG103",
        "dra-api-beta",
        W,
        "cluster",
        "resource.k8s.io is served only as a beta version",
        "Kubernetes < 1.34 serves DRA as v1beta1/v1beta2 only; current KubeVirt and drivers target v1.",
        "Upgrade Kubernetes to 1.34 or newer.",
        cluster_run=cluster.dra_api_beta,
    ),
    Check(
        "VG104",
        "feature-gate-off",
        E,
        "cluster",
        "the KubeVirt DRA feature gate is off",
        "GPUsWithDRA (HostDevicesWithDRA for hostDevices) is Alpha in v1.6-v1.8 (must be in featureGates) and "
        "Beta, on by default, from v1.9 (off only when in disabledFeatureGates).",
        "Enable the gate in the KubeVirt CR.",
        vmi_run=cluster.feature_gate_off,
    ),
    Check(
        "VG105",
        "kubevirt-old-metadata-path",
        E,
        "cluster",
        "KubeVirt v1.8.0-v1.8.2 reads metadata at the old path",
        "These releases look in /var/run/dra-device-attributes/, which current drivers do not write.",
        "Upgrade KubeVirt to v1.8.3 or newer.",
        vmi_run=cluster.old_metadata_path,
    ),
    Check(
        "VG106",
        "device-class-missing",
        E,
        "cluster",
        "a request names a DeviceClass that does not exist",
        "The scheduler cannot allocate a request whose class is missing.",
        "Install the driver chart or fix deviceClassName.",
        vmi_run=cluster.device_class_missing,
    ),
    Check(
        "VG107",
        "driver-not-publishing",
        E,
        "cluster",
        "the class's driver publishes no ResourceSlice there",
        "No ResourceSlice of the driver on the VMI's node (or anywhere): its kubelet plugin is not running.",
        "Check the driver's kubelet-plugin pods on that node.",
        vmi_run=cluster.driver_not_publishing,
    ),
    Check(
        "VG108",
        "passthrough-not-enabled",
        E,
        "cluster",
        "no VFIO devices published for vfio.gpu.nvidia.com",
        "The NVIDIA driver publishes `type: vfio` devices only with its PassthroughSupport gate.",
        "Enable PassthroughSupport in the driver; IOMMU on.",
        vmi_run=cluster.passthrough_not_enabled,
    ),
    Check(
        "VG109",
        "api-unreadable",
        I,
        "cluster",
        "a resource could not be read",
        "A list the API server refused (RBAC, 5xx, timeout): the checks that need it are skipped, not assumed healthy.",
        "Grant get/list on it (docs/rbac.yaml) or collect a snapshot where it is allowed.",
        cluster_run=cluster.api_unreadable,
    ),
    # VMI spec
    Check(
        "VG201",
        "claim-not-declared",
        E,
        "vmi",
        "a GPU's claimName is not in spec.resourceClaims",
        "KubeVirt needs every claimName declared in spec.resourceClaims.",
        "Add the claim to spec.resourceClaims.",
        vmi_run=vmi.claim_not_declared,
    ),
    Check(
        "VG202",
        "claim-source-invalid",
        E,
        "vmi",
        "a resourceClaims entry has both or neither source",
        "Each spec.resourceClaims entry names exactly one of resourceClaimName / resourceClaimTemplateName.",
        "Set exactly one.",
        vmi_run=vmi.claim_source_invalid,
    ),
    Check(
        "VG203",
        "template-missing",
        E,
        "vmi",
        "the ResourceClaimTemplate does not exist",
        "No claim can be generated for the launcher pod from a missing template.",
        "Create the template or fix the name.",
        vmi_run=vmi.template_missing,
    ),
    Check(
        "VG204",
        "claim-missing",
        E,
        "vmi",
        "the ResourceClaim does not exist",
        "The launcher pod cannot be scheduled without its claim.",
        "Create the claim or fix the name.",
        vmi_run=vmi.claim_missing,
    ),
    Check(
        "VG205",
        "request-not-found",
        E,
        "vmi",
        "a GPU's requestName is not a request of its claim",
        "The admission webhook does not check it; the pod or virt-launcher fails later.",
        "Fix requestName.",
        vmi_run=vmi.request_not_found,
    ),
    Check(
        "VG206",
        "request-multi-device",
        E,
        "vmi",
        "a request may yield more than one device",
        "KubeVirt takes exactly one device per request; count > 1 or allocationMode All breaks it.",
        "One request per GPU, count 1.",
        vmi_run=vmi.request_multi_device,
    ),
    Check(
        "VG207",
        "not-a-passthrough-class",
        E,
        "vmi",
        "a VM GPU is claimed from a container GPU class",
        "gpu.nvidia.com / mig.nvidia.com devices are for containers, not VFIO passthrough.",
        "Use vfio.gpu.nvidia.com.",
        vmi_run=vmi.not_a_passthrough_class,
    ),
    Check(
        "VG208",
        "api-device-not-enabled",
        E,
        "vmi",
        "VfioDeviceConfig lacks iommu.enableAPIDevice: true",
        "Without it the NVIDIA driver (v0.4+) does not inject /dev/vfio/vfio, which libvirt needs.",
        "Add the opaque VfioDeviceConfig with enableAPIDevice: true.",
        vmi_run=vmi.api_device_not_enabled,
    ),
    Check(
        "VG209",
        "iommufd-unsupported",
        E,
        "vmi",
        "backendPolicy PreferIommuFD with KubeVirt < v1.9",
        "KubeVirt cannot use the iommufd backend before v1.9.",
        "Use LegacyOnly.",
        vmi_run=vmi.iommufd_unsupported,
    ),
    Check(
        "VG210",
        "vfio-config-invalid",
        E,
        "vmi",
        "the VfioDeviceConfig is invalid",
        "The driver decodes strictly: unknown fields, unknown backendPolicy, configs for missing requests or "
        "another driver, or several VFIO configs fail NodePrepareResources.",
        "Fix the config.",
        vmi_run=vmi.vfio_config_invalid,
    ),
    Check(
        "VG211",
        "vm-start-refused",
        E,
        "vmi",
        "a VirtualMachine that should run has no VMI",
        "The VM's Failure condition carries the admission webhook's refusal.",
        "Fix what the message names, on the VM.",
        vmi_run=vmi.vm_start_refused,
    ),
    Check(
        "VG212",
        "dra-mixed-with-device-plugin",
        W,
        "vmi",
        "a VMI mixes device-plugin and DRA GPUs",
        "KubeVirt v1.8.3+ rejects VMIs that mix both flows.",
        "Use one flow.",
        vmi_run=vmi.dra_mixed_with_device_plugin,
    ),
    # Launcher pod and claim
    Check(
        "VG301",
        "launcher-pod-missing",
        E,
        "claim",
        "the VMI has no running launcher pod",
        "No virt-launcher pod, or a Pending one: the scheduler's event says why.",
        "See the event.",
        vmi_run=claim.launcher_pod_missing,
    ),
    Check(
        "VG302",
        "pod-claim-not-wired",
        E,
        "claim",
        "the compute container does not list the claim",
        "Without resources.claims the container sees neither the device nor its metadata.",
        "Enable the gate / upgrade KubeVirt, restart the VM.",
        vmi_run=claim.pod_claim_not_wired,
    ),
    Check(
        "VG303",
        "claim-not-generated",
        E,
        "claim",
        "no claim was generated from the template",
        "The resource-claim controller has not created the pod's claim.",
        "Check kube-controller-manager.",
        vmi_run=claim.claim_not_generated,
    ),
    Check(
        "VG304",
        "claim-pending",
        E,
        "claim",
        "the claim is not allocated",
        "No device satisfied the request; the pod's FailedScheduling event says why.",
        "Free or add matching devices.",
        vmi_run=claim.claim_pending,
    ),
    Check(
        "VG305",
        "claim-wrong-node",
        E,
        "claim",
        "the claim is allocated on another node than the pod",
        "Node-local devices only work on the node they were allocated on.",
        "Delete the pod so it reschedules.",
        vmi_run=claim.claim_wrong_node,
    ),
    Check(
        "VG306",
        "claim-not-reserved",
        E,
        "claim",
        "the claim is not reserved for the launcher pod",
        "kubelet refuses to run a pod with a claim not reserved for it.",
        "Restart the VM.",
        vmi_run=claim.claim_not_reserved,
    ),
    Check(
        "VG307",
        "claim-deleting",
        W,
        "claim",
        "the claim is being deleted",
        "A claim with a deletionTimestamp goes away once its consumers stop.",
        "Let it finish; restart the VM.",
        vmi_run=claim.claim_deleting,
    ),
    Check(
        "VG308",
        "prepare-failed",
        E,
        "claim",
        "kubelet could not prepare the claim",
        "FailedPrepareDynamicResources: the driver's NodePrepareResources failed.",
        "See the message; a host process may hold the GPU.",
        vmi_run=claim.prepare_failed,
    ),
    Check(
        "VG309",
        "claim-not-owned",
        W,
        "claim",
        "the generated claim is not controlled by the launcher pod",
        "A stale claim left by a force-deleted pod.",
        "Delete the stale claim.",
        vmi_run=claim.claim_not_owned,
    ),
    # Device and ResourceSlice
    Check(
        "VG401",
        "device-not-published",
        E,
        "device",
        "the allocated device is in no current ResourceSlice",
        "The driver restarted, the device was removed, or the pool generation moved on.",
        "Restart the VM after the driver republishes.",
        vmi_run=device.device_not_published,
    ),
    Check(
        "VG402",
        "pool-incomplete",
        W,
        "device",
        "the device's pool is still being published",
        "Fewer current slices than resourceSliceCount, or older generations still present.",
        "Wait; check the driver.",
        vmi_run=device.pool_incomplete,
    ),
    Check(
        "VG403",
        "pci-address-missing",
        E,
        "device",
        "the device has no pciBusID (nor mdevUUID)",
        "KubeVirt cannot build a hostdev without an address.",
        "Use a driver that publishes it / a passthrough device.",
        vmi_run=device.pci_address_missing,
    ),
    Check(
        "VG404",
        "pci-address-malformed",
        E,
        "device",
        "the pciBusID is not lowercase DDDD:BB:SS.F",
        "KubeVirt parses the extended BDF form only.",
        "Driver bug: upgrade the driver.",
        vmi_run=device.pci_address_malformed,
    ),
    Check(
        "VG405",
        "device-tainted",
        W,
        "device",
        "the device carries a taint the allocation does not tolerate",
        "Warning; a NoExecute taint is an error (the pod is evicted).",
        "Fix the device or tolerate.",
        vmi_run=device.device_tainted,
    ),
    Check(
        "VG406",
        "device-double-allocated",
        E,
        "device",
        "two allocated devices share one pciBusID",
        "A GPU's gpu-N and gpu-vfio-N twins are one device; both allocated is a conflict.",
        "Delete one consumer.",
        vmi_run=device.device_double_allocated,
    ),
    # Inside the launcher
    Check(
        "VG501",
        "metadata-missing",
        E,
        "launcher",
        "no DRA metadata file where KubeVirt reads it",
        "virt-launcher reads the device's pciBusID/mdevUUID from the KEP-5304 metadata file.",
        "Enable the driver's DeviceMetadata gate.",
        vmi_run=launcher.metadata_missing,
    ),
    Check(
        "VG502",
        "metadata-unreadable",
        E,
        "launcher",
        "the metadata file cannot be used",
        "No metadata.resource.k8s.io/v1alpha1 object, several files, or not exactly one device per request.",
        "Align driver and KubeVirt versions.",
        vmi_run=launcher.metadata_unreadable,
    ),
    Check(
        "VG503",
        "pci-mismatch",
        E,
        "launcher",
        "sources disagree on the device address",
        "The pciBusID differs between the slice, metadata file, domain XML or VMI deviceStatus.",
        "Restart the VM; check the driver's slice.",
        vmi_run=launcher.pci_mismatch,
    ),
    Check(
        "VG504",
        "api-device-absent",
        E,
        "launcher",
        "/dev/vfio/vfio is missing in the compute container",
        "libvirt needs the VFIO API device to assign a PCI device.",
        "enableAPIDevice.",
        vmi_run=launcher.api_device_absent,
    ),
    Check(
        "VG505",
        "hostdev-missing",
        E,
        "launcher",
        "the domain XML has no hostdev for the GPU",
        "The running domain lacks the ua-dra-gpu-<name> hostdev.",
        "See the VMI SyncFailed events.",
        vmi_run=launcher.hostdev_missing,
    ),
    Check(
        "VG506",
        "launcher-sync-failed",
        E,
        "launcher",
        "virt-handler reports DRA SyncFailed events",
        "virt-launcher could not build the domain for a DRA device and retries forever.",
        "Message-specific.",
        vmi_run=launcher.launcher_sync_failed,
    ),
    Check(
        "VG507",
        "evidence-unavailable",
        I,
        "launcher",
        "launcher evidence could not be read",
        "exec not permitted, pod not running, tool missing, --no-exec, or not in the snapshot.",
        "Grant pods/exec or collect a snapshot.",
        vmi_run=launcher.evidence_unavailable,
    ),
)

BY_KEY = {c.id.lower(): c for c in CHECKS} | {c.name: c for c in CHECKS}


def lookup(key: str) -> Check | None:
    """A check by id (any case) or name."""
    return BY_KEY.get(key.lower())


@dataclass(frozen=True)
class Report:
    """Findings of one run: cluster-level, per VMI, and how many were silenced."""

    cluster: tuple[Finding, ...]
    by_vmi: dict[tuple[str, str], tuple[Finding, ...]]
    silenced: int


def _finding(check: Check, hit: Hit, view: VmiView | None) -> Finding:
    return Finding(
        id=check.id,
        name=check.name,
        severity=hit.severity if hit.severity is not None else check.severity,
        subject=hit.subject,
        message=hit.message,
        fix=hit.fix,
        link=hit.link,
        vmi=Ref("VirtualMachineInstance", view.namespace, view.name) if view else None,
        gpu=hit.gpu,
    )


def _annotated_ignores(view: VmiView) -> set[str]:
    out: set[str] = set()
    for obj in (view.vmi, view.vm):
        text = dig(obj, "metadata", "annotations", IGNORE_ANNOTATION)
        if isinstance(text, str):
            out |= {k.strip().lower() for k in text.split(",") if k.strip()}
    return out


def _ignored(check: Check, keys: set[str]) -> bool:
    return check.id.lower() in keys or check.name in keys


def run(ctx: Context, views: list[VmiView], ignore: frozenset[str] = frozenset()) -> Report:
    """Run every registered check; `ignore` holds ids (lower case) and names."""
    silenced = 0
    cluster_findings: list[Finding] = []
    for check in CHECKS:
        if check.cluster_run is None:
            continue
        for hit in check.cluster_run(ctx):
            if _ignored(check, set(ignore)):
                silenced += 1
            else:
                cluster_findings.append(_finding(check, hit, None))
    by_vmi: dict[tuple[str, str], tuple[Finding, ...]] = {}
    for view in views:
        keys = set(ignore) | _annotated_ignores(view)
        found = []
        for check in CHECKS:
            if check.vmi_run is None:
                continue
            for hit in check.vmi_run(ctx, view):
                if _ignored(check, keys):
                    silenced += 1
                else:
                    found.append(_finding(check, hit, view))
        gpu_order = {c.gpu.name: i for i, c in enumerate(view.chains)}
        found.sort(key=lambda f: (gpu_order.get(f.gpu or "", -1), LINKS.index(f.link) if f.link in LINKS else 99))
        by_vmi[(view.namespace, view.name)] = tuple(found)
    return Report(cluster=tuple(cluster_findings), by_vmi=by_vmi, silenced=silenced)


__all__ = ["CHECKS", "Check", "Context", "Report", "lookup", "run"]
