"""The registry against the catalogue and the scenarios: every break named, every check exercised."""

from __future__ import annotations

import json
import re
import shutil
from functools import cache

import pytest
import yaml

from kubectl_vmgpu.checks import CHECKS, lookup
from tests.helpers import REPO, SCENARIOS, cli, scenario_dirs

BREAKS = REPO.parent / "shared" / "reference" / "breaks.md"


def catalogue_slugs() -> set[str]:
    if BREAKS.exists():
        return set(re.findall(r"^\| ([a-z0-9-]+) \|", BREAKS.read_text(), flags=re.M)) - {"slug"}
    from tests.synth.slugs import SLUGS

    return set(SLUGS)


@cache
def fired(name: str) -> frozenset[str]:
    doc = json.loads(cli("doctor", "-A", "-o", "json", "--snapshot", f"tests/scenarios/{name}/snapshot").out)
    names = {f["name"] for f in doc["findings"]}
    for vmi in doc["vmis"]:
        names |= {f["name"] for f in vmi["findings"]}
        names |= {f["name"] for g in vmi["gpus"] for f in g["findings"]}
    return frozenset(names)


def test_every_catalogue_slug_is_a_registered_check() -> None:
    slugs = catalogue_slugs()
    assert len(slugs) >= 40
    assert slugs <= {c.name for c in CHECKS}
    assert len({c.id for c in CHECKS}) == len({c.name for c in CHECKS}) == len(CHECKS)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.name)
def test_every_check_fires_somewhere_and_never_in_healthy_scenarios(check) -> None:
    healthy = [p.name for p in scenario_dirs() if yaml.safe_load((p / "scenario.yaml").read_text()).get("healthy")]
    assert healthy
    assert any(check.name in fired(p.name) for p in scenario_dirs()), f"{check.name} fires in no scenario"
    assert not [h for h in healthy if check.name in fired(h)]


def test_ignore_flag_and_annotation_silence_and_count(tmp_path) -> None:
    base = json.loads(cli("doctor", "--demo", "-o", "json").out)
    assert base["summary"]["silenced"] == 0
    run = cli("doctor", "--demo", "-o", "json", "--ignore", "pci-mismatch", "--ignore", "VG304")
    doc = json.loads(run.out)
    names = {f["name"] for v in doc["vmis"] for g in v["gpus"] for f in g["findings"]}
    assert "pci-mismatch" not in names and "claim-pending" not in names
    assert doc["summary"]["silenced"] == 2
    assert "2 silenced" in cli("doctor", "--demo", "--ignore", "pci-mismatch", "--ignore", "vg304").out
    # the annotation on a VM silences the named checks for that VM
    snap = tmp_path / "snap"
    shutil.copytree(SCENARIOS / "pci-mismatch-metadata" / "snapshot", snap)
    vm_file = next(snap.rglob("virtualmachines.yaml"))
    doc = yaml.safe_load(vm_file.read_text())
    for vm in doc.get("items", [doc]):
        vm["metadata"].setdefault("annotations", {})["vmgpu.kubevirt.io/ignore-checks"] = "pci-mismatch"
    vm_file.write_text(yaml.safe_dump(doc))
    assert cli("doctor", "-A", "--snapshot", str(SCENARIOS / "pci-mismatch-metadata" / "snapshot")).code == 1
    run = cli("doctor", "-A", "-o", "json", "--snapshot", str(snap))
    assert run.code == 0 and json.loads(run.out)["summary"]["silenced"] == 1


def test_fail_on_threshold() -> None:
    assert cli("doctor", "--demo").code == 1
    snap = "tests/scenarios/exec-forbidden/snapshot"  # only an info finding
    assert cli("doctor", "-A", "--snapshot", snap).code == 0
    assert cli("doctor", "-A", "--snapshot", snap, "--fail-on", "info").code == 1
    snap = "tests/scenarios/device-tainted/snapshot"  # a warning
    assert cli("doctor", "-A", "--snapshot", snap, "--fail-on", "warning").code == 1


def test_lookup_by_id_or_name() -> None:
    assert lookup("VG503") is lookup("vg503") is lookup("pci-mismatch")
    assert lookup("nope") is None
