"""The wiring module: kubectl-style flags -> source -> chains -> checks -> rendered output, exit code."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

import click

from . import __version__
from .completion import complete_checks, complete_files, completion_command
from .model import Scope
from .options import OUTPUTS, OneLineUsageError, global_options, scope, source_options, unscoped_options

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
    return report.assemble(kind, inv.origin, views, found.cluster, found.by_vmi, found.silenced, explanations, version)


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


@click.group(
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "--version", message="kubectl-vmgpu %(version)s")
@global_options
@click.pass_context
def main(ctx: click.Context, /, **_flags: Any) -> None:
    """Walk and check the GPU chain of KubeVirt VMs that get GPUs through Kubernetes DRA.

    \b
    VMI -> ResourceClaim (or template) -> allocation -> ResourceSlice device
        -> virt-launcher pod: DRA metadata file, /dev/vfio, libvirt domain XML

    Reads the cluster of your kubeconfig, or an offline snapshot (--snapshot, --demo).
    The options below go before or after the command (`kubectl vmgpu -n NS doctor` or
    `kubectl vmgpu doctor -n NS`); after it, they win.

    \b
    Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage error,
                3 cluster or snapshot could not be read.
    """
    if ctx.invoked_subcommand is None and not ctx.resilient_parsing:
        click.echo(ctx.get_help())  # `kubectl vmgpu` alone: the help, exit 0, as kubectl itself does


@main.command()
@source_options
@click.option("-o", "--output", type=click.Choice(OUTPUTS), default="text", show_default=True, help="Output format.")
@click.option(
    "--explain-allocation",
    is_flag=True,
    help="Explain the allocation device by device for allocated claims too (always for pending ones).",
)
def describe(output: str, explain_allocation: bool, **kw: Any) -> None:
    """Show the whole chain of each DRA GPU of a VMI (or VM), with findings inline.

    NAME is a VMI or VM name; without it, every VMI in scope. For a claim that is not allocated,
    the allocation is explained device by device: what the driver publishes on each node, which
    devices the class and the request's selectors match, which are held and by whom.
    """
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


ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")


def _bundle_path(name: str | None, path: str | None, filename: str | None, old: str | None) -> tuple[str | None, str]:
    """(NAME, PATH) of `collect [NAME] [PATH] [-f PATH]`; the old `-o PATH` still works, with a note.

    A single argument ending in .tar.gz or .tgz, or holding a `/`, is the PATH (a VMI name never has
    a `/`); `-o json|yaml|text` is a format everywhere, so it is never taken for a path here.
    """
    if path is None and name is not None and (name.endswith(ARCHIVE_SUFFIXES) or "/" in name):
        name, path = None, name
    if old is not None:
        if old in OUTPUTS:
            raise OneLineUsageError(f"collect writes a .tar.gz bundle, not {old}: give its path with -f PATH")
        click.echo("note: `collect -o PATH` is deprecated: use `collect -f PATH` or `collect PATH`", err=True)
    given = [p for p in (path, filename, old) if p is not None]
    if not given:
        raise OneLineUsageError("collect needs the bundle's path: -f PATH (or a positional PATH.tar.gz)")
    if len(given) > 1:
        raise OneLineUsageError("collect takes one bundle path: -f PATH or a positional PATH, not both")
    return name, given[0]


@main.command()
@source_options
@click.argument("path", required=False, metavar="[PATH]", shell_complete=complete_files)
@click.option(
    "-f",
    "--filename",
    metavar="PATH",
    shell_complete=complete_files,
    help="Where to write the bundle (a .tar.gz); or give PATH as an argument.",
)
@click.option(
    "-o", "--output", "old_output", metavar="PATH", hidden=True, shell_complete=complete_files, help="Deprecated: -f."
)
@click.option("--no-redact", is_flag=True, help="Keep env values and secret-like annotations in the bundle.")
def collect(path: str | None, filename: str | None, old_output: str | None, no_redact: bool, **kw: Any) -> None:
    """Save everything the chains of the VMIs in scope need into a .tar.gz bundle (mode 0600).

    \b
    kubectl vmgpu collect -f bundle.tar.gz              # every VMI in the namespace
    kubectl vmgpu collect my-vm bundle.tar.gz -n ml     # one VMI (a single argument
                                                        # ending in .tar.gz is the PATH)

    Objects (without managedFields), warning events and launcher evidence (metadata files,
    /dev/vfio listing, domain XML); `--snapshot FILE.tar.gz` later gives the same report.
    Env values, last-applied and secret-like annotations are redacted unless --no-redact.
    """
    from . import bundle

    kw["name"], path = _bundle_path(kw.get("name"), path, filename, old_output)
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

    inv, _namespace, reader = _load(scope(kw, scoped=False))
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
@click.option("-o", "--output", type=click.Choice(OUTPUTS), default="text", show_default=True, help="Output format.")
def version(output: str) -> None:
    """Print the plugin's version, the Python it runs on and the client library's version.

    Offline: the cluster is never asked (`kubectl version` tells the server's).
    """
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        client: str | None = dist_version("kubernetes")
    except PackageNotFoundError:
        client = None
    if output == "text":
        click.echo(
            f"kubectl-vmgpu {__version__}\npython {sys.version.split()[0]} ({sys.executable})\n"
            f"kubernetes client {client or 'not installed'}"
        )
        return
    from .render import json as rjson

    data = {
        "plugin": {"name": "kubectl-vmgpu", "version": __version__},
        "python": {
            "version": sys.version.split()[0],
            "implementation": sys.implementation.name,
            "executable": sys.executable,
        },
        "client": {"name": "kubernetes", "version": client},
    }
    click.echo(rjson.to_json(data) if output == "json" else rjson.to_yaml(data), nl=False)


@main.command("help")
@click.argument("command", nargs=-1, metavar="[COMMAND]...")
@click.pass_context
def help_command(ctx: click.Context, command: tuple[str, ...]) -> None:
    """Print the help of a command (`help collect`, `help completion install`), or of the plugin."""
    parent = ctx.find_root()
    group: click.Command = parent.command
    for word in command:
        sub = group.get_command(parent, word) if isinstance(group, click.Group) else None
        if sub is None:
            raise OneLineUsageError(f"no command {word!r} (see `kubectl vmgpu --help`)")
        parent = click.Context(sub, info_name=word, parent=parent)
        group = sub
    click.echo(parent.get_help())


main.add_command(completion_command)
