"""What virt-launcher gets from the device metadata files it can see, modelled per KubeVirt version.

[kubevirt pkg/dra/utils.go and utils_test.go at v1.8.2, v1.8.3, v1.9.0]: the lookup (paths, globbing, podClaimName
matching) and upstream's own error texts, which surface in SyncFailed events.
"""

from __future__ import annotations

import enum
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from . import execs, gojson
from .evidence import PCI_ADDRESS, EvidenceError
from .metadatafile import MetadataDevice, MetadataFile, RefusedEvidence, _decode_document, _decode_stream
from .views import ClaimSource, KubeVirt


class KubeVirtReader(enum.Enum):
    """Which virt-launcher metadata reader applies (kubevirt pkg/dra/utils.go)."""

    V1_8_0 = "v1.8.0-v1.8.2"  # old root, one JSON document, template claims by podClaimName
    V1_8_3 = "v1.8.3+"  # KEP-5304 root, JSON stream, v1alpha1 only (same code in v1.9.0)

    @classmethod
    def of(cls, kubevirt: KubeVirt) -> KubeVirtReader | None:
        """None before v1.8.0 (v1.6/v1.7 read VMI status.deviceStatus); an unknown version reads as current."""
        if kubevirt.reads_metadata_from() != "metadata":
            return None
        return cls.V1_8_0 if kubevirt.uses_old_metadata_path() else cls.V1_8_3


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


def _find_claim(vmi_claims: Sequence[ClaimSource], claim_ref: str) -> tuple[str, bool] | None:
    """resolveClaimMetadata: the first entry named claim_ref; (name, direct)."""
    for rc in vmi_claims:
        if rc.name != claim_ref:
            continue
        if rc.claim_name:
            return rc.claim_name, True
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
    vmi_claims: Sequence[ClaimSource],
    claim_ref: str,
    request: str,
) -> MetadataResult:
    """What virt-launcher gets for the VMI entry (claim_ref, request) from the metadata files it can see.

    files: every metadata file of the compute container, path -> content. vmi_claims: the VMI's
    spec.resourceClaims entries. Raises EvidenceError only for a file we refuse to model (truncated or too deep).
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


