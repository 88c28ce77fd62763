"""Shell completion: the `completion` scripts, kubectl's plugin completion protocol, and the candidates."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kubectl_vmgpu.cli import main
from kubectl_vmgpu.completion import (
    DIRECTIVE_DEFAULT,
    DIRECTIVE_NO_FILE_COMP,
    LIVE_TIMEOUT,
)
from kubectl_vmgpu.completion import plugin_complete as _plugin_complete
from kubectl_vmgpu.entry import complete_main
from tests.helpers import IN_CI, REPO, cli, kubectl_version
from tests.kubeapi import KubeAPIServer

BASIC = REPO / "tests" / "kubeapi" / "testdata" / "basic"
HAS_DEMO = any((REPO / "kubectl_vmgpu" / "demo").rglob("*.yaml"))
# The bundled demo (VMIs in gpu-lab and ml-team); the kubeapi test data until the demo exists.
SOURCE = ["--demo"] if HAS_DEMO else ["--snapshot", str(BASIC)]
NAMESPACES = ["gpu-lab", "ml-team"] if HAS_DEMO else ["legacy", "vms"]


def plugin_complete(words: list[str]) -> tuple[list[str], int]:
    return _plugin_complete(words, main)


COMMANDS = {name for name, command in main.commands.items() if not command.hidden}


def _names(words: list[str]) -> list[str]:
    lines, directive = plugin_complete(words)
    assert directive == DIRECTIVE_NO_FILE_COMP
    return [line.split("\t")[0] for line in lines]


def _source_objects(namespace: str | None = None) -> dict[str, set[str]]:
    """name -> namespaces of the VMIs and VMs of the completion source, read as the CLI reads it."""
    from kubectl_vmgpu.completion import vm_objects

    params = {"demo": HAS_DEMO, "snapshots": () if HAS_DEMO else (str(BASIC),), "namespace": namespace}
    out: dict[str, set[str]] = {}
    for obj in vm_objects(params):
        out.setdefault(obj["metadata"]["name"], set()).add(obj["metadata"]["namespace"])
    return out


# --- completion bash|zsh|fish --------------------------------------------------------------------


def test_completion_scripts_for_each_shell() -> None:
    bash = cli("completion", "bash")
    assert bash.code == 0, bash.err
    assert "_KUBECTL_VMGPU_COMPLETE=bash_complete" in bash.out
    assert "complete -o nosort -F _kubectl_vmgpu_completion kubectl-vmgpu" in bash.out
    zsh = cli("completion", "zsh")
    assert zsh.code == 0 and zsh.out.startswith("#compdef kubectl-vmgpu\n")
    assert (
        "_KUBECTL_VMGPU_COMPLETE=zsh_complete" in zsh.out
        and "compdef _kubectl_vmgpu_completion kubectl-vmgpu" in zsh.out
    )
    fish = cli("completion", "fish")
    assert fish.code == 0
    assert (
        "complete --no-files --command kubectl-vmgpu" in fish.out
        and "_KUBECTL_VMGPU_COMPLETE=fish_complete" in fish.out
    )
    assert cli("completion", "powershell").code == 2
    assert cli("completion").code == 2
    assert "completion" in cli("--help").out


def _shim(tmp_path: Path) -> dict[str, str]:
    """A `kubectl-vmgpu` on PATH that runs this checkout, as `pip install .` would."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shim = bindir / "kubectl-vmgpu"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m kubectl_vmgpu "$@"\n')
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("_KUBECTL_VMGPU")}
    return {**env, "PATH": f"{bindir}{os.pathsep}{env['PATH']}", "PYTHONPATH": str(REPO)}


def test_bash_completion_script_completes_commands_flags_and_names(tmp_path: Path) -> None:
    bash = shutil.which("bash")
    if bash is None:
        if IN_CI:
            pytest.fail("bash is required when CI=true")
        pytest.skip("no bash")
    env = _shim(tmp_path)

    def complete(*words: str) -> list[str]:
        line = " ".join(f"'{w}'" for w in words)
        script = (
            "source <(kubectl-vmgpu completion bash)\n"
            f"COMP_WORDS=(kubectl-vmgpu {line}); COMP_CWORD={len(words)}\n"
            '_kubectl_vmgpu_completion kubectl-vmgpu\nprintf "%s\\n" "${COMPREPLY[@]}"\n'
        )
        proc = subprocess.run([bash, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return [w for w in proc.stdout.splitlines() if w]

    assert set(complete("")) == COMMANDS
    assert "--all-namespaces" in complete("doctor", "--a")
    names = complete("describe", *SOURCE, "-n", NAMESPACES[1], "")
    assert names and set(names) == set(_source_objects(NAMESPACES[1]))


# --- kubectl's plugin completion (kubectl_complete-vmgpu) ------------------------------------


def test_plugin_completion_of_commands() -> None:
    lines, directive = plugin_complete([""])
    assert directive == DIRECTIVE_NO_FILE_COMP
    commands = {line.split("\t")[0] for line in lines}
    assert commands == COMMANDS and {"collect", "completion", "describe", "doctor", "version"} <= commands
    assert all("\t" in line and "\n" not in line for line in lines), "each command with its description"
    assert _names(["d"]) == sorted(c for c in COMMANDS if c.startswith("d"))
    assert set(_names([])) == commands


def test_plugin_completion_of_flags_and_choices() -> None:
    flags = set(_names(["describe", "--"]))
    expected = {
        "--namespace",
        "--all-namespaces",
        "--snapshot",
        "--demo",
        "--kubeconfig",
        "--context",
        "--request-timeout",
        "--no-exec",
        "--output",
        "--help",
    }
    assert expected <= flags
    assert {"--fail-on", "--ignore", "--list-checks", "--explain"} <= set(_names(["doctor", "--"]))
    assert "-A" in _names(["describe", "-"])
    assert _names(["doctor", "--fail-on", ""]) == ["info", "warning", "error"]
    assert _names(["describe", "-o", "j"]) == ["json"]
    assert _names(["describe", "--output=y"]) == ["--output=yaml"]
    assert "--demo" not in _names(["describe", "--demo", "--d"]), "a flag already given is not offered again"
    assert {"--help", "--version"} <= set(_names(["--"]))


def test_plugin_completion_of_vmi_names_from_the_source() -> None:
    expected = _source_objects()
    assert expected, "the completion source has VMIs"
    assert set(_names(["describe", *SOURCE, ""])) == set(expected)
    first = sorted(expected)[0]
    assert first in _names(["doctor", *SOURCE, first[:2]])
    assert all(n.startswith(first[:2]) for n in _names(["doctor", *SOURCE, first[:2]]))
    in_ns = _names(["collect", *SOURCE, "-n", NAMESPACES[0], ""])
    assert in_ns and set(in_ns) == {n for n, ns in expected.items() if NAMESPACES[0] in ns}
    assert set(_names(["describe", *SOURCE, "-A", ""])) == set(expected)
    lines, _ = plugin_complete(["describe", *SOURCE, ""])
    assert all(line.split("\t")[1].startswith(("VMI in ", "VM in ")) for line in lines)
    assert _names(["describe", *SOURCE, "no-such-prefix-"]) == []


def test_plugin_completion_of_namespaces_and_contexts(tmp_path: Path) -> None:
    assert _names(["describe", *SOURCE, "-n", ""]) == NAMESPACES
    assert _names(["describe", *SOURCE, f"--namespace={NAMESPACES[1][:2]}"]) == [f"--namespace={NAMESPACES[1]}"]
    kc = tmp_path / "config"
    kc.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: lab\n"
        "contexts:\n- name: lab\n  context: {cluster: c}\n- name: prod\n  context: {cluster: c}\n"
    )
    assert _names(["doctor", "--kubeconfig", str(kc), "--context", ""]) == ["lab", "prod"]
    assert _names(["doctor", "--kubeconfig", str(kc), "--context", "p"]) == ["prod"]


def test_plugin_completion_of_check_names_and_ids() -> None:
    from kubectl_vmgpu.checks import CHECKS

    assert _names(["doctor", "--explain", ""]) == [c.name for c in CHECKS]
    assert _names(["doctor", "--ignore", "pci-"]) == [c.name for c in CHECKS if c.name.startswith("pci-")]
    assert _names(["doctor", "--ignore", "vg5"]) == [c.id for c in CHECKS if c.id.startswith("VG5")]


def test_plugin_completion_leaves_paths_to_the_shell() -> None:
    assert plugin_complete(["collect", *SOURCE, "-f", ""]) == ([], DIRECTIVE_DEFAULT)
    assert plugin_complete(["collect", *SOURCE, "-o", ""]) == ([], DIRECTIVE_DEFAULT)  # the deprecated form
    assert plugin_complete(["describe", "--snapshot", ""]) == ([], DIRECTIVE_DEFAULT)
    assert plugin_complete(["describe", "--kubeconfig", "/tm"]) == ([], DIRECTIVE_DEFAULT)


def test_plugin_completion_of_vmi_names_from_the_cluster(tmp_path: Path) -> None:
    with KubeAPIServer.from_snapshot(BASIC) as srv:
        kc = str(srv.write_kubeconfig(tmp_path / "kubeconfig", namespace="vms"))
        assert _names(["describe", "--kubeconfig", kc, ""]) == ["fedora-gpu", "fedora-pending"]
        assert _names(["describe", "--kubeconfig", kc, "-A", ""]) == ["fedora-gpu", "fedora-pending", "legacy-vm"]
        assert _names(["doctor", "--kubeconfig", kc, "-n", "legacy", "leg"]) == ["legacy-vm"]
        assert {"legacy", "vms"} <= set(_names(["doctor", "--kubeconfig", kc, "-n", ""]))
        assert srv.requests and all(r.method == "GET" and not r.is_exec for r in srv.requests)


def test_plugin_completion_offers_nothing_when_the_cluster_is_unreachable(tmp_path: Path) -> None:
    kc = tmp_path / "kubeconfig"
    kc.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: x\nclusters:\n- name: x\n  cluster: {server: 'https://127.0.0.1:1'}\n"
        "users:\n- name: x\n  user: {token: t}\ncontexts:\n- name: x\n  context: {cluster: x, user: x}\n"
    )
    start = time.monotonic()
    assert _names(["describe", "--kubeconfig", str(kc), ""]) == []
    assert time.monotonic() - start < LIVE_TIMEOUT + 2
    assert _names(["describe", "--kubeconfig", str(tmp_path / "missing"), ""]) == []
    assert _names(["describe", "--snapshot", str(tmp_path / "missing"), ""]) == []


@pytest.mark.parametrize(
    "words",
    [
        ["nope", ""],
        ["describe", "--fail-on", ""],
        ["doctor", "--request-timeout", ""],
        ["--", ""],
        ["describe", "--", "x"],
    ],
)
def test_plugin_completion_never_fails(words: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert complete_main(words) == 0
    out, err = capsys.readouterr()
    assert out.endswith(":4\n") and err == ""


def test_plugin_completion_console_script_reads_its_arguments(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`kubectl_complete-vmgpu` as pip installs it (setup.cfg console_scripts)."""
    monkeypatch.setattr(sys, "argv", ["kubectl_complete-vmgpu", "doctor", "--fail-on", "e"])
    assert complete_main() == 0
    assert capsys.readouterr().out == "error\n:4\n"


def test_plugin_completion_output_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert complete_main(["doctor", "--fail-on", "w"]) == 0
    assert capsys.readouterr().out == "warning\n:4\n"
    assert complete_main(["collect", "-o", ""]) == 0
    assert capsys.readouterr().out == ":0\n"


def _krew_layout(root: Path, version: str) -> Path:
    """krew's layout: store/vmgpu/<version>/kubectl-vmgpu and bin/kubectl-vmgpu, a link to it."""
    store = root / "store" / "vmgpu" / version
    store.mkdir(parents=True)
    plugin = store / "kubectl-vmgpu"
    shutil.copy(Path(sys.executable).with_name("kubectl-vmgpu"), plugin)  # the console script of this venv
    (root / "bin").mkdir(exist_ok=True)
    link = root / "bin" / "kubectl-vmgpu"
    if link.is_symlink():
        link.unlink()
    link.symlink_to(Path("..") / "store" / "vmgpu" / version / "kubectl-vmgpu")
    return root / "bin"


def test_completion_install_links_the_completer_beside_krews_link(tmp_path: Path) -> None:
    """`kubectl vmgpu completion install` from krew's bin: a relative link that follows upgrades."""
    bindir = _krew_layout(tmp_path / "krew", "v0.1.0")
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(tmp_path)}

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(argv), capture_output=True, text=True, env=env, timeout=120)

    done = run(str(bindir / "kubectl-vmgpu"), "completion", "install")
    assert done.returncode == 0 and done.stdout.startswith("linked "), done.stderr
    assert os.readlink(bindir / "kubectl_complete-vmgpu") == "kubectl-vmgpu"
    assert run("kubectl_complete-vmgpu", "doctor", "--fail-on", "").stdout == "info\nwarning\nerror\n:4\n"
    again = run("kubectl-vmgpu", "completion", "install")
    assert again.returncode == 0 and "already links" in again.stdout
    # krew upgrade: bin/kubectl-vmgpu now links to the new version; the completer follows it
    shutil.rmtree(tmp_path / "krew" / "store" / "vmgpu" / "v0.1.0")
    _krew_layout(tmp_path / "krew", "v0.2.0")
    names = run("kubectl_complete-vmgpu", "describe", *SOURCE, "")
    assert names.returncode == 0 and names.stdout.endswith("\n:4\n") and len(names.stdout.splitlines()) > 2
    kubectl = shutil.which("kubectl")
    if kubectl and (kubectl_version(kubectl) or (0, 0)) >= (1, 26):  # kubectl runs it for `kubectl vmgpu <TAB>`
        through = run(kubectl, "__complete", "vmgpu", "doctor", "--fail-on", "")
        assert through.stdout.splitlines()[:3] == ["info", "warning", "error"], through.stdout + through.stderr


def test_completion_install_keeps_what_is_there_and_warns_off_path(tmp_path: Path) -> None:
    bindir = _krew_layout(tmp_path / "krew", "v0.1.0")
    (bindir / "kubectl_complete-vmgpu").write_text("#!/bin/sh\n")
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(tmp_path)}
    plugin = str(bindir / "kubectl-vmgpu")
    kept = subprocess.run([plugin, "completion", "install"], capture_output=True, text=True, env=env, timeout=120)
    assert kept.returncode == 0 and "--force" in kept.stdout
    forced = subprocess.run([plugin, "completion", "install", "--force"], capture_output=True, text=True, env=env,
                            timeout=120)
    assert forced.returncode == 0 and os.readlink(bindir / "kubectl_complete-vmgpu") == "kubectl-vmgpu"
    other = tmp_path / "elsewhere"
    off = subprocess.run([plugin, "completion", "install", "--dir", str(other)], capture_output=True, text=True,
                         env=env, timeout=120)
    assert off.returncode == 0 and "not on PATH" in off.stdout
    assert os.readlink(other / "kubectl_complete-vmgpu") == str(bindir / "kubectl-vmgpu")
    assert cli("completion", "bash").out.startswith("# bash completion of kubectl-vmgpu")
