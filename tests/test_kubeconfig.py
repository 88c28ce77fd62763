"""KUBECONFIG merging as kubectl does it: first file wins, relative paths, missing files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kubectl_vmgpu.sources import kubeconfig
from kubectl_vmgpu.sources.errors import SourceError


def _write(path: Path, current: str | None, name: str, server: str, ns: str | None = None) -> None:
    ctx: dict = {"cluster": name, "user": name}
    if ns:
        ctx["namespace"] = ns
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority": "ca.crt"}}],
        "users": [{"name": name, "user": {"token": "t"}}],
        "contexts": [{"name": name, "context": ctx}],
    }
    if current:
        doc["current-context"] = current
    path.write_text(yaml.safe_dump(doc))


def test_first_file_current_context_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "one").mkdir()
    _write(tmp_path / "one" / "a", "alpha", "alpha", "https://a", ns="team-a")
    _write(tmp_path / "b", "beta", "beta", "https://b")
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'one' / 'a'}:{tmp_path / 'missing'}:{tmp_path / 'b'}")
    kc = kubeconfig.load(None, None)
    assert kc is not None and kc.context == "alpha" and kc.namespace == "team-a"
    assert kc.merged is not None and [c["name"] for c in kc.merged["contexts"]] == ["alpha", "beta"]
    ca = kc.config["clusters"][0]["cluster"]["certificate-authority"]  # the chosen cluster, for the client
    assert ca == str(tmp_path / "one" / "ca.crt")
    assert kubeconfig.load(None, "beta").namespace == "default"


def test_unknown_context_and_explicit_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "a", "alpha", "alpha", "https://a")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "a"))
    with pytest.raises(SourceError, match='context "nope" does not exist'):
        kubeconfig.load(None, "nope")
    with pytest.raises(SourceError, match="no such file"):
        kubeconfig.load(str(tmp_path / "absent"), None)
