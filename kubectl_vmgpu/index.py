"""Lookups over an inventory: objects by key, owners, events, current slices, KubeVirt version."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from functools import cached_property
from typing import Any

from .model import Inventory, Obj

Version = tuple[int, int, int]
_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


def dig(obj: Any, *path: str | int, default: Any = None) -> Any:
    """obj[a][b]... tolerating missing keys, nulls and wrong types."""
    for key in path:
        if isinstance(key, int):
            if not isinstance(obj, list) or not -len(obj) <= key < len(obj):
                return default
            obj = obj[key]
        elif isinstance(obj, dict):
            obj = obj.get(key)
        else:
            return default
        if obj is None:
            return default
    return obj


def items(obj: Any, *path: str) -> list[Any]:
    """A list at path, or [] when absent or not a list; only dict entries are kept."""
    value = dig(obj, *path)
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def meta(obj: Obj | None, key: str, default: str = "") -> str:
    value = dig(obj, "metadata", key)
    return str(value) if value is not None else default


def key(obj: Obj) -> tuple[str, str]:
    return meta(obj, "namespace"), meta(obj, "name")


def parse_version(text: Any) -> Version | None:
    match = _VERSION.search(str(text or ""))
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def controller_uid(obj: Obj, kind: str) -> str | None:
    for ref in items(obj, "metadata", "ownerReferences"):
        if ref.get("kind") == kind and ref.get("controller"):
            return str(ref.get("uid"))
    return None


class Index:
    """Read-only indexes, built once per inventory; every lookup is a dict access."""

    def __init__(self, inv: Inventory) -> None:
        self.inv = inv
        self.vms = {key(o): o for o in inv.of("VirtualMachine")}
        self.vmis = {key(o): o for o in inv.of("VirtualMachineInstance")}
        self.claims = {key(o): o for o in inv.of("ResourceClaim")}
        self.templates = {key(o): o for o in inv.of("ResourceClaimTemplate")}
        self.classes = {meta(o, "name"): o for o in inv.of("DeviceClass")}
        self.nodes = {meta(o, "name"): o for o in inv.of("Node")}
        self.pods_by_owner: dict[str, list[Obj]] = defaultdict(list)
        self.pods_by_uid = {meta(p, "uid"): p for p in inv.of("Pod")}
        self.pod_uids = set(self.pods_by_uid)
        self._driver_slices: dict[str, tuple[list[Obj], set[str | None], tuple[int, bool]]] = {}
        for pod in inv.of("Pod"):
            owner = controller_uid(pod, "VirtualMachineInstance") or dig(
                pod, "metadata", "labels", "kubevirt.io/created-by"
            )
            if owner and dig(pod, "metadata", "labels", "kubevirt.io") == "virt-launcher":
                self.pods_by_owner[str(owner)].append(pod)
        self.claims_by_pod: dict[str, list[Obj]] = defaultdict(list)
        for claim in inv.of("ResourceClaim"):
            owner = controller_uid(claim, "Pod")
            if owner:
                self.claims_by_pod[owner].append(claim)
        self.events_by_uid: dict[str, list[Obj]] = defaultdict(list)
        self.events_by_name: dict[tuple[str, str, str], list[Obj]] = defaultdict(list)
        for ev in sorted(inv.of("Event"), key=lambda e: str(e.get("lastTimestamp") or "")):
            involved = dig(ev, "involvedObject")
            if not isinstance(involved, dict):
                involved = {}
            if involved.get("uid"):
                self.events_by_uid[str(involved["uid"])].append(ev)
            name_key = (str(involved.get("kind")), str(involved.get("namespace") or ""), str(involved.get("name")))
            self.events_by_name[name_key].append(ev)

    def events(self, obj: Obj) -> list[Obj]:
        """Events about an object, oldest first: by uid, else by kind/namespace/name."""
        uid = meta(obj, "uid")
        found = self.events_by_uid.get(uid) if uid else None
        if found:
            return found
        return self.events_by_name.get((str(obj.get("kind")), *key(obj)), [])

    @cached_property
    def slices_by_pool(self) -> dict[tuple[str, str], list[Obj]]:
        pools: dict[tuple[str, str], list[Obj]] = defaultdict(list)
        for sl in self.inv.of("ResourceSlice"):
            pools[(str(dig(sl, "spec", "driver")), str(dig(sl, "spec", "pool", "name")))].append(sl)
        return pools

    def current_generation(self, driver: str, pool: str) -> int | None:
        gens = [_int(dig(s, "spec", "pool", "generation")) for s in self.slices_by_pool.get((driver, pool), [])]
        return max(gens) if gens else None

    @cached_property
    def devices(self) -> dict[tuple[str, str, str], list[tuple[Obj, Obj]]]:
        """(driver, pool, device) -> [(slice, device)], current pool generation first."""
        found: dict[tuple[str, str, str], list[tuple[Obj, Obj]]] = defaultdict(list)
        for (driver, pool), slices in self.slices_by_pool.items():
            current = self.current_generation(driver, pool)
            ordered = sorted(slices, key=lambda s: _int(dig(s, "spec", "pool", "generation")) != current)
            for sl in ordered:
                for dev in items(sl, "spec", "devices"):
                    found[(driver, pool, str(dev.get("name")))].append((sl, dev))
        return found

    def is_current(self, sl: Obj) -> bool:
        driver, pool = str(dig(sl, "spec", "driver")), str(dig(sl, "spec", "pool", "name"))
        return _int(dig(sl, "spec", "pool", "generation")) == self.current_generation(driver, pool)

    @cached_property
    def allocations(self) -> dict[tuple[str, str, str], list[Obj]]:
        """(driver, pool, device) -> claims whose allocation holds it."""
        held: dict[tuple[str, str, str], list[Obj]] = defaultdict(list)
        for claim in self.inv.of("ResourceClaim"):
            for res in items(claim, "status", "allocation", "devices", "results"):
                held[(str(res.get("driver")), str(res.get("pool")), str(res.get("device")))].append(claim)
        return held

    @cached_property
    def kubevirt(self) -> Obj | None:
        crs = self.inv.of("KubeVirt")
        return crs[0] if crs else None

    @cached_property
    def kubevirt_version(self) -> Version | None:
        """From the KubeVirt CR, else from a launcher image tag."""
        version = parse_version(dig(self.kubevirt, "status", "observedKubeVirtVersion"))
        if version:
            return version
        for vmi in self.inv.of("VirtualMachineInstance"):
            image = str(dig(vmi, "status", "launcherContainerImageVersion") or "")
            tag = image.rpartition(":")[2] if ":" in image and "@" not in image else ""
            version = parse_version(tag) if tag.startswith("v") else None
            if version:
                return version
        return None

    @cached_property
    def orphan_claims(self) -> dict[str, list[tuple[str, Obj, Obj]]]:
        """Per namespace, by name: claims controlled by a Pod that does not exist, with that owner."""
        out: dict[str, list[tuple[str, Obj, Obj]]] = {}
        for (ns, name), claim in sorted(self.claims.items()):
            owner = next(
                (
                    r
                    for r in items(claim, "metadata", "ownerReferences")
                    if r.get("kind") == "Pod" and r.get("controller")
                ),
                None,
            )
            if owner is not None and str(owner.get("uid")) not in self.pod_uids:
                out.setdefault(ns, []).append((name, claim, owner))
        return out

    def driver_slices(self, driver: str) -> tuple[list[Obj], set[str | None], tuple[int, bool]]:
        """A driver's slices, their nodes (None: an allNodes slice) and (device count, any vfio)."""
        if driver not in self._driver_slices:
            slices = [s for s in self.inv.of("ResourceSlice") if dig(s, "spec", "driver") == driver]
            nodes: set[str | None] = {str(dig(s, "spec", "nodeName")) for s in slices if dig(s, "spec", "nodeName")}
            if any(dig(s, "spec", "allNodes") for s in slices):
                nodes.add(None)
            devices = [d for s in slices for d in items(s, "spec", "devices")]
            vfio = any(dig(d, "attributes", "type", "string") == "vfio" for d in devices)
            self._driver_slices[driver] = (slices, nodes, (len(devices), vfio))
        return self._driver_slices[driver]

    def gate_enabled(self, gate: str) -> bool | None:
        """Whether a KubeVirt feature gate is on; None when it cannot be known."""
        if self.kubevirt is None:
            return None
        dev = dig(self.kubevirt, "spec", "configuration", "developerConfiguration", default={})
        enabled = [str(g) for g in dig(dev, "featureGates", default=[]) or []]
        disabled = [str(g) for g in dig(dev, "disabledFeatureGates", default=[]) or []]
        if gate in disabled:
            return False
        if gate in enabled:
            return True
        version = self.kubevirt_version
        if version is None:
            return None
        return version >= (1, 9, 0)  # Beta and on by default from v1.9.0


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def newest(objs: Iterable[Obj]) -> Obj | None:
    ordered = sorted(objs, key=lambda o: meta(o, "creationTimestamp"))
    return ordered[-1] if ordered else None
