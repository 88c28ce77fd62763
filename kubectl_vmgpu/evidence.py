"""Parsers for launcher evidence: `ls -l` of /dev nodes, `head -v` output, domain XML (metadata files: metadata.py)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from . import execs

PCI_ADDRESS = re.compile(r"([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])\Z")
_HEAD_HEADER = re.compile(r"(?:^|\n)==> (.+) <==\n")
_DTD = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)


class EvidenceError(ValueError):
    """Evidence that cannot be trusted or parsed; the message says why, in one line."""


@dataclass(frozen=True)
class Hostdev:
    """A `<hostdev>` of the domain: its alias and host-side source."""

    alias: str
    type: str
    pci: str | None
    mdev: str | None


def parse_vfio_listing(text: str) -> tuple[str, ...]:
    """Names in `ls -l /dev/vfio` output: numeric group nodes, `vfio`, `devices`."""
    names = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 9 and fields[0][:1] in "cdl-":
            names.append(fields[-1] if fields[0][0] != "l" else fields[-3])
    return tuple(names)


def parse_iommu_listing(text: str) -> tuple[str, ...]:
    """Paths in `ls -l /dev/iommu /dev/vfio/devices` output: `/dev/iommu` and `/dev/vfio/devices/vfioN`.

    ls prints a file argument on its own line by its full path, then each directory behind a `<dir>:` header.
    """
    paths = []
    folder = ""
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 1 and line.endswith(":"):
            folder = line[:-1].rstrip("/") + "/"
        elif len(fields) >= 9 and fields[0][:1] in "cdl-":
            name = fields[-1] if fields[0][0] != "l" else fields[-3]
            paths.append(name if name.startswith("/") else folder + name)
    return tuple(paths)


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
