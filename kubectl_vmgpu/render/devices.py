"""The `devices` table: every published DRA device and its state, then a line per node."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..allocation import DeviceState
from ..sources.errors import printable
from .table import table


@dataclass(frozen=True)
class NodeDevices:
    """One node's line of `devices`: how many devices, how many in each state, which are free."""

    node: str
    devices: int
    states: dict[str, int]
    free: tuple[str, ...]


def per_node(rows: list[DeviceState]) -> list[NodeDevices]:
    """The fleet's devices summed per node, in the rows' node order."""
    nodes: dict[str, list[DeviceState]] = {}
    for d in rows:
        nodes.setdefault(d.node, []).append(d)
    return [
        NodeDevices(
            node, len(devs), dict(Counter(d.state for d in devs)), tuple(d.name for d in devs if d.state == "free")
        )
        for node, devs in nodes.items()
    ]


def text(rows: list[DeviceState], node: str | None = None) -> str:
    if not rows and node is not None:
        return printable(f"No DRA devices on node {node} (no current ResourceSlice of that node).") + "\n"
    if not rows:
        return "No DRA devices published (no current ResourceSlice).\n"
    cells = [
        (
            d.node,
            d.name,
            d.type or "-",
            d.pci or "-",
            d.product or "-",
            d.state + (f" ({d.detail})" if d.detail else ""),
        )
        for d in rows
    ]
    out = [table(("NODE", "DEVICE", "TYPE", "PCI BUS ID", "PRODUCT", "STATE"), cells)]
    for n in per_node(rows):
        listing = ", ".join(f"{count} {state}" for state, count in sorted(n.states.items()))
        free = f"; free: {', '.join(n.free)}" if n.free else ""
        out.append(printable(f"{n.node}: {n.devices} devices ({listing}){free}"))
    out.append(f"Free passthrough (vfio) devices: {sum(1 for d in rows if d.state == 'free' and d.type == 'vfio')}")
    return "\n".join(out) + "\n"
