"""What the NVIDIA driver publishes: its devices (gpu, vfio and vgpu twins of each GPU) and the ResourceSlices."""

from __future__ import annotations

import copy
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..hw import CUDA_DRIVER, NVIDIA_KERNEL_DRIVER, Slot, slots_for
from ..ids import ts, uid
from ..model import DRIVER, VM, Node
from .objects import meta, ref
from .records import Device, Obj, vtuple

if TYPE_CHECKING:
    from . import Lab


def inventory(lab: Lab) -> None:
    """Every device of every node, in slot order (gpu-<n>, then gpu-vfio-<n>, then its vGPUs), with early taints."""
    for n in lab.nodes:
        for idx, slot in enumerate(slots_for(n.gpus, n.model)):
            gpu_uuid = "GPU-" + uid("gpu", n.name, str(idx))
            _add(lab, Device(n.name, f"gpu-{idx}", "gpu", slot, idx, n.model, _gpu_attrs(lab, n, slot, gpu_uuid),
                             {"memory": {"value": n.model.memory}}))
            if n.passthrough:
                _add(lab, Device(n.name, f"gpu-vfio-{idx}", "vfio", slot, idx, n.model, _vfio_attrs(lab, n, slot),
                                 {"addressableMemory": {"value": n.model.addressable}}))
            if n.vgpu:
                for j in range(n.model.vgpus_per_gpu):
                    a: Obj = {
                        "parentUUID": {"string": gpu_uuid},
                        "productName": {"string": n.model.product},
                        "profile": {"string": n.model.vgpu_profile},
                        "resource.kubernetes.io/pciBusID": {"string": slot.pci},
                        "resource.kubernetes.io/pcieRoot": {"string": slot.root},
                        "type": {"string": "vgpu"},
                    }
                    _add(lab, Device(n.name, f"gpu-{idx}-vgpu-{j}", "vgpu", slot, idx, n.model, a,
                                     {"framebuffer": {"value": "12Gi"}}))
        # taints the driver published before the VMs came (e.g. a fatal XID): the allocator sees them
        for dname, taints in n.device_taints.items():
            for t in taints:
                taint = {"timeAdded": ts(lab.ids.at(minutes=-60 * 5)), **t}
                lab.devices[(n.name, dname)].taints.append(taint)


def _gpu_attrs(lab: Lab, n: Node, slot: Slot, gpu_uuid: str) -> Obj:
    attrs: Obj = {
        "architecture": {"string": n.model.architecture},
        "brand": {"string": "Nvidia"},
        "cudaComputeCapability": {"version": n.model.compute_capability},
        "cudaDriverVersion": {"version": CUDA_DRIVER},
        "driverVersion": {"version": NVIDIA_KERNEL_DRIVER},
        "productName": {"string": n.model.product},
        "resource.kubernetes.io/pciBusID": {"string": slot.pci},
        "resource.kubernetes.io/pcieRoot": {"string": slot.root},
        "type": {"string": "gpu"},
        "uuid": {"string": gpu_uuid},
    }
    if lab.driver_new:
        attrs["resource.kubernetes.io/numaNode"] = {"int": slot.numa}
    return attrs


def _vfio_attrs(lab: Lab, n: Node, slot: Slot) -> Obj:
    attrs: Obj = {
        "deviceID": {"string": n.model.device_id},
        "productName": {"string": n.model.pci_name},
        "resource.kubernetes.io/pciBusID": {"string": slot.pci},
        "resource.kubernetes.io/pcieRoot": {"string": slot.root},
        "type": {"string": "vfio"},
        # uuid.NewSHA1(uuid.NameSpaceDNS, pciBusID): a hash of the address, not the GPU UUID
        "uuid": {"string": str(uuid.uuid5(uuid.NAMESPACE_DNS, slot.pci))},
        "vendorID": {"string": "0x10de"},
    }
    if lab.driver_new:
        attrs["iommuFDEnabled"] = {"bool": True}
        attrs["resource.kubernetes.io/numaNode"] = {"int": slot.numa}
    else:
        attrs["numa"] = {"int": slot.numa}
    return attrs


def _add(lab: Lab, d: Device) -> None:
    lab.devices[(d.node, d.name)] = d


def after_allocation(lab: Lab, vm: VM, d: Device) -> None:
    """What the driver publishes about an allocated device after the fact (the VM's faults)."""
    if "device-gone" in vm.faults:
        d.published = False
    if "pci-mismatch" in vm.faults:
        dom, bus, rest = d.slot.pci.split(":")
        d.pci_published = f"{dom}:{int(bus, 16) + 1:02x}:{rest}"
    if "no-pci" in vm.faults:
        d.pci_published = ""
    if "pci-malformed" in vm.faults:
        d.pci_published = "0000" + d.slot.pci
    if "pci-uppercase" in vm.faults:
        d.pci_published = d.slot.pci.upper()
    if "taint" in vm.faults:
        d.taints.append({"effect": "NoSchedule", "key": "gpu.nvidia.com/xid", "timeAdded":
                         ts(lab.ids.at(minutes=71)), "value": "79"})


def publish(lab: Lab) -> None:
    """The pools as they stand once every VM ran: republished after prepares, faults and taints."""
    when = lab.ids.at(minutes=-60 * 24 * 9 + 2)
    for n in lab.nodes:
        if not n.publish:
            continue
        devs = [d for (node, _), d in lab.devices.items() if node == n.name and d.published]
        # After a VFIO prepare the driver drops the gpu-<n> twin of the prepared GPU and republishes.
        prepared = {d.index for (node, _), d in lab.devices.items()
                    if node == n.name and d.kind == "vfio" and (node, d.name) in lab.prepared}
        prepared |= set(n.stranded_vfio)  # still on vfio-pci: published as if prepared (issues 1089, 1331)
        devs = [d for d in devs if not (d.kind == "gpu" and d.index in prepared)]
        generation = 1 + len(prepared) + sum(1 for (node, _), d in lab.devices.items()
                                             if node == n.name and (not d.published or d.pci_published is not None))
        generation += 1 if n.device_taints else 0  # the driver republished the pool with the taints
        count = n.slices
        chunks: list[list[Device]] = [[] for _ in range(count)]
        for i, d in enumerate(devs):
            chunks[i * count // max(len(devs), 1)].append(d)
        if n.stale_generation:
            _slice(lab, n, devs[: max(1, len(devs) // 2)], generation - 1, count, when, 0)
        for i, chunk in enumerate(chunks[: count - n.missing_slices]):
            _slice(lab, n, chunk, generation, count, when, i)


def _published(lab: Lab, d: Device) -> Obj:
    attrs = copy.deepcopy(d.attrs)
    if d.pci_published is not None:
        if d.pci_published == "":
            attrs.pop("resource.kubernetes.io/pciBusID", None)
        else:
            attrs["resource.kubernetes.io/pciBusID"] = {"string": d.pci_published}
    dev: Obj = {"attributes": attrs, "capacity": copy.deepcopy(d.capacity), "name": d.name}
    if d.taints:
        dev["taints"] = copy.deepcopy(d.taints)
    if lab.resource_api != "v1beta1":
        return dev
    basic = {k: v for k, v in dev.items() if k != "name"}
    return {"basic": basic, "name": dev["name"]}


def _slice(lab: Lab, n: Node, devs: list[Device], generation: int, count: int, when: datetime, i: int) -> None:
    node_obj = next(o for _, o in lab.objects if o["kind"] == "Node" and o["metadata"]["name"] == n.name)
    new_name = lab.driver_new and vtuple(lab.kubernetes)[1] >= 35
    gen = f"00000-{DRIVER}-{n.name}-" if new_name else f"{n.name}-{DRIVER}-"
    name = gen + lab.ids.suffix()
    devices = [_published(lab, d) for d in sorted(devs, key=lambda x: (x.index, x.kind != "gpu", x.name))]
    spec: Obj = {
        "devices": devices,
        "driver": DRIVER,
        "nodeName": n.name,
        "pool": {"generation": generation, "name": n.name, "resourceSliceCount": count},
    }
    obj: Obj = {
        "apiVersion": lab.res_api(),
        "kind": "ResourceSlice",
        "metadata": meta("ResourceSlice", name, when + timedelta(seconds=i),
                         owner=ref(node_obj, block=False), generate=gen, generation=generation),
        "spec": spec,
    }
    lab.emit(lab.ids.at(minutes=-1 + 0.1 * i) if generation > 1 else when, obj)
