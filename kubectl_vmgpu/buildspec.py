"""A raw VMI spec (or a VM's spec.template.spec) -> what KubeVirt's DRA admission webhook reads of it.

Part of `build` (the one reader of raw JSON), kept apart for size. A non-string claimName, requestName or
source counts as absent and a non-object list item is left out: the API server's schema refuses both
before the webhook runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .views import SpecClaim, SpecEntry


def _opt_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) else None


def _items(obj: Any, *path: str) -> list[Mapping[str, Any]]:
    for key in path:
        obj = obj.get(key) if isinstance(obj, Mapping) else None
    return [item for item in obj if isinstance(item, Mapping)] if isinstance(obj, list) else []


def admission_inputs(spec: Mapping[str, Any]) -> tuple[tuple[SpecEntry, ...], tuple[SpecClaim, ...]]:
    """Every gpus[], hostDevices[] and networks[] entry in spec order, and spec.resourceClaims, as typed."""
    entries: list[SpecEntry] = []
    for kind in ("gpus", "hostDevices"):
        for item in _items(spec, "domain", "devices", kind):
            entries.append(SpecEntry(kind, _opt_str(item, "name") or "", _opt_str(item, "deviceName") or "",
                                     _opt_str(item, "claimName"), _opt_str(item, "requestName")))
    for net in _items(spec, "networks"):
        claim = net.get("resourceClaim")
        ref = claim if isinstance(claim, Mapping) else None
        entries.append(SpecEntry(
            "networks", _opt_str(net, "name") or "",
            claim_name=None if ref is None else _opt_str(ref, "claimName") or "",
            request_name=None if ref is None else _opt_str(ref, "requestName") or ""))
    claims = tuple(SpecClaim(_opt_str(rc, "name") or "", _opt_str(rc, "resourceClaimName"),
                             _opt_str(rc, "resourceClaimTemplateName")) for rc in _items(spec, "resourceClaims"))
    return tuple(entries), claims
