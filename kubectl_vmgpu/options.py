"""The kubectl-style flags every command shares, and the Scope they make; used by cli and completion."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from .completion import complete_contexts, complete_files, complete_namespaces, complete_vmi_names
from .model import Scope

OUTPUTS = ("text", "json", "yaml")


def timeout(value: str | None) -> float | None:
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


def unscoped_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The source flags of cluster-wide commands (no NAME, -n, -A or --no-exec)."""
    return _source_options(fn, scoped=False)


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


def scope(kw: dict[str, Any]) -> Scope:
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
        request_timeout=timeout(kw["request_timeout"]),
        no_exec=kw["no_exec"],
    )
