"""The flow every report command shares: read, link, (live) second phase, check, report; and how it is printed."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

import click

from .model import Scope

if TYPE_CHECKING:
    from .index import Index
    from .model import Inventory
    from .report import Report
    from .sources.cluster import Reader

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_SOURCE = 0, 1, 2, 3

# What the last run read and built, kept to the end: the executable leaves with os._exit (entry.main)
# rather than free millions of objects one by one (a second at 20,000 VMIs, issue 15). One run's worth.
KEPT: dict[str, object] = {}


def fail(message: str, code: int = EXIT_SOURCE) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _load(sc: Scope) -> tuple[Inventory, str | None, Reader | None]:
    """The inventory, the namespace to filter on (None = all), and for a cluster the open reader."""
    import gc

    from .sources.errors import SourceError

    # One short run building millions of acyclic objects: the cyclic collector would walk them again and
    # again (super-linear in the snapshot size) and free nothing.
    gc.disable()
    try:
        if sc.demo:
            from importlib.resources import files

            from .sources import snapshot

            return snapshot.load_traversable(files("kubectl_vmgpu") / "demo", "demo"), sc.namespace, None
        if sc.snapshots:
            from .sources import snapshot

            return snapshot.load(list(sc.snapshots)), sc.namespace, None
        from .sources import cluster

        reader = cluster.Reader(sc)
        return reader.read(), reader.namespace, reader
    except SourceError as exc:
        fail(str(exc))


def _notes(inv: Inventory) -> None:
    """What the source skipped (special files, links out of the snapshot), one line each on stderr."""
    for note in inv.notes:
        click.echo(f"note: {note}", err=True)


def _link(sc: Scope) -> tuple[Inventory, Index, list[Any], str | None]:
    """Read, link, and for a cluster the second phase: the launchers' evidence, then link again."""
    from . import chain
    from .index import Index
    from .sources.errors import SourceError

    inv, namespace, reader = _load(sc)
    _notes(inv)
    ns = None if sc.all_namespaces else namespace
    idx = Index(inv)
    views = chain.link(idx, ns, sc.name)
    if reader is None:
        return inv, idx, views, ns
    try:
        with reader:
            if reader.needs_nodes:  # a named VMI reads only the slices of the nodes its chains touch
                reader.read_slices(inv, chain.nodes(views))
            if not sc.no_exec:
                reader.read_evidence(inv, chain.evidence_targets(views))
    except SourceError as exc:
        fail(str(exc))
    idx = Index(inv)
    return inv, idx, chain.link(idx, ns, sc.name), ns


def _analyse(sc: Scope, kind: str, ignore: tuple[str, ...] = (), explain_all: bool = False) -> Report:
    return _analysed(sc, kind, ignore, explain_all)[0]


def _analysed(sc: Scope, kind: str, ignore: tuple[str, ...] = (), explain_all: bool = False) -> tuple[Report, Index]:
    from . import allocation, checks, report

    inv, idx, views, ns = _link(sc)
    if sc.name and not views:
        exists = any(k[1] == sc.name and (ns is None or k[0] == ns) for k in list(idx.vmis) + list(idx.vms))
        where = f" in namespace {ns!r}" if ns else ""
        if exists:
            click.echo(f"{sc.name}{where} has no DRA GPUs or host devices", err=True)
        else:
            fail(f"no VMI or VM named {sc.name!r}{where} (try -A)", EXIT_USAGE)
    keys = frozenset(k.lower() for k in ignore)
    explanations = allocation.explain_views(idx, views, explain_all)
    ctx = checks.Context(idx=idx, exec_disabled=sc.no_exec, explanations=explanations)
    found = checks.run(ctx, views, keys)
    version = idx.kubevirt.label if idx.kubevirt.version else None
    rep = report.assemble(kind, inv.origin, views, found.cluster, found.by_vmi, found.silenced, explanations, version)
    KEPT["analysis"] = (inv, idx, views, found)
    return rep, idx


def _emit(kind: str, sc: Scope, output: str, ignore: tuple[str, ...] = (), explain_all: bool = False) -> Report:
    from .render import json as rjson

    rep = _analyse(sc, kind, ignore, explain_all)
    if output in ("json", "yaml"):
        data = rjson.report(rep)
        text = rjson.to_json(data) if output == "json" else rjson.to_yaml(data)
    else:
        from .render import text as rtext

        style = rtext.Style(sys.stdout.isatty() and "NO_COLOR" not in os.environ)
        text = (rtext.describe if kind == "Describe" else rtext.doctor)(rep, style)
    click.echo(text, nl=False)
    KEPT["output"] = (rep, text)
    return rep
