"""The wiring module: kubectl-style flags -> source -> chains -> checks -> rendered output, exit code."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from . import __version__, getcli
from .completion import complete_checks, complete_files, completion_command
from .options import OUTPUTS, OneLineUsageError, global_options, scope, source_options, unscoped_options
from .render.complete import complete_get_output

if TYPE_CHECKING:
    pass


from . import pipeline
from .pipeline import EXIT_OK, EXIT_USAGE, fail


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
    pipeline._emit("Describe", scope(kw), output, explain_all=explain_allocation)


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
    code = pipeline._emit("Doctor", scope(kw), output, ignore).exit_code(fail_on)
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
    inv, _idx, _views, _ns = pipeline._link(scope(kw))
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

    inv, _namespace, reader = pipeline._load(scope(kw, scoped=False))
    pipeline._notes(inv)
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

    STATUS is the check name of the first cause (error, else warning) of `doctor`, or OK; a GPU is ready
    when its chain has no error and the domain has its hostdev. With -A a NAMESPACE column leads.
    """
    from .render import get as rget

    watch, watch_only = kw.pop("watch"), kw.pop("watch_only")
    sc = scope(kw)
    match = getcli.selector(selector)
    if watch or watch_only:
        getcli.watch(sc, "get", watch_only, match)
        return
    rep, idx = pipeline._analysed(sc, "Get")
    now = getcli.now() if not (sc.demo or sc.snapshots) else (rget.snapshot_time(idx) or getcli.now())
    rows = rget.rows(rep, now, match)
    if not rows and output not in ("json", "yaml"):
        where = f" in {sc.namespace or 'the'} namespace" if not sc.all_namespaces else ""
        click.echo(f"No resources found{where}.", err=True)
        return
    click.echo(getcli.get_text(rows, output, sc.all_namespaces, no_headers, sort_by, rep.origin), nl=False)


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
