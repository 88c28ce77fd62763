"""Hardening: read-only everywhere, least privilege, Ctrl-C and closed pipes, hostile evidence, crash regressions."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_vmgpu import evidence as ev
from kubectl_vmgpu import metadatafile as mf
from kubectl_vmgpu.checks import CHECKS
from kubectl_vmgpu.index import Index
from kubectl_vmgpu.model import Inventory, Scope
from kubectl_vmgpu.normalize import add_objects, resource_version
from kubectl_vmgpu.sources import cluster, launchers, snapshot
from kubectl_vmgpu.sources.errors import SourceError
from tests.helpers import REPO, SCENARIOS, cli
from tests.kubeapi import Authorizer, Fault, KubeAPIServer
from tests.test_live import assert_read_only

BASIC = REPO / "tests" / "kubeapi" / "testdata" / "basic"
RBAC = list(yaml.safe_load_all((REPO / "docs" / "rbac.yaml").read_text()))
ENTRY = [sys.executable, "-m", "kubectl_vmgpu.entry"]


def _rbac(kind: str, name: str) -> dict[str, Any]:
    return next(d for d in RBAC if d["kind"] == kind and d["metadata"]["name"] == name)


def _findings(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for v in doc["vmis"] for f in v["findings"] + [f for g in v["gpus"] for f in g["findings"]]]


# ---- 5. read-only: every command, every scope, every output ----------------------------------


def test_every_command_form_is_read_only(tmp_path: Path) -> None:
    """Only GET (and the exec upgrade, itself a GET), and exec only of the documented argument vectors."""
    with KubeAPIServer.from_snapshot(BASIC) as srv:
        kc = ["--kubeconfig", str(srv.write_kubeconfig(tmp_path / "kubeconfig", namespace="vms"))]
        for command in ("describe", "doctor"):
            for scope in ((), ("fedora-gpu",), ("-n", "vms"), ("fedora-gpu", "-n", "vms"), ("-A",)):
                for output in ("text", "json", "yaml"):
                    run = cli(command, *scope, "-o", output, *kc)
                    assert run.code in (0, 1), (command, scope, output, run.err)
        for i, scope in enumerate(((), ("fedora-gpu",), ("-n", "vms"), ("-A",), ("-A", "--no-exec"))):
            run = cli("collect", *scope, "-f", str(tmp_path / f"b{i}.tar.gz"), *kc)
            assert run.code == 0, (scope, run.err)
        for output in ("text", "json", "yaml"):
            assert cli("devices", "-o", output, *kc).code == 0
        assert {r.method for r in srv.requests} == {"GET"}
        assert any(r.is_exec and r.websocket for r in srv.requests)
        assert all(r.websocket for r in srv.requests if r.is_exec)
        assert_read_only(srv)


# ---- 4. permissions ---------------------------------------------------------------------------


def _rules_allow(rules: list[dict[str, Any]], group: str, resource: str, verb: str) -> bool:
    return Authorizer(cluster_rules=rules).allows(verb, group, resource, None)


GROUPS = {"kubevirt.io": ("v1",), "resource.k8s.io": ("v1", "v1beta2", "v1beta1"), "": ("v1",)}


def test_cluster_role_grants_every_read_of_the_plan() -> None:
    """Every resource plan() reads (all API groups served, every scope) and exec are in the ClusterRole."""
    rules = _rbac("ClusterRole", "kubectl-vmgpu")["rules"]
    groups = {"kubevirt.io": ("v1",), "resource.k8s.io": ("v1", "v1beta2", "v1beta1"), "": ("v1",)}
    reads = set()
    for name, namespace in ((None, None), (None, "vms"), ("vm", "vms")):
        scope = Scope(name, namespace, namespace is None, (), False, None, None, None, False)
        reads |= {(r.resource, "get" if r.single else "list") for r in cluster.plan(groups, scope, namespace)}
    assert {"virtualmachineinstances.kubevirt.io", "resourceslices.resource.k8s.io", "pods"} <= {r for r, _ in reads}
    for resource, verb in sorted(reads):
        name, _, group = resource.partition(".")
        assert _rules_allow(rules, group, name, verb), (resource, verb)
    assert _rules_allow(rules, "", "pods/exec", "get") and _rules_allow(rules, "", "pods/exec", "create")
    role = _rbac("Role", "kubectl-vmgpu")["rules"]
    for name, group in (
        ("kubevirts", "kubevirt.io"),
        ("deviceclasses", "resource.k8s.io"),
        ("resourceslices", "resource.k8s.io"),
        ("nodes", ""),
    ):
        assert not _rules_allow(role, group, name, "list"), "the Role must hold no cluster-scoped resource"


def test_cluster_role_is_enough_for_everything(tmp_path: Path) -> None:
    """Under exactly the shipped ClusterRole (a 1.35 server: exec needs get and create), nothing is refused."""
    snap = tmp_path / "snap"
    shutil.copytree(BASIC, snap)
    info = snap / "cluster-info.yaml"
    info.write_text(info.read_text().replace("v1.34.2", "v1.35.0"))
    with KubeAPIServer.from_snapshot(snap) as srv:
        kc = str(srv.write_kubeconfig(tmp_path / "kubeconfig"))
        open_run = cli("doctor", "-A", "-o", "json", "--kubeconfig", kc)
        srv.rbac = Authorizer.from_documents([_rbac("ClusterRole", "kubectl-vmgpu")])
        srv.reset_requests()
        run = cli("doctor", "-A", "-o", "json", "--kubeconfig", kc)
        assert not [r.path for r in srv.requests if r.status == 403]
        assert any(r.is_exec and r.status == 101 for r in srv.requests)
    assert json.loads(run.out)["vmis"] == json.loads(open_run.out)["vmis"]


# Checks that read only namespaced objects (the VMI, its VM, pods, events, claims and templates).
NAMESPACED_STAGES = ("vmi", "claim")
CLUSTER_INPUTS = {
    "VG207": "the allocated device's type comes from a ResourceSlice",
    "VG208": "class-level opaque config comes from the DeviceClass",
    "VG209": "the KubeVirt version comes from the KubeVirt CR",
}
NAMESPACE_USER = [
    "api-device-not-enabled",
    "claim-not-declared",
    "claim-not-reserved",
    "claim-pending-all-gpus-taken",
    "claim-source-both-set",
    "claim-wrong-node",
    "container-gpu-class",
    "direct-claim-missing",
    "launcher-memlock",
    "prepare-failed-deadline",
    "request-count-two",
    "request-name-typo",
    "stale-generated-claim",
    "template-missing",
    "vfio-config-unknown-field",
    "vm-start-refused-duplicate-request",
]


@pytest.mark.parametrize("name", NAMESPACE_USER)
def test_namespace_user_gets_every_vmi_level_finding(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the shipped Role (no exec, no cluster-scoped reads): VMI-level findings stay, gaps are named."""
    vmi_level = {c.id for c in CHECKS if c.stage in NAMESPACED_STAGES} | {"VG506"}
    loaded: list[Inventory] = []
    real_read = cluster.Reader.read
    monkeypatch.setattr(cluster.Reader, "read", lambda self: (lambda inv: loaded.append(inv) or inv)(real_read(self)))
    with KubeAPIServer.from_snapshot(SCENARIOS / name / "snapshot") as srv:
        kc = str(srv.write_kubeconfig(tmp_path / "kubeconfig"))
        full = json.loads(cli("doctor", "-A", "-o", "json", "--kubeconfig", kc).out)
        for namespace in sorted({v["namespace"] for v in full["vmis"]}):
            role = {**_rbac("Role", "kubectl-vmgpu"), "metadata": {"name": "r", "namespace": namespace}}
            srv.rbac = Authorizer.from_documents([role])
            run = cli("doctor", "-n", namespace, "-o", "json", "--kubeconfig", kc)
            assert run.code in (0, 1), run.err
            limited = json.loads(run.out)
            # The same finding; its message may lack what only cluster-scoped objects tell (an allocation
            # explained device by device needs the ResourceSlices).
            want = [
                (f["vmi"]["name"], f["id"], f["gpu"])
                for f in _findings(full)
                if f["vmi"]["namespace"] == namespace and f["id"] in vmi_level and f["id"] not in CLUSTER_INPUTS
            ]
            got = {(f["vmi"]["name"], f["id"], f["gpu"]) for f in _findings(limited)}
            assert [w for w in want if w not in got] == []
            gaps = dict(loaded[-1].cluster.unavailable)
            in_ns = Scope(None, namespace, False, (), False, None, None, None, False)
            cluster_scoped = {
                r.resource
                for r in cluster.plan(GROUPS, in_ns, namespace)
                if "/namespaces/" not in r.path and r.fallback is None  # launchers and claims: read in the namespace
            }
            assert cluster_scoped and cluster_scoped <= set(gaps), gaps
            running = [v for v in limited["vmis"] if v["launcherPod"] and v["phase"] == "Running"]
            for vmi in running:
                unchecked = [f for f in vmi["findings"] if f["name"] == "evidence-unavailable"]
                assert unchecked and "pods/exec forbidden" in unchecked[0]["message"], vmi["name"]
            srv.rbac = None


# ---- 6. Ctrl-C and closed pipes ----------------------------------------------------------------


def _entry(*args: str, **kw: Any) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([*ENTRY, *args], cwd=REPO, text=True, env=env, stderr=subprocess.PIPE, **kw)


def test_ctrl_c_exits_130_without_a_traceback(tmp_path: Path) -> None:
    with KubeAPIServer.from_snapshot(BASIC) as srv:
        srv.faults["pods"] = Fault(latency=20)
        kc = str(srv.write_kubeconfig(tmp_path / "kubeconfig"))
        proc = _entry("doctor", "-A", "--kubeconfig", kc, stdout=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while not any(r.path.endswith("/pods") for r in srv.requests) and time.monotonic() < deadline:
            time.sleep(0.05)  # the slow list is in flight
        time.sleep(0.2)
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 130, err
    assert time.monotonic() - start < 5, "Ctrl-C must not wait for requests in flight"
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


@pytest.mark.parametrize("command", [("describe", "--demo"), ("doctor", "--demo", "-o", "json")])
def test_closed_pipe_exits_quietly(command: tuple[str, ...]) -> None:
    proc = _entry(*command, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before anything is written: every write fails
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "BrokenPipe" not in err and "Exception ignored" not in err and "Traceback" not in err


def test_pipe_into_head(tmp_path: Path) -> None:
    """`| head -1` on output larger than the pipe buffer: the pipeline's reader wins, nothing on stderr."""
    from tests.synth.big import big_lab

    big_lab(40, 4).write(tmp_path / "big")
    shell = f"{' '.join(ENTRY)} describe -A --snapshot {tmp_path / 'big'} | head -1; echo rc=${{PIPESTATUS[0]}}"
    out = subprocess.run(
        ["bash", "-c", shell],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert out.stdout.splitlines()[-1] == "rc=0", out
    assert len(out.stdout.splitlines()) == 2 and not out.stderr, out


def test_terminals_that_cannot_show_the_tree_get_replacements() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONIOENCODING": "latin-1"}
    out = subprocess.run([*ENTRY, "describe", "--demo"], cwd=REPO, capture_output=True, env=env, timeout=60)
    assert out.returncode == 0 and b"Traceback" not in out.stderr
    assert b"?" in out.stdout and b"VMI " in out.stdout


# ---- 2. hostile evidence ----------------------------------------------------------------------


def _evidence_snapshot(tmp_path: Path, edit: Any) -> Path:
    snap = tmp_path / "snap"
    shutil.copytree(BASIC, snap)
    edit(snap)
    return snap


def _doctor(snap: Path) -> list[dict[str, Any]]:
    run = cli("doctor", "-A", "-o", "json", "--snapshot", str(snap))
    assert run.code in (0, 1) and "Traceback" not in run.err, run.err
    return _findings(json.loads(run.out))


@pytest.mark.parametrize(
    "xml",
    [
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><domain>&b;</domain>',
        '<!DOCTYPE domain [<!ENTITY x SYSTEM "file:///etc/passwd">]><domain><name>&x;</name></domain>',
        '<!doctype domain SYSTEM "http://example.invalid/d.dtd"><domain/>',
    ],
    ids=["entity-expansion", "external-entity", "external-dtd"],
)
def test_domain_xml_with_entities_is_refused_with_a_finding(xml: str, tmp_path: Path) -> None:
    snap = _evidence_snapshot(tmp_path, lambda s: next(s.glob("evidence/*/*/domain.xml")).write_text(xml))
    gaps = [f["message"] for f in _doctor(snap) if f["name"] == "evidence-unavailable"]
    assert any("domain XML declares a DTD or entities, refused" in m for m in gaps), gaps


@pytest.mark.parametrize(
    ("content", "refusal"),
    [
        ("[" * 100 + "]" * 100, "JSON nested deeper than 64 levels, refused"),
        (" " * (1 << 20) + "{}", "1048576 bytes or more (more than is read), refused"),
    ],
    ids=["deep", "oversized"],
)
def test_deep_or_huge_metadata_is_refused_with_a_finding(content: str, refusal: str, tmp_path: Path) -> None:
    def write(snap: Path) -> None:
        next(snap.glob("evidence/vms/**/*-metadata.json")).write_text(content)

    found = [f for f in _doctor(_evidence_snapshot(tmp_path, write)) if f["name"] == "metadata-unreadable"]
    assert found and refusal in found[0]["message"], found


def test_a_file_cannot_pass_for_another_in_head_output(tmp_path: Path) -> None:
    """A metadata file that prints a `==> path <==` header is refused, not split into a fake file."""
    fake = "\n==> /var/run/kubernetes.io/dra-device-attributes/resourceclaimtemplates/x/y/z-metadata.json <==\n{}"

    def inject(snap: Path) -> None:
        path = next(snap.glob("evidence/vms/**/*-metadata.json"))
        path.write_text(path.read_text() + fake)

    with KubeAPIServer.from_snapshot(_evidence_snapshot(tmp_path, inject)) as srv:
        run = cli("doctor", "-A", "-o", "json", "--kubeconfig", str(srv.write_kubeconfig(tmp_path / "kc")))
    messages = [f["message"] for f in _findings(json.loads(run.out))]
    assert any("file headers that were not asked for" in m for m in messages), messages
    with pytest.raises(ev.EvidenceError):
        ev.split_head_output("==> /a <==\nx" + fake.replace("/var", "/b"), ["/a"])
    assert ev.split_head_output("==> /a <==\nx\n\n==> /b <==\ny", ["/a", "/b"]) == {"/a": "x\n", "/b": "y"}


# ---- crashes found by the property tests and the sweep, one explicit example each ------------


def _vmi(**meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": {"name": "vm", "namespace": "ns", "uid": "u1", **meta},
        "spec": {
            "domain": {"devices": {"gpus": [{"name": "g", "claimName": "c", "requestName": "r"}]}},
            "resourceClaims": [{"name": "c", "resourceClaimName": "claim"}],
        },
        "status": {"phase": "Running"},
    }


def _report(objs: list[Any], *args: str) -> dict[str, Any]:
    from unittest import mock

    from click.testing import CliRunner

    from kubectl_vmgpu import cli as cli_module
    from kubectl_vmgpu import pipeline

    inv = Inventory(origin="test")
    add_objects(inv, objs)
    with mock.patch.object(pipeline, "_load", lambda scope: (inv, None, None)):
        result = CliRunner().invoke(
            cli_module.main, ["describe", "-A", "--explain-allocation", "-o", "json", *args], catch_exceptions=False
        )
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


SLICE = {
    "apiVersion": "resource.k8s.io/v1",
    "kind": "ResourceSlice",
    "metadata": {"name": "s"},
    "spec": {
        "driver": "gpu.nvidia.com",
        "nodeName": "n1",
        "pool": {"name": "n1", "generation": 1, "resourceSliceCount": 1},
        "devices": [{"name": "gpu-0", "attributes": {"type": {"string": "vfio"}}}],
    },
}
CLAIM = {
    "apiVersion": "resource.k8s.io/v1",
    "kind": "ResourceClaim",
    "metadata": {
        "name": "claim",
        "namespace": "ns",
        "uid": "c1",
        "deletionTimestamp": "2025-01-01T00:00:00Z",
        "finalizers": ["a"],
    },
    "spec": {"devices": {"requests": [{"name": "r", "exactly": {"deviceClassName": "vfio.gpu.nvidia.com"}}]}},
    "status": {
        "allocation": {
            "devices": {"results": [{"request": "r", "driver": "gpu.nvidia.com", "pool": "n1", "device": "gpu-0"}]},
            "nodeSelector": {
                "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]
            },
        }
    },
}


def _with(obj: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(obj))
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


@pytest.mark.parametrize(
    ("obj", "path", "value"),
    [
        (_vmi(), ("kind",), ["VirtualMachineInstance"]),  # normalize: unhashable kind
        (_vmi(), ("metadata", "resourceVersion"), "9" * 20_000),  # normalize: int() of 20,000 digits
        (_vmi(), ("metadata", "name"), 1234),  # YAML `name: 1234`
        (_vmi(), ("status", "activePods"), 7),  # chain.select_pod: `uid in 7`
        (
            _vmi(),
            ("status", "deviceStatus"),
            {"gpuStatuses": [{"name": "g", "deviceResourceClaimStatus": {"attributes": 7}}]},
        ),  # chain._evidence: 7.get
        (
            _vmi(),
            ("status", "deviceStatus"),
            {"gpuStatuses": [{"name": "g", "deviceResourceClaimStatus": {"attributes": {"pciAddress": 7}}}]},
        ),  # checks/launcher.pci_mismatch: 7.lower()
        (CLAIM, ("metadata", "finalizers"), 7),  # checks/claim.py: ", ".join(7)
        (
            CLAIM,
            ("status", "allocation", "nodeSelector", "nodeSelectorTerms", 0, "matchFields", 0, "values"),
            {"a": 1},
        ),  # chain._alloc_node: values[0]
        (CLAIM, ("status", "allocation", "devices", "config"), [{"requests": 7}]),  # chain._configs
        (SLICE, ("spec", "pool", "generation"), "x"),  # chain._device: int("x")
        (SLICE, ("spec", "pool", "resourceSliceCount"), [1]),  # checks/device.py: int([1])
        (SLICE, ("spec", "devices", 0, "attributes"), 7),  # chain._attributes: 7.items()
        (SLICE, ("spec", "devices", 0, "attributes", "numa"), {"int": None}),  # cel._typed: int(None)
        (SLICE, ("spec", "devices", 0, "attributes", "type", "string"), [1]),  # allocation: unhashable type
        ({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}, ("metadata", "labels"), 7),
        (
            {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "ns"}},
            ("involvedObject",),
            7,
        ),  # index: 7.get
        (
            {
                "apiVersion": "events.k8s.io/v1",
                "kind": "Event",
                "metadata": {"name": "e", "namespace": "ns"},
                "regarding": {},
            },
            ("series",),
            [1],
        ),  # normalize._event_v1: [1].get
    ],
)
def test_odd_shapes_do_not_crash(obj: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "p",
            "namespace": "ns",
            "uid": "p1",
            "labels": {"kubevirt.io": "virt-launcher", "kubevirt.io/created-by": "u1"},
        },
        "spec": {"nodeName": "n1", "nodeSelector": {"a": "b"}},
        "status": {"phase": "Pending"},
    }
    objs = [_vmi(), CLAIM, SLICE, pod, _with(obj, path, value)]
    _report(objs)


def test_resource_versions_compare_by_value_at_any_length() -> None:
    old, new = ({"metadata": {"resourceVersion": rv}} for rv in ("9" * 30, "1" + "0" * 30))
    assert resource_version(old) < resource_version(new)
    assert resource_version({"metadata": {"resourceVersion": "²"}}) == (-1, "")


def test_metadata_streams_of_odd_shapes_are_refused_not_crashed() -> None:
    """Odd shapes fail as KubeVirt v1.8.3+ fails them (Go type errors); an over-long number in a field
    KubeVirt ignores is valid JSON to Go and no longer refused (issue 16 item 11)."""
    v1a1 = '{"apiVersion":"metadata.resource.k8s.io/v1alpha1",'
    with pytest.raises(ev.EvidenceError, match="decode metadata.resource.k8s.io/v1alpha1: json: cannot unmarshal"):
        mf.parse_metadata("/p", v1a1 + '"requests":5}')
    with pytest.raises(ev.EvidenceError, match="Go struct field DeviceMetadataRequest.requests.devices"):
        mf.parse_metadata("/p", v1a1 + '"requests":[{"name":"g","devices":7}]}')
    assert mf.parse_metadata("/p", v1a1 + '"x":' + "1" * 5000 + "}").requests == {}


@pytest.mark.parametrize(
    ("name", "text", "error"),
    [
        ("a.yaml", "kind: X\nspec: {n: " + "1" * 5000 + "}\n", "invalid YAML: Exceeds the limit"),
        ("a.json", '{"kind": "X", "n": ' + "1" * 5000 + "}", "invalid JSON: Exceeds the limit"),
        ("a.json", '{"spec": ' + "[" * 100_000 + "]" * 100_000 + "}", "invalid JSON: maximum recursion depth"),
        ("a.json", '{"spec": ' + "[" * 500 + "]" * 500 + "}", "JSON nested deeper than 100 levels"),
        ("a.yaml", "spec: " + "[" * 100_000 + "]" * 100_000 + "\n", "YAML nested deeper than 100 levels"),
        ("a.yaml", "spec:\n" + "".join(" " * i + "- \n" for i in range(0, 400, 2)), "YAML nested deeper"),
        (
            "a.yaml",
            "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdefg", "bcdefgh", strict=True)),
            "expand to more than",
        ),
        ("a.yaml", "spec: &s {loop: *s}\n", "refers to itself"),
    ],
    ids=[
        "yaml-bigint",
        "json-bigint",
        "json-recursion",
        "json-deep",
        "yaml-deep-flow",
        "yaml-deep-block",
        "yaml-alias-bomb",
        "yaml-recursive-alias",
    ],
)
def test_snapshot_files_that_would_hang_or_crash_exit_3(name: str, text: str, error: str, tmp_path: Path) -> None:
    """Before: ValueError/RecursionError tracebacks, and a segfault of libyaml's composer on deep YAML."""
    (tmp_path / name).write_text(text)
    with pytest.raises(SourceError, match=error.replace("(", r"\(")):
        snapshot.load([str(tmp_path)])
    run = cli("doctor", "-A", "--snapshot", str(tmp_path))
    assert run.code == 3 and len(run.err.splitlines()) == 1 and str(tmp_path) in run.err, run.err


def test_lone_surrogates_from_json_escapes_are_replaced(tmp_path: Path) -> None:
    vmi = json.dumps(_vmi()).replace('"name": "g"', '"name": "g\\ud800"').replace('"uid": "u1"', '"uid": "u\\udfff"')
    (tmp_path / "vmi.json").write_text(vmi)
    inv = snapshot.load([str(tmp_path)])
    assert Index(inv).vmis[("ns", "vm")].meta.uid == "u\ufffd"
    run = cli("describe", "-A", "-o", "json", "--snapshot", str(tmp_path))
    assert run.code == 0 and "g\ufffd" in run.out


def test_request_timeout_applies_to_api_calls(tmp_path: Path) -> None:
    """The client ignores a float timeout; --request-timeout 1s must still cut a 3 s answer."""
    with KubeAPIServer.from_snapshot(BASIC) as srv:
        srv.faults["resourceslices"] = Fault(latency=3)
        kc = str(srv.write_kubeconfig(tmp_path / "kubeconfig"))
        api = cluster.Api(Scope(None, None, True, (), False, kc, None, 1.0, True))
        start = time.monotonic()
        with pytest.raises(cluster.ApiError, match="did not answer"):
            api.list("/apis/resource.k8s.io/v1/resourceslices")
    assert time.monotonic() - start < 2.5


def test_collect_never_leaves_a_truncated_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip

    from kubectl_vmgpu import bundle

    inv = snapshot.load([str(BASIC)])
    target = tmp_path / "b.tar.gz"
    target.write_bytes(b"the previous bundle")

    def broken(self: Any, data: Any) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(gzip.GzipFile, "write", broken)
    with pytest.raises(KeyboardInterrupt):
        bundle.write(inv, str(target))
    assert target.read_bytes() == b"the previous bundle"
    assert [p.name for p in tmp_path.iterdir()] == ["b.tar.gz"]
    monkeypatch.undo()
    bundle.write(inv, str(target))
    assert snapshot.load([str(target)]).objects.keys() == inv.objects.keys()


def test_messages_built_from_foreign_text_are_printable(tmp_path: Path) -> None:
    """File names, server wording and pod output cannot send terminal control sequences through errors."""
    (tmp_path / "a\x1b[2Jb.yaml").write_text("kind: [")
    run = cli("doctor", "--snapshot", str(tmp_path))
    assert run.code == 3 and "\x1b" not in run.err and "a\\x1b[2Jb.yaml" in run.err
    root = "/var/run/kubernetes.io/dra-device-attributes/"
    found = launchers.ExecResult(f"{root}a-metadata.json\0{root}b\x1b]0;x\x07-metadata.json\0", code=0)
    assert launchers._found_paths(found) == ([f"{root}a-metadata.json"], [f"{root}b\x1b]0;x\x07-metadata.json"])
    failed = launchers.ExecResult(stderr="virsh: \x1b[31merror\x1b[0m\n", code=1)
    assert "\x1b" not in launchers._failed(("virsh",), failed)
