"""Each link's status once the findings are known, and the device's address as each source shows it."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from .chain import Chain, LinkName, VmiView
from .model import Finding, Severity

_RUNTIME = frozenset({"pod", "allocation", "device", "metadata", "vfio", "domain"})


class Status(enum.Enum):
    OK = "ok"
    ERROR = "error"
    WARNING = "warning"
    MISSING = "missing"
    UNKNOWN = "unknown"
    NA = "n/a"


@dataclass(frozen=True, slots=True)
class Link:
    """One link of one chain: its name, whether it was found, why it is unknown, and its status."""

    name: LinkName
    present: bool
    status: Status
    error: str | None = None


def _present(view: VmiView, chain: Chain) -> dict[LinkName, tuple[bool, str | None]]:
    e = chain.evidence
    out = {
        LinkName.SPEC: (True, None),
        LinkName.SOURCE: (chain.source is not None, None),
        LinkName.POD: (view.pod is not None, None),
        LinkName.CLAIM: (chain.claim is not None, None),
        LinkName.ALLOCATION: (bool(chain.results), None),
        LinkName.CLASS: (chain.device_class is not None, None),
        LinkName.DEVICE: (chain.device is not None, None),
        LinkName.DEVICE_STATUS: (e.status_present, None),
        LinkName.METADATA: (bool(e.metadata_files), e.metadata_error),
        LinkName.VFIO: (e.vfio is not None, e.vfio_error),
        LinkName.DOMAIN: (e.hostdev is not None, e.domain_error),
    }
    if not e.status_present:  # only KubeVirt v1.6/v1.7 fill it: no link otherwise
        del out[LinkName.DEVICE_STATUS]
    return out


def links(view: VmiView, chain: Chain, findings: Iterable[Finding]) -> tuple[Link, ...]:
    """Each link's status: its worst finding (warning or error), else found, missing, unknown or n/a."""
    worst: dict[str, Severity] = {}
    found: set[str] = set()
    for f in findings:
        found.add(f.link)
        if f.severity > Severity.INFO and f.severity > worst.get(f.link, Severity.INFO):
            worst[f.link] = f.severity
    out = []
    for name, (present, error) in _present(view, chain).items():
        sev = worst.get(name.value)
        status = Status(str(sev)) if sev else _status(view, chain, name, present, error, name.value in found)
        out.append(Link(name, present, status, error))
    return tuple(out)


def _status(view: VmiView, chain: Chain, name: LinkName, present: bool, error: str | None, noted: bool) -> Status:
    if name is LinkName.SPEC:
        return Status.OK
    runtime = name.value in _RUNTIME or chain.template is not None
    if view.vmi is None and not present and runtime:  # a VM that is not running: nothing to walk yet
        return Status.NA
    if name in (LinkName.METADATA, LinkName.VFIO, LinkName.DOMAIN):
        if name is LinkName.METADATA and chain.evidence.metadata_dir is None and view.pod_evidence is not None:
            return Status.UNKNOWN if error else Status.NA
        if error or view.pod_evidence is None:
            return Status.UNKNOWN
        if name is LinkName.VFIO:
            return Status.OK if present else Status.UNKNOWN
    if present:
        return Status.OK
    return Status.UNKNOWN if noted else Status.MISSING


def addresses(chain: Chain) -> dict[str, dict[str, str]]:
    """The device's pciBusID and mdevUUID as each source shows it (slice, deviceStatus, metadata, domain)."""
    evd = chain.evidence
    found: dict[str, dict[str, str]] = {"pciBusID": {}, "mdevUUID": {}}
    sources: list[tuple[str, str | None, str | None]] = []
    if chain.device is not None:
        sources.append(("ResourceSlice", chain.device.pci, chain.device.device.mdev))
    if evd.status_present:
        sources.append(("VMI deviceStatus", evd.status_pci, evd.status_mdev))
    if len(evd.metadata_devices) == 1:
        sources.append(("metadata", evd.metadata_devices[0].pci, evd.metadata_devices[0].mdev))
    if evd.hostdev is not None:
        sources.append(("domain XML", evd.hostdev.pci, evd.hostdev.mdev))
    for source, pci, mdev in sources:
        if pci:
            found["pciBusID"][source] = pci
        if mdev:
            found["mdevUUID"][source] = mdev
    return found
