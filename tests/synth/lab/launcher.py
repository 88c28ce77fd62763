"""virt-launcher and libvirt: reading the DRA metadata, defining the domain, and virt-handler's sync events."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..ids import uid
from ..model import DRIVER, VM
from .objects import event
from .records import Chain, Device, Obj, go_quote

if TYPE_CHECKING:
    from . import Lab

METADATA_ROOT = "/var/run/kubernetes.io/dra-device-attributes"
OLD_METADATA_ROOT = "/var/run/dra-device-attributes"  # read by KubeVirt v1.8.0-v1.8.2


def api_device(lab: Lab, vm: VM) -> bool:
    """Is /dev/vfio/vfio in the compute container?"""
    if "prebound" in vm.faults:
        return False
    if not lab.driver_new:
        return True
    if vm.vgpu:
        return True
    iommu = (vm.vfio or {}).get("iommu") or {}
    if iommu.get("backendPolicy") == "PreferIommuFD":
        return False  # iommufd: /dev/iommu and /dev/vfio/devices/vfioN instead
    return bool(iommu.get("enableAPIDevice"))


def pci_in_metadata(vm: VM, d: Device) -> str | None:
    if "no-pci" in vm.faults:
        return None
    pci = d.slot.pci
    if "pci-malformed" in vm.faults:
        return "0000" + pci
    if "pci-uppercase" in vm.faults:
        return pci.upper()
    return pci


def mdev_uuid(d: Device, ch: Chain) -> str:
    return uid("mdev", d.node, f"{d.name}/{ch.claim_name}")


def _metadata_error(lab: Lab, vm: VM, claim_ref: str, request: str, wired: bool, ch: Chain) -> str:
    """The error virt-launcher hits reading the metadata of one GPU, or ''."""
    d = ch.devices[0][1] if ch.devices else None
    sub = "resourceclaimtemplates" if vm.claim == "template" else "resourceclaims"
    if (1, 8, 0) <= lab.kv < (1, 8, 3):
        # v1.8.2 globs <old root>/*/<request>/*-metadata.json and matches podClaimName (template claims)
        found = lab.metadata_old_root and lab.metadata_written() and wired and d is not None and d.kind == "vfio"
        return "" if found else "old-path"
    has_request = any(r.split("/")[0] == request for r, _ in ch.devices)
    written = lab.metadata_written() and wired and has_request and d is not None and d.kind in ("vfio", "vgpu")
    folder = f"{METADATA_ROOT}/{sub}/{claim_ref}/{request}"
    if not written:
        err = f"failed to read metadata for claim {go_quote(claim_ref)} request {go_quote(request)}: " \
              f"no files matching {folder}/*-metadata.json"
        return f"(mdev: {err}, pci: {err})"
    if "metadata-v1beta1" in vm.faults:
        err = f"{folder}/{DRIVER}-metadata.json: no compatible metadata version found in stream (unknown " \
              "versions: metadata.resource.k8s.io/v1beta1)"
        return f"(mdev: {err}, pci: {err})"
    per_request = [x for r, x in ch.devices if r.split("/")[0] == request]
    if len(per_request) > 1:
        err = (f"request {go_quote(request)} has {len(per_request)} devices but KubeVirt only supports exactly "
               "one device per request (count > 1 is not supported)")
        return f"(mdev: {err}, pci: {err})"
    if "no-pci" in vm.faults and d is not None and d.kind == "vfio":
        return (f"(mdev: mdevUUID not found for claim {go_quote(claim_ref)} request {go_quote(request)}, "
                f"pci: pciBusID not found for claim {go_quote(claim_ref)} request {go_quote(request)})")
    return ""


def _host_device_error(lab: Lab, ch: Chain) -> str:
    """v1.8+: the first GPU whose metadata virt-launcher cannot read, as SyncVMI reports it; '' if none."""
    vm = ch.vm
    if lab.kv < (1, 8):
        return _device_status_error(ch)
    req_refs = vm.vmi_request_names or vm.request_names()
    claim_ref = vm.pod_claim if vm.claim == "template" else vm.direct_claim()
    kind_word = "HostDevice" if vm.host_devices else "GPU"
    for i, dname in enumerate(vm.device_names()):
        r = req_refs[min(i, len(req_refs) - 1)]
        err = _metadata_error(lab, vm, claim_ref, r, (vm.pod_claim, r) in ch.wired, ch)
        if err:
            # v1.8.0-v1.8.2 read the old path: no detail, whatever the driver wrote
            detail = "" if err == "old-path" else f" {err}"
            return f"{kind_word} {dname} has no mdevUUID or pciBusID in metadata for claim {vm.pod_claim} " \
                   f"request {r}{detail}"
        if "pci-malformed" in vm.faults and i < len(ch.devices):
            # kubevirt v1.9.0 virtwrap/device/hostdevice/dra/gpu_hostdev.go, pkg/util/hardware/hw_utils.go
            return f"failed to create PCI device for {dname}: failed to parse pci address " \
                   f"{pci_in_metadata(vm, ch.devices[i][1])}"
    return ""


def _device_status_error(ch: Chain) -> str:
    """v1.6/v1.7: virt-launcher parses deviceStatus pciAddress, which holds the slice's pcieRoot
    [kubevirt v1.7.0 pkg/virt-launcher/virtwrap/device/hostdevice/dra/gpu_hostdev.go NewPciAddressField]."""
    for i, dname in enumerate(ch.vm.device_names()):
        if i < len(ch.devices) and ch.devices[i][1].kind in ("vfio", "gpu"):
            return f"failed to create PCI device for {dname}: failed to parse pci address {ch.devices[i][1].slot.root}"
    return ""


def _iommufd_usable(lab: Lab, vm: VM) -> bool:
    """iommufd mode that KubeVirt can use: v1.9+ with the Alpha IOMMUFD gate and /dev/iommu injected
    [kubevirt v1.9.0 pkg/virt-config/featuregate/active.go IOMMUFDGate; driver vfio-cdi.go GetCommonEdits]."""
    iommu = (vm.vfio or {}).get("iommu") or {}
    return (lab.driver_new and iommu.get("backendPolicy") == "PreferIommuFD" and lab.kv >= (1, 9)
            and "IOMMUFD" in lab.feature_gates and bool(iommu.get("enableAPIDevice")) and "prebound" not in vm.faults)


def _libvirt_error(lab: Lab, vm: VM) -> str:
    if "memlock" in vm.faults:
        return "LibvirtError(Code=38, Domain=0, Message='cannot limit locked memory of process 77: " \
               "Operation not permitted')"
    if not api_device(lab, vm) and not vm.vgpu and not _iommufd_usable(lab, vm):
        return "LibvirtError(Code=67, Domain=10, Message='unsupported configuration: host doesn't " \
               "support passthrough of host PCI devices')"
    return ""


def start(lab: Lab, ch: Chain, vmi: Obj, tp: datetime) -> None:
    """SyncVMI: build the host devices from the metadata, then libvirt defines and starts the domain."""
    vm, node = ch.vm, ch.node
    t_sync = tp + timedelta(seconds=24)
    error = _host_device_error(lab, ch)
    if error:
        prefix = "failed to create DRA GPU host-devices: " if not vm.host_devices else \
            "failed to create dra generic host-devices: "
        ch.sync_error = "server error. command SyncVMI failed: " + go_quote(prefix + error)
        ch.domain = "none"
    else:
        lib = _libvirt_error(lab, vm)
        if lib:
            ch.sync_error = "server error. command SyncVMI failed: " + go_quote(lib)
        ch.domain = "inactive" if lib else "live"
    if ch.sync_error:
        ch.vmi_phase = "Scheduled"
        event(lab, vmi, "SyncFailed", ch.sync_error, t_sync, component="virt-handler", host=node, count=41,
              last=lab.ids.at(minutes=96))
    else:
        ch.vmi_phase = "Running"
        event(lab, vmi, "Created", "VirtualMachineInstance defined.", t_sync, type_="Normal",
              component="virt-handler", host=node)
        event(lab, vmi, "Started", "VirtualMachineInstance started.", t_sync + timedelta(seconds=1),
              type_="Normal", component="virt-handler", host=node)
