"""Parsers for launcher evidence: KEP-5304 metadata streams, `ls -l /dev/vfio`, domain XML."""

from __future__ import annotations

import enum
import posixpath
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import execs, gojson

METADATA_API = "metadata.resource.k8s.io/v1alpha1"  # the only version KubeVirt v1.8.3-v1.9 accepts
PCI_ATTR = "resource.kubernetes.io/pciBusID"
MDEV_ATTR = "mdevUUID"
MAX_JSON_DEPTH = 64  # our own refusal, far below any real file; Go's limit is 10000
# kubevirt pkg/util/hardware/hw_utils.go PCI_ADDRESS_PATTERN (Go RE2: `\d` is ASCII, `$` is end of text).
PCI_ADDRESS = re.compile(r"([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])\Z")
_HEAD_HEADER = re.compile(r"(?:^|\n)==> (.+) <==\n")
_DTD = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)

# kubevirt pkg/dra/metadata/types.go (v1.8.0-v1.9.0) with k8s.io/api resource/v1 DeviceAttribute.
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


class EvidenceError(ValueError):
    """Evidence that cannot be trusted or parsed; the message says why, in one line."""


class RefusedEvidence(EvidenceError):
    """A file we refuse to model (truncated by `head -c`, or nested past our limit), not an upstream error."""


class KubeVirtReader(enum.Enum):
    """Which virt-launcher metadata reader applies (kubevirt pkg/dra/utils.go)."""

    V1_8_0 = "v1.8.0-v1.8.2"  # old root, one JSON document, template claims by podClaimName
    V1_8_3 = "v1.8.3+"  # KEP-5304 root, JSON stream, v1alpha1 only (same code in v1.9.0)

    @classmethod
    def for_version(cls, version: tuple[int, int, int] | None) -> KubeVirtReader | None:
        """None before v1.8.0 (v1.6/v1.7 read VMI status.deviceStatus); an unknown version reads as current."""
        if version is None or version >= (1, 8, 3):
            return cls.V1_8_3
        return cls.V1_8_0 if version >= (1, 8, 0) else None


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


@dataclass(frozen=True)
class MetadataResult:
    """What KubeVirt's GetMDevUUIDForClaim and GetPCIAddressForClaim return for one (claim, request)."""

    reader: KubeVirtReader
    files: tuple[str, ...]  # the files KubeVirt's glob matched, in its order
    metadata: MetadataFile | None  # the file KubeVirt decoded and kept
    devices: tuple[MetadataDevice, ...]  # devices of the first request of that name
    mdev: str | None
    pci: str | None
    mdev_error: str | None  # upstream's text when GetMDevUUIDForClaim fails
    pci_error: str | None

    @property
    def device(self) -> MetadataDevice | None:
        return self.devices[0] if len(self.devices) == 1 else None

    @property
    def error(self) -> str | None:
        """The reader's error when KubeVirt gets neither an mdevUUID nor a pciBusID."""
        return None if self.mdev or self.pci else self.pci_error

    def launcher_error(self, kind: str, name: str, claim: str, request: str) -> str | None:
        """The text virt-launcher fails with (SyncFailed) for a GPU (kind "gpu") or host device, or None.

        kubevirt pkg/virt-launcher/virtwrap/device/hostdevice/dra/{gpu,generic}_hostdev.go; v1.8.0-v1.8.2
        drop the reader's errors, v1.8.3+ append them.
        """
        label, wrap = (
            ("GPU", "failed to create DRA GPU host-devices")
            if kind == "gpu"
            else (
                "HostDevice",
                "failed to create dra generic host-devices",
            )
        )
        if self.mdev:
            return None
        if self.pci:
            if PCI_ADDRESS.match(self.pci):
                return None
            return f"{wrap}: failed to create PCI device for {name}: failed to parse pci address {self.pci}"
        text = f"{wrap}: {label} {name} has no mdevUUID or pciBusID in metadata for claim {claim} request {request}"
        if self.reader is KubeVirtReader.V1_8_3:
            text += f" (mdev: {self.mdev_error}, pci: {self.pci_error})"
        return text


@dataclass(frozen=True)
class Hostdev:
    """A `<hostdev>` of the domain: its alias and host-side source."""

    alias: str
    type: str
    pci: str | None
    mdev: str | None


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
    if _depth(text) > MAX_JSON_DEPTH:
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


def _glob_order(path: str) -> list[str]:
    """filepath.Glob sorts each directory level, which is not plain string order ("a" < "a-b")."""
    return path.split("/")


def _glob(files: Mapping[str, str], folder: str | None, request: str) -> tuple[str, ...]:
    """`<folder>/*-metadata.json`, or with folder None `<old root>/*/<request>/*-metadata.json`."""
    out = []
    for p in files:
        parent, _, base = p.rpartition("/")
        if not base.endswith("-metadata.json"):
            continue
        if folder is None:
            head, _, req = parent.rpartition("/")
            root, _, claim = head.rpartition("/")
            if req == request and claim and root == execs.OLD_METADATA_ROOT:
                out.append(p)
        elif parent == folder:
            out.append(p)
    return tuple(sorted(out, key=_glob_order))


def _find_claim(vmi_claims: Sequence[Mapping[str, Any]], claim_ref: str) -> tuple[str, bool] | None:
    """resolveClaimMetadata: the first entry named claim_ref; (name, direct)."""
    for rc in vmi_claims:
        if rc.get("name") != claim_ref:
            continue
        rcn = rc.get("resourceClaimName")
        if isinstance(rcn, str) and rcn:
            return rcn, True
        return claim_ref, False
    return None


def _device_result(
    reader: KubeVirtReader, files: tuple[str, ...], md: MetadataFile, claim_ref: str, request: str
) -> MetadataResult:
    """resolveDevice, then the attribute look-ups of GetMDevUUIDForClaim and GetPCIAddressForClaim."""
    if request not in md.requests:
        names = " ".join(md.request_names)
        missing = (
            f"request {gojson.go_quote(request)} not found in metadata for claim {gojson.go_quote(md.name)} "
            f"(available requests: [{names}])"
        )
        return MetadataResult(reader, files, md, (), None, None, missing, missing)
    devices = md.requests[request]
    error: str | None = None
    if not devices:
        error = f"request {gojson.go_quote(request)} has no devices"
    elif len(devices) > 1:
        error = (
            f"request {gojson.go_quote(request)} has {len(devices)} devices but KubeVirt only supports exactly "
            "one device per request (count > 1 is not supported)"
        )
    if error:
        return MetadataResult(reader, files, md, devices, None, None, error, error)
    dev = devices[0]
    where = f"for claim {gojson.go_quote(claim_ref)} request {gojson.go_quote(request)}"
    return MetadataResult(
        reader,
        files,
        md,
        devices,
        dev.mdev,
        dev.pci,
        None if dev.mdev else f"mdevUUID not found {where}",
        None if dev.pci else f"pciBusID not found {where}",
    )


def _failed(reader: KubeVirtReader, files: tuple[str, ...], error: str) -> MetadataResult:
    return MetadataResult(reader, files, None, (), None, None, error, error)


def _read_current(
    files: Mapping[str, str], claim: str, direct: bool, request: str
) -> tuple[tuple[str, ...], MetadataFile | str]:
    """v1.8.3+ readMetadataFromDir: exactly one file under resourceclaims/ or resourceclaimtemplates/."""
    kind = "resourceclaims" if direct else "resourceclaimtemplates"
    folder = posixpath.normpath(f"{execs.METADATA_ROOT}/{kind}/{claim}/{request}")
    matched = _glob(files, folder, request)
    where = f"for claim {gojson.go_quote(claim)} request {gojson.go_quote(request)}"
    if not matched:
        return matched, f"failed to read metadata {where}: no files matching {folder}/*-metadata.json"
    if len(matched) > 1:
        return matched, (
            f"found {len(matched)} metadata files {where} but KubeVirt only supports exactly one driver per request"
        )
    try:
        return matched, _decode_stream(matched[0], files[matched[0]])
    except RefusedEvidence:
        raise
    except EvidenceError as exc:
        return matched, str(exc)


def _read_old(
    files: Mapping[str, str], claim: str, direct: bool, request: str
) -> tuple[tuple[str, ...], MetadataFile | str]:
    """v1.8.0-v1.8.2: the first file of the claim's folder, or a template claim's file by podClaimName."""
    where = f"claim {gojson.go_quote(claim)} request {gojson.go_quote(request)}"
    if direct:
        matched = _glob(files, posixpath.normpath(f"{execs.OLD_METADATA_ROOT}/{claim}/{request}"), request)
        if not matched:
            return matched, f"metadata not found for {where}"
        try:  # only matches[0] is read: a second driver's file is ignored
            return matched, _decode_document(matched[0], files[matched[0]])
        except RefusedEvidence:
            raise
        except EvidenceError as exc:
            return matched, f"failed to read metadata for {where}: {exc}"
    matched = _glob(files, None, request)
    if not matched:
        return (
            matched,
            f"no metadata file found for templateclaim {gojson.go_quote(claim)} request {gojson.go_quote(request)}",
        )
    for path in matched:
        try:
            md = _decode_document(path, files[path])
        except RefusedEvidence:
            raise
        except EvidenceError:
            continue  # findMetadataByPodClaimName logs and skips a file it cannot parse
        if md.pod_claim_name == claim:
            return matched, md
    return matched, (
        f"no metadata file found with matching with pod claim name {gojson.go_quote(claim)} "
        f"request {gojson.go_quote(request)}"
    )


def read_metadata(
    reader: KubeVirtReader,
    files: Mapping[str, str],
    vmi_claims: Sequence[Mapping[str, Any]],
    claim_ref: str,
    request: str,
) -> MetadataResult:
    """What virt-launcher gets for the VMI entry (claim_ref, request) from the metadata files it can see.

    files: every metadata file of the compute container, path -> content. vmi_claims: the VMI's
    spec.resourceClaims. Raises EvidenceError only for a file we refuse to model (truncated or too deep).
    """
    found = _find_claim(vmi_claims, claim_ref)
    if found is None:
        return _failed(reader, (), f"metadata not found for claim {gojson.go_quote(claim_ref)}")
    claim, direct = found
    read = _read_current if reader is KubeVirtReader.V1_8_3 else _read_old
    matched, md = read(files, claim, direct, request)
    if isinstance(md, str):
        return _failed(reader, matched, md)
    return _device_result(reader, matched, md, claim_ref, request)


def metadata_paths(template: bool, claim: str, request: str, old_layout: bool) -> tuple[str, str]:
    """The folder a KubeVirt version reads for (claim, request), and the glob inside it.

    `claim` is the pod claim name for template claims and the ResourceClaim name otherwise.
    """
    if old_layout:  # KubeVirt v1.8.0-v1.8.2
        return f"{execs.OLD_METADATA_ROOT}/{claim}/{request}", "*-metadata.json"
    kind = "resourceclaimtemplates" if template else "resourceclaims"
    return f"{execs.METADATA_ROOT}/{kind}/{claim}/{request}", "*-metadata.json"


def parse_vfio_listing(text: str) -> tuple[str, ...]:
    """Names in `ls -l /dev/vfio` output: numeric group nodes, `vfio`, `devices`."""
    names = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 9 and fields[0][:1] in "cdl-":
            names.append(fields[-1] if fields[0][0] != "l" else fields[-3])
    return tuple(names)


def split_head_output(text: str, asked: list[str] | None = None) -> dict[str, str]:
    """Split `head -v` output back into files.

    With `asked` (the paths given to head, in order), headers must be some of those paths, each
    once and in that order: a file that prints a `==> path <==` line cannot pass for another file.
    """
    pieces = _HEAD_HEADER.split(text)
    names = pieces[1::2]
    if asked is not None:
        order = iter(asked)
        if len(set(names)) != len(names) or not all(name in order for name in names):
            raise EvidenceError("`head` output has file headers that were not asked for (a file prints one), refused")
    return {pieces[i]: pieces[i + 1] for i in range(1, len(pieces) - 1, 2)}


def normalize_pci(domain: str, bus: str, slot: str, function: str) -> str | None:
    """libvirt's `0x0000`,`0x4a`,`0x00`,`0x0` -> `0000:4a:00.0`."""
    try:
        return f"{int(domain, 16):04x}:{int(bus, 16):02x}:{int(slot, 16):02x}.{int(function, 16):x}"
    except ValueError:
        return None


def parse_domain(text: str) -> tuple[str, tuple[Hostdev, ...]]:
    """The domain name and its hostdevs; refuses DTDs and entities (never expanded) and oversized XML."""
    if len(text) > execs.MAX_OUTPUT_BYTES:
        raise EvidenceError(f"domain XML is larger than {execs.MAX_OUTPUT_BYTES} bytes, refused")
    if _DTD.search(text):
        raise EvidenceError("domain XML declares a DTD or entities, refused")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise EvidenceError(f"domain XML does not parse: {exc}") from None
    if root.tag != "domain":
        raise EvidenceError(f"domain XML has root <{root.tag}>, expected <domain>")
    hostdevs = []
    for hd in root.iter("hostdev"):
        alias = hd.find("alias")
        address = hd.find("source/address")
        pci = mdev = None
        if address is not None:
            if address.get("uuid"):
                mdev = address.get("uuid")
            else:
                pci = normalize_pci(
                    address.get("domain", "0"),
                    address.get("bus", ""),
                    address.get("slot", ""),
                    address.get("function", ""),
                )
        hostdevs.append(
            Hostdev(
                alias=alias.get("name", "") if alias is not None else "",
                type=hd.get("type", ""),
                pci=pci,
                mdev=mdev,
            )
        )
    return root.findtext("name", ""), tuple(hostdevs)
