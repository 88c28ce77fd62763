"""What the simulation keeps track of: the devices the driver knows and what happened to each VM."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..hw import GpuModel, Slot
from ..model import VM

Obj = dict[str, Any]


def vtuple(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.lstrip("v").split("-")[0].split("."))


def go_quote(s: str) -> str:
    """Go's %q for the ASCII messages used here."""
    return json.dumps(s, ensure_ascii=False)


@dataclass
class Device:
    node: str
    name: str
    kind: str  # gpu | vfio | vgpu
    slot: Slot
    index: int
    model: GpuModel
    attrs: dict[str, Any]
    capacity: dict[str, Any]
    taints: list[dict[str, Any]] = field(default_factory=list)
    published: bool = True
    pci_published: str | None = None  # what the current slice says, if it differs from the truth


@dataclass
class Chain:
    """What happened to one VM: the objects it produced and where it stopped."""

    vm: VM
    vmi_phase: str = ""  # "" = no VMI
    refused: str = ""  # admission denial message
    pod_name: str = ""
    pod_uid: str = ""
    pod_state: str = ""  # none | unschedulable | creating | running
    node: str = ""
    claim_name: str = ""
    claim_uid: str = ""
    devices: list[tuple[str, Device]] = field(default_factory=list)  # (result request, device)
    pending_reason: str = ""
    sync_error: str = ""
    domain: str = ""  # live | inactive | none
    wired: list[tuple[str, str]] = field(default_factory=list)
