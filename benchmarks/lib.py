"""What the benchmarks share: the synthetic snapshots, timed child processes, the loopback API server."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

PY = sys.executable


# ---- the code under test ------------------------------------------------------------------------


@dataclass
class Variant:
    """One copy of kubectl_vmgpu to run: the working tree, or a patched copy of it."""

    label: str
    root: Path  # the folder holding kubectl_vmgpu/
    pycache: Path

    def env(self, **extra: str) -> dict[str, str]:
        """A child environment: this copy first on sys.path, bytecode cached as an installed package has it."""
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(PYTHONPATH=str(self.root), PYTHONPYCACHEPREFIX=str(self.pycache), NO_COLOR="1", **extra)
        return env

    def source(self, rel: str) -> str:
        return (self.root / "kubectl_vmgpu" / rel).read_text()

    def tool(self, *args: str) -> list[str]:
        return [PY, "-m", "kubectl_vmgpu", *args]


# ---- data ---------------------------------------------------------------------------------------


def _generator_hash() -> str:
    h = hashlib.sha256()
    for path in sorted((REPO / "tests" / "synth").glob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


@dataclass
class Fleet:
    """A written fleet snapshot: the folder (List JSON + cluster-info + evidence) and its List file."""

    path: Path
    vmis: int
    nodes: int
    objects: int
    evidence_files: int
    list_bytes: int
    seconds: float  # to generate (0 when reused from the cache)

    @property
    def list_file(self) -> Path:
        return self.path / "cluster-dump.json"


def fleet(data: Path, vmis: int, base_vmis: int = 100, base_nodes: int = 15) -> Fleet:
    """`vmis` VMIs: copies of `fleet_base(base_vmis, base_nodes)`, cached under `data` by generator hash."""
    from tests.synth.big import fleet_base
    from tests.synth.clone import write_clone

    if vmis % base_vmis:
        raise ValueError(f"{vmis} VMIs is not a multiple of the base's {base_vmis}")
    out = data / f"fleet-{vmis}"
    stamp = out / ".stamp.json"
    key = {"generator": _generator_hash(), "vmis": vmis, "base": [base_vmis, base_nodes]}
    if stamp.exists():
        info = json.loads(stamp.read_text())
        if info.get("key") == key:
            return Fleet(out, **info["fleet"], seconds=0.0)
    t0 = time.perf_counter()
    made = write_clone(fleet_base(base_vmis, base_nodes), vmis // base_vmis, out)
    f = Fleet(out, made.vmis, made.nodes, sum(made.objects.values()), made.evidence_files,
              made.list_file.stat().st_size if made.list_file else 0, time.perf_counter() - t0)
    stamp.write_text(json.dumps({"key": key, "fleet": {k: getattr(f, k) for k in
                                                       ("vmis", "nodes", "objects", "evidence_files", "list_bytes")}}))
    return f


def running(data: Path, vmis: int) -> Path:
    """`vmis` healthy running VMs (every launcher answers the four execs), as one List file + evidence."""
    from tests.synth.big import running_lab

    out = data / f"running-{vmis}"
    stamp = out / ".stamp"
    if stamp.exists() and stamp.read_text() == _generator_hash():
        return out
    running_lab(vmis).write(out, layout="list")
    stamp.write_text(_generator_hash())
    return out


# ---- timed child processes ------------------------------------------------------------------------


@dataclass
class Proc:
    wall: float  # seconds, from spawn to exit
    maxrss: int  # bytes, the child's peak resident set (at the kill when it timed out)
    code: int | None
    timed_out: bool = False
    started: float = 0.0  # perf_counter at spawn
    stderr: str = ""


def run(argv: list[str], env: dict[str, str] | None = None, timeout: float = 600.0) -> Proc:
    """Run a child with stdout to /dev/null; wall time and peak RSS from wait4 (also for a killed child)."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL,
                                 env=env, cwd=tempfile.gettempdir())
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            child.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    return Proc(wall, usage.ru_maxrss * 1024, None if killed.is_set() else child.returncode, killed.is_set(), t0,
                text[-2000:])


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# ---- the loopback API server ----------------------------------------------------------------------


def _shallow_at_version(obj: dict[str, Any], group: str, version: str) -> dict[str, Any]:
    out = dict(obj)
    out["apiVersion"] = f"{group}/{version}" if group else version
    return out


@dataclass
class Arrival:
    at: float  # perf_counter when the server read the request
    path: str
    exec_command: str | None
    query: dict[str, list[str]] = field(default_factory=dict)


@contextmanager
def api_server(snapshot: Path) -> Iterator[tuple[Any, list[Arrival]]]:
    """tests.kubeapi serving `snapshot`, with every request's arrival time recorded.

    Three changes that serve the same bytes sooner, so that the Python test server is less of the
    measurement: its per-request deep copy of every object of a resource (to rewrite `apiVersion`)
    becomes a shallow copy; its objects are moved out of reach of the cyclic GC (`gc.freeze`), whose
    full collections otherwise stall every request in flight for ~0.4 s at 2,000 VMIs; and its listen
    backlog grows from socketserver's 5 to 128, since 8 connections opened at once (the exec pool)
    overflowed it and the dropped SYN was retried a full second later.
    """
    from tests.kubeapi import KubeAPIServer
    from tests.kubeapi import server as kserver
    from tests.kubeapi import store as kstore

    kstore._at_version = _shallow_at_version  # type: ignore[attr-defined]
    kserver._HTTPServer.request_queue_size = 128
    srv = KubeAPIServer.from_snapshot(snapshot)
    gc.collect()
    gc.freeze()
    arrivals: list[Arrival] = []
    record = srv.record

    def timed(request: Any) -> None:
        arrivals.append(Arrival(time.perf_counter(), request.path,
                                request.command[0] if request.is_exec and request.command else None,
                                dict(request.query)))
        record(request)

    srv.record = timed
    with srv:
        yield srv, arrivals
    gc.unfreeze()


def waves(times: list[float], gap: float) -> int:
    """Groups of requests sent together: a new one starts after a silence longer than `gap`."""
    count, last = 0, None
    for t in sorted(times):
        if last is None or t - last > gap:
            count += 1
        last = t
    return count


# ---- kubectl and the machine ----------------------------------------------------------------------


def kubectl() -> str | None:
    """kubectl v1.35 as .ci/run installs it: $VMGPU_KUBECTL, /opt/kubectl-v1.35/kubectl, else on PATH."""
    for candidate in (os.environ.get("VMGPU_KUBECTL"), "/opt/kubectl-v1.35/kubectl"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("kubectl")


def _first(pattern: str, text: str) -> str | None:
    m = re.search(pattern, text, re.MULTILINE)
    return m.group(1).strip() if m else None


def machine() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem_kb = _first(r"^MemTotal:\s+(\d+)", meminfo)
    out = {
        "CPU": _first(r"^model name\s*:\s*(.+)$", cpuinfo) or platform.processor() or "?",
        "cores": str(os.cpu_count()),
        "memory": f"{int(mem_kb) / 1024 / 1024:.1f} GiB" if mem_kb else "?",
        "OS": platform.platform(),
        "Python": sys.version.split()[0] + f" ({sys.executable})",
    }
    try:
        from importlib.metadata import version

        out["kubernetes client"] = version("kubernetes")
    except Exception:
        out["kubernetes client"] = "not installed"
    k = kubectl()
    if k:
        proc = subprocess.run([k, "version", "--client"], capture_output=True, text=True)
        out["kubectl"] = (proc.stdout.strip() or proc.stderr.strip()).splitlines()[0] + f" ({k})"
    return out


def code_state() -> str:
    """The commit, and whether the tree is clean (read-only git; the report being written is not counted)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True).stdout.split("\n")
    except OSError:
        return "unknown (no git)"
    changed = sorted(line[3:] for line in dirty if line.strip() and line[3:] != "docs/performance.md")
    if not changed:
        return f"commit {head or '?'}, clean tree"
    return f"commit {head or '?'}, **dirty tree**: uncommitted changes to {', '.join(changed)}"
