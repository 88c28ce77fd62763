"""Why a request gets no device: every published device, node by node, and what excludes it."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace

from . import cel
from .chain import VmiView
from .index import Index
from .views import PCI_ATTR, Claim, ClaimState, LauncherPod, Node, Request, Requirement, SliceDevice, tolerates

# A device's state, in the order that decides it: the first that applies wins.
STATES = ("class-mismatch", "selector-mismatch", "allocated", "sibling-in-use", "tainted", "unknown", "free")
MISMATCH = ("class-mismatch", "selector-mismatch")
NVIDIA_DRIVER = "gpu.nvidia.com"
HOLDERS_UNKNOWN = "holder unknown: ResourceClaims could not be read"


@dataclass(frozen=True)
class DeviceState:
    """One published device and why it can or cannot serve the request."""

    node: str
    pool: str
    name: str
    type: str | None
    pci: str | None
    product: str | None
    state: str
    detail: str = ""
    evaluated: bool = True  # False: a class or request selector could not be evaluated (no CEL)


@dataclass(frozen=True)
class NodeReport:
    """The devices of one node and whether the pod may run there at all."""

    node: str
    usable: bool | None  # None: no Node object to test the pod's node selector against
    why_not: str
    devices: tuple[DeviceState, ...]
    summary: str


@dataclass(frozen=True)
class Explanation:
    """The allocation of one request, explained device by device."""

    request: str
    device_class: str | None
    driver: str | None
    nodes: tuple[NodeReport, ...]
    unevaluated: tuple[str, ...]  # selectors that could not be evaluated, and why
    summary: str


def holder(pods_by_uid: dict[str, LauncherPod], claim: Claim) -> str:
    """Who holds a claim: the VM of a launcher pod, another pod, or the claim itself."""
    ns = claim.meta.namespace
    for res in claim.reserved_for:
        pod = pods_by_uid.get(res.uid)
        vm = pod.meta.labels.get("vm.kubevirt.io/name") if pod else None
        if vm:
            return f"VM {ns}/{vm}"
        if res.name:
            return f"pod {ns}/{res.name}"
    return f"claim {ns}/{claim.meta.name}"


def _node_selector_ok(pod: LauncherPod | None, node: Node | None) -> tuple[bool | None, str]:
    """Whether the pod's nodeSelector and required node affinity admit the node."""
    if pod is None:
        return True, ""
    if node is None:
        return None, "no Node object to check the pod's node selector against"
    for k, v in pod.node_selector.items():
        if node.labels.get(k) != v:
            return False, f"nodeSelector {k}={v}"
    if pod.affinity_terms and not any(_term_ok(t, node) for t in pod.affinity_terms):
        return False, "required node affinity"
    if node.unschedulable:
        return False, "node is cordoned (unschedulable)"
    return True, ""


def _term_ok(term: tuple[Requirement, ...], node: Node) -> bool:
    for expr in term:
        value = node.name if expr.key == "metadata.name" else node.labels.get(expr.key)
        ok = {
            "In": value in expr.values,
            "NotIn": value not in expr.values,
            "Exists": value is not None,
            "DoesNotExist": value is None,
        }.get(expr.operator, False)
        if not ok:
            return False
    return True


def _selectors(
    where: str, exprs: tuple[str, ...], device: SliceDevice, driver: str, unevaluated: set[str]
) -> tuple[bool | None, str]:
    """(matches, why not) for a set of selectors; None when some could not be evaluated."""
    unknown = False
    for expr in exprs:
        try:
            if not cel.evaluate(expr, device, driver):
                return False, f"{where} selector `{expr}` is false"
        except cel.CelUnavailable:
            unevaluated.add(f"{where} selector `{expr}`: {cel.INSTALL_HINT}")
            unknown = True
        except ValueError as exc:
            if isinstance(exc, cel.CelUnsupported) or "does not compile" in str(exc):
                unevaluated.add(f"{where} selector `{expr}`: {exc}")
                unknown = True
            else:  # a runtime error (e.g. a missing attribute): the scheduler fails the attempt with it
                return False, f"{where} selector `{expr}` fails: {exc}"
    return (None, "") if unknown else (True, "")


def explain(
    idx: Index, view: VmiView, request: Request, own_claim: Claim | None, memo: dict[str, Explanation] | None = None
) -> Explanation:
    """Every device the request's driver publishes, node by node, and what keeps it from the request.

    Pending claims that ask the same of pods with the same node constraints get the same explanation
    (a claim holding nothing is excluded from nothing): with a `memo`, it is worked out once.
    """
    holds = own_claim is not None and bool(own_claim.results)
    pod = view.pod
    key = repr(
        (
            request,
            own_claim.meta.uid if own_claim is not None and holds else "",
            None if pod is None else (sorted(pod.node_selector.items()), pod.affinity_terms),
        )
    )
    if memo is None:
        memo = {}
    if key not in memo:
        memo[key] = _explain(idx, view, request, own_claim)
    return memo[key]


def _explain(idx: Index, view: VmiView, request: Request, own_claim: Claim | None) -> Explanation:
    sub = request.first_available[0] if request.first_available else request
    device_class = idx.classes.get(sub.device_class or "")
    driver = device_class.driver if device_class else None
    class_exprs = tuple(s for s in device_class.selectors if s) if device_class else ()
    own_uid = own_claim.meta.uid if own_claim else ""
    unevaluated: set[str] = set()
    by_node: dict[str, list[DeviceState]] = defaultdict(list)
    for where in _published(idx, driver, own_uid):
        by_node[where.node].append(_device_state(where, sub, class_exprs, own_uid, unevaluated))
    pod = view.pod
    nodes = []
    for node, devices in sorted(by_node.items()):
        usable, why_not = _node_selector_ok(pod, idx.nodes.get(node)) if node != "(all nodes)" else (True, "")
        nodes.append(
            NodeReport(
                node, usable, why_not, tuple(devices), _node_summary(node, devices, sub.device_class, usable, why_not)
            )
        )
    return Explanation(
        request=request.name,
        device_class=sub.device_class,
        driver=driver,
        nodes=tuple(nodes),
        unevaluated=tuple(sorted(unevaluated)),
        summary=_summary(nodes, sub.device_class, driver, sub.count, bool(unevaluated)),
    )


@dataclass(frozen=True)
class _Published:
    """A device of a current slice, with what is needed to judge it."""

    idx: Index
    pods: dict[str, LauncherPod]
    driver: str
    pool: str
    node: str
    dev: SliceDevice
    pci_holders: dict[str, list[tuple[str, Claim]]]  # pciBusID -> (device, claim) held in this pool


def _published(idx: Index, driver: str | None, own_uid: str) -> Iterator[_Published]:
    """Every device of the current slices (of one driver), pool by pool, with who holds each address."""
    pods = idx.pods_by_uid
    for (drv, pool), slices in sorted(idx.slices_by_pool.items()):
        if driver and drv != driver:
            continue
        current = [s for s in slices if idx.is_current(s)]
        pci_holders: dict[str, list[tuple[str, Claim]]] = defaultdict(list)
        for sl in current:
            for dev in sl.devices:
                pci = dev.attributes.get(PCI_ATTR)
                for claim in idx.allocations.get((drv, pool, dev.name), []):
                    if pci and pci.type == "string" and claim.meta.uid != own_uid:
                        pci_holders[str(pci)].append((dev.name, claim))
        for sl in current:
            node = sl.node or ("(all nodes)" if sl.all_nodes else pool)
            for dev in sl.devices:
                yield _Published(idx, pods, drv, pool, node, dev, pci_holders)


def _device_state(
    where: _Published, request: Request, class_exprs: tuple[str, ...], own_uid: str, unevaluated: set[str]
) -> DeviceState:
    idx, pods, driver, pool, node, dev = where.idx, where.pods, where.driver, where.pool, where.node, where.dev
    pci_holders = where.pci_holders
    name = dev.name
    pci, dtype = _string(dev, PCI_ATTR), _string(dev, "type")

    evaluated = True

    def state(kind: str, detail: str = "") -> DeviceState:
        return DeviceState(node, pool, name, dtype, pci, _string(dev, "productName"), kind, detail, evaluated)

    in_class, why = _selectors(f"class {request.device_class}", class_exprs, dev, driver, unevaluated)
    if in_class is False:
        return state("class-mismatch", why)
    in_request, why = _selectors(f"request {request.name}", request.selectors, dev, driver, unevaluated)
    if in_request is False:
        return state("selector-mismatch", why)
    evaluated = in_class is not None and in_request is not None
    held = [c for c in idx.allocations.get((driver, pool, name), []) if c.meta.uid != own_uid]
    if held:
        return state("allocated", f"held by {holder(pods, held[0])}")
    twins = [(n, c) for n, c in pci_holders.get(str(pci), []) if n != name] if pci else []
    if twins:
        return state("sibling-in-use", f"its twin {twins[0][0]} ({pci}) is held by {holder(pods, twins[0][1])}")
    blocking = [
        t for t in dev.taints if t.effect in ("NoSchedule", "NoExecute") and not tolerates(t, request.tolerations)
    ]
    if blocking:
        return state("tainted", f"taint {blocking[0]} not tolerated")
    if in_class is None or in_request is None:
        return state("unknown", "selectors not evaluated")
    hidden = idx.inv.cluster.claims_namespace
    if hidden is not None:  # RBAC refused claims cluster-wide: a VM of another namespace may hold it
        return state("unknown", f"{HOLDERS_UNKNOWN} outside namespace {hidden}")
    return state("free")


def _string(dev: SliceDevice, name: str) -> str | None:
    """A string-typed attribute (what the scheduler compares as a string)."""
    found = dev.attributes.get(name)
    return str(found.value) if found is not None and found.type == "string" else None


def _node_summary(node: str, devices: list[DeviceState], cls: str | None, usable: bool | None, why_not: str) -> str:
    matching = [d for d in devices if d.state not in MISMATCH]
    if not matching:
        return f"{node}: 0 of {len(devices)} devices match ({_mismatch_text(devices, cls)})"
    if all(d.state == "unknown" for d in matching):
        why = "selectors not evaluated" if any(not d.evaluated for d in matching) else matching[0].detail
        text = f"{node}: {_plural(len(matching), 'device')}, {why}"
        return text + (f" — the pod cannot run here ({why_not})" if usable is False else "")
    # Only devices whose selectors were evaluated are the class's: without CEL a `type: gpu` device is not
    # known to be a vfio.gpu.nvidia.com device (issue 16).
    known = [d for d in matching if d.evaluated]
    parts = []
    if known:
        free = [d for d in known if d.state == "free"]
        taken = [f"{d.name} {d.detail}" for d in known if d.state != "free"]
        parts.append(
            _plural(len(known), f"{cls or 'matching'} device")
            + (f", {len(free)} free ({', '.join(d.name for d in free)})" if free else "")
            + (": " + ", ".join(taken) if taken else "")
        )
    unsure = [d for d in matching if not d.evaluated]
    if unsure:
        held = [f"{d.name} {d.detail}" for d in unsure if d.state != "unknown"]
        held_text = ": " + ", ".join(held) if held else ""
        parts.append(_plural(len(unsure), "device") + ", selectors not evaluated" + held_text)
    text = f"{node}: " + "; ".join(parts)
    if usable is False:
        text += f" — the pod cannot run here ({why_not})"
    return text


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _summary(nodes: list[NodeReport], cls: str | None, driver: str | None, count: int, unevaluated: bool) -> str:
    if not nodes:
        return f"driver {driver or '?'} publishes no devices"
    usable_free = [d for n in nodes if n.usable is not False for d in n.devices if d.state == "free"]
    if len(usable_free) >= count:
        return (
            f"{len(usable_free)} free device(s) match on nodes the pod can use: the claim may be "
            "allocated on the next scheduling attempt, or another constraint of the claim fails"
        )
    free_elsewhere = [d for n in nodes if n.usable is False for d in n.devices if d.state == "free"]
    if free_elsewhere:
        where = sorted({d.node for d in free_elsewhere})
        return f"matching free devices exist only on nodes the pod cannot use ({', '.join(where)})"
    every = [d for n in nodes for d in n.devices]
    matching = [d for d in every if d.state not in MISMATCH]
    if not matching:
        return f"0 of {len(every)} devices of driver {driver or '?'} match ({_mismatch_text(every, cls)})"
    unknown = [d for d in matching if d.state == "unknown"]
    if unknown:
        if all(d.evaluated for d in unknown):  # only holders are unknown (claims of other namespaces)
            return f"no device is known to be free; {len(unknown)} may be: {unknown[0].detail}"
        return "no device is known to be free; some selectors could not be evaluated"
    states = Counter(d.state for d in matching)
    if set(states) <= {"allocated", "sibling-in-use"}:
        if unevaluated:
            return f"all {len(matching)} devices of driver {driver or '?'} are taken (selectors not evaluated)"
        return f"all {len(matching)} matching devices are taken"
    breakdown = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    if unevaluated:
        scope = f"devices of driver {driver or '?'}"
        return f"none of the {len(matching)} {scope} is free (selectors not evaluated; {breakdown})"
    return f"none of the {len(matching)} matching devices is free ({breakdown})"


def _mismatch_text(devices: list[DeviceState], cls: str | None) -> str:
    """Why devices fail to match: the class (with their types) or the request's selectors."""
    parts = []
    by_class = [d for d in devices if d.state == "class-mismatch"]
    if by_class:
        types = ", ".join(f"{n} type {t}" for t, n in Counter(d.type or "?" for d in by_class).most_common())
        parts.append(f"{len(by_class)} not selected by class {cls or '?'}: {types}")
    by_request = [d for d in devices if d.state == "selector-mismatch"]
    if by_request:
        parts.append(f"{len(by_request)} rejected by the request's selectors")
    return "; ".join(parts)


Explanations = dict[tuple[str, str, str], Explanation]  # by (namespace, VMI, GPU)


def explain_views(idx: Index, views: list[VmiView], every_claim: bool = False) -> Explanations:
    """Explanations for the requests of unallocated claims, or of every claim with `every_claim`."""
    out = {}
    memo: dict[str, Explanation] = {}
    for view in views:
        for chain in view.chains:
            pending = chain.claim is not None and chain.claim_state is ClaimState.PENDING
            if chain.request is not None and (pending or (every_claim and chain.claim is not None)):
                out[(view.namespace, view.name, chain.gpu.name)] = explain(idx, view, chain.request, chain.claim, memo)
    return out


def fleet(idx: Index, node: str | None = None) -> list[DeviceState]:
    """Every device of every current ResourceSlice, with its state: where can a GPU VM start now?"""
    anything = Request(name="", device_class=None)
    out = [_device_state(w, anything, (), "", set()) for w in _published(idx, None, "") if node in (None, w.node)]
    lost = stranded(idx)
    out = [
        replace(d, state="stranded", detail=lost[(NVIDIA_DRIVER, d.pool, d.name)])
        if d.state == "free" and (NVIDIA_DRIVER, d.pool, d.name) in lost
        else d
        for d in out
    ]
    return sorted(out, key=lambda d: (d.node, d.pool, d.name))


def stranded(idx: Index) -> dict[tuple[str, str, str], str]:
    """NVIDIA `type: vfio` devices no claim holds whose `gpu-N` twin is missing from the pool, or that lack
    attributes every sibling vfio device carries: the GPU stayed on vfio-pci after a failed unbind or a plugin
    restart [dra-driver-nvidia-gpu issues 1089, 1331]. Keyed (driver, pool, device), valued by why."""
    if not idx.inv.knows("ResourceClaim", "resourceclaims.resource.k8s.io"):
        return {}  # a device held by an unread claim would look stranded
    out = {}
    for (drv, pool), slices in sorted(idx.slices_by_pool.items()):
        if drv != NVIDIA_DRIVER:
            continue
        devices = [dev for sl in slices if idx.is_current(sl) for dev in sl.devices]
        vfio = [dev for dev in devices if _string(dev, "type") == "vfio"]
        for dev in vfio:
            if idx.allocations.get((drv, pool, dev.name)):
                continue
            pci = _string(dev, PCI_ATTR)
            others = [o.attributes.keys() for o in vfio if o.name != dev.name]
            missing = sorted(set.intersection(*map(set, others)) - set(dev.attributes)) if others else []
            if pci and not any(o.name != dev.name and _string(o, PCI_ATTR) == pci for o in devices):
                out[(drv, pool, dev.name)] = f"no claim holds it and its type-gpu twin ({pci}) is not published"
            elif missing:
                out[(drv, pool, dev.name)] = f"lacks attributes its sibling vfio devices carry: {', '.join(missing)}"
    return out
