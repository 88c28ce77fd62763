"""The live benchmarks: the loopback API server against kubectl, the critical path, the single file, exec."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import lib
from lib import PY, REPO, median, run
from shared import Bench, proc_dict

NAME, NAMESPACE = "vm-00001", "team-01"  # healthy and running in running_lab and in every copy of fleet_base


def listed_resources(arrivals: list[lib.Arrival]) -> list[str]:
    """The resources a run listed across namespaces, as kubectl names them (`resourceclaims.resource.k8s.io`)."""
    out: list[str] = []
    for a in arrivals:
        parts = a.path.split("?")[0].strip("/").split("/")
        name = parts[2] if parts[0] == "api" and len(parts) == 3 else (
            f"{parts[3]}.{parts[1]}" if parts[0] == "apis" and len(parts) == 4 else None)
        if name and name not in out:
            out.append(name)
    return out


def bench_live(b: Bench) -> None:
    """Live `doctor -A --no-exec` against kubectl fetching the same lists, on the same server, interleaved."""
    cfg, v = b.cfg, b.variant
    f = lib.fleet(b.data, cfg.live_size, cfg.base_vmis, cfg.base_nodes)
    kubectl = lib.kubectl()
    b.log(f"live: serving {cfg.live_size} VMIs; kubectl {kubectl}")
    with lib.api_server(f.path) as (srv, arrivals), tempfile.TemporaryDirectory() as tmp:
        kc = str(srv.write_kubeconfig(Path(tmp) / "kubeconfig"))
        tool = v.tool("doctor", "-A", "--no-exec", "-o", "json", "--kubeconfig", kc)
        arrivals.clear()
        run(tool, v.env(), cfg.timeout)  # warm-up, and the lists it makes
        lists = listed_resources(arrivals)
        runs: dict[str, list[dict[str, Any]]] = {}
        kargv = None
        if kubectl:
            kargv = [kubectl, "get", ",".join(lists), "-A", "-o", "json", "--kubeconfig", kc,
                     "--cache-dir", str(Path(tmp) / "kube-cache")]
            run(kargv, None, cfg.timeout)  # warm kubectl's discovery cache, as a user's is
        else:
            b.notes.append("kubectl not found ($VMGPU_KUBECTL, /opt/kubectl-v1.35/kubectl, PATH): the live ratio "
                           "to kubectl was not measured")
        for _ in range(cfg.reps):
            for label, argv, env in (("kubectl", kargv, None), ("doctor -A --no-exec", tool, v.env())):
                if argv is None:
                    continue
                arrivals.clear()
                p = run(argv, env, cfg.timeout)
                runs.setdefault(label, []).append({**proc_dict(p), "requests": len(arrivals)})
                b.log(f"  {label}: {p.wall:.2f}s, {len(arrivals)} requests, exit {p.code}")
        b.r["live"] = {"vmis": f.vmis, "lists": lists, "runs": runs}


def bench_critical(b: Bench) -> None:
    """`describe NAME` live: the requests it makes (its node by name), and its extra time under added latency."""
    from tests.kubeapi import Fault

    cfg, v = b.cfg, b.variant
    snap = lib.running(b.data, cfg.exec_vmis)
    runs: dict[str, list[dict[str, Any]]] = {}
    with lib.api_server(snap) as (srv, arrivals), tempfile.TemporaryDirectory() as tmp:
        kc = str(srv.write_kubeconfig(Path(tmp) / "kubeconfig"))
        argv = v.tool("describe", NAME, "-n", NAMESPACE, "-o", "json", "--kubeconfig", kc)
        for _ in range(cfg.crit_reps):
            for latency in (0.0, cfg.latency):
                srv.faults.clear()
                if latency:
                    srv.faults["*"] = Fault(latency=latency)
                arrivals.clear()
                p = run(argv, v.env(), cfg.timeout)
                times = [a.at for a in arrivals]
                first = min(times) - p.started if times else float("nan")
                runs.setdefault(str(latency), []).append({
                    **proc_dict(p), "first": first, "after_first": p.wall - first, "requests": len(arrivals),
                    "execs": sum(1 for a in arrivals if a.exec_command),
                    "waves": lib.waves(times, cfg.latency * 0.6) if latency else None,
                    "node_paths": sorted({a.path for a in arrivals if a.path.startswith("/api/v1/nodes")}),
                })
        srv.faults.clear()
    b.log(f"  critical: {[(k, median([r['wall'] for r in rs])) for k, rs in runs.items()]}")
    b.r["critical"] = {"vmi": f"{NAMESPACE}/{NAME}", "runs": runs}


def _clean_env(**extra: str) -> dict[str, str]:
    drop = ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "PYTHONPYCACHEPREFIX", "XDG_CACHE_HOME")
    env = {k: val for k, val in os.environ.items() if k not in drop}
    env.update(NO_COLOR="1", **extra)
    return env


def build_single_file(b: Bench) -> Path | None:
    out = b.data / "release"
    proc = subprocess.run([PY, str(REPO / "scripts" / "build_release.py"), "--out", str(out), "--wheels",
                           str(REPO / "build" / "wheels"), "--manifest", str(out / "vmgpu.yaml")],
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        b.notes.append(f"the single file could not be built: {proc.stderr.strip()[-300:]}")
        return None
    return out / "kubectl-vmgpu"


def bench_single(b: Bench) -> None:
    """The single file against the pip entry point: `describe NAME` live, cold and warm, with and without
    PYTHONDONTWRITEBYTECODE=1. Cold: an empty bytecode cache (PYTHONPYCACHEPREFIX for pip, XDG_CACHE_HOME
    for the single file); warm: one filled by an earlier run."""
    cfg = b.cfg
    entry = Path(PY).parent / "kubectl-vmgpu"
    zipapp = build_single_file(b)
    if not entry.exists() or zipapp is None:
        b.notes.append(f"single file vs pip not measured: {entry} or the build missing")
        return
    snap = lib.running(b.data, cfg.exec_vmis)
    warm = {"pip": b.data / "single" / "pip-warm", "single file": b.data / "single" / "zip-warm"}
    cache_var = {"pip": "PYTHONPYCACHEPREFIX", "single file": "XDG_CACHE_HOME"}
    runs: dict[str, list[float]] = {}
    with lib.api_server(snap) as (srv, _), tempfile.TemporaryDirectory() as tmp:
        kc = str(srv.write_kubeconfig(Path(tmp) / "kubeconfig"))
        args = ["describe", NAME, "-n", NAMESPACE, "-o", "json", "--kubeconfig", kc]
        argv = {"pip": [str(entry), *args], "single file": [PY, str(zipapp), *args]}
        for tool, path in warm.items():
            shutil.rmtree(path, ignore_errors=True)
            run(argv[tool], _clean_env(**{cache_var[tool]: str(path)}), cfg.timeout)
        for i in range(cfg.single_reps):
            for dwb in ("", "1"):
                for state in ("cold", "warm"):
                    for tool in ("pip", "single file"):
                        cache = warm[tool] if state == "warm" else Path(tmp) / f"cold-{tool}-{i}-{dwb}"
                        env = _clean_env(**{cache_var[tool]: str(cache)}, **({"PYTHONDONTWRITEBYTECODE": "1"}
                                                                              if dwb else {}))
                        p = run(argv[tool], env, cfg.timeout)
                        if p.code not in (0, 1):
                            b.notes.append(f"{tool} describe exited {p.code}: {p.stderr[-200:]}")
                        runs.setdefault(f"{tool}|{state}|{dwb}", []).append(p.wall)
    b.log(f"  single: {[(k, round(median(w), 3)) for k, w in runs.items()]}")
    b.r["single"] = {"vmi": f"{NAMESPACE}/{NAME}", "runs": runs}


def bench_exec(b: Bench) -> None:
    """`doctor -A` with exec against `--no-exec`, every exec delayed: the ideal is every exec slot busy."""
    import re

    cfg, v = b.cfg, b.variant
    snap = lib.running(b.data, cfg.exec_vmis)
    runs: dict[str, list[dict[str, Any]]] = {}
    with lib.api_server(snap) as (srv, arrivals), tempfile.TemporaryDirectory() as tmp:
        kc = str(srv.write_kubeconfig(Path(tmp) / "kubeconfig"))
        srv.exec_delay = cfg.exec_delay
        for _ in range(cfg.reps):
            for flags in ((), ("--no-exec",)):
                arrivals.clear()
                p = run(v.tool("doctor", "-A", "-o", "json", "--kubeconfig", kc, *flags), v.env(), cfg.timeout)
                runs.setdefault("no-exec" if flags else "exec", []).append(
                    {**proc_dict(p), "execs": sum(1 for a in arrivals if a.exec_command)})
    text = "\n".join(p.read_text() for p in (REPO / "kubectl_vmgpu" / "sources").glob("*.py"))
    m = re.search(r"^MAX_IN_FLIGHT\s*=\s*(\d+)", text, re.MULTILINE)
    b.r["exec"] = {"vmis": cfg.exec_vmis, "delay": cfg.exec_delay, "limit": int(m.group(1)) if m else None,
                   "runs": runs}
    b.log(f"  exec: {[(k, round(median([r['wall'] for r in rs]), 3)) for k, rs in runs.items()]}")


def _kube_imports(argv: list[str], env: dict[str, str], timeout: float) -> dict[str, int]:
    proc = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=tempfile.gettempdir())
    mods = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    kube = [m for m in mods if m == "kubernetes" or m.startswith("kubernetes.")]
    return {"modules": len(mods), "kubernetes": len(kube),
            "unused": sum(1 for m in kube if m.startswith(("kubernetes.client.models.", "kubernetes.client.api.")))}


def bench_startup(b: Bench) -> None:
    """Client modules imported: none offline, none of the API/model classes live."""
    cfg, v = b.cfg, b.variant
    small = lib.fleet(b.data, min(cfg.sizes), cfg.base_vmis, cfg.base_nodes)
    out: dict[str, Any] = {}
    for label, args in (("--help", ("--help",)), ("version", ("version",)),
                        ("doctor --snapshot", ("doctor", "-A", "-o", "json", "--snapshot", str(small.path)))):
        out[label] = _kube_imports(v.tool(*args), v.env(), cfg.timeout)
    with lib.api_server(lib.running(b.data, cfg.exec_vmis)) as (srv, _), tempfile.TemporaryDirectory() as tmp:
        kc = str(srv.write_kubeconfig(Path(tmp) / "kubeconfig"))
        out["doctor live"] = _kube_imports(v.tool("doctor", "-A", "--no-exec", "-o", "json", "--kubeconfig", kc),
                                           v.env(), cfg.timeout)
    b.r["startup"] = out
