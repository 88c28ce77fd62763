"""Shared test helpers: the repository paths, running the real CLI, finding Debian's kubectl."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from kubectl_vmgpu.cli import main

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = REPO / "tests" / "scenarios"
IN_CI = os.environ.get("CI") == "true"


@dataclass
class Run:
    code: int
    out: str
    err: str


def cli(*args: str, env: dict[str, str] | None = None) -> Run:
    """The click command in-process (fast), run from the repository root."""
    runner = CliRunner()
    old = os.getcwd()
    os.chdir(REPO)
    try:
        result = runner.invoke(main, list(args), env=env, catch_exceptions=False)
    finally:
        os.chdir(old)
    return Run(result.exit_code, result.stdout, result.stderr)


def exe(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Run:
    """The real executable path: `python -m kubectl_vmgpu` in a child process."""
    proc = subprocess.run(
        [sys.executable, "-m", "kubectl_vmgpu", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def scenario_dirs() -> list[Path]:
    return sorted(p.parent for p in SCENARIOS.glob("*/scenario.yaml"))


def kubectl_path() -> str:
    """Debian's kubectl (package kubernetes-client); CI must have it, elsewhere its absence skips."""
    for candidate in (os.environ.get("VMGPU_KUBECTL"), "/opt/kubernetes-client/usr/bin/kubectl"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("kubectl")
    if found and b"GitVersion" in subprocess.run([found, "version", "--client"], capture_output=True).stdout:
        return found
    if IN_CI:
        pytest.fail("Debian's kubectl (kubernetes-client) is required when CI=true; .ci/run installs it")
    pytest.skip("Debian's kubectl (kubernetes-client) is not installed")
