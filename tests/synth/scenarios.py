"""Every scenario under tests/scenarios/: one situation each, the smallest deviation from a healthy lab.

`expect` lists only the slugs a correct tool must report; a root cause's consequences are listed only when
they are independent, certain findings (e.g. the v1.8.1 multi-request bug both loses a request on the pod
and reads the old metadata path).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .hw import L40S
from .lab import Lab
from .model import GPU_CLASS, VGPU_CLASS


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    expect: tuple[str, ...]
    build: Callable[[], Lab]
    layout: str = "kubectl"

    @property
    def healthy(self) -> bool:
        return not self.expect


def lab(name: str, gpus: int = 2, nodes: int = 2, **kw: Any) -> Lab:
    """Two GPU workers with PassthroughSupport; KubeVirt v1.9.0, Kubernetes v1.36.1, driver v0.4.1 by default."""
    node_kw = kw.pop("node_kw", {})
    lb = Lab(name, **kw)
    for i in range(nodes):
        lb.add_node(f"gpu-worker-{i + 1:02d}", gpus=gpus, **node_kw)
    return lb


def one_vm(name: str, vm_kw: dict[str, Any] | None = None, **kw: Any) -> Callable[[], Lab]:
    def build() -> Lab:
        lb = lab(name, **kw)
        lb.add_vm("rhel9-gpu", namespace="gpu-lab", **(vm_kw or {}))
        return lb

    return build


def _namespace_user() -> Lab:
    """A user limited to one namespace: cluster-scoped lists and pods/exec are forbidden."""
    lb = lab("namespace-user-forbidden-cluster-reads")
    lb.add_vm("rhel9-gpu", namespace="gpu-lab", faults={"exec-forbidden"})
    user = 'User "system:serviceaccount:gpu-lab:auditor"'
    lb.unavailable = [
        {
            "resource": f"{res}.{group}",
            "reason": f'{res}.{group} is forbidden: {user} cannot list resource "{res}" '
            f'in API group "{group}" at the cluster scope',
        }
        for res, group in (
            ("deviceclasses", "resource.k8s.io"),
            ("kubevirts", "kubevirt.io"),
            ("resourceslices", "resource.k8s.io"),
        )
    ]

    def unreadable(lab: Lab) -> None:  # what the user could not list is not in the snapshot either
        hidden = ("DeviceClass", "KubeVirt", "ResourceSlice")
        lab.objects = [(t, o) for t, o in lab.objects if o.get("kind") not in hidden]

    lb.hooks.append(unreadable)
    return lb


# ---- healthy ---------------------------------------------------------------------------------------------


def _several() -> Lab:
    lb = lab("several-vmis-one-namespace")
    lb.add_vm("llm-serve-a", namespace="inference", node="gpu-worker-01")
    lb.add_vm("llm-serve-b", namespace="inference", node="gpu-worker-01")
    lb.add_vm("llm-serve-c", namespace="inference", node="gpu-worker-02", claim="direct", claim_name="serve-c-gpu")
    return lb


def _vgpu() -> Lab:
    lb = Lab("vgpu-mdev")
    lb.add_node("r760xa-01", gpus=2, model=L40S, passthrough=False, vgpu=True)
    lb.add_vm(
        "vdi-desktop-01",
        namespace="vdi",
        device_class=VGPU_CLASS,
        vfio=None,
        vgpu=True,
        cores=4,
        memory="16Gi",
        pod_claim="vgpu-claim",
        template="l40s-12q",
        requests=["vgpu"],
    )
    return lb


def _two_gpus() -> Lab:
    lb = lab("two-gpus-one-claim", gpus=4, nodes=1)
    lb.add_vm(
        "train-2gpu", namespace="ml-team", gpus=2, cores=32, memory="256Gi", template="two-h100", pod_claim="gpus"
    )
    return lb


def _v1_7() -> Lab:
    lb = lab(
        "kubevirt-pcieroot-address-v1-7",
        kubevirt="v1.7.2",
        kubernetes="v1.34.3",
        resource_api="v1beta2",
        served=["v1", "v1beta2"],
    )
    lb.add_vm("rhel9-gpu", namespace="gpu-lab")
    return lb


# ---- breaks --------------------------------------------------------------------------------------------


def _kubevirt_missing() -> Lab:
    lb = lab("kubevirt-not-installed", kubevirt_installed=False)
    lb.add_workload("cuda-train-0", "ml-team", "gpu-worker-01", "gpu-0")
    return lb


def _dra_api_missing() -> Lab:
    """Kubernetes 1.33 with the (beta, off by default) DRA API not enabled: no resource.k8s.io group at all.

    The apiserver drops the launcher pod's resourceClaims (a disabled feature's fields), so the pod runs without
    a GPU; KubeVirt v1.7 never gets a deviceStatus and the domain is never defined.
    """
    lb = lab("dra-api-not-served", kubernetes="v1.33.5", kubevirt="v1.7.2", served=[], node_kw={"publish": False})
    lb.add_vm("rhel9-gpu", namespace="gpu-lab")
    donor = Lab("dra-api-not-served")  # the same VM on a working cluster, to borrow its running pod status
    for n in lb.nodes:
        donor.add_node(n.name, gpus=n.gpus)
    donor.add_vm("rhel9-gpu", namespace="gpu-lab")
    donor.build()

    def strip(lb: Lab) -> None:
        running = next(
            o for o in donor.all_objects() if o["kind"] == "Pod" and "virt-launcher" in o["metadata"]["name"]
        )
        keep = []
        for when, o in lb.objects:
            if o.get("apiVersion", "").startswith("resource.k8s.io/"):
                continue
            if o.get("kind") == "Event" and o.get("reason") == "FailedScheduling":
                o["action"], o["reason"], o["type"] = "Binding", "Scheduled", "Normal"
                o["message"] = f"Successfully assigned gpu-lab/{o['involvedObject']['name']} to gpu-worker-01"
            if o.get("kind") == "Pod" and o["metadata"]["name"].startswith("virt-launcher"):
                o["spec"].pop("resourceClaims", None)
                for c in o["spec"]["containers"]:
                    c["resources"].pop("claims", None)
                o["spec"]["nodeName"] = "gpu-worker-01"
                o["status"] = {k: v for k, v in running["status"].items() if k != "resourceClaimStatuses"}
                pod = o
            keep.append((when, o))
        lb.objects = keep
        for _, o in lb.objects:
            if o.get("kind") == "VirtualMachineInstance":
                st = o["status"]
                st["phase"] = "Scheduled"
                st["conditions"] = [c for c in st["conditions"] if c["type"] != "PodScheduled"]
                st["activePods"] = {pod["metadata"]["uid"]: "gpu-worker-01"}
                st["nodeName"] = "gpu-worker-01"
                o["metadata"]["labels"]["kubevirt.io/nodeName"] = "gpu-worker-01"
            if o.get("kind") == "VirtualMachine":
                o["status"]["printableStatus"] = "Starting"
                o["status"]["conditions"] = [c for c in o["status"]["conditions"] if c["type"] == "Ready"]
        base = f"evidence/gpu-lab/{pod['metadata']['name']}"
        lb.files = {k: v for k, v in lb.files.items() if not k.startswith(base)}
        lb.files[f"{base}/dev-vfio.txt"] = b""
        lb.files[f"{base}/unavailable.yaml"] = (
            b"vfio: \"ls -l /dev/vfio exited 2: ls: cannot access '/dev/vfio': No such file or directory\"\n"
            b'domain: "virsh -r dumpxml gpu-lab_rhel9-gpu exited 1: error: failed to get domain '
            b"'gpu-lab_rhel9-gpu'\"\n"
        )

    lb.hooks.append(strip)
    return lb


def _pending_all_taken() -> Lab:
    lb = lab("claim-pending-all-gpus-taken", gpus=1)
    lb.add_vm("train-a", namespace="ml-team")
    lb.add_vm("train-b", namespace="ml-team")
    lb.add_vm("train-c", namespace="ml-team")
    return lb


# ---- why is my GPU claim pending (issue 8) ----------------------------------------------------------------
# One deviation each; the FailedScheduling message is kube-scheduler's, PostFilter reason included.

NVML_NAME = "device.attributes['gpu.nvidia.com'].productName == 'NVIDIA H100 80GB HBM3'"
LOWER_ASCII = "device.attributes['gpu.nvidia.com'].productName.lowerAscii().contains('h100')"
XID_79 = {"effect": "NoSchedule", "key": "gpu.nvidia.com/xid", "value": "79"}
ZONE = "topology.kubernetes.io/zone"


def _pending_selector() -> Lab:
    """The selector names the NVML product name (what nvidia-smi and type gpu devices say); vfio devices
    publish the PCI database name, so no device of the class matches."""
    lb = lab("pending-request-selector-no-match")
    lb.add_vm("rhel9-gpu", namespace="gpu-lab", selectors=[NVML_NAME])
    return lb


def _pending_excluded_node() -> Lab:
    lb = Lab("pending-devices-only-on-excluded-node")
    lb.add_node("gpu-worker-01", gpus=1, labels={ZONE: "zone-a"})
    lb.add_node("gpu-worker-02", gpus=1, labels={ZONE: "zone-b"})
    lb.add_vm("train-a", namespace="ml-team", node="gpu-worker-01")
    lb.add_vm("train-b", namespace="ml-team", node_selector={ZONE: "zone-a"})
    return lb


def _pending_tainted() -> Lab:
    """gpu-1 fell off the bus (XID 79): the driver tainted both devices of that GPU before the VMs came."""
    lb = Lab("pending-tainted-device")
    lb.add_node("gpu-worker-01", gpus=2, device_taints={"gpu-1": [XID_79], "gpu-vfio-1": [XID_79]})
    lb.add_vm("train-a", namespace="ml-team")
    lb.add_vm("train-b", namespace="ml-team")
    return lb


def _pending_sibling() -> Lab:
    lb = lab("pending-sibling-held-by-container", nodes=1)
    lb.add_workload("cuda-train", "ml-team", "gpu-worker-01", "gpu-1")
    lb.add_vm("rhel9-gpu-a", namespace="gpu-lab")
    lb.add_vm("rhel9-gpu-b", namespace="gpu-lab")
    return lb


def _pending_unsupported_selector() -> Lab:
    """One template for the team, with a selector cel-python cannot evaluate (Kubernetes' lowerAscii)."""
    lb = lab("pending-unsupported-selector", gpus=1)
    for name in ("train-a", "train-b", "train-c"):
        lb.add_vm(name, namespace="ml-team", selectors=[LOWER_ASCII])
    return lb


def _malformed() -> Lab:
    lb = lab("pci-address-malformed", nodes=1)
    lb.add_vm("rhel9-gpu-a", namespace="gpu-lab")
    lb.add_vm("rhel9-gpu-b", namespace="gpu-lab", faults={"pci-malformed"})
    return lb


def _double() -> Lab:
    lb = lab("device-double-allocated", gpus=1, nodes=1)
    lb.add_workload("cuda-notebook", "ml-team", "gpu-worker-01", "gpu-0", prepared=False)
    lb.add_vm("rhel9-gpu", namespace="gpu-lab", faults={"gpu-busy"})
    return lb


def _pool_incomplete() -> Lab:
    lb = Lab("pool-incomplete")
    lb.add_node("gpu-worker-01", gpus=2)
    lb.add_node("gpu-worker-02", gpus=4, slices=2, missing_slices=1)
    lb.add_vm("rhel9-gpu", namespace="gpu-lab", node="gpu-worker-02")
    return lb


def _mixed() -> Lab:
    lb = lab(
        "mixed-dra-and-device-plugin",
        kubevirt="v1.7.2",
        kubernetes="v1.34.3",
        gpus=4,
        nodes=1,
        permitted_host_devices=True,
    )
    lb.add_workload("gpu-legacy", "device-plugin", "gpu-worker-01", "gpu-3")
    lb.add_vm("rhel9-gpu", namespace="gpu-lab", device_plugin_gpu=True)
    return lb


def _stranded() -> Lab:
    lb = lab("vfio-device-stranded", postfilter_message=True)
    lb.nodes[1].stranded_vfio = [1]
    lb.add_vm("rhel9-gpu", namespace="gpu-lab")
    return lb


def _mixed_v183() -> Lab:
    """v1.8.3 refuses the mix (kubevirt v1.8.3 pkg/dra/admitter rejectMixed, GPUs only)."""
    lb = lab("mixed-dra-and-device-plugin-v1-8-3", kubevirt="v1.8.3", gpus=4, nodes=1, permitted_host_devices=True,
             feature_gates=["GPUsWithDRA"])
    lb.add_workload("gpu-legacy", "device-plugin", "gpu-worker-01", "gpu-3")
    lb.add_vm("rhel9-gpu", namespace="gpu-lab", device_plugin_gpu=True)
    return lb


def _stale() -> Lab:
    lb = lab("stale-generated-claim")
    lb.add_vm("rhel9-gpu", namespace="gpu-lab", faults={"stale-claim"})
    return lb


VFIO_NO_API = {"iommu": {"backendPolicy": "LegacyOnly"}}
V18: dict[str, Any] = {"feature_gates": ["GPUsWithDRA"]}

SCENARIOS: list[Scenario] = [
    # healthy
    Scenario(
        "healthy-template-claim",
        "KubeVirt v1.9.0, Kubernetes v1.36, resource.k8s.io/v1, driver v0.4.1 with "
        "enableAPIDevice: one VM with a template claim, everything in place",
        (),
        one_vm("healthy-template-claim"),
    ),
    Scenario(
        "healthy-direct-claim",
        "a VM using a user-created ResourceClaim (resourceClaimName); metadata under resourceclaims/<claim>",
        (),
        one_vm("healthy-direct-claim", {"claim": "direct", "claim_name": "rhel9-gpu-h100"}),
    ),
    Scenario(
        "driver-v25-12-kubevirt-v1-7",
        "NVIDIA driver v25.12.0 (kubelet-plugin DaemonSet image tag; vfio devices publish `numa`): VfioDeviceConfig "
        "has no fields and /dev/vfio/vfio is always injected; KubeVirt v1.7 copies the slice's pcieRoot "
        "(pci0000:15) into status.deviceStatus and virt-launcher cannot parse it [kubevirt v1.7.0 "
        "pkg/virt-controller/watch/dra/dra.go PCIAddressDeviceAttributeKey, "
        "pkg/virt-launcher/virtwrap/device/hostdevice/dra/gpu_hostdev.go]",
        ("kubevirt-pcieroot-address",),
        one_vm(
            "driver-v25-12-kubevirt-v1-7", {"vfio": {}}, driver="v25.12.0", kubevirt="v1.7.2", kubernetes="v1.34.3"
        ),
    ),
    Scenario(
        "kubevirt-pcieroot-address-v1-7",
        "KubeVirt v1.7.2 (GPUsWithDRA in featureGates) fills VMI status.deviceStatus pciAddress from the slice "
        "attribute resource.kubernetes.io/pcieRoot, which the NVIDIA driver publishes as pci0000:15: "
        "virt-launcher fails `failed to parse pci address pci0000:15`; objects dumped as resource.k8s.io/v1beta2 "
        "[kubevirt v1.7.0 pkg/virt-controller/watch/dra/dra.go PCIAddressDeviceAttributeKey]",
        ("kubevirt-pcieroot-address",),
        _v1_7,
    ),
    Scenario(
        "kubevirt-v1-8-3-current-path",
        "KubeVirt v1.8.3 with GPUsWithDRA: reads the KEP-5304 path; the boundary of the v1.8.0-v1.8.2 trap",
        (),
        one_vm("kubevirt-v1-8-3-current-path", kubevirt="v1.8.3", **V18),
    ),
    Scenario(
        "vgpu-mdev",
        "an L40S vGPU (mediated device) through DRA: metadata carries mdevUUID, the domain an mdev hostdev",
        (),
        _vgpu,
    ),
    Scenario("two-gpus-one-claim", "one claim with two requests (gpu0, gpu1) backing two VMI GPUs", (), _two_gpus),
    Scenario(
        "first-available-subrequest",
        "a firstAvailable request: the allocation result names `dra-gpu/h100`",
        (),
        one_vm("first-available-subrequest", {"first_available": True}),
    ),
    Scenario(
        "hostdevice-dra",
        "spec.domain.devices.hostDevices with claimName/requestName on KubeVirt v1.8.3 with HostDevicesWithDRA",
        (),
        one_vm(
            "hostdevice-dra",
            {"host_devices": True},
            kubevirt="v1.8.3",
            feature_gates=["GPUsWithDRA", "HostDevicesWithDRA"],
        ),
    ),
    Scenario(
        "several-vmis-one-namespace",
        "three GPU VMs in one namespace over two nodes, two template claims and "
        "one direct claim; one multi-document file per namespace",
        (),
        _several,
        "multidoc",
    ),
    Scenario(
        "must-gather-layout",
        "a KubeVirt must-gather tree (namespaces/<ns>/vms/<vm>/<pod>.dumpxml.xml ...) "
        "plus kubectl dumps of the DRA objects beside it",
        (),
        one_vm("must-gather-layout"),
        "must-gather",
    ),
    Scenario(
        "kind-list-dump",
        "everything in one `kind: List` JSON file (kubectl get ... -A -o json)",
        (),
        one_vm("kind-list-dump", {"claim": "direct"}),
        "list",
    ),
    Scenario(
        "v1beta1-cluster",
        "Kubernetes v1.32 serving only resource.k8s.io/v1beta1 (flat requests, `basic` "
        "devices), KubeVirt v1.6.3 (which watches v1beta1 only): a beta API, and the NVIDIA pcieRoot in "
        "deviceStatus stops the VM [kubevirt v1.6.0 pkg/virt-controller/watch/dra/dra.go]",
        ("dra-api-beta", "kubevirt-pcieroot-address"),
        one_vm("v1beta1-cluster", kubernetes="v1.32.9", kubevirt="v1.6.3", resource_api="v1beta1"),
    ),
    # cluster and configuration
    Scenario(
        "kubevirt-not-installed",
        "no KubeVirt: no kubevirt.io API group, only container GPU workloads",
        ("kubevirt-missing",),
        _kubevirt_missing,
    ),
    Scenario(
        "dra-api-not-served",
        "Kubernetes v1.33 without the DRA API enabled: no resource.k8s.io group; the "
        "apiserver dropped the launcher pod's resourceClaims",
        ("dra-api-missing",),
        _dra_api_missing,
    ),
    Scenario(
        "feature-gate-off-v1-8",
        "KubeVirt v1.8.3 without GPUsWithDRA in featureGates: the VMI is refused by the webhook",
        ("feature-gate-off",),
        one_vm("feature-gate-off-v1-8", kubevirt="v1.8.3", feature_gates=[]),
    ),
    Scenario(
        "feature-gate-off-v1-9-disabled",
        "KubeVirt v1.9.0 with GPUsWithDRA in disabledFeatureGates",
        ("feature-gate-off",),
        one_vm("feature-gate-off-v1-9-disabled", disabled_gates=["GPUsWithDRA"]),
    ),
    Scenario(
        "kubevirt-old-metadata-path",
        "KubeVirt v1.8.2 looks under /var/run/dra-device-attributes; the driver writes the KEP-5304 path",
        ("kubevirt-old-metadata-path",),
        one_vm("kubevirt-old-metadata-path", kubevirt="v1.8.2", **V18),
    ),
    Scenario(
        "template-claim-old-root-v1-8-2",
        "KubeVirt v1.8.2, template claim, the driver writes the metadata under /var/run/dra-device-attributes/"
        "<claim>/<request>/ with podClaimName: v1.8.2 finds it by globbing and matching podClaimName, read as one "
        "JSON document (kubevirt v1.8.2 pkg/dra/utils.go findMetadataByPodClaimName)",
        (),
        one_vm("template-claim-old-root-v1-8-2", kubevirt="v1.8.2", metadata_old_root=True, **V18),
    ),
    Scenario(
        "multi-request-claim-v1-8-1",
        "KubeVirt v1.8.1, one claim with two requests: the pod keeps only the "
        "first request (issue 17672) and virt-launcher reads the old path",
        ("kubevirt-old-metadata-path", "pod-claim-not-wired"),
        one_vm("multi-request-claim-v1-8-1", {"gpus": 2}, kubevirt="v1.8.1", **V18),
    ),
    Scenario(
        "device-class-typo",
        "the template asks for DeviceClass vfio.nvidia.com, which does not exist",
        ("device-class-missing",),
        one_vm("device-class-typo", {"device_class": "vfio.nvidia.com"}),
    ),
    Scenario(
        "driver-not-publishing",
        "the NVIDIA kubelet plugin crash-loops on every node: no ResourceSlice",
        ("driver-not-publishing",),
        one_vm("driver-not-publishing", node_kw={"publish": False}),
    ),
    Scenario(
        "passthrough-support-disabled",
        "the driver runs without PassthroughSupport: no type vfio devices, the vfio.gpu.nvidia.com claim stays pending",
        ("passthrough-not-enabled",),
        one_vm("passthrough-support-disabled", node_kw={"passthrough": False}),
    ),
    # VMI spec
    Scenario(
        "claim-not-declared",
        "gpus[].claimName is not in spec.resourceClaims: the VMI is refused",
        ("claim-not-declared",),
        one_vm("claim-not-declared", {"declare_claim": False}),
    ),
    Scenario(
        "claim-source-both-set",
        "spec.resourceClaims[0] sets both resourceClaimName and resourceClaimTemplateName: the launcher pod is invalid",
        ("claim-source-invalid",),
        one_vm("claim-source-both-set", {"claim_source": "both"}),
    ),
    Scenario(
        "template-missing",
        "resourceClaimTemplateName names no ResourceClaimTemplate",
        ("template-missing",),
        one_vm("template-missing", {"create_template": False}),
    ),
    Scenario(
        "direct-claim-missing",
        "resourceClaimName names no ResourceClaim",
        ("claim-missing",),
        one_vm("direct-claim-missing", {"claim": "direct", "create_claim": False}),
    ),
    Scenario(
        "request-name-typo",
        "gpus[].requestName `gpu` is not a request of the template (`dra-gpu`)",
        ("request-not-found",),
        one_vm("request-name-typo", {"vmi_request_names": ["gpu"]}),
    ),
    Scenario(
        "request-count-two",
        "the request asks for count: 2; KubeVirt takes one device per request",
        ("request-multi-device",),
        one_vm("request-count-two", {"count": 2}),
    ),
    Scenario(
        "container-gpu-class",
        "the VM claims from gpu.nvidia.com: a container GPU, not a VFIO device",
        ("not-a-passthrough-class",),
        one_vm("container-gpu-class", {"device_class": GPU_CLASS, "vfio": None}),
    ),
    Scenario(
        "api-device-not-enabled",
        "VfioDeviceConfig without enableAPIDevice: no /dev/vfio/vfio, libvirt refuses to start the domain",
        ("api-device-not-enabled",),
        one_vm("api-device-not-enabled", {"vfio": VFIO_NO_API}),
    ),
    Scenario(
        "iommufd-policy-v1-7",
        "backendPolicy PreferIommuFD with KubeVirt v1.7.2",
        ("iommufd-unsupported",),
        one_vm(
            "iommufd-policy-v1-7",
            {"vfio": {"iommu": {"backendPolicy": "PreferIommuFD", "enableAPIDevice": True}}},
            kubevirt="v1.7.2",
            kubernetes="v1.34.3",
        ),
    ),
    Scenario(
        "iommufd-policy-v1-8",
        "backendPolicy PreferIommuFD with KubeVirt v1.8.3 (iommufd needs v1.9)",
        ("iommufd-unsupported",),
        one_vm(
            "iommufd-policy-v1-8",
            {"vfio": {"iommu": {"backendPolicy": "PreferIommuFD", "enableAPIDevice": True}}},
            kubevirt="v1.8.3",
            **V18,
        ),
    ),
    Scenario(
        "vfio-config-unknown-field",
        "VfioDeviceConfig with `enableApiDevice` (wrong case): strict decoding fails at prepare",
        ("vfio-config-invalid",),
        one_vm(
            "vfio-config-unknown-field", {"vfio": {"iommu": {"backendPolicy": "LegacyOnly", "enableApiDevice": True}}}
        ),
    ),
    Scenario(
        "vfio-config-bad-policy",
        "VfioDeviceConfig with backendPolicy `Legacy`",
        ("vfio-config-invalid",),
        one_vm("vfio-config-bad-policy", {"vfio": {"iommu": {"backendPolicy": "Legacy", "enableAPIDevice": True}}}),
    ),
    Scenario(
        "vm-start-refused-duplicate-request",
        "two GPUs with the same claimName/requestName: the webhook refuses the VMI, the VM carries a Failure condition",
        ("vm-start-refused",),
        one_vm("vm-start-refused-duplicate-request", {"duplicate_gpu": True}),
    ),
    Scenario(
        "mixed-dra-and-device-plugin",
        "KubeVirt v1.7.2 VMI with a deviceName GPU and a DRA GPU",
        ("dra-mixed-with-device-plugin",),
        _mixed,
    ),
    Scenario(
        "mixed-dra-and-device-plugin-v1-8-3",
        "KubeVirt v1.8.3 VM with a deviceName GPU and a DRA GPU: the webhook refuses the VMI (`contains both DRA "
        "and non-DRA GPUs`, kubevirt v1.8.3 pkg/dra/admitter/dra_admitter.go rejectMixed); hostDevices may mix "
        "(its test \"should accept a VMI with both DRA and non-DRA HostDevices\")",
        ("dra-mixed-with-device-plugin", "vm-start-refused"),
        _mixed_v183,
    ),
    Scenario(
        "vm-stopped-duplicate-request",
        "a stopped VM (runStrategy Halted) whose two GPUs share one claimName/requestName pair: the v1.9.0 "
        "admitter (kubevirt pkg/dra/admitter/dra_admitter.go) will refuse its VMI on start",
        ("vm-start-refused",),
        one_vm("vm-stopped-duplicate-request", {"duplicate_gpu": True, "run_strategy": "Halted"}),
    ),
    Scenario(
        "feature-gate-both-lists-v1-8",
        "KubeVirt v1.8.3 with GPUsWithDRA in both featureGates and disabledFeatureGates: the gate is on "
        "(explicitly enabled wins, kubevirt v1.8.0 pkg/virt-config/feature-gates.go isFeatureGateEnabled)",
        (),
        one_vm("feature-gate-both-lists-v1-8", kubevirt="v1.8.3", feature_gates=["GPUsWithDRA"],
               disabled_gates=["GPUsWithDRA"]),
    ),
    Scenario(
        "vfio-config-empty-policy",
        "VfioDeviceConfig with backendPolicy \"\": the driver's Normalize() makes it LegacyOnly before Validate() "
        "(dra-driver-nvidia-gpu v0.4.1 api/nvidia.com/resource/v1beta1/vfiodeviceconfig.go)",
        (),
        one_vm("vfio-config-empty-policy", {"vfio": {"iommu": {"backendPolicy": "", "enableAPIDevice": True}}}),
    ),
    Scenario(
        "api-device-unconfirmed-driver-v25-12",
        "NVIDIA driver v25.12.0 (no iommuFDEnabled attribute; it always injects /dev/vfio/vfio, "
        "api/nvidia.com/resource/v1beta1/vfiodeviceconfig.go has no fields at v25.12.0), no VfioDeviceConfig, and "
        "pods/exec forbidden: enableAPIDevice cannot be confirmed missing, a warning",
        ("api-device-not-enabled", "evidence-unavailable"),
        one_vm("api-device-unconfirmed-driver-v25-12", {"vfio": None, "faults": {"exec-forbidden"}},
               driver="v25.12.0", kubevirt="v1.7.2", kubernetes="v1.34.3"),
    ),
    # launcher pod and claim
    Scenario(
        "launcher-pod-quota",
        "a ResourceQuota refuses the virt-launcher pod: the VMI stays Pending",
        ("launcher-pod-missing",),
        one_vm("launcher-pod-quota", {"faults": {"pod-quota"}}),
    ),
    Scenario(
        "claim-not-generated-quota",
        "a ResourceQuota refuses the generated ResourceClaim",
        ("claim-not-generated",),
        one_vm("claim-not-generated-quota", {"faults": {"claim-quota"}}),
    ),
    Scenario(
        "claim-pending-all-gpus-taken",
        "three VMs, two passthrough GPUs: the third claim cannot be allocated",
        ("claim-pending",),
        _pending_all_taken,
    ),
    Scenario(
        "pending-request-selector-no-match",
        "the request selects productName 'NVIDIA H100 80GB HBM3' (the "
        "NVML name of type gpu devices); vfio devices publish the PCI name GH100 [H100 SXM5 80GB], so nothing "
        "matches and the claim stays pending",
        ("claim-pending",),
        _pending_selector,
    ),
    Scenario(
        "pending-devices-only-on-excluded-node",
        "the VM's nodeSelector pins zone-a, whose only GPU another VM "
        "holds; the free GPU is on gpu-worker-02 in zone-b",
        ("claim-pending",),
        _pending_excluded_node,
    ),
    Scenario(
        "pending-tainted-device",
        "gpu-vfio-1 carries the driver's gpu.nvidia.com/xid=79:NoSchedule taint and "
        "the request has no toleration; gpu-vfio-0 is taken",
        ("claim-pending",),
        _pending_tainted,
    ),
    Scenario(
        "pending-sibling-held-by-container",
        "a container pod holds gpu-1, so its twin gpu-vfio-1 cannot be allocated; gpu-vfio-0 is taken by another VM",
        ("claim-pending",),
        _pending_sibling,
    ),
    Scenario(
        "pending-unsupported-selector",
        "the template's selector uses lowerAscii() (Kubernetes CEL string "
        "library, not in cel-python); both matching GPUs are taken",
        ("claim-pending",),
        _pending_unsupported_selector,
    ),
    Scenario(
        "claim-wrong-node",
        "the direct claim is allocated on gpu-worker-01 while the pod sits on gpu-worker-02",
        ("claim-wrong-node",),
        one_vm("claim-wrong-node", {"claim": "direct", "faults": {"wrong-node"}}),
    ),
    Scenario(
        "claim-not-reserved",
        "the claim's reservedFor lacks the launcher pod; kubelet refuses it",
        ("claim-not-reserved",),
        one_vm("claim-not-reserved", {"claim": "direct", "faults": {"not-reserved"}}),
    ),
    Scenario(
        "claim-deleting",
        "someone deleted the VM's direct claim; it waits with a deletionTimestamp",
        ("claim-deleting",),
        one_vm("claim-deleting", {"claim": "direct", "faults": {"deleting"}}),
    ),
    Scenario(
        "prepare-failed-deadline",
        "kubelet NodePrepareResources times out (DeadlineExceeded)",
        ("prepare-failed",),
        one_vm("prepare-failed-deadline", {"faults": {"prepare-timeout"}}),
    ),
    Scenario(
        "stale-generated-claim",
        "a generated claim of a force-deleted launcher pod still holds a GPU",
        ("claim-not-owned",),
        _stale,
    ),
    # device and slice
    Scenario(
        "device-removed-from-slice",
        "the driver republished its pool without the allocated gpu-vfio-0",
        ("device-not-published",),
        one_vm("device-removed-from-slice", {"faults": {"device-gone"}}),
    ),
    Scenario(
        "pool-incomplete",
        "the VM's device comes from gpu-worker-02's pool, which says resourceSliceCount 2 but has one slice published",
        ("pool-incomplete",),
        _pool_incomplete,
    ),
    Scenario(
        "pci-address-missing",
        "the allocated vfio device publishes no resource.kubernetes.io/pciBusID",
        ("pci-address-missing",),
        one_vm("pci-address-missing", {"faults": {"no-pci"}}),
    ),
    Scenario(
        "pci-address-malformed",
        "the driver publishes NVML's bus id form 00000000:3b:00.0 (8-digit domain), which KubeVirt's "
        "PCI_ADDRESS_PATTERN (pkg/util/hardware/hw_utils.go) refuses: `failed to parse pci address`",
        ("pci-address-malformed",),
        _malformed,
    ),
    Scenario(
        "pci-address-uppercase",
        "the driver publishes an uppercase pciBusID (0000:3B:00.0); KubeVirt's PCI_ADDRESS_PATTERN "
        "(pkg/util/hardware/hw_utils.go, [0-9a-fA-F]) accepts it",
        (),
        one_vm("pci-address-uppercase", {"faults": {"pci-uppercase"}}),
    ),
    Scenario(
        "device-tainted",
        "the allocated device got a NoSchedule taint (XID 79) after allocation",
        ("device-tainted",),
        one_vm("device-tainted", {"faults": {"taint"}}),
    ),
    Scenario(
        "device-double-allocated",
        "a container pod holds gpu-0 and the VM claim got its twin gpu-vfio-0",
        ("device-double-allocated",),
        _double,
    ),
    # inside the launcher
    Scenario(
        "metadata-missing-devicemetadata-off",
        "the driver runs without DeviceMetadata: no metadata file",
        ("metadata-missing",),
        one_vm("metadata-missing-devicemetadata-off", device_metadata=False),
    ),
    Scenario(
        "metadata-v1beta1-only",
        "the metadata stream holds only metadata.resource.k8s.io/v1beta1",
        ("metadata-unreadable",),
        one_vm("metadata-v1beta1-only", {"faults": {"metadata-v1beta1"}}),
    ),
    Scenario(
        "pci-mismatch-metadata",
        "the slice says 0000:1a:00.0, metadata and domain 0000:19:00.0 (driver republished after a renumbering)",
        ("pci-mismatch",),
        one_vm("pci-mismatch-metadata", {"faults": {"pci-mismatch"}}),
    ),
    Scenario(
        "pci-mismatch-devicestatus-v1-7",
        "KubeVirt v1.7.2: VMI deviceStatus pciAddress (another GPU's pcieRoot) differs from the pcieRoot of the "
        "allocated device, the attribute virt-controller copies [kubevirt v1.7.0 pkg/virt-controller/watch/dra/dra.go]",
        ("pci-mismatch",),
        one_vm(
            "pci-mismatch-devicestatus-v1-7",
            {"faults": {"devicestatus-mismatch"}},
            kubevirt="v1.7.2",
            kubernetes="v1.34.3",
        ),
    ),
    Scenario(
        "vfio-api-device-absent-prebound-gpu",
        "enableAPIDevice is set but /dev/vfio/vfio is missing (GPU already on vfio-pci, driver CDI bug)",
        ("api-device-absent",),
        one_vm("vfio-api-device-absent-prebound-gpu", {"faults": {"prebound"}}),
    ),
    Scenario(
        "hostdev-detached",
        "the VMI runs but its domain has no ua-dra-gpu-gpu0 hostdev (detached by hand)",
        ("hostdev-missing",),
        one_vm("hostdev-detached", {"faults": {"hostdev-detached"}}),
    ),
    Scenario(
        "launcher-memlock",
        "libvirt cannot raise the memlock limit for VFIO in a non-root DRA launcher (KubeVirt v1.9.0): SyncFailed "
        "`cannot limit locked memory of process 77: Operation not permitted` [kubevirt issues 17674, 17694]",
        ("launcher-memlock-denied", "launcher-sync-failed"),
        one_vm("launcher-memlock", {"faults": {"memlock"}}),
    ),
    Scenario(
        "iommufd-mode-v1-9-gate",
        "KubeVirt v1.9.0 with the Alpha IOMMUFD gate, backendPolicy PreferIommuFD and enableAPIDevice on a host "
        "with iommufd: the driver injects /dev/iommu and /dev/vfio/devices/vfio0, no /dev/vfio/vfio "
        "[dra-driver-nvidia-gpu vfio-cdi.go GetCommonEdits; kubevirt v1.9.0 featuregate/active.go IOMMUFDGate]",
        (),
        one_vm(
            "iommufd-mode-v1-9-gate",
            {"vfio": {"iommu": {"backendPolicy": "PreferIommuFD", "enableAPIDevice": True}}},
            feature_gates=["IOMMUFD"],
            postfilter_message=True,
        ),
    ),
    Scenario(
        "iommufd-policy-v1-9-no-gate",
        "backendPolicy PreferIommuFD with KubeVirt v1.9.0 but without its Alpha IOMMUFD gate "
        "[kubevirt v1.9.0 pkg/virt-config/featuregate/active.go IOMMUFDGate]",
        ("iommufd-unsupported", "launcher-sync-failed"),
        one_vm(
            "iommufd-policy-v1-9-no-gate",
            {"vfio": {"iommu": {"backendPolicy": "PreferIommuFD", "enableAPIDevice": True}}},
            postfilter_message=True,
        ),
    ),
    Scenario(
        "iommufd-api-device-absent",
        "iommufd mode (KubeVirt v1.9.0 with IOMMUFD, PreferIommuFD, enableAPIDevice) but the driver's CDI spec "
        "misses /dev/iommu (GPU already on vfio-pci) [dra-driver-nvidia-gpu vfio-cdi.go GetCommonEdits]",
        ("api-device-absent", "launcher-sync-failed"),
        one_vm(
            "iommufd-api-device-absent",
            {"vfio": {"iommu": {"backendPolicy": "PreferIommuFD", "enableAPIDevice": True}}, "faults": {"prebound"}},
            feature_gates=["IOMMUFD"],
            postfilter_message=True,
        ),
    ),
    Scenario(
        "vfio-device-stranded",
        "gpu-vfio-1 on gpu-worker-02 stayed on vfio-pci after a failed unbind: published without its gpu-1 twin "
        "while no claim holds it [dra-driver-nvidia-gpu issues 1089, 1331]; the VM itself is healthy",
        ("vfio-device-stranded",),
        _stranded,
    ),
    Scenario(
        "namespace-user-forbidden-cluster-reads",
        "a namespace-scoped user: cluster-scoped lists and pods/exec are forbidden",
        ("evidence-unavailable",),
        _namespace_user,
    ),
    Scenario(
        "exec-forbidden",
        "pods/exec is forbidden: the launcher could not be inspected",
        ("evidence-unavailable",),
        one_vm("exec-forbidden", {"faults": {"exec-forbidden"}}),
    ),
]

BY_NAME = {s.name: s for s in SCENARIOS}
