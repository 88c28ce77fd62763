"""The executable's entry point: the CLI, with Ctrl-C, a closed pipe and odd terminals handled quietly."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from . import completion

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C
EXIT_BROKEN_PIPE = 0  # the reader stopped reading (`| head`): nothing went wrong here


def _broken_pipe(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _quiet_exit(code: int, flush: bool = False) -> None:
    """Leave now: no flush of a closed pipe at exit, no wait for request threads still in flight."""
    for stream in (sys.stdout, sys.stderr) if flush else (sys.stderr,):
        with contextlib.suppress(Exception):
            stream.flush()
    with contextlib.suppress(Exception):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    os._exit(code)


def run(args: list[str] | None = None, prog_name: str = "kubectl-vmgpu", **extra: Any) -> int:
    """Run the CLI and return its exit code; Ctrl-C and a closed stdout end it quietly.

    `extra` goes to click (e.g. `complete_var` for the single-file build's shell completion).
    """
    import click

    from .cli import main as cli

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            # Output goes to terminals of any locale; names from the cluster may hold anything.
            stream.reconfigure(errors="replace")  # type: ignore[union-attr]
    code: Any = 0
    try:
        code = cli.main(args=args, prog_name=prog_name, standalone_mode=False, **extra)
        sys.stdout.flush()
    except (KeyboardInterrupt, click.exceptions.Abort):
        _quiet_exit(EXIT_INTERRUPTED, flush=True)
    except click.exceptions.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except SystemExit as exc:
        # click turns EPIPE into exit 1 with its own pacified streams (8.5 drops the exception context)
        if _broken_pipe(exc) or type(sys.stdout).__name__ == "_PacifyFlushWrapper":
            _quiet_exit(EXIT_BROKEN_PIPE)
        code = exc.code
    except BrokenPipeError:
        _quiet_exit(EXIT_BROKEN_PIPE)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_exit(EXIT_BROKEN_PIPE)
    if code is None or isinstance(code, bool) or not isinstance(code, (int, str)):
        return 0  # a command's own return value is not an exit code
    if isinstance(code, str):  # sys.exit("message"), as Python itself reports it
        print(code, file=sys.stderr)
        return 1
    return code


def main(prog_name: str = "kubectl-vmgpu", **extra: Any) -> None:
    """`kubectl-vmgpu`, `python -m kubectl_vmgpu` and the single-file build.

    Called as kubectl_complete-vmgpu (the link `completion install` makes), it is the completer.
    """
    if os.path.basename(sys.argv[0]) == completion.COMPLETE_EXE:
        sys.exit(complete_main(sys.argv[1:]))
    code = run(prog_name=prog_name, **extra)
    # What a report read and built is not freed object by object on the way out (pipeline.KEPT): the
    # streams are flushed, nothing else waits for the interpreter's exit (no temporary file, no thread).
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code & 0xFF)


if __name__ == "__main__":
    main()


def complete_main(argv: Sequence[str] | None = None) -> int:
    """`kubectl_complete-vmgpu WORD...`: print candidates, then `:<directive>`; always exit 0."""
    words = list(sys.argv[1:] if argv is None else argv)
    debug = bool(os.environ.get(completion.DEBUG_VAR))
    lines: list[str] = []
    directive = completion.DIRECTIVE_NO_FILE_COMP
    sink = sys.stderr if debug else io.StringIO()
    try:
        with contextlib.redirect_stderr(sink), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from .cli import main as cli

            lines, directive = completion.plugin_complete(words, cli)
    except (Exception, SystemExit) as exc:
        if debug:
            print(f"kubectl_complete-vmgpu: {type(exc).__name__}: {exc}", file=sys.stderr)
        lines, directive = [], completion.DIRECTIVE_NO_FILE_COMP
    sys.stdout.write("".join(f"{line}\n" for line in lines) + f":{directive}\n")
    sys.stdout.flush()
    return 0
