"""Launcher evidence as the compute container shows it: KEP-5304 metadata, `ls -l /dev/vfio`, `virsh dumpxml`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

METADATA_API = "metadata.resource.k8s.io/v1alpha1"


def metadata_stream(
    claim: dict[str, Any],
    pod_claim_name: str | None,
    requests: list[tuple[str, list[dict[str, Any]]]],
    api_versions: tuple[str, ...] = (METADATA_API,),
) -> bytes:
    """One JSON object per API version, newest first, each on one line (Go json.Encoder).

    `requests` is [(request name, [device dicts {driver, pool, name, attributes}])]. Key order follows
    the Go structs (TypeMeta is kind then apiVersion); attribute maps are sorted, as Go marshals maps.
    """
    out = []
    for api in api_versions:
        doc: dict[str, Any] = {
            "kind": "DeviceMetadata",
            "apiVersion": api,
            "metadata": {
                "name": claim["metadata"]["name"],
                "namespace": claim["metadata"]["namespace"],
                "uid": claim["metadata"]["uid"],
                "generation": claim["metadata"].get("generation", 1),
                "creationTimestamp": None,
            },
        }
        if pod_claim_name is not None:
            doc["podClaimName"] = pod_claim_name
        doc["requests"] = [
            {
                "name": rname,
                "devices": [
                    {
                        "driver": d["driver"],
                        "pool": d["pool"],
                        "name": d["name"],
                        "attributes": {k: d["attributes"][k] for k in sorted(d["attributes"])},
                    }
                    for d in devs
                ],
            }
            for rname, devs in requests
        ]
        out.append(json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n")
    return "".join(out).encode()


@dataclass(frozen=True)
class VfioNode:
    name: str  # group number, "vfio", "devices" or "iommu"
    major: int
    minor: int
    owner: str = "root"
    mode: str = "crw-rw-rw-"


def ls_dev_vfio(nodes: list[VfioNode], when: datetime) -> str:
    """`ls -l /dev/vfio` (coreutils column alignment) in the compute container."""
    if not nodes:
        return "total 0\n"
    stamp = f"{when:%b} {when.day:>2} {when:%H:%M}"
    rows = []
    majw = max(len(str(n.major)) for n in nodes if n.mode.startswith("c")) if any(
        n.mode.startswith("c") for n in nodes
    ) else 1
    minw = max(len(str(n.minor)) for n in nodes)
    ownw = max(len(n.owner) for n in nodes)
    for n in sorted(nodes, key=lambda x: (not x.name.isdigit(), int(x.name) if x.name.isdigit() else 0, x.name)):
        if n.mode.startswith("d"):
            size = "60"
            col = f"{size:>{majw + 2 + minw}}"
            links = 2
        else:
            col = f"{n.major:>{majw}}, {n.minor:>{minw}}"
            links = 1
        rows.append(f"{n.mode} {links} {n.owner:<{ownw}} {n.owner:<{ownw}} {col} {stamp} {n.name}")
    return "total 0\n" + "\n".join(rows) + "\n"


def ls_dev_iommu(api_device: bool, cdevs: list[VfioNode], when: datetime) -> str:
    """`ls -l /dev/iommu /dev/vfio/devices` stdout: the file argument first, then the directory behind its header."""
    stamp = f"{when:%b} {when.day:>2} {when:%H:%M}"
    out = f"crw-rw-rw- 1 root root 10, 123 {stamp} /dev/iommu\n" if api_device else ""
    if cdevs:
        out += ("\n" if out else "") + "/dev/vfio/devices:\n" + ls_dev_vfio(cdevs, when)
    return out


@dataclass
class Hostdev:
    alias: str  # full alias, e.g. ua-dra-gpu-gpu0
    pci: str | None = None  # host BDF for PCI passthrough
    mdev_uuid: str | None = None  # for mediated devices (vGPU)
    guest_bus: int = 8


def _pci_parts(bdf: str) -> tuple[str, str, str, str]:
    dom, bus, rest = bdf.split(":")
    slot, fn = rest.split(".")
    return dom, bus, slot, fn


def domain_xml(
    *,
    namespace: str,
    vmi: str,
    vmi_uid: str,
    cores: int,
    memory_kib: int,
    hostdevs: list[Hostdev],
    mac: str,
    disk_image: str,
    live: bool = True,
    domain_id: int = 1,
) -> str:
    """libvirt's XML of a KubeVirt domain as `virsh -r dumpxml <ns>_<vmi>` prints it."""
    name = f"{namespace}_{vmi}"
    head = f"<domain type='kvm' id='{domain_id}'>" if live else "<domain type='kvm'>"
    lines = [
        head,
        f"  <name>{name}</name>",
        f"  <uuid>{vmi_uid}</uuid>",
        "  <metadata>",
        '    <kubevirt xmlns="http://kubevirt.io">',
        "      <uid/>",
        "    </kubevirt>",
        "  </metadata>",
        f"  <memory unit='KiB'>{memory_kib}</memory>",
        f"  <currentMemory unit='KiB'>{memory_kib}</currentMemory>",
        f"  <vcpu placement='static'>{cores}</vcpu>",
        "  <iothreads>1</iothreads>",
        "  <sysinfo type='smbios'>",
        "    <system>",
        "      <entry name='manufacturer'>KubeVirt</entry>",
        "      <entry name='product'>None</entry>",
        f"      <entry name='uuid'>{vmi_uid}</entry>",
        "      <entry name='family'>KubeVirt</entry>",
        "    </system>",
        "  </sysinfo>",
        "  <os>",
        "    <type arch='x86_64' machine='pc-q35-rhel9.6.0'>hvm</type>",
        "    <smbios mode='sysinfo'/>",
        "  </os>",
        "  <features>",
        "    <acpi/>",
        "  </features>",
        "  <cpu mode='host-model' check='partial'>",
        f"    <topology sockets='1' dies='1' clusters='1' cores='{cores}' threads='1'/>",
        "  </cpu>",
        "  <clock offset='utc'/>",
        "  <on_poweroff>destroy</on_poweroff>",
        "  <on_reboot>restart</on_reboot>",
        "  <on_crash>destroy</on_crash>",
        "  <devices>",
        "    <emulator>/usr/libexec/qemu-kvm</emulator>",
        "    <disk type='file' device='disk' model='virtio-non-transitional'>",
        "      <driver name='qemu' type='qcow2' cache='none' error_policy='stop' discard='unmap'/>",
        "      <source file='/var/run/kubevirt-ephemeral-disks/disk-data/rootdisk/disk.qcow2' index='2'/>",
        "      <backingStore type='file' index='3'>",
        "        <format type='qcow2'/>",
        "        <source file='/var/run/kubevirt/container-disks/disk_0.img'/>",
        "        <backingStore/>",
        "      </backingStore>",
        "      <target dev='vda' bus='virtio'/>",
        "      <alias name='ua-rootdisk'/>",
        "      <address type='pci' domain='0x0000' bus='0x06' slot='0x00' function='0x0'/>",
        "    </disk>",
        "    <disk type='file' device='disk' model='virtio-non-transitional'>",
        "      <driver name='qemu' type='raw' cache='none' error_policy='stop' discard='unmap'/>",
        "      <source file='/var/run/kubevirt-ephemeral-disks/cloud-init-data/"
        f"{namespace}/{vmi}/noCloud.iso' index='1'/>",
        "      <backingStore/>",
        "      <target dev='vdb' bus='virtio'/>",
        "      <alias name='ua-cloudinitdisk'/>",
        "      <address type='pci' domain='0x0000' bus='0x07' slot='0x00' function='0x0'/>",
        "    </disk>",
        "    <controller type='usb' index='0' model='none'>",
        "      <alias name='usb'/>",
        "    </controller>",
        "    <controller type='scsi' index='0' model='virtio-non-transitional'>",
        "      <alias name='scsi0'/>",
        "      <address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>",
        "    </controller>",
        "    <controller type='virtio-serial' index='0' model='virtio-non-transitional'>",
        "      <alias name='virtio-serial0'/>",
        "      <address type='pci' domain='0x0000' bus='0x03' slot='0x00' function='0x0'/>",
        "    </controller>",
        "    <controller type='sata' index='0'>",
        "      <alias name='ide'/>",
        "      <address type='pci' domain='0x0000' bus='0x00' slot='0x1f' function='0x2'/>",
        "    </controller>",
        "    <controller type='pci' index='0' model='pcie-root'>",
        "      <alias name='pcie.0'/>",
        "    </controller>",
        "    <interface type='ethernet'>",
        f"      <mac address='{mac}'/>",
        "      <target dev='tap0' managed='no'/>",
        "      <model type='virtio-non-transitional'/>",
        "      <mtu size='1400'/>",
        "      <alias name='ua-default'/>",
        "      <rom enabled='no'/>",
        "      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>",
        "    </interface>",
        "    <serial type='unix'>",
        f"      <source mode='bind' path='/var/run/kubevirt-private/{vmi_uid}/virt-serial0'/>",
        "      <target type='isa-serial' port='0'>",
        "        <model name='isa-serial'/>",
        "      </target>",
        "      <alias name='serial0'/>",
        "    </serial>",
        "    <console type='unix'>",
        f"      <source mode='bind' path='/var/run/kubevirt-private/{vmi_uid}/virt-serial0'/>",
        "      <target type='serial' port='0'/>",
        "      <alias name='serial0'/>",
        "    </console>",
        "    <channel type='unix'>",
        f"      <source mode='bind' path='/var/run/libvirt/qemu/channel/1-{name}/org.qemu.guest_agent.0'/>",
        "      <target type='virtio' name='org.qemu.guest_agent.0' state='connected'/>"
        if live
        else "      <target type='virtio' name='org.qemu.guest_agent.0'/>",
        "      <alias name='channel0'/>",
        "      <address type='virtio-serial' controller='0' bus='0' port='1'/>",
        "    </channel>",
        "    <input type='mouse' bus='ps2'>",
        "      <alias name='input0'/>",
        "    </input>",
        "    <input type='keyboard' bus='ps2'>",
        "      <alias name='input1'/>",
        "    </input>",
        f"    <graphics type='vnc' socket='/var/run/kubevirt-private/{vmi_uid}/virt-vnc'>",
        f"      <listen type='socket' socket='/var/run/kubevirt-private/{vmi_uid}/virt-vnc'/>",
        "    </graphics>",
        "    <audio id='1' type='none'/>",
        "    <video>",
        "      <model type='vga' vram='16384' heads='1' primary='yes'/>",
        "      <alias name='video0'/>",
        "      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>",
        "    </video>",
    ]
    for i, h in enumerate(hostdevs):
        guest = f"      <address type='pci' domain='0x0000' bus='0x{h.guest_bus + i:02x}' slot='0x00' function='0x0'/>"
        if h.mdev_uuid:
            lines += [
                "    <hostdev mode='subsystem' type='mdev' managed='no' model='vfio-pci' display='off'>",
                "      <source>",
                f"        <address uuid='{h.mdev_uuid}'/>",
                "      </source>",
                f"      <alias name='{h.alias}'/>",
                guest,
                "    </hostdev>",
            ]
        elif h.pci:
            dom, bus, slot, fn = _pci_parts(h.pci)
            lines += [
                "    <hostdev mode='subsystem' type='pci' managed='no'>",
                "      <driver name='vfio'/>",
                "      <source>",
                f"        <address domain='0x{dom}' bus='0x{bus.lower()}' slot='0x{slot}' function='0x{fn}'/>",
                "      </source>",
                f"      <alias name='{h.alias}'/>",
                guest,
                "    </hostdev>",
            ]
    lines += [
        "    <watchdog model='itco' action='reset'>",
        "      <alias name='watchdog0'/>",
        "    </watchdog>",
        "    <memballoon model='virtio-non-transitional' freePageReporting='on'>",
        "      <stats period='10'/>",
        "      <alias name='balloon0'/>",
        "      <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>",
        "    </memballoon>",
        "  </devices>",
    ]
    if live:
        lines += [
            "  <seclabel type='dynamic' model='dac' relabel='yes'>",
            "    <label>+107:+107</label>",
            "    <imagelabel>+107:+107</imagelabel>",
            "  </seclabel>",
        ]
    lines.append("</domain>")
    text = "\n".join(lines) + "\n"
    return text.replace("<uid/>", f"<uid>{vmi_uid}</uid>")
