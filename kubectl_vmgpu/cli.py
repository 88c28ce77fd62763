"""The wiring module: kubectl-style flags -> source -> chains -> checks -> rendered output, exit code."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

import click

from . import __version__, getcli
from .completion import complete_checks, complete_files, completion_command
from .model import Scope
from .options import OUTPUTS, scope, source_options, unscoped_options
from .render.complete import complete_get_output

if TYPE_CHECKING:
    from .index import Index
    from .model import Inventory
    from .report import Report
    from .sources.cluster import Reader

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_SOURCE = 0, 1, 2, 3


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
    return rep


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", message="kubectl-vmgpu %(version)s")
def main() -> None:
    """Walk and check the GPU chain of KubeVirt VMs that get GPUs through Kubernetes DRA.

    \b
    VMI -> ResourceClaim (or template) -> allocation -> ResourceSlice device
        -> virt-launcher pod: DRA metadata file, /dev/vfio, libvirt domain XML

    Reads the cluster of your kubeconfig, or an offline snapshot (--snapshot, --demo).

    \b
    Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage error,
                3 cluster or snapshot could not be read.
    """


@main.command()
@source_options
@click.option("-o", "--output", type=click.Choice(OUTPUTS), default="text", show_default=True, help="Output format.")
@click.option(
    "--explain-allocation",
    is_flag=True,
    help="Explain the allocation device by device for allocated claims too (always for pending ones).",
)
@getcli.watch_options
def describe(output: str, explain_allocation: bool, **kw: Any) -> None:
    """Show the whole chain of each DRA GPU of a VMI (or VM), with findings inline.

    NAME is a VMI or VM name; without it, every VMI in scope. For a claim that is not allocated,
    the allocation is explained device by device: what the driver publishes on each node, which
    devices the class and the request's selectors match, which are held and by whom.

    With --watch (live only), a line per change of any link follows, until the VM runs healthy.
    """
    watch, watch_only = kw.pop("watch"), kw.pop("watch_only")
    if watch or watch_only:
        getcli.watch(scope(kw), "describe", watch_only, None)
        return
    _emit("Describe", scope(kw), output, explain_all=explain_allocation)


def _severity(_ctx: click.Context, _param: click.Parameter, value: str) -> Any:
    from .model import Severity

    return Severity.parse(value)


def _list_checks(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from tabulate import tabulate

    from .checks import CHECKS

    rows = [(c.id, c.name, str(c.severity), c.summary) for c in CHECKS]
    click.echo(tabulate(rows, headers=("ID", "NAME", "SEVERITY", "SUMMARY"), tablefmt="plain"))
    ctx.exit(EXIT_OK)


def _explain(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if not value or ctx.resilient_parsing:
        return
    from .checks import lookup

    check = lookup(value)
    if check is None:
        fail(f"no check {value!r} (see --list-checks)", EXIT_USAGE)
    click.echo(
        f"{check.id} {check.name} ({check.severity}, {check.stage})\n{check.summary}\n\n"
        f"{check.explanation}\n\nFix: {check.fix}"
    )
    ctx.exit(EXIT_OK)


@main.command()
@source_options
@click.option("-o", "--output", type=click.Choice(OUTPUTS), default="text", show_default=True, help="Output format.")
@click.option(
    "--fail-on",
    type=click.Choice(["info", "warning", "error"]),
    default="error",
    show_default=True,
    callback=_severity,
    help="Exit 1 when a finding is at least this severe.",
)
@click.option(
    "--ignore",
    multiple=True,
    metavar="ID|NAME",
    shell_complete=complete_checks,
    help="Silence a check (repeatable); VMIs/VMs can also carry the annotation "
    "vmgpu.kubevirt.io/ignore-checks: 'name,id,...'.",
)
@click.option(
    "--list-checks",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_list_checks,
    help="List every check and exit.",
)
@click.option(
    "--explain",
    metavar="ID|NAME",
    shell_complete=complete_checks,
    expose_value=False,
    is_eager=True,
    callback=_explain,
    help="Explain one check and exit.",
)
def doctor(output: str, fail_on: Any, ignore: tuple[str, ...], **kw: Any) -> None:
    """Check every link of every DRA GPU chain and explain each break with a fix.

    NAME is a VMI or VM name; without it, every VMI in scope.
    """
    from .checks import lookup

    for key in ignore:
        if lookup(key) is None:
            raise click.BadParameter(f"no check {key!r} (see --list-checks)", param_hint="--ignore")
    code = _emit("Doctor", scope(kw), output, ignore).exit_code(fail_on)
    if code:
        sys.exit(code)


@main.command()
@source_options
@click.option(
    "-o",
    "--output",
    "path",
    required=True,
    metavar="FILE.tar.gz",
    shell_complete=complete_files,
    help="Where to write the bundle.",
)
@click.option("--no-redact", is_flag=True, help="Keep env values and secret-like annotations in the bundle.")
def collect(path: str, no_redact: bool, **kw: Any) -> None:
    """Save everything the chains of the VMIs in scope need into a .tar.gz bundle (mode 0600).

    Objects (without managedFields), warning events and launcher evidence (metadata files,
    /dev/vfio listing, domain XML); `--snapshot FILE.tar.gz` later gives the same report.
    Env values, last-applied and secret-like annotations are redacted unless --no-redact.
    """
    from . import bundle

    inv, _idx, _views, _ns = _link(scope(kw))
    try:
        count = bundle.write(inv, path, redact=not no_redact)
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")
    objects = sum(len(v) for v in inv.objects.values())
    click.echo(f"wrote {path}: {count} files, {objects} objects, launcher evidence of {len(inv.evidence)} pods")


@main.command()
@unscoped_options
@click.option("--node", metavar="NODE", help="Only this node's devices.")
@click.option("-o", "--output", type=click.Choice(OUTPUTS), default="text", show_default=True, help="Output format.")
def devices(node: str | None, output: str, **kw: Any) -> None:
    """List the fleet's DRA devices and their state: where can a GPU VM start right now?

    One row per device of every current ResourceSlice: node, device, type, pciBusID, product,
    and state (free, allocated and to whom, sibling in use, tainted), then a summary per node.
    """
    from . import allocation
    from .index import Index
    from .render import devices as rdevices
    from .render import json as rjson

    inv, _namespace, reader = _load(scope({**kw, "no_exec": True}))
    _notes(inv)
    if reader is not None:
        reader.close()
    rows = allocation.fleet(Index(inv), node)
    if output in ("json", "yaml"):
        data = rjson.devices(inv.origin, rows)
        text = rjson.to_json(data) if output == "json" else rjson.to_yaml(data)
    else:
        text = rdevices.text(rows, node)
    click.echo(text, nl=False)


@main.command()
@source_options
@click.option(
    "-o",
    "--output",
    default="",
    metavar="FORMAT",
    callback=getcli.get_output,
    shell_complete=complete_get_output,
    help="wide, name, json, yaml, jsonpath=TEMPLATE or custom-columns=HEADER:.path,...",
)
@click.option("-l", "--selector", metavar="SELECTOR", help="Label selector on VMIs/VMs, e.g. app=x,tier in (a,b).")
@click.option("--no-headers", is_flag=True, help="Print tables without the header line.")
@click.option("--sort-by", metavar="JSONPATH", help="Sort by a field of the -o json items, e.g. .metadata.name.")
@getcli.watch_options
def get(output: str, selector: str | None, no_headers: bool, sort_by: str | None, **kw: Any) -> None:
    """One line per VMI (or VM without one): phase, node, GPUs ready/total, devices, status, age.

    STATUS is the name of the first error finding (else warning) of `doctor`, or OK; a GPU is ready
    when its chain has no error and the domain has its hostdev. With -A a NAMESPACE column leads.
    """
    from .render import get as rget

    watch, watch_only = kw.pop("watch"), kw.pop("watch_only")
    sc = scope(kw)
    match = getcli.selector(selector)
    if watch or watch_only:
        getcli.watch(sc, "get", watch_only, match)
        return
    rep, idx = _analysed(sc, "Get")
    now = getcli.now() if not (sc.demo or sc.snapshots) else (rget.snapshot_time(idx) or getcli.now())
    rows = rget.rows(rep, now, match)
    if not rows and output not in ("json", "yaml"):
        where = f" in {sc.namespace or 'the'} namespace" if not sc.all_namespaces else ""
        click.echo(f"No resources found{where}.", err=True)
        return
    click.echo(getcli.get_text(rows, output, sc.all_namespaces, no_headers, sort_by, rep.origin), nl=False)


@main.command()
def version() -> None:
    """Print the plugin's version, the Python it runs on and the client library's version."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        client = dist_version("kubernetes")
    except PackageNotFoundError:
        client = "not installed"
    click.echo(
        f"kubectl-vmgpu {__version__}\npython {sys.version.split()[0]} ({sys.executable})\nkubernetes client {client}"
    )


main.add_command(completion_command)
