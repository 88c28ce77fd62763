"""The wiring module: kubectl-style flags -> source -> chains -> checks -> rendered output, exit code."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

from . import __version__
from .completion import (
    complete_checks,
    complete_contexts,
    complete_files,
    complete_namespaces,
    complete_vmi_names,
    completion_command,
)
from .model import Scope

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_SOURCE = 0, 1, 2, 3
OUTPUTS = ("text", "json", "yaml")


def fail(message: str, code: int = EXIT_SOURCE) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _timeout(value: str | None) -> float | None:
    """kubectl's --request-timeout: `0` (none), `30`, `30s`, `2m`, `1h`."""
    if value in (None, "", "0"):
        return None
    text = str(value)
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for suffix in ("ms", "s", "m", "h"):
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(text[: -len(suffix)]) * units[suffix]
    if text.replace(".", "", 1).isdigit():
        return float(text)
    raise click.BadParameter(f"invalid duration {value!r} (e.g. 30s, 2m)", param_hint="--request-timeout")


def source_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The flags every command shares, named as kubectl names them."""
    return _source_options(fn, scoped=True)


def _source_options(fn: Callable[..., Any], scoped: bool) -> Callable[..., Any]:
    options = [
        click.argument("name", required=False, shell_complete=complete_vmi_names),
        click.option(
            "-n",
            "--namespace",
            shell_complete=complete_namespaces,
            help="Namespace of the VMIs (default: the context's; all in a snapshot).",
        ),
        click.option("-A", "--all-namespaces", is_flag=True, help="Look at VMIs in every namespace."),
        click.option(
            "--snapshot",
            "snapshots",
            multiple=True,
            metavar="PATH",
            shell_complete=complete_files,
            help="Read a file, directory, must-gather tree or .tar.gz instead of a cluster (repeatable).",
        ),
        click.option("--demo", is_flag=True, help="Use the bundled demo snapshot."),
        click.option(
            "--kubeconfig",
            metavar="FILE",
            shell_complete=complete_files,
            help="Path to the kubeconfig file (default: $KUBECONFIG, ~/.kube/config).",
        ),
        click.option(
            "--context",
            "kube_context",
            metavar="NAME",
            shell_complete=complete_contexts,
            help="The kubeconfig context to use.",
        ),
        click.option(
            "--request-timeout",
            default="30s",
            show_default=True,
            metavar="DURATION",
            help="Timeout of each API request, e.g. 10s, 1m; 0 waits forever.",
        ),
        click.option(
            "--no-exec",
            is_flag=True,
            help="Do not exec into virt-launcher pods (launcher checks report as not checked).",
        ),
    ]
    if not scoped:
        options = options[3:-1]  # no NAME, -n, -A or --no-exec: devices are cluster-wide
    for option in reversed(options):
        fn = option(fn)
    return fn


def _scope(kw: dict[str, Any]) -> Scope:
    if kw.get("namespace") and kw.get("all_namespaces"):
        raise click.UsageError("--namespace and --all-namespaces cannot be used together")
    if kw["demo"] and kw["snapshots"]:
        raise click.UsageError("--demo and --snapshot cannot be used together")
    return Scope(
        name=kw.get("name"),
        namespace=kw.get("namespace"),
        all_namespaces=kw.get("all_namespaces", True),
        snapshots=tuple(kw["snapshots"]),
        demo=kw["demo"],
        kubeconfig=kw["kubeconfig"],
        context=kw["kube_context"],
        request_timeout=_timeout(kw["request_timeout"]),
        no_exec=kw["no_exec"],
    )


def _load(scope: Scope) -> tuple[Any, str | None]:
    """The inventory and the namespace to filter on (None = all); the source's notes go to stderr."""
    inv, namespace = _read(scope)
    for note in inv.notes:
        click.echo(f"note: {note}", err=True)
    return inv, namespace


def _read(scope: Scope) -> tuple[Any, str | None]:
    import gc

    from .sources.errors import SourceError

    # One short run building millions of acyclic objects: the cyclic collector would walk them again and
    # again (super-linear in the snapshot size) and free nothing.
    gc.disable()

    try:
        if scope.demo:
            from importlib.resources import files

            from .sources import snapshot

            return snapshot.load_traversable(files("kubectl_vmgpu") / "demo", "demo"), scope.namespace
        if scope.snapshots:
            from .sources import snapshot

            return snapshot.load(list(scope.snapshots)), scope.namespace
        from .sources import cluster

        return cluster.load(scope)
    except SourceError as exc:
        fail(str(exc))


def _analyse(scope: Scope, ignore: tuple[str, ...] = (), explain_all: bool = False) -> tuple[Any, Any, Any, Any]:
    from . import allocation, chain, checks
    from .index import Index

    inv, namespace = _load(scope)
    ns = None if scope.all_namespaces else namespace
    idx = Index(inv)
    views = chain.link(idx, ns, scope.name)
    if scope.name and not views:
        exists = any(k[1] == scope.name and (ns is None or k[0] == ns) for k in list(idx.vmis) + list(idx.vms))
        where = f" in namespace {ns!r}" if ns else ""
        if exists:
            click.echo(f"{scope.name}{where} has no DRA GPUs or host devices", err=True)
        else:
            fail(f"no VMI or VM named {scope.name!r}{where} (try -A)", EXIT_USAGE)
    keys = frozenset(k.lower() for k in ignore)
    explanations = allocation.explain_views(idx, views, explain_all)
    report = checks.run(checks.Context(idx=idx, exec_disabled=scope.no_exec, explanations=explanations), views, keys)
    return inv, views, (report, explanations), idx


def _emit(kind: str, scope: Scope, output: str, ignore: tuple[str, ...] = (), explain_all: bool = False) -> Any:
    from . import render

    inv, views, (report, explanations), idx = _analyse(scope, ignore, explain_all)
    version = ".".join(map(str, idx.kubevirt_version)) if idx.kubevirt_version else None
    data = render.report_dict(kind, inv.origin, report, views, f"v{version}" if version else None, explanations)
    if output == "json":
        text = render.to_json(data)
    elif output == "yaml":
        text = render.to_yaml(data)
    else:
        style = render.Style(sys.stdout.isatty() and "NO_COLOR" not in os.environ)
        text = (render.describe_text if kind == "Describe" else render.doctor_text)(data, style)
    click.echo(text, nl=False)
    return data


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
def describe(output: str, explain_allocation: bool, **kw: Any) -> None:
    """Show the whole chain of each DRA GPU of a VMI (or VM), with findings inline.

    NAME is a VMI or VM name; without it, every VMI in scope. For a claim that is not allocated,
    the allocation is explained device by device: what the driver publishes on each node, which
    devices the class and the request's selectors match, which are held and by whom.
    """
    _emit("Describe", _scope(kw), output, explain_all=explain_allocation)


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
    data = _emit("Doctor", _scope(kw), output, ignore)
    severities = [f["severity"] for f in data["findings"]]
    severities += [f["severity"] for v in data["vmis"] for f in v["findings"]]
    severities += [f["severity"] for v in data["vmis"] for g in v["gpus"] for f in g["findings"]]
    from .model import Severity

    if any(Severity.parse(s) >= fail_on for s in severities):
        sys.exit(EXIT_FINDINGS)


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

    scope = _scope(kw)
    inv, _namespace = _load(scope)
    try:
        count = bundle.write(inv, path, redact=not no_redact)
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")
    objects = sum(len(v) for v in inv.objects.values())
    click.echo(f"wrote {path}: {count} files, {objects} objects, launcher evidence of {len(inv.evidence)} pods")


@main.command()
@(lambda fn: _source_options(fn, scoped=False))
@click.option("--node", metavar="NODE", help="Only this node's devices.")
@click.option("-o", "--output", type=click.Choice(OUTPUTS), default="text", show_default=True, help="Output format.")
def devices(node: str | None, output: str, **kw: Any) -> None:
    """List the fleet's DRA devices and their state: where can a GPU VM start right now?

    One row per device of every current ResourceSlice: node, device, type, pciBusID, product,
    and state (free, allocated and to whom, sibling in use, tainted), then a summary per node.
    """
    from . import allocation, render
    from .index import Index

    scope = _scope({**kw, "no_exec": True})
    inv, _namespace = _load(scope)
    rows = allocation.fleet(Index(inv), node)
    data = render.devices_dict(inv.origin, rows)
    if output == "json":
        text = render.to_json(data)
    elif output == "yaml":
        text = render.to_yaml(data)
    else:
        text = render.devices_text(data)
    click.echo(text, nl=False)


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
