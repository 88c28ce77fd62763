"""Offline source: files, directory trees, .tar.gz bundles and must-gather trees."""

from __future__ import annotations

import io
import json
import lzma
import os
import re
import stat
import tarfile
import zlib
from collections.abc import Iterator
from functools import partial
from importlib.abc import Traversable
from pathlib import PurePosixPath
from typing import Any

import yaml

from ..model import ClusterFacts, Inventory, Obj, PodEvidence
from ..normalize import KIND_GROUPS, KINDS, add_objects
from . import files
from .errors import SourceError

try:  # libyaml is several times faster when the platform has it
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - pure-Python PyYAML (the single-file build)
    _Loader = yaml.SafeLoader

from .bounds import (
    _ANCHOR,
    _SURROGATE,
    MAX_DEPTH,
    _check_events,
    _first_line,
    _indent_bound,
    _openers,
    json_too_deep,
    walk_too_deep,
)

CLUSTER_INFO = ("vmgpu.kubevirt.io/v1alpha1", "ClusterInfo")
OBJECT_SUFFIXES = (".yaml", ".yml", ".json")
EVIDENCE_FILES = {"dev-vfio.txt": "vfio", "dev-iommu.txt": "iommu", "domain.xml": "domain"}


def load(paths: list[str]) -> Inventory:
    """Read every snapshot path into one inventory; what was skipped is noted in `inventory.notes`."""
    reader = _Reader()
    budget = files.Budget()
    for path in paths:
        try:
            st = os.stat(path)  # the path given is followed; symlinks inside it are not, out of it
        except OSError as exc:
            raise SourceError(f"snapshot {path}: {(exc.strerror or str(exc)).lower()}") from None
        if stat.S_ISREG(st.st_mode) and path.endswith((".tar.gz", ".tgz", ".tar")):
            reader.read_tar(path, budget)
        elif stat.S_ISREG(st.st_mode):
            name = os.path.basename(path)
            reader.read_file(PurePosixPath(name), name, partial(files.read_regular, path, path, budget))
        elif stat.S_ISDIR(st.st_mode):
            for rel, label, read in files.walk_tree(path, path, _wanted, budget, reader.skipped):
                reader.read_file(rel, label, read)
        else:
            raise SourceError(f"snapshot {path}: {files.kind_of(st.st_mode)}, not a file or folder, refused")
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
        self.info: list[tuple[str, Obj]] = []  # (file, ClusterInfo document)
        self.evidence: dict[tuple[str, str], dict[str, Any]] = {}
        self.skipped: list[str] = []  # entries not read (special files, symlinks out), one line each

    def read_tree(self, root: Traversable, label: str) -> None:
        """A packaged tree (no symlinks or special files in a wheel or zip)."""
        stack: list[tuple[Traversable, PurePosixPath]] = [(root, PurePosixPath())]
        while stack:
            node, rel = stack.pop()
            for child in sorted(node.iterdir(), key=lambda c: c.name, reverse=True):
                crel = rel / child.name
                if child.is_dir():
                    stack.append((child, crel))
                elif _wanted(crel):
                    self.read_file(crel, f"{label}/{crel}", child.read_bytes)

    def read_tar(self, path: str, budget: files.Budget) -> None:
        try:
            for rel, label, read in files.walk_tar(path, path, _wanted, budget, self.skipped):
                self.read_file(rel, label, read)
        except (tarfile.TarError, OSError, EOFError, ValueError, lzma.LZMAError, zlib.error) as exc:
            why = getattr(exc, "strerror", None) or _first_line(exc)
            raise SourceError(f"{path}: not a readable tar.gz bundle ({why})") from None

    def read_file(self, rel: PurePosixPath, label: str, read: files.Read) -> None:
        """One wanted file, read here (not by the caller): a large file's bytes are freed once decoded."""
        parts = rel.parts
        if "evidence" in parts[:-1]:
            self._evidence(parts[parts.index("evidence") + 1 :], read, label)
        elif rel.name.endswith(".dumpxml.xml"):
            # must-gather: namespaces/<ns>/vms/<vm>/<launcher pod>.dumpxml.xml
            if len(parts) >= 4 and parts[-3] == "vms":
                ns = parts[-4]
                pod = rel.name[: -len(".dumpxml.xml")]
                self.evidence.setdefault((ns, pod), {})["domain"] = _text(read())
        elif rel.suffix in OBJECT_SUFFIXES:
            for doc in _documents(label, read(), rel.suffix):
                self._add(doc, label)

    def _add(self, doc: Any, label: str) -> None:
        if not isinstance(doc, dict):
            return
        if (doc.get("apiVersion"), doc.get("kind")) == CLUSTER_INFO:
            self.info.append((label, _valid_info(label, doc)))
        elif isinstance(doc.get("items"), list) and str(doc.get("kind", "")).endswith("List"):
            for item in doc["items"]:
                self._add(item, label)
        elif doc.get("apiVersion") and doc.get("kind"):
            self.objects.append(doc)

    def _evidence(self, parts: tuple[str, ...], read: files.Read, label: str) -> None:
        if len(parts) < 3:
            return
        data = read()
        ns, pod, rest = parts[0], parts[1], parts[2:]
        ev = self.evidence.setdefault((ns, pod), {})
        ev.setdefault("metadata", {})
        if rest[0] == "files" and len(rest) > 1:
            ev["metadata"]["/" + "/".join(rest[1:])] = _text(data)
        elif rest == ("unavailable.yaml",):
            doc = next(_documents(label, data, ".yaml"), None) or {}
            if isinstance(doc, dict):
                ev["unavailable"] = {str(k): str(v) for k, v in doc.items()}
        elif len(rest) == 1 and rest[0] in EVIDENCE_FILES:
            ev[EVIDENCE_FILES[rest[0]]] = _text(data)

    def inventory(self, origin: str) -> Inventory:
        inv = Inventory(origin=origin)
        add_objects(inv, self.objects)
        inv.cluster = _cluster_facts([doc for _, doc in self.info])
        inv.notes += _skipped_note(self.skipped)
        if self.info:  # a snapshot with cluster facts is complete, but for what it says it lacks
            listed = self.info[-1][1].get("listed")
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
                iommu_listing=ev.get("iommu"),  # fmt: skip
                domain_xml=ev.get("domain"),
                unavailable=unavailable,
            )
        return inv


def _wanted(rel: PurePosixPath) -> bool:
    return rel.suffix in OBJECT_SUFFIXES or rel.name.endswith(".dumpxml.xml") or ("evidence" in rel.parts[:-1])


_JSON_START = re.compile(rb"\s*[\[{]")


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _documents(label: str, data: bytes, suffix: str) -> Iterator[Any]:
    """Parse YAML (multi-document) or JSON; a parse error names the file and line.

    The bytes are dropped once decoded: with the text and the parsed objects, they would be a third
    copy of the largest file at the peak of memory.
    """
    if suffix == ".json" or _JSON_START.match(data):
        deep = json_too_deep(data)  # read from the bytes, before they go
        text = _text(data)
        del data
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            if suffix == ".json":
                raise SourceError(f"{label}:{exc.lineno}: invalid JSON: {exc.msg}") from None
        except (ValueError, RecursionError) as exc:  # a number too long to convert, nesting too deep
            raise SourceError(f"{label}: invalid JSON: {_first_line(exc)}") from None
        else:
            if deep or deep is None and walk_too_deep(doc):
                raise SourceError(f"{label}: JSON nested deeper than {MAX_DEPTH} levels, refused")
            yield from scrub(doc, text) if isinstance(doc, list) else [scrub(doc, text)]
            return
    else:
        text = _text(data)
        del data
    if _openers(text) + _indent_bound(text) > MAX_DEPTH or _ANCHOR.search(text):
        _check_events(label, text)  # before loading: libyaml's composer recurses on the C stack
    try:
        for doc in yaml.load_all(io.StringIO(text), Loader=_Loader):
            yield scrub(doc, text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise SourceError(f"{label}{line}: invalid YAML: {problem}") from None
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        raise SourceError(f"{label}: invalid YAML: {_first_line(exc)}") from None


# ---- documents that would hang, crash or exhaust the tool ------------------------------------


def scrub(doc: Any, text: str | None = None) -> Any:
    """Replace lone UTF-16 surrogates (from `\\ud800` escapes), which no output can encode.

    With `text` (the document's source), only when the source holds such an escape.
    """
    if text is not None and not _SURROGATE.search(text):
        return doc
    todo: list[Any] = [doc]
    while todo:
        node = todo.pop()
        pairs = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in list(pairs):
            if isinstance(v, str):
                node[k] = _fix(v)
            elif isinstance(v, (dict, list)):
                todo.append(v)
        if isinstance(node, dict) and any(isinstance(k, str) and _fix(k) != k for k in node):
            fixed = {(_fix(k) if isinstance(k, str) else k): v for k, v in node.items()}
            node.clear()
            node.update(fixed)
    return _fix(doc) if isinstance(doc, str) else doc


def _fix(text: str) -> str:
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _valid_info(label: str, doc: Obj) -> Obj:
    """A ClusterInfo document of the documented shape (docs/snapshot-layout.md), else a one-line refusal."""

    def bad(field: str, expected: str) -> SourceError:
        return SourceError(f"{label}: ClusterInfo {field} is not {expected}")

    if isinstance(doc.get("serverVersion"), (dict, list)):
        raise bad("serverVersion", "a version string")
    groups = doc.get("groups")
    if groups is not None and not isinstance(groups, dict):
        raise bad("groups", "a mapping of API group to versions")
    for group, versions in (groups or {}).items():
        if versions is not None and not (isinstance(versions, list) and all(_scalar(v) for v in versions)):
            raise bad(f"groups[{group!r}]", "a list of versions")
    listed = doc.get("listed")
    if listed is not None and not (isinstance(listed, list) and all(_scalar(k) for k in listed)):
        raise bad("listed", "a list of kinds")
    unavailable = doc.get("unavailable")
    entries = unavailable if isinstance(unavailable, list) else []
    if unavailable is not None and not (isinstance(unavailable, list) and all(isinstance(u, dict) for u in entries)):
        raise bad("unavailable", "a list of {resource, reason}")
    return doc


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def _cluster_facts(docs: list[Obj]) -> ClusterFacts:
    if not docs:
        return ClusterFacts()
    doc = docs[-1]  # checked by _valid_info
    groups, narrowed, version = doc.get("groups"), doc.get("claimsNamespace"), doc.get("serverVersion")
    unavailable = {str(u.get("resource")): str(u.get("reason", "")) for u in doc.get("unavailable") or []}
    return ClusterFacts(
        server_version=None if version is None else str(version),
        groups={str(g): tuple(str(v) for v in vs or ()) for g, vs in groups.items()} if groups is not None else None,
        unavailable=unavailable,
        claims_namespace=narrowed if isinstance(narrowed, str) and narrowed else None,
    )


def _skipped_note(skipped: list[str], shown: int = 3) -> list[str]:
    """One line for every entry of the snapshot that was not read."""
    if not skipped:
        return []
    more = f"; and {len(skipped) - shown} more" if len(skipped) > shown else ""
    entries = "entry" if len(skipped) == 1 else "entries"
    return [f"skipped {len(skipped)} snapshot {entries}: {'; '.join(skipped[:shown])}{more}"]
