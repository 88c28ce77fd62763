"""VfioDeviceConfig decoding mirrored from the NVIDIA DRA driver: Normalize() before Validate().

dra-driver-nvidia-gpu has no test of VfioDeviceConfig at v0.4.1 or on main (no `*_test.go` names
VfioDeviceConfig or BackendPolicy), so these vectors are derived from the source at tag v0.4.1:
api/nvidia.com/resource/v1beta1/vfiodeviceconfig.go (`Normalize`: nil iommu -> defaults, "" policy ->
LegacyOnly, nil enableAPIDevice -> false; `Validate`: nil iommu passes) and iommu.go
(`IOMMUBackendPolicy.Validate`: "unknown IOMMU backend policy: %v, supported IOMMU backend policies: %s, %s").
Go's encoding/json leaves a string field "" for `null`, hence null policy == "" policy.
One test per vector, each through build.config (the product's reader) and the vfio-config-invalid check.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_vmgpu import build
from kubectl_vmgpu.checks import vfio as cv

from . import factory as f

_ABSENT = object()


def _config(iommu: Any) -> Any:
    params: dict[str, Any] = {"apiVersion": "resource.nvidia.com/v1beta1", "kind": "VfioDeviceConfig"}
    if iommu is not _ABSENT:
        params["iommu"] = iommu
    return build.config({"requests": [f.REQUEST], "opaque": {"driver": f.DRIVER, "parameters": params}}, "FromClaim")


def _problems(iommu: Any) -> list[str]:
    chain = f.vfio_chain(configs=(_config(iommu),))
    return f.messages(f.hits(cv.vfio_config_invalid, f.ctx(), f.view([chain])))


# (upstream code path, iommu as written, normalised policy, normalised enableAPIDevice)
VALID = [
    ("Normalize: Iommu == nil (key absent)", _ABSENT, "LegacyOnly", False),
    ("Normalize: Iommu == nil (iommu: null)", None, "LegacyOnly", False),
    ("Normalize: Iommu == nil (iommu: {} decodes to an empty IOMMUConfig)", {}, "LegacyOnly", False),
    ('Normalize: BackendPolicy == ""', {"backendPolicy": ""}, "LegacyOnly", False),
    ("Normalize: BackendPolicy null (json leaves the string empty)", {"backendPolicy": None}, "LegacyOnly", False),
    ("Normalize: EnableAPIDevice == nil (null)", {"backendPolicy": "LegacyOnly", "enableAPIDevice": None},
     "LegacyOnly", False),
    ("Validate: LegacyOnly", {"backendPolicy": "LegacyOnly", "enableAPIDevice": True}, "LegacyOnly", True),
    ("Validate: PreferIommuFD", {"backendPolicy": "PreferIommuFD", "enableAPIDevice": False}, "PreferIommuFD",
     False),
]


@pytest.mark.parametrize(("path", "iommu", "policy", "api"), VALID, ids=[v[0] for v in VALID])
def test_valid_after_normalize(path: str, iommu: Any, policy: str, api: bool) -> None:
    cfg = _config(iommu).vfio
    assert cfg is not None
    assert (cfg.backend_policy, bool(cfg.enable_api_device)) == (policy, api), path
    assert _problems(iommu) == [], path


INVALID = [
    ("IOMMUBackendPolicy.Validate: unknown value", {"backendPolicy": "Legacy"},
     "unknown IOMMU backend policy: Legacy, supported IOMMU backend policies: LegacyOnly, PreferIommuFD"),
    ("IOMMUBackendPolicy.Validate: case matters", {"backendPolicy": "legacyonly"},
     "unknown IOMMU backend policy: legacyonly, supported IOMMU backend policies: LegacyOnly, PreferIommuFD"),
    ("strict decoding: unknown iommu field", {"backendPolicy": "LegacyOnly", "apiDevice": True},
     'strict decoding error: unknown field "iommu.apiDevice"'),
    ("decoding: enableAPIDevice not a bool", {"enableAPIDevice": "true"},
     "iommu.enableAPIDevice must be true or false, not 'true'"),
]


@pytest.mark.parametrize(("path", "iommu", "problem"), INVALID, ids=[v[0] for v in INVALID])
def test_refused(path: str, iommu: Any, problem: str) -> None:
    (message,) = _problems(iommu)
    assert message.endswith("NodePrepareResources: " + problem), path
