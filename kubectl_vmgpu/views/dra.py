"""Typed views of the DRA API: requests and their configs, claims, templates, classes, slices and devices."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from .objects import Meta, Taint, Toleration

PCI_ATTR = "resource.kubernetes.io/pciBusID"
PCIE_ROOT_ATTR = "resource.kubernetes.io/pcieRoot"
MDEV_ATTR = "mdevUUID"


@dataclass(frozen=True, slots=True)
class Request:
    """A device request (v1 shape); `first_available` holds its subrequests."""

    name: str
    device_class: str | None
    selectors: tuple[str, ...] = ()
    mode: str = "ExactCount"
    count: int = 1
    tolerations: tuple[Toleration, ...] = ()
    first_available: tuple[Request, ...] = ()


class VfioProblem(enum.Enum):
    """What the NVIDIA driver's strict decoding and Validate() refuse in a VfioDeviceConfig."""

    UNKNOWN_FIELD = "unknown field"
    BAD_POLICY = "unknown IOMMU backend policy"
    BAD_TYPE = "wrong type"


@dataclass(frozen=True, slots=True)
class VfioConfig:
    """The fields of an NVIDIA VfioDeviceConfig, after the driver's Normalize()."""

    backend_policy: str  # "" normalises to LegacyOnly
    enable_api_device: bool | None  # None: not a boolean (the driver refuses it)
    unknown_fields: tuple[str, ...] = ()
    policy_raw: str = ""  # as written, for messages
    policy_given: bool = False  # backendPolicy written, not null and not "" (Normalize() defaults those)
    api_device_invalid: str | None = None  # repr of an enableAPIDevice neither boolean nor null
    iommu_block: bool = False  # an `iommu` object is written (a fix adds enableAPIDevice into it)

    @property
    def iommufd(self) -> bool:
        return self.backend_policy == "PreferIommuFD"


@dataclass(frozen=True, slots=True)
class OpaqueConfig:
    """An opaque driver config that applies to some requests; `vfio` is set for a VfioDeviceConfig."""

    source: str  # FromClaim | FromClass
    driver: str
    requests: tuple[str, ...]
    parameters: Mapping[str, object]  # the driver's own JSON, shown as is
    kind: str = ""
    vfio: VfioConfig | None = None
    index: int = -1  # its position in the spec's config list (for a JSON patch); -1 when not from a spec


@dataclass(frozen=True, slots=True)
class ClaimSpec:
    """A ResourceClaimSpec: the requests and their configs."""

    requests: tuple[Request, ...] = ()
    configs: tuple[OpaqueConfig, ...] = ()

    def find(self, name: str) -> Request | None:
        """The request `name`, or the subrequest `<req>/<sub>` of a firstAvailable request."""
        parent, _, sub = name.partition("/")
        request = next((r for r in self.requests if r.name == parent), None)
        if request is None or not sub:
            return request
        return next((s for s in request.first_available if s.name == sub), None)

    @property
    def names(self) -> tuple[str, ...]:
        """Every request name, and `<req>/<sub>` for subrequests."""
        out: list[str] = []
        for r in self.requests:
            out += [r.name, *(f"{r.name}/{s.name}" for s in r.first_available)]
        return tuple(out)


def request_matches(result_request: str, request_name: str) -> bool:
    """A result for subrequest `<req>/<sub>` belongs to request `<req>`."""
    return result_request == request_name or result_request.startswith(request_name + "/")


class ClaimState(enum.Enum):
    """kubectl's STATE column of a claim."""

    MISSING = "missing"
    PENDING = "pending"
    ALLOCATED = "allocated"
    RESERVED = "allocated,reserved"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class Result:
    """One allocated device."""

    request: str
    driver: str
    pool: str
    device: str
    tolerations: tuple[Toleration, ...] = ()


@dataclass(frozen=True, slots=True)
class Consumer:
    """A status.reservedFor entry."""

    resource: str
    name: str
    uid: str


@dataclass(frozen=True, slots=True)
class Claim:
    """A ResourceClaim."""

    meta: Meta
    spec: ClaimSpec
    allocated: bool = False
    results: tuple[Result, ...] = ()
    allocation_configs: tuple[OpaqueConfig, ...] = ()
    node: str | None = None  # from the allocation's node selector
    reserved_for: tuple[Consumer, ...] = ()

    @property
    def state(self) -> ClaimState:
        if self.meta.deleted:
            return ClaimState.DELETED
        if not self.allocated:
            return ClaimState.PENDING
        return ClaimState.RESERVED if self.reserved_for else ClaimState.ALLOCATED

    @property
    def pod_claim_name(self) -> str | None:
        return self.meta.annotations.get("resource.kubernetes.io/pod-claim-name")


@dataclass(frozen=True, slots=True)
class Template:
    """A ResourceClaimTemplate."""

    meta: Meta
    spec: ClaimSpec


@dataclass(frozen=True, slots=True)
class DeviceClass:
    """A DeviceClass: its CEL selectors and configs."""

    name: str
    selectors: tuple[str, ...] = ()
    configs: tuple[OpaqueConfig, ...] = ()

    @property
    def driver(self) -> str | None:
        """The driver the class selects, from `device.driver == '...'` in its CEL."""
        for expr in self.selectors:
            for quote in ("'", '"'):
                marker = f"device.driver == {quote}"
                if marker in expr:
                    return expr.split(marker, 1)[1].split(quote, 1)[0]
        return None


@dataclass(frozen=True, slots=True)
class Attribute:
    """A DRA device attribute: its type (string, int, bool, version) and value."""

    type: str
    value: str | int | bool

    def __str__(self) -> str:
        return str(self.value)


@dataclass(frozen=True, slots=True)
class SliceDevice:
    """A device of a ResourceSlice; unprefixed attribute names belong to the driver's domain."""

    name: str
    attributes: Mapping[str, Attribute] = field(default_factory=dict)
    capacity: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()

    def text(self, attr: str) -> str | None:
        found = self.attributes.get(attr)
        return None if found is None else str(found)

    @property
    def pci(self) -> str | None:
        return self.text(PCI_ATTR)

    @property
    def mdev(self) -> str | None:
        return self.text(MDEV_ATTR)

    @property
    def pcie_root(self) -> str | None:
        return self.text(PCIE_ROOT_ATTR)

    @property
    def type(self) -> str | None:
        return self.text("type")

    @property
    def product(self) -> str | None:
        return self.text("productName")

    @property
    def iommufd(self) -> bool:
        found = self.attributes.get("iommuFDEnabled")
        return found is not None and found.value is True


@dataclass(frozen=True, slots=True)
class Slice:
    """A ResourceSlice."""

    name: str
    driver: str
    pool: str
    generation: int
    slice_count: int
    node: str | None
    all_nodes: bool
    devices: tuple[SliceDevice, ...]
