"""`describe NAME --watch` follows a VM through its start in the loopback API server, and ends when healthy."""

from __future__ import annotations

import copy
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import REPO, SCENARIOS, cli
from tests.kubeapi import KubeAPIServer
from tests.test_live import assert_read_only

SNAPSHOT = SCENARIOS / "healthy-template-claim" / "snapshot"


def _item(path: str) -> dict[str, Any]:
    doc = yaml.safe_load((SNAPSHOT / path).read_text())
    return dict(doc["items"][0])


class Lines:
    """The child's stdout, line by line, read by a thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._q: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self._q.put(line.rstrip("\n"))
        self._q.put(None)

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._q.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                break
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} not printed; got:\n" + "\n".join(self.seen))


def _pending() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    vmi, pod, claim = (_item(f"gpu-lab/{n}.yaml") for n in ("virtualmachineinstances", "pods", "resourceclaims"))
    vmi_p, pod_p, claim_p = copy.deepcopy(vmi), copy.deepcopy(pod), copy.deepcopy(claim)
    vmi_p["status"] = {"phase": "Scheduling"}
    vmi_p["metadata"]["labels"].pop("kubevirt.io/nodeName")
    pod_p["spec"].pop("nodeName")
    pod_p["status"] = {"phase": "Pending"}
    claim_p.pop("status")
    return vmi_p, pod_p, claim_p


def test_describe_watch_prints_each_step_of_a_start_and_ends_when_healthy(tmp_path: Path) -> None:
    vmi, pod, claim = (_item(f"gpu-lab/{n}.yaml") for n in ("virtualmachineinstances", "pods", "resourceclaims"))
    with KubeAPIServer.from_snapshot(SNAPSHOT) as srv:
        srv.bookmark_interval = 0.5
        for obj in _pending():
            srv.store.apply(obj)
        kc = str(srv.write_kubeconfig(tmp_path / "kubeconfig"))
        proc = subprocess.Popen(
            [sys.executable, "-m", "kubectl_vmgpu", "describe", "rhel9-gpu", "-n", "gpu-lab", "--watch",
             "--kubeconfig", kc],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "NO_COLOR": "1"},
        )
        try:
            out = Lines(proc)
            out.wait_for("Summary:")  # the state first, as describe prints it
            allocated = copy.deepcopy(claim)
            allocated["status"].pop("reservedFor")
            srv.store.apply(allocated)
            out.wait_for("claim allocated gpu-vfio-0 on gpu-worker-01")
            scheduled = copy.deepcopy(pod)
            scheduled["status"] = {"phase": "Pending", "resourceClaimStatuses": pod["status"]["resourceClaimStatuses"]}
            srv.store.apply(scheduled)
            srv.store.apply(claim)
            out.wait_for("pod virt-launcher-rhel9-gpu-cpn4m scheduled on gpu-worker-01")
            srv.store.apply(pod)  # prepared: kubelet started the containers
            out.wait_for("pod virt-launcher-rhel9-gpu-cpn4m Running on gpu-worker-01")
            out.wait_for("domain ok: gpu-lab_rhel9-gpu: hostdev ua-dra-gpu-gpu0")
            srv.store.apply(vmi)
            out.wait_for("vmi Running on gpu-worker-01")
            out.wait_for("healthy: 1 GPU(s) ready")
            assert proc.wait(timeout=30) == 0
            print("\n".join(out.seen))
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        assert_read_only(srv)
    changes = [line for line in out.seen if line[:2].isdigit() and line[2] == ":"]
    assert all(len(line.split()[0]) == 8 for line in changes), changes  # HH:MM:SS first
    watches = [r.path for r in srv.requests if r.query.get("watch") == ["1"]]
    assert len(watches) == len(set(watches)) == 6, watches  # one connection per watched kind, never re-opened
    assert all(r.query.get("allowWatchBookmarks") == ["true"] for r in srv.requests if r.query.get("watch"))


def test_watch_on_a_snapshot_is_a_usage_error() -> None:
    run = cli("get", "--demo", "-A", "--watch")
    assert run.code == 2 and "--watch needs a cluster" in run.err
    run = cli("describe", "--demo", "ubuntu-h100", "-n", "gpu-lab", "-w")
    assert run.code == 2


def test_get_watch_ends_at_ctrl_c_with_130(tmp_path: Path) -> None:
    import signal

    with KubeAPIServer.from_snapshot(SNAPSHOT) as srv:
        for obj in _pending():
            srv.store.apply(obj)
        kc = str(srv.write_kubeconfig(tmp_path / "kubeconfig"))
        proc = subprocess.Popen(
            [sys.executable, "-m", "kubectl_vmgpu", "get", "-A", "-w", "--kubeconfig", kc],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            out = Lines(proc)
            out.wait_for("rhel9-gpu")
            assert out.seen[0].split()[:3] == ["NAMESPACE", "NAME", "PHASE"]
            allocated = _item("gpu-lab/resourceclaims.yaml")
            allocated["status"].pop("reservedFor")
            srv.store.apply(allocated)
            out.wait_for("gpu-lab/rhel9-gpu claim allocated gpu-vfio-0 on gpu-worker-01")
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=30) == 130
            assert proc.stderr is not None and "Traceback" not in proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
