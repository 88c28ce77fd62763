"""Every scenario folder: golden outputs compared exactly, expected breaks found, healthy ones clean.

Rewrite the goldens with `UPDATE_GOLDENS=1 pytest tests/test_scenarios.py` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from kubectl_vmgpu import cel
from tests.helpers import SCENARIOS, cli, scenario_dirs

UPDATE = os.environ.get("UPDATE_GOLDENS") == "1"
CEL = cel.available()
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


def _golden_path(name: str, golden: str, output: str) -> Path:
    """`describe.txt` is the output without cel-python; `describe.cel.txt`, where present, the output
    with it (only scenarios whose selectors are evaluated differ). Rewrite both variants by running the
    update once in an environment with the `cel` extra and once without."""
    base = SCENARIOS / name / "golden" / golden
    if not CEL:
        return base
    stem, _, ext = golden.rpartition(".")
    variant = base.with_name(f"{stem}.cel.{ext}")
    if UPDATE and base.exists():
        if output == base.read_text():
            variant.unlink(missing_ok=True)
            return base
        return variant
    return variant if variant.exists() else base


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("golden", sorted(OUTPUTS))
def test_golden(name: str, golden: str) -> None:
    run = cli(*OUTPUTS[golden], "-A", "--snapshot", _snapshot(name))
    assert run.code in (0, 1), run.err
    path = _golden_path(name, golden, run.out)
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
