"""What the benchmark steps share: the run's sizes (full or quick) and the measurements collected so far."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any

from lib import Proc, Variant


@dataclass
class Config:
    name: str
    sizes: tuple[int, ...]  # snapshot sizes (VMIs): ratios to the floor at each, growth between the first two
    live_size: int  # live doctor vs kubectl
    exec_vmis: int  # running VMIs served live (critical path, single file, exec)
    reps: int  # runs per measurement
    reps_big: int  # runs at the largest snapshot size
    crit_reps: int
    single_reps: int
    timeout: float
    timeout_big: float  # the largest size
    base_vmis: int = 100
    base_nodes: int = 15
    exec_delay: float = 0.1
    latency: float = 0.05


FULL = Config("full", (2000, 20000), 2000, 100, reps=3, reps_big=3, crit_reps=5, single_reps=3, timeout=300,
              timeout_big=600)
QUICK = Config("quick", (100, 300), 100, 8, reps=1, reps_big=1, crit_reps=1, single_reps=1, timeout=60,
               timeout_big=60)

# Goals of issue 15, as ratios.
SNAPSHOT_GOAL, GROWTH_GOAL, RSS_GOAL, LIVE_GOAL = 1.5, 1.05, 1.3, 1.0
ROUND_TRIPS_GOAL, SINGLE_GOAL, EXEC_GOAL = 5, 1.3, 1.5
GET_GOAL = 1.2  # `get -A`, the table


@dataclass
class Bench:
    cfg: Config
    data: Any  # Path
    variant: Variant
    notes: list[str] = field(default_factory=list)
    r: dict[str, Any] = field(default_factory=dict)  # everything measured, for the report (and --json)
    t0: float = field(default_factory=time.perf_counter)

    def log(self, text: str) -> None:
        print(f"[{time.perf_counter() - self.t0:6.1f}s] {text}", file=sys.stderr, flush=True)


def proc_dict(p: Proc) -> dict[str, Any]:
    return {"wall": p.wall, "maxrss": p.maxrss, "code": p.code, "timed_out": p.timed_out}
