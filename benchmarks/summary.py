"""docs/performance.md from one run's measurements: every goal of issue 15 with its figure, ratio and verdict."""

from __future__ import annotations

import datetime
import math
from typing import Any

from lib import median
from shared import (
    EXEC_GOAL,
    GET_GOAL,
    GROWTH_GOAL,
    LIVE_GOAL,
    ROUND_TRIPS_GOAL,
    RSS_GOAL,
    SINGLE_GOAL,
    SNAPSHOT_GOAL,
    Bench,
)

Row = tuple[str, str, str, bool | None]  # target, goal, figure, met (None: not measured)


def _s(x: float) -> str:
    return "n/a" if x != x else f"{x:.3f} s" if x < 10 else f"{x:.1f} s"


def _mib(x: float) -> str:
    return f"{x / 2**20:,.0f} MiB"


def _med(runs: list[dict[str, Any]], key: str = "wall") -> float:
    return median([r[key] for r in runs if r.get(key) is not None])


def _lower(runs: list[dict[str, Any]]) -> str:
    return "≥" if any(r.get("timed_out") for r in runs) else ""


def snapshot_rows(b: Bench) -> list[Row]:
    snap, rows = b.r.get("snapshot", {}), []
    for size, entry in snap.items():
        runs = entry["runs"]
        floor = _med(runs["floor"])
        for label, rs in runs.items():
            if label != "floor":
                ratio = _med(rs) / floor
                goal = GET_GOAL if label.startswith("get") else SNAPSHOT_GOAL  # the table: at most 1.2x
                rows.append((f"snapshot `{label}`, {int(size):,} VMIs, vs the floor", f"≤ {goal}x",
                             f"{_lower(rs)}{ratio:.2f}x ({_s(_med(rs))} vs {_s(floor)})",
                             not _lower(rs) and ratio <= goal))
    sizes = list(snap)
    if len(sizes) >= 2:
        a, z = snap[sizes[0]]["runs"], snap[sizes[-1]]["runs"]
        factor = int(sizes[-1]) / int(sizes[0])
        base = _med(z["floor"]) / _med(a["floor"]) / factor
        for label in z:
            if label != "floor" and a.get(label):
                g = _med(z[label]) / _med(a[label]) / factor
                rows.append((f"time per VMI, {int(sizes[0]):,} → {int(sizes[-1]):,} VMIs, `{label}`",
                             f"≤ {GROWTH_GOAL}x", f"{_lower(z[label])}{g:.2f}x (the floor's: {base:.2f}x)",
                             not _lower(z[label]) and g <= GROWTH_GOAL))
        for size in (sizes[0], sizes[-1]):
            runs = snap[size]["runs"]
            floor_rss = max(r["maxrss"] for r in runs["floor"])
            worst = max((k for k in runs if k != "floor"), key=lambda k: max(r["maxrss"] for r in runs[k]))
            rss = max(r["maxrss"] for r in runs[worst])
            rows.append((f"peak RSS, {int(size):,} VMIs, the largest of the commands vs the floor",
                         f"≤ {RSS_GOAL}x", f"{rss / floor_rss:.2f}x (`{worst}` {_mib(rss)} vs {_mib(floor_rss)})",
                         rss / floor_rss <= RSS_GOAL))
    return rows


def live_rows(b: Bench) -> list[Row]:
    rows: list[Row] = []
    live = b.r.get("live", {})
    runs = live.get("runs", {})
    target = f"live `doctor -A --no-exec` vs `kubectl get` of the same lists, {live.get('vmis', 0):,} VMIs"
    if runs.get("kubectl") and runs.get("doctor -A --no-exec"):
        tool, kube = _med(runs["doctor -A --no-exec"]), _med(runs["kubectl"])
        rows.append((target, f"≤ {LIVE_GOAL}x", f"{tool / kube:.2f}x ({_s(tool)} vs {_s(kube)})",
                     tool / kube <= LIVE_GOAL))
    elif live:
        rows.append((target, f"≤ {LIVE_GOAL}x", "not measured: no kubectl", None))
    crit = b.r.get("critical", {})
    a, z = crit.get("runs", {}).get("0.0"), crit.get("runs", {}).get(str(b.cfg.latency))
    if a and z:
        paths = sorted({p for r in a for p in r["node_paths"]})
        by_name = bool(paths) and "/api/v1/nodes" not in paths
        rows.append((f"`describe {crit['vmi']}` live: the nodes it reads", "its own, by name",
                     ", ".join(f"`{p}`" for p in paths) or "none", by_name))
        extra = _med(z, "after_first") - _med(a, "after_first")
        trips = extra / b.cfg.latency
        rows.append((f"`describe {crit['vmi']}` live, {b.cfg.latency * 1000:.0f} ms added to every response: "
                     "round trips on the critical path", f"≤ {ROUND_TRIPS_GOAL}",
                     f"{trips:.1f} (+{extra * 1000:.0f} ms; {int(median([r['waves'] for r in z]))} waves)",
                     trips <= ROUND_TRIPS_GOAL))
    single = b.r.get("single", {}).get("runs", {})
    for dwb in ("", "1"):
        for state in ("cold", "warm"):
            pip, one = single.get(f"pip|{state}|{dwb}"), single.get(f"single file|{state}|{dwb}")
            if pip and one:
                ratio = median(one) / median(pip)
                rows.append((f"single file vs pip entry point, live `describe NAME`, {state}"
                             + (", PYTHONDONTWRITEBYTECODE=1" if dwb else ""), f"≤ {SINGLE_GOAL}x",
                             f"{ratio:.2f}x ({_s(median(one))} vs {_s(median(pip))})", ratio <= SINGLE_GOAL))
    return rows


def other_rows(b: Bench) -> list[Row]:
    rows: list[Row] = []
    ex = b.r.get("exec", {})
    if ex.get("runs", {}).get("exec") and ex.get("limit"):
        n = max(r["execs"] for r in ex["runs"]["exec"])
        ideal = _med(ex["runs"]["no-exec"]) + math.ceil(n / ex["limit"]) * ex["delay"]
        wall = _med(ex["runs"]["exec"])
        rows.append((f"`doctor -A` with exec, {ex['vmis']} running VMIs, {ex['delay'] * 1000:.0f} ms per exec, vs "
                     "the ideal for the concurrency limit", f"≤ {EXEC_GOAL}x",
                     f"{wall / ideal:.2f}x ({_s(wall)} vs {_s(ideal)})", wall / ideal <= EXEC_GOAL))
    st = b.r.get("startup", {})
    if st:
        offline = sum(x["kubernetes"] for k, x in st.items() if k != "doctor live")
        rows.append(("`--help`, `version`, snapshot mode: client modules imported", "none",
                     f"{offline} kubernetes modules", offline == 0))
        live = st.get("doctor live", {})
        rows.append(("live mode: the client's API and model classes imported", "none",
                     f"{live.get('unused', '?')} of {live.get('kubernetes', '?')} kubernetes modules",
                     live.get("unused") == 0))
    return rows


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "PASS" if ok else "**MISS**"


def report(b: Bench, meta: dict[str, Any], machine: dict[str, str]) -> str:
    started = datetime.datetime.fromisoformat(meta["started"])
    rows = snapshot_rows(b) + live_rows(b) + other_rows(b)
    passed = sum(1 for r in rows if r[3])
    lines = [
        "# Performance", "", "<!-- generated by benchmarks/run.py: edit the script, not this file -->", "",
        "The goals of issue 15, each measured as a ratio against its baseline taken in the same run, on one "
        "machine:", "", "```", "python benchmarks/run.py" + (" --quick" if meta.get("quick") else "")
        + " --out docs/performance.md", "```", "",
        f"Run {started:%Y-%m-%d %H:%M} UTC, {meta['minutes']:.1f} min. Code: {meta['code']}.", "",
        "| machine | |", "|---|---|", *[f"| {k} | {v} |" for k, v in machine.items()],
        f"| load average (1 min) | {meta['load'][0]} at the start, {meta['load'][1]} at the end |", "",
        f"## Goals: {passed} of {sum(1 for r in rows if r[3] is not None)} met", "",
        "| target | goal | measured | |", "|---|---|---|---|",
        *[f"| {t} | {g} | {f} | {_verdict(ok)} |" for t, g, f, ok in rows],
        "", *details(b), "", *METHOD.format(latency=b.cfg.latency * 1000, delay=b.cfg.exec_delay * 1000).splitlines(),
    ]
    if b.notes:
        lines += ["", "## Notes from this run", "", *[f"- {n}" for n in b.notes]]
    return "\n".join(lines) + "\n"


def details(b: Bench) -> list[str]:
    out = ["## Details", "", "### Snapshot", "",
           "Median wall time of whole processes, peak RSS the largest of the runs.", "",
           "| VMIs | nodes | List file | evidence files | command | runs | wall | per VMI | vs floor | peak RSS |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for size, s in b.r.get("snapshot", {}).items():
        fl, floor = s["fleet"], _med(s["runs"]["floor"])
        for label, rs in s["runs"].items():
            out.append(f"| {int(size):,} | {fl['nodes']:,} | {fl['list_mb']:.0f} MB | {fl['evidence_files']:,} | "
                       f"{label} | {len(rs)} | {_s(_med(rs))} | {_med(rs) / int(size) * 1000:.3f} ms | "
                       f"{_med(rs) / floor:.2f}x | {_mib(max(r['maxrss'] for r in rs))} |")
    phases = b.r.get("phases", {})
    if phases:
        keys = ["import", "load", "index", "link", "explain", "checks", "report", "dict", "render"]
        out += ["", "Where `doctor -A -o json` spends its time, in one process (benchmarks/phases.py; seconds):", "",
                "| VMIs | " + " | ".join(keys) + " | output |", "|---|" + "---|" * (len(keys) + 1)]
        for size, ph in phases.items():
            out.append(f"| {int(size):,} | " + " | ".join(f"{ph.get(k, float('nan')):.2f}" for k in keys)
                       + f" | {ph.get('output MB', 0):.1f} MB |")
    live = b.r.get("live", {})
    if live.get("runs"):
        out += ["", f"### Live: {live['vmis']:,} VMIs on the loopback API server", "",
                "kubectl lists what the tool lists: `" + ",".join(live["lists"]) + "`.", "",
                "| command | runs | wall | requests |", "|---|---|---|---|"]
        out += [f"| {k} | {len(rs)} | {_s(_med(rs))} | {rs[0]['requests']} |" for k, rs in live["runs"].items()]
    crit = b.r.get("critical", {}).get("runs", {})
    if crit:
        out += ["", "### Critical path of a named VMI", "", "| added latency | runs | wall | first request | after it "
                "| requests | execs |", "|---|---|---|---|---|---|---|"]
        out += [f"| {float(k) * 1000:.0f} ms | {len(rs)} | {_s(_med(rs))} | {_s(_med(rs, 'first'))} | "
                f"{_s(_med(rs, 'after_first'))} | {rs[0]['requests']} | {rs[0]['execs']} |" for k, rs in crit.items()]
    single = b.r.get("single", {}).get("runs", {})
    if single:
        out += ["", "### Single file and pip entry point", "", "| tool | bytecode cache | PYTHONDONTWRITEBYTECODE "
                "| runs | wall |", "|---|---|---|---|---|"]
        for key, walls in single.items():
            tool, state, dwb = key.split("|")
            out.append(f"| {tool} | {state} | {dwb or 'unset'} | {len(walls)} | {_s(median(walls))} |")
    return out


METHOD = """## How it is measured

- Fleets: `tests/synth/big.py` `fleet_base(100, 15)` (100 VMIs on 15 8-GPU nodes, every 7th VM broken one of
  ten ways, a pending claim, stopped VMs, a container pod holding a GPU), copied N times by
  `tests/synth/clone.py` into one `kind: List` JSON file plus `evidence/` (three files per launcher).
- The floor (benchmarks/floor.py): with the cyclic GC off, walk the snapshot tree and read every file the tool
  reads with the tool's parsers (`json.loads`, PyYAML's CSafeLoader), evidence decoded to text, everything kept
  to the end. It is what `snapshot.load` must at least do; analysis and output come on top.
- Processes: `python -m kubectl_vmgpu ...`, stdout to /dev/null, bytecode cached (a warm-up first). Wall time
  from spawn to exit, peak RSS from `wait4`; baseline and tool runs interleaved, after an untimed floor run per
  size; medians. A run stopped at the time limit is a lower bound (≥).
- Live: tests/kubeapi serves the snapshot in the benchmark process (benchmarks/lib.py `api_server`); kubectl
  gets the resources the tool listed (taken from the server's log of the tool's warm-up run), with a warm
  discovery cache of its own.
- Critical path: `Fault(latency={latency:.0f} ms)` on every request (exec included) against no fault; the extra
  time after the first request, divided by the latency, is the number of round trips in sequence.
- Single file: `scripts/build_release.py` into the data folder, run as `python dist/kubectl-vmgpu`; the pip
  entry point is the venv's `kubectl-vmgpu`. Cold: an empty bytecode cache (`PYTHONPYCACHEPREFIX` for pip,
  `XDG_CACHE_HOME` for the single file); warm: a cache filled by an earlier run.
- Exec: `{delay:.0f}` ms between each exec's handshake and its output; the limit is `MAX_IN_FLIGHT` in
  kubectl_vmgpu/sources."""
