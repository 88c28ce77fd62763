"""The `devices` table: every published DRA device and its state, then a line per node."""

from __future__ import annotations

from ..allocation import DeviceState
from ..sources.errors import printable
from .table import table


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
    nodes: dict[str, list[DeviceState]] = {}
    for d in rows:
        nodes.setdefault(d.node, []).append(d)
    for name, devs in nodes.items():
        states: dict[str, int] = {}
        for d in devs:
            states[d.state] = states.get(d.state, 0) + 1
        listing = ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
        free = [d.name for d in devs if d.state == "free"]
        out.append(printable(f"{name}: {len(devs)} devices ({listing}){'; free: ' + ', '.join(free) if free else ''}"))
    out.append(f"Free passthrough (vfio) devices: {sum(1 for d in rows if d.state == 'free' and d.type == 'vfio')}")
    return "\n".join(out) + "\n"
