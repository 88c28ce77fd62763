"""`get` on the demo through the real CLI: the table, -o wide|name|json|jsonpath|custom-columns, -l, sort, ages."""

from __future__ import annotations

import json

import pytest

from kubectl_vmgpu.render.get import human_duration
from kubectl_vmgpu.render.table import table
from kubectl_vmgpu.selector import SelectorError, parse
from tests.helpers import cli


def test_table_is_kubectls_plain_style() -> None:
    assert table(("NAME", "N"), [("a", "10"), ("bbbbb", "2")]) == "NAME    N\na       10\nbbbbb   2\n"
    assert table(("NAME", "N"), [("a", "1")], no_headers=True) == "a   1\n"


def test_get_all_namespaces_table() -> None:
    run = cli("get", "--demo", "-A")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "PHASE", "NODE", "GPUS", "DEVICES", "STATUS", "AGE"]
    rows = {line.split()[1]: line.split() for line in lines[1:]}
    assert rows["ubuntu-h100"] == ["gpu-lab", "ubuntu-h100", "Running", "xe8640-01", "1/1", "gpu-vfio-0", "OK", "55m"]
    assert rows["llm-70b"][4:7] == ["0/2", "<none>", "claim-pending"]
    assert rows["train-2gpu"][4:6] == ["2/2", "gpu-vfio-0,gpu-vfio-1"]
    assert rows["llm-finetune"][6] == "pci-mismatch"
    assert "   " in lines[1] and not any(line != line.rstrip() for line in lines)


def test_get_namespace_wide_name_and_no_headers() -> None:
    run = cli("get", "--demo", "-n", "ml-team", "-o", "wide")
    header = run.out.splitlines()[0].split()
    assert header[0] == "NAME" and header[-4:] == ["CLAIMS", "PCI", "KUBEVIRT", "DRIVER"]
    assert "v1.9.0" in run.out and "gpu.nvidia.com" in run.out and "0000:bb:00.0" in run.out
    names = cli("get", "--demo", "-n", "gpu-lab", "-o", "name").out.splitlines()
    assert "virtualmachineinstance.kubevirt.io/ubuntu-h100" in names
    assert "virtualmachine.kubevirt.io/archive-vm" in names
    bare = cli("get", "--demo", "-A", "--no-headers").out.splitlines()
    assert len(bare) == 9 and not bare[0].startswith("NAMESPACE")
    one = cli("get", "--demo", "-n", "gpu-lab", "ubuntu-h100", "--no-headers").out
    assert one.split()[:2] == ["ubuntu-h100", "Running"]


def test_get_label_selector() -> None:
    run = cli("get", "--demo", "-A", "-l", "kubevirt.io/vm in (llm-70b,train-2gpu)", "-o", "name")
    assert run.out.splitlines() == [
        "virtualmachineinstance.kubevirt.io/llm-70b",
        "virtualmachineinstance.kubevirt.io/train-2gpu",
    ]
    none = cli("get", "--demo", "-A", "-l", "nope=yes")
    assert none.code == 0 and none.out == "" and "No resources found" in none.err
    bad = cli("get", "--demo", "-A", "-l", "a in b")
    assert bad.code == 2 and "Traceback" not in bad.err
    assert parse("a!=b,!c")({"a": "x"}) and not parse("a")({}) and parse("")({})
    with pytest.raises(SelectorError):
        parse("=x")


def test_get_json_jsonpath_custom_columns_and_sort() -> None:
    doc = json.loads(cli("get", "--demo", "-A", "-o", "json").out)
    assert (doc["kind"], doc["apiVersion"], doc["schemaVersion"]) == ("List", "v1", 1)
    item = next(i for i in doc["items"] if i["name"] == "train-2gpu")
    assert item["gpus"] == {"ready": 2, "total": 2} and item["metadata"]["namespace"] == "ml-team"
    path = cli("get", "--demo", "-A", "-o", "jsonpath={.items[?(@.status==\"OK\")].name}")
    assert path.out == "archive-vm ubuntu-h100 inference-h100 train-2gpu"
    ranged = cli("get", "--demo", "-n", "ml-team", "-o", 'jsonpath={range .items[*]}{.name}:{.gpus.total}{"\\n"}{end}')
    assert ranged.out.splitlines()[0] == "inference-h100:1"
    cols = cli("get", "--demo", "-A", "-o", "custom-columns=NAME:.metadata.name,READY:.gpus.ready",
               "--sort-by=.gpus.ready", "--no-headers")
    assert [line.split()[1] for line in cols.out.splitlines()][-1] == "2"
    by_name = cli("get", "--demo", "-A", "-o", "name", "--sort-by={.name}").out.splitlines()
    assert [n.split("/")[1] for n in by_name] == sorted(n.split("/")[1] for n in by_name)
    for bad in ("jsonpath={.items[", "custom-columns=NAME", "table"):
        run = cli("get", "--demo", "-A", "-o", bad)
        assert run.code == 2 and "Traceback" not in run.err, bad


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(45, "45s"), (119, "119s"), (312, "5m12s"), (720, "12m"), (3 * 3600 + 1200, "3h20m"), (14 * 3600, "14h"),
     (5 * 86400 + 3 * 3600, "5d3h"), (30 * 86400, "30d"), (-5, "<invalid>")],
)
def test_age_is_kubectls(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def test_output_completion() -> None:
    from kubectl_vmgpu.render.complete import complete_get_output

    assert [c.value for c in complete_get_output(None, None, "w")] == ["wide"]  # type: ignore[arg-type]
    cols = [c.value for c in complete_get_output(None, None, "custom-columns=NAME:.name,ST")]  # type: ignore[arg-type]
    assert cols == ["custom-columns=NAME:.name,STATUS:.status"]
