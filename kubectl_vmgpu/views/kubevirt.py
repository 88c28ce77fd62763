"""Typed views of KubeVirt: the VMI/VM devices and claim sources, and the KubeVirt view that owns every
version rule (no other module compares KubeVirt versions)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from .dra import PCI_ATTR, PCIE_ROOT_ATTR
from .objects import Meta

Version = tuple[int, int, int]


class DeviceKind(enum.Enum):
    GPU = "gpu"
    HOST_DEVICE = "hostDevice"


@dataclass(frozen=True, slots=True)
class GpuEntry:
    """A DRA device of the VMI spec: `gpus[]` or `hostDevices[]`."""

    kind: str  # "gpu" | "hostDevice" (DeviceKind values)
    name: str
    claim_name: str
    request_name: str
    index: int = -1  # position in its spec list (gpus[] or hostDevices[]), for JSON patches

    @property
    def alias(self) -> str:
        prefix = "ua-dra-gpu-" if self.kind == "gpu" else "ua-dra-hostdevice-"
        return prefix + self.name

    @property
    def label(self) -> str:
        return f"{'GPU' if self.kind == 'gpu' else 'host device'} {self.name!r}"


@dataclass(frozen=True, slots=True)
class ClaimSource:
    """A spec.resourceClaims entry."""

    name: str
    claim_name: str | None
    template_name: str | None

    @property
    def valid(self) -> bool:
        return bool(self.claim_name) != bool(self.template_name)


@dataclass(frozen=True, slots=True)
class SpecEntry:
    """A gpus[], hostDevices[] or networks[] entry as KubeVirt's admission webhook reads it.

    claim_name/request_name are None when the key is absent (Go *string up to v1.8) and "" when empty; for a
    network they are None without a `resourceClaim` object and "" for a key missing inside it.
    """

    kind: str  # "gpus" | "hostDevices" | "networks" (the JSON list it comes from)
    name: str = ""
    device_name: str = ""
    claim_name: str | None = None
    request_name: str | None = None


@dataclass(frozen=True, slots=True)
class SpecClaim:
    """A spec.resourceClaims entry as the webhook reads it: a source is None when its key is absent."""

    name: str = ""
    claim_name: str | None = None
    template_name: str | None = None


@dataclass(frozen=True, slots=True)
class VmiDevices:
    """The DRA side of a VMI spec."""

    entries: tuple[GpuEntry, ...] = ()
    sources: tuple[ClaimSource, ...] = ()
    device_plugin_gpus: tuple[str, ...] = ()  # gpus[] with deviceName (the older flow)
    device_plugin_host_devices: tuple[str, ...] = ()
    spec_entries: tuple[SpecEntry, ...] = ()  # every entry, in spec order, for the admission model
    spec_claims: tuple[SpecClaim, ...] = ()

    def source(self, name: str) -> ClaimSource | None:
        return next((s for s in self.sources if s.name == name), None)


@dataclass(frozen=True, slots=True)
class StatusDevice:
    """A VMI status.deviceStatus entry (KubeVirt v1.6/v1.7)."""

    kind: str
    name: str
    pci: str | None
    mdev: str | None


@dataclass(frozen=True, slots=True)
class Vmi:
    """A VirtualMachineInstance."""

    meta: Meta
    phase: str
    node: str | None
    devices: VmiDevices
    device_status: tuple[StatusDevice, ...] = ()
    active_pods: Mapping[str, str] = field(default_factory=dict)
    launcher_image: str = ""
    runtime_user: int | None = None  # status.runtimeUser: 107 for a non-root launcher, 0 for root; None = unset


@dataclass(frozen=True, slots=True)
class Vm:
    """A VirtualMachine and its template's devices."""

    meta: Meta
    devices: VmiDevices
    run_strategy: str
    printable_status: str
    failure: str | None = None  # the message of a True `Failure` condition


IOMMUFD_GATE = "IOMMUFD"
# The slice attribute virt-controller v1.6/v1.7 copies into deviceStatus mDevUUID
# [kubevirt v1.6.0..v1.7.x pkg/virt-controller/watch/dra/dra.go MDevUUIDDeviceAttributeKey].
STATUS_MDEV_ATTR = "resource.kubernetes.io/mDevUUID"


@dataclass(frozen=True, slots=True)
class KubeVirt:
    """The KubeVirt CR (or what launcher images tell) and every version rule of the tool."""

    version: Version | None
    enabled_gates: tuple[str, ...] = ()
    disabled_gates: tuple[str, ...] = ()
    meta: Meta | None = None  # None: no KubeVirt CR was read

    def gate_enabled(self, gate: str) -> bool | None:
        """Upstream precedence: explicitly enabled > explicitly disabled > Beta default; None = unknown.

        [kubevirt v1.9.0 pkg/virt-config/featuregate IsEnabled; v1.8.0 isFeatureGateEnabled checks enabled first]
        """
        if self.meta is None:
            return None
        if gate in self.enabled_gates:
            return True
        if gate in self.disabled_gates:
            return False
        if self.version is None:
            return None
        return gate in ("GPUsWithDRA", "HostDevicesWithDRA") and self.version >= (1, 9, 0)

    def reads_metadata_from(self) -> str:
        """Where virt-launcher takes a DRA device's address from: `deviceStatus` (v1.6/v1.7) or `metadata`."""
        return "metadata" if self.version is None or self.version >= (1, 8, 0) else "deviceStatus"

    def uses_old_metadata_path(self) -> bool:
        """v1.8.0-v1.8.2 read /var/run/dra-device-attributes/, which current drivers do not write."""
        return self.version is not None and (1, 8, 0) <= self.version < (1, 8, 3)

    def device_status_source(self) -> str | None:
        """The slice attribute virt-controller copies into deviceStatus pciAddress (v1.6/v1.7), else None.

        [kubevirt v1.6.0..v1.7.x pkg/virt-controller/watch/dra/dra.go PCIAddressDeviceAttributeKey]
        """
        return PCIE_ROOT_ATTR if self.reads_metadata_from() == "deviceStatus" else None

    def supports_iommufd(self) -> bool | None:
        """PreferIommuFD needs v1.9+ and its Alpha IOMMUFD gate; None when the version is unknown."""
        if self.version is None:
            return None
        if self.version < (1, 9, 0):
            return False
        return bool(self.gate_enabled(IOMMUFD_GATE))

    def rejects_mixed_flows(self) -> bool:
        """From v1.8.3 the webhook refuses DRA and device-plugin entries side by side."""
        return self.version is not None and self.version >= (1, 8, 3)

    @property
    def label(self) -> str:
        return "v" + ".".join(map(str, self.version)) if self.version else "unknown"

    def keeps_first_request_only(self) -> bool:
        """v1.8.0-v1.8.2 put only the first request of a claim in the pod's resources.claims.

        [kubevirt/kubevirt#17672, fixed in v1.8.3]
        """
        return self.version is not None and (1, 8, 0) <= self.version < (1, 8, 3)

    def dra_gates_beta(self) -> bool:
        """From v1.9 GPUsWithDRA/HostDevicesWithDRA are Beta and on unless in disabledFeatureGates."""
        return self.version is not None and self.version >= (1, 9, 0)

    def predates_iommufd(self) -> bool:
        """A known version before v1.9, which has no iommufd backend at all (gate or not)."""
        return self.version is not None and self.version < (1, 9, 0)

    def admitter_release(self) -> str | None:
        """The release whose DRA admitter (pkg/dra/admitter) judges this version's VMIs; None before v1.6.

        An unknown version is judged by the newest model. Each range shares one dra_admitter.go.
        """
        version = self.version or (1, 9, 0)
        for floor in ((1, 9, 0), (1, 8, 3), (1, 8, 0), (1, 6, 0)):
            if version >= floor:
                return "v{}.{}.{}".format(*floor)
        return None

    def iommufd_blocker(self) -> str | None:
        """Why this KubeVirt cannot use backendPolicy PreferIommuFD, or None (usable, or not known).

        Before v1.9 there is no iommufd backend; v1.9.0 has it behind the Alpha `IOMMUFD` gate
        [kubevirt v1.9.0 pkg/virt-config/featuregate/active.go IOMMUFDGate, Alpha, libvirt >= 12.2].
        """
        if self.predates_iommufd():
            return f"KubeVirt {self.label} has no iommufd backend (it needs v1.9 or newer)"
        if self.version is not None and self.gate_enabled(IOMMUFD_GATE) is False:
            return f"KubeVirt {self.label} uses iommufd only with its Alpha IOMMUFD feature gate, which is off"
        return None

    def slice_address_keys(self) -> tuple[str, str]:
        """The slice attributes this version takes a device's PCI address and mdev UUID from.

        v1.6/v1.7: virt-controller copies `pcieRoot` and `resource.kubernetes.io/mDevUUID` into deviceStatus;
        v1.8+: virt-launcher reads the metadata file, whose attributes are the slice's (`pciBusID`, `mdevUUID`).
        """
        if self.reads_metadata_from() == "deviceStatus":
            return PCIE_ROOT_ATTR, STATUS_MDEV_ATTR
        return PCI_ATTR, "mdevUUID"

    def memlock_causes(self, vfio_devices: int, non_root: bool) -> tuple[str, ...]:
        """The upstream causes of libvirt's `cannot limit locked memory` this release still has, for a VMI
        with `vfio_devices` VFIO devices, run as non-root or not; empty when the version is unknown.

        - several VFIO devices under-counted in virt-handler's memlock limit: PR 17805, first released in
          v1.9.0, cherry-picked to release-1.8 by PR 17863, first released in v1.8.3 (`git tag --contains`);
        - a non-root launcher, where libvirt's own prlimit on QEMU needs CAP_SYS_RESOURCE: issue 17694, whose
          fix (PR 17696) was not merged: no release has one;
        - DRA launchers without IPC_LOCK (issue 17674): fixed by PR 17857 (unlimited memlock prlimit from
          virt-handler), merged on main after v1.9.0 and in no release tag up to v1.9.0.
        """
        if self.version is None:
            return ()
        causes = []
        if vfio_devices > 1 and self.version < (1, 8, 3):
            causes.append("multi-device")
        if self.version <= (1, 9, 0):  # the audit's last release; later ones may carry the fixes
            if non_root:
                causes.append("non-root")
            causes.append("dra-ipc-lock")
        return tuple(causes)
