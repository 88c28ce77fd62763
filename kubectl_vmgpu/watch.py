"""`--watch`: keep the chains current from the API's watches, print a line per change of a link, end when healthy.

Wiring like cli.py: the sources' watches (one connection per watched kind) feed raw objects; after each
batch of changes the inventory is linked and checked again (the same analysis as `doctor`) and every
link whose status or value changed is printed with the time. A launcher pod that turns Running (and the
VMI that turns Running in it) has its evidence read again with the fixed execs.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .model import Inventory, Obj, Scope
from .report import GpuReport, Report, VmiReport

Match = Callable[[Mapping[str, str]], bool]
Facts = dict[tuple[str, str, str], str]  # (namespace, name, item) -> what it says now
_SKIPPED = frozenset({"spec", "source", "pod", "class"})  # spec-side links, and the pod said once per VMI


@dataclass
class State:
    """The watched objects by kind and key, what is read once, and the launchers' evidence."""

    origin: str
    facts: Any
    objects: dict[str, dict[tuple[str, str], Obj]] = field(default_factory=dict)
    static: list[Obj] = field(default_factory=list)
    evidence: dict[Any, Any] = field(default_factory=dict)
    read_at: set[tuple[str, str, str]] = field(default_factory=set)  # (ns, pod, VMI phase) evidence was read for

    def apply(self, change: Any) -> None:
        items = self.objects.setdefault(change.kind, {})
        if change.type == "RELISTED":
            items.clear()
            items.update((_key(o), o) for o in change.items)
        elif change.type == "DELETED":
            items.pop(_key(change.obj), None)
        elif change.obj is not None:
            items[_key(change.obj)] = change.obj

    def inventory(self, kinds: set[str]) -> Inventory:
        from .normalize import add_objects

        inv = Inventory(origin=self.origin, cluster=self.facts, listed=set(kinds))
        add_objects(inv, self.static + [o for items in self.objects.values() for o in items.values()])
        inv.evidence.update(self.evidence)
        return inv


def _key(obj: Obj | None) -> tuple[str, str]:
    meta = (obj or {}).get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def analyse(inv: Inventory, namespace: str | None, name: str | None) -> Report:
    """The doctor analysis of an inventory (one pass)."""
    from . import allocation, chain, checks, report
    from .index import Index

    idx = Index(inv)
    views = chain.link(idx, namespace, name)
    explanations = allocation.explain_views(idx, views)
    found = checks.run(checks.Context(idx=idx, exec_disabled=False, explanations=explanations), views)
    version = idx.kubevirt.label if idx.kubevirt.version else None
    return report.assemble("Describe", inv.origin, views, found.cluster, found.by_vmi, found.silenced, explanations,
                           version)


def _gpu_facts(v: VmiReport, gpu: GpuReport, many: bool) -> dict[str, str]:
    from .render.text import describe_link

    out = {}
    label = f"gpu {gpu.chain.gpu.name}: " if many else ""
    for link in gpu.links:
        name = link.name.value
        if name in _SKIPPED:
            continue
        if name == "allocation":
            chain = gpu.chain
            devices = ",".join(r.device for r in chain.results)
            said = f"claim allocated {devices} on {chain.alloc_node}" if devices else "claim not allocated"
        else:
            said = f"{name} {link.status.value}: {describe_link(v.view, gpu, link)}"
        out[f"{gpu.chain.gpu.name}/{name}"] = label + said
    return out


def facts(rep: Report) -> Facts:
    """What each VMI's phase, launcher pod and links say now, in chain order."""
    out: Facts = {}
    for v in rep.vmis:
        view, key = v.view, (v.view.namespace, v.view.name)
        out[(key[0], key[1], "vmi")] = f"vmi {view.phase or 'no phase'}" + (f" on {view.node}" if view.node else "")
        pod = view.pod
        if pod is not None:
            phase = "scheduled" if pod.phase == "Pending" and pod.node else pod.phase or "created"
            out[(key[0], key[1], "pod")] = f"pod {pod.meta.name} {phase}" + (f" on {pod.node}" if pod.node else "")
        for gpu in v.gpus:
            for item, said in _gpu_facts(v, gpu, len(v.gpus) > 1).items():
                out[(key[0], key[1], item)] = said
    return out


def ready(v: VmiReport) -> bool:
    from .model import Severity

    return (
        v.view.vmi is not None
        and v.view.phase == "Running"
        and all(g.chain.evidence.hostdev is not None for g in v.gpus)
        and not any(f.severity == Severity.ERROR for f in v.all_findings)
    )


@dataclass
class Printer:
    """Change lines, `HH:MM:SS [ns/name] what`, through `echo` (cluster text made printable)."""

    echo: Callable[[str], None]
    prefixed: bool

    def changes(self, before: Facts, after: Facts) -> None:
        from .sources.errors import printable

        stamp = time.strftime("%H:%M:%S")
        for key, said in after.items():
            if before.get(key) != said:
                who = f"{key[0]}/{key[1]} " if self.prefixed else ""
                self.echo(printable(f"{stamp} {who}{said}"))
        for key in before.keys() - after.keys():
            if key[2] == "vmi":
                self.echo(printable(f"{stamp} {key[0]}/{key[1]} deleted"))


def run(sc: Scope, show: Callable[[Report], str], echo: Callable[[str], None], match: Match | None,
        watch_only: bool) -> int:
    """Watch until every VMI in scope runs healthy (0); Ctrl-C is the caller's (130)."""
    from .sources import cluster
    from .sources.watch import WATCHED, Watcher, as_list

    reader = cluster.Reader(sc)
    ns = reader.namespace
    with reader:
        facts_ = cluster._discover(reader.api, reader.pool)
        reads = cluster.plan(dict(facts_.groups or {}), sc, ns)
        watched = [as_list(r) for r in reads if r.kind in WATCHED]
        state = State(f"cluster {reader.api.host}", facts_)
        versions = _initial(reader, state, watched, [r for r in reads if r.kind not in WATCHED])
        watcher = Watcher(reader.api, watched)
        watcher.start(versions)
        try:
            return _loop(sc, reader, state, watcher, {r.kind for r in reads}, show, echo, match, watch_only)
        finally:
            watcher.stop.set()


def _initial(reader: Any, state: State, watched: list[Any], static: list[Any]) -> dict[str, str]:
    from .sources.cluster import _run_read
    from .sources.errors import SourceError
    from .sources.watch import list_at

    lists = {r.kind: reader.pool.submit(list_at, reader.api, r) for r in watched}
    once = [reader.pool.submit(_run_read, reader.api, r) for r in static]
    versions = {}
    try:
        for kind, future in lists.items():
            items, versions[kind] = future.result()
            state.objects[kind] = {_key(o): o for o in items}
        for f in once:
            state.static += f.result()
    except Exception as exc:  # ApiError: without the lists there is nothing to watch
        raise SourceError(f"cannot list for --watch: {exc}") from None
    return versions


def _evidence(sc: Scope, reader: Any, state: State, rep: Report) -> bool:
    """Read the evidence of launchers that turned Running (again when their VMI's phase changed)."""
    from .sources.launchers import collect_evidence

    if sc.no_exec:
        return False
    targets = []
    for v in rep.vmis:
        pod = v.view.pod
        if pod is not None and pod.running and (v.view.namespace, pod.meta.name, v.view.phase) not in state.read_at:
            state.read_at.add((v.view.namespace, pod.meta.name, v.view.phase))
            targets.append((v.view.namespace, pod.meta.name, v.view.name))
    if targets:
        state.evidence.update(collect_evidence(reader.api, reader.pool, targets))
    return bool(targets)


def _loop(sc: Scope, reader: Any, state: State, watcher: Any, kinds: set[str], show: Callable[[Report], str],
          echo: Callable[[str], None], match: Match | None, watch_only: bool) -> int:
    ns = None if sc.all_namespaces else reader.namespace
    printer = Printer(echo, prefixed=sc.name is None)

    def current() -> Report:
        rep = analyse(state.inventory(kinds), ns, sc.name)
        if _evidence(sc, reader, state, rep):
            rep = analyse(state.inventory(kinds), ns, sc.name)
        if match is not None:
            from dataclasses import replace

            keep = tuple(v for v in rep.vmis if any(match(o.meta.labels) for o in (v.view.vmi, v.view.vm) if o))
            rep = replace(rep, vmis=keep)
        return rep

    rep = current()
    if not watch_only:
        echo(show(rep).rstrip("\n"))
    seen = facts(rep)
    while not (rep.vmis and all(ready(v) for v in rep.vmis)):
        try:
            change = watcher.changes.get(timeout=0.5)
        except queue.Empty:
            continue
        batch = [change]
        time.sleep(0.05)  # a write often comes with others (claim and pod): link once for all
        while not watcher.changes.empty():
            batch.append(watcher.changes.get_nowait())
        for c in batch:
            if c.note:
                import click

                click.echo(f"note: {c.note}", err=True)
            state.apply(c)
        rep = current()
        now = facts(rep)
        printer.changes(seen, now)
        seen = now
    stamp = time.strftime("%H:%M:%S")
    echo(f"{stamp} healthy: {sum(len(v.gpus) for v in rep.vmis)} GPU(s) ready, VM running")
    return 0
