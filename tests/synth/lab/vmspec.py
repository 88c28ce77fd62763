"""The VirtualMachine spec as a user writes it, and the VMI spec virt-api defaults from it."""

from __future__ import annotations

from ..ids import uid
from ..model import VM
from .records import Obj

_CLOUD_INIT = ("#cloud-config\nuser: ubuntu\nssh_authorized_keys:\n"
               "  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGpu lab@bastion\n"
               "packages:\n  - nvidia-driver-580-server\n")


def _devices(vm: VM) -> Obj:
    """spec.domain.devices: disks, the pod network, and the DRA gpus (or hostDevices) by claim and request."""
    names = vm.vmi_request_names or vm.request_names()
    entries = []
    for i, dname in enumerate(vm.device_names()):
        e: Obj = {"claimName": vm.pod_claim, "name": dname, "requestName": names[min(i, len(names) - 1)]}
        entries.append(e)
    if vm.duplicate_gpu:
        entries.append({"claimName": vm.pod_claim, "name": f"gpu{len(entries)}",
                        "requestName": entries[0]["requestName"]})
    devices: Obj = {
        "disks": [{"disk": {"bus": "virtio"}, "name": "rootdisk"},
                  {"disk": {"bus": "virtio"}, "name": "cloudinitdisk"}],
        "interfaces": [{"masquerade": {}, "name": "default"}],
    }
    if vm.host_devices:
        devices["hostDevices"] = entries
    else:
        if vm.device_plugin_gpu:
            entries = [{"deviceName": "nvidia.com/GH100_H100_SXM5_80GB", "name": "gpu-legacy"}] + entries
        devices["gpus"] = entries
    return devices


def resource_claims(vm: VM) -> list[Obj]:
    """spec.resourceClaims: the pod-level claim, by template, by name, both or neither (the knob's)."""
    if not vm.declare_claim:
        return []
    rc: Obj = {"name": vm.pod_claim}
    if vm.claim_source in ("one", "both"):
        if vm.claim == "template" or vm.claim_source == "both":
            rc["resourceClaimTemplateName"] = vm.template
        if vm.claim == "direct" or vm.claim_source == "both":
            rc["resourceClaimName"] = vm.direct_claim()
    return [rc]


def spec(vm: VM, *, defaults: bool) -> Obj:
    """The VM template's spec (defaults=False) or the VMI's, with what virt-api's mutating webhook fills in."""
    domain: Obj = {"cpu": {"cores": vm.cores}, "devices": _devices(vm), "memory": {"guest": vm.memory},
                   "resources": {}}
    if defaults:
        domain["cpu"] = {"cores": vm.cores, "model": "host-model", "sockets": 1, "threads": 1}
        domain["features"] = {"acpi": {"enabled": True}}
        domain["firmware"] = {"serial": uid("serial", vm.namespace, vm.name),
                              "uuid": uid("firmware", vm.namespace, vm.name)}
        domain["machine"] = {"type": "q35"}
        domain["resources"] = {"requests": {"memory": vm.memory}}
    else:
        domain["machine"] = {"type": "q35"}
    out: Obj = {
        "architecture": "amd64",
        "domain": domain,
        "evictionStrategy": "None",
        "networks": [{"name": "default", "pod": {}}],
        "terminationGracePeriodSeconds": 180,
        "volumes": [
            {"containerDisk": {"image": vm.image, "imagePullPolicy": "IfNotPresent"}, "name": "rootdisk"},
            {"cloudInitNoCloud": {"userData": _CLOUD_INIT}, "name": "cloudinitdisk"},
        ],
    }
    rcs = resource_claims(vm)
    if rcs:
        out["resourceClaims"] = rcs
    if vm.node_selector:
        out["nodeSelector"] = dict(vm.node_selector)
    return out
