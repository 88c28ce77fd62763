"""Shared test helpers: the repository paths, running the real CLI, finding a current kubectl."""

from __future__ import annotations

import functools
import json
import os
import re
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


# The oldest kubectl the kubectl tests accept: Table watch events, `auth can-i` against
# SelfSubjectAccessReview v1, WebSocket exec (1.30+) and plugin completion all behave as today's.
KUBECTL_MIN = (1, 34)


def kubectl_version(path: str) -> tuple[int, int] | None:
    """(major, minor) of `path`'s client, from `kubectl version --client -o json` (clientVersion
    has major/minor/gitVersion since 1.0), or from the text form `Client Version: v1.35.2` that
    1.28+ prints (older clients printed a Go struct with `GitVersion:"v1.20.2"`)."""
    try:
        proc = subprocess.run([path, "version", "--client", "-o", "json"], capture_output=True, text=True,
                              timeout=30)
        client = json.loads(proc.stdout).get("clientVersion") or {}
        text = str(client.get("gitVersion") or "")
    except (OSError, subprocess.SubprocessError, ValueError, AttributeError):
        try:
            text = subprocess.run([path, "version", "--client"], capture_output=True, text=True,
                                  timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            return None
    m = re.search(r"v?(\d+)\.(\d+)\.\d+", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


@functools.cache
def _find_kubectl() -> tuple[str | None, str]:
    """(path, why not) of the first kubectl >= KUBECTL_MIN: $VMGPU_KUBECTL, then PATH."""
    wanted = ".".join(map(str, KUBECTL_MIN))
    configured = os.environ.get("VMGPU_KUBECTL")
    candidates = [configured] if configured else []
    candidates.append(shutil.which("kubectl"))
    seen: list[str] = []
    for candidate in candidates:
        if not candidate or not os.access(candidate, os.X_OK):
            if candidate == configured and candidate:
                seen.append(f"VMGPU_KUBECTL={candidate} is not an executable")
            continue
        version = kubectl_version(candidate)
        if version is not None and version >= KUBECTL_MIN:
            return candidate, ""
        found = "an unreadable version" if version is None else f"v{version[0]}.{version[1]}"
        seen.append(f"{candidate} is {found}")
    return None, f"kubectl >= {wanted} not found ({'; '.join(seen) or 'none on PATH, VMGPU_KUBECTL unset'})"


def kubectl_path() -> str:
    """A kubectl >= KUBECTL_MIN; with CI=true its absence fails the test (.ci/run installs one),
    elsewhere it skips."""
    path, why = _find_kubectl()
    if path:
        return path
    if IN_CI:
        pytest.fail(f"{why}: CI=true requires it (.ci/run installs one and sets VMGPU_KUBECTL)")
    pytest.skip(why)
