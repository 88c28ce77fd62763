"""Parsers for launcher evidence: KEP-5304 metadata streams, `ls -l /dev/vfio`, domain XML."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from . import execs

METADATA_API = "metadata.resource.k8s.io/v1alpha1"  # the only version KubeVirt (v1.9) accepts
PCI_ATTR = "resource.kubernetes.io/pciBusID"
MDEV_ATTR = "mdevUUID"
MAX_JSON_DEPTH = 64
_HEAD_HEADER = re.compile(r"(?:^|\n)==> (.+) <==\n")
_DTD = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)


class EvidenceError(ValueError):
    """Evidence that cannot be trusted or parsed; the message says why, in one line."""


@dataclass(frozen=True)
class MetadataDevice:
    """One device of one request, as a metadata file describes it."""

    driver: str
    pool: str
    name: str
    pci: str | None
    mdev: str | None


@dataclass(frozen=True)
class MetadataFile:
    """The compatible (v1alpha1) object of one metadata JSON stream."""

    path: str
    api_versions: tuple[str, ...]
    requests: dict[str, tuple[MetadataDevice, ...]] = field(default_factory=dict)


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
    """A DeviceAttribute is `{string|int|bool|version: value}`."""
    if isinstance(attr, dict):
        for key in ("string", "version", "int", "bool"):
            if key in attr and attr[key] is not None:
                return str(attr[key])
    return None


def _dicts(value: object) -> list[dict]:
    """The dict entries of a JSON list; anything else is no entries."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def parse_metadata(path: str, text: str) -> MetadataFile:
    """Parse a metadata JSON stream (objects concatenated, newest API version first)."""
    if len(text) >= execs.MAX_FILE_BYTES and len(text.encode("utf-8", "replace")) >= execs.MAX_FILE_BYTES:
        raise EvidenceError(f"{path}: {execs.MAX_FILE_BYTES} bytes or more (more than is read), refused")
    if _depth(text) > MAX_JSON_DEPTH:
        raise EvidenceError(f"{path}: JSON nested deeper than {MAX_JSON_DEPTH} levels, refused")
    decoder = json.JSONDecoder()
    objs: list[object] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos >= end:
            break
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise EvidenceError(f"{path}: not a JSON stream ({exc.msg} at offset {exc.pos})") from None
        except ValueError as exc:  # e.g. an integer longer than Python converts
            raise EvidenceError(f"{path}: not a JSON stream ({str(exc).split(':')[0]})") from None
        objs.append(obj)
    versions = tuple(str(o.get("apiVersion")) for o in objs if isinstance(o, dict))
    compatible = [o for o in objs if isinstance(o, dict) and o.get("apiVersion") == METADATA_API]
    if not compatible:
        found = ", ".join(versions) or "nothing"
        raise EvidenceError(f"{path}: no compatible metadata version found in stream (found {found})")
    requests: dict[str, tuple[MetadataDevice, ...]] = {}
    for req in _dicts(compatible[0].get("requests")):
        devices = []
        for dev in _dicts(req.get("devices")):
            attrs = dev.get("attributes")
            if not isinstance(attrs, dict):
                attrs = {}
            devices.append(
                MetadataDevice(
                    driver=str(dev.get("driver", "")),
                    pool=str(dev.get("pool", "")),
                    name=str(dev.get("name", "")),
                    pci=_attr_value(attrs.get(PCI_ATTR)),
                    mdev=_attr_value(attrs.get(MDEV_ATTR)),
                )
            )
        requests[str(req.get("name"))] = tuple(devices)
    return MetadataFile(path=path, api_versions=versions, requests=requests)


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
