"""KubeVirt's DRA admitter model against upstream's own vectors (kubevirt pkg/dra/admitter/dra_admitter_test.go).

Each case mirrors one upstream It/Entry at the tags named in its id and asserts the full list of causes
(message and field) that upstream's dra_admitter.go at that tag returns; upstream itself often checks
only a substring. Ids `<tag>-dra_admitter.go-...` are derived from the source where no upstream test
exists (v1.6.0/v1.7.x have no test file; v1.8.0's index paths; v1.9.0's network pairs).
Go's `&v1.ClaimRequest{}` with nil fields cannot come out of JSON (the inline pointer is only allocated
when a key is present), so those vectors are mirrored with both keys set to "".
"""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from kubectl_vmgpu.admission import (
    Cause,
    ClaimSource,
    DeviceEntry,
    DeviceKind,
    Gates,
    admit,
    inputs,
    webhook_message,
)
from kubectl_vmgpu.build import vmi_devices
from kubectl_vmgpu.views import KubeVirt


def entries_from_spec(raw: dict[str, Any]) -> tuple[tuple[DeviceEntry, ...], tuple[ClaimSource, ...]]:
    """The product's path: build reads the raw spec, admission.inputs types it for the admitter."""
    return inputs(vmi_devices(raw))

GPUS, HDS, RCS = "spec.domain.devices.gpus", "spec.domain.devices.hostDevices", "spec.resourceClaims"
BOTH_GPU = "vmi.spec.domain.devices.gpus contains GPUs with both deviceName and claimRequest"
BOTH_HD = "vmi.spec.domain.devices.hostDevices contains HostDevices with both deviceName and claimRequest"
GATE_GPU = "vmi.spec.domain.devices.gpus contains DRA enabled GPUs but feature gate is not enabled"
GATE_HD = "vmi.spec.domain.devices.hostDevices contains DRA enabled HostDevices but feature gate is not enabled"
SUPERSET = ("vmi.spec.resourceClaims must specify all claims used in vmi.spec.domain.devices.gpus and "
            "vmi.spec.domain.devices.hostDevices")
MIXED_GPU = "vmi.spec.domain.devices.gpus contains both DRA and non-DRA GPUs; each GPU must be either DRA or non-DRA"
CLAIM_GPU, REQ_GPU = "claimName is required for DRA GPU", "requestName is required for DRA GPU"
CLAIM_HD, REQ_HD = "claimName is required for DRA HostDevice", "requestName is required for DRA HostDevice"
DUP11 = 'duplicate claimName/requestName pair "claim1/req1"'
LABEL_ERR = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
             "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
SUBDOMAIN_ERR = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
                 "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
                 "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")

NONE, GPU_ON, HD_ON, BOTH_ON = Gates(False, False), Gates(True, False), Gates(False, True), Gates(True, True)


def dev(name: str, claim: str | None = None, req: str | None = None, device: str | None = None) -> dict[str, Any]:
    """A gpus[]/hostDevices[] entry as JSON: only the keys given are present."""
    out: dict[str, Any] = {"name": name}
    for key, value in (("deviceName", device), ("claimName", claim), ("requestName", req)):
        if value is not None:
            out[key] = value
    return out


def spec(rcs: list[Any] | None = None, gpus: list[Any] | None = None, hds: list[Any] | None = None,
         nets: list[Any] | None = None) -> dict[str, Any]:
    devices: dict[str, Any] = {}
    if gpus is not None:
        devices["gpus"] = gpus
    if hds is not None:
        devices["hostDevices"] = hds
    out: dict[str, Any] = {"domain": {"devices": devices}}
    if rcs is not None:
        out["resourceClaims"] = rcs
    if nets is not None:
        out["networks"] = nets
    return out


def pod_rc(*names: str) -> list[dict[str, Any]]:
    """v1.8 tests: k8sv1.PodResourceClaim{Name: n} (no source)."""
    return [{"name": n} for n in names]


def rc(*names: str) -> list[dict[str, Any]]:
    """v1.9 tests' resourceClaim(n): {Name: n, ResourceClaimName: n}."""
    return [{"name": n, "resourceClaimName": n} for n in names]


class Vector(NamedTuple):
    name: str
    tags: tuple[str, ...]
    gates: Gates
    spec: dict[str, Any]
    want: list[tuple[str, str]]
    pod_claims: bool = True  # v1.9.0 rewrote PodResourceClaim{Name: n} as resourceClaim(n), which names a source


V18 = ("v1.8.0", "v1.8.3")
V183, V19, ALL18 = ("v1.8.3",), ("v1.9.0",), ("v1.8.0", "v1.8.3", "v1.9.0")
g11, h11 = dev("gpu1", "claim1", "req1"), dev("hd1", "claim1", "req1")
plain_gpu, plain_hd = dev("gpu1", device="vfio.gpu.example.com"), dev("hd1", device="vfio.device.example.com")

VECTORS = [
    # --- in the test file of every tag from v1.8.0 (v1.9.0 rewrote them with its helpers) ---
    Vector("no-gpus-or-hostdevices", ALL18, NONE, spec(), []),
    Vector("gpu-with-devicename", ALL18, NONE, spec(gpus=[plain_gpu]), []),
    Vector("gpu-devicename-and-claimrequest", ALL18, GPU_ON,
           spec(gpus=[dev("gpu1", "claim1", "req1", "vfio.gpu.example.com")]), [(BOTH_GPU, GPUS)]),
    Vector("gpu-gate-off", ALL18, NONE, spec(gpus=[g11]), [(GATE_GPU, GPUS)]),
    Vector("gpu-claimname-nil", V18, GPU_ON, spec(pod_rc("claim1"), [dev("gpu1", req="req1")]),
           [(CLAIM_GPU, GPUS + "[0].claimName")]),
    Vector("gpu-claimname-empty", V18, GPU_ON, spec(pod_rc("claim1"), [dev("gpu1", "", "req1")]),
           [(CLAIM_GPU, GPUS + "[0].claimName")]),
    Vector("gpu-requestname-nil", V18, GPU_ON, spec(pod_rc("claim1"), [dev("gpu1", "claim1")]),
           [(REQ_GPU, GPUS + "[0].requestName")]),
    Vector("gpu-requestname-empty", V18, GPU_ON, spec(pod_rc("claim1"), [dev("gpu1", "claim1", "")]),
           [(REQ_GPU, GPUS + "[0].requestName")]),
    Vector("gpu-claimname-and-requestname-missing", V18, GPU_ON, spec(pod_rc("claim1"), [dev("gpu1", "", "")]),
           [(CLAIM_GPU, GPUS + "[0].claimName"), (REQ_GPU, GPUS + "[0].requestName")]),
    Vector("resourceclaims-duplicate-name", ALL18, GPU_ON, spec(pod_rc("claim1", "claim1"), [g11]),
           [('duplicate resourceClaims name "claim1"', RCS + "[1].name")]),
    Vector("gpu-claim-not-in-resourceclaims", ALL18, GPU_ON, spec(pod_rc("other-claim"), [g11]), [(SUPERSET, RCS)]),
    Vector("one-of-multiple-claims-missing", ALL18, GPU_ON,
           spec(pod_rc("claim1"), [g11, dev("gpu2", "claim2", "req2")]), [(SUPERSET, RCS)]),
    Vector("single-valid-gpu", V18, GPU_ON, spec(pod_rc("claim1"), [g11]), []),
    Vector("multiple-valid-gpus", V18, GPU_ON,
           spec(pod_rc("claim1", "claim2"), [g11, dev("gpu2", "claim2", "req2")]), []),
    Vector("gpu-duplicate-pair", V18, GPU_ON, spec(pod_rc("claim1"), [g11, dev("gpu2", "claim1", "req1")]),
           [(DUP11, GPUS + "[1]")]),
    Vector("gpu-same-claim-different-requests", V18, GPU_ON,
           spec(pod_rc("claim1"), [g11, dev("gpu2", "claim1", "req2")]), []),
    Vector("hostdevice-with-devicename", ALL18, NONE, spec(hds=[plain_hd]), []),
    Vector("hostdevice-devicename-and-claimrequest", ALL18, HD_ON,
           spec(hds=[dev("hd1", "claim1", "req1", "vfio.device.example.com")]), [(BOTH_HD, HDS)]),
    Vector("hostdevice-gate-off", ALL18, NONE, spec(hds=[h11]), [(GATE_HD, HDS)]),
    Vector("hostdevice-claimname-nil", V18, HD_ON, spec(pod_rc("claim1"), hds=[dev("hd1", req="req1")]),
           [(CLAIM_HD, HDS + "[0].claimName")]),
    Vector("hostdevice-claimname-empty", V18, HD_ON, spec(pod_rc("claim1"), hds=[dev("hd1", "", "req1")]),
           [(CLAIM_HD, HDS + "[0].claimName")]),
    Vector("hostdevice-requestname-nil", V18, HD_ON, spec(pod_rc("claim1"), hds=[dev("hd1", "claim1")]),
           [(REQ_HD, HDS + "[0].requestName")]),
    Vector("hostdevice-requestname-empty", V18, HD_ON, spec(pod_rc("claim1"), hds=[dev("hd1", "claim1", "")]),
           [(REQ_HD, HDS + "[0].requestName")]),
    Vector("hostdevice-claimname-and-requestname-missing", V18, HD_ON, spec(pod_rc("claim1"), hds=[dev("hd1", "", "")]),
           [(CLAIM_HD, HDS + "[0].claimName"), (REQ_HD, HDS + "[0].requestName")]),
    Vector("hostdevice-claim-not-in-resourceclaims", ALL18, HD_ON, spec(pod_rc("other-claim"), hds=[h11]),
           [(SUPERSET, RCS)]),
    Vector("single-valid-hostdevice", V18, HD_ON, spec(pod_rc("claim1"), hds=[h11]), []),
    Vector("multiple-valid-hostdevices", V18, HD_ON,
           spec(pod_rc("claim1", "claim2"), hds=[h11, dev("hd2", "claim2", "req2")]), []),
    Vector("hostdevice-duplicate-pair", V18, HD_ON, spec(pod_rc("claim1"), hds=[h11, dev("hd2", "claim1", "req1")]),
           [(DUP11, HDS + "[1]")]),
    Vector("hostdevice-same-claim-different-requests", V18, HD_ON,
           spec(pod_rc("claim1"), hds=[h11, dev("hd2", "claim1", "req2")]), []),
    Vector("gpu-and-hostdevice-claims-present", ALL18, BOTH_ON,
           spec(pod_rc("gpu-claim", "hd-claim"), [dev("gpu1", "gpu-claim", "req1")], [dev("hd1", "hd-claim", "req1")]),
           []),
    Vector("hostdevice-claim-missing-gpu-claim-present", ALL18, BOTH_ON,
           spec(pod_rc("gpu-claim"), [dev("gpu1", "gpu-claim", "req1")], [dev("hd1", "hd-claim", "req1")]),
           [(SUPERSET, RCS)]),
    Vector("gpu-and-hostdevice-share-claim", ALL18, BOTH_ON,
           spec(pod_rc("shared-claim"), [dev("gpu1", "shared-claim", "gpu-req")],
                [dev("hd1", "shared-claim", "hd-req")]),
           []),
    Vector("validatecreation-delegates", ALL18, GPU_ON, spec(pod_rc("claim1"), [g11]), []),
    Vector("validate-delegates", ALL18, NONE, spec(gpus=[g11]), [(GATE_GPU, GPUS)]),
    # --- added in v1.8.3 (kept in v1.9.0) ---
    Vector("mixed-dra-and-non-dra-gpus", V183 + V19, GPU_ON,
           spec(gpus=[dev("dp-gpu", device="vfio.gpu.example.com"), dev("dra-gpu", "claim1", "req1")]),
           [(MIXED_GPU, GPUS)]),
    Vector("gpu-index-accuracy", V183 + V19, GPU_ON,
           spec(pod_rc("claim1"), [dev("gpu-invalid", req="req1"), dev("gpu-a", "claim1", "req1"),
                                   dev("gpu-dup", "claim1", "req1")]),
           [(CLAIM_GPU, GPUS + "[0].claimName"), (DUP11, GPUS + "[2]")]),
    Vector("mixed-dra-and-non-dra-hostdevices-accepted", V183 + V19, HD_ON,
           spec(pod_rc("claim1"), hds=[dev("dp-hd", device="vfio.device.example.com"),
                                       dev("dra-hd", "claim1", "req1")]),
           []),
    Vector("hostdevice-index-missing-claimname", V183 + V19, HD_ON,
           spec(pod_rc("claim1"), hds=[dev("dp-hd", device="vfio.device.example.com"),
                                       dev("dra-hd-invalid", req="req1")]),
           [(CLAIM_HD, HDS + "[1].claimName")]),
    Vector("hostdevice-index-duplicate-interspersed", V183 + V19, HD_ON,
           spec(pod_rc("claim1"), hds=[dev("dp-hd", device="vfio.device.example.com"),
                                       dev("dra-hd-a", "claim1", "req1"),
                                       dev("dp-hd-2", device="another.device.example.com"),
                                       dev("dra-hd-dup", "claim1", "req1")]),
           [(DUP11, HDS + "[3]")]),
    Vector("hostdevice-index-invalid-after-non-dra", V183 + V19, HD_ON,
           spec(pod_rc("claim1"), hds=[dev("dp-hd-1", device="vfio.device1.example.com"),
                                       dev("dp-hd-2", device="vfio.device2.example.com"),
                                       dev("dra-hd-invalid", "", "")]),
           [(CLAIM_HD, HDS + "[2].claimName"), (REQ_HD, HDS + "[2].requestName")]),
    Vector("gpu-hostdevice-same-pair", V183 + V19, BOTH_ON,
           spec(pod_rc("shared-claim"), [dev("gpu1", "shared-claim", "shared-req")],
                [dev("hd1", "shared-claim", "shared-req")]),
           [('duplicate claimName/requestName pair "shared-claim/shared-req" between GPUs[0] and HostDevices[0]',
             HDS + "[0]")]),
]

V19_VECTORS = [
    Vector("resource-claim-direct-reference", V19, NONE, spec(rc("claim1")), []),
    Vector("resource-claim-template-reference", V19, NONE,
           spec([{"name": "claim1", "resourceClaimTemplateName": "template1"}]), []),
    Vector("resource-claim-without-name", V19, NONE, spec([{"resourceClaimName": "claim1"}]),
           [("spec.resourceClaims[0].name is a required field", RCS + "[0].name")]),
    Vector("resource-claim-duplicate-name", V19, NONE, spec(rc("claim1", "claim1")),
           [('duplicate resourceClaims name "claim1"', RCS + "[1].name")]),
    Vector("resource-claim-invalid-name", V19, NONE, spec([{"name": "../claim1", "resourceClaimName": "claim1"}]),
           [("spec.resourceClaims[0].name does not conform to the kubernetes DNS_LABEL rules: " + LABEL_ERR,
             RCS + "[0].name")]),
    Vector("resource-claim-invalid-resourceclaimname", V19, NONE,
           spec([{"name": "claim1", "resourceClaimName": "../claim1"}]),
           [(SUBDOMAIN_ERR, RCS + "[0].resourceClaimName")]),
    Vector("resource-claim-invalid-resourceclaimtemplatename", V19, NONE,
           spec([{"name": "claim1", "resourceClaimTemplateName": "../claim-template"}]),
           [(SUBDOMAIN_ERR, RCS + "[0].resourceClaimTemplateName")]),
    Vector("resource-claim-both-sources", V19, NONE,
           spec([{"name": "claim1", "resourceClaimName": "claim1", "resourceClaimTemplateName": "template1"}]),
           [("at most one of resourceClaimName or resourceClaimTemplateName may be specified", RCS + "[0]")]),
    Vector("resource-claim-no-source", V19, NONE, spec([{"name": "claim1"}]),
           [("must specify one of: resourceClaimName, resourceClaimTemplateName", RCS + "[0]")], pod_claims=False),
    Vector("dra-device-empty-claimname-GPU", V19, GPU_ON, spec(rc("claim1"), [dev("gpu1", "", "req1")]),
           [(CLAIM_GPU, GPUS + "[0].claimName")]),
    Vector("dra-device-empty-claimname-HostDevice", V19, HD_ON, spec(rc("claim1"), hds=[dev("hd1", "", "req1")]),
           [(CLAIM_HD, HDS + "[0].claimName")]),
    Vector("dra-device-empty-requestname-GPU", V19, GPU_ON, spec(rc("claim1"), [dev("gpu1", "claim1", "")]),
           [(REQ_GPU, GPUS + "[0].requestName")]),
    Vector("dra-device-empty-requestname-HostDevice", V19, HD_ON, spec(rc("claim1"), hds=[dev("hd1", "claim1", "")]),
           [(REQ_HD, HDS + "[0].requestName")]),
    Vector("dra-device-empty-claimname-and-requestname-GPU", V19, GPU_ON, spec(rc("claim1"), [dev("gpu1", "", "")]),
           [(CLAIM_GPU, GPUS + "[0].claimName"), (REQ_GPU, GPUS + "[0].requestName")]),
    Vector("dra-device-empty-claimname-and-requestname-HostDevice", V19, HD_ON,
           spec(rc("claim1"), hds=[dev("hd1", "", "")]),
           [(CLAIM_HD, HDS + "[0].claimName"), (REQ_HD, HDS + "[0].requestName")]),
]


def for_tag(vector: Vector, tag: str) -> dict[str, Any]:
    claims = vector.spec.get("resourceClaims")
    if tag < "v1.9.0" or not vector.pod_claims or claims is None:
        return vector.spec
    named = [{**c, "resourceClaimName": c["name"]} if set(c) == {"name"} else c for c in claims]
    return {**vector.spec, "resourceClaims": named}


def _release(version: tuple[int, int, int] | None) -> str | None:
    """The admitter release the product's KubeVirt view picks for a version."""
    return KubeVirt(version=version).admitter_release()


def version(tag: str) -> tuple[int, int, int]:
    major, minor, patch = (int(p) for p in tag[1:].split("."))
    return major, minor, patch


def run(tag: str, gates: Gates, raw: dict[str, Any], root: str = "spec") -> list[tuple[str, str]]:
    entries, sources = entries_from_spec(raw)
    return [(r.message, r.field) for r in admit(_release(version(tag)), gates, entries, sources, root)]


@pytest.mark.parametrize(
    ("tag", "vector"),
    [pytest.param(tag, v, id=f"{tag}-admitter_test-{v.name}") for v in VECTORS + V19_VECTORS for tag in v.tags],
)
def test_upstream_vector(tag: str, vector: Vector) -> None:
    assert run(tag, vector.gates, for_tag(vector, tag)) == vector.want


@pytest.mark.parametrize(("kind", "gates", "field"), [("gpus", GPU_ON, GPUS), ("hostDevices", HD_ON, HDS)],
                         ids=["v1.9.0-admitter_test-valid-and-duplicate-pairs-GPU",
                              "v1.9.0-admitter_test-valid-and-duplicate-pairs-HostDevice"])
def test_v190_valid_and_duplicate_pairs(kind: str, gates: Gates, field: str) -> None:
    def pair_spec(claims: list[Any], c1: str, r1: str, c2: str, r2: str) -> dict[str, Any]:
        return {"resourceClaims": claims, "domain": {"devices": {kind: [dev("d1", c1, r1), dev("d2", c2, r2)]}}}

    single = {"resourceClaims": rc("claim1"), "domain": {"devices": {kind: [dev("d1", "claim1", "req1")]}}}
    assert run("v1.9.0", gates, single) == []
    assert run("v1.9.0", gates, pair_spec(rc("claim1", "claim2"), "claim1", "req1", "claim2", "req2")) == []
    assert run("v1.9.0", gates, pair_spec(rc("claim1"), "claim1", "req1", "claim1", "req1")) == [(DUP11, field + "[1]")]
    assert run("v1.9.0", gates, pair_spec(rc("claim1"), "claim1", "req1", "claim1", "req2")) == []


# --- derived from the source where upstream has no vector -------------------------------------------

V16_GPUS = "spec.spec.domain.devices.gpus"  # v1.6/v1.7 field.Child("spec", "domain", ...) under "spec"
DERIVED = [
    Vector("v16-gpu-without-devicename-stops", ("v1.6.0", "v1.7.0"), GPU_ON,
           spec(gpus=[{"name": "gpu1"}, dev("gpu2", "missing", "req1")]),
           [("vmi.spec.domain.devices.gpus contains GPUs without deviceName", V16_GPUS)]),
    Vector("v16-both-devicename-and-claim", ("v1.6.0", "v1.7.4"), GPU_ON,
           spec(gpus=[dev("gpu1", "claim1", "req1", "vfio.gpu.example.com")]), [(BOTH_GPU, V16_GPUS)]),
    Vector("v16-gate-off", ("v1.6.0", "v1.7.0"), NONE, spec(gpus=[g11]), [(GATE_GPU, V16_GPUS)]),
    Vector("v16-claim-not-in-resourceclaims", ("v1.6.0", "v1.7.0"), GPU_ON, spec(pod_rc("other"), [g11]),
           [("vmi.spec.resourceClaims must specify all claims used in vmi.spec.domain.devices.gpus", RCS)]),
    Vector("v16-no-requestname-duplicate-or-name-checks", ("v1.6.0", "v1.7.0"), GPU_ON,
           spec(pod_rc("claim1", "claim1"), [dev("gpu1", "claim1"), g11, dev("gpu3", "claim1", "req1")]), []),
    Vector("v16-hostdevices-unchecked", ("v1.6.0", "v1.7.0"), NONE,
           spec(hds=[{"name": "hd1"}, dev("hd2", "nowhere", "req1")]), []),
    Vector("v16-mixed-gpus-accepted", ("v1.6.0", "v1.7.0"), GPU_ON, spec(pod_rc("claim1"), [plain_gpu, g11]), []),
    Vector("neither-devicename-nor-claim", ALL18, BOTH_ON, spec(gpus=[{"name": "g"}], hds=[{"name": "h"}]),
           [("vmi.spec.domain.devices.gpus contains GPUs without deviceName or claimRequest; each GPU must specify "
             "either a deviceName or a claimRequest", GPUS),
            ("vmi.spec.domain.devices.hostDevices contains HostDevices without deviceName or claimRequest; each "
             "HostDevice must specify either a deviceName or a claimRequest", HDS)]),
    Vector("v183-empty-gpu-counts-as-non-dra", V183 + V19, GPU_ON, spec(rc("claim1"), [{"name": "g"}, g11]),
           [(MIXED_GPU, GPUS)]),
    Vector("v180-gpu-index-within-dra-list", ("v1.8.0",), GPU_ON,
           spec(pod_rc("claim1"), [dev("gpu-invalid", req="req1"), dev("gpu-a", "claim1", "req1"),
                                   dev("gpu-dup", "claim1", "req1")]),
           [(CLAIM_GPU, GPUS + "[0].claimName"), (DUP11, GPUS + "[1]")]),
    Vector("v180-hostdevice-index-within-dra-list", ("v1.8.0", "v1.8.2"), HD_ON,
           spec(pod_rc("claim1"), hds=[plain_hd, dev("dra-hd-a", "claim1", "req1"), plain_hd,
                                       dev("dra-hd-dup", "claim1", "req1"), dev("dra-hd-invalid", req="r")]),
           [(CLAIM_HD, HDS + "[2].claimName"), (DUP11, HDS + "[1]")]),
    Vector("v180-mixed-gpus-not-rejected", ("v1.8.0",), GPU_ON, spec(gpus=[plain_gpu, g11]), [(SUPERSET, RCS)]),
    Vector("v180-no-cross-list-pair-check", ("v1.8.0", "v1.8.2"), BOTH_ON, spec(pod_rc("claim1"), [g11], [h11]), []),
    Vector("v183-required-before-duplicates", ("v1.8.3", "v1.8.4"), GPU_ON,
           spec(pod_rc("claim1"), [g11, dev("gpu2", "claim1", "req1"), dev("gpu3", req="req1")]),
           [(CLAIM_GPU, GPUS + "[2].claimName"), (DUP11, GPUS + "[1]")]),
    Vector("v190-causes-per-entry", V19, GPU_ON,
           spec(rc("claim1"), [g11, dev("gpu2", "claim1", "req1"), dev("gpu3", req="req1")]),
           [(DUP11, GPUS + "[1]"), (CLAIM_GPU, GPUS + "[2].claimName")]),
    Vector("v183-gate-off-list-has-no-pairs", V183 + V19, HD_ON, spec(pod_rc("claim1"), [g11], [h11]),
           [(GATE_GPU, GPUS)]),
    Vector("v190-network-pair-clash", V19, Gates(True, True, True),
           spec(rc("claim1"), [g11], [dev("hd1", "claim1", "req2")],
                [{"name": "default", "pod": {}}, {"name": "net1", "resourceClaim": {"claimName": "claim1",
                                                                                   "requestName": "req2"}}]),
           [('duplicate claimName/requestName pair "claim1/req2" between HostDevices[0] and Networks[1]',
             "spec.networks[1]")]),
    Vector("v183-networks-not-compared", V183, Gates(True, True, True),
           spec(pod_rc("claim1"), [g11], nets=[{"name": "n", "resourceClaim": {"claimName": "claim1",
                                                                                "requestName": "req1"}}]),
           []),
    Vector("v190-network-pairs-ignored-with-gate-off", V19, BOTH_ON,
           spec(rc("claim1"), [g11], nets=[{"name": "n", "resourceClaim": {"claimName": "claim1",
                                                                             "requestName": "req1"}}]),
           []),
    Vector("v190-claim-name-with-dots-and-empty-source", V19, NONE,
           spec([{"name": "a.b", "resourceClaimTemplateName": ""}]),
           [("spec.resourceClaims[0].name does not conform to the kubernetes DNS_LABEL rules: must not contain dots",
             RCS + "[0].name"), (SUBDOMAIN_ERR, RCS + "[0].resourceClaimTemplateName")]),
    Vector("v190-claim-name-too-long", V19, NONE, spec([{"name": "a" * 64, "resourceClaimName": "c"}]),
           [("spec.resourceClaims[0].name does not conform to the kubernetes DNS_LABEL rules: "
             "must be no more than 63 characters", RCS + "[0].name")]),
]


@pytest.mark.parametrize(
    ("tag", "vector"), [pytest.param(tag, v, id=f"{tag}-dra_admitter.go-{v.name}") for v in DERIVED for tag in v.tags]
)
def test_derived_from_source(tag: str, vector: Vector) -> None:
    assert run(tag, vector.gates, for_tag(vector, tag)) == vector.want


def test_v16_nil_claimname_crashes_the_webhook() -> None:
    # v1.6.0 dra_admitter.go: claimNamesFromGPUs.Insert(*gpu.ClaimName) on a nil pointer; the
    # causes gathered before are lost with the panic.
    entries, sources = entries_from_spec(spec(pod_rc("c"), [dev("gpu0", "c", "r"), dev("gpu1", req="req1")]))
    got = admit(_release((1, 7, 2)), GPU_ON, entries, sources)
    assert [(r.cause, r.field, r.entry) for r in got] == [(Cause.WEBHOOK_CRASH, V16_GPUS + "[1].claimName", "gpu1")]
    assert admit(_release((1, 8, 0)), GPU_ON, entries, sources)[0].message == CLAIM_GPU


def test_vm_template_root_and_entry_names() -> None:
    # vms-admitter.go ValidateVirtualMachineSpec: field.Child("template", "spec").
    entries, sources = entries_from_spec(spec(rc("claim1"), [g11, dev("gpu2", "claim1", "req1")]))
    got = admit(_release((1, 9, 0)), GPU_ON, entries, sources, root="spec.template.spec")
    assert [(r.field, r.cause, r.entry) for r in got] == [
        ("spec.template.spec.domain.devices.gpus[1]", Cause.DUPLICATE, "gpu2")]
    old = admit(_release((1, 6, 0)), NONE, entries, sources, root="spec.template.spec")
    assert [r.field for r in old] == ["spec.template.spec.spec.domain.devices.gpus"]


@pytest.mark.parametrize(("ver", "tag"), [
    ((1, 5, 3), None), ((1, 6, 0), "v1.6.0"), ((1, 7, 4), "v1.6.0"), ((1, 8, 2), "v1.8.0"),
    ((1, 8, 3), "v1.8.3"), ((1, 8, 4), "v1.8.3"), ((1, 9, 0), "v1.9.0"), ((1, 10, 0), "v1.9.0"), (None, "v1.9.0")])
def test_model_tag(ver: tuple[int, int, int] | None, tag: str | None) -> None:
    assert _release(ver) == tag


def test_before_v16_no_admitter() -> None:
    assert admit(_release((1, 5, 0)), NONE, [DeviceEntry(DeviceKind.GPU, "g", claim_name="c")], []) == ()


def test_webhook_message_joins_ten() -> None:
    # pkg/util/webhooks/webhooks.go ToAdmissionResponse: ", "-joined, ten at most, then a count.
    entries, sources = entries_from_spec(spec(rc("c"), [dev(f"g{i}", "c", "r") for i in range(13)]))
    got = admit(_release((1, 9, 0)), GPU_ON, entries, sources)
    assert len(got) == 12
    text = webhook_message(got)
    assert text.startswith('duplicate claimName/requestName pair "c/r", duplicate')
    assert text.endswith(", and 2 more validation errors") and text.count("duplicate") == 10
    assert webhook_message(got[:1]) == 'duplicate claimName/requestName pair "c/r"'


def test_go_quoting_in_messages() -> None:
    entries, sources = entries_from_spec(spec([{"name": 'a"b'}, {"name": 'a"b'}]))
    assert admit(_release((1, 8, 3)), NONE, entries, sources)[0].message == 'duplicate resourceClaims name "a\\"b"'


def test_entries_from_spec_tolerates_wrong_types() -> None:
    raw: dict[str, Any] = {
        "domain": {"devices": {"gpus": ["junk", {"name": 3, "claimName": 5, "requestName": "r"}],
                               "hostDevices": {"not": "a list"}}},
        "networks": [{"name": "n", "resourceClaim": "x"}, {"name": "m", "resourceClaim": {}}],
        "resourceClaims": [None, {"name": "c", "resourceClaimName": ["x"], "resourceClaimTemplateName": "t"}],
    }
    entries, sources = entries_from_spec(raw)
    assert entries == (
        DeviceEntry(DeviceKind.GPU, "", "", None, "r"),
        DeviceEntry(DeviceKind.NETWORK, "n"),
        DeviceEntry(DeviceKind.NETWORK, "m", claim_name="", request_name=""),
    )
    assert sources == (ClaimSource("c", None, "t"),)
    assert entries_from_spec({}) == ((), ())
    assert entries_from_spec({"domain": None, "networks": 7}) == ((), ())
