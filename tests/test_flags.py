"""kubectl's flag habits through the real CLI: flags anywhere, auth/connection flags, durations, help, collect."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_vmgpu.options import duration
from tests.helpers import REPO, SCENARIOS, cli, exe
from tests.kubeapi import Fault, KubeAPIServer

SNAPSHOT = SCENARIOS / "healthy-direct-claim" / "snapshot"  # a running VMI: its launcher is exec'd into


def _one_line_error(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


# --- flags before or after the subcommand ------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (["-n", "ml-team", "doctor", "--demo"], ["doctor", "-n", "ml-team", "--demo"]),
        (["--demo", "-A", "describe"], ["describe", "--demo", "-A"]),
        (["--namespace=gpu-lab", "--demo", "devices"], ["devices", "--demo"]),  # -n ignored: cluster-wide
    ],
)
def test_global_flags_before_the_subcommand_mean_the_same(before: list[str], after: list[str]) -> None:
    first, second = cli(*before, "-o", "json"), cli(*after, "-o", "json")
    assert first.code == second.code and first.code in (0, 1), first.err
    assert json.loads(first.out) == json.loads(second.out)


def test_flags_after_the_subcommand_win_and_repeated_ones_add_up() -> None:
    run = exe("-n", "gpu-lab", "doctor", "--demo", "-n", "ml-team", "-o", "json")
    assert run.code in (0, 1), run.err
    namespaces = {v["namespace"] for v in json.loads(run.out)["vmis"]}
    assert namespaces == {"ml-team"}
    other = SCENARIOS / "vgpu-mdev" / "snapshot"
    both = cli("--snapshot", str(SNAPSHOT), "doctor", "-A", "--snapshot", str(other), "-o", "json")
    assert both.code in (0, 1), both.err
    alone = [cli("doctor", "-A", "--snapshot", str(p), "-o", "json") for p in (SNAPSHOT, other)]
    names = {v["name"] for v in json.loads(both.out)["vmis"]}
    assert names == {v["name"] for run in alone for v in json.loads(run.out)["vmis"]} and len(names) > 1


def test_global_flags_complete_after_the_subcommand() -> None:
    from kubectl_vmgpu.cli import main
    from kubectl_vmgpu.completion import plugin_complete

    lines, _ = plugin_complete(["--demo", "describe", ""], main)
    assert {"ubuntu-h100", "llm-finetune"} <= {line.split("\t")[0] for line in lines}
    namespaces, _ = plugin_complete(["--demo", "doctor", "-n", ""], main)
    assert {"gpu-lab", "ml-team"} <= set(namespaces)


# --- Go durations ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1m30s", 90), ("500ms", 0.5), ("1h2m3.5s", 3723.5), ("0", 0), ("45", 45), ("1.5h", 5400), ("250us", 0.00025),
     ("2µs", 0.000002), (".5s", 0.5), ("+3s", 3)],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert duration(text) == pytest.approx(seconds)
    assert cli("doctor", "--demo", f"--request-timeout={text}").code in (0, 1)


@pytest.mark.parametrize("text", ["1x", "1.5", "-1s", "", "m", "1m30", "1 s", "1s2"])
def test_invalid_durations_are_one_line_usage_errors(text: str) -> None:
    run = exe("doctor", "--demo", f"--request-timeout={text}")
    assert run.code == 2 and "--request-timeout" in _one_line_error(run.err) and "Traceback" not in run.err
    assert exe(f"--request-timeout={text}", "doctor", "--demo").code == 2


def test_request_timeout_reaches_the_client(tmp_path: Path) -> None:
    with KubeAPIServer.from_snapshot(SNAPSHOT) as srv:
        kc = str(srv.write_kubeconfig(tmp_path / "kubeconfig"))
        srv.faults["*"] = Fault(latency=3.0)
        start = time.monotonic()
        run = cli("--request-timeout", "500ms", "doctor", "-A", "--kubeconfig", kc)
        assert run.code == 3 and "did not answer" in run.err and "in time" in run.err, run.err
        assert time.monotonic() - start < 2.9


# --- help, version, collect --------------------------------------------------------------------


def test_no_arguments_print_help_and_exit_0() -> None:
    run = exe()
    assert run.code == 0 and run.out.startswith("Usage: ") and "Commands:" in run.out and not run.err


def test_help_command() -> None:
    assert cli("help", "doctor").out == cli("doctor", "--help").out
    assert cli("help", "completion", "install").out == cli("completion", "install", "--help").out
    assert cli("help").out == cli("--help").out
    run = exe("help", "nope")
    assert run.code == 2 and "no command 'nope'" in _one_line_error(run.err)


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_version_output_formats_stay_offline(fmt: str, tmp_path: Path) -> None:
    with KubeAPIServer.from_snapshot(SNAPSHOT) as srv:
        kc = str(srv.write_kubeconfig(tmp_path / "kubeconfig"))
        run = exe("version", "-o", fmt, env={"KUBECONFIG": kc})
        assert run.code == 0, run.err
        assert srv.requests == []  # a reachable cluster is not asked
    doc = json.loads(run.out) if fmt == "json" else yaml.safe_load(run.out)
    from importlib.metadata import version

    from kubectl_vmgpu import __version__

    assert doc["plugin"] == {"name": "kubectl-vmgpu", "version": __version__}
    assert doc["python"]["version"] == sys.version.split()[0]
    assert doc["client"] == {"name": "kubernetes", "version": version("kubernetes")}


def test_collect_paths(tmp_path: Path) -> None:
    for args in (["-f", "a.tar.gz"], ["b.tar.gz"], ["ubuntu-h100", "c.tar.gz", "-n", "gpu-lab"]):
        run = cli("collect", "--demo", *[str(tmp_path / a) if a.endswith(".tar.gz") else a for a in args])
        assert run.code == 0 and not run.err, run.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tar.gz", "b.tar.gz", "c.tar.gz"]
    assert not (REPO / "ubuntu-h100").exists()  # with a PATH beside it, one argument is the NAME
    old = exe("collect", "--demo", "-o", str(tmp_path / "d.tar.gz"))
    assert old.code == 0 and (tmp_path / "d.tar.gz").is_file()
    assert [ln for ln in old.err.splitlines()] == ["note: `collect -o PATH` is deprecated: use `collect -f PATH` or "
                                                   "`collect PATH`"]
    for fmt in ("json", "yaml", "text"):
        run = exe("collect", "--demo", "-o", fmt)
        assert run.code == 2 and "not " + fmt in _one_line_error(run.err) and not Path(REPO / fmt).exists()
    assert exe("collect", "--demo").code == 2
    assert exe("collect", "--demo", "x.tar.gz", "-f", str(tmp_path / "e.tar.gz")).code == 2


# --- kubectl's connection and auth flags, against the loopback API server ----------------------


def _kubeconfig(path: Path, clusters: dict[str, dict[str, Any]], users: dict[str, dict[str, Any]],
                current: str | None = "main") -> str:
    first_cluster, first_user = next(iter(clusters)), next(iter(users))
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": c} for n, c in clusters.items()],
        "users": [{"name": n, "user": u} for n, u in users.items()],
        "contexts": [{"name": "main", "context": {"cluster": first_cluster, "user": first_user, "namespace": "x"}}],
    }
    if current:
        doc["current-context"] = current
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_token_wins_over_the_kubeconfig_user(tmp_path: Path) -> None:
    with KubeAPIServer.from_snapshot(SNAPSHOT, token="sekret") as srv:
        # the user's exec plugin would fail: client-go never runs it when --token is given
        user = {"token": "wrong", "exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "false",
                                           "interactiveMode": "Never"}}
        kc = _kubeconfig(tmp_path / "kc", {"c": {"server": srv.url}}, {"u": user})
        run = cli("--token", "sekret", "doctor", "-A", "--kubeconfig", kc)
        assert run.code in (0, 1), run.err
        assert srv.requests and {r.headers.get("Authorization") for r in srv.requests} == {"Bearer sekret"}
        assert any(r.is_exec for r in srv.requests)  # exec carries it too
        # without the flag, the kubeconfig's exec plugin runs (and fails), as kubectl would do
        assert cli("doctor", "-A", "--kubeconfig", kc).code == 3


def test_impersonation_headers_on_every_request_and_exec(tmp_path: Path) -> None:
    with KubeAPIServer.from_snapshot(SNAPSHOT) as srv:
        kc = str(srv.write_kubeconfig(tmp_path / "kc"))
        run = cli("--as", "alice", "--as-group", "gpu-admins", "doctor", "-A", "--as-group", "system:authenticated",
                  "--as-uid", "1234", "--kubeconfig", kc)
        assert run.code in (0, 1), run.err
        assert any(r.is_exec for r in srv.requests)
        for req in srv.requests:
            assert req.values("Impersonate-User") == ["alice"], req.path
            assert req.values("Impersonate-Uid") == ["1234"], req.path
            assert req.values("Impersonate-Group") == ["gpu-admins", "system:authenticated"], req.path
        srv.reset_requests()
        assert cli("doctor", "-A", "--kubeconfig", kc).code in (0, 1)
        assert not any(r.values("Impersonate-User") or r.values("Impersonate-Group") for r in srv.requests)
        run = exe("doctor", "-A", "--as-group", "g", "--kubeconfig", kc)
        assert run.code == 3 and "without impersonating a user" in _one_line_error(run.err)


def test_kubeconfig_impersonation_fields_and_flags_over_them(tmp_path: Path) -> None:
    with KubeAPIServer.from_snapshot(SNAPSHOT) as srv:
        kc = _kubeconfig(tmp_path / "kc", {"c": {"server": srv.url}}, {"u": {"as": "bob", "as-groups": ["ops"]}})
        assert cli("devices", "--kubeconfig", kc).code == 0
        assert {tuple(r.values("Impersonate-User") + r.values("Impersonate-Group")) for r in srv.requests} == {
            ("bob", "ops")}
        srv.reset_requests()
        assert cli("devices", "--kubeconfig", kc, "--as", "carol").code == 0
        assert {tuple(r.values("Impersonate-User") + r.values("Impersonate-Group")) for r in srv.requests} == {
            ("carol", "ops")}


def test_server_cluster_and_user_flags(tmp_path: Path) -> None:
    with KubeAPIServer.from_snapshot(SNAPSHOT, token="good") as srv:
        dead = "http://127.0.0.1:9"  # discard port: nothing answers
        kc = _kubeconfig(tmp_path / "kc", {"dead": {"server": dead}, "live": {"server": srv.url}},
                         {"nobody": {"token": "bad"}, "admin": {"token": "good"}})
        assert cli("devices", "--kubeconfig", kc, "--request-timeout", "2s").code == 3
        assert cli("-s", srv.url, "--user", "admin", "devices", "--kubeconfig", kc).code == 0
        assert cli("devices", "--cluster", "live", "--user", "admin", "--kubeconfig", kc).code == 0
        assert cli("devices", "--server", srv.url, "--token", "good", "--kubeconfig", kc).code == 0
        for flag, name in (("--cluster", "nope"), ("--user", "nope")):
            run = exe("devices", flag, name, "--kubeconfig", kc)
            assert run.code == 3 and f'{flag} "nope" does not exist' in _one_line_error(run.err)
        # no kubeconfig at all: --server (and --token) are enough, as for kubectl; namespace "default"
        home = {"KUBECONFIG": "", "HOME": str(tmp_path), "KUBERNETES_SERVICE_HOST": ""}
        run = exe("devices", "-s", srv.url, "--token", "good", "-o", "json", env=home)
        assert run.code == 0, run.err
        no_ctx = _kubeconfig(tmp_path / "empty", {"live": {"server": dead}}, {"admin": {}}, current=None)
        assert exe("devices", "--kubeconfig", no_ctx, "-s", srv.url, "--token", "good").code == 0


def test_tls_flags(tmp_path: Path) -> None:
    with KubeAPIServer.from_snapshot(SNAPSHOT, tls=True) as srv:
        assert srv.ca_pem is not None
        ca = tmp_path / "ca.pem"
        ca.write_bytes(srv.ca_pem)
        other = KubeAPIServer([], tls=True).start()  # another self-signed CA: verification fails with it
        try:
            wrong = {"server": srv.url, "certificate-authority-data": __import__("base64").b64encode(
                other.ca_pem or b"").decode()}
        finally:
            other.stop()
        kc = _kubeconfig(tmp_path / "kc", {"c": wrong}, {"u": {}})
        assert cli("devices", "--kubeconfig", kc).code == 3
        run = cli("devices", "--kubeconfig", kc, "--certificate-authority", str(ca))
        assert run.code == 0, run.err
        run = cli("--insecure-skip-tls-verify", "devices", "--kubeconfig", kc)
        assert run.code == 0 and "is not verified" in run.err, run.err


# --- the single file on an older Python --------------------------------------------------------


def test_zipapp_refuses_python_3_9_in_one_line() -> None:
    """macOS's own python3 is 3.9: the zipapp's __main__ says what to do instead of a traceback."""
    fake = ("import sys, runpy; sys.version_info = (3, 9, 6, 'final', 0); sys.version = '3.9.6 (fake)'; "
            f"runpy.run_path({str(REPO / 'scripts' / 'zipapp_main.py')!r}, run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", fake], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": ""})
    assert proc.returncode == 1 and not proc.stdout
    line = proc.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert "3.10 or newer" in line and "3.9.6" in line and "python.org" in line
