"""The kubectl-style flags every command shares, and the Scope they make; used by cli and completion.

The global flags (source, kubeconfig, connection and auth) are accepted both before and after the
subcommand, as kubectl's plugin users type them: `kubectl vmgpu -n ml-team doctor` and
`kubectl vmgpu doctor -n ml-team`. The group and each command declare the same options; a value
given after the subcommand wins, repeatable ones (--snapshot, --as-group) add up, as one pflag set.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar

import click

from .completion import complete_contexts, complete_files, complete_namespaces, complete_vmi_names
from .model import Connection, Scope

OUTPUTS = ("text", "json", "yaml")
DEFAULT_TIMEOUT = "30s"
EXIT_USAGE = 2


class OneLineUsageError(click.ClickException):
    """A usage error told in one line on stderr (exit 2), without click's usage block."""

    exit_code = EXIT_USAGE

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


# --- Go durations ------------------------------------------------------------------------------

# Go's time.ParseDuration units (src/time/format.go: unitMap), micro sign and Greek mu both
_UNITS: dict[str, float] = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0
}
_PART = r"(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h)"
_DURATION = re.compile(rf"([-+]?)((?:{_PART})+)")
_ONE = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def duration(text: str) -> float:
    """Seconds of a kubectl --request-timeout: a bare integer (seconds) or a Go duration (`1m30s`, `500ms`).

    kubectl's clientcmd.ParseTimeout (tools/clientcmd/helpers.go) tries strconv.ParseInt, then
    time.ParseDuration; a negative value is refused here (it would mean no deadline at all).
    """
    value = text.strip()
    if value.isdigit():
        return float(int(value))
    if value in ("0", "+0", "-0"):
        return 0.0
    match = _DURATION.fullmatch(value)
    if match is None:
        raise ValueError(f"invalid duration {text!r} (e.g. 30, 30s, 1m30s, 500ms, 1h2m3.5s; 0 waits forever)")
    if match.group(1) == "-":
        raise ValueError(f"invalid duration {text!r}: a timeout cannot be negative")
    return sum(float(number) * _UNITS[unit] for number, unit in _ONE.findall(match.group(2)))


class GoDuration(click.ParamType):  # type: ignore[type-arg]  # generic (value, input) in click 8.5
    """--request-timeout's type: the text kept (its default is applied in `scope`), checked at parse time."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            duration(str(value))
        except ValueError as exc:
            raise OneLineUsageError(f"--request-timeout: {exc}") from None
        return str(value)


def timeout(value: str | None) -> float | None:
    """Seconds of --request-timeout (default 30s); None for `0`: no deadline."""
    seconds = duration(value if value is not None else DEFAULT_TIMEOUT)
    return seconds or None


# --- the options -------------------------------------------------------------------------------


def _source_flags() -> list[Callable[[Any], Any]]:
    """Where to read from (snapshot, demo, kubeconfig, context) and how long to wait."""
    return [
        click.option(
            "--snapshot",
            "snapshots",
            multiple=True,
            metavar="PATH",
            shell_complete=complete_files,
            help="Read a file, directory, must-gather tree or .tar.gz instead of a cluster (repeatable).",
        ),
        click.option("--demo", is_flag=True, default=None, help="Use the bundled demo snapshot."),
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
            type=GoDuration(),
            metavar="DURATION",
            help=f"Timeout of each API request: seconds or a Go duration (1m30s, 500ms); 0 waits forever. "
            f"[default: {DEFAULT_TIMEOUT}]",
        ),
    ]


def _connection_flags() -> list[Callable[[Any], Any]]:
    """kubectl's connection and auth flags (client-go tools/clientcmd/overrides.go), same names and help."""
    return [
        click.option("--cluster", metavar="NAME", help="The name of the kubeconfig cluster to use."),
        click.option("--user", metavar="NAME", help="The name of the kubeconfig user to use."),
        click.option("-s", "--server", metavar="URL", help="The address and port of the Kubernetes API server."),
        click.option("--token", metavar="TOKEN", help="Bearer token for authentication to the API server."),
        click.option(
            "--certificate-authority",
            metavar="FILE",
            shell_complete=complete_files,
            help="Path to a cert file for the certificate authority.",
        ),
        click.option(
            "--insecure-skip-tls-verify",
            is_flag=True,
            default=None,
            help="Do not check the server's certificate (insecure HTTPS).",
        ),
        click.option("--as", "impersonate", metavar="USER", help="Username to impersonate for the operation."),
        click.option("--as-uid", "impersonate_uid", metavar="UID", help="UID to impersonate for the operation."),
        click.option(
            "--as-group",
            "impersonate_groups",
            multiple=True,
            metavar="GROUP",
            help="Group to impersonate for the operation (repeatable).",
        ),
    ]


def _scope_flags() -> list[Callable[[Any], Any]]:
    return [
        click.option(
            "-n",
            "--namespace",
            shell_complete=complete_namespaces,
            help="Namespace of the VMIs (default: the context's; all in a snapshot).",
        ),
        click.option("-A", "--all-namespaces", is_flag=True, default=None, help="Look at VMIs in every namespace."),
    ]


def _exec_flag() -> Callable[[Any], Any]:
    return click.option(
        "--no-exec",
        is_flag=True,
        default=None,
        help="Do not exec into virt-launcher pods (launcher checks report as not checked).",
    )


def _apply(fn: Callable[..., Any], options: list[Callable[[Any], Any]]) -> Callable[..., Any]:
    for option in reversed(options):
        fn = option(fn)
    return fn


def global_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Every shared flag, on the group: given before the subcommand."""
    return _apply(fn, [*_scope_flags(), *_source_flags(), _exec_flag(), *_connection_flags()])


def source_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """NAME and the shared flags of commands that look at VMIs, named as kubectl names them."""
    name = click.argument("name", required=False, shell_complete=complete_vmi_names)
    return _apply(fn, [name, *_scope_flags(), *_source_flags(), _exec_flag(), *_connection_flags()])


def unscoped_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The source flags of cluster-wide commands (no NAME, -n, -A or --no-exec)."""
    return _apply(fn, [*_source_flags(), *_connection_flags()])


# --- the values --------------------------------------------------------------------------------


class Flags:
    """The shared flags' values: those after the subcommand over those before it."""

    REPEATED: ClassVar[tuple[str, ...]] = ("snapshots", "impersonate_groups")

    @classmethod
    def merged(cls, kw: dict[str, Any], ctx: click.Context | None = None) -> dict[str, Any]:
        """`kw` (the command's parameters) completed by every parent's: unset (None, empty) values inherit."""
        ctx = ctx if ctx is not None else click.get_current_context(silent=True)
        out = dict(kw)
        parent = ctx.parent if ctx is not None else None
        while parent is not None:
            for key, value in parent.params.items():
                if key in cls.REPEATED:
                    out[key] = tuple(value or ()) + tuple(out.get(key) or ())
                elif out.get(key) is None:
                    out[key] = value
            parent = parent.parent
        return out


def connection(kw: dict[str, Any]) -> Connection:
    """The connection and auth flags of merged parameters."""
    return Connection(
        cluster=kw.get("cluster") or None,
        user=kw.get("user") or None,
        server=kw.get("server") or None,
        token=kw.get("token") or None,
        certificate_authority=kw.get("certificate_authority") or None,
        insecure_skip_tls_verify=bool(kw.get("insecure_skip_tls_verify")),
        impersonate=kw.get("impersonate") or None,
        impersonate_uid=kw.get("impersonate_uid") or None,
        impersonate_groups=tuple(kw.get("impersonate_groups") or ()),
    )


def scope(kw: dict[str, Any], scoped: bool = True) -> Scope:
    """The Scope of a command's parameters, with the flags given before the subcommand.

    Not `scoped` (cluster-wide commands): -n, -A and --no-exec given before the subcommand are
    ignored, as kubectl ignores -n for cluster-scoped resources.
    """
    kw = Flags.merged(kw)
    if not scoped:
        kw.update(namespace=None, all_namespaces=True, no_exec=True)
    if kw.get("namespace") and kw.get("all_namespaces"):
        raise click.UsageError("--namespace and --all-namespaces cannot be used together")
    if kw.get("demo") and kw.get("snapshots"):
        raise click.UsageError("--demo and --snapshot cannot be used together")
    return Scope(
        name=kw.get("name"),
        namespace=kw.get("namespace"),
        all_namespaces=bool(kw.get("all_namespaces")),
        snapshots=tuple(kw.get("snapshots") or ()),
        demo=bool(kw.get("demo")),
        kubeconfig=kw.get("kubeconfig"),
        context=kw.get("kube_context"),
        request_timeout=timeout(kw.get("request_timeout")),
        no_exec=bool(kw.get("no_exec")),
        connection=connection(kw),
    )
