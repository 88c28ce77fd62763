"""The allocation explainer, the CEL evaluator and `devices`: with cel-python and without it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubectl_vmgpu import build, cel
from tests.helpers import SCENARIOS, cli, scenario_dirs

CEL = cel.available()
RAW_DEVICE = {
    "name": "gpu-vfio-0",
    "attributes": {
        "type": {"string": "vfio"},
        "productName": {"string": "GH100 [H100 SXM5 80GB]"},
        "driverVersion": {"version": "580.142.0"},
        "resource.kubernetes.io/pciBusID": {"string": "0000:4a:00.0"},
    },
    "capacity": {"addressableMemory": {"value": "80Gi"}},
}
DEVICE = build.slice_device(RAW_DEVICE)  # as the product reads it from a ResourceSlice
EXPRESSIONS = [  # the forms of the DRA docs and the NVIDIA DeviceClasses, with the expected answer
    ("device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'vfio'", True),
    ("device.attributes['gpu.nvidia.com'].type == 'gpu'", False),
    ("device.attributes['gpu.nvidia.com'].driverVersion.compareTo(semver('580.0.0')) >= 0", True),
    ("device.attributes['gpu.nvidia.com'].driverVersion.isLessThan(semver('570.0.0'))", False),
    ("device.capacity['gpu.nvidia.com'].addressableMemory.compareTo(quantity('40Gi')) >= 0", True),
    ("device.capacity['gpu.nvidia.com'].addressableMemory.isGreaterThan(quantity('100Gi'))", False),
    ("device.attributes['resource.kubernetes.io'].pciBusID.startsWith('0000:4a')", True),
    ("'productName' in device.attributes['gpu.nvidia.com']", True),
]


@pytest.mark.parametrize("expression,expected", EXPRESSIONS)
def test_cel_forms(expression: str, expected: bool) -> None:
    if not CEL:
        with pytest.raises(cel.CelUnavailable):
            cel.evaluate(expression, DEVICE, "gpu.nvidia.com")
        return
    assert cel.evaluate(expression, DEVICE, "gpu.nvidia.com") is expected


def test_cel_errors_are_never_true_or_false() -> None:
    if not CEL:
        pytest.raises(cel.CelUnavailable, cel.evaluate, "true", DEVICE, "gpu.nvidia.com")
        return
    with pytest.raises(cel.CelUnsupported, match="lowerAscii"):
        cel.evaluate("device.attributes['gpu.nvidia.com'].productName.lowerAscii() == 'x'", DEVICE, "gpu.nvidia.com")
    with pytest.raises(ValueError, match="no such"):
        cel.evaluate("device.attributes['gpu.nvidia.com'].missing == 'x'", DEVICE, "gpu.nvidia.com")
    with pytest.raises(ValueError, match="does not compile"):
        cel.evaluate("device.attributes[", DEVICE, "gpu.nvidia.com")


def test_quantities_and_versions_order() -> None:
    assert cel.Quantity("1Gi") == cel.Quantity("1024Mi")
    assert cel.Quantity("1.5G").value == 1_500_000_000
    assert cel.SemVer("1.2.3-rc.1").key() < cel.SemVer("1.2.3").key() < cel.SemVer("1.10.0").key()


def _strip_selector_parts(doc: Any) -> Any:
    """The report without what depends on evaluating selectors."""
    for vmi in doc["vmis"]:
        for gpu in vmi["gpus"]:
            gpu["links"]["allocation"].pop("explain", None)
            for f in gpu["findings"]:
                if f["name"] == "claim-pending":
                    f["message"] = f["message"].split("; request ")[0]
    return doc


@pytest.mark.skipif(not CEL, reason="compares the cel variant with the plain one; the plain run checks its goldens")
@pytest.mark.parametrize("name", [p.name for p in scenario_dirs()] + ["demo"])
def test_outputs_differ_only_where_selectors_are_evaluated(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    where = ["--demo"] if name == "demo" else ["-A", "--snapshot", str(SCENARIOS / name / "snapshot")]
    with_cel = json.loads(cli("describe", "-o", "json", *where).out)

    def unavailable(expression: str) -> Any:
        raise cel.CelUnavailable(cel.INSTALL_HINT)

    monkeypatch.setattr(cel, "_program", unavailable)
    without = json.loads(cli("describe", "-o", "json", *where).out)
    assert _strip_selector_parts(with_cel) == _strip_selector_parts(without)


def test_demo_pending_claim_is_explained_device_by_device() -> None:
    doc = json.loads(cli("describe", "llm-70b", "-n", "ml-team", "--demo", "-o", "json").out)
    explain = doc["vmis"][0]["gpus"][0]["links"]["allocation"]["explain"]
    devices = {(n["node"], d["name"]): d for n in explain["nodes"] for d in n["devices"]}
    sibling = devices[("xe8640-02", "gpu-vfio-2")]
    assert sibling["state"] == "sibling-in-use" and "gpu-lab/cuda-in-a-vm" in sibling["detail"]
    if CEL:
        assert explain["summary"] == "all 8 matching devices are taken" and not explain["unevaluated"]
        assert devices[("xe8640-01", "gpu-vfio-0")]["detail"] == "held by VM gpu-lab/ubuntu-h100"
    else:
        assert explain["summary"] == "all 9 devices of driver gpu.nvidia.com are taken (selectors not evaluated)"
        assert any("kubectl-vmgpu[cel]" in u for u in explain["unevaluated"])


def test_explain_allocation_flag_explains_allocated_claims_too() -> None:
    plain = json.loads(cli("describe", "ubuntu-h100", "-n", "gpu-lab", "--demo", "-o", "json").out)
    assert "explain" not in plain["vmis"][0]["gpus"][0]["links"]["allocation"]
    doc = json.loads(
        cli("describe", "ubuntu-h100", "-n", "gpu-lab", "--demo", "-o", "json", "--explain-allocation").out
    )
    explain = doc["vmis"][0]["gpus"][0]["links"]["allocation"]["explain"]
    own = [d for n in explain["nodes"] for d in n["devices"] if d["name"] == "gpu-vfio-0" and n["node"] == "xe8640-01"]
    assert own and own[0]["state"] in ("free", "unknown")  # its own device is not "held by another"


def test_devices_on_the_demo() -> None:
    run = cli("devices", "--demo")
    assert run.code == 0
    assert "sibling-in-use (its twin gpu-2 (0000:9b:00.0) is held by VM gpu-lab/cuda-in-a-vm)" in run.out
    assert "Free passthrough (vfio) devices: 0" in run.out
    doc = json.loads(cli("devices", "--demo", "--node", "xe8640-01", "-o", "json").out)
    assert doc["schemaVersion"] == 1 and {d["node"] for d in doc["devices"]} == {"xe8640-01"}
    assert [n["node"] for n in doc["nodes"]] == ["xe8640-01"]


def test_devices_node_without_devices_says_which_node() -> None:
    run = cli("devices", "--demo", "--node", "no-such-node")
    assert run.code == 0
    assert run.out == "No DRA devices on node no-such-node (no current ResourceSlice of that node).\n"


@pytest.mark.parametrize("name", [p.name for p in scenario_dirs()] + ["demo"])
def test_class_devices_listed_in_a_node_summary_are_of_the_class(name: str) -> None:
    # Issue 16: without CEL a `type: gpu` device held by a pod was listed as a "vfio.gpu.nvidia.com device".
    where = ["--demo"] if name == "demo" else ["-A", "--snapshot", str(SCENARIOS / name / "snapshot")]
    doc = json.loads(cli("describe", "-o", "json", "--explain-allocation", *where).out)
    for vmi in doc["vmis"]:
        for gpu in vmi["gpus"]:
            explain = gpu["links"]["allocation"].get("explain")
            if not explain or explain["deviceClassName"] != "vfio.gpu.nvidia.com":
                continue
            for node in explain["nodes"]:
                label = "vfio.gpu.nvidia.com device"
                part = node["summary"].partition(label)[2].partition(";")[0] if label in node["summary"] else ""
                head, _, items = part.partition(": ")
                free = head.partition("free (")[2].rstrip(")").split(", ")
                listed = set(free) | {item.split(" ")[0] for item in items.split(", ")}
                for dev in node["devices"]:
                    if dev["type"] != "vfio":
                        assert dev["name"] not in listed, (name, node["summary"])
