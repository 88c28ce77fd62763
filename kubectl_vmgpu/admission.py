"""KubeVirt's DRA admission rules (pkg/dra/admitter), modelled per release with upstream's exact texts.

virt-api runs `validateCreationDRA` on every VMI create and on every VM create/update (on
`spec.template.spec`) [vmi-create-admitter.go `ValidateVirtualMachineInstanceSpec`, vms-admitter.go
`ValidateVirtualMachineSpec`]. It appends every cause it finds, in the order below, and the API server
shows them joined by ", " (ten at most) [pkg/util/webhooks/webhooks.go `ToAdmissionResponse`].
Four distinct implementations exist up to v1.9.0 (blob hashes of dra_admitter.go):
v1.6.0-v1.7.4, v1.8.0-v1.8.2, v1.8.3-v1.8.4, v1.9.0. Nothing here reads a ResourceClaim: the webhook
never does, so a requestName that names no request of the claim is accepted (chain.md section 1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from .gojson import go_quote
from .views import VmiDevices

__all__ = [
    "Cause", "ClaimSource", "DeviceEntry", "DeviceKind", "Gates", "Rejection",
    "admit", "dns1123_label_errors", "dns1123_subdomain_errors", "go_quote", "inputs",
    "webhook_message",
]


class DeviceKind(Enum):
    """Which list of the VMI spec an entry comes from; the value is its JSON name."""

    GPU = "gpus"
    HOST_DEVICE = "hostDevices"
    NETWORK = "networks"


class Cause(Enum):
    """metav1.CauseType of a rejection; WEBHOOK_CRASH is the v1.6/v1.7 nil dereference (no cause at all)."""

    INVALID = "FieldValueInvalid"
    REQUIRED = "FieldValueRequired"
    DUPLICATE = "FieldValueDuplicate"
    WEBHOOK_CRASH = "WebhookCrash"


@dataclass(frozen=True)
class DeviceEntry:
    """One gpus[], hostDevices[] or networks[] entry, in spec order (its index is its place in its kind).

    claim_name/request_name are None when the key is absent: up to v1.8.x they are *string in Go, and
    the inline *ClaimRequest exists as soon as either key is present [api core/v1 schema.go ClaimRequest].
    For a network, "" stands for a `resourceClaim` object without that key (Go string fields).
    """

    kind: DeviceKind
    name: str = ""
    device_name: str = ""
    claim_name: str | None = None
    request_name: str | None = None

    @property
    def has_claim_request(self) -> bool:
        return self.claim_name is not None or self.request_name is not None

    @property
    def is_dra(self) -> bool:
        # pkg/dra/utils.go IsGPUDRA / IsHostDeviceDRA: no deviceName and a claim request.
        return self.device_name == "" and self.has_claim_request


@dataclass(frozen=True)
class ClaimSource:
    """One spec.resourceClaims[] entry; a source field is None when absent (*string in Go)."""

    name: str = ""
    claim_name: str | None = None
    template_name: str | None = None


@dataclass(frozen=True)
class Gates:
    """KubeVirt feature gates as the cluster resolves them: GPUsWithDRA, HostDevicesWithDRA, NetworkDevicesWithDRA."""

    gpus: bool
    host_devices: bool
    networks: bool = False


@dataclass(frozen=True)
class Rejection:
    """One webhook cause: upstream's message and field path; entry names the offending entry when there is one."""

    message: str
    field: str
    cause: Cause
    entry: str | None = None


# The releases whose admitters differ, in order (KubeVirt.admitter_release picks one for a version).
RELEASES = ("v1.6.0", "v1.8.0", "v1.8.3", "v1.9.0")
_V16, _V180, _V183, _V190 = range(len(RELEASES))
_TYPE_NAME = {DeviceKind.GPU: "GPU", DeviceKind.HOST_DEVICE: "HostDevice"}
_PAIR_OWNER = {DeviceKind.GPU: "GPUs", DeviceKind.HOST_DEVICE: "HostDevices", DeviceKind.NETWORK: "Networks"}
_CRASH = ("failed calling webhook: virt-api's DRA admitter dereferences the absent claimName of a DRA GPU "
          "(nil pointer, v1.6/v1.7 pkg/dra/admitter) and the webhook's failurePolicy Fail refuses the object")


def admit(
    release: str | None,
    gates: Gates,
    entries: Sequence[DeviceEntry],
    sources: Sequence[ClaimSource],
    root: str = "spec",
) -> tuple[Rejection, ...]:
    """Every cause the DRA admitter of `release` (one of RELEASES) gives, in upstream's order; () when it admits.

    root is the path of the VMI spec: "spec" for a VMI, "spec.template.spec" for a VM; release None (before
    v1.6.0) has no DRA admitter.
    """
    if release is None:
        return ()
    era = RELEASES.index(release)
    gpus = [e for e in entries if e.kind is DeviceKind.GPU]
    if era == _V16:
        return tuple(_admit_v16(root, gates, gpus, sources))
    hds = [e for e in entries if e.kind is DeviceKind.HOST_DEVICE]
    out = _claims_v19(root, sources) if era >= _V190 else _claims_v18(root, sources)
    gpu_out, gpu_names, gpu_pairs = _devices(era, root, DeviceKind.GPU, gpus, gates.gpus)
    hd_out, hd_names, hd_pairs = _devices(era, root, DeviceKind.HOST_DEVICE, hds, gates.host_devices)
    out += gpu_out + hd_out
    if era >= _V183:
        pair_sources = [(DeviceKind.GPU, gpu_pairs), (DeviceKind.HOST_DEVICE, hd_pairs)]
        if era >= _V190 and gates.networks:
            nets = [e for e in entries if e.kind is DeviceKind.NETWORK]
            pair_sources.append((DeviceKind.NETWORK, _network_pairs(nets)))
        out += _cross_pairs(root, pair_sources)
    missing = (gpu_names | hd_names) - {s.name for s in sources}
    if missing:
        out.append(Rejection(
            "vmi.spec.resourceClaims must specify all claims used in vmi.spec.domain.devices.gpus and "
            "vmi.spec.domain.devices.hostDevices", f"{root}.resourceClaims", Cause.INVALID))
    return tuple(out)


def _admit_v16(root: str, gates: Gates, gpus: Sequence[DeviceEntry], sources: Sequence[ClaimSource]) -> list[Rejection]:
    # v1.6.0-v1.7.4 validateCreationDRA: GPUs only (hostDevices pass unchecked, gate or not), the
    # field path doubled ("spec.spec.domain...") by field.Child("spec", ...), returns at the first
    # fatal cause, and no requestName, duplicate-pair or resourceClaims-name checks at all.
    field = f"{root}.spec.domain.devices.gpus"
    out: list[Rejection] = []
    for gpu in (g for g in gpus if not g.is_dra):
        if gpu.device_name == "":
            out.append(Rejection("vmi.spec.domain.devices.gpus contains GPUs without deviceName",
                                 field, Cause.INVALID, gpu.name))
            return out
        if gpu.has_claim_request:
            out.append(Rejection("vmi.spec.domain.devices.gpus contains GPUs with both deviceName and claimRequest",
                                 field, Cause.INVALID, gpu.name))
    dra = [g for g in gpus if g.is_dra]
    if dra and not gates.gpus:
        out.append(Rejection("vmi.spec.domain.devices.gpus contains DRA enabled GPUs but feature gate is not enabled",
                             field, Cause.INVALID))
        return out
    for i, gpu in enumerate(gpus):
        if gpu.is_dra and gpu.claim_name is None:  # `*gpu.ClaimName` on nil: virt-api panics, returns no cause
            return [Rejection(_CRASH, f"{field}[{i}].claimName", Cause.WEBHOOK_CRASH, gpu.name)]
    if {g.claim_name for g in dra} - {s.name for s in sources}:
        out.append(Rejection("vmi.spec.resourceClaims must specify all claims used in vmi.spec.domain.devices.gpus",
                             f"{root}.resourceClaims", Cause.INVALID))
    return out


def _claims_v18(root: str, sources: Sequence[ClaimSource]) -> list[Rejection]:
    # v1.8.0-v1.8.4: only duplicate names, "" included.
    seen: set[str] = set()
    out: list[Rejection] = []
    for i, src in enumerate(sources):
        if src.name in seen:
            out.append(Rejection(f"duplicate resourceClaims name {go_quote(src.name)}",
                                 f"{root}.resourceClaims[{i}].name", Cause.DUPLICATE, src.name))
        seen.add(src.name)
    return out


def _claims_v19(root: str, sources: Sequence[ClaimSource]) -> list[Rejection]:
    # v1.9.0 validateResourceClaims: name required, unique, a DNS-1123 label; exactly one source,
    # each a DNS-1123 subdomain (apivalidation.NameIsDNSSubdomain, prefix false).
    seen: set[str] = set()
    out: list[Rejection] = []
    for i, src in enumerate(sources):
        path = f"{root}.resourceClaims[{i}]"
        if src.name == "":
            out.append(Rejection(f"{path}.name is a required field", f"{path}.name", Cause.REQUIRED))
        elif src.name in seen:
            out.append(Rejection(f"duplicate resourceClaims name {go_quote(src.name)}", f"{path}.name",
                                 Cause.DUPLICATE, src.name))
        else:
            errs = dns1123_label_errors(src.name)
            if errs:
                out.append(Rejection(f"{path}.name does not conform to the kubernetes DNS_LABEL rules: "
                                     + ", ".join(errs), f"{path}.name", Cause.INVALID, src.name))
            seen.add(src.name)
        if src.claim_name is not None and src.template_name is not None:
            out.append(Rejection("at most one of resourceClaimName or resourceClaimTemplateName may be specified",
                                 path, Cause.INVALID, src.name or None))
        if src.claim_name is None and src.template_name is None:
            out.append(Rejection("must specify one of: resourceClaimName, resourceClaimTemplateName",
                                 path, Cause.INVALID, src.name or None))
        for key, value in (("resourceClaimName", src.claim_name), ("resourceClaimTemplateName", src.template_name)):
            if value is not None:
                out += [Rejection(e, f"{path}.{key}", Cause.INVALID, src.name or None)
                        for e in dns1123_subdomain_errors(value)]
    return out


def _devices(
    era: int, root: str, kind: DeviceKind, entries: Sequence[DeviceEntry], gate: bool
) -> tuple[list[Rejection], set[str], dict[str, int]]:
    """validateDRAGPUs / validateDRAHostDevices: causes, valid claim names, first index of each pair."""
    field, type_name = f"{root}.domain.devices.{kind.value}", _TYPE_NAME[kind]
    dra = [(i, e) for i, e in enumerate(entries) if e.is_dra]
    plain = [(i, e) for i, e in enumerate(entries) if not e.is_dra]
    lst = f"vmi.spec.domain.devices.{kind.value} contains"
    if era >= _V183 and kind is DeviceKind.GPU and dra and plain:  # rejectMixed: GPUs only, even in v1.9.0
        return [Rejection(f"{lst} both DRA and non-DRA {type_name}s; each {type_name} must be either DRA or non-DRA",
                          field, Cause.INVALID)], set(), {}
    out: list[Rejection] = []
    for _, e in plain:
        if e.device_name == "":
            out.append(Rejection(f"{lst} {type_name}s without deviceName or claimRequest; each {type_name} must "
                                 "specify either a deviceName or a claimRequest", field, Cause.REQUIRED, e.name))
        elif e.has_claim_request:
            out.append(Rejection(f"{lst} {type_name}s with both deviceName and claimRequest",
                                 field, Cause.INVALID, e.name))
    if dra and not gate:
        out.append(Rejection(f"{lst} DRA enabled {type_name}s but feature gate is not enabled", field, Cause.INVALID))
        return out, set(), {}
    required, dups, names, first = _pairs(era, field, type_name, dra)
    return out + required + dups, names, first


def _pairs(
    era: int, field: str, type_name: str, dra: Sequence[tuple[int, DeviceEntry]]
) -> tuple[list[Rejection], list[Rejection], set[str], dict[str, int]]:
    # v1.8.0-v1.8.2 index the field by the position among DRA entries (required) and among valid
    # ones (duplicates); v1.8.3 fixed it ("index accuracy" tests). v1.8.x reports every required
    # cause before the first duplicate; v1.9.0 interleaves them per entry (one loop).
    required: list[Rejection] = []
    dups: list[Rejection] = []
    dup_sink = required if era >= _V190 else dups
    names: set[str] = set()
    first: dict[str, int] = {}
    valid = 0
    for pos, (i, e) in enumerate(dra):
        at = i if era >= _V183 else pos
        for key, value in (("claimName", e.claim_name), ("requestName", e.request_name)):
            if not value:
                required.append(Rejection(f"{key} is required for DRA {type_name}", f"{field}[{at}].{key}",
                                          Cause.REQUIRED, e.name))
        if not e.claim_name or not e.request_name:
            continue
        names.add(e.claim_name)
        pair = f"{e.claim_name}/{e.request_name}"
        if pair in first:
            at = i if era >= _V183 else valid
            dup_sink.append(Rejection(f"duplicate claimName/requestName pair {go_quote(pair)}", f"{field}[{at}]",
                                  Cause.DUPLICATE, e.name))
        first.setdefault(pair, i)
        valid += 1
    return required, dups, names, first


def _network_pairs(nets: Sequence[DeviceEntry]) -> dict[str, int]:
    # v1.9.0 pkg/network/vmispec ExtractDRANetworkClaimRequestTuples: networks with a resourceClaim
    # whose claimName and requestName are both set; first index wins.
    first: dict[str, int] = {}
    for i, net in enumerate(nets):
        if net.claim_name and net.request_name:
            first.setdefault(f"{net.claim_name}/{net.request_name}", i)
    return first


def _cross_pairs(root: str, pair_sources: Iterable[tuple[DeviceKind, dict[str, int]]]) -> list[Rejection]:
    # v1.8.3 (GPUs vs HostDevices) and v1.9.0 pairDuplicateChecker.mergeTupleSource (+ Networks when
    # NetworkDevicesWithDRA is on): a pair already owned by an earlier list is reported on the later
    # one. Upstream ranges over a Go map, so with several clashes its order is random: here by index
    # (each map is filled in index order).
    owner: dict[str, tuple[str, int]] = {}
    out: list[Rejection] = []
    for kind, first in pair_sources:
        base = f"{root}.networks" if kind is DeviceKind.NETWORK else f"{root}.domain.devices.{kind.value}"
        for pair, idx in first.items():
            if pair in owner:
                prev, prev_idx = owner[pair]
                out.append(Rejection(f"duplicate claimName/requestName pair {go_quote(pair)} between "
                                     f"{prev}[{prev_idx}] and {_PAIR_OWNER[kind]}[{idx}]", f"{base}[{idx}]",
                                     Cause.DUPLICATE))
                continue
            owner[pair] = (_PAIR_OWNER[kind], idx)
    return out


# k8s.io/apimachinery/pkg/util/validation (vendored in kubevirt v1.9.0): Go's `^...$` has no
# trailing-newline allowance, hence fullmatch; lengths are in bytes.
_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = _LABEL + "(\\." + _LABEL + ")*"
_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
              f"start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
              f"validation is '{_LABEL}')")
_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                  f"and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                  f"validation is '{_SUBDOMAIN}')")


def dns1123_label_errors(value: str) -> list[str]:
    """validation.IsDNS1123Label's error strings."""
    errs = ["must be no more than 63 characters"] if len(value.encode()) > 63 else []
    if not re.fullmatch(_LABEL, value):
        errs.append("must not contain dots" if re.fullmatch(_SUBDOMAIN, value) else _LABEL_MSG)
    return errs


def dns1123_subdomain_errors(value: str) -> list[str]:
    """validation.IsDNS1123Subdomain's error strings."""
    errs = ["must be no more than 253 characters"] if len(value.encode()) > 253 else []
    if not re.fullmatch(_SUBDOMAIN, value):
        errs.append(_SUBDOMAIN_MSG)
    return errs


def webhook_message(rejections: Sequence[Rejection]) -> str:
    """The denial text ToAdmissionResponse builds from these causes (first ten, then a count)."""
    text = ", ".join(r.message for r in rejections[:10])
    more = len(rejections) - 10
    return f"{text}, and {more} more validation errors" if more > 0 else text


def inputs(devices: VmiDevices) -> tuple[tuple[DeviceEntry, ...], tuple[ClaimSource, ...]]:
    """The admitter's input from the typed spec (build reads the raw spec: buildspec.admission_inputs)."""
    entries = tuple(DeviceEntry(DeviceKind(e.kind), e.name, e.device_name, e.claim_name, e.request_name)
                    for e in devices.spec_entries)
    return entries, tuple(ClaimSource(c.name, c.claim_name, c.template_name) for c in devices.spec_claims)
