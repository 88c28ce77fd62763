"""Scale and speed (issue 6): the fleet generator, the live start-up import rule, the benchmark script.

The figures themselves come from `python benchmarks/run.py` (docs/performance.md); these tests keep what
they rest on true and fast: scaled snapshots are consistent copies, live mode imports only the client
modules it uses, and the benchmark script still runs end to end. The constant number of requests of
`-A` is tests/test_live.py's `test_all_namespaces_makes_a_constant_number_of_requests`; snapshot modes
importing no client at all is tests/test_cli.py's `test_help_version_and_snapshots_never_import_the_client`.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import timeit
import tracemalloc
from collections import Counter, OrderedDict, defaultdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubectl_vmgpu import jsonout
from kubectl_vmgpu.jsonout import dumps_indented
from kubectl_vmgpu.sources import bounds, snapshot
from kubectl_vmgpu.sources.errors import SourceError
from tests.conftest import full
from tests.helpers import REPO, cli, scenario_dirs
from tests.kubeapi import KubeAPIServer
from tests.synth.big import fleet_base
from tests.synth.clone import write_clone

BASIC = REPO / "tests" / "kubeapi" / "testdata" / "basic"
HAS_DEMO = any((REPO / "kubectl_vmgpu" / "demo").rglob("*.yaml"))


def _findings(doc: dict[str, Any]) -> tuple[Counter[str], Counter[str]]:
    """(cluster findings, VMI and GPU findings) by check id."""
    cluster = Counter(f["id"] for f in doc["findings"])
    per_vmi = Counter(f["id"] for v in doc["vmis"] for f in v["findings"])
    per_vmi += Counter(f["id"] for v in doc["vmis"] for g in v["gpus"] for f in g["findings"])
    return cluster, per_vmi


def test_a_cloned_fleet_is_copies_of_its_base(tmp_path: Path) -> None:
    lab = fleet_base(vmis=20, nodes=4)
    one = write_clone(lab, 1, tmp_path / "one")
    three = write_clone(lab, 3, tmp_path / "three")
    assert (one.vmis, three.vmis, three.nodes) == (20, 60, 12)
    base = json.loads(cli("doctor", "-A", "-o", "json", "--snapshot", str(tmp_path / "one")).out)
    big = json.loads(cli("doctor", "-A", "-o", "json", "--snapshot", str(tmp_path / "three")).out)
    assert len(big["vmis"]) == 3 * len(base["vmis"])
    base_cluster, base_vmi = _findings(base)
    big_cluster, big_vmi = _findings(big)
    assert base_vmi and {k: 3 * n for k, n in base_vmi.items()} == dict(big_vmi)
    assert big_cluster == base_cluster  # cluster-wide findings are not per copy
    assert {"VG304", "VG503"} <= set(base_vmi)  # a pending claim and a broken chain are in every copy
    # every copy has its own names and uids; shared objects (classes, templates, KubeVirt) are written once
    items = json.loads((tmp_path / "three" / "cluster-dump.json").read_text())["items"]
    uids = [o["metadata"]["uid"] for o in items]
    keys = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in items]
    assert len(set(uids)) == len(uids) and len(set(keys)) == len(keys)
    kinds = Counter(o["kind"] for o in items)
    assert (kinds["DeviceClass"], kinds["KubeVirt"], kinds["Node"], kinds["ResourceSlice"]) == (3, 1, 12, 12)
    pods = {o["metadata"]["name"] for o in items if o["kind"] == "Pod"}
    folders = {p.name for p in (tmp_path / "three" / "evidence").glob("*/*")}
    assert folders and folders <= pods


def test_live_mode_imports_only_the_client_modules_it_uses(tmp_path: Path) -> None:
    with KubeAPIServer.from_snapshot(BASIC) as srv:
        kc = str(srv.write_kubeconfig(tmp_path / "kubeconfig"))
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "kubectl_vmgpu", "doctor", "-A", "-o", "json",
             "--kubeconfig", kc],
            cwd=REPO, capture_output=True, text=True, timeout=120,
        )
        assert any(r.is_exec for r in srv.requests), "exec was not exercised"
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    modules = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    kube = {m for m in modules if m == "kubernetes" or m.startswith("kubernetes.")}
    assert "kubernetes.client.api_client" in kube
    unused = sorted(m for m in kube if m.startswith(("kubernetes.client.models.", "kubernetes.client.api.",
                                                     "kubernetes.dynamic", "kubernetes.watch", "kubernetes.utils",
                                                     "kubernetes.leaderelection")))
    assert not unused, f"{len(unused)} unused client modules imported, e.g. {unused[:5]}"


def test_the_benchmark_script_runs(tmp_path: Path) -> None:
    """`benchmarks/run.py --quick` end to end (small sizes; by default without the single-file build and the
    exec step, which the full run of .ci/run's heavy step covers): every goal of issue 15 has its row."""
    out, data = tmp_path / "performance.md", tmp_path / "data"
    only = [] if full() else ["--only", "snapshot,live,critical,startup"]
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--quick", "--out", str(out),
         "--json", str(tmp_path / "results.json"), "--data", str(data), *only],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    targets = ["vs the floor", "time per VMI", "peak RSS", "round trips", "the nodes it reads",
               "client modules imported", "Code: commit "]
    targets += ["single file vs pip entry point", "concurrency limit"] if full() else []
    for target in targets:
        assert target in text, target
    assert "`kubectl get` of the same lists" in text or "no kubectl" in text
    assert "proposed fixes" not in text
    assert "**MISS**" in text or "PASS" in text
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    assert {"snapshot", "live", "critical", "startup"} <= set(results)
    floor = results["snapshot"]["300"]["runs"]["floor"]
    assert floor and all(r["code"] == 0 for r in floor)
    assert time.monotonic() - start < 240


def test_the_floor_reads_what_the_tool_reads(tmp_path: Path) -> None:
    """benchmarks/floor.py parses every object file and keeps every evidence file of the tree."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import floor
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    made = write_clone(fleet_base(vmis=20, nodes=4), 1, tmp_path)
    kept = floor.read_tree(str(tmp_path))
    texts = [k for k in kept if isinstance(k, str)]
    lists = [k for k in kept if isinstance(k, dict) and k.get("kind") == "List"]
    unavailable = list((tmp_path / "evidence").rglob("unavailable.yaml"))  # parsed, as the tool does
    assert len(texts) + len(unavailable) == made.evidence_files
    inv = snapshot.load([str(tmp_path)])
    assert sum(len(d["items"]) for d in lists) >= sum(len(v) for v in inv.objects.values()) > 0
    assert len(inv.evidence) == len(list((tmp_path / "evidence").glob("*/*")))


def _nested(depth: int, wrap: Any) -> Any:
    doc: Any = "leaf"
    for _ in range(depth):
        doc = wrap(doc)
    return doc


@pytest.mark.parametrize(
    ("depth", "refused"), [(100, False), (101, True)], ids=["at-the-limit", "one-deeper"]
)
def test_json_depth_is_read_from_the_text_outside_strings(depth: int, refused: bool, tmp_path: Path) -> None:
    """The nesting pre-check (issue 15) reads brackets from the text: strings full of brackets and
    escaped quotes neither hide nesting (`"]["` between levels) nor invent it (`"[[[["`)."""
    hide = _nested(depth, lambda d: [']["\\"[', d, "]]", '\\\\"'])
    invent = {"a": "[" * 500, "b": "{" * 500, "k[[": _nested(3, lambda d: {"\\\"[": d})}
    for doc, deep in ((hide, refused), (invent, False)):
        data = json.dumps(doc).encode()
        data += b" " * (256 * data.count(b"\\"))  # few enough escapes for the text path
        assert bounds.json_too_deep(data) is deep
        assert bounds.walk_too_deep(json.loads(data)) is deep
    # the same verdict through the loader, the walk included (a text of escapes only is walked)
    (tmp_path / "f.json").write_text(json.dumps({"kind": "List", "items": [{"spec": hide}]}))
    if refused:
        with pytest.raises(SourceError, match="nested deeper"):
            snapshot.load([str(tmp_path)])
    escapes = json.dumps({"s": "\\" * 1000, "x": _nested(depth - 1, lambda d: [d])}).encode()
    assert bounds.json_too_deep(escapes) is None
    assert bounds.walk_too_deep(json.loads(escapes)) is refused
    (tmp_path / "f.json").write_bytes(escapes)
    with pytest.raises(SourceError, match="nested deeper") if refused else contextlib.nullcontext():
        snapshot.load([str(tmp_path / "f.json")])


def test_json_depth_precheck_is_cheaper_than_walking_the_tree(tmp_path: Path) -> None:
    """On a List of many objects (the common large file) the text pre-check beats the tree walk."""
    data = (write_clone(fleet_base(vmis=100, nodes=15), 2, tmp_path).list_file or tmp_path).read_bytes()
    doc = json.loads(data)
    text_s = min(timeit.repeat(lambda: bounds.json_too_deep(data), number=3, repeat=3))
    walk_s = min(timeit.repeat(lambda: bounds.walk_too_deep(doc), number=3, repeat=3))
    assert text_s < walk_s, (text_s, walk_s)


def test_a_large_file_is_parsed_without_a_copy_of_its_bytes(tmp_path: Path) -> None:
    """Peak memory of reading a List file (issue 15): its text and objects, as the floor holds them, not
    also its bytes (a third copy of the largest file, when the reader held them while parsing)."""
    path = write_clone(fleet_base(vmis=100, nodes=15), 1, tmp_path).list_file
    assert path is not None

    def peak(read: Any) -> int:
        tracemalloc.start()
        try:
            kept = read()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            del kept

    floor = peak(lambda: json.loads(path.read_bytes().decode()))
    tool = peak(lambda: snapshot.load([str(path)]))
    assert tool < 1.1 * floor, (tool, floor, path.stat().st_size)


@pytest.mark.parametrize("command", [("doctor", "-A", "-o", "json"), ("describe", "-A", "-o", "json")])
def test_json_output_through_the_c_encoder_is_byte_identical(command: tuple[str, ...]) -> None:
    """jsonout.dumps_indented writes the bytes of json.dumps(indent=2, ensure_ascii=False) (issue 15),
    on the demo and every scenario."""
    sources = [("--demo",)] if HAS_DEMO else []
    sources += [("--snapshot", str(d / "snapshot")) for d in scenario_dirs()]
    assert len(sources) > 5
    for source in sources:
        run = cli(*command, *source)
        assert run.code in (0, 1), run.err
        doc = json.loads(run.out)
        assert dumps_indented(doc) + "\n" == run.out == json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    | st.tuples(inner, inner),
    max_leaves=30,
)


@settings(max_examples=300 if full() else 60, derandomize=True, database=None, deadline=None)
@given(JSON_VALUES)
def test_dumps_indented_equals_json_dumps_on_any_value(doc: Any) -> None:
    assert dumps_indented(doc) == json.dumps(doc, indent=2, ensure_ascii=False)


@pytest.mark.parametrize(
    "doc",
    [
        {"a": [jsonout._HOLE, {"b": 1}], jsonout._HOLE: {"c": []}, "x": '"' + jsonout._HOLE},
        [jsonout._HOLE, [1]],
        ('"' + jsonout._HOLE, [1], {"k": '"' + jsonout._HOLE + '"'}),
        {1: [1], False: {"t": [[]]}, None: [None], 2.5: {}},
        [[], {}, [[{}]], ""],
        {"a": OrderedDict(b=[1, {"c": 2}]), "l": [defaultdict(int, x=1)]},
    ],
    ids=["placeholder-value-and-key", "placeholder-in-a-list", "placeholder-inside-strings", "keys-not-text",
         "empty-containers", "subclasses-of-dict"],
)
def test_dumps_indented_is_exact_when_the_data_holds_its_placeholder(doc: Any) -> None:
    """Nested containers stand in as a placeholder string while their parent is encoded; the same string
    in the data (as a value, a key, inside another string) is found, and that container written item by item."""
    assert dumps_indented(doc) == json.dumps(doc, indent=2, ensure_ascii=False)


def test_a_launchers_domain_xml_is_parsed_once_for_all_its_gpus(tmp_path: Path, monkeypatch: Any) -> None:
    """A VM with several GPUs has one domain: its XML is parsed once per launcher, not once per GPU."""
    from kubectl_vmgpu import chain, evidence
    from kubectl_vmgpu.index import Index

    write_clone(fleet_base(vmis=100, nodes=15), 1, tmp_path)
    parsed: list[str] = []
    real = evidence.parse_domain
    monkeypatch.setattr(evidence, "parse_domain", lambda text: parsed.append(text) or real(text))
    views = chain.link(Index(snapshot.load([str(tmp_path)])))
    with_domain = [v for v in views if v.pod_evidence is not None and v.pod_evidence.domain_xml is not None]
    assert any(len(v.chains) > 1 for v in with_domain)
    assert sorted(parsed) == sorted(v.pod_evidence.domain_xml for v in with_domain if v.pod_evidence)
