"""Property tests: mutated scenario objects and evidence never crash a command, and JSON output parses."""

from __future__ import annotations

import copy
import functools
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubectl_vmgpu import bundle, cli, pipeline
from kubectl_vmgpu.model import ClusterFacts, Inventory, PodEvidence
from kubectl_vmgpu.normalize import add_objects
from kubectl_vmgpu.sources import snapshot
from tests.conftest import full
from tests.helpers import cli as run_cli
from tests.helpers import scenario_dirs

# cel-python (when installed) sets the recursion limit to 2500 in every Environment it builds.
pytestmark = pytest.mark.filterwarnings("ignore:The recursion limit will not be reset")
SCENARIOS = {p.name: p / "snapshot" for p in scenario_dirs()}
NAMES = sorted(SCENARIOS)
# Full size (`pytest --full`, VMGPU_FULL=1, a separate step of .ci/run): >= 2,000 generated cases in
# total (see test_enough_cases_ran). The default run, the README's, draws about a fifth of them.
FULL = full()
EXAMPLES = (
    {"objects": 1300, "evidence": 650, "cluster": 200, "snapshot_files": 60, "cluster_info": 40, "kubeconfig": 60}
    if FULL
    else {"objects": 250, "evidence": 120, "cluster": 40, "snapshot_files": 15, "cluster_info": 20, "kubeconfig": 30}
)
COUNTS: dict[str, int] = dict.fromkeys(EXAMPLES, 0)


def _settings(name: str) -> Callable[[Any], Any]:
    return settings(
        max_examples=EXAMPLES[name],
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


@functools.cache
def _base(name: str) -> Inventory:
    return snapshot.load([str(SCENARIOS[name])])


# ---- values that drivers, controllers and hands write ----------------------------------------

TEXTS = st.one_of(
    st.sampled_from(
        ["", " ", "x" * 100_000, "ünïcødé ✔ 😀", "a/b", "../..", "%s{0}", "\x00\x1b[31m", "null", "0", "-1", "v1"]
    ),
    st.text(max_size=20),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXTS,
)
VALUES = st.one_of(
    SCALARS,
    st.just([]),
    st.just({}),
    st.lists(SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=6), SCALARS, max_size=3),
    st.lists(st.dictionaries(st.sampled_from(["name", "uid", "kind", "key", "value"]), SCALARS), max_size=2),
)


# Type confusion breaks consumers far more often than absence: weighted accordingly.
OPS = ["value"] * 4 + ["swap"] * 3 + ["drop", "null", "empty", "huge", "dup", "nest"]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into node (the first 3 items of a list), leaves and containers alike."""
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node[:3]):
            out += _paths(value, (*prefix, i))
    return out


def _pick_path(data: st.DataObject, obj: Any) -> list[Any]:
    """A path into obj, any node equally likely: the fields consumers read are all reached."""
    return list(data.draw(st.sampled_from(_paths(obj)), label="path"))


def _mutate_at(data: st.DataObject, root: dict[str, Any], path: list[Any]) -> None:
    if not path:
        return
    parent = root
    for key in path[:-1]:
        parent = parent[key]
    key, value = path[-1], parent[path[-1]]
    op = data.draw(st.sampled_from(OPS), label="op")
    if op == "drop":
        del parent[key]
    elif op == "null":
        parent[key] = None
    elif op == "value":
        parent[key] = data.draw(VALUES, label="value")
    elif op == "swap":  # the same data in a wrong container type
        swaps = {dict: lambda v: list(v.values()), list: lambda v: {str(i): x for i, x in enumerate(v)}}
        parent[key] = swaps.get(type(value), lambda v: [v])(value)
    elif op == "empty":
        parent[key] = type(value)() if isinstance(value, (dict, list, str)) else ""
    elif op == "huge":
        parent[key] = str(value) * (20_000 // max(1, len(str(value)))) if not isinstance(value, list) else value * 50
    elif op == "dup" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(value))
    elif op == "nest":
        parent[key] = {"a": [value]} if data.draw(st.booleans()) else [[value]]


class Objects(list):  # type: ignore[type-arg]
    """The objects of an inventory, each deep-copied only when a mutation first touches it."""

    def __init__(self, inv: Inventory) -> None:
        super().__init__(o for kind in sorted(inv.objects) for o in inv.objects[kind])
        self.owned: set[int] = set()

    def own(self, i: int) -> dict[str, Any]:
        if id(self[i]) not in self.owned:
            self[i] = copy.deepcopy(self[i])
            self.owned.add(id(self[i]))
        return self[i]  # type: ignore[no-any-return]


def _objects(inv: Inventory) -> Objects:
    return Objects(inv)


def _rebuild(inv: Inventory, objects: list[Any], **changes: Any) -> Inventory:
    new = Inventory(
        evidence=changes.get("evidence", dict(inv.evidence)),
        cluster=changes.get("cluster", inv.cluster),
        resource_versions={g: set(v) for g, v in inv.resource_versions.items()},
        origin=inv.origin,
        listed=set(inv.listed),
    )
    add_objects(new, objects)
    return new


def _object_mutation(data: st.DataObject, objs: Objects) -> None:
    """One structural change to the object list: fields, duplicates, owner cycles, apiVersions."""
    if not objs:
        return
    i = data.draw(st.integers(0, len(objs) - 1), label="object")
    op = data.draw(st.sampled_from(["field"] * 6 + ["dup", "owners", "version", "drop", "kind"]), label="object op")
    obj = objs.own(i)
    if op == "field":
        _mutate_at(data, obj, _pick_path(data, obj))
    elif op == "dup":  # same kind and name, different content
        twin = copy.deepcopy(obj)
        _mutate_at(data, twin, _pick_path(data, twin))
        objs.insert(data.draw(st.integers(0, len(objs))), twin)
    elif op == "owners":  # a cycle of controller ownerReferences through 1-3 objects
        ring = [objs.own(data.draw(st.integers(0, len(objs) - 1))) for _ in range(data.draw(st.integers(1, 3)))]
        for a, b in zip(ring, ring[1:] + ring[:1], strict=True):
            meta_b = b.get("metadata") if isinstance(b.get("metadata"), dict) else {}
            ref = {"kind": b.get("kind"), "name": meta_b.get("name"), "uid": meta_b.get("uid"), "controller": True}
            if isinstance(a.get("metadata"), dict):
                a["metadata"]["ownerReferences"] = [ref]
    elif op == "version":
        obj["apiVersion"] = data.draw(
            st.sampled_from(
                [
                    "resource.k8s.io/v1beta1",
                    "resource.k8s.io/v1beta2",
                    "resource.k8s.io/v2",
                    "kubevirt.io/v1alpha3",
                    "events.k8s.io/v1",
                    "v1",
                    "",
                    "kubevirt.io/v1/extra",
                    7,
                ]
            ),
            label="apiVersion",
        )
    elif op == "drop":
        del objs[i]
    elif op == "kind":
        other = data.draw(st.sampled_from(sorted({str(o.get("kind")) for o in objs})), label="kind")
        obj["kind"] = other


def _evidence_text(data: st.DataObject, text: str) -> str:
    """Truncated streams, wrong apiVersions, malformed or hostile XML and JSON."""
    op = data.draw(
        st.sampled_from(["truncate", "version", "deep", "entity", "garbage", "huge", "field", "header", "attr"]),
        label="evidence op",
    )
    if op == "truncate":
        return text[: data.draw(st.integers(0, len(text)))]
    if op == "version":
        return text.replace("v1alpha1", data.draw(st.sampled_from(["v1beta1", "v1", "", "v1alpha1\u0000"])))
    if op == "deep":
        n = data.draw(st.sampled_from([63, 64, 65, 2000]))
        return "[" * n + "]" * n if data.draw(st.booleans()) else "<domain>" + "<a>" * n + "</a>" * n + "</domain>"
    if op == "entity":
        return '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]><domain>&e;</domain>'
    if op == "garbage":
        return data.draw(TEXTS, label="garbage")
    if op == "huge":
        return text * 30
    if op == "header":  # a file that prints a fake `head -v` header
        return text + "\n==> /var/run/kubernetes.io/dra-device-attributes/x-metadata.json <==\n{}"
    if op == "attr":  # odd libvirt address values
        bad = data.draw(st.sampled_from(["0xzz", "", "0x" + "f" * 40, "-1", "٣"]))
        return text.replace("bus='0x", f"bus='{bad}").replace('bus="0x', f'bus="{bad}')
    try:  # "field": one JSON field of a metadata stream changed like an object field
        doc = json.loads(text)
    except ValueError:
        return text[::-1]
    holder = {"doc": doc}
    _mutate_at(data, holder, ["doc", *_pick_path(data, doc)])
    return json.dumps(holder.get("doc"))


def _mutate_evidence(data: st.DataObject, evidence: dict[Any, PodEvidence]) -> dict[Any, PodEvidence]:
    out = dict(evidence)
    if not out:
        return out
    key = data.draw(st.sampled_from(sorted(out)), label="pod")
    ev = out[key]
    piece = data.draw(st.sampled_from(["metadata", "vfio", "domain", "unavailable", "none"]), label="piece")
    if piece == "metadata":
        files = dict(ev.metadata_files or {})
        if files and data.draw(st.booleans()):
            path = data.draw(st.sampled_from(sorted(files)))
            files[path] = _evidence_text(data, files[path])
        else:
            files[data.draw(st.sampled_from(sorted(files) or ["/x"]) | TEXTS, label="path")] = data.draw(TEXTS)
        out[key] = PodEvidence(files, ev.vfio_listing, ev.domain_xml, ev.unavailable)
    elif piece == "vfio":
        listing = ev.vfio_listing or "total 0\ncrw-rw-rw- 1 root root 10, 196 Nov 27 10:12 vfio\n"
        out[key] = PodEvidence(ev.metadata_files, _evidence_text(data, listing), ev.domain_xml, ev.unavailable)
    elif piece == "domain":
        xml = ev.domain_xml or "<domain><name>x</name></domain>"
        out[key] = PodEvidence(ev.metadata_files, ev.vfio_listing, _evidence_text(data, xml), ev.unavailable)
    elif piece == "unavailable":
        reasons = data.draw(st.dictionaries(st.sampled_from(["metadata", "vfio", "domain", "x"]), TEXTS, max_size=3))
        out[key] = PodEvidence(ev.metadata_files, ev.vfio_listing, ev.domain_xml, reasons)
    else:
        out[key] = PodEvidence()
    return out


# ---- running every command on an inventory ---------------------------------------------------

RUNNER = CliRunner()
EXTRA = [
    ("doctor", "-o", "json"),
    ("doctor", "-o", "yaml"),
    ("describe", "-o", "text"),
    ("describe", "-o", "json"),
    ("devices", "-o", "json"),
    ("devices", "-o", "text"),
    ("doctor", "--fail-on", "info", "-o", "text"),
]


def _invoke(inv: Inventory, *args: str) -> Any:
    with mock.patch.object(pipeline, "_load", lambda scope: (inv, scope.namespace, None)):
        result = RUNNER.invoke(cli.main, list(args), catch_exceptions=False)
    assert result.exit_code in (0, 1), f"{args}: exit {result.exit_code}: {result.stderr}"
    if "json" in args:
        doc = json.loads(result.stdout)
        assert doc["schemaVersion"] == 1
    elif "yaml" in args:
        assert yaml.safe_load(result.stdout)["schemaVersion"] == 1
    return result


def check_all_commands(inv: Inventory, extra: tuple[str, ...], name: str | None = None) -> None:
    """describe and doctor (JSON and text) and one more command never raise; JSON parses.

    `collect` (the bundle writer, slow: pure-Python YAML) runs with the `devices -o text` draws.
    """
    scope = ("-A",) if name is None else (name, "-A")
    describe = _invoke(inv, "describe", *scope, "--explain-allocation", "-o", "json")
    assert describe.exit_code == 0
    _invoke(inv, "doctor", *scope, "-o", "text")
    _invoke(inv, *extra, *(scope if extra[0] != "devices" else ()))
    if extra == ("devices", "-o", "text"):
        bundle.files(inv)


# ---- the properties --------------------------------------------------------------------------


@_settings("objects")
@given(st.sampled_from(NAMES), st.data(), st.sampled_from(EXTRA))
def test_mutated_objects_never_crash(name: str, data: st.DataObject, extra: tuple[str, ...]) -> None:
    inv = _base(name)
    objs = _objects(inv)
    for _ in range(data.draw(st.integers(1, 6), label="mutations")):
        _object_mutation(data, objs)
    mutated = _rebuild(inv, objs)
    vmi = data.draw(st.sampled_from([None, *sorted(n for _, n in _keys(mutated))]), label="name")
    check_all_commands(mutated, extra, vmi)
    COUNTS["objects"] += 1


def _keys(inv: Inventory) -> set[tuple[str, str]]:
    from kubectl_vmgpu.build import meta

    return {
        (m.namespace, m.name) for kind in ("VirtualMachineInstance", "VirtualMachine") for m in map(meta, inv.of(kind))
    }


@_settings("evidence")
@given(st.sampled_from([n for n in NAMES if _base(n).evidence] or NAMES), st.data(), st.sampled_from(EXTRA))
def test_mutated_evidence_never_crashes(name: str, data: st.DataObject, extra: tuple[str, ...]) -> None:
    inv = _base(name)
    evidence = dict(inv.evidence)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        evidence = _mutate_evidence(data, evidence)
    check_all_commands(_rebuild(inv, _objects(inv), evidence=evidence), extra)
    COUNTS["evidence"] += 1


GROUPS = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(["", "kubevirt.io", "resource.k8s.io", "x"]),
        st.lists(st.sampled_from(["v1", "v1beta1", "v1beta2", "", "v2"]), max_size=3).map(tuple),
        max_size=4,
    ),
)


@_settings("cluster")
@given(
    st.sampled_from(NAMES),
    GROUPS,
    st.dictionaries(TEXTS, TEXTS, max_size=3),
    st.one_of(st.none(), TEXTS),
    st.sets(st.sampled_from(["Pod", "ResourceClaim", "ResourceSlice", "DeviceClass", "Event", "KubeVirt"])),
    st.sampled_from(EXTRA),
)
def test_odd_cluster_facts_never_crash(
    name: str, groups: Any, unavailable: dict[str, str], version: Any, listed: set[str], extra: tuple[str, ...]
) -> None:
    inv = _base(name)
    mutated = _rebuild(inv, _objects(inv), cluster=ClusterFacts(version, groups, unavailable))
    mutated.listed = listed
    check_all_commands(mutated, extra)
    COUNTS["cluster"] += 1


@_settings("snapshot_files")
@given(st.sampled_from(NAMES), st.data(), st.sampled_from(["json", "yaml", "tar"]))
def test_mutated_snapshot_files_through_the_real_cli(name: str, data: st.DataObject, form: str) -> None:
    """The whole path a user takes: files on disk, the loader, the CLI; exit 0/1, no traceback."""
    inv = _base(name)
    objs = _objects(inv)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        _object_mutation(data, objs)
    if data.draw(st.booleans(), label="surrogates") and objs:  # `\ud800` escapes survive only in JSON
        objs.own(0).setdefault("metadata", {})["annotations"] = {"note": "lone \ud800 surrogate"}
    files = bundle.files(_rebuild(inv, [])) | {"objects/mutated.json": json.dumps({"kind": "List", "items": objs})}
    if form == "yaml":
        docs = [o for o in objs if "\ud800" not in json.dumps(o, ensure_ascii=False, default=str)]
        del files["objects/mutated.json"]
        files["objects/mutated.yaml"] = yaml.safe_dump_all(docs, allow_unicode=True).encode()
    root = _tmp_dir(name)
    target = root / "snap.tar.gz" if form == "tar" else root / "snap"
    _write(files, target, tar=form == "tar")
    for args in (("describe", "-A", "-o", "json"), ("doctor", "-A")):
        run = run_cli(*args, "--snapshot", str(target))
        assert run.code in (0, 1), f"{args}: {run.code} {run.err}"
        assert "Traceback" not in run.err
        if "json" in args:
            json.loads(run.out)
    COUNTS["snapshot_files"] += 1


# Any YAML value: what a hand-written or hostile ClusterInfo or kubeconfig may hold where a field is expected.
ANY = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)


def _field(values: Any) -> Any:
    """A plausible value or any value at all."""
    return st.one_of(values, ANY)


@_settings("cluster_info")
@given(
    st.sampled_from(NAMES),
    _field(
        st.dictionaries(st.sampled_from(["", "kubevirt.io", "resource.k8s.io"]), _field(st.lists(st.text(max_size=4))))
    ),
    _field(st.lists(st.sampled_from(["Pod", "ResourceSlice", "DeviceClass"]))),
    _field(st.lists(st.fixed_dictionaries({"resource": ANY, "reason": ANY}))),
    _field(st.text(max_size=8)),
)
def test_generated_cluster_info_documents(name: str, groups: Any, listed: Any, unavailable: Any, version: Any) -> None:
    """Any ClusterInfo: read (exit 0/1) or refused in one line naming the file (exit 3), never a traceback."""
    doc = {"apiVersion": "vmgpu.kubevirt.io/v1alpha1", "kind": "ClusterInfo", "serverVersion": version}
    doc |= {"groups": groups, "listed": listed, "unavailable": unavailable}
    root = _tmp_dir(name)
    (root / "cluster-info.yaml").write_text(yaml.safe_dump(doc))
    run = run_cli("doctor", "-A", "--snapshot", str(SCENARIOS[name]), "--snapshot", str(root))
    assert run.code in (0, 1, 3) and "Traceback" not in run.err, run.err
    if run.code == 3:
        assert len(run.err.splitlines()) == 1 and "cluster-info.yaml: ClusterInfo" in run.err, run.err
    COUNTS["cluster_info"] += 1


def _kubeconfig_docs() -> Any:
    named = lambda body: st.lists(_field(st.fixed_dictionaries({"name": _field(st.just("x")), **body})), max_size=2)  # noqa: E731
    cluster = st.fixed_dictionaries(
        {},
        optional={
            "server": _field(st.just("https://10.0.0.1:6443")),
            "insecure-skip-tls-verify": ANY,
            "proxy-url": ANY,
        },
    )
    user = st.fixed_dictionaries({}, optional={"token": ANY, "client-key-data": ANY, "exec": ANY})
    context = st.fixed_dictionaries(
        {}, optional={"cluster": _field(st.just("x")), "user": _field(st.just("x")), "namespace": ANY}
    )
    return st.fixed_dictionaries(
        {"current-context": _field(st.just("x"))},
        optional={
            "clusters": _field(named({"cluster": _field(cluster)})),
            "users": _field(named({"user": _field(user)})),
            "contexts": _field(named({"context": _field(context)})),
        },
    )


@_settings("kubeconfig")
@given(_kubeconfig_docs())
def test_generated_kubeconfig_documents(doc: Any) -> None:
    """Any kubeconfig: loaded and handed to the client, or one SourceError; no other exception, no request."""
    from kubectl_vmgpu.model import Scope
    from kubectl_vmgpu.sources import cluster, kubeconfig
    from kubectl_vmgpu.sources.errors import SourceError

    path = _tmp_dir("kubeconfig") / "config"
    path.write_text(yaml.safe_dump(doc))
    try:
        if kubeconfig.load(str(path), None) is not None:
            cluster.Api(Scope(None, None, True, (), False, str(path), None, 1.0, True))
    except SourceError as exc:
        assert "\n" not in str(exc)
    COUNTS["kubeconfig"] += 1


_TMP: list[Path] = []


def _tmp_dir(name: str) -> Path:
    import shutil
    import tempfile

    if not _TMP:
        _TMP.append(Path(tempfile.mkdtemp(prefix="vmgpu-props-")))
    root = _TMP[0] / "case"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    return root


def _write(files: dict[str, Any], target: Path, tar: bool) -> None:
    blobs = {k: v.encode() if isinstance(v, str) else v for k, v in files.items()}
    if not tar:
        for rel, blob in blobs.items():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            (target / rel).write_bytes(blob)
        return
    with tarfile.open(target, "w:gz") as out:
        for rel, blob in blobs.items():
            info = tarfile.TarInfo(f"bundle/{rel}")
            info.size = len(blob)
            out.addfile(info, io.BytesIO(blob))


def test_enough_cases_ran() -> None:
    """At least 2,000 generated cases per full run (the CI's heavy step); every example drawn in any run."""
    if not all(COUNTS.values()):
        pytest.skip("only part of the module ran")
    print(f"generated cases: {sum(COUNTS.values())} {COUNTS}")
    assert COUNTS == EXAMPLES, "hypothesis stopped early: fewer cases than asked for"
    assert sum(COUNTS.values()) >= (2000 if FULL else 400), COUNTS


@pytest.fixture(scope="module", autouse=True)
def _cleanup() -> Any:
    yield
    import shutil

    for path in _TMP:
        shutil.rmtree(path, ignore_errors=True)
