"""The compute container as the tool's execs see it: the driver's metadata files, /dev/vfio, the libvirt domain."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .. import evidence as ev
from ..ids import uid
from ..model import DRIVER
from .launcher import METADATA_ROOT, OLD_METADATA_ROOT, api_device, mdev_uuid, pci_in_metadata
from .records import Chain, Device, Obj, go_quote

if TYPE_CHECKING:
    from . import Lab


def evidence(lab: Lab, ch: Chain, pod: Obj, claim: Obj | None, tp: datetime) -> None:
    """lab.files under evidence/<namespace>/<pod>/, with unavailable.yaml naming what could not be read."""
    vm = ch.vm
    if not ch.pod_name:
        return
    base = f"evidence/{vm.namespace}/{ch.pod_name}"
    unavailable: dict[str, str] = {}
    if "exec-forbidden" in vm.faults:
        msg = (f"pods \"{ch.pod_name}\" is forbidden: User \"system:serviceaccount:ops:auditor\" cannot create "
               f"resource \"pods/exec\" in API group \"\" in the namespace \"{vm.namespace}\"")
        unavailable = {"metadata": msg, "vfio": msg, "iommu": msg, "domain": msg}
    elif ch.pod_state != "running":
        phase = pod["status"].get("phase", "Pending")
        msg = f"container compute is not running (pod phase {phase}): cannot exec"
        unavailable = {"metadata": msg, "vfio": msg, "iommu": msg, "domain": msg}
    if not unavailable:
        if lab.metadata_written() and claim is not None:
            _metadata_files(lab, ch, claim, base)
        _dev_vfio(lab, ch, base, tp + timedelta(seconds=20), unavailable)
        _dev_iommu(lab, ch, base, tp + timedelta(seconds=20))
        _domain(lab, ch, base, unavailable)
    if unavailable:
        lab.files[f"{base}/unavailable.yaml"] = "".join(
            f"{k}: {go_quote(v)}\n" for k, v in unavailable.items()).encode()


def _metadata_files(lab: Lab, ch: Chain, claim: Obj, base: str) -> None:
    """The KEP-5304 metadata the driver wrote for each request the compute container lists."""
    vm = ch.vm
    sub = "resourceclaimtemplates" if vm.claim == "template" else "resourceclaims"
    claim_dir = vm.pod_claim if vm.claim == "template" else vm.direct_claim()
    by_req: dict[str, list[Device]] = {}
    for r, d in ch.devices:
        if d.kind in ("vfio", "vgpu"):
            by_req.setdefault(r.split("/")[0], []).append(d)
    for r, devs in by_req.items():
        if (vm.pod_claim, r) not in ch.wired:
            continue  # only containers listing the claim/request see the file
        entries = []
        for d in devs:
            attrs = copy.deepcopy(d.attrs)
            pci = pci_in_metadata(vm, d)
            if pci is None:
                attrs.pop("resource.kubernetes.io/pciBusID", None)
            else:
                attrs["resource.kubernetes.io/pciBusID"] = {"string": pci}
            if d.kind == "vgpu":
                attrs["mdevUUID"] = {"string": mdev_uuid(d, ch)}
            entries.append({"driver": DRIVER, "pool": d.node, "name": d.name, "attributes": attrs})
        apis = ("metadata.resource.k8s.io/v1beta1",) if "metadata-v1beta1" in vm.faults else (ev.METADATA_API,)
        stream = ev.metadata_stream(claim, vm.pod_claim if vm.claim == "template" else None, [(r, entries)], apis)
        if lab.metadata_old_root:  # one folder per ResourceClaim (the generated name for a template claim)
            path = f"{OLD_METADATA_ROOT}/{claim['metadata']['name']}/{r}"
        else:
            path = f"{METADATA_ROOT}/{sub}/{claim_dir}/{r}"
        lab.files[f"{base}/files{path}/{DRIVER}-metadata.json"] = stream


def _dev_vfio(lab: Lab, ch: Chain, base: str, when: datetime, unavailable: dict[str, str]) -> None:
    """`ls -l /dev/vfio`: what CDI injected for the requests the container lists in resources.claims, only those."""
    vm = ch.vm
    nodes: list[ev.VfioNode] = []
    iommufd = ((vm.vfio or {}).get("iommu") or {}).get("backendPolicy") == "PreferIommuFD" and lab.driver_new
    seen = [(r, d) for r, d in ch.devices if (vm.pod_claim, r.split("/")[0]) in ch.wired]
    for i, (_, d) in enumerate(seen):
        if d.kind == "gpu" or iommufd:
            continue
        group = d.slot.iommu_group if d.kind == "vfio" else 300 + d.index * 8 + int(d.name.rsplit("-", 1)[1])
        nodes.append(ev.VfioNode(str(group), 509, i, owner="qemu", mode="crw-------"))
    if iommufd and seen:
        nodes.append(ev.VfioNode("devices", 0, 0, mode="drwxr-xr-x"))
    if api_device(lab, vm) and any(d.kind != "gpu" for _, d in seen):
        nodes.append(ev.VfioNode("vfio", 10, 196))
    if nodes:
        lab.files[f"{base}/dev-vfio.txt"] = ev.ls_dev_vfio(nodes, when).encode()
    else:
        lab.files[f"{base}/dev-vfio.txt"] = b""
        unavailable["vfio"] = "ls -l /dev/vfio exited 2: ls: cannot access '/dev/vfio': No such file or directory"


def _dev_iommu(lab: Lab, ch: Chain, base: str, when: datetime) -> None:
    """`ls -l /dev/iommu /dev/vfio/devices`: in iommufd mode the driver injects /dev/iommu (enableAPIDevice) and a
    /dev/vfio/devices/vfioN cdev per device [dra-driver-nvidia-gpu vfio-cdi.go GetCommonEdits,
    GetDeviceSpecsByPCIBusID]; elsewhere neither exists and ls prints nothing on stdout."""
    vm = ch.vm
    iommufd = ((vm.vfio or {}).get("iommu") or {}).get("backendPolicy") == "PreferIommuFD" and lab.driver_new
    seen = [d for r, d in ch.devices if (vm.pod_claim, r.split("/")[0]) in ch.wired and d.kind == "vfio"]
    api = iommufd and bool(((vm.vfio or {}).get("iommu") or {}).get("enableAPIDevice")) and "prebound" not in vm.faults
    cdevs = [ev.VfioNode(f"vfio{i}", 237, i, owner="qemu", mode="crw-------") for i in range(len(seen))]
    lab.files[f"{base}/dev-iommu.txt"] = ev.ls_dev_iommu(api, cdevs if iommufd else [], when).encode()


def _hostdevs(lab: Lab, ch: Chain) -> list[ev.Hostdev]:
    """The domain's <hostdev> elements: one per DRA GPU (aliased ua-dra-...), the device-plugin GPU first."""
    vm = ch.vm
    hostdevs = []
    prefix = "ua-dra-hostdevice-" if vm.host_devices else "ua-dra-gpu-"
    for i, dname in enumerate(vm.device_names()):
        if i >= len(ch.devices):
            break
        _, d = ch.devices[i]
        if "hostdev-detached" in vm.faults and i == 0:
            continue
        if d.kind == "vgpu":
            hostdevs.append(ev.Hostdev(prefix + dname, mdev_uuid=mdev_uuid(d, ch), guest_bus=8 + i))
        else:
            hostdevs.append(ev.Hostdev(prefix + dname, pci=pci_in_metadata(vm, d) or d.slot.pci, guest_bus=8 + i))
    if vm.device_plugin_gpu:
        legacy = [x for (n, _), x in lab.devices.items() if n == ch.node and x.kind == "gpu"
                  and (n, x.name) in lab.taken and lab.taken[(n, x.name)].startswith("device-plugin")]
        if legacy:
            hostdevs.insert(0, ev.Hostdev("ua-gpu-gpu-legacy", pci=legacy[0].slot.pci, guest_bus=9))
    return hostdevs


def _domain(lab: Lab, ch: Chain, base: str, unavailable: dict[str, str]) -> None:
    """`virsh -r dumpxml`: the live or defined domain, or virsh's error when libvirt has none."""
    vm = ch.vm
    if ch.domain not in ("live", "inactive"):
        unavailable["domain"] = (f"virsh -r dumpxml {vm.namespace}_{vm.name} exited 1: error: failed to get "
                                 f"domain '{vm.namespace}_{vm.name}'")
        return
    mem_kib = int(vm.memory.rstrip("Gi")) * 1024 * 1024
    xml = ev.domain_xml(namespace=vm.namespace, vmi=vm.name, vmi_uid=uid("VirtualMachineInstance", vm.namespace,
                                                                          vm.name),
                        cores=vm.cores, memory_kib=mem_kib, hostdevs=_hostdevs(lab, ch), mac=lab.ids.mac(),
                        disk_image=vm.image, live=ch.domain == "live", domain_id=1)
    lab.files[f"{base}/domain.xml"] = xml.encode()


