"""KubeVirt's own metadata-reader test vectors (pkg/dra/utils_test.go), replayed against our model of each version.

Each case mirrors one `It(...)` of kubevirt pkg/dra/utils_test.go at the tag in its id: the same files
(as the test's helpers write them: json.Marshal of metadata.DeviceMetadata, so empty fields are omitted),
the same VMI resourceClaims, the same call, and the same outcome (value, or an error containing the
substring upstream asserts). v1.8.0 and v1.8.1 carry the same pkg/dra as v1.8.2 (`git diff` is empty).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubectl_vmgpu import build
from kubectl_vmgpu import metadata as kvmd
from kubectl_vmgpu.views import ClaimSource, KubeVirt

R = kvmd.KubeVirtReader


def _sources(claims: list[dict[str, str]]) -> tuple[ClaimSource, ...]:
    """The VMI's spec.resourceClaims as the product reads them."""
    return build.vmi_devices({"resourceClaims": claims}).sources


NEW = "/var/run/kubernetes.io/dra-device-attributes"
OLD = "/var/run/dra-device-attributes"
PCI = "resource.kubernetes.io/pciBusID"
MDEV = "mdevUUID"
V1A1 = "metadata.resource.k8s.io/v1alpha1"


def md(
    name: str,
    request: str,
    attrs: dict[str, str] | None = None,
    pod_claim: str | None = None,
    devices: list[dict[str, str]] | None = None,
    typed: bool = True,
) -> str:
    """json.Marshal(&metadata.DeviceMetadata{...}); writeMetadataJSON (v1.8.3+) sets apiVersion/kind first."""
    doc: dict[str, Any] = {}
    if typed:
        doc.update(kind="DeviceMetadata", apiVersion=V1A1)
    doc["metadata"] = {"name": name}
    if pod_claim is not None:
        doc["podClaimName"] = pod_claim
    devs = devices if devices is not None else [attrs or {}]
    doc["requests"] = [
        {
            "name": request,
            "devices": [
                {
                    "driver": "",
                    "pool": "",
                    "name": "",
                    **({"attributes": {k: {"string": v} for k, v in d.items()}} if d else {}),
                }
                for d in devs
            ],
        }
    ]
    return json.dumps(doc, separators=(",", ":"))


def direct(claim: str) -> list[dict[str, str]]:
    return [{"name": "my-claim", "resourceClaimName": claim}]


def new_file(kind: str, claim: str, request: str, driver: str = "gpu.example.com") -> str:
    return f"{NEW}/{kind}/{claim}/{request}/{driver}-metadata.json"


def old_file(claim: str, request: str, driver: str = "gpu.example.com") -> str:
    return f"{OLD}/{claim}/{request}/{driver}-metadata.json"


GOOD_0A = md("claim4", "req1", {PCI: "0000:0a:00.0"})
GOOD_0B = md("claim5", "req1", {PCI: "0000:0b:00.0"})

# (id, reader, files, vmi resourceClaims, claim ref, request, what ("pci"|"mdev"), expected value or None,
#  error substring upstream asserts or None)
CURRENT: list[tuple[str, dict[str, str], list[dict[str, str]], str, str, str, str | None, str | None]] = [
    (
        "lazy-resolution-pre-existing-claims",
        {
            new_file("resourceclaims", "my-gpu-claim", "gpu-request"): md(
                "my-gpu-claim", "gpu-request", {PCI: "0000:02:00.0"}
            )
        },
        [{"name": "vmi-claim-ref", "resourceClaimName": "my-gpu-claim"}],
        "vmi-claim-ref",
        "gpu-request",
        "pci",
        "0000:02:00.0",
        None,
    ),
    (
        "lazy-resolution-template-generated-claims",
        {
            new_file("resourceclaimtemplates", "vmi-template-ref", "vgpu-request"): md(
                "generated-claim-abc123",
                "vgpu-request",
                {MDEV: "123e4567-e89b-12d3-a456-426614174000"},
                "vmi-template-ref",
            )
        },
        [{"name": "vmi-template-ref", "resourceClaimTemplateName": "my-template"}],
        "vmi-template-ref",
        "vgpu-request",
        "mdev",
        "123e4567-e89b-12d3-a456-426614174000",
        None,
    ),
    (
        "lazy-resolution-no-metadata-files",
        {},
        [{"name": "missing-claim", "resourceClaimName": "nonexistent"}],
        "missing-claim",
        "req1",
        "pci",
        None,
        "failed to read metadata",
    ),
    (
        "GetPCIAddressForClaim-present",
        {new_file("resourceclaims", "pci-claim", "req1"): md("pci-claim", "req1", {PCI: "0000:03:00.0"})},
        direct("pci-claim"),
        "my-claim",
        "req1",
        "pci",
        "0000:03:00.0",
        None,
    ),
    ("GetPCIAddressForClaim-claim-ref-not-found", {}, [], "nonexistent", "req1", "pci", None, "metadata not found"),
    (
        "GetPCIAddressForClaim-request-not-found-in-file",
        {new_file("resourceclaims", "claim1", "other-req"): md("claim1", "other-req")},
        direct("claim1"),
        "my-claim",
        "missing-req",
        "pci",
        None,
        "failed to read metadata for claim",
    ),
    (
        "GetPCIAddressForClaim-no-pciBusID",
        {new_file("resourceclaims", "claim1", "req1"): md("claim1", "req1")},
        direct("claim1"),
        "my-claim",
        "req1",
        "pci",
        None,
        "pciBusID not found",
    ),
    (
        "GetPCIAddressForClaim-count-gt-1",
        {
            new_file("resourceclaims", "claim1", "req1"): md(
                "claim1", "req1", devices=[{PCI: "0000:03:00.0"}, {PCI: "0000:04:00.0"}]
            )
        },
        direct("claim1"),
        "my-claim",
        "req1",
        "pci",
        None,
        "count > 1 is not supported",
    ),
    (
        "GetMDevUUIDForClaim-present",
        {
            new_file("resourceclaims", "mdev-claim", "vgpu-req"): md(
                "mdev-claim", "vgpu-req", {MDEV: "abcd1234-5678-90ab-cdef-1234567890ab"}
            )
        },
        [{"name": "my-vgpu", "resourceClaimName": "mdev-claim"}],
        "my-vgpu",
        "vgpu-req",
        "mdev",
        "abcd1234-5678-90ab-cdef-1234567890ab",
        None,
    ),
    ("GetMDevUUIDForClaim-claim-ref-not-found", {}, [], "nonexistent", "req1", "mdev", None, "metadata not found"),
    (
        "GetMDevUUIDForClaim-no-mdevUUID",
        {new_file("resourceclaims", "pci-only", "req1"): md("pci-only", "req1", {PCI: "0000:01:00.0"})},
        direct("pci-only"),
        "my-claim",
        "req1",
        "mdev",
        None,
        "mdevUUID not found",
    ),
    (
        "ResourceClaimTemplateName-pci",
        {
            new_file("resourceclaimtemplates", "template-gpu-claim", "pci-req"): md(
                "generated-pci-claim-xyz", "pci-req", {PCI: "0000:05:00.0"}, "template-gpu-claim"
            )
        },
        [{"name": "template-gpu-claim", "resourceClaimTemplateName": "gpu-template"}],
        "template-gpu-claim",
        "pci-req",
        "pci",
        "0000:05:00.0",
        None,
    ),
    (
        "ResourceClaimTemplateName-missing",
        {},
        [{"name": "missing-template-claim", "resourceClaimTemplateName": "nonexistent-template"}],
        "missing-template-claim",
        "req1",
        "pci",
        None,
        "failed to read metadata",
    ),
    (
        "request-name-mismatch-available-requests",
        {new_file("resourceclaims", "claim1", "req1"): md("claim1", "actual-req")},
        direct("claim1"),
        "my-claim",
        "req1",
        "pci",
        None,
        'not found in metadata for claim "claim1" (available requests: [actual-req])',
    ),
    (
        "multiple-driver-files-rejected",
        {
            new_file("resourceclaims", "multi-driver-claim", "gpu-req", "gpu-a.example.com"): md(
                "multi-driver-claim", "gpu-req", {PCI: "0000:08:00.0"}
            ),
            new_file("resourceclaims", "multi-driver-claim", "gpu-req", "gpu-b.example.com"): md(
                "multi-driver-claim", "gpu-req", {PCI: "0000:09:00.0"}
            ),
        },
        direct("multi-driver-claim"),
        "my-claim",
        "gpu-req",
        "pci",
        None,
        "only supports exactly one driver per request",
    ),
    (
        "stream-skip-unknown-apiVersion",
        {
            new_file(
                "resourceclaims", "claim1", "req1"
            ): '{"apiVersion":"metadata.resource.k8s.io/v2beta1","kind":"DeviceMetadata","metadata":{"name":"claim1"},"newField":"ignored"}\n'  # noqa: E501 (upstream text verbatim)
            + md("claim1", "req1", {PCI: "0000:07:00.0"})
            + "\n"
        },
        direct("claim1"),
        "my-claim",
        "req1",
        "pci",
        "0000:07:00.0",
        None,
    ),
    (
        "stream-only-unsupported-versions",
        {
            new_file(
                "resourceclaims", "claim2", "req1"
            ): '{"apiVersion":"metadata.resource.k8s.io/v99","kind":"DeviceMetadata"}\n'
        },
        direct("claim2"),
        "my-claim",
        "req1",
        "pci",
        None,
        "no compatible metadata version found in stream (unknown versions: metadata.resource.k8s.io/v99)",
    ),
    (
        "stream-empty",
        {new_file("resourceclaims", "claim3", "req1"): ""},
        direct("claim3"),
        "my-claim",
        "req1",
        "pci",
        None,
        "no metadata objects",
    ),
    (
        "stream-unpeekable-entry-before-valid",
        {new_file("resourceclaims", "claim4", "req1"): '"not-an-object"\n' + GOOD_0A + "\n"},
        direct("claim4"),
        "my-claim",
        "req1",
        "pci",
        None,
        "decode metadata object",
    ),
    (
        "stream-bad-supported-entry-before-valid",
        {
            new_file(
                "resourceclaims", "claim5", "req1"
            ): f'{{"apiVersion":"{V1A1}","kind":"DeviceMetadata","metadata":{{"name":"claim5"}},"requests":"this-should-be-an-array"}}\n'  # noqa: E501 (upstream text verbatim)
            + GOOD_0B
            + "\n"
        },
        direct("claim5"),
        "my-claim",
        "req1",
        "pci",
        None,
        f"decode {V1A1}",
    ),
]

# The two-call Its ("multiple claims", "mixed pre-existing and template") are split into one case per call.
CURRENT += [
    (
        "multiple-claims-gpu",
        {
            new_file("resourceclaims", "gpu-claim", "gpu-req"): md("gpu-claim", "gpu-req", {PCI: "0000:04:00.0"}),
            new_file("resourceclaims", "vgpu-claim", "vgpu-req"): md(
                "vgpu-claim", "vgpu-req", {MDEV: "11111111-2222-3333-4444-555555555555"}
            ),
        },
        [
            {"name": "claim-gpu", "resourceClaimName": "gpu-claim"},
            {"name": "claim-vgpu", "resourceClaimName": "vgpu-claim"},
        ],
        "claim-gpu",
        "gpu-req",
        "pci",
        "0000:04:00.0",
        None,
    ),
    (
        "multiple-claims-vgpu",
        {
            new_file("resourceclaims", "gpu-claim", "gpu-req"): md("gpu-claim", "gpu-req", {PCI: "0000:04:00.0"}),
            new_file("resourceclaims", "vgpu-claim", "vgpu-req"): md(
                "vgpu-claim", "vgpu-req", {MDEV: "11111111-2222-3333-4444-555555555555"}
            ),
        },
        [
            {"name": "claim-gpu", "resourceClaimName": "gpu-claim"},
            {"name": "claim-vgpu", "resourceClaimName": "vgpu-claim"},
        ],
        "claim-vgpu",
        "vgpu-req",
        "mdev",
        "11111111-2222-3333-4444-555555555555",
        None,
    ),
    (
        "ResourceClaimTemplateName-mdev",
        {
            new_file("resourceclaimtemplates", "template-vgpu-claim", "vgpu-req"): md(
                "generated-vgpu-claim-abc",
                "vgpu-req",
                {MDEV: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"},
                "template-vgpu-claim",
            )
        },
        [{"name": "template-vgpu-claim", "resourceClaimTemplateName": "vgpu-template"}],
        "template-vgpu-claim",
        "vgpu-req",
        "mdev",
        "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        None,
    ),
]
_MIXED_NEW = {
    new_file("resourceclaims", "preexisting-claim", "pci-req"): md(
        "preexisting-claim", "pci-req", {PCI: "0000:06:00.0"}
    ),
    new_file("resourceclaimtemplates", "my-template-claim", "vgpu-req"): md(
        "generated-claim-def456", "vgpu-req", {MDEV: "12121212-3434-5656-7878-909090909090"}, "my-template-claim"
    ),
}
_MIXED_CLAIMS = [
    {"name": "existing-ref", "resourceClaimName": "preexisting-claim"},
    {"name": "my-template-claim", "resourceClaimTemplateName": "some-template"},
]
CURRENT += [
    (
        "mixed-pre-existing-and-template-pci",
        _MIXED_NEW,
        _MIXED_CLAIMS,
        "existing-ref",
        "pci-req",
        "pci",
        "0000:06:00.0",
        None,
    ),
    (
        "mixed-pre-existing-and-template-mdev",
        _MIXED_NEW,
        _MIXED_CLAIMS,
        "my-template-claim",
        "vgpu-req",
        "mdev",
        "12121212-3434-5656-7878-909090909090",
        None,
    ),
]

# v1.8.3 has every v1.9.0 It (same texts; v1.9.0 only refactors helpers and the claim type).
CASES = [(f"{tag}-{case[0]}", R.V1_8_3, *case[1:]) for tag in ("v1.9.0", "v1.8.3") for case in CURRENT]


def _old(claim: str, request: str, text: str) -> dict[str, str]:
    return {old_file(claim, request): text}


# v1.8.2: files at {base}/{claim}/{request}/, written without apiVersion/kind (createMetadataFile marshals as is).
OLD_CASES: list[tuple[str, dict[str, str], list[dict[str, str]], str, str, str, str | None, str | None]] = [
    (
        "lazy-resolution-pre-existing-claims",
        _old("my-gpu-claim", "gpu-request", md("my-gpu-claim", "gpu-request", {PCI: "0000:02:00.0"}, typed=False)),
        [{"name": "vmi-claim-ref", "resourceClaimName": "my-gpu-claim"}],
        "vmi-claim-ref",
        "gpu-request",
        "pci",
        "0000:02:00.0",
        None,
    ),
    (
        "lazy-resolution-template-generated-claims",
        _old(
            "generated-claim-abc123",
            "vgpu-request",
            md(
                "generated-claim-abc123",
                "vgpu-request",
                {MDEV: "123e4567-e89b-12d3-a456-426614174000"},
                "vmi-template-ref",
                typed=False,
            ),
        ),
        [{"name": "vmi-template-ref", "resourceClaimTemplateName": "my-template"}],
        "vmi-template-ref",
        "vgpu-request",
        "mdev",
        "123e4567-e89b-12d3-a456-426614174000",
        None,
    ),
    (
        "lazy-resolution-no-metadata-files",
        {},
        [{"name": "missing-claim", "resourceClaimName": "nonexistent"}],
        "missing-claim",
        "req1",
        "pci",
        None,
        "metadata not found",
    ),
    (
        "GetPCIAddressForClaim-present",
        _old("pci-claim", "req1", md("pci-claim", "req1", {PCI: "0000:03:00.0"}, typed=False)),
        direct("pci-claim"),
        "my-claim",
        "req1",
        "pci",
        "0000:03:00.0",
        None,
    ),
    ("GetPCIAddressForClaim-claim-ref-not-found", {}, [], "nonexistent", "req1", "pci", None, "metadata not found"),
    (
        "GetPCIAddressForClaim-request-not-found-in-file",
        _old("claim1", "other-req", md("claim1", "other-req", typed=False)),
        direct("claim1"),
        "my-claim",
        "missing-req",
        "pci",
        None,
        "metadata not found for claim",
    ),
    (
        "GetPCIAddressForClaim-no-pciBusID",
        _old("claim1", "req1", md("claim1", "req1", typed=False)),
        direct("claim1"),
        "my-claim",
        "req1",
        "pci",
        None,
        "pciBusID not found",
    ),
    (
        "GetPCIAddressForClaim-count-gt-1",
        _old(
            "claim1", "req1", md("claim1", "req1", devices=[{PCI: "0000:03:00.0"}, {PCI: "0000:04:00.0"}], typed=False)
        ),
        direct("claim1"),
        "my-claim",
        "req1",
        "pci",
        None,
        "count > 1 is not supported",
    ),
    (
        "GetMDevUUIDForClaim-present",
        _old(
            "mdev-claim",
            "vgpu-req",
            md("mdev-claim", "vgpu-req", {MDEV: "abcd1234-5678-90ab-cdef-1234567890ab"}, typed=False),
        ),
        [{"name": "my-vgpu", "resourceClaimName": "mdev-claim"}],
        "my-vgpu",
        "vgpu-req",
        "mdev",
        "abcd1234-5678-90ab-cdef-1234567890ab",
        None,
    ),
    ("GetMDevUUIDForClaim-claim-ref-not-found", {}, [], "nonexistent", "req1", "mdev", None, "metadata not found"),
    (
        "GetMDevUUIDForClaim-no-mdevUUID",
        _old("pci-only", "req1", md("pci-only", "req1", {PCI: "0000:01:00.0"}, typed=False)),
        direct("pci-only"),
        "my-claim",
        "req1",
        "mdev",
        None,
        "mdevUUID not found",
    ),
    (
        "ResourceClaimTemplateName-pci",
        _old(
            "generated-pci-claim-xyz",
            "pci-req",
            md("generated-pci-claim-xyz", "pci-req", {PCI: "0000:05:00.0"}, "template-gpu-claim", typed=False),
        ),
        [{"name": "template-gpu-claim", "resourceClaimTemplateName": "gpu-template"}],
        "template-gpu-claim",
        "pci-req",
        "pci",
        "0000:05:00.0",
        None,
    ),
    (
        "ResourceClaimTemplateName-mdev",
        _old(
            "generated-vgpu-claim-abc",
            "vgpu-req",
            md(
                "generated-vgpu-claim-abc",
                "vgpu-req",
                {MDEV: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"},
                "template-vgpu-claim",
                typed=False,
            ),
        ),
        [{"name": "template-vgpu-claim", "resourceClaimTemplateName": "vgpu-template"}],
        "template-vgpu-claim",
        "vgpu-req",
        "mdev",
        "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        None,
    ),
    (
        "ResourceClaimTemplateName-missing",
        {},
        [{"name": "missing-template-claim", "resourceClaimTemplateName": "nonexistent-template"}],
        "missing-template-claim",
        "req1",
        "pci",
        None,
        "no metadata file found",
    ),
    (
        "request-name-mismatch-available-requests",
        _old("claim1", "req1", md("claim1", "actual-req", typed=False)),
        direct("claim1"),
        "my-claim",
        "req1",
        "pci",
        None,
        'not found in metadata for claim "claim1" (available requests: [actual-req])',
    ),
]
_OLD_MULTI = {
    **_old("gpu-claim", "gpu-req", md("gpu-claim", "gpu-req", {PCI: "0000:04:00.0"}, typed=False)),
    **_old(
        "vgpu-claim",
        "vgpu-req",
        md("vgpu-claim", "vgpu-req", {MDEV: "11111111-2222-3333-4444-555555555555"}, typed=False),
    ),
}
_OLD_MULTI_CLAIMS = [
    {"name": "claim-gpu", "resourceClaimName": "gpu-claim"},
    {"name": "claim-vgpu", "resourceClaimName": "vgpu-claim"},
]
_OLD_MIXED = {
    **_old("preexisting-claim", "pci-req", md("preexisting-claim", "pci-req", {PCI: "0000:06:00.0"}, typed=False)),
    **_old(
        "generated-claim-def456",
        "vgpu-req",
        md(
            "generated-claim-def456",
            "vgpu-req",
            {MDEV: "12121212-3434-5656-7878-909090909090"},
            "my-template-claim",
            typed=False,
        ),
    ),
}
OLD_CASES += [
    ("multiple-claims-gpu", _OLD_MULTI, _OLD_MULTI_CLAIMS, "claim-gpu", "gpu-req", "pci", "0000:04:00.0", None),
    (
        "multiple-claims-vgpu",
        _OLD_MULTI,
        _OLD_MULTI_CLAIMS,
        "claim-vgpu",
        "vgpu-req",
        "mdev",
        "11111111-2222-3333-4444-555555555555",
        None,
    ),
    (
        "mixed-pre-existing-and-template-pci",
        _OLD_MIXED,
        _MIXED_CLAIMS,
        "existing-ref",
        "pci-req",
        "pci",
        "0000:06:00.0",
        None,
    ),
    (
        "mixed-pre-existing-and-template-mdev",
        _OLD_MIXED,
        _MIXED_CLAIMS,
        "my-template-claim",
        "vgpu-req",
        "mdev",
        "12121212-3434-5656-7878-909090909090",
        None,
    ),
]
CASES += [(f"v1.8.2-{case[0]}", R.V1_8_0, *case[1:]) for case in OLD_CASES]


@pytest.mark.parametrize(
    ("reader", "files", "claims", "claim_ref", "req", "what", "value", "error"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_upstream_vector(
    reader: kvmd.KubeVirtReader,
    files: dict[str, str],
    claims: list[dict[str, str]],
    claim_ref: str,
    req: str,
    what: str,
    value: str | None,
    error: str | None,
) -> None:
    result = kvmd.read_metadata(reader, files, _sources(claims), claim_ref, req)
    got, got_error = (result.pci, result.pci_error) if what == "pci" else (result.mdev, result.mdev_error)
    assert got == value
    if error is None:
        assert got_error is None
    else:
        assert got_error is not None and error in got_error


# Behaviour read from kubevirt pkg/dra/utils.go (no upstream It covers these); issue 16 item 11.
DIR = f"{NEW}/resourceclaims/c1/dra-gpu"
FILE = f"{DIR}/gpu.nvidia.com-metadata.json"
ONE = md("c1", "dra-gpu", {PCI: "0000:4a:00.0"})


def _read(text: str, reader: kvmd.KubeVirtReader = R.V1_8_3, request: str = "dra-gpu") -> kvmd.MetadataResult:
    path = FILE if reader is R.V1_8_3 else old_file("c1", "dra-gpu", "gpu.nvidia.com")
    return kvmd.read_metadata(reader, {path: text}, _sources([{"name": "g", "resourceClaimName": "c1"}]), "g", request)


@pytest.mark.parametrize(
    ("text", "pci", "error"),
    [
        pytest.param(
            '{"kind":"x"}\n' + ONE,
            None,
            f"{FILE}: decode metadata object: missing apiVersion",
            id="object-without-apiVersion-is-fatal",
        ),
        pytest.param(
            "null " + ONE, None, "decode metadata object: missing apiVersion", id="null-before-valid-is-fatal"
        ),
        pytest.param(
            "[1] " + ONE,
            None,
            "decode metadata object: json: cannot unmarshal array into Go value of type struct",
            id="array-before-valid",
        ),
        pytest.param(
            '{"apiVersion":"x/v2"}' + ONE + " not json", "0000:4a:00.0", None, id="junk-after-supported-object-unread"
        ),
        pytest.param(
            ONE + "\n" + ONE.replace("0000:4a", "0000:4b"), "0000:4a:00.0", None, id="first-supported-object-wins"
        ),
        pytest.param(
            ONE.replace('"requests"', '"Requests"').replace('"apiVersion"', '"APIVersion"'),
            "0000:4a:00.0",
            None,
            id="keys-case-insensitive",
        ),
        pytest.param(
            ONE.replace('{"string":"0000:4a:00.0"}', '{"int":5}'),
            None,
            'pciBusID not found for claim "g" request "dra-gpu"',
            id="pciBusID-int",
        ),
        pytest.param(ONE.replace('"0000:4a:00.0"', '""'), None, "pciBusID not found", id="pciBusID-empty-string"),
        pytest.param(
            ONE.replace('"name":"dra-gpu"', '"name":"dra-gpu/sub"'),
            None,
            'request "dra-gpu" not found in metadata for claim "c1" (available requests: [dra-gpu/sub])',
            id="subrequest-name-is-not-request",
        ),
        pytest.param(
            ONE.replace('"0000:4a:00.0"', '"0000:4A:00.0"'), "0000:4A:00.0", None, id="uppercase-hex-accepted"
        ),
        pytest.param(
            ONE.replace('{"string":"0000:4a:00.0"}', '{"string":5}'),
            None,
            "json: cannot unmarshal number into Go struct field DeviceAttribute.requests.devices.attributes.string of type string",  # noqa: E501 (upstream text verbatim)
            id="attribute-of-wrong-type-fails-decode",
        ),
        pytest.param(ONE + " {", "0000:4a:00.0", None, id="truncated-after-supported-object-unread"),
        pytest.param(
            '{"apiVersion":"x/v2"} {',
            None,
            "read object from metadata stream: unexpected EOF",
            id="truncated-before-supported",
        ),
    ],
)
def test_current_reader_semantics(text: str, pci: str | None, error: str | None) -> None:
    result = _read(text)
    assert result.pci == pci
    assert (result.pci_error is None) if error is None else (error in (result.pci_error or ""))


def test_first_request_of_a_name_wins() -> None:
    doc = json.loads(ONE)
    doc["requests"].append({"name": "dra-gpu", "devices": [{"attributes": {PCI: {"string": "0000:4b:00.0"}}}]})
    assert _read(json.dumps(doc)).pci == "0000:4a:00.0"


def test_old_reader_is_one_document_without_version_check() -> None:
    assert _read(md("c1", "dra-gpu", {PCI: "0000:4a:00.0"}, typed=False), R.V1_8_0).pci == "0000:4a:00.0"
    stream = '{"apiVersion":"metadata.resource.k8s.io/v1beta1"}\n' + ONE
    got = _read(stream, R.V1_8_0)
    assert got.pci is None
    assert got.pci_error == (
        'failed to read metadata for claim "c1" request "dra-gpu": parsing metadata file '
        f"\"{old_file('c1', 'dra-gpu', 'gpu.nvidia.com')}\": invalid character '{{' after top-level value"
    )


def test_old_reader_template_claims_glob_every_claim_folder_and_match_pod_claim_name() -> None:
    files = {
        old_file("aaa", "dra-gpu"): "not json",  # skipped, as upstream logs and skips it
        old_file("bbb", "dra-gpu"): md("bbb", "dra-gpu", {PCI: "0000:01:00.0"}, "other", typed=False),
        old_file("ccc", "dra-gpu"): md("ccc", "dra-gpu", {PCI: "0000:02:00.0"}, "gpus", typed=False),
        old_file("ddd", "other-req"): md("ddd", "dra-gpu", {PCI: "0000:03:00.0"}, "gpus", typed=False),
    }
    claims = [{"name": "gpus", "resourceClaimTemplateName": "t"}]
    result = kvmd.read_metadata(R.V1_8_0, files, _sources(claims), "gpus", "dra-gpu")
    assert (result.pci, result.files) == ("0000:02:00.0", tuple(sorted(files)[:3]))
    none = kvmd.read_metadata(R.V1_8_0, files, _sources([{"name": "x"}]), "x", "dra-gpu")
    assert none.pci_error == 'no metadata file found with matching with pod claim name "x" request "dra-gpu"'
    assert kvmd.read_metadata(R.V1_8_0, {}, _sources(claims), "gpus", "dra-gpu").pci_error == (
        'no metadata file found for templateclaim "gpus" request "dra-gpu"'
    )


def test_old_reader_takes_the_first_driver_file() -> None:
    files = {
        old_file("c1", "dra-gpu", d): md("c1", "dra-gpu", {PCI: pci}, typed=False)
        for d, pci in (("b.example.com", "0000:02:00.0"), ("a.example.com", "0000:01:00.0"))
    }
    assert kvmd.read_metadata(R.V1_8_0, files, _sources(direct("c1")), "my-claim", "dra-gpu").pci == "0000:01:00.0"
    assert "only supports exactly one driver" in (
        kvmd.read_metadata(
            R.V1_8_3,
            {p.replace(OLD, f"{NEW}/resourceclaims"): t for p, t in files.items()},
            _sources(direct("c1")),
            "my-claim",
            "dra-gpu",
        ).pci_error
        or ""
    )


def test_launcher_error_texts_per_version() -> None:
    empty = md("c1", "dra-gpu")
    new = _read(empty).launcher_error("gpu", "gpu1", "g", "dra-gpu")
    assert new == (
        "failed to create DRA GPU host-devices: GPU gpu1 has no mdevUUID or pciBusID in metadata for claim g request "
        'dra-gpu (mdev: mdevUUID not found for claim "g" request "dra-gpu", pci: pciBusID not found for claim "g" '
        'request "dra-gpu")'
    )
    old = _read(md("c1", "dra-gpu", typed=False), R.V1_8_0).launcher_error("hostdevice", "hd", "g", "dra-gpu")
    assert (
        old
        == "failed to create dra generic host-devices: HostDevice hd has no mdevUUID or pciBusID in metadata for claim g request dra-gpu"  # noqa: E501 (upstream text verbatim)
    )
    bad = _read(ONE.replace('"0000:4a:00.0"', '"4a:00.0"')).launcher_error("gpu", "gpu1", "g", "dra-gpu")
    assert (
        bad
        == "failed to create DRA GPU host-devices: failed to create PCI device for gpu1: failed to parse pci address 4a:00.0"  # noqa: E501 (upstream text verbatim)
    )
    assert _read(ONE.replace('"0000:4a:00.0"', '"0000:4A:00.0"')).launcher_error("gpu", "gpu1", "g", "dra-gpu") is None


def test_reader_for_version() -> None:
    def kv(version: tuple[int, int, int] | None) -> KubeVirt:
        return KubeVirt(version=version)

    assert R.of(kv((1, 7, 2))) is None
    assert R.of(kv((1, 8, 2))) is R.V1_8_0
    assert R.of(kv((1, 8, 3))) is R.V1_8_3 and R.of(kv(None)) is R.V1_8_3
