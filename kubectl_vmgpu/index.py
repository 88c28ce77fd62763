"""Lookups over the typed views of an inventory: objects by key, owners, events, current slices, KubeVirt."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import cached_property

from . import build
from . import views as v
from .model import Inventory

Key = tuple[str, str]
DeviceKey = tuple[str, str, str]  # driver, pool, device


class Index:
    """Typed views of an inventory, built once; every lookup is a dict access."""

    def __init__(self, inv: Inventory) -> None:
        self.inv = inv
        vmis = [build.vmi(o) for o in inv.of("VirtualMachineInstance")]
        self.vmis: dict[Key, v.Vmi] = {(x.meta.namespace, x.meta.name): x for x in vmis}
        self.vms: dict[Key, v.Vm] = {}
        for o in inv.of("VirtualMachine"):
            vm = build.vm(o)
            self.vms[(vm.meta.namespace, vm.meta.name)] = vm
        self.claims: dict[Key, v.Claim] = {}
        self.claims_by_pod: dict[str, list[v.Claim]] = defaultdict(list)
        for o in inv.of("ResourceClaim"):
            claim = build.claim(o)
            self.claims[(claim.meta.namespace, claim.meta.name)] = claim
            owner = claim.meta.controller("Pod")
            if owner:
                self.claims_by_pod[owner.uid].append(claim)
        self.templates: dict[Key, v.Template] = {}
        for o in inv.of("ResourceClaimTemplate"):
            tpl = build.template(o)
            self.templates[(tpl.meta.namespace, tpl.meta.name)] = tpl
        self.classes: dict[str, v.DeviceClass] = {c.name: c for c in map(build.device_class, inv.of("DeviceClass"))}
        self.nodes: dict[str, v.Node] = {n.name: n for n in map(build.node, inv.of("Node"))}
        self.pods_by_uid: dict[str, v.LauncherPod] = {}
        self.pods_by_owner: dict[str, list[v.LauncherPod]] = defaultdict(list)
        for o in inv.of("Pod"):
            pod = build.launcher_pod(o)
            self.pods_by_uid[pod.meta.uid] = pod
            if pod.vmi_uid and pod.meta.labels.get("kubevirt.io") == "virt-launcher":
                self.pods_by_owner[pod.vmi_uid].append(pod)
        self.kubevirt: v.KubeVirt = build.kubevirt(next(iter(inv.of("KubeVirt")), None), vmis)
        self._events_by_uid: dict[str, list[v.Event]] = defaultdict(list)
        self._events_by_name: dict[tuple[str, str, str], list[v.Event]] = defaultdict(list)
        for ev in sorted(map(build.event, inv.of("Event")), key=lambda e: e.last):
            if ev.involved_uid:
                self._events_by_uid[ev.involved_uid].append(ev)
            self._events_by_name[(ev.involved_kind, ev.involved_namespace, ev.involved_name)].append(ev)

    def events(self, m: v.Meta) -> list[v.Event]:
        """Events about an object, oldest first: by uid, else by kind/namespace/name."""
        found = self._events_by_uid.get(m.uid) if m.uid else None
        if found:
            return found
        return self._events_by_name.get((m.kind, m.namespace, m.name), [])

    @cached_property
    def slices(self) -> list[v.Slice]:
        return [build.resource_slice(o) for o in self.inv.of("ResourceSlice")]

    @cached_property
    def slices_by_pool(self) -> dict[tuple[str, str], list[v.Slice]]:
        pools: dict[tuple[str, str], list[v.Slice]] = defaultdict(list)
        for sl in self.slices:
            pools[(sl.driver, sl.pool)].append(sl)
        return pools

    @cached_property
    def _generations(self) -> dict[tuple[str, str], int]:
        return {k: max(sl.generation for sl in slices) for k, slices in self.slices_by_pool.items()}

    def is_current(self, sl: v.Slice) -> bool:
        return sl.generation == self._generations.get((sl.driver, sl.pool))

    def current_slices(self, driver: str, pool: str) -> list[v.Slice]:
        return [sl for sl in self.slices_by_pool.get((driver, pool), []) if self.is_current(sl)]

    @cached_property
    def devices(self) -> dict[DeviceKey, list[tuple[v.Slice, v.SliceDevice]]]:
        """(driver, pool, device) -> [(slice, device)], current pool generation first."""
        found: dict[DeviceKey, list[tuple[v.Slice, v.SliceDevice]]] = defaultdict(list)
        for (driver, pool), slices in self.slices_by_pool.items():
            for sl in sorted(slices, key=lambda x: not self.is_current(x)):
                for dev in sl.devices:
                    found[(driver, pool, dev.name)].append((sl, dev))
        return found

    @cached_property
    def allocations(self) -> dict[DeviceKey, list[v.Claim]]:
        """(driver, pool, device) -> claims whose allocation holds it."""
        held: dict[DeviceKey, list[v.Claim]] = defaultdict(list)
        for claim in self.claims.values():
            for res in claim.results:
                held[(res.driver, res.pool, res.device)].append(claim)
        return held

    @cached_property
    def orphan_claims(self) -> dict[str, list[tuple[v.Claim, v.Owner]]]:
        """Per namespace, by name: claims controlled by a Pod that does not exist, with that owner."""
        out: dict[str, list[tuple[v.Claim, v.Owner]]] = {}
        for (ns, _name), claim in sorted(self.claims.items()):
            owner = claim.meta.controller("Pod")
            if owner is not None and owner.uid not in self.pods_by_uid:
                out.setdefault(ns, []).append((claim, owner))
        return out

    @cached_property
    def _driver_slices(self) -> dict[str, tuple[list[v.Slice], set[str | None], tuple[int, bool]]]:
        out: dict[str, tuple[list[v.Slice], set[str | None], tuple[int, bool]]] = {}
        by_driver: dict[str, list[v.Slice]] = defaultdict(list)
        for sl in self.slices:
            by_driver[sl.driver].append(sl)
        for driver, slices in by_driver.items():
            nodes: set[str | None] = {sl.node for sl in slices if sl.node}
            if any(sl.all_nodes for sl in slices):
                nodes.add(None)
            devices = [dev for sl in slices for dev in sl.devices]
            out[driver] = (slices, nodes, (len(devices), any(dev.type == "vfio" for dev in devices)))
        return out

    def driver_slices(self, driver: str) -> tuple[list[v.Slice], set[str | None], tuple[int, bool]]:
        """A driver's slices, their nodes (None: an allNodes slice) and (device count, any vfio)."""
        return self._driver_slices.get(driver, ([], set(), (0, False)))

    # ---- the questions checks ask, answered with an empty value when nothing matches ----

    def orphans(self, namespace: str) -> list[tuple[v.Claim, v.Owner]]:
        return self.orphan_claims.get(namespace, [])

    def pool_slices(self, driver: str, pool: str) -> list[v.Slice]:
        return self.slices_by_pool.get((driver, pool), [])

    def published(self, key: DeviceKey) -> list[tuple[v.Slice, v.SliceDevice]]:
        return self.devices.get(key, [])

    def holders(self, key: DeviceKey) -> list[v.Claim]:
        return self.allocations.get(key, [])

    def served(self, group: str) -> tuple[str, ...] | None:
        """Served versions of a group: from discovery, else what the objects were written in; None = unknown."""
        groups = self.inv.cluster.groups
        if groups is not None:
            return groups.get(group, ())
        seen = self.inv.resource_versions.get(group)
        return tuple(sorted(seen)) if seen else None

    def discovered(self, group: str) -> tuple[str, ...] | None:
        """Versions discovery reported for a group; None when discovery was not read."""
        groups = self.inv.cluster.groups
        return None if groups is None else groups.get(group, ())


def newest(objs: Iterable[v.LauncherPod]) -> v.LauncherPod | None:
    ordered = sorted(objs, key=lambda o: o.meta.created)
    return ordered[-1] if ordered else None

