"""ResourceSlice device checks: published, complete pools, PCI address, taints, double allocation."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..chain import Chain, VmiView, tolerates
from ..evidence import PCI_ATTR
from ..index import dig, items, meta
from ..model import Ref, Severity
from .base import Context, Hit, gpu_label

PCI_FORMAT = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")


def _slices_known(ctx: Context) -> bool:
    return ctx.idx.inv.knows("ResourceSlice", "resourceslices.resource.k8s.io")


def _device_ref(chain: Chain) -> Ref:
    res = chain.results[0]
    name = chain.device.slice_name if chain.device else f"{res.driver}/{res.pool}"
    return Ref("ResourceSlice", None, name)


def device_not_published(ctx: Context, view: VmiView) -> Iterator[Hit]:
    if not _slices_known(ctx):
        return
    for chain in view.chains:
        for res in chain.results:
            found = ctx.idx.devices.get((res.driver, res.pool, res.device))
            current = found and ctx.idx.is_current(found[0][0])
            if current:
                continue
            gen = ctx.idx.current_generation(res.driver, res.pool)
            why = (
                f"only in an old generation of pool {res.pool} (current: {gen})"
                if found
                else f"in no ResourceSlice of driver {res.driver} pool {res.pool}"
            )
            yield Hit(
                Ref("ResourceSlice", None, f"{res.driver}/{res.pool}"),
                f"{gpu_label(chain)} is allocated device {res.device}, which is {why}: the driver restarted, "
                "the device was removed, or it was re-published under another name",
                "restart the VM once the driver has re-published its devices (`kubectl get resourceslices "
                f"--field-selector spec.driver={res.driver}`)",
                "device",
                gpu=chain.gpu.name,
            )


def pool_incomplete(ctx: Context, view: VmiView) -> Iterator[Hit]:
    if not _slices_known(ctx):
        return
    seen = set()
    for chain in view.chains:
        for res in chain.results:
            if (res.driver, res.pool) in seen:
                continue
            seen.add((res.driver, res.pool))
            slices = ctx.idx.slices_by_pool.get((res.driver, res.pool), [])
            current = [s for s in slices if ctx.idx.is_current(s)]
            if not current:
                continue
            expected = max(int(dig(s, "spec", "pool", "resourceSliceCount", default=1) or 1) for s in current)
            stale = len(slices) - len(current)
            if len(current) >= expected and not stale:
                continue
            parts = []
            if len(current) < expected:
                parts.append(f"{len(current)} of {expected} slices of the current generation are published")
            if stale:
                parts.append(f"{stale} slice(s) of older generations are still present")
            yield Hit(
                Ref("ResourceSlice", None, f"{res.driver}/{res.pool}"),
                f"pool {res.pool} of driver {res.driver} is being re-published: {'; '.join(parts)}",
                "wait for the driver to finish publishing; if it stays so, check the driver's kubelet plugin "
                "on that node",
                "device",
                gpu=chain.gpu.name,
            )


def pci_address_missing(ctx: Context, view: VmiView) -> Iterator[Hit]:
    for chain in view.chains:
        dev = chain.device
        if dev is not None and not dev.pci and not dev.mdev:
            yield Hit(
                _device_ref(chain),
                f"device {dev.name} ({dev.driver}, type {dev.type or '?'}) has neither {PCI_ATTR} nor mdevUUID: "
                f"KubeVirt cannot build a hostdev for {gpu_label(chain)}",
                "use a driver version that publishes resource.kubernetes.io/pciBusID, and a passthrough device "
                "class (vfio.gpu.nvidia.com)",
                "device",
                gpu=chain.gpu.name,
            )


def pci_address_malformed(ctx: Context, view: VmiView) -> Iterator[Hit]:
    for chain in view.chains:
        dev = chain.device
        if dev is not None and dev.pci and not PCI_FORMAT.match(dev.pci):
            yield Hit(
                _device_ref(chain),
                f"device {dev.name} publishes {PCI_ATTR} {dev.pci!r}, not a lowercase DDDD:BB:SS.F address: "
                "KubeVirt cannot use it",
                "report it to the driver's maintainers and upgrade the driver",
                "device",
                gpu=chain.gpu.name,
            )


def device_tainted(ctx: Context, view: VmiView) -> Iterator[Hit]:
    for chain in view.chains:
        dev = chain.device
        if dev is None:
            continue
        tolerations = chain.results[0].tolerations + (chain.request.tolerations if chain.request else ())
        for taint in dev.taints:
            if tolerates(taint, tolerations):
                continue
            effect = str(taint.get("effect") or "None")
            value = f"={taint.get('value')}" if taint.get("value") else ""
            yield Hit(
                _device_ref(chain),
                f"device {dev.name} of {gpu_label(chain)} carries taint {taint.get('key')}{value}:{effect} that "
                "the allocation does not tolerate" + (": NoExecute evicts the pod" if effect == "NoExecute" else ""),
                "fix the device (see the driver's health status) or add a matching toleration to the request",
                "device",
                gpu=chain.gpu.name,
                severity=Severity.ERROR if effect == "NoExecute" else None,
            )


def device_double_allocated(ctx: Context, view: VmiView) -> Iterator[Hit]:
    for chain in view.chains:
        dev = chain.device
        if dev is None or not dev.pci:
            continue
        own = meta(chain.claim, "uid") if chain.claim else ""
        for sl in ctx.idx.slices_by_pool.get((dev.driver, dev.pool), []):
            if not ctx.idx.is_current(sl):
                continue
            for other in items(sl, "spec", "devices"):
                name = str(other.get("name"))
                if name == dev.name or dig(other, "attributes", PCI_ATTR, "string") != dev.pci:
                    continue
                holders = [
                    c for c in ctx.idx.allocations.get((dev.driver, dev.pool, name), []) if meta(c, "uid") != own
                ]
                if holders:
                    held = holders[0]
                    yield Hit(
                        _device_ref(chain),
                        f"{dev.name} ({gpu_label(chain)}) and {name}, held by claim "
                        f"{meta(held, 'namespace')}/{meta(held, 'name')}, are the same GPU {dev.pci}",
                        f"delete one consumer: the workload that owns claim {meta(held, 'namespace')}/"
                        f"{meta(held, 'name')}, or this VM",
                        "device",
                        gpu=chain.gpu.name,
                    )
