"""Fixes proven: each fixPatch is applied to the scenario's input objects, the lab plays the cluster again, and
the finding, its consequences and no new error remain (the `then` step, a VM restart, is the lab's rebuild)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import cli, scenario_dirs
from tests.synth.lab.patches import Patch
from tests.synth.scenarios import SCENARIOS

# check name -> the scenarios whose fixPatch is proven for it
COVERED: dict[str, tuple[str, ...]] = {
    "request-not-found": ("request-name-typo",),
    "not-a-passthrough-class": ("container-gpu-class",),
    "feature-gate-off": ("feature-gate-off-v1-8", "feature-gate-off-v1-9-disabled"),
    "api-device-not-enabled": ("api-device-not-enabled",),
}
BY_NAME = {sc.name: sc for sc in SCENARIOS}


def _findings(report: dict[str, Any]) -> list[dict[str, Any]]:
    out = list(report["findings"])
    for v in report["vmis"]:
        out += v["findings"] + [f for g in v["gpus"] for f in g["findings"]]
    return out


def _doctor(snapshot: Path) -> list[dict[str, Any]]:
    run = cli("doctor", "-A", "-o", "json", "--snapshot", str(snapshot))
    assert run.code in (0, 1), run.err
    return _findings(json.loads(run.out))


def _snapshot(name: str, tmp: Path, patches: list[Patch]) -> Path:
    sc = BY_NAME[name]
    lab = sc.build()
    lab.patches = patches
    lab.write(tmp / "snapshot", sc.layout)
    return tmp / "snapshot"


CASES = [(check, name) for check, names in COVERED.items() for name in names]


@pytest.mark.parametrize(("check", "scenario"), CASES, ids=[f"{c}-{s}" for c, s in CASES])
def test_fix_patch_removes_the_cause_and_its_consequences(check: str, scenario: str, tmp_path: Path) -> None:
    before = _doctor(_snapshot(scenario, tmp_path / "before", []))
    cause = next(f for f in before if f["name"] == check and f["fixPatch"])
    assert cause["role"] == "cause"
    consequences = {f["name"] for f in before if (f["causedBy"] or {}).get("name") == check}
    p = cause["fixPatch"]
    patch = Patch(p["kind"], p["namespace"], p["name"], p["type"], p["patch"])
    after = _doctor(_snapshot(scenario, tmp_path / "after", [patch]))
    names_after = {f["name"] for f in after}
    assert check not in names_after
    assert not consequences & names_after, consequences & names_after
    new_errors = {f["name"] for f in after if f["severity"] == "error"} - {f["name"] for f in before}
    assert not new_errors


def test_every_check_with_a_fix_patch_is_proven() -> None:
    """Every check that carries a fixPatch on any scenario or the demo is listed in COVERED, with that scenario."""
    seen: dict[str, set[str]] = {}
    for folder in scenario_dirs():
        for f in _doctor(folder / "snapshot"):
            if f["fixPatch"]:
                seen.setdefault(f["name"], set()).add(folder.name)
    run = cli("doctor", "--demo", "-o", "json")
    for f in _findings(json.loads(run.out)):
        if f["fixPatch"]:
            seen.setdefault(f["name"], set())
    missing = {name: sorted(where) for name, where in seen.items() if name not in COVERED}
    assert not missing, f"checks with a fixPatch and no proof: {missing}"
    for name, where in seen.items():
        assert where <= set(COVERED[name]) or not where, (name, where - set(COVERED[name]))
