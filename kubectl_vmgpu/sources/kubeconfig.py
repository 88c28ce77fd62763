"""Kubeconfig files merged as kubectl merges them (first file wins), read-only."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import SourceError

# Fields holding file paths, relative to the kubeconfig file that sets them.
_PATH_FIELDS = {
    "clusters": ("certificate-authority",),
    "users": ("client-certificate", "client-key", "tokenFile"),
}


@dataclass(frozen=True)
class KubeConfig:
    """A merged kubeconfig and the context chosen from it."""

    config: dict[str, Any]
    context: str
    namespace: str
    files: tuple[str, ...]


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SourceError(f"kubeconfig {path}: cannot be read ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict):
        raise SourceError(f"kubeconfig {path}: not a kubeconfig (expected a mapping)")
    base = path.parent
    for section, fields in _PATH_FIELDS.items():
        for entry in doc.get(section) or []:
            body = entry.get(section[:-1]) if isinstance(entry, dict) else None
            if not isinstance(body, dict):
                continue
            for name in fields:
                value = body.get(name)
                if isinstance(value, str) and value and not os.path.isabs(value):
                    body[name] = str(base / value)
    return doc


def files_to_read(explicit: str | None) -> list[Path]:
    """--kubeconfig alone; else every file of $KUBECONFIG that exists; else ~/.kube/config."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise SourceError(f"kubeconfig {explicit}: no such file")
        return [path]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p and Path(p).expanduser().is_file()]
    default = Path.home() / ".kube" / "config"
    return [default] if default.is_file() else []


def merge(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """kubectl's rules: for each named entry and for current-context, the first file that sets it wins."""
    merged: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
    for doc in docs:
        for section in ("clusters", "users", "contexts"):
            known = {e.get("name") for e in merged[section]}
            for entry in doc.get(section) or []:
                if isinstance(entry, dict) and entry.get("name") not in known:
                    merged[section].append(entry)
                    known.add(entry.get("name"))
        if doc.get("current-context") and not merged.get("current-context"):
            merged["current-context"] = doc["current-context"]
    return merged


def load(explicit: str | None, context: str | None) -> KubeConfig | None:
    """The merged kubeconfig, or None when there is none (then in-cluster config may apply)."""
    paths = files_to_read(explicit)
    if not paths:
        return None
    merged = merge([_read(p) for p in paths])
    name = context or merged.get("current-context")
    if not name:
        raise SourceError("no current context in the kubeconfig; pass --context (see `kubectl config get-contexts`)")
    entry = next((c for c in merged["contexts"] if c.get("name") == name), None)
    if entry is None:
        raise SourceError(f'context "{name}" does not exist in the kubeconfig (see `kubectl config get-contexts`)')
    namespace = (entry.get("context") or {}).get("namespace") or "default"
    return KubeConfig(config=merged, context=str(name), namespace=str(namespace), files=tuple(map(str, paths)))
