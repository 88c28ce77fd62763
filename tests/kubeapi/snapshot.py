"""Reading a snapshot folder: Kubernetes objects, the ClusterInfo document and evidence folders."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CLUSTER_INFO_API_VERSION = "vmgpu.kubevirt.io/v1alpha1"
OBJECT_SUFFIXES = (".yaml", ".yml", ".json")
DUMPXML_SUFFIX = ".dumpxml.xml"


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps timestamps as strings, as kubectl meant them."""


# Unquoted `creationTimestamp: 2025-01-01T00:00:00Z` must stay a string to be served as JSON.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass
class Snapshot:
    """What a snapshot holds for the server: objects, cluster facts, evidence locations."""

    objects: list[dict[str, Any]] = field(default_factory=list)
    cluster_info: dict[str, Any] | None = None
    evidence_roots: list[Path] = field(default_factory=list)
    # (namespace, launcher pod) -> must-gather `<pod>.dumpxml.xml`
    dumpxml: dict[tuple[str, str], Path] = field(default_factory=dict)


def load(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> Snapshot:
    """Read every object file under `paths` (files or folders), like the project's loader."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    documents: list[Any] = []
    snap = Snapshot()
    for root in map(Path, paths):
        for file in _walk(root, snap):
            documents.extend(_read(file))
    snap.objects, snap.cluster_info = split_documents(documents)
    return snap


def split_documents(documents: Iterable[Any]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Flatten lists, drop non-objects, pull out ClusterInfo, keep one copy of each object."""
    kept: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    cluster_info: dict[str, Any] | None = None
    for obj in _flatten(documents):
        if obj["kind"] == "ClusterInfo" and obj["apiVersion"] == CLUSTER_INFO_API_VERSION:
            cluster_info = obj
            continue
        meta = obj.get("metadata") or {}
        key = (
            obj["apiVersion"].rpartition("/")[0],
            obj["kind"],
            meta.get("namespace") or "",
            meta.get("name") or "",
        )
        if key not in kept or _rv(obj) >= _rv(kept[key]):
            kept[key] = obj
    return list(kept.values()), cluster_info


def _walk(root: Path, snap: Snapshot) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    if not root.is_dir():
        raise FileNotFoundError(f"snapshot path not found: {root}")
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if here.name == "evidence":
            snap.evidence_roots.append(here)
            dirnames.clear()
            continue
        dirnames.sort()
        for name in sorted(filenames):
            path = here / name
            if name.endswith(DUMPXML_SUFFIX) and here.parent.name == "vms":
                # namespaces/<ns>/vms/<vm>/<pod>.dumpxml.xml (KubeVirt must-gather)
                namespace = here.parent.parent.name
                snap.dumpxml[(namespace, name[: -len(DUMPXML_SUFFIX)])] = path
            elif name.endswith(OBJECT_SUFFIXES):
                yield path


def _read(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".json":
            return [json.loads(text)] if text.strip() else []
        return list(yaml.load_all(text, Loader=_Loader))
    except (ValueError, yaml.YAMLError) as err:
        raise ValueError(f"{path}: {err}") from err


def _flatten(documents: Iterable[Any], list_kind: str = "", list_api: str = "") -> Iterator[dict[str, Any]]:
    for doc in documents:
        if not isinstance(doc, dict):
            continue
        kind, api = doc.get("kind") or "", doc.get("apiVersion") or ""
        if isinstance(doc.get("items"), list) and kind.endswith("List"):
            yield from _flatten(doc["items"], kind, api)
            continue
        if not kind and list_kind not in ("", "List"):
            # Items of a typed `PodList` may omit their own kind and apiVersion.
            kind, api = list_kind[: -len("List")], api or list_api
            doc = {"apiVersion": api, "kind": kind, **doc}
        if isinstance(kind, str) and isinstance(api, str) and kind and api:
            yield doc


def _rv(obj: dict[str, Any]) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0
