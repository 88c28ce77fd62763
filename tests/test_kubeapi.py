"""The loopback API server, checked with the official python client and a real kubectl (>= 1.34)."""

from __future__ import annotations

import http.client
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # plain `pytest` without a pythonpath setting
    sys.path.insert(0, str(ROOT))

from kubectl_vmgpu import execs  # noqa: E402
from tests.helpers import kubectl_path  # noqa: E402
from tests.kubeapi import Fault, KubeAPIServer  # noqa: E402
from tests.kubeapi.snapshot import load  # noqa: E402

BASIC = Path(__file__).parent / "kubeapi" / "testdata" / "basic"
TABLE_ACCEPT = ("application/json;as=Table;v=v1;g=meta.k8s.io,"
                "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")
POD = "virt-launcher-fedora-gpu-x7k2p"
LEGACY_POD = "virt-launcher-legacy-vm-q8w3e"
METADATA_FILE = f"{execs.METADATA_ROOT}/resourceclaimtemplates/gpu-claim/gpu/gpu.nvidia.com-metadata.json"


# --- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[KubeAPIServer]:
    with KubeAPIServer.from_snapshot(BASIC) as srv:
        yield srv


@pytest.fixture
def srv(server: KubeAPIServer) -> Iterator[KubeAPIServer]:
    server.reset_requests()
    yield server
    server.faults.clear()
    server.exec_delay = 0.0


def make_client(srv: KubeAPIServer, tmp_path: Path) -> Any:
    from kubernetes import client, config

    cfg = client.Configuration()
    kubeconfig = srv.write_kubeconfig(tmp_path / "kubeconfig")
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg, persist_config=False)
    return client.ApiClient(cfg)


@pytest.fixture
def api(srv: KubeAPIServer, tmp_path: Path) -> Any:
    return make_client(srv, tmp_path)


def get(api: Any, path: str, query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """Raw GET through the python client: (status, parsed JSON body or text)."""
    from kubernetes.client.rest import ApiException

    try:
        resp = api.call_api(path, "GET", query_params=list((query or {}).items()), header_params=headers or {},
                            auth_settings=["BearerToken"], _preload_content=False)[0]
        status, body = resp.status, resp.data
    except ApiException as err:
        status, body = err.status, err.body
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode() if isinstance(body, bytes) else body


def names(body: dict[str, Any]) -> list[str]:
    return [item["metadata"]["name"] for item in body["items"]]


def run_exec(api: Any, pod: str, namespace: str, argv: list[str] | tuple[str, ...],
             container: str = "compute") -> tuple[str, str, dict[str, Any]]:
    """Exec through kubernetes.stream / WSClient, as the tool does: (stdout, stderr, status message)."""
    from kubernetes import client
    from kubernetes.stream import stream

    ws = stream(client.CoreV1Api(api).connect_get_namespaced_pod_exec, pod, namespace, command=list(argv),
                container=container, stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
    ws.run_forever(timeout=10)
    assert not ws.is_open(), "the server must close the socket after the status message"
    status = yaml.safe_load(ws.peek_channel(3))
    return ws.read_stdout(), ws.read_stderr(), status


def exit_code(status: dict[str, Any]) -> int:
    if status["status"] == "Success":
        return 0
    assert status["reason"] == "NonZeroExitCode"
    return int(status["details"]["causes"][0]["message"])


def kubectl(srv: KubeAPIServer, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    kubeconfig = srv.write_kubeconfig(tmp_path / "kubeconfig")
    env = {**os.environ, "HOME": str(tmp_path)}
    env.pop("KUBECONFIG", None)
    return subprocess.run([str(kubectl_path()), "--kubeconfig", str(kubeconfig), "--cache-dir",
                           str(tmp_path / "cache"), *args], capture_output=True, text=True, env=env, timeout=60)


# --- loading -----------------------------------------------------------------------------------


def test_snapshot_loading_flattens_lists_and_finds_evidence() -> None:
    snap = load(BASIC)
    kinds = sorted({o["kind"] for o in snap.objects})
    assert kinds == ["DeviceClass", "Event", "KubeVirt", "Namespace", "Node", "Pod", "ResourceClaim",
                     "ResourceClaimTemplate", "ResourceSlice", "VirtualMachine", "VirtualMachineInstance"]
    nodes = [o for o in snap.objects if o["kind"] == "Node"]  # NodeList items without kind
    assert [n["apiVersion"] for n in nodes] == ["v1", "v1"]
    assert snap.cluster_info and snap.cluster_info["serverVersion"] == "v1.34.2"
    assert [p.name for p in snap.evidence_roots] == ["evidence"]
    assert snap.dumpxml[("legacy", LEGACY_POD)].name.endswith(".dumpxml.xml")


def test_duplicates_keep_the_higher_resource_version_and_bad_files_name_themselves(tmp_path: Path) -> None:
    old = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "resourceVersion": "9",
                                                                  "labels": {"v": "new"}}}
    new = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "resourceVersion": "10",
                                                                  "labels": {"v": "newer"}}}
    (tmp_path / "a.yaml").write_text(yaml.safe_dump_all([new, old, {"not": "an object"}]))
    assert [o["metadata"]["labels"]["v"] for o in load(tmp_path).objects] == ["newer"]
    (tmp_path / "b.json").write_text("{broken")
    with pytest.raises(ValueError, match="b.json"):
        load(tmp_path)


# --- discovery ---------------------------------------------------------------------------------


def test_discovery_documents(api: Any) -> None:
    assert get(api, "/version")[1]["gitVersion"] == "v1.34.2"
    assert get(api, "/version")[1]["minor"] == "34"
    assert get(api, "/api")[1]["versions"] == ["v1"]
    groups = {g["name"]: g for g in get(api, "/apis")[1]["groups"]}
    assert set(groups) == {"authorization.k8s.io", "events.k8s.io", "kubevirt.io", "resource.k8s.io"}  # not ClusterInfo
    assert [v["version"] for v in groups["resource.k8s.io"]["versions"]] == ["v1", "v1beta2"]
    assert groups["resource.k8s.io"]["preferredVersion"]["groupVersion"] == "resource.k8s.io/v1"

    kubevirt = {r["name"]: r for r in get(api, "/apis/kubevirt.io/v1")[1]["resources"]}
    vmis = kubevirt["virtualmachineinstances"]
    assert (vmis["kind"], vmis["namespaced"], vmis["shortNames"]) == ("VirtualMachineInstance", True, ["vmi", "vmis"])
    assert vmis["verbs"] == ["get", "list", "watch"] and vmis["categories"] == ["all"]
    assert {"virtualmachines", "kubevirts"} <= set(kubevirt)

    dra = {r["name"]: r for r in get(api, "/apis/resource.k8s.io/v1")[1]["resources"]}
    assert dra["resourceslices"]["namespaced"] is False and dra["deviceclasses"]["namespaced"] is False
    assert dra["resourceclaims"]["namespaced"] is True and "resourceclaimtemplates" in dra

    core = {r["name"]: r for r in get(api, "/api/v1")[1]["resources"]}
    assert core["pods"]["shortNames"] == ["po"] and core["events"]["shortNames"] == ["ev"]
    assert core["pods/exec"]["verbs"] == ["create", "get"]
    assert get(api, "/apis/events.k8s.io/v1")[1]["resources"][0]["name"] == "events"
    assert get(api, "/openapi/v2")[0] == 404


def test_discovery_inferred_without_cluster_info(tmp_path: Path) -> None:
    vmi = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
           "metadata": {"name": "vm", "namespace": "ns"}}
    claim = {"apiVersion": "resource.k8s.io/v1beta1", "kind": "ResourceClaim",
             "metadata": {"name": "c", "namespace": "ns"}}
    with KubeAPIServer(objects=[vmi]) as srv:
        api = make_client(srv, tmp_path)
        assert get(api, "/version")[1]["gitVersion"] == "v1.34.2"
        groups = {g["name"] for g in get(api, "/apis")[1]["groups"]}
        assert groups == {"authorization.k8s.io", "events.k8s.io", "kubevirt.io"}
        assert get(api, "/apis/resource.k8s.io/v1/resourceslices") == (404, "404 page not found\n")
    with KubeAPIServer(objects=[claim], cluster_info={"serverVersion": "v1.32.1"}) as srv:
        api = make_client(srv, tmp_path)
        assert get(api, "/version")[1]["gitVersion"] == "v1.32.1"
        groups = {g["name"]: g for g in get(api, "/apis")[1]["groups"]}
        assert groups["resource.k8s.io"]["preferredVersion"]["version"] == "v1beta1"
        assert names(get(api, "/apis/resource.k8s.io/v1beta1/resourceclaims")[1]) == ["c"]


# --- lists, objects, selectors, paging ----------------------------------------------------------


def test_lists_namespaced_and_cluster_wide(api: Any, srv: KubeAPIServer) -> None:
    status, body = get(api, "/api/v1/namespaces/vms/pods")
    assert status == 200 and body["kind"] == "PodList" and body["apiVersion"] == "v1"
    assert names(body) == [POD, "virt-launcher-fedora-pending-b9d2f"]
    assert body["metadata"]["resourceVersion"].isdigit()
    assert names(get(api, "/api/v1/pods")[1]) == [LEGACY_POD, POD, "virt-launcher-fedora-pending-b9d2f"]
    vmis = get(api, "/apis/kubevirt.io/v1/virtualmachineinstances")[1]
    assert vmis["kind"] == "VirtualMachineInstanceList"
    assert {(i["apiVersion"], i["kind"]) for i in vmis["items"]} == {("kubevirt.io/v1", "VirtualMachineInstance")}
    assert names(get(api, "/apis/resource.k8s.io/v1/deviceclasses")[1]) == ["gpu.nvidia.com", "vfio.gpu.nvidia.com"]
    assert names(get(api, "/apis/kubevirt.io/v1/namespaces/nowhere/virtualmachineinstances")[1]) == []
    assert [r.method for r in srv.requests] == ["GET"] * 5


def test_served_versions_share_objects_without_conversion(api: Any) -> None:
    body = get(api, "/apis/resource.k8s.io/v1beta2/resourceslices")[1]
    assert body["apiVersion"] == "resource.k8s.io/v1beta2"
    assert {i["apiVersion"] for i in body["items"]} == {"resource.k8s.io/v1beta2"}
    assert get(api, "/apis/resource.k8s.io/v1beta1/resourceslices")[0] == 404  # not served here


def test_get_object_and_not_found(api: Any) -> None:
    status, vmi = get(api, "/apis/kubevirt.io/v1/namespaces/vms/virtualmachineinstances/fedora-gpu")
    assert status == 200 and vmi["status"]["nodeName"] == "gpu-node-1"
    status, slice_ = get(api, "/apis/resource.k8s.io/v1/resourceslices/gpu-node-2-gpu.nvidia.com-p2k8d")
    assert status == 200 and slice_["spec"]["driver"] == "gpu.nvidia.com"
    status, body = get(api, "/apis/kubevirt.io/v1/namespaces/vms/virtualmachineinstances/nope")
    assert status == 404
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": 'virtualmachineinstances.kubevirt.io "nope" not found', "reason": "NotFound",
                    "details": {"name": "nope", "group": "kubevirt.io", "kind": "virtualmachineinstances"},
                    "code": 404}
    assert get(api, "/api/v1/namespaces/vms/pods/nope")[1]["message"] == 'pods "nope" not found'
    assert get(api, "/api/v1/namespaces/vms")[1]["kind"] == "Namespace"
    assert get(api, "/apis/kubevirt.io/v1/nothings")[1]["reason"] == "NotFound"
    assert get(api, "/apis/resource.k8s.io/v1/namespaces/vms/resourceslices")[0] == 404  # cluster-scoped
    assert get(api, "/apis/example.com/v1/things") == (404, "404 page not found\n")


@pytest.mark.parametrize(("selector", "expected"), [
    ("kubevirt.io=virt-launcher", [LEGACY_POD, POD, "virt-launcher-fedora-pending-b9d2f"]),
    ("kubevirt.io/domain==fedora-gpu", [POD]),
    ("kubevirt.io/domain!=fedora-gpu", [LEGACY_POD, "virt-launcher-fedora-pending-b9d2f"]),
    ("kubevirt.io/domain in (fedora-gpu, fedora-pending)", [POD, "virt-launcher-fedora-pending-b9d2f"]),
    ("kubevirt.io/domain notin (fedora-gpu)", [LEGACY_POD, "virt-launcher-fedora-pending-b9d2f"]),
    ("kubevirt.io/domain", [POD, "virt-launcher-fedora-pending-b9d2f"]),
    ("kubevirt.io=virt-launcher,!kubevirt.io/domain", [LEGACY_POD]),
])
def test_label_selectors(api: Any, selector: str, expected: list[str]) -> None:
    assert names(get(api, "/api/v1/pods", {"labelSelector": selector})[1]) == expected


@pytest.mark.parametrize(("path", "selector", "expected"), [
    ("/apis/resource.k8s.io/v1/resourceslices", "spec.nodeName=gpu-node-2",
     ["gpu-node-2-gpu.nvidia.com-p2k8d", "gpu-node-2-net.example.com-abcde"]),
    ("/apis/resource.k8s.io/v1/resourceslices", "spec.driver==gpu.nvidia.com,spec.nodeName!=gpu-node-1",
     ["gpu-node-2-gpu.nvidia.com-p2k8d"]),
    ("/api/v1/pods", "status.phase=Running", [LEGACY_POD, POD]),
    ("/api/v1/pods", "spec.nodeName=gpu-node-1", [POD]),
    ("/api/v1/namespaces/vms/pods", "metadata.name=" + POD, [POD]),
    ("/api/v1/events", "involvedObject.kind=Pod,involvedObject.name=virt-launcher-fedora-pending-b9d2f",
     ["virt-launcher-fedora-pending-b9d2f.187b1c2d3e4f5a6b"]),
    # core and events.k8s.io events are one store: both APIs see both events
    ("/apis/events.k8s.io/v1/namespaces/vms/events", "regarding.kind=VirtualMachineInstance",
     ["fedora-gpu.187b1a0b0c0d0e0f"]),
    ("/api/v1/events", "involvedObject.name=fedora-gpu", ["fedora-gpu.187b1a0b0c0d0e0f"]),
    ("/apis/kubevirt.io/v1/virtualmachineinstances", "metadata.namespace=legacy", ["legacy-vm"]),
])
def test_field_selectors(api: Any, path: str, selector: str, expected: list[str]) -> None:
    assert names(get(api, path, {"fieldSelector": selector})[1]) == expected


def test_unsupported_selectors_answer_bad_request(api: Any) -> None:
    status, body = get(api, "/api/v1/pods", {"fieldSelector": "spec.foo=1"})
    assert (status, body["reason"], body["message"]) == (400, "BadRequest", "field label not supported: spec.foo")
    body = get(api, "/apis/kubevirt.io/v1/virtualmachineinstances", {"fieldSelector": "status.phase=Running"})[1]
    assert body["message"] == '"status.phase" is not a known field selector: only "metadata.name", "metadata.namespace"'
    assert get(api, "/api/v1/pods", {"labelSelector": "a in b"})[0] == 400


def test_chunking_with_limit_and_continue(api: Any) -> None:
    path, seen, remaining = "/apis/resource.k8s.io/v1/resourceslices", [], []
    query: dict[str, Any] = {"limit": 1}
    while True:
        body = get(api, path, query)[1]
        seen += names(body)
        remaining.append(body["metadata"].get("remainingItemCount"))
        if not body["metadata"].get("continue"):
            break
        query = {"limit": 1, "continue": body["metadata"]["continue"]}
    assert seen == names(get(api, path)[1]) and len(seen) == 3
    assert remaining == [2, 1, None]
    filtered = get(api, path, {"limit": 1, "fieldSelector": "spec.nodeName=gpu-node-2"})[1]
    assert names(filtered) == ["gpu-node-2-gpu.nvidia.com-p2k8d"] and filtered["metadata"]["continue"]
    assert "remainingItemCount" not in filtered["metadata"]  # upstream cannot count a filtered rest
    assert get(api, path, {"continue": "not-a-token"})[0] == 400


def test_table_for_kubectl(api: Any) -> None:
    status, table = get(api, "/apis/kubevirt.io/v1/virtualmachineinstances", headers={"Accept": TABLE_ACCEPT})
    assert status == 200 and (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    columns = [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0]
    assert columns == ["Name", "Age", "Phase", "IP", "NodeName", "Ready"]
    row = table["rows"][1]
    assert row["cells"][0] == "fedora-gpu" and row["cells"][2:5] == ["Running", "10.244.1.23", "gpu-node-1"]
    assert row["object"]["kind"] == "PartialObjectMetadata" and row["object"]["metadata"]["namespace"] == "vms"
    claims = get(api, "/apis/resource.k8s.io/v1/resourceclaims", {"includeObject": "Object"},
                 headers={"Accept": TABLE_ACCEPT})[1]
    assert [r["cells"][:2] for r in claims["rows"]] == [["legacy-gpu", "pending"],
                                                         ["virt-launcher-fedora-gpu-x7k2p-gpu-claim-m4q9z",
                                                          "allocated,reserved"]]
    assert claims["rows"][0]["object"]["kind"] == "ResourceClaim"
    slices = get(api, "/apis/resource.k8s.io/v1/resourceslices", headers={"Accept": TABLE_ACCEPT})[1]
    assert [c["name"] for c in slices["columnDefinitions"]] == ["Name", "Node", "Driver", "Pool", "Age"]


# --- read-only, errors and faults -------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_writes_answer_405_and_are_recorded(srv: KubeAPIServer, method: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.request(method, "/api/v1/namespaces/vms/pods/" + POD, body=b"{}",
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    body = json.loads(resp.read())
    assert (resp.status, body["reason"], body["code"]) == (405, "MethodNotAllowed", 405)
    assert [(r.method, r.status) for r in srv.requests] == [(method, 405)]


# --- watches, namespaces, access reviews --------------------------------------------------------

VMIS = "/apis/kubevirt.io/v1/namespaces/vms/virtualmachineinstances"


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[KubeAPIServer]:
    """A server of its own: these tests change the cluster."""
    with KubeAPIServer.from_snapshot(BASIC) as srv:
        srv.bookmark_interval = 0.2
        yield srv


def watch_lines(srv: KubeAPIServer, path: str, query: str, then: Any = None,
                accept: str = "application/json") -> tuple[http.client.HTTPResponse, list[dict[str, Any]]]:
    """GET a watch with plain HTTP, run `then()` once the headers are in, read events to the end."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=20)
    conn.request("GET", f"{path}?{query}", headers={"Accept": accept})
    resp = conn.getresponse()
    if then is not None:
        then()
    return resp, [json.loads(line) for line in resp.read().splitlines() if line.strip()]


def pending_vmi(srv: KubeAPIServer) -> dict[str, Any]:
    res = srv.catalog.resource("kubevirt.io", "v1", "virtualmachineinstances")
    assert res is not None
    vmi = srv.store.get(res, "v1", "vms", "fedora-pending")
    assert vmi is not None
    return vmi


def test_watch_streams_the_changes_after_a_lists_resource_version(fresh: KubeAPIServer, tmp_path: Path) -> None:
    api = make_client(fresh, tmp_path)
    listed = get(api, VMIS)[1]
    rv = int(listed["metadata"]["resourceVersion"])

    def change() -> None:
        vmi = pending_vmi(fresh)
        vmi["status"]["phase"] = "Scheduled"
        fresh.store.apply(vmi)
        fresh.store.apply({**vmi, "metadata": {"name": "new-vm", "namespace": "vms"}})
        fresh.store.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "vms"}})
        fresh.store.delete("VirtualMachineInstance", "vms", "new-vm")

    resp, events = watch_lines(fresh, VMIS, f"watch=1&resourceVersion={rv}&timeoutSeconds=1", change)
    assert resp.status == 200 and resp.getheader("Transfer-Encoding") == "chunked"
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("MODIFIED", "fedora-pending"), ("ADDED", "new-vm"), ("DELETED", "new-vm")]  # the pod is not a VMI
    assert events[0]["object"]["status"]["phase"] == "Scheduled"
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and rvs[0] == rv + 1 and rvs[-1] == rv + 4
    assert int(fresh.store.resource_version) == rv + 4
    # from a revision in the middle: only what came after it
    _, later = watch_lines(fresh, VMIS, f"watch=true&resourceVersion={rvs[1]}&timeoutSeconds=1")
    assert [e["type"] for e in later] == ["DELETED"]
    # unset resourceVersion: the current state as ADDED events first
    _, initial = watch_lines(fresh, VMIS, "watch=1&timeoutSeconds=1&labelSelector=kubevirt.io%2Fnope")
    assert initial == []
    _, initial = watch_lines(fresh, VMIS, "watch=1&timeoutSeconds=1")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in initial] == [
        ("ADDED", "fedora-gpu"), ("ADDED", "fedora-pending")]


def test_watch_selection_turns_modifications_into_added_and_deleted(fresh: KubeAPIServer) -> None:
    rv = fresh.store.resource_version

    def change() -> None:
        vmi = pending_vmi(fresh)
        fresh.store.apply({**vmi, "metadata": {**vmi["metadata"], "labels": {"watched": "yes"}}})
        fresh.store.apply({**vmi, "metadata": {**vmi["metadata"], "labels": {"watched": "no"}}})

    _, events = watch_lines(fresh, VMIS, f"watch=1&resourceVersion={rv}&timeoutSeconds=1&labelSelector=watched%3Dyes",
                            change)
    assert [e["type"] for e in events] == ["ADDED", "DELETED"]


def test_watch_bookmarks_and_send_initial_events(fresh: KubeAPIServer, tmp_path: Path) -> None:
    rv = fresh.store.resource_version
    _, events = watch_lines(fresh, VMIS, f"watch=1&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=1")
    assert events and {e["type"] for e in events} == {"BOOKMARK"}
    assert events[0]["object"] == {"kind": "VirtualMachineInstance", "apiVersion": "kubevirt.io/v1",
                                   "metadata": {"resourceVersion": rv}}
    query = "watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1"
    _, events = watch_lines(fresh, VMIS, query)
    assert [e["type"] for e in events[:3]] == ["ADDED", "ADDED", "BOOKMARK"]
    assert events[2]["object"]["metadata"] == {"resourceVersion": rv,
                                               "annotations": {"k8s.io/initial-events-end": "true"}}
    assert all("k8s.io/initial-events-end" not in e["object"]["metadata"].get("annotations", {})
               for e in events[3:])
    resp, answer = watch_lines(fresh, VMIS, "watch=1&sendInitialEvents=true")
    assert resp.status == 422 and answer[0]["message"].endswith(
        "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")
    api = make_client(fresh, tmp_path)
    status, body = get(api, VMIS, {"watch": "1", "resourceVersionMatch": "NotOlderThan"})
    assert (status, body["reason"]) == (422, "Invalid")
    assert "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided" in body["message"]
    status, body = get(api, VMIS, {"sendInitialEvents": "true"})
    assert status == 422 and body["message"].endswith("sendInitialEvents is forbidden for list")


def test_watch_from_a_compacted_revision_is_410_expired(fresh: KubeAPIServer, tmp_path: Path) -> None:
    from kubernetes import client, watch
    from kubernetes.client.rest import ApiException

    old = fresh.store.resource_version
    fresh.store.apply(pending_vmi(fresh))
    fresh.store.compact()
    _, events = watch_lines(fresh, VMIS, f"watch=1&resourceVersion={old}&timeoutSeconds=5")
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410 and events[0]["object"]["reason"] == "Expired"
    assert events[0]["object"]["message"] == f"too old resource version: {old} ({int(old) + 1})"
    # the python client's Watch raises it as an ApiException (kubernetes/watch/watch.py)
    core = client.CoreV1Api(make_client(fresh, tmp_path))
    with pytest.raises(ApiException) as err:
        for _ in watch.Watch().stream(core.list_namespaced_pod, "vms", resource_version=old, timeout_seconds=5):
            pass
    assert err.value.status == 410
    # and from the current revision it streams: the change made here arrives as MODIFIED
    seen = []
    stream = watch.Watch()
    pod = next(p for p in fresh.store.items(fresh.catalog.resources[""]["pods"], "v1", "vms"))
    fresh_rv = fresh.store.resource_version
    fresh.store.apply({**pod, "status": {**pod["status"], "phase": "Failed"}})
    # deserialize=False: the snapshot's container statuses lack fields the client's models require
    for event in stream.stream(core.list_namespaced_pod, "vms", resource_version=fresh_rv, timeout_seconds=2,
                               deserialize=False):
        seen.append((event["type"], event["object"]["metadata"]["name"], event["object"]["status"]["phase"]))
        stream.stop()
    assert seen == [("MODIFIED", pod["metadata"]["name"], "Failed")]


def test_the_history_is_bounded(tmp_path: Path) -> None:
    ns = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "a"}}
    with KubeAPIServer(objects=[ns]) as srv:
        srv.store = type(srv.store)(list(srv.store.items(srv.catalog.resources[""]["configmaps"], "v1")),
                                    srv.catalog, log_size=3)
        start = int(srv.store.resource_version)
        for i in range(5):
            srv.store.apply({**ns, "data": {"i": str(i)}})
        path = "/api/v1/namespaces/a/configmaps"
        _, events = watch_lines(srv, path, f"watch=1&resourceVersion={start + 2}&timeoutSeconds=1")
        assert [e["object"]["data"]["i"] for e in events if e["type"] == "MODIFIED"] == ["2", "3", "4"]
        _, events = watch_lines(srv, path, f"watch=1&resourceVersion={start + 1}&timeoutSeconds=1")
        assert events[0]["object"]["reason"] == "Expired"


def test_table_watch_sends_column_definitions_once(fresh: KubeAPIServer) -> None:
    def change() -> None:
        vmi = pending_vmi(fresh)
        vmi["status"]["phase"] = "Running"
        fresh.store.apply(vmi)

    _, events = watch_lines(fresh, VMIS, "watch=1&timeoutSeconds=1", change, accept=TABLE_ACCEPT)
    assert [e["type"] for e in events] == ["ADDED", "ADDED", "MODIFIED"]
    assert all(e["object"]["kind"] == "Table" and len(e["object"]["rows"]) == 1 for e in events)
    assert [c["name"] for c in events[0]["object"]["columnDefinitions"]][:3] == ["Name", "Age", "Phase"]
    assert events[1]["object"]["columnDefinitions"] == events[2]["object"]["columnDefinitions"] == []
    assert events[2]["object"]["rows"][0]["cells"][2] == "Running"


def test_list_at_resource_version_0_ignores_the_limit(api: Any) -> None:
    body = get(api, "/apis/resource.k8s.io/v1/resourceslices", {"limit": 1, "resourceVersion": "0"})[1]
    assert len(body["items"]) > 1 and "continue" not in body["metadata"]
    assert len(get(api, "/apis/resource.k8s.io/v1/resourceslices", {"limit": 1})[1]["items"]) == 1


def test_namespaces_are_served_and_follow_the_objects(fresh: KubeAPIServer, tmp_path: Path) -> None:
    api = make_client(fresh, tmp_path)
    assert names(get(api, "/api/v1/namespaces")[1]) == ["default", "kube-system", "kubevirt", "legacy", "vms"]
    ns = get(api, "/api/v1/namespaces/legacy")[1]
    assert ns["status"]["phase"] == "Active" and ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "legacy"}
    rv = fresh.store.resource_version
    fresh.store.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "team-b"}})
    assert "team-b" in names(get(api, "/api/v1/namespaces")[1])
    _, events = watch_lines(fresh, "/api/v1/namespaces", f"watch=1&resourceVersion={rv}&timeoutSeconds=1")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "team-b")]


def test_access_reviews_follow_the_rbac_simulation(fresh: KubeAPIServer, tmp_path: Path) -> None:
    from kubernetes import client

    from tests.kubeapi import Authorizer

    auth = client.AuthorizationV1Api(make_client(fresh, tmp_path))

    def can(verb: str, resource: str, namespace: str = "", group: str = "resource.k8s.io") -> bool:
        attrs = client.V1ResourceAttributes(verb=verb, group=group, resource=resource, namespace=namespace)
        review = client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=attrs))
        return bool(auth.create_self_subject_access_review(review).status.allowed)

    assert can("list", "resourceclaims")  # no RBAC simulation: everything is allowed
    claims = {"apiGroups": ["resource.k8s.io"], "resources": ["resourceclaims"], "verbs": ["get", "list"]}
    fresh.rbac = Authorizer(cluster_rules=[{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}],
                            namespaced_rules={"vms": [claims]})
    assert not can("list", "resourceclaims") and can("list", "resourceclaims", "vms")
    assert can("list", "pods", group="") and not can("watch", "pods", group="")
    rules = auth.create_self_subject_rules_review(
        client.V1SelfSubjectRulesReview(spec=client.V1SelfSubjectRulesReviewSpec(namespace="vms"))).status
    assert [(r.resources, r.verbs) for r in rules.resource_rules] == [(["pods"], ["list"]),
                                                                     (["resourceclaims"], ["get", "list"])]
    assert rules.incomplete is False


def test_forbidden_fault_reads_like_rbac(api: Any, srv: KubeAPIServer) -> None:
    srv.faults["resourceslices"] = Fault(status=403)
    srv.faults["resourceclaims.resource.k8s.io"] = Fault(status=403)
    status, body = get(api, "/apis/resource.k8s.io/v1/resourceslices")
    assert (status, body["reason"]) == (403, "Forbidden")
    assert body["message"] == (
        'resourceslices.resource.k8s.io is forbidden: User "system:serviceaccount:default:test" '
        'cannot list resource "resourceslices" in API group "resource.k8s.io" at the cluster scope')
    body = get(api, "/apis/resource.k8s.io/v1/namespaces/vms/resourceclaims/x")[1]
    assert body["message"].endswith('cannot get resource "resourceclaims" in API group "resource.k8s.io" '
                                    'in the namespace "vms"')
    assert body["message"].startswith('resourceclaims.resource.k8s.io "x" is forbidden')
    assert [r.faulted for r in srv.requests] == [True, True]


def test_cluster_info_unavailable_resources_are_forbidden(tmp_path: Path) -> None:
    reason = 'resourceslices.resource.k8s.io is forbidden: User "alice" cannot list resource "resourceslices"'
    info = {"apiVersion": "vmgpu.kubevirt.io/v1alpha1", "kind": "ClusterInfo",
            "groups": {"resource.k8s.io": ["v1"]},
            "unavailable": [{"resource": "resourceslices.resource.k8s.io", "reason": reason}]}
    with KubeAPIServer(objects=[info]) as srv:
        api = make_client(srv, tmp_path)
        assert get(api, "/apis/resource.k8s.io/v1/resourceslices")[1]["message"] == reason
        assert get(api, "/apis/resource.k8s.io/v1/deviceclasses")[0] == 200


def test_faults_status_latency_times_and_retry_after(api: Any, srv: KubeAPIServer) -> None:
    srv.faults["/version"] = Fault(status=500)
    assert get(api, "/version")[1]["reason"] == "InternalError"
    srv.faults["virtualmachineinstances"] = Fault(status=404, times=1)
    body = get(api, "/apis/kubevirt.io/v1/namespaces/vms/virtualmachineinstances/fedora-gpu")[1]
    assert body["message"] == 'virtualmachineinstances.kubevirt.io "fedora-gpu" not found'
    assert get(api, "/apis/kubevirt.io/v1/namespaces/vms/virtualmachineinstances/fedora-gpu")[0] == 200
    srv.faults["/api/v1/nodes"] = Fault(status=429, retry_after=7)
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.request("GET", "/api/v1/nodes")
    resp = conn.getresponse()
    assert (resp.status, resp.getheader("Retry-After")) == (429, "7")
    assert json.loads(resp.read())["details"]["retryAfterSeconds"] == 7
    srv.faults["*"] = Fault(latency=0.3)
    start = time.monotonic()
    assert get(api, "/api/v1/namespaces")[0] == 200
    assert time.monotonic() - start >= 0.3


def test_gone_only_on_continue_and_reset_mid_body(api: Any, srv: KubeAPIServer) -> None:
    path = "/apis/resource.k8s.io/v1/resourceslices"
    srv.faults["resourceslices"] = Fault(status=410)
    first = get(api, path, {"limit": 1})
    assert first[0] == 200
    status, body = get(api, path, {"limit": 1, "continue": first[1]["metadata"]["continue"]})
    assert (status, body["reason"]) == (410, "Expired")
    srv.faults["resourceslices"] = Fault(reset=True)
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.request("GET", path)
    resp = conn.getresponse()
    assert resp.status == 200
    with pytest.raises((http.client.IncompleteRead, ConnectionError)):
        resp.read()


def test_tls_and_bearer_token(tmp_path: Path) -> None:
    with KubeAPIServer.from_snapshot(BASIC, tls=True, token="s3cret") as srv:
        assert srv.url.startswith("https://127.0.0.1:")
        config = yaml.safe_load(srv.write_kubeconfig(tmp_path / "kc", context="ctx", namespace="vms").read_text())
        assert config["current-context"] == "ctx" and config["contexts"][0]["context"]["namespace"] == "vms"
        assert config["clusters"][0]["cluster"]["certificate-authority-data"]
        api = make_client(srv, tmp_path)
        assert names(get(api, "/apis/kubevirt.io/v1/namespaces/vms/virtualmachineinstances")[1]) == [
            "fedora-gpu", "fedora-pending"]
        assert srv.requests[-1].headers["Authorization"] == "Bearer s3cret"
        ctx = ssl.create_default_context(cadata=(srv.ca_pem or b"").decode())
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(srv.url + "/api/v1/pods", context=ctx, timeout=10)
        assert err.value.code == 401 and json.loads(err.value.read())["reason"] == "Unauthorized"
        stdout, _, status = run_exec(api, POD, "vms", execs.LIST_VFIO)
        assert exit_code(status) == 0 and "vfio" in stdout


def test_tls_without_cryptography_uses_openssl(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.kubeapi import tls

    def missing() -> tuple[bytes, bytes]:
        raise ImportError("cryptography")

    monkeypatch.setattr(tls, "_with_cryptography", missing)
    with KubeAPIServer(tls=True) as srv:
        assert get(make_client(srv, tmp_path), "/version")[0] == 200


def test_list_items_without_kind_like_the_real_api(api: Any, srv: KubeAPIServer) -> None:
    srv.omit_builtin_item_kinds = True
    try:
        assert "kind" not in get(api, "/api/v1/pods")[1]["items"][0]
        assert "kind" in get(api, "/apis/kubevirt.io/v1/virtualmachineinstances")[1]["items"][0]  # CRDs keep it
    finally:
        srv.omit_builtin_item_kinds = False


# --- exec -------------------------------------------------------------------------------------


def test_exec_find_metadata(api: Any, srv: KubeAPIServer) -> None:
    stdout, stderr, status = run_exec(api, POD, "vms", execs.FIND_METADATA)
    assert stdout == METADATA_FILE + "\0"  # -print0
    assert stderr == f"find: '{execs.OLD_METADATA_ROOT}': No such file or directory\n"
    assert exit_code(status) == 1
    assert status["message"].startswith("command terminated with non-zero exit code: ")
    exec_request = srv.requests[-1]
    assert exec_request.is_exec and exec_request.websocket and exec_request.status == 101
    assert exec_request.command == list(execs.FIND_METADATA) and exec_request.exit_code == 1
    assert exec_request.param("container") == "compute"


def test_exec_head_prints_gnu_headers(api: Any) -> None:
    other = f"{execs.OLD_METADATA_ROOT}/x/y/gpu.nvidia.com-metadata.json"
    stdout, stderr, status = run_exec(api, POD, "vms", execs.read_files([METADATA_FILE, other, METADATA_FILE]))
    content = (BASIC / "evidence/vms" / POD / "files" / METADATA_FILE.lstrip("/")).read_text()
    assert stdout == f"==> {METADATA_FILE} <==\n{content}\n==> {METADATA_FILE} <==\n{content}"
    assert stderr == f"head: cannot open '{other}' for reading: No such file or directory\n"
    assert exit_code(status) == 1
    stdout, _, status = run_exec(api, POD, "vms", ("head", "-v", "-c", "10", "--", METADATA_FILE))
    assert stdout == f"==> {METADATA_FILE} <==\n{content[:10]}" and exit_code(status) == 0


def test_exec_vfio_and_domain(api: Any) -> None:
    stdout, stderr, status = run_exec(api, POD, "vms", execs.LIST_VFIO)
    assert stdout == (BASIC / "evidence/vms" / POD / "dev-vfio.txt").read_text() and stderr == ""
    assert status == {"metadata": {}, "status": "Success"}
    stdout, _, status = run_exec(api, POD, "vms", execs.dump_domain("vms", "fedora-gpu"))
    assert "<alias name='ua-dra-gpu-gpu1'/>" in stdout and exit_code(status) == 0
    stdout, stderr, status = run_exec(api, POD, "vms", execs.dump_domain("vms", "other"))
    assert (stdout, stderr, exit_code(status)) == ("", "error: failed to get domain 'vms_other'\n", 1)


def test_exec_unavailable_evidence_and_must_gather(api: Any) -> None:
    stdout, stderr, status = run_exec(api, LEGACY_POD, "legacy", execs.LIST_VFIO)
    assert (stdout, stderr, exit_code(status)) == ("", "ls: cannot open directory '/dev/vfio': Permission denied\n", 1)
    stdout, _, status = run_exec(api, LEGACY_POD, "legacy", execs.dump_domain("legacy", "legacy-vm"))
    assert "<name>legacy_legacy-vm</name>" in stdout and exit_code(status) == 0  # from must-gather
    stdout, _, _ = run_exec(api, LEGACY_POD, "legacy", execs.FIND_METADATA)
    assert stdout == f"{execs.OLD_METADATA_ROOT}/legacy-gpu/gpu/gpu.nvidia.com-metadata.json\0"


def test_exec_without_evidence_and_missing_binary(tmp_path: Path) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"},
           "spec": {"nodeName": "n", "containers": [{"name": "compute"}]}, "status": {"phase": "Running"}}
    with KubeAPIServer(objects=[pod]) as srv:
        api = make_client(srv, tmp_path)
        stdout, stderr, status = run_exec(api, "p", "ns", execs.LIST_VFIO)
        assert (stderr, exit_code(status)) == ("ls: cannot access '/dev/vfio': No such file or directory\n", 2)
        stdout, stderr, status = run_exec(api, "p", "ns", execs.FIND_METADATA)
        assert stdout == "" and stderr.count("No such file or directory") == 2 and exit_code(status) == 1
        _, stderr, status = run_exec(api, "p", "ns", execs.dump_domain("ns", "vm"))
        assert (stderr, exit_code(status)) == ("error: failed to get domain 'ns_vm'\n", 1)
        _, _, status = run_exec(api, "p", "ns", ["nvidia-smi"])
        # containerd: the runtime cannot start it; kubelet sends InternalError, no exit code
        assert (status["status"], status["reason"], status["code"]) == ("Failure", "InternalError", 500)
        assert 'exec: "nvidia-smi": executable file not found in $PATH' in status["message"]
        assert srv.requests[-1].exit_code is None


def test_exec_refused_before_upgrade(api: Any, srv: KubeAPIServer, tmp_path: Path) -> None:
    from kubernetes.client.rest import ApiException

    def refused(client: Any, pod: str, namespace: str = "vms", container: str = "compute") -> str:
        """The handshake failure as the client reports it (status line and body, JSON-escaped)."""
        with pytest.raises(ApiException) as err:
            run_exec(client, pod, namespace, execs.LIST_VFIO, container)
        return str(err.value.reason)

    assert "Handshake status 404" in refused(api, "nope")
    assert "does not have a host assigned" in refused(api, "virt-launcher-fedora-pending-b9d2f")
    assert "container gpu is not valid for pod" in refused(api, POD, container="gpu")
    srv.faults["pods/exec"] = Fault(status=403)
    assert 'cannot get resource \\"pods/exec\\" in API group \\"\\" in the namespace \\"vms\\"' in refused(api, POD)
    assert all(r.is_exec and r.status in (400, 403, 404) for r in srv.requests)
    del srv.faults["pods/exec"]

    scheduled = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"},
                 "spec": {"nodeName": "n", "containers": [{"name": "compute"}]},
                 "status": {"phase": "Pending", "containerStatuses": [
                     {"name": "compute", "state": {"waiting": {"reason": "ContainerCreating"}}}]}}
    with KubeAPIServer(objects=[scheduled]) as other:
        message = refused(make_client(other, tmp_path), "p", "ns")
        assert 'unable to upgrade connection: container not found (\\"compute\\")' in message
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.request("GET", f"/api/v1/namespaces/vms/pods/{POD}/exec?command=ls&container=compute")
    resp = conn.getresponse()
    assert (resp.status, json.loads(resp.read())["message"]) == (400, "Upgrade request required")


def test_exec_v5_handshake_and_frames(srv: KubeAPIServer) -> None:
    import websocket  # websocket-client, the library under kubernetes.stream

    url = (srv.url.replace("http", "ws", 1) + f"/api/v1/namespaces/vms/pods/{POD}/exec?"
           "command=ls&command=-l&command=/dev/vfio&container=compute&stdout=true&stderr=true")
    conn = websocket.create_connection(url, subprotocols=["v5.channel.k8s.io", "v4.channel.k8s.io"], timeout=10)
    assert conn.getsubprotocol() == "v5.channel.k8s.io"
    frames = []
    while True:
        opcode, data = conn.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            break
        assert opcode == websocket.ABNF.OPCODE_BINARY
        frames.append(data)
    conn.close()
    assert frames[0] == b"\x01"  # the empty "connected" message on stdout
    assert frames[1].startswith(b"\x01total 0")
    assert json.loads(frames[-1][1:]) == {"metadata": {}, "status": "Success"}
    assert srv.requests[-1].headers["Sec-WebSocket-Protocol"] == "v5.channel.k8s.io,v4.channel.k8s.io"


def test_exec_delay_holds_the_output(api: Any, srv: KubeAPIServer) -> None:
    from kubernetes import client
    from kubernetes.stream import stream

    srv.exec_delay = 0.5
    ws = stream(client.CoreV1Api(api).connect_get_namespaced_pod_exec, POD, "vms", command=list(execs.LIST_VFIO),
                container="compute", stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
    ws.run_forever(timeout=0.1)
    assert ws.is_open() and ws.read_stdout() == ""
    ws.run_forever(timeout=10)
    assert ws.returncode == 0


# --- kubectl (>= 1.34) ----------------------------------------------------------------------------


@pytest.mark.kubectl
@pytest.mark.parametrize(("args", "expected"), [
    (["get", "vmis", "-A"], ["NAMESPACE", "NODENAME", "fedora-gpu", "legacy-vm", "10.244.1.23"]),
    (["get", "resourceclaims", "-n", "vms", "-o", "yaml"],
     ["kind: ResourceClaim", "name: virt-launcher-fedora-gpu-x7k2p-gpu-claim-m4q9z", "device: gpu-vfio-1"]),
    (["get", "resourceslices"], ["DRIVER", "POOL", "gpu-node-1-gpu.nvidia.com-wq7hx", "net.example.com"]),
    (["get", "deviceclasses"], ["vfio.gpu.nvidia.com", "gpu.nvidia.com"]),
    (["get", "resourceclaims", "-A"], ["allocated,reserved", "pending"]),
    (["get", "pods", "-n", "vms", "-o", "json"], ['"kind": "Pod"', POD]),
    (["get", "vmi", "fedora-gpu", "-n", "vms"], ["Running", "gpu-node-1"]),
])
def test_kubectl_get(srv: KubeAPIServer, tmp_path: Path, args: list[str], expected: list[str]) -> None:
    result = kubectl(srv, tmp_path, *args)
    assert result.returncode == 0, result.stderr
    for text in expected:
        assert text in result.stdout
    assert {r.method for r in srv.requests} == {"GET"}


@pytest.mark.kubectl
def test_kubectl_errors_and_tls(tmp_path: Path, srv: KubeAPIServer) -> None:
    result = kubectl(srv, tmp_path, "get", "vmi", "nope", "-n", "vms")
    assert result.returncode == 1
    assert 'Error from server (NotFound): virtualmachineinstances.kubevirt.io "nope" not found' in result.stderr
    srv.faults["resourceslices"] = Fault(status=403)
    result = kubectl(srv, tmp_path, "get", "resourceslices")
    assert result.returncode == 1 and "Error from server (Forbidden)" in result.stderr
    with KubeAPIServer.from_snapshot(BASIC, tls=True, token="s3cret") as secure:
        result = kubectl(secure, tmp_path, "get", "vmis", "-A")
        assert result.returncode == 0, result.stderr
        assert "fedora-gpu" in result.stdout


@pytest.mark.kubectl
def test_kubectl_get_watch_sees_a_change_made_in_the_store(fresh: KubeAPIServer, tmp_path: Path) -> None:
    kubeconfig = fresh.write_kubeconfig(tmp_path / "kubeconfig")
    argv = [kubectl_path(), "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "cache"),
            "get", "vmi", "-n", "vms", "-w", "--request-timeout=30s"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "HOME": str(tmp_path)})
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]  # the header and the two VMIs
        assert lines[0].split()[:3] == ["NAME", "AGE", "PHASE"] and "fedora-pending" in lines[2]
        vmi = pending_vmi(fresh)
        vmi["status"]["phase"] = "Scheduled"
        fresh.store.apply(vmi)
        changed = proc.stdout.readline().split()
        assert changed[0] == "fedora-pending" and "Scheduled" in changed
    finally:
        proc.kill()
        proc.communicate(timeout=10)
    watches = [r for r in fresh.requests if r.param("watch")]
    assert watches and watches[0].param("resourceVersion") is not None
    assert "as=Table" in watches[0].headers["Accept"]


@pytest.mark.kubectl
def test_kubectl_get_namespaces_and_can_i(fresh: KubeAPIServer, tmp_path: Path) -> None:
    from tests.kubeapi import Authorizer

    result = kubectl(fresh, tmp_path, "get", "namespaces")
    assert result.returncode == 0, result.stderr
    assert [ln.split()[:2] for ln in result.stdout.splitlines()[1:]] == [
        ["default", "Active"], ["kube-system", "Active"], ["kubevirt", "Active"], ["legacy", "Active"],
        ["vms", "Active"]]
    can_i = ("auth", "can-i", "list", "resourceclaims.resource.k8s.io")
    assert kubectl(fresh, tmp_path, *can_i, "-A").stdout == "yes\n"
    claims = {"apiGroups": ["resource.k8s.io"], "resources": ["resourceclaims"], "verbs": ["list"]}
    fresh.rbac = Authorizer(namespaced_rules={"vms": [claims]})
    denied = kubectl(fresh, tmp_path, *can_i, "-A")
    assert (denied.returncode, denied.stdout) == (1, "no\n")
    allowed = kubectl(fresh, tmp_path, *can_i, "-n", "vms")
    assert (allowed.returncode, allowed.stdout) == (0, "yes\n")
    listed = kubectl(fresh, tmp_path, "auth", "can-i", "--list", "-n", "vms")
    assert listed.returncode == 0 and "resourceclaims.resource.k8s.io" in listed.stdout
    assert {r.method for r in fresh.requests} == {"GET", "POST"}
    assert all(r.path.startswith("/apis/authorization.k8s.io/v1/") for r in fresh.requests if r.method == "POST")
