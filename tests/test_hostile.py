"""Inputs shaped by an attacker (issue 13): each exits 0/1/3 with one line, in bounded time and memory."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_vmgpu.sources import kubeconfig, proxy
from kubectl_vmgpu.sources.errors import SourceError
from tests.helpers import REPO, SCENARIOS, cli
from tests.kubeapi import KubeAPIServer

BASIC = REPO / "tests" / "kubeapi" / "testdata" / "basic"
SCENARIO = SCENARIOS / "claim-deleting" / "snapshot"
MAX_RSS_MB = 300
POD = "virt-launcher-fedora-gpu-x7k2p"
META_DIR = "var/run/kubernetes.io/dra-device-attributes/resourceclaimtemplates/gpu-claim/gpu"


def bounded(*args: str, timeout: float = 10, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """The real executable in a child: killed after `timeout` s, its own peak RSS (wait4) under MAX_RSS_MB."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubectl_vmgpu", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    deadline = time.monotonic() + timeout
    while True:  # wait4 gives this child's own rusage (RUSAGE_CHILDREN would mix in earlier children)
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            os.wait4(proc.pid, 0)
            pytest.fail(f"{args} still running after {timeout}s")
        time.sleep(0.02)
    assert proc.stdout is not None and proc.stderr is not None
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    code = os.waitstatus_to_exitcode(status)
    peak_mb = usage.ru_maxrss / 1024  # KiB on Linux
    assert peak_mb < MAX_RSS_MB, f"{args}: peak RSS {peak_mb:.0f} MB"
    assert code in (0, 1, 3), (code, err)
    assert "Traceback" not in err, err
    return code, out, err


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _snapshot(tmp_path: Path) -> Path:
    root = tmp_path / "snap"
    shutil.copytree(SCENARIO, root)
    return root


# ---- directory snapshots ---------------------------------------------------------------------


def test_fifo_named_yaml_is_skipped_with_a_note(tmp_path: Path) -> None:
    root = _snapshot(tmp_path)
    os.mkfifo(root / "x.yaml")
    code, _, err = bounded("doctor", "-A", "--snapshot", str(root))
    assert code in (0, 1) and "x.yaml: a FIFO, not read" in one_line(err)
    code, _, err = bounded("doctor", "-A", "--snapshot", str(root / "x.yaml"))
    assert code == 3 and "a FIFO, not a file or folder" in one_line(err)


def test_symlink_loops_and_links_out_are_not_followed(tmp_path: Path) -> None:
    root = _snapshot(tmp_path)
    expected = cli("doctor", "-A", "-o", "json", "--snapshot", str(root))
    for name, target in (("a", "."), ("b", "."), ("c", ".."), ("root", "/"), ("z.yaml", "/dev/zero")):
        (root / name).symlink_to(target)
    (root / "dangling.yaml").symlink_to(tmp_path / "nowhere")
    (root / "p.yaml").symlink_to("q.yaml")
    (root / "q.yaml").symlink_to("p.yaml")
    code, out, err = bounded("doctor", "-A", "-o", "json", "--snapshot", str(root))
    assert code == expected.code and json.loads(out)["vmis"] == json.loads(expected.out)["vmis"]
    note = one_line(err)
    assert note.startswith("note: skipped 8 snapshot entries") and "a symlink out of the snapshot" in note


def test_symlink_inside_the_snapshot_is_read(tmp_path: Path) -> None:
    root = tmp_path / "snap"
    (root / "real").mkdir(parents=True)
    for f in SCENARIO.iterdir():
        shutil.copy(f, root / "real" / f.name) if f.is_file() else shutil.copytree(f, root / "real" / f.name)
    (root / "latest").symlink_to("real")
    code, out, err = bounded("doctor", "-A", "-o", "json", "--snapshot", str(root))
    assert json.loads(out)["vmis"] and "Traceback" not in err


def test_ten_megabyte_line_of_spaces(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text(" " * 10_000_000)
    (tmp_path / "y.yaml").write_text("- " * 5_000_000 + "a\n")
    code, _, err = bounded("doctor", "-A", "--snapshot", str(tmp_path))
    assert code in (0, 3) and len(err.splitlines()) <= 1


def test_file_over_the_per_file_cap(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as f:  # sparse: st_size says 1 GiB + 1, nothing is read
        f.truncate((1 << 30) + 1)
    code, _, err = bounded("doctor", "-A", "--snapshot", str(tmp_path))
    assert code == 3 and "per-file cap of 1 GiB" in one_line(err)


# ---- archives --------------------------------------------------------------------------------


class _Repeat(io.RawIOBase):
    """`size` copies of one byte, read in chunks (a member written without holding it in memory)."""

    def __init__(self, byte: bytes, size: int) -> None:
        self.byte, self.left = byte, size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return self.byte * n


def _tgz(path: Path, members: list[tuple[str, bytes, int]]) -> Path:
    with tarfile.open(path, "w:gz", compresslevel=9) as tar:
        for name, byte, size in members:
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, _Repeat(byte, size))  # type: ignore[arg-type]
    return path


def test_archive_holding_a_200_megabyte_line(tmp_path: Path) -> None:
    bomb = _tgz(tmp_path / "line.tar.gz", [("x.yaml", b"a", 200 << 20)])
    assert bomb.stat().st_size < 300_000
    code, _, err = bounded("doctor", "-A", "--snapshot", str(bomb))
    assert code == 3 and "64 times its size" in one_line(err)


def test_archive_of_eight_large_zero_members(tmp_path: Path) -> None:
    bomb = _tgz(tmp_path / "zeros.tar.gz", [(f"z{i}.yaml", b"\0", 255 << 20) for i in range(8)])
    code, _, err = bounded("doctor", "-A", "--snapshot", str(bomb), timeout=20)
    assert code == 3 and "decompression bomb" in one_line(err)


def test_archive_member_names_never_climb_out(tmp_path: Path) -> None:
    bundle = tmp_path / "b.tar.gz"
    with tarfile.open(bundle, "w:gz") as tar:
        for f in sorted(SCENARIO.rglob("*")):
            if f.is_file():
                tar.add(f, f"snap/{f.relative_to(SCENARIO)}")
        for name in ("../../evil.yaml", "evidence/../../ns/pod/files/x", "/abs/evidence/ns/../x.yaml"):
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"{}"))
    code, _, err = bounded("doctor", "-A", "--snapshot", str(bundle))
    assert "skipped 3 snapshot entries" in one_line(err) and "climbs out" in err
    out = tmp_path / "again.tar.gz"
    code, _, err = bounded("collect", "-A", "--snapshot", str(bundle), "-f", str(out))
    assert code == 0, err
    with tarfile.open(out) as tar:
        assert all(".." not in m.name.split("/") and not m.name.startswith("/") for m in tar.getmembers())


# ---- malformed documents ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "info",
    [{"groups": 5}, {"groups": {"kubevirt.io": 5}}, {"listed": "Pod"}, {"unavailable": [5]}, {"serverVersion": [1]}],
)
def test_malformed_cluster_info_exits_3(tmp_path: Path, info: dict[str, Any]) -> None:
    doc = {"apiVersion": "vmgpu.kubevirt.io/v1alpha1", "kind": "ClusterInfo", **info}
    (tmp_path / "cluster-info.yaml").write_text(yaml.safe_dump(doc))
    run = cli("doctor", "-A", "--snapshot", str(tmp_path))
    assert run.code == 3 and "cluster-info.yaml: ClusterInfo" in one_line(run.err)


KUBECONFIGS: dict[str, bytes] = {
    "users-scalar": b"users: 5\ncurrent-context: x\n",
    "context-scalar": b"contexts: [{name: x, context: 'x'}]\ncurrent-context: x\n",
    "not-utf8": b"current-context: \xff\xfe\n",
    "deep": b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n",
    "token-number": b"users: [{name: u, user: {token: 5}}]\n",
    "list": b"- 1\n",
    "no-server": b"clusters: [{name: c, cluster: {}}]\ncontexts: [{name: x, context: {cluster: c}}]\n"
    b"current-context: x\n",
}


@pytest.mark.parametrize("name", sorted(KUBECONFIGS))
def test_malformed_kubeconfig_exits_3(tmp_path: Path, name: str) -> None:
    path = tmp_path / "config"
    path.write_bytes(KUBECONFIGS[name])
    code, _, err = bounded("doctor", "-A", "--kubeconfig", str(path))
    line = one_line(err)
    assert code == 3 and ("kubeconfig" in line or 'context "x"' in line), line


# ---- collect bundles -------------------------------------------------------------------------


def _hostile_basic(tmp_path: Path) -> Path:
    """The loopback fixture with a secret in a launcher's env and escapes in a metadata value."""
    root = tmp_path / "basic"
    shutil.copytree(BASIC, root)
    pods = yaml.safe_load((root / "pods.yaml").read_text())
    pod = next(p for p in pods["items"] if p["metadata"]["name"] == POD)
    pod["spec"]["containers"][0]["env"] = [
        {"name": "TOKEN", "value": "s3cret"},
        {"name": "FROM", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
    ]
    pod["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = '{"s3cret": 1}'
    (root / "pods.yaml").write_text(yaml.safe_dump(pods))
    meta = root / "evidence" / "vms" / POD / "files" / META_DIR / "gpu.nvidia.com-metadata.json"
    meta.write_text(meta.read_text().replace('"0000:65:00.0"', '"0000:65:00.0\\u001b]0;X\\u0007"'))
    return root


def test_collect_redacts_and_writes_0600(tmp_path: Path) -> None:
    root = _hostile_basic(tmp_path)
    with KubeAPIServer.from_snapshot(root) as srv:
        kc = str(srv.write_kubeconfig(tmp_path / "kubeconfig"))
        bundle = tmp_path / "b.tar.gz"
        run = cli("collect", "-A", "-f", str(bundle), "--kubeconfig", kc)
        assert run.code == 0, run.err
        kept = tmp_path / "kept.tar.gz"
        assert cli("collect", "-A", "-f", str(kept), "--kubeconfig", kc, "--no-redact").code == 0
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
    text = gzip.decompress(bundle.read_bytes())
    assert b"s3cret" not in text and b"name: TOKEN" in text and b"secretKeyRef" in text
    assert b"s3cret" in gzip.decompress(kept.read_bytes())
    redacted = cli("doctor", "-A", "-o", "json", "--snapshot", str(bundle))
    full = cli("doctor", "-A", "-o", "json", "--snapshot", str(kept))
    assert json.loads(redacted.out)["vmis"] == json.loads(full.out)["vmis"]


@pytest.mark.parametrize("target", ["fifo", "symlink", "folder"])
def test_collect_never_writes_over_what_is_not_a_regular_file(tmp_path: Path, target: str) -> None:
    path = tmp_path / "out.tar.gz"
    victim = tmp_path / "victim"
    victim.write_text("keep")
    if target == "fifo":
        os.mkfifo(path)
    elif target == "symlink":
        path.symlink_to(victim)
    else:
        path.mkdir()
    code, _, err = bounded("collect", "-A", "--snapshot", str(SCENARIO), "-f", str(path))
    assert code == 3 and "refused" in one_line(err)
    assert victim.read_text() == "keep" and not stat.S_ISREG(path.lstat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tar.gz", "victim"]  # no temporary file left


def test_collect_refuses_a_device() -> None:
    """`-o /dev/full` (as root, it once replaced the device node): refused before anything is written."""
    before = os.lstat("/dev/full")
    code, _, err = bounded("collect", "-A", "--snapshot", str(SCENARIO), "-f", "/dev/full")
    assert code == 3 and "a character device is there" in one_line(err)
    after = os.lstat("/dev/full")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino


# ---- terminals and exec ----------------------------------------------------------------------


def test_escapes_print_as_visible_text_in_describe(tmp_path: Path) -> None:
    root = _hostile_basic(tmp_path)
    text = cli("describe", "fedora-gpu", "-n", "vms", "--snapshot", str(root))
    assert "\x1b" not in text.out and "\x07" not in text.out and "0000:65:00.0\\x1b]0;X\\x07" in text.out
    out = cli("describe", "fedora-gpu", "-n", "vms", "-o", "json", "--snapshot", str(root)).out
    assert "0000:65:00.0\\u001b]0;X\\u0007" in out  # JSON stays exact (JSON's own escapes)


def test_file_name_with_a_newline_is_reported_not_split(tmp_path: Path) -> None:
    root = tmp_path / "basic"
    shutil.copytree(BASIC, root)
    meta = root / "evidence" / "vms" / POD / "files" / META_DIR
    (meta / "x\n").mkdir()
    (meta / "x\n" / "evil-metadata.json").write_text("{}")
    with KubeAPIServer.from_snapshot(root) as srv:
        kc = str(srv.write_kubeconfig(tmp_path / "kubeconfig"))
        run = cli("describe", "fedora-gpu", "-n", "vms", "--kubeconfig", kc)
        heads = [r.command for r in srv.requests if r.is_exec and r.command and r.command[0] == "head"]
    assert "control characters" in run.out and "x\\n/evil-metadata.json" in run.out
    assert heads == []  # nothing read from a listing that had an odd name


# ---- kubeconfig parity -----------------------------------------------------------------------


def test_token_file_is_trimmed_and_tls_warning_shown_once(tmp_path: Path) -> None:
    with KubeAPIServer.from_snapshot(BASIC, tls=True, token="t0k") as srv:
        path = srv.write_kubeconfig(tmp_path / "kubeconfig")
        doc = yaml.safe_load(path.read_text())
        (tmp_path / "token").write_text("t0k\n")
        doc["users"][0]["user"] = {"tokenFile": "token"}
        doc["clusters"][0]["cluster"] = {"server": srv.url, "insecure-skip-tls-verify": True}
        path.write_text(yaml.safe_dump(doc))
        run = cli("doctor", "-A", "--kubeconfig", str(path))
    assert run.code in (0, 1), run.err
    assert run.err.count("not verified") == 1 and "InsecureRequestWarning" not in run.err


def test_cluster_without_server_names_the_context(tmp_path: Path) -> None:
    (tmp_path / "config").write_text(
        yaml.safe_dump(
            {"clusters": [{"name": "c", "cluster": {}}], "contexts": [{"name": "dev", "context": {"cluster": "c"}}]}
        )
    )
    with pytest.raises(SourceError, match='context "dev": cluster "c" has no server'):
        kubeconfig.load(str(tmp_path / "config"), "dev")


@pytest.mark.parametrize(
    ("server", "env", "expected"),
    [
        ("https://api.example.com:6443", {"HTTPS_PROXY": "p:3128", "HTTP_PROXY": "http://h:1"}, "http://p:3128"),
        ("http://api.example.com", {"HTTPS_PROXY": "http://p:3128"}, None),  # no fallback across schemes
        ("https://api.example.com", {"https_proxy": "http://p", "NO_PROXY": "example.com"}, None),
        ("https://example.com", {"HTTPS_PROXY": "http://p", "NO_PROXY": "example.com"}, None),
        ("https://example.com", {"HTTPS_PROXY": "http://p", "NO_PROXY": ".example.com"}, "http://p"),
        ("https://a.example.com", {"HTTPS_PROXY": "http://p", "NO_PROXY": "*.example.com"}, None),
        ("https://notexample.com", {"HTTPS_PROXY": "http://p", "NO_PROXY": "example.com"}, "http://p"),
        ("https://10.1.2.3:6443", {"HTTPS_PROXY": "http://p", "NO_PROXY": "10.0.0.0/8"}, None),
        ("https://10.1.2.3:6443", {"HTTPS_PROXY": "http://p", "NO_PROXY": "10.1.2.3:443"}, "http://p"),
        ("https://10.1.2.3:6443", {"HTTPS_PROXY": "http://p", "NO_PROXY": "x, 10.1.2.3:6443"}, None),
        ("https://[fd00::1]:6443", {"HTTPS_PROXY": "http://p", "NO_PROXY": "fd00::/8"}, None),
        ("https://api.example.com", {"HTTPS_PROXY": "http://p", "NO_PROXY": "*"}, None),
        ("https://127.0.0.1:6443", {"HTTPS_PROXY": "http://p"}, None),  # loopback: never proxied
        ("https://localhost:6443", {"HTTPS_PROXY": "http://p"}, None),
    ],
)
def test_proxy_from_environment_as_client_go(server: str, env: dict[str, str], expected: str | None) -> None:
    assert proxy.for_server(server, None, env) == expected


def test_proxy_url_of_the_cluster_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "*")
    cluster = {"server": "https://api.example.com", "proxy-url": "socks5://p:1080"}
    doc = {"clusters": [{"name": "c", "cluster": cluster}], "contexts": [{"name": "x", "context": {"cluster": "c"}}]}
    (tmp_path / "config").write_text(yaml.safe_dump(doc))
    kc = kubeconfig.load(str(tmp_path / "config"), "x")
    assert kc is not None and kc.proxy == "socks5://p:1080"
