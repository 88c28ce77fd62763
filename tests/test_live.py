"""Live mode through the loopback API server: same report as the snapshot, read-only, faults, kubectl."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_vmgpu import cel, execs
from tests.helpers import REPO, SCENARIOS, cli, exe, kubectl_path, scenario_dirs
from tests.kubeapi import Fault, KubeAPIServer

BASIC = REPO / "tests" / "kubeapi" / "testdata" / "basic"
NAMES = [p.name for p in scenario_dirs()]


def _doc(out: str) -> dict[str, Any]:
    doc = json.loads(out)
    doc.pop("source")
    return doc


def allowed_exec(argv: list[str]) -> bool:
    """Exactly the documented argument vectors, nothing built from a shell."""
    if tuple(argv) in (execs.FIND_METADATA, execs.LIST_VFIO, execs.LIST_IOMMU):
        return True
    if argv[:5] == ["head", "-v", "-c", str(execs.MAX_FILE_BYTES), "--"]:
        return all(p.startswith(tuple(r + "/" for r in execs.METADATA_ROOTS)) and ".." not in p for p in argv[5:])
    return len(argv) == 4 and argv[:3] == ["virsh", "-r", "dumpxml"] and "_" in argv[3]


def assert_read_only(srv: KubeAPIServer) -> None:
    assert srv.requests, "no request was made"
    for req in srv.requests:
        assert req.method == "GET", f"{req.method} {req.path}"
        if req.is_exec:
            assert allowed_exec(req.command), req.command


@pytest.mark.parametrize("name", NAMES)
def test_live_and_collect_equal_snapshot(name: str, tmp_path: Path) -> None:
    snapshot = SCENARIOS / name / "snapshot"
    expected = cli("doctor", "-A", "-o", "json", "--snapshot", str(snapshot))
    with KubeAPIServer.from_snapshot(snapshot) as srv:
        kc = str(srv.write_kubeconfig(tmp_path / "kubeconfig"))
        live = cli("doctor", "-A", "-o", "json", "--kubeconfig", kc)
        assert live.code == expected.code, live.err
        assert _doc(live.out) == _doc(expected.out)
        bundle = tmp_path / "bundle.tar.gz"
        collected = cli("collect", "-A", "-f", str(bundle), "--kubeconfig", kc)
        assert collected.code == 0, collected.err
        assert_read_only(srv)
    again = cli("doctor", "-A", "-o", "json", "--snapshot", str(bundle))
    assert _doc(again.out) == _doc(expected.out)


def test_every_command_is_read_only(tmp_path: Path) -> None:
    with KubeAPIServer.from_snapshot(BASIC) as srv:
        kc = str(srv.write_kubeconfig(tmp_path / "kubeconfig"))
        for args in (
            ["describe", "-A"],
            ["doctor", "-A"],
            ["describe", "fedora-gpu", "-n", "vms"],
            ["doctor", "-n", "vms", "-o", "yaml"],
            ["collect", "-A", "-f", str(tmp_path / "b.tar.gz")],
        ):
            run = cli(*args, "--kubeconfig", kc)
            assert run.code in (0, 1), run.err
        assert any(r.is_exec for r in srv.requests)
        assert_read_only(srv)


def test_no_exec_makes_no_exec_and_reports_the_gap(tmp_path: Path) -> None:
    with KubeAPIServer.from_snapshot(BASIC) as srv:
        kc = str(srv.write_kubeconfig(tmp_path / "kubeconfig"))
        run = cli("doctor", "-n", "vms", "--no-exec", "-o", "json", "--kubeconfig", kc)
        assert not any(r.is_exec for r in srv.requests)
    fired = [f for v in json.loads(run.out)["vmis"] for f in v["findings"]]
    assert any(f["name"] == "evidence-unavailable" and "--no-exec" in f["message"] for f in fired)


def test_forbidden_slices_and_exec_still_report_the_rest(tmp_path: Path) -> None:
    with KubeAPIServer.from_snapshot(BASIC) as srv:
        kc = str(srv.write_kubeconfig(tmp_path / "kubeconfig"))
        open_run = cli("doctor", "-A", "-o", "json", "--kubeconfig", kc)
        srv.faults["resourceslices"] = Fault(status=403)
        srv.faults["pods/exec"] = Fault(status=403)
        run = cli("doctor", "-A", "-o", "json", "--kubeconfig", kc)
    assert run.code in (0, 1) and "Traceback" not in run.err
    doc, before = json.loads(run.out), json.loads(open_run.out)
    assert [v["name"] for v in doc["vmis"]] == [v["name"] for v in before["vmis"]]
    running = {v["name"] for v in before["vmis"] if v["launcherPod"] and "Pending" not in json.dumps(v["gpus"])}
    gaps = [
        f
        for v in doc["vmis"]
        for f in v["findings"]
        if f["name"] == "evidence-unavailable" and f["vmi"]["name"] in running
    ]
    assert gaps and all("metadata files, /dev/vfio and domain XML: pods/exec forbidden" in f["message"] for f in gaps)
    for vmi in doc["vmis"]:
        for gpu in vmi["gpus"]:
            assert gpu["links"]["device"]["status"] != "ok"
            assert not any(f["name"] in ("device-not-published", "driver-not-publishing") for f in gpu["findings"])


def test_tls_token_and_kubeconfig_merge(tmp_path: Path) -> None:
    with KubeAPIServer.from_snapshot(BASIC, tls=True, token="s3cret") as srv:
        good = srv.write_kubeconfig(tmp_path / "good", context="lab", namespace="vms")
        other = tmp_path / "other"
        other.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "nowhere",
                    "contexts": [{"name": "nowhere", "context": {"cluster": "x", "user": "x"}}],
                    "clusters": [{"name": "x", "cluster": {"server": "https://127.0.0.1:1"}}],
                    "users": [{"name": "x", "user": {}}],
                }
            )
        )
        # the first file's current-context wins, as in kubectl; its namespace is the default scope
        run = cli("describe", "-o", "json", env={"KUBECONFIG": f"{good}{os.pathsep}{other}"})
        assert run.code == 0, run.err
        assert {v["namespace"] for v in json.loads(run.out)["vmis"]} == {"vms"}
        bad = yaml.safe_load(good.read_text())
        bad["users"][0]["user"]["token"] = "expired"
        (tmp_path / "bad").write_text(yaml.safe_dump(bad))
        run = exe("doctor", "--kubeconfig", str(tmp_path / "bad"))
        assert run.code == 3 and "Unauthorized" in run.err and len(run.err.strip().splitlines()) == 1


def test_unreachable_server_and_bad_context_exit_3(tmp_path: Path) -> None:
    with KubeAPIServer.from_snapshot(BASIC) as srv:
        kc = srv.write_kubeconfig(tmp_path / "kubeconfig")
    run = exe("doctor", "-A", "--kubeconfig", str(kc), "--request-timeout", "2s")
    assert run.code == 3 and "cannot reach the API server" in run.err
    assert "Traceback" not in run.err and len(run.err.strip().splitlines()) == 1
    run = exe("doctor", "--kubeconfig", str(kc), "--context", "missing")
    assert run.code == 3 and 'context "missing" does not exist' in run.err


@pytest.mark.kubectl
def test_real_kubectl_reads_the_server_and_runs_the_plugin(tmp_path: Path) -> None:
    kubectl = kubectl_path()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    plugin = bindir / "kubectl-vmgpu"
    plugin.write_text(f'#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -m kubectl_vmgpu "$@"\n')
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path)}
    with KubeAPIServer.from_snapshot(BASIC) as srv:
        kc = str(srv.write_kubeconfig(tmp_path / "kubeconfig"))
        base = [kubectl, "--kubeconfig", kc, "--cache-dir", str(tmp_path / "cache")]
        for resource in ("vmis", "resourceclaims", "resourceslices", "deviceclasses"):
            got = subprocess.run([*base, "get", resource, "-A"], capture_output=True, text=True, env=env)
            assert got.returncode == 0 and "NAME" in got.stdout, got.stderr
        # kubectl refuses flags before a plugin name: they go after it, as users type them
        plugin_run = subprocess.run(
            [kubectl, "vmgpu", "doctor", "-A", "--kubeconfig", kc], capture_output=True, text=True, env=env
        )
    assert plugin_run.returncode in (0, 1), plugin_run.stderr
    assert "Summary:" in plugin_run.stdout


def _big(tmp_path: Path, vmis: int, nodes: int) -> Path:
    from tests.synth.big import big_lab

    out = tmp_path / f"big-{vmis}"
    big_lab(vmis, nodes).write(out)
    return out


def test_all_namespaces_makes_a_constant_number_of_requests(tmp_path: Path) -> None:
    counts = {}
    for vmis, nodes in ((1, 1), (50, 7)):
        with KubeAPIServer.from_snapshot(_big(tmp_path, vmis, nodes)) as srv:
            kc = str(srv.write_kubeconfig(tmp_path / f"kc-{vmis}"))
            run = cli("doctor", "-A", "--no-exec", "-o", "json", "--kubeconfig", kc)
            assert run.code in (0, 1), run.err
            assert len(json.loads(run.out)["vmis"]) == vmis
            assert_read_only(srv)
            counts[vmis] = sorted(r.path for r in srv.requests)
    assert counts[1] == counts[50]
    assert len(counts[1]) == 12  # /apis, /version and 10 lists


def test_named_vmi_reads_only_its_nodes_slices(tmp_path: Path) -> None:
    """A named VMI reads its own node's slices and its Node object by name, never every node (issue 15)."""
    snap = _big(tmp_path, 20, 4)
    with KubeAPIServer.from_snapshot(snap) as srv:
        kc = str(srv.write_kubeconfig(tmp_path / "kc"))
        run = cli("describe", "vm-00001", "-n", "team-01", "-o", "json", "--kubeconfig", kc)
        assert run.code == 0, run.err
        node = json.loads(run.out)["vmis"][0]["node"]
        slice_reads = [r for r in srv.requests if r.path.endswith("/resourceslices")]
        assert [r.param("fieldSelector") for r in slice_reads] == [f"spec.nodeName={node}"]
        gets = [r.path for r in srv.requests if r.path.endswith("/vm-00001")]
        assert len(gets) == 2  # the VMI and the VM, by name
        node_reads = [r.path for r in srv.requests if "/nodes" in r.path]
        assert node_reads == [f"/api/v1/nodes/{node}"], node_reads
        assert_read_only(srv)


def test_in_cluster_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kubernetes.config import incluster_config

    with KubeAPIServer.from_snapshot(BASIC, tls=True, token="sa-token") as srv:
        sa = tmp_path / "serviceaccount"
        sa.mkdir()
        (sa / "token").write_text("sa-token")
        (sa / "ca.crt").write_bytes(srv.ca_pem)
        (sa / "namespace").write_text("vms")
        monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(sa / "token"))
        monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(sa / "ca.crt"))
        env = {
            "KUBECONFIG": str(tmp_path / "none"),
            "HOME": str(tmp_path),
            "KUBERNETES_SERVICE_HOST": "127.0.0.1",
            "KUBERNETES_SERVICE_PORT": str(srv.port),
        }
        run = cli("describe", "-o", "json", env=env)
        assert run.code == 0, run.err
        assert {v["namespace"] for v in json.loads(run.out)["vmis"]} == {"vms"}
        assert all(
            (r.headers.get("authorization") or r.headers.get("Authorization") or "").lower() == "bearer sa-token"
            for r in srv.requests
            if not r.is_exec
        )
    run = exe(
        "describe", env={"KUBECONFIG": str(tmp_path / "none"), "HOME": str(tmp_path), "KUBERNETES_SERVICE_HOST": ""}
    )
    assert run.code == 3 and "no kubeconfig found" in run.err


def test_devices_live_equals_snapshot(tmp_path: Path) -> None:
    snapshot = cli("devices", "-o", "json", "--snapshot", str(BASIC))
    with KubeAPIServer.from_snapshot(BASIC) as srv:
        kc = str(srv.write_kubeconfig(tmp_path / "kubeconfig"))
        live = cli("devices", "-o", "json", "--kubeconfig", kc)
        text = cli("devices", "--kubeconfig", kc)
        assert not any(r.is_exec for r in srv.requests)
        assert_read_only(srv)
    assert live.code == 0, live.err
    assert _doc(live.out) == _doc(snapshot.out) and _doc(live.out)["devices"]
    assert "NODE" in text.out and "Free passthrough (vfio) devices:" in text.out


DEMO = REPO / "kubectl_vmgpu" / "demo"


def _namespaces(snapshot: Path) -> list[str]:
    doc = json.loads(cli("doctor", "-A", "-o", "json", "--snapshot", str(snapshot)).out)
    return sorted({v["namespace"] for v in doc["vmis"]})


@pytest.mark.parametrize("name", NAMES + ["demo"])
def test_live_namespace_scope_equals_snapshot(name: str, tmp_path: Path) -> None:
    # Issue 16: with the context's namespace, claims of other namespaces must still be read, or the
    # allocation explainer calls devices other VMs hold "free" (the demo said "3 free device(s) match").
    snapshot = DEMO if name == "demo" else SCENARIOS / name / "snapshot"
    with KubeAPIServer.from_snapshot(snapshot) as srv:
        for ns in _namespaces(snapshot):
            kc = str(srv.write_kubeconfig(tmp_path / f"kubeconfig-{ns}", namespace=ns))
            live = cli("describe", "-o", "json", "--explain-allocation", "--kubeconfig", kc)
            expected = cli("describe", "-n", ns, "-o", "json", "--explain-allocation", "--snapshot", str(snapshot))
            assert live.code == expected.code, (ns, live.err)
            assert _doc(live.out) == _doc(expected.out), ns


def test_claims_refused_cluster_wide_make_holders_unknown_not_free(tmp_path: Path) -> None:
    with KubeAPIServer.from_snapshot(DEMO) as srv:
        srv.faults["/apis/resource.k8s.io/v1/resourceclaims"] = Fault(status=403)
        kc = str(srv.write_kubeconfig(tmp_path / "kubeconfig", namespace="ml-team"))
        run = cli("describe", "-o", "json", "--kubeconfig", kc)
        bundle = tmp_path / "bundle.tar.gz"
        assert cli("collect", "-o", str(bundle), "--kubeconfig", kc).code == 0
        assert_read_only(srv)
    assert run.code in (0, 1) and "Traceback" not in run.err
    # the bundle keeps the fact (cluster-info.yaml claimsNamespace): the same report offline
    again = cli("describe", "-n", "ml-team", "-o", "json", "--snapshot", str(bundle))
    assert _doc(again.out) == _doc(run.out)
    (vmi,) = [v for v in json.loads(run.out)["vmis"] if v["name"] == "llm-70b"]
    explain = vmi["gpus"][0]["links"]["allocation"]["explain"]
    text = json.dumps(explain)
    assert "free device(s) match" not in explain["summary"]
    assert not any(d["state"] == "free" for n in explain["nodes"] for d in n["devices"])
    if cel.available():  # without CEL the selectors, not the holders, are what is unknown first
        assert "holder unknown: ResourceClaims could not be read outside namespace ml-team" in text
    # the claims of ml-team itself are still read: its own VMs are named as holders
    assert "held by VM ml-team/" in text
