"""The causal table: a DAG over registered checks, roles on real scenarios and the demo, folded text output."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubectl_vmgpu.checks import CHECKS
from kubectl_vmgpu.checks.causes import RULES, edges, is_acyclic
from tests.helpers import SCENARIOS, cli


def test_table_is_a_dag_over_registered_checks() -> None:
    names = {c.name for c in CHECKS}
    assert is_acyclic()
    assert {r.cause for r in RULES} | {r.consequence for r in RULES} <= names
    assert all(r.cause != r.consequence for r in RULES)
    assert edges()["request-not-found"] >= {"metadata-missing", "launcher-sync-failed"}


def _by_vmi(args: list[str]) -> dict[str, list[dict[str, Any]]]:
    run = cli("doctor", "-A", "-o", "json", *args)
    report = json.loads(run.out)
    out = {"": report["findings"]}
    for v in report["vmis"]:
        out[v["name"]] = v["findings"] + [f for g in v["gpus"] for f in g["findings"]]
    return out


@pytest.mark.parametrize(
    ("scenario", "cause", "consequences"),
    [
        ("container-gpu-class", "not-a-passthrough-class", {"metadata-missing", "launcher-sync-failed"}),
        ("request-name-typo", "request-not-found", {"metadata-missing", "launcher-sync-failed"}),
        ("kubevirt-old-metadata-path", "kubevirt-old-metadata-path", {"metadata-missing", "launcher-sync-failed"}),
        ("api-device-not-enabled", "api-device-not-enabled", {"api-device-absent", "launcher-sync-failed"}),
        ("template-missing", "template-missing", {"launcher-pod-missing", "evidence-unavailable"}),
        ("device-class-typo", "device-class-missing", {"claim-pending", "evidence-unavailable"}),
        (
            "vfio-config-unknown-field",
            "vfio-config-invalid",
            {"prepare-failed", "api-device-not-enabled", "evidence-unavailable"},
        ),
        ("feature-gate-off-v1-8", "feature-gate-off", {"vm-start-refused"}),
        ("pci-address-missing", "pci-address-missing", {"metadata-unreadable", "launcher-sync-failed"}),
    ],
)
def test_one_cause_and_its_consequences(scenario: str, cause: str, consequences: set[str]) -> None:
    findings = _by_vmi(["--snapshot", str(SCENARIOS / scenario / "snapshot")])["rhel9-gpu"]
    causes = [f for f in findings if f["role"] == "cause"]
    assert [f["name"] for f in causes] == [cause]
    assert all(f["causedBy"] is None for f in causes)
    rest = {f["name"] for f in findings if f["role"] == "consequence"}
    assert rest == consequences
    assert {f["causedBy"]["name"] for f in findings if f["causedBy"]} == {cause}


def test_evidence_gap_without_known_cause_stays_a_cause() -> None:
    findings = _by_vmi(["--snapshot", str(SCENARIOS / "exec-forbidden" / "snapshot")])["rhel9-gpu"]
    assert [(f["name"], f["role"]) for f in findings] == [("evidence-unavailable", "cause")]


def test_cluster_cause_explains_vmi_findings() -> None:
    found = _by_vmi(["--snapshot", str(SCENARIOS / "dra-api-not-served" / "snapshot")])
    assert [f["role"] for f in found[""]] == ["cause"]
    (wired,) = found["rhel9-gpu"]
    assert wired["role"] == "consequence" and wired["causedBy"]["name"] == "dra-api-missing"


def test_demo_has_one_cause_per_broken_gpu() -> None:
    for vmi, findings in _by_vmi(["--demo"]).items():
        causes = [f for f in findings if f["role"] == "cause"]
        assert len(causes) <= 1, (vmi, [f["name"] for f in causes])


def test_text_folds_consequences_and_counts_problems() -> None:
    run = cli("doctor", "--snapshot", str(SCENARIOS / "request-name-typo" / "snapshot"), "-A")
    assert run.code == 1
    lines = run.out.splitlines()
    first = next(i for i, line in enumerate(lines) if "VG205 request-not-found" in line)
    folded = [line for line in lines if "→ because of request-not-found:" in line]
    assert len(folded) == 2 and all(lines.index(line) > first for line in folded)
    assert "DeviceMetadata" not in run.out  # the device is vfio but its metadata exists under the real request
    assert "1 problem (3 findings)" in lines[-1]


def test_fail_on_counts_consequences_too() -> None:
    """--fail-on error exits 1 when only consequences are errors (an ignored cause)."""
    snap = str(SCENARIOS / "request-name-typo" / "snapshot")
    assert cli("doctor", "-A", "--snapshot", snap, "--ignore", "request-not-found").code == 1


def test_no_device_metadata_advice_where_it_cannot_help() -> None:
    """DeviceMetadata is advised only for a vfio device with no metadata file anywhere in the container."""
    for folder in sorted(p.parent for p in SCENARIOS.glob("*/scenario.yaml")):
        for findings in _by_vmi(["--snapshot", str(folder / "snapshot")]).values():
            for f in findings:
                # passthrough-not-enabled asks for the driver's gates together, for a vfio request
                if "DeviceMetadata" in f["fix"] and f["name"] != "passthrough-not-enabled":
                    assert folder.name == "metadata-missing-devicemetadata-off", (folder.name, f["name"])
                assert "DRA device metadata feature" not in f["fix"]
    for findings in _by_vmi(["--demo"]).values():
        assert not any("DeviceMetadata" in f["fix"] for f in findings)
