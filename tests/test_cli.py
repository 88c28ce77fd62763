"""The command line itself: help, usage errors, exit codes, colour, and what start-up imports."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kubectl_vmgpu.checks import CHECKS
from kubectl_vmgpu.checks.docs import markdown
from tests.helpers import REPO, cli, exe


def _imports(*args: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "kubectl_vmgpu", *args], cwd=REPO, capture_output=True, text=True
    )
    return {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.parametrize(
    "args",
    [("--help",), ("doctor", "--help"), ("version",), ("describe", "--demo"), ("doctor", "--demo", "-o", "json")],
)
def test_help_version_and_snapshots_never_import_the_client(args: tuple[str, ...]) -> None:
    modules = _imports(*args)
    assert "kubectl_vmgpu.cli" in modules
    assert not {m for m in modules if m == "kubernetes" or m.startswith("kubernetes.")}


def test_usage_errors_exit_2() -> None:
    assert exe("doctor", "--fail-on", "fatal").code == 2
    assert exe("doctor", "-n", "a", "-A", "--demo").code == 2
    assert exe("doctor", "--ignore", "no-such-check", "--demo").code == 2
    run = exe("describe", "nope", "-n", "gpu-lab", "--demo")
    assert run.code == 2 and "no VMI or VM named 'nope'" in run.err and "Traceback" not in run.err


def test_list_and_explain_checks() -> None:
    run = cli("doctor", "--list-checks")
    assert run.code == 0
    assert all(c.id in run.out and c.name in run.out for c in CHECKS)
    run = cli("doctor", "--explain", "pci-mismatch")
    assert run.code == 0 and run.out.startswith("VG503 pci-mismatch (error")
    assert cli("doctor", "--explain", "vg503").out == run.out


def test_check_docs_are_generated_from_the_registry() -> None:
    assert (REPO / "docs" / "checks.md").read_text() == markdown(), (
        "docs/checks.md is stale: python -m kubectl_vmgpu.checks.docs > docs/checks.md"
    )


def test_colour_only_on_a_tty_and_never_with_no_color() -> None:
    assert "\033[" not in cli("describe", "--demo").out  # captured output is not a TTY
    script = (
        "import pty, os, sys; os.environ['NO_COLOR'] = sys.argv[1]; "
        "pty.spawn([sys.executable, '-m', 'kubectl_vmgpu', 'describe', '--demo'])"
    )
    colored = subprocess.run(
        [
            sys.executable,
            "-c",
            script.replace("os.environ['NO_COLOR'] = sys.argv[1]; ", ""),
        ],
        cwd=REPO,
        capture_output=True,
    )
    plain = subprocess.run([sys.executable, "-c", script, "1"], cwd=REPO, capture_output=True)
    assert b"\033[31m" in colored.stdout
    assert b"\033[" not in plain.stdout


def test_version_command_and_flag() -> None:
    run = cli("version")
    assert run.code == 0 and run.out.startswith("kubectl-vmgpu ") and "python " in run.out
    assert "kubernetes client" in run.out
    assert cli("--version").out.startswith("kubectl-vmgpu ")
