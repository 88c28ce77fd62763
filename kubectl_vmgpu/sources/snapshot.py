"""Offline source: files, directory trees, .tar.gz bundles and must-gather trees."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from importlib.abc import Traversable
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from ..model import ClusterFacts, Inventory, Obj, PodEvidence
from ..normalize import KIND_GROUPS, KINDS, add_objects
from .errors import SourceError

try:  # libyaml is several times faster when the platform has it
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - pure-Python PyYAML (the single-file build)
    _Loader = yaml.SafeLoader

CLUSTER_INFO = ("vmgpu.kubevirt.io/v1alpha1", "ClusterInfo")
OBJECT_SUFFIXES = (".yaml", ".yml", ".json")
EVIDENCE_FILES = {"dev-vfio.txt": "vfio", "domain.xml": "domain"}
MAX_FILE_BYTES = 256 << 20


def load(paths: list[str]) -> Inventory:
    """Read every snapshot path into one inventory."""
    reader = _Reader()
    for path in paths:
        p = Path(path)
        if not p.exists():
            raise SourceError(f"snapshot {path}: no such file or directory")
        if p.is_file() and path.endswith((".tar.gz", ".tgz", ".tar")):
            reader.read_tar(p)
        elif p.is_file():
            reader.read_file(PurePosixPath(p.name), p.name, p.read_bytes())
        else:
            reader.read_tree(p, path)
    return reader.inventory(", ".join(paths))


def load_traversable(root: Traversable, origin: str) -> Inventory:
    """Read a packaged snapshot (the demo), which may live inside a zip file."""
    reader = _Reader()
    reader.read_tree(root, origin)
    return reader.inventory(origin)


class _Reader:
    """Collects objects, cluster facts and launcher evidence from many files."""

    def __init__(self) -> None:
        self.objects: list[Obj] = []
        self.info: list[Obj] = []
        self.evidence: dict[tuple[str, str], dict[str, Any]] = {}

    def read_tree(self, root: Traversable, label: str) -> None:
        stack: list[tuple[Traversable, PurePosixPath]] = [(root, PurePosixPath())]
        while stack:
            node, rel = stack.pop()
            for child in sorted(node.iterdir(), key=lambda c: c.name, reverse=True):
                crel = rel / child.name
                if child.is_dir():
                    stack.append((child, crel))
                elif _wanted(crel):
                    self.read_file(crel, f"{label}/{crel}", child.read_bytes())

    def read_tar(self, path: Path) -> None:
        try:
            with tarfile.open(path) as tar:
                for member in tar:
                    rel = PurePosixPath(member.name.lstrip("./") or ".")
                    if not member.isfile() or not _wanted(rel):
                        continue
                    if member.size > MAX_FILE_BYTES:
                        raise SourceError(f"{path}:{member.name}: larger than {MAX_FILE_BYTES} bytes")
                    data = tar.extractfile(member)
                    if data is not None:
                        self.read_file(rel, f"{path}:{member.name}", data.read())
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise SourceError(f"{path}: not a readable tar.gz bundle ({exc})") from None

    def read_file(self, rel: PurePosixPath, label: str, data: bytes) -> None:
        parts = rel.parts
        if "evidence" in parts[:-1]:
            self._evidence(parts[parts.index("evidence") + 1 :], data)
        elif rel.name.endswith(".dumpxml.xml"):
            # must-gather: namespaces/<ns>/vms/<vm>/<launcher pod>.dumpxml.xml
            if len(parts) >= 4 and parts[-3] == "vms":
                ns = parts[-4]
                pod = rel.name[: -len(".dumpxml.xml")]
                self.evidence.setdefault((ns, pod), {})["domain"] = _text(data)
        elif rel.suffix in OBJECT_SUFFIXES:
            for doc in _documents(label, data, rel.suffix):
                self._add(doc)

    def _add(self, doc: Any) -> None:
        if not isinstance(doc, dict):
            return
        if (doc.get("apiVersion"), doc.get("kind")) == CLUSTER_INFO:
            self.info.append(doc)
        elif isinstance(doc.get("items"), list) and str(doc.get("kind", "")).endswith("List"):
            for item in doc["items"]:
                self._add(item)
        elif doc.get("apiVersion") and doc.get("kind"):
            self.objects.append(doc)

    def _evidence(self, parts: tuple[str, ...], data: bytes) -> None:
        if len(parts) < 3:
            return
        ns, pod, rest = parts[0], parts[1], parts[2:]
        ev = self.evidence.setdefault((ns, pod), {})
        ev.setdefault("metadata", {})
        if rest[0] == "files" and len(rest) > 1:
            ev["metadata"]["/" + "/".join(rest[1:])] = _text(data)
        elif rest == ("unavailable.yaml",):
            doc = yaml.load(data, Loader=_Loader) or {}
            if isinstance(doc, dict):
                ev["unavailable"] = {str(k): str(v) for k, v in doc.items()}
        elif len(rest) == 1 and rest[0] in EVIDENCE_FILES:
            ev[EVIDENCE_FILES[rest[0]]] = _text(data)

    def inventory(self, origin: str) -> Inventory:
        inv = Inventory(origin=origin)
        add_objects(inv, self.objects)
        inv.cluster = _cluster_facts(self.info)
        if self.info:  # a snapshot with cluster facts is complete, but for what it says it lacks
            listed = self.info[-1].get("listed")
            if isinstance(listed, list):
                inv.listed = {str(k) for k in listed}
            else:  # every kind of a served group
                served = set(inv.cluster.groups or {}) | {""}
                inv.listed = {k for k in KINDS if KIND_GROUPS[k] in served or inv.cluster.groups is None}
        for key, ev in self.evidence.items():
            unavailable = ev.get("unavailable", {})
            inv.evidence[key] = PodEvidence(
                metadata_files=None if "metadata" in unavailable else ev.get("metadata"),
                vfio_listing=ev.get("vfio"),
                domain_xml=ev.get("domain"),
                unavailable=unavailable,
            )
        return inv


def _wanted(rel: PurePosixPath) -> bool:
    return rel.suffix in OBJECT_SUFFIXES or rel.name.endswith(".dumpxml.xml") or ("evidence" in rel.parts[:-1])


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _documents(label: str, data: bytes, suffix: str) -> Iterator[Any]:
    """Parse YAML (multi-document) or JSON; a parse error names the file and line."""
    text = _text(data)
    if suffix == ".json" or text.lstrip().startswith(("{", "[")):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            if suffix == ".json":
                raise SourceError(f"{label}:{exc.lineno}: invalid JSON: {exc.msg}") from None
        else:
            yield from doc if isinstance(doc, list) else [doc]
            return
    try:
        yield from yaml.load_all(io.StringIO(text), Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise SourceError(f"{label}{line}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise SourceError(f"{label}: invalid YAML: {exc}") from None


def _cluster_facts(docs: list[Obj]) -> ClusterFacts:
    if not docs:
        return ClusterFacts()
    doc = docs[-1]
    groups = doc.get("groups")
    unavailable = {
        str(u.get("resource")): str(u.get("reason", "")) for u in doc.get("unavailable") or [] if isinstance(u, dict)
    }
    return ClusterFacts(
        server_version=doc.get("serverVersion"),
        groups={str(g): tuple(str(v) for v in vs or ()) for g, vs in groups.items()}
        if isinstance(groups, dict)
        else None,
        unavailable=unavailable,
    )
