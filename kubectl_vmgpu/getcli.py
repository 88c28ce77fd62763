"""The `get` command's output forms and the `--watch` wiring of `get` and `describe` (kept out of cli.py)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

import click

from .model import Scope

if TYPE_CHECKING:
    from .report import Report

EXIT_USAGE, EXIT_SOURCE = 2, 3


def fail(message: str, code: int = EXIT_SOURCE) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def get_output(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    from .render import jsonpath

    kind, _, arg = value.partition("=")
    if value in ("", "wide", "name", "json", "yaml"):
        return value
    if kind not in ("jsonpath", "custom-columns") or not arg:
        raise click.BadParameter(
            f"unable to match a printer to {value!r} (wide, name, json, yaml, jsonpath=..., custom-columns=...)"
        )
    try:
        jsonpath.columns(arg) if kind == "custom-columns" else jsonpath.template(arg, {})
    except jsonpath.TemplateError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


def watch_options(fn: Any) -> Any:
    fn = click.option("--watch-only", is_flag=True, help="Print only the changes, not the state first.")(fn)
    return click.option(
        "-w",
        "--watch",
        is_flag=True,
        help="Live only: after the state, print a line per change of any link until the VM runs healthy or Ctrl-C.",
    )(fn)


def now() -> Any:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


def selector(text: str | None) -> Any:
    from . import selector as sel

    try:
        return sel.parse(text or "")
    except sel.SelectorError as exc:
        raise click.BadParameter(str(exc), param_hint="-l/--selector") from None


def get_text(rows: list[Any], output: str, all_ns: bool, no_headers: bool, sort_by: str | None, origin: str) -> str:
    from .render import get as rget
    from .render import json as rjson
    from .render import jsonpath

    try:
        if sort_by:
            key = jsonpath.sort_key(sort_by)
            rows = sorted(rows, key=lambda r: key(rjson.get_row(r)))
        data = rjson.get_list(origin, rows)
        kind, _, arg = output.partition("=")
        if output in ("json", "yaml"):
            return rjson.to_json(data) if output == "json" else rjson.to_yaml(data)
        if output == "name":
            return rget.names(rows)
        if kind == "jsonpath":
            return jsonpath.template(arg, data)  # no newline added, as kubectl
        if kind == "custom-columns":
            return jsonpath.custom_columns(jsonpath.columns(arg), data["items"], no_headers)
    except jsonpath.TemplateError as exc:
        fail(str(exc), EXIT_USAGE)
    return rget.text(rows, all_ns, output == "wide", no_headers)


def watch(sc: Scope, mode: str, watch_only: bool, match: Any) -> None:
    """--watch: live only; exit 0 once healthy, 130 at Ctrl-C."""
    from . import watch
    from .sources.errors import SourceError

    if sc.demo or sc.snapshots:
        fail("--watch needs a cluster: a snapshot does not change", EXIT_USAGE)

    def show(rep: Report) -> str:
        from datetime import datetime, timezone

        from .render import get as rget
        from .render import text as rtext

        if mode == "describe":
            return rtext.describe(rep, rtext.Style(sys.stdout.isatty() and "NO_COLOR" not in os.environ))
        return rget.text(rget.rows(rep, datetime.now(timezone.utc)), sc.all_namespaces, False, False)

    def echo(line: str) -> None:
        click.echo(line)
        sys.stdout.flush()

    try:
        code = watch.run(sc, show, echo, match, watch_only)
    except SourceError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code)
