"""Every scenario folder: golden outputs compared exactly, expected breaks found, healthy ones clean.

Rewrite the goldens with `UPDATE_GOLDENS=1 pytest tests/test_scenarios.py` and review the diff.
"""

from __future__ import annotations

import json
import os

import pytest
import yaml

from tests.helpers import SCENARIOS, cli, scenario_dirs

UPDATE = os.environ.get("UPDATE_GOLDENS") == "1"
OUTPUTS = {
    "describe.txt": ("describe", "-o", "text"),
    "describe.json": ("describe", "-o", "json"),
    "doctor.txt": ("doctor", "-o", "text"),
    "doctor.json": ("doctor", "-o", "json"),
}
NAMES = [p.name for p in scenario_dirs()]


def _snapshot(name: str) -> str:
    return f"tests/scenarios/{name}/snapshot"


def _fired(doc: dict) -> set[str]:
    names = {f["name"] for f in doc["findings"]}
    for vmi in doc["vmis"]:
        names |= {f["name"] for f in vmi["findings"]}
        names |= {f["name"] for g in vmi["gpus"] for f in g["findings"]}
    return names


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("golden", sorted(OUTPUTS))
def test_golden(name: str, golden: str) -> None:
    run = cli(*OUTPUTS[golden], "-A", "--snapshot", _snapshot(name))
    assert run.code in (0, 1), run.err
    path = SCENARIOS / name / "golden" / golden
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(run.out)
    assert path.exists(), f"no golden {path}; run UPDATE_GOLDENS=1 pytest {__file__}"
    assert run.out == path.read_text()


@pytest.mark.parametrize("name", NAMES)
def test_expected_breaks(name: str) -> None:
    meta = yaml.safe_load((SCENARIOS / name / "scenario.yaml").read_text())
    run = cli("doctor", "-A", "-o", "json", "--snapshot", _snapshot(name))
    doc = json.loads(run.out)
    fired = _fired(doc)
    missing = set(meta.get("expect") or []) - fired
    assert not missing, f"{name}: expected {sorted(missing)} among {sorted(fired)}"
    if meta.get("healthy"):
        assert run.code == 0 and not fired, f"{name} is healthy but got {sorted(fired)}"
