"""API and exec faults through the test API server: each gives a report with a named gap, or exit 3 in one line."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kubectl_vmgpu import execs
from kubectl_vmgpu.model import Inventory
from kubectl_vmgpu.sources import api, cluster
from tests.helpers import cli
from tests.kubeapi import Fault, KubeAPIServer

BASIC = Path(__file__).parent / "kubeapi" / "testdata" / "basic"
SLICES, CLAIMS, VMIS = "resourceslices.resource.k8s.io", "resourceclaims.resource.k8s.io", cluster.VMIS
GAP_CHECK = "api-unreadable"  # the cluster-level finding that names each list not read


@dataclass
class Case:
    """One fault: where it is injected, and what the run must give."""

    name: str
    faults: dict[str, Fault]
    gap: str | None = None  # resource (or pod evidence text) named as not read; None: exit 3
    error: str | None = None  # exit 3: the one line on stderr contains this
    requests: tuple[str, int] | None = None  # (path suffix, how many requests reached it)
    max_seconds: float = 10.0
    min_seconds: float = 0.0
    same_report: bool = False  # a retried fault gives the report of a healthy run
    args: tuple[str, ...] = ()
    check: Callable[[KubeAPIServer], None] | None = None


def _restarted_unpaged(srv: KubeAPIServer) -> None:
    pods = [r for r in srv.requests if r.path.endswith("/pods") and not r.is_exec]
    assert [bool(r.param("continue")) for r in pods] == [False, True, False]
    assert pods[-1].param("limit") is None  # the restart reads everything at once, as client-go's pager does


CASES = [
    Case(
        "500 on the VMI list",
        {"virtualmachineinstances": Fault(status=500)},
        error=f"cannot read {VMIS}: Internal error occurred: injected fault",
    ),
    Case(
        "403 on the VMI list",
        {"virtualmachineinstances": Fault(status=403)},
        error=f'cannot read {VMIS}: {VMIS} is forbidden: User "system:serviceaccount:default:test" cannot list',
    ),
    Case(
        "503 on ResourceSlices, always",
        {"resourceslices": Fault(status=503)},
        gap=SLICES,
        requests=("/resourceslices", 3),
    ),
    Case(
        "503 on ResourceSlices, once",
        {"resourceslices": Fault(status=503, times=1)},
        requests=("/resourceslices", 2),
        same_report=True,
    ),
    Case("504 on claims, once", {"resourceclaims": Fault(status=504, times=1)}, same_report=True),
    Case(
        "500 on ResourceClaimTemplates (not retried)",
        {"resourceclaimtemplates": Fault(status=500)},
        gap="resourceclaimtemplates.resource.k8s.io",
        requests=("/resourceclaimtemplates", 1),
    ),
    Case(
        "429 Retry-After 1s, always",
        {"resourceclaims": Fault(status=429, retry_after=1)},
        gap=CLAIMS,
        requests=("/resourceclaims", 3),
        min_seconds=2.0,
        max_seconds=8.0,
    ),
    Case(
        "429 Retry-After 100s > --request-timeout",
        {"resourceclaims": Fault(status=429, retry_after=100)},
        gap=CLAIMS,
        requests=("/resourceclaims", 1),
        max_seconds=5.0,
    ),
    Case(
        "slower than --request-timeout (3s > 1s)",
        {"resourceslices": Fault(latency=3)},
        gap=SLICES,
        max_seconds=2.9,
        args=("--request-timeout", "1s"),
    ),
    Case(
        "connection reset mid-list, once", {"pods": Fault(reset=True, times=1)}, same_report=True, requests=("/pods", 2)
    ),
    Case("connection reset mid-list, always", {"pods": Fault(reset=True)}, gap="pods", requests=("/pods", 2)),
    Case(
        "410 Gone on a stale continue",
        {"pods": Fault(status=410, times=1)},
        same_report=True,
        check=_restarted_unpaged,
        args=("--page-size-1",),
    ),
    Case("401 expired token", {"*": Fault(status=401)}, error="Unauthorized"),
    Case(
        "500 on discovery",
        {"/apis": Fault(status=500)},
        error="discovery failed: Internal error occurred: injected fault",
    ),
    Case("exec 403", {"pods/exec": Fault(status=403)}, gap="pods/exec forbidden"),
    Case("exec 500", {"pods/exec": Fault(status=500)}, gap="exec refused (500)"),
    Case(
        "exec slower than --request-timeout",
        {"pods/exec": Fault(latency=3)},
        gap="got no answer within 1s",
        max_seconds=2.9,
        args=("--request-timeout", "1s"),
    ),
    Case("exec connection reset mid-stream", {"pods/exec": Fault(reset=True)}, gap="Connection reset by peer"),
]


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    kc = tmp_path_factory.mktemp("healthy") / "kubeconfig"
    with KubeAPIServer.from_snapshot(BASIC) as srv:
        run = cli("doctor", "-A", "-o", "json", "--kubeconfig", str(srv.write_kubeconfig(kc)))
    assert run.code == 1, run.err
    return _doc(run.out)


def _doc(out: str) -> dict[str, Any]:
    doc = json.loads(out)
    doc.pop("source")
    return doc


def _gap_texts(inv: Inventory, doc: dict[str, Any]) -> str:
    """Everything the run says it could not read: cluster facts and the findings' messages."""
    messages = [f["message"] for f in doc["findings"]]
    messages += [f["message"] for v in doc["vmis"] for f in v["findings"]]
    return json.dumps(dict(inv.cluster.unavailable)) + "\n".join(messages)


def run_case(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, KubeAPIServer, Any, float]:
    loaded: list[Inventory] = []
    real_read = cluster.Reader.read
    monkeypatch.setattr(cluster.Reader, "read", lambda self: _keep(real_read(self), loaded))
    args = list(case.args)
    if "--page-size-1" in args:
        args.remove("--page-size-1")
        monkeypatch.setattr(api, "PAGE", 1)
    with KubeAPIServer.from_snapshot(BASIC) as srv:
        kc = str(srv.write_kubeconfig(tmp_path / "kubeconfig"))
        srv.faults.update({k: Fault(**vars(f)) for k, f in case.faults.items()})
        start = time.monotonic()
        run = cli("doctor", "-A", "-o", "json", "--kubeconfig", kc, *args)
        elapsed = time.monotonic() - start
    return run, srv, loaded[0] if loaded else None, elapsed


def _keep(result: Any, into: list[Inventory]) -> Any:
    into.append(result)
    return result


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fault(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, healthy: dict[str, Any]) -> None:
    run, srv, inv, elapsed = run_case(case, tmp_path, monkeypatch)
    assert "Traceback" not in run.err
    assert case.min_seconds <= elapsed <= case.max_seconds, f"took {elapsed:.1f}s"
    if case.error is not None:
        assert run.code == 3, (run.code, run.err)
        assert run.err.startswith("error: ") and len(run.err.strip().splitlines()) == 1, run.err
        assert case.error in run.err, run.err
        return
    assert run.code in (0, 1), run.err
    doc = _doc(run.out)
    if case.same_report:
        assert doc == healthy
        assert not inv.cluster.unavailable
    if case.gap is not None:
        assert case.gap in _gap_texts(inv, doc)
    if case.requests is not None:
        suffix, count = case.requests
        reached = [r for r in srv.requests if r.path.endswith(suffix) and not r.is_exec]
        assert len(reached) == count, [(r.path, r.status) for r in reached]
    if case.check is not None:
        case.check(srv)


LIST_GAPS = [c for c in CASES if c.gap in (SLICES, CLAIMS, "resourceclaimtemplates.resource.k8s.io", "pods")]


@pytest.mark.parametrize("case", LIST_GAPS, ids=[c.name for c in LIST_GAPS])
def test_unread_lists_are_named_in_the_report(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A list that could not be read is named in the report itself, not only in cluster facts."""
    run, _, _, _ = run_case(case, tmp_path, monkeypatch)
    named = [f for f in json.loads(run.out)["findings"] if f["name"] == GAP_CHECK and case.gap in f["message"]]
    assert named and named[0]["severity"] == "info", named


def test_unread_lists_are_named_in_text_output(tmp_path: Path) -> None:
    with KubeAPIServer.from_snapshot(BASIC) as srv:
        srv.faults["deviceclasses"] = Fault(status=403)
        run = cli("describe", "-A", "--kubeconfig", str(srv.write_kubeconfig(tmp_path / "kubeconfig")))
    assert run.code == 0, run.err
    assert GAP_CHECK in run.out and "deviceclasses.resource.k8s.io" in run.out


def test_missing_kubeconfig_or_context_exit_3(tmp_path: Path) -> None:
    env = {"KUBECONFIG": str(tmp_path / "none"), "HOME": str(tmp_path), "KUBERNETES_SERVICE_HOST": ""}
    for args, text in (
        (("--kubeconfig", str(tmp_path / "missing")), "missing: no such file"),
        ((), "no kubeconfig found"),
    ):
        run = cli("doctor", *args, env=env)
        assert run.code == 3 and text in run.err and len(run.err.strip().splitlines()) == 1, run.err
    with KubeAPIServer.from_snapshot(BASIC) as srv:
        kc = str(srv.write_kubeconfig(tmp_path / "kubeconfig"))
        run = cli("doctor", "--kubeconfig", kc, "--context", "gone")
    assert run.code == 3 and 'context "gone" does not exist' in run.err and len(run.err.splitlines()) == 1


def test_exec_output_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A launcher printing more than the cap is cut off and named; nothing that large is kept."""
    snap = tmp_path / "snap"
    shutil.copytree(BASIC, snap)
    domain = next(snap.glob("evidence/*/*/domain.xml"))
    domain.write_text("<domain><name>x</name><!-- " + "x" * 300_000 + " --></domain>")
    monkeypatch.setattr(execs, "MAX_OUTPUT_BYTES", 100_000)
    with KubeAPIServer.from_snapshot(snap) as srv:
        run = cli("doctor", "-A", "-o", "json", "--kubeconfig", str(srv.write_kubeconfig(tmp_path / "kc")))
    gaps = [f["message"] for v in json.loads(run.out)["vmis"] for f in v["findings"] if f["id"] == "VG507"]
    assert any("domain XML: exec `virsh` printed more than 100000 bytes" in m for m in gaps), gaps


def test_named_vmi_with_slashes_stays_in_its_path(tmp_path: Path) -> None:
    """A NAME or namespace is one path segment: `../..` cannot walk to another API path."""
    with KubeAPIServer.from_snapshot(BASIC) as srv:
        kc = str(srv.write_kubeconfig(tmp_path / "kubeconfig"))
        run = cli("describe", "../../../../api/v1/namespaces/vms/secrets", "-n", "vms", "--kubeconfig", kc)
        assert run.code == 2, run.err
        assert not any("secrets" in r.path and "virtualmachine" not in r.path for r in srv.requests)
