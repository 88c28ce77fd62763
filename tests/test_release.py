"""The release build: the single-file zipapp, its archive, the krew manifest, and the zipapp as kubectl runs it.

The build (scripts/build_release.py) runs twice per session into temporary folders, sharing the
wheel cache build/wheels/ (the first build of a clean checkout downloads the pinned wheels).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_vmgpu import __version__
from kubectl_vmgpu.cli import main
from tests.helpers import REPO, cli, kubectl_path

BUILD = REPO / "scripts" / "build_release.py"
WHEELS = REPO / "build" / "wheels"
MANIFEST = REPO / "krew" / "vmgpu.yaml"
BASIC = REPO / "tests" / "kubeapi" / "testdata" / "basic"
HAS_DEMO = any((REPO / "kubectl_vmgpu" / "demo").rglob("*.yaml"))
SOURCE = ["--demo"] if HAS_DEMO else ["--snapshot", str(BASIC)]
EXE, COMPLETE_EXE = "kubectl-vmgpu", "kubectl_complete-vmgpu"
ARCHIVE = f"kubectl-vmgpu-v{__version__}.tar.gz"
COMPILED = (".so", ".pyd", ".dylib", ".dll", ".pyc")
# `env -i PATH=/usr/bin:/bin`: Debian's python3 is in /usr/bin (elsewhere, the python3 running the tests)
_PY_DIR = "/usr/bin" if os.access("/usr/bin/python3", os.X_OK) else os.path.dirname(shutil.which("python3") or "")
EMPTY_ENV = {"PATH": "/usr/bin:/bin" if _PY_DIR == "/usr/bin" else f"{_PY_DIR}:/usr/bin:/bin"}

KREW_API = "krew.googlecontainertools.github.com/v1alpha2"
KREW_PLATFORMS = [(o, a) for o in ("linux", "darwin", "windows") for a in ("amd64", "arm64", "386", "arm", "ppc64le")]
SEMVER = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


@dataclass(frozen=True)
class Build:
    out: Path
    zipapp: Path
    archive: Path
    manifest: Path
    stdout: str


def _build(out: Path) -> Build:
    proc = subprocess.run(
        [sys.executable, str(BUILD), "--out", str(out), "--wheels", str(WHEELS), "--manifest", str(out / "vmgpu.yaml")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    return Build(out, out / EXE, out / ARCHIVE, out / "vmgpu.yaml", proc.stdout)


@pytest.fixture(scope="session")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    return _build(tmp_path_factory.mktemp("release-1"))


@pytest.fixture(scope="session")
def rebuild(build: Build, tmp_path_factory: pytest.TempPathFactory) -> Build:
    return _build(tmp_path_factory.mktemp("release-2"))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pins() -> dict[str, str]:
    text = (REPO / "release" / "requirements.txt").read_text()
    return {m.group(1): m.group(2) for m in re.finditer(r"^([A-Za-z0-9._-]+)==(\S+)", text, re.M)}


def _run(
    argv: list[str], env: dict[str, str], cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd or REPO, timeout=timeout)


# --- the krew manifest -----------------------------------------------------------------------


def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels, matchExpressions) against os/arch labels."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {
            "In": labels.get(key) in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def check_manifest(path: Path) -> dict[str, Any]:
    """Every rule krew (and its index) applies to a plugin manifest; returns the parsed manifest."""
    doc = yaml.safe_load(path.read_text())
    assert doc["apiVersion"] == KREW_API
    assert doc["kind"] == "Plugin"
    name = doc["metadata"]["name"]
    assert name == path.stem == "vmgpu" and re.fullmatch(r"[\w-]+", name)
    spec = doc["spec"]
    assert SEMVER.match(spec["version"]), spec["version"]
    assert spec["version"] == f"v{__version__}"
    assert spec["homepage"].startswith("https://")
    short = spec["shortDescription"]
    assert short and "\n" not in short and "\r" not in short and len(short) <= 50, short
    description = spec["description"]
    assert description.strip()
    # a description, not usage: no commands, flags or examples (krew: implement -h/--help instead)
    assert "kubectl vmgpu" not in description and "```" not in description and "$ " not in description
    assert not re.search(r"(^|\s)--?[a-zA-Z]", description), "flags belong in --help, not the description"
    caveats = spec["caveats"]
    assert "python3" in caveats and "3.10" in caveats
    platforms = spec["platforms"]
    assert platforms
    for platform in platforms:
        selector = platform["selector"]
        assert selector and set(selector) <= {"matchLabels", "matchExpressions"}
        keys = set(selector.get("matchLabels") or {}) | {e["key"] for e in selector.get("matchExpressions") or []}
        assert keys and keys <= {"os", "arch"}
        assert platform["uri"].startswith("https://") and platform["uri"].endswith((".tar.gz", ".zip"))
        assert re.fullmatch(r"[a-f0-9]{64}", platform["sha256"])
        assert platform["bin"] == EXE
        files = platform.get("files")
        assert files is None or (files and all(f.get("from") and f.get("to") for f in files))
    # linux and darwin on amd64 and arm64, each matched by exactly one platform; nothing else
    for os_, arch in KREW_PLATFORMS:
        hits = [p for p in platforms if _matches(p["selector"], {"os": os_, "arch": arch})]
        wanted = os_ in ("linux", "darwin") and arch in ("amd64", "arm64")
        assert len(hits) == (1 if wanted else 0), f"{os_}/{arch}: {len(hits)} platforms match"
    return doc


def test_built_manifest_follows_krew_rules_and_names_the_archive(build: Build) -> None:
    doc = check_manifest(build.manifest)
    sha = _sha256(build.archive)
    for platform in doc["spec"]["platforms"]:
        assert platform["sha256"] == sha
        assert platform["uri"].endswith(f"/v{__version__}/{ARCHIVE}")
    assert f"sha256 {sha}" in build.stdout
    assert (build.out / f"{ARCHIVE}.sha256").read_text() == f"{sha}  {ARCHIVE}\n"


def test_manifest_states_the_windows_decision(build: Build) -> None:
    assert "# No Windows platform:" in build.manifest.read_text()


def test_committed_manifest_is_the_built_one(build: Build) -> None:
    """krew/vmgpu.yaml is exactly what the build writes from this commit, sha256 included (issue 14):
    after any change to what the archive holds, rebuild with `python3 scripts/build_release.py` and commit it."""
    check_manifest(MANIFEST)
    assert MANIFEST.read_text() == build.manifest.read_text(), "stale krew/vmgpu.yaml: run scripts/build_release.py"


# --- the archive and the zipapp --------------------------------------------------------------


def test_archive_holds_the_plugin_its_completion_and_the_license(build: Build) -> None:
    raw = build.archive.read_bytes()
    assert raw[:2] == b"\x1f\x8b" and raw[4:8] == b"\0\0\0\0", "gzip header mtime 0"
    with tarfile.open(build.archive) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == sorted([EXE, COMPLETE_EXE, "LICENSE"])
        for m in members:
            assert m.isfile() and m.mtime == 0 and m.uid == 0 and m.gid == 0 and not m.uname and not m.gname
            assert m.mode == (0o644 if m.name == "LICENSE" else 0o755)
            assert not m.name.endswith(COMPILED)
        data = {m.name: tar.extractfile(m).read() for m in members}  # type: ignore[union-attr]
    assert data["LICENSE"] == (REPO / "LICENSE").read_bytes()
    assert data[EXE] == build.zipapp.read_bytes()
    assert data[COMPLETE_EXE].startswith(b"#!/bin/sh\n") and b'kubectl-vmgpu" __complete "$@"' in data[COMPLETE_EXE]


def test_zipapp_is_pure_python_with_every_dependency(build: Build) -> None:
    raw = build.zipapp.read_bytes()
    assert raw.startswith(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names)
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)
        for info in infos:
            data = zf.read(info)
            assert not info.filename.endswith(COMPILED), info.filename
            assert not data.startswith((b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe")), info.filename
        assert "__main__.py" in names
        assert not [n for n in names if "__pycache__" in n or n.endswith(("/RECORD", "/INSTALLER"))]
        assert not [n for n in names if re.search(r"(^|/)tests?/", n)], "no test suites vendored"
        top = {n.split("/")[0] for n in names}
        for module in (
            "kubectl_vmgpu",
            "click",
            "yaml",
            "tabulate",
            "kubernetes",
            "urllib3",
            "requests",
            "websocket",
            "certifi",
            "dateutil",
            "six.py",
            "durationpy",
            "idna",
            "charset_normalizer",
            "oauthlib",
            "requests_oauthlib",
        ):
            assert module in top, module
        assert "_yaml" not in top, "PyYAML's compiled shim is dropped"
        dists = {n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info")}
        for name, version in _pins().items():
            key = re.sub(r"[-_.]+", "_", name).lower()
            assert any(d.lower().startswith(f"{key}-{version}.") for d in dists), f"{name}=={version} METADATA"
        # the package, demo included, is the checkout's
        package = sorted(
            p.relative_to(REPO).as_posix()
            for p in (REPO / "kubectl_vmgpu").rglob("*")
            if p.is_file()
            and "__pycache__" not in p.parts
            and (p.suffix == ".py" or "demo" in p.relative_to(REPO / "kubectl_vmgpu").parts[:1])
        )
        assert sorted(n for n in names if n.startswith("kubectl_vmgpu/")) == package


def test_two_builds_are_byte_identical(build: Build, rebuild: Build) -> None:
    assert _sha256(rebuild.archive) == _sha256(build.archive)
    assert rebuild.zipapp.read_bytes() == build.zipapp.read_bytes()
    assert rebuild.manifest.read_text() == build.manifest.read_text()


def _expected(*args: str) -> tuple[int, str]:
    run = cli(*args)
    return run.code, run.out


def _vmis(text: str) -> list[str]:
    """The VMI (and VM) header lines of a text report: what was checked, whatever the details.

    Details may differ from the in-process run where this environment has optional packages
    that the zipapp does not vendor; the exit code and the VMIs may not."""
    return [line for line in text.splitlines() if line.startswith(("VMI ", "VM "))]


def test_zipapp_runs_with_an_empty_environment_and_no_site_packages(build: Build, tmp_path: Path) -> None:
    """`env -i PATH=/usr/bin:/bin python3 -S kubectl-vmgpu doctor --demo`, from a folder of its own."""
    py = shutil.which("python3", path=EMPTY_ENV["PATH"])
    assert py
    run = _run([py, "-S", str(build.zipapp), "doctor", *SOURCE], EMPTY_ENV, cwd=tmp_path)
    code, out = _expected("doctor", *SOURCE)
    assert (run.returncode, _vmis(run.stdout)) == (code, _vmis(out)), run.stderr
    assert run.returncode == 1 and _vmis(run.stdout) and "Summary:" in run.stdout and "Traceback" not in run.stderr
    if HAS_DEMO:
        assert "gpu-lab/" in run.stdout and "ml-team/" in run.stdout
    help_ = _run([py, "-S", str(build.zipapp), "--help"], EMPTY_ENV, cwd=tmp_path)
    assert help_.returncode == 0 and help_.stdout.startswith("Usage: kubectl vmgpu ")
    version = _run([py, "-S", str(build.zipapp), "version"], EMPTY_ENV, cwd=tmp_path)
    assert version.returncode == 0, version.stderr
    assert version.stdout.splitlines()[0] == f"kubectl-vmgpu {__version__}"
    assert version.stdout.splitlines()[1].startswith("python 3.")
    assert version.stdout.splitlines()[2] == f"kubernetes client {_pins()['kubernetes']}", "read from inside the zip"


def test_zipapp_runs_as_an_executable_and_never_imports_the_client_for_offline_commands(build: Build) -> None:
    env = {**EMPTY_ENV, "PYTHONDONTWRITEBYTECODE": "1"}
    for args in (["--help"], ["version"], ["describe", *SOURCE], ["doctor", *SOURCE, "-o", "json"]):
        run = _run(["python3", "-S", "-X", "importtime", str(build.zipapp), *args], env)
        assert run.returncode in (0, 1), run.stderr
        imported = {ln.split("|")[-1].strip() for ln in run.stderr.splitlines() if ln.startswith("import time:")}
        assert "kubectl_vmgpu.cli" in imported
        assert not [m for m in imported if m == "kubernetes" or m.startswith("kubernetes.")], args
    run = _run([str(build.zipapp), "version"], env)  # through its #!/usr/bin/env python3 line
    assert run.returncode == 0 and run.stdout.startswith(f"kubectl-vmgpu {__version__}\n")


def _pythons() -> list[str]:
    """Every CPython 3.10+ found on this machine (PATH, /usr/bin, pyenv), one per version."""
    found: dict[str, str] = {}
    candidates = [shutil.which(f"python3.{n}") for n in range(10, 16)] + [shutil.which("python3"), sys.executable]
    candidates += [str(p) for p in Path("/usr/bin").glob("python3.1[0-9]")]
    candidates += [str(p) for p in Path.home().glob(".pyenv/versions/3.1[0-9]*/bin/python3")]
    for exe in candidates:
        if not exe:
            continue
        proc = subprocess.run(
            [exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            env=EMPTY_ENV,
        )
        version = proc.stdout.strip()
        if proc.returncode == 0 and tuple(map(int, version.split("."))) >= (3, 10):
            found.setdefault(version, exe)
    return [found[v] for v in sorted(found, key=lambda v: tuple(map(int, v.split("."))))]


def test_zipapp_runs_on_every_python_found(build: Build) -> None:
    pythons = _pythons()
    assert pythons
    code, out = _expected("describe", *SOURCE)
    for py in pythons:
        run = _run([py, "-S", str(build.zipapp), "describe", *SOURCE], EMPTY_ENV)
        assert (run.returncode, _vmis(run.stdout)) == (code, _vmis(out)), f"{py}: {run.stderr}"
        assert "Traceback" not in run.stderr


def test_zipapp_caches_bytecode_outside_the_zip(build: Build, tmp_path: Path) -> None:
    env = {**EMPTY_ENV, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    first = _run(["python3", "-S", str(build.zipapp), "doctor", *SOURCE], env)
    pyc = list((tmp_path / "cache" / "kubectl-vmgpu" / "pyc" / "kubectl_vmgpu" / "__pycache__").glob("cli.*.pyc"))
    assert pyc, "the modules of the zip were compiled once into the cache"
    second = _run(["python3", "-S", str(build.zipapp), "doctor", *SOURCE], env)
    assert (second.returncode, second.stdout) == (first.returncode, first.stdout) and first.returncode == 1
    # PYTHONDONTWRITEBYTECODE=1 (container images) does not keep the plugin from its own cache (issue 15):
    # the first run writes it, the next one reads every module of the package from it (`-v` says so)
    dwb = {**EMPTY_ENV, "XDG_CACHE_HOME": str(tmp_path / "dwb"), "PYTHONDONTWRITEBYTECODE": "1"}
    _run(["python3", "-S", str(build.zipapp), "version"], dwb)
    assert list((tmp_path / "dwb" / "kubectl-vmgpu" / "pyc" / "kubectl_vmgpu" / "__pycache__").glob("cli.*.pyc"))
    warm = _run(["python3", "-S", "-v", str(build.zipapp), "version"], dwb)
    assert warm.returncode == 0, warm.stderr[-2000:]
    package = re.escape(f"{build.zipapp}/kubectl_vmgpu/")
    assert re.search(rf"^# {package}__pycache__/cli\.[\w-]+\.pyc matches {package}cli\.py$", warm.stderr, re.M)
    # a cache that cannot be made, or python -B, leaves imports to zipimport
    (tmp_path / "file").write_text("")
    for extra_env, flags in (({"XDG_CACHE_HOME": str(tmp_path / "file")}, []), ({}, ["-B"])):
        run = _run(
            ["python3", "-S", *flags, str(build.zipapp), "doctor", *SOURCE],
            {**EMPTY_ENV, "HOME": str(tmp_path / "home"), **extra_env},
        )
        assert (run.returncode, run.stdout) == (first.returncode, first.stdout), run.stderr
    assert not (tmp_path / "home").exists()


# --- as kubectl and krew use it --------------------------------------------------------------


def krew_install(build: Build, root: Path) -> Path:
    """What `kubectl krew install --manifest=krew/vmgpu.yaml --archive=<archive>` does with this
    manifest: the archive unpacked into store/<name>/<version>/ (no `files:` = all of it), and
    bin/kubectl-<name> a symlink to the platform's `bin`."""
    doc = yaml.safe_load(build.manifest.read_text())
    name, version = doc["metadata"]["name"], doc["spec"]["version"]
    platform = doc["spec"]["platforms"][0]
    assert _sha256(build.archive) == platform["sha256"]
    store = root / "store" / name / version
    store.mkdir(parents=True)
    with tarfile.open(build.archive) as tar:
        tar.extractall(store, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))  # type: ignore[arg-type]
    (root / "bin").mkdir()
    (root / "bin" / f"kubectl-{name}").symlink_to(store / platform["bin"])
    return root / "bin"


@pytest.mark.kubectl
def test_kubectl_finds_and_runs_the_plugin(build: Build, tmp_path: Path) -> None:
    kubectl = kubectl_path()
    bindir = krew_install(build, tmp_path / "krew")
    # the completion executable beside it, as the caveats say: kubectl lists only kubectl-* files
    shutil.copy(bindir.parent / "store" / "vmgpu" / f"v{__version__}" / COMPLETE_EXE, bindir)
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(tmp_path / "home")}
    listed = _run([kubectl, "plugin", "list"], env)
    assert listed.returncode == 0, listed.stderr
    assert f"{bindir}/kubectl-vmgpu" in listed.stdout.splitlines()
    assert "warning" not in (listed.stdout + listed.stderr).lower(), listed.stdout + listed.stderr
    run = _run([kubectl, "vmgpu", "doctor", *SOURCE], env)
    code, out = _expected("doctor", *SOURCE)
    assert (run.returncode, _vmis(run.stdout)) == (code, _vmis(out)), run.stderr
    direct = _run(["python3", "-S", str(build.zipapp), "doctor", *SOURCE], EMPTY_ENV)
    assert run.stdout == direct.stdout
    version = _run([kubectl, "vmgpu", "version"], env)
    assert version.returncode == 0 and f"kubernetes client {_pins()['kubernetes']}" in version.stdout
    usage = _run([kubectl, "vmgpu", "--help"], env)
    assert usage.returncode == 0 and usage.stdout.startswith("Usage: kubectl vmgpu ")


def test_plugin_completion_executable_as_the_caveats_install_it(build: Build, tmp_path: Path) -> None:
    """kubectl (1.26+) runs kubectl_complete-vmgpu from PATH with the words after `kubectl vmgpu`;
    the caveats' command puts it beside krew's link, and it keeps working there."""
    root = tmp_path / "krew"
    bindir = krew_install(build, root)
    caveats = yaml.safe_load(build.manifest.read_text())["spec"]["caveats"]
    command = next(line.strip() for line in caveats.splitlines() if COMPLETE_EXE in line and "cp " in line)
    setup = _run(["/bin/sh", "-c", command], {**EMPTY_ENV, "KREW_ROOT": str(root), "HOME": str(tmp_path)})
    assert setup.returncode == 0, setup.stderr
    assert os.access(bindir / COMPLETE_EXE, os.X_OK)
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(tmp_path / "home")}
    run = _run([COMPLETE_EXE, ""], env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.endswith("\n:4\n")
    commands = {name for name, command in main.commands.items() if not command.hidden}
    assert {ln.split("\t")[0] for ln in run.stdout.splitlines()[:-1]} == commands
    names = _run([COMPLETE_EXE, "describe", *SOURCE, ""], env)
    assert names.returncode == 0 and names.stdout.endswith("\n:4\n") and len(names.stdout.splitlines()) > 2
    flags = _run([COMPLETE_EXE, "doctor", "--fail-on", ""], env)
    assert flags.stdout == "info\nwarning\nerror\n:4\n"


def test_zipapp_completes_itself_in_bash(build: Build, tmp_path: Path) -> None:
    """`source <(kubectl-vmgpu completion bash)` with the zipapp on PATH: click's protocol through it."""
    bash = shutil.which("bash")
    assert bash, "bash is needed"
    bindir = krew_install(build, tmp_path / "krew")
    env = {**EMPTY_ENV, "PATH": f"{bindir}:{EMPTY_ENV['PATH']}"}

    def complete(*words: str) -> list[str]:
        script = (
            "source <(kubectl-vmgpu completion bash)\n"
            f"COMP_WORDS=(kubectl-vmgpu {' '.join(repr(w) for w in words)}); COMP_CWORD={len(words)}\n"
            '_kubectl_vmgpu_completion kubectl-vmgpu\nprintf "%s\\n" "${COMPREPLY[@]}"\n'
        )
        run = _run([bash, "-c", script], env, cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        return [w for w in run.stdout.splitlines() if w]

    assert set(complete("")) == {name for name, command in main.commands.items() if not command.hidden}
    assert "--fail-on" in complete("doctor", "--f")
    names = complete("describe", *SOURCE, "")
    assert names and set(names) == {ln.split("\t")[0] for ln in _complete_lines(bindir, "describe", *SOURCE, "")}


def _complete_lines(bindir: Path, *words: str) -> list[str]:
    run = _run([str(bindir / "kubectl-vmgpu"), "__complete", *words], {**EMPTY_ENV})
    assert run.returncode == 0 and run.stdout.endswith(":4\n")
    return run.stdout.splitlines()[:-1]


def test_gzip_and_tar_are_what_the_build_says(build: Build) -> None:
    """The archive unpacks with the tools users have (tar, gzip), and holds no path games."""
    with gzip.open(build.archive) as gz:
        data = gz.read()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for m in tar.getmembers():
            assert "/" not in m.name and ".." not in m.name
    tar_bin = shutil.which("tar")
    if tar_bin:
        listing = _run([tar_bin, "-tzf", str(build.archive)], {**EMPTY_ENV})
        assert listing.stdout.split() == sorted([EXE, COMPLETE_EXE, "LICENSE"])
