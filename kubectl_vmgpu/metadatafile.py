"""One KEP-5304 device metadata file decoded as KubeVirt decodes it: Go encoding/json semantics, upstream's errors.

[kubevirt pkg/dra/utils.go at v1.8.2 (one JSON document) and v1.8.3/v1.9.0 (a JSON stream, v1alpha1 only)]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import execs, gojson
from .evidence import EvidenceError

METADATA_API = "metadata.resource.k8s.io/v1alpha1"  # the only version KubeVirt v1.8.3-v1.9 accepts
PCI_ATTR = "resource.kubernetes.io/pciBusID"
MDEV_ATTR = "mdevUUID"
MAX_JSON_DEPTH = 64  # our own refusal, far below any real file; Go's limit is 10000
# kubevirt pkg/util/hardware/hw_utils.go PCI_ADDRESS_PATTERN (Go RE2: `\d` is ASCII, `$` is end of text).
_STR = gojson.GoType("string", "string")
_INT = gojson.GoType("int64", "int64")
_ATTRIBUTE = gojson.GoType(
    "struct",
    "v1.DeviceAttribute",
    (
        ("int", gojson.GoType("ptr", "*int64", elem=_INT)),
        ("bool", gojson.GoType("ptr", "*bool", elem=gojson.GoType("bool", "bool"))),
        ("string", gojson.GoType("ptr", "*string", elem=_STR)),
        ("version", gojson.GoType("ptr", "*string", elem=_STR)),
    ),
    name="DeviceAttribute",
)
_NETWORK = gojson.GoType(
    "struct",
    "v1.NetworkDeviceData",
    (("interfaceName", _STR), ("ips", gojson.GoType("slice", "[]string", elem=_STR)), ("hardwareAddress", _STR)),
    name="NetworkDeviceData",
)
_DEVICE = gojson.GoType(
    "struct",
    "metadata.Device",
    (
        ("driver", _STR),
        ("pool", _STR),
        ("name", _STR),
        ("attributes", gojson.GoType("map", "map[v1.QualifiedName]v1.DeviceAttribute", elem=_ATTRIBUTE)),
        ("networkData", gojson.GoType("ptr", "*v1.NetworkDeviceData", elem=_NETWORK)),
    ),
    name="Device",
)
_REQUEST = gojson.GoType(
    "struct",
    "metadata.DeviceMetadataRequest",
    (("name", _STR), ("devices", gojson.GoType("slice", "[]metadata.Device", elem=_DEVICE))),
    name="DeviceMetadataRequest",
)
_STRMAP = gojson.GoType("map", "map[string]string", elem=_STR)
# ObjectMeta: the fields a driver writes and the plain ones; timestamps and managedFields are not modelled.
_OBJECT_META = gojson.GoType(
    "struct",
    "v1.ObjectMeta",
    (
        *((name, _STR) for name in ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion")),
        ("generation", _INT),
        ("labels", _STRMAP),
        ("annotations", _STRMAP),
        ("finalizers", gojson.GoType("slice", "[]string", elem=_STR)),
    ),
    name="ObjectMeta",
)
_DEVICE_METADATA = gojson.GoType(
    "struct",
    "metadata.DeviceMetadata",
    (
        ("kind", _STR),
        ("apiVersion", _STR),
        ("metadata", _OBJECT_META),
        ("podClaimName", gojson.GoType("ptr", "*string", elem=_STR)),
        ("requests", gojson.GoType("slice", "[]metadata.DeviceMetadataRequest", elem=_REQUEST)),
    ),
    name="DeviceMetadata",
)
# pkg/dra/utils.go decodeMetadataFromStream peeks with an anonymous struct; Go prints its type so.
_PEEK = gojson.GoType("struct", 'struct { APIVersion string "json:\\"apiVersion\\"" }', (("apiVersion", _STR),))


class RefusedEvidence(EvidenceError):
    """A file we refuse to model (truncated by `head -c`, or nested past our limit), not an upstream error."""


@dataclass(frozen=True)
class MetadataDevice:
    """One device of one request, as a metadata file describes it."""

    driver: str
    pool: str
    name: str
    pci: str | None  # the non-empty `string` of resource.kubernetes.io/pciBusID: what KubeVirt takes
    mdev: str | None  # the same for mdevUUID


@dataclass(frozen=True)
class MetadataFile:
    """The object KubeVirt decodes from one metadata file."""

    path: str
    api_versions: tuple[str, ...]  # apiVersions read from the stream, up to the one decoded
    requests: dict[str, tuple[MetadataDevice, ...]] = field(default_factory=dict)  # first of a name wins
    name: str = ""  # metadata.name (upstream error texts name it)
    pod_claim_name: str | None = None
    request_names: tuple[str, ...] = ()  # every request, in file order


def _depth(text: str) -> int:
    depth = best = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            best = max(best, depth)
        elif ch in "]}":
            depth -= 1
    return best


def _attr_value(attr: object) -> str | None:
    """A slice DeviceAttribute is `{string|int|bool|version: value}` (used for ResourceSlice devices)."""
    if isinstance(attr, dict):
        for key in ("string", "version", "int", "bool"):
            if key in attr and attr[key] is not None:
                return str(attr[key])
    return None


def _refuse_unsafe(path: str, text: str) -> None:
    """Files we do not model: truncated by `head -c`, or nested past our own limit."""
    if len(text) >= execs.MAX_FILE_BYTES and len(text.encode("utf-8", "replace")) >= execs.MAX_FILE_BYTES:
        raise RefusedEvidence(f"{path}: {execs.MAX_FILE_BYTES} bytes or more (more than is read), refused")
    # every opener counted, strings included, bounds the depth: the walk only when that bound is passed
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _depth(text) > MAX_JSON_DEPTH:
        raise RefusedEvidence(f"{path}: JSON nested deeper than {MAX_JSON_DEPTH} levels, refused")


def _string_attr(device: dict[str, Any], key: str) -> str | None:
    """KubeVirt takes an attribute only as a non-empty StringValue (utils.go GetPCIAddressForClaim)."""
    attr = (device.get("attributes") or {}).get(key)
    value = attr.get("string") if isinstance(attr, dict) else None
    return value if isinstance(value, str) and value else None


def _metadata_file(path: str, md: dict[str, Any], versions: tuple[str, ...]) -> MetadataFile:
    requests: dict[str, tuple[MetadataDevice, ...]] = {}
    names = []
    for req in md.get("requests") or []:
        name = req.get("name", "")
        names.append(name)
        devices = tuple(
            MetadataDevice(
                driver=dev.get("driver", ""),
                pool=dev.get("pool", ""),
                name=dev.get("name", ""),
                pci=_string_attr(dev, PCI_ATTR),
                mdev=_string_attr(dev, MDEV_ATTR),
            )
            for dev in req.get("devices") or []
        )
        requests.setdefault(name, devices)  # resolveDevice returns at the first request of the name
    return MetadataFile(
        path=path,
        api_versions=versions,
        requests=requests,
        name=(md.get("metadata") or {}).get("name", ""),
        pod_claim_name=md.get("podClaimName"),
        request_names=tuple(names),
    )


def _decode_stream(path: str, text: str) -> MetadataFile:
    """v1.8.3+ readMetadataFile/decodeMetadataFromStream; errors read `<path>: <upstream text>`."""
    _refuse_unsafe(path, text)
    unknown: list[str] = []
    try:
        for raw in gojson.stream(text):
            peek = gojson.Decoder()
            version = (peek.decode(raw, _PEEK) or {}).get("apiVersion", "")
            if peek.error:
                raise gojson.GoJSONError(f"decode metadata object: {peek.error}")
            if not version:
                raise gojson.GoJSONError("decode metadata object: missing apiVersion")
            if version != METADATA_API:
                unknown.append(version)
                continue
            full = gojson.Decoder()
            md = full.decode(raw, _DEVICE_METADATA) or {}
            if full.error:
                raise gojson.GoJSONError(f"decode {version}: {full.error}")
            return _metadata_file(path, md, (*unknown, version))
    except gojson.GoJSONError as exc:
        text_ = str(exc)
        if not text_.startswith("decode "):
            text_ = f"read object from metadata stream: {text_}"
        raise EvidenceError(f"{path}: {text_}") from None
    if not unknown:
        raise EvidenceError(f"{path}: no metadata objects found in stream")
    raise EvidenceError(
        f"{path}: no compatible metadata version found in stream (unknown versions: {', '.join(unknown)})"
    )


def _decode_document(path: str, text: str) -> MetadataFile:
    """v1.8.0-v1.8.2 readMetadataFile: one json.Unmarshal, no apiVersion check."""
    _refuse_unsafe(path, text)
    try:
        raw = gojson.unmarshal_document(text)
    except gojson.GoJSONError as exc:
        raise EvidenceError(f"parsing metadata file {gojson.go_quote(path)}: {exc}") from None
    full = gojson.Decoder()
    md = full.decode(raw, _DEVICE_METADATA) or {}
    if full.error:
        raise EvidenceError(f"parsing metadata file {gojson.go_quote(path)}: {full.error}")
    version = md.get("apiVersion", "")
    return _metadata_file(path, md, (version,) if version else ())


def parse_metadata(path: str, text: str) -> MetadataFile:
    """One file as KubeVirt v1.8.3+ decodes it; EvidenceError carries upstream's text."""
    return _decode_stream(path, text)


