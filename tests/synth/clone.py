"""Scale a simulated lab to a fleet: copy its VMs and nodes many times, consistently renamed.

Simulating 20,000 VMs through `Lab` is too slow (the allocator walks every device for every VM), so
`write_clone` builds the lab once and replicates it. Copy `k` of the lab gets its own VMs, nodes,
launcher pods, claims, slices, driver pods, events and launcher evidence:

- numbered names are renumbered: `vm-00007` -> `vm-{k * span + 7:05d}` and `hgx-003` -> `hgx-{k * span + 3}`
  (span = the family's number range; zero-padded wider when the count needs it), wherever they appear: object
  names, pod and claim names built from them, labels, nodeSelectors, allocations, pool and slice names,
  event names and messages, domain names (`<ns>_<vm>`), evidence folders and metadata paths;
- every uid of a copied object (and every other UUID in copied text) becomes a new, stable one,
  ownerReferences and reservedFor included;
- objects with nothing numbered in their name but something copied in them (the driver's kubelet-plugin
  pods, one per node) get a new generated-name suffix;
- resourceVersions are shifted by `k * span` (events keep the resourceVersion of their object);
- objects with nothing to rename (KubeVirt, DeviceClasses, ResourceClaimTemplates, the driver DaemonSet,
  ClusterInfo) are written once; the DaemonSet's pod counts are multiplied.

Kept as they are: timestamps, IP addresses, PCI addresses and device names (every HGX node looks alike),
and the node counts in copied FailedScheduling messages (`0/15 nodes are available`).

Copy 0 keeps the lab's own names when the widths allow, so doctor on `copies` copies reports `copies` times
the lab's per-VMI findings. The output is what `kubectl get ... -A -o json` prints (one `kind: List`,
4-space indent, keys sorted), plus `cluster-info.yaml` and `evidence/`:

    lab = fleet_base()                                  # tests/synth/big.py
    info = write_clone(lab, copies=20, out="snap")     # 2,000 VMIs over 300 nodes
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import kyaml
from .ids import SUFFIX_ALPHABET
from .layout import ORDER

Obj = dict[str, Any]
LIST_HEAD = '{\n    "apiVersion": "v1",\n    "items": [\n'
LIST_TAIL = '\n    ],\n    "kind": "List",\n    "metadata": {\n        "resourceVersion": ""\n    }\n}\n'
ITEM_INDENT = " " * 8
CLONE_NS = uuid.UUID("0b6f3c52-98a4-4b1e-8f35-2f0d8a7c6e19")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_RV = re.compile(r'"resourceVersion": "(\d+)"')
_NUMBERED = re.compile(r"(.*?)(\d+)")
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_DIGITS = frozenset("0123456789")


@dataclass
class CloneInfo:
    """What was written: counts per kind, copies, the base's VMI count, the files."""

    copies: int
    out: Path
    objects: dict[str, int] = field(default_factory=dict)
    evidence_files: int = 0
    list_file: Path | None = None

    @property
    def vmis(self) -> int:
        return self.objects.get("VirtualMachineInstance", 0)

    @property
    def nodes(self) -> int:
        return self.objects.get("Node", 0)


class _Template:
    """Text with slots: literal pieces around tokens (kind, base value), rendered per copy."""

    def __init__(self, text: str, spans: list[tuple[int, int, str]]) -> None:
        self.literals: list[str] = []
        self.slots: list[int] = []
        self.tokens: list[tuple[str, str]] = []
        index: dict[tuple[str, str], int] = {}
        pos = 0
        for start, end, kind in spans:
            self.literals.append(text[pos:start])
            token = (kind, text[start:end])
            if token not in index:
                index[token] = len(self.tokens)
                self.tokens.append(token)
            self.slots.append(index[token])
            pos = end
        self.literals.append(text[pos:])

    def render(self, values: Callable[[str, str], str]) -> str:
        new = [values(kind, value) for kind, value in self.tokens]
        pieces = [""] * (2 * len(self.slots) + 1)
        pieces[0::2] = self.literals
        pieces[1::2] = [new[i] for i in self.slots]
        return "".join(pieces)


def _dumps(obj: Obj) -> str:
    text = json.dumps(obj, indent=4, sort_keys=True, ensure_ascii=False)
    return ITEM_INDENT + text.replace("\n", "\n" + ITEM_INDENT)


def _occurrences(text: str, names: list[str]) -> list[tuple[int, int, str]]:
    """Where each name occurs as a whole name (not inside a longer name or number)."""
    spans = []
    for name in names:
        start = text.find(name)
        while start >= 0:
            end = start + len(name)
            before = text[start - 1] if start else " "
            after = text[end] if end < len(text) else " "
            if before not in _ALNUM and after not in _DIGITS:
                spans.append((start, end, "name"))
            start = text.find(name, end)
    return spans


def _spans(text: str, names: list[str], uids: bool = True, rvs: bool = True) -> list[tuple[int, int, str]]:
    spans = _occurrences(text, names)
    if uids:
        spans += [(m.start(), m.end(), "uid") for m in _UUID.finditer(text)]
    if rvs:
        spans += [(m.start(1), m.end(1), "rv") for m in _RV.finditer(text)]
    spans.sort()
    kept: list[tuple[int, int, str]] = []
    for span in spans:  # a longer name wins over a shorter one at the same place; overlaps are dropped
        if kept and span[0] < kept[-1][1]:
            if span[0] == kept[-1][0] and span[1] > kept[-1][1]:
                kept[-1] = span
            continue
        kept.append(span)
    return kept


def _suffix(seed: str, n: int = 5) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(SUFFIX_ALPHABET[b % len(SUFFIX_ALPHABET)] for b in digest[:n])


class _Renamer:
    """Name, uid and resourceVersion mapping of copy k."""

    def __init__(self, families: dict[str, list[str]], copies: int, suffixed: list[str], shared_uids: set[str],
                 rv_span: int) -> None:
        self.numbered: dict[str, tuple[str, int, int, int]] = {}  # name -> (prefix, number, span, width)
        for names in families.values():
            parsed = []
            for name in names:
                m = _NUMBERED.fullmatch(name)
                if not m:
                    raise ValueError(f"cannot renumber {name!r}: clone needs names ending in a number")
                parsed.append((name, m.group(1), m.group(2)))
            numbers = [int(num) for _, _, num in parsed]
            span = max(numbers) - min(numbers) + 1
            width = max(max(len(num) for _, _, num in parsed), len(str((copies - 1) * span + max(numbers))))
            for name, prefix, num in parsed:
                self.numbered[name] = (prefix, int(num), span, width)
        self.suffixed = set(suffixed)
        self.shared_uids = shared_uids
        self.rv_span = rv_span
        self.k = 0
        self._uids: dict[str, str] = {}

    def names(self) -> list[str]:
        return sorted(set(self.numbered) | self.suffixed, key=len, reverse=True)

    def at(self, k: int) -> _Renamer:
        self.k = k
        self._uids = {}
        return self

    def __call__(self, kind: str, value: str) -> str:
        k = self.k
        if kind == "name":
            if value in self.numbered:
                prefix, num, span, width = self.numbered[value]
                return f"{prefix}{k * span + num:0{width}d}"
            return value if k == 0 else value[:-5] + _suffix(f"{value}/{k}")
        if kind == "uid":
            if k == 0 or value in self.shared_uids:
                return value
            new = self._uids.get(value)
            if new is None:
                new = self._uids[value] = str(uuid.uuid5(CLONE_NS, f"{value}/{k}"))
            return new
        return str(int(value) + k * self.rv_span)  # rv


def _uid(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid"))


def _identity(obj: Obj) -> tuple[str, str, str]:
    m = obj.get("metadata") or {}
    return str(obj.get("kind")), str(m.get("namespace") or ""), str(m.get("name") or "")


def write_clone(lab: Any, copies: int, out: str | Path) -> CloneInfo:
    """Write `copies` renamed copies of a lab's namespaced objects, nodes and slices as one snapshot."""
    out = Path(out)
    lab.build()
    objs = [o for o in lab.all_objects() if o.get("kind") != "ClusterInfo"]
    info_docs = [o for o in lab.all_objects() if o.get("kind") == "ClusterInfo"]
    families = {
        "vms": [vm.name for vm in lab.vms],
        "nodes": [n.name for n in lab.nodes],
        "workloads": [w.name for w in lab.workloads],
    }
    families = {k: v for k, v in families.items() if v}
    renamer = _Renamer(families, copies, [], set(), 0)
    names = renamer.names()

    # Which objects are copied: those that mention a numbered name (their own or a reference).
    texts = [json.dumps(o, sort_keys=True) for o in objs]
    copied = [o for o, t in zip(objs, texts, strict=True) if _occurrences(t, names)]
    shared = [o for o, t in zip(objs, texts, strict=True) if not _occurrences(t, names)]
    shared_uids = {_uid(o) for o in shared}
    owned = {_uid(o) for o in copied}
    is_copied = {id(o) for o in copied}
    # Copied objects whose own name has nothing numbered in it get a new generated-name suffix.
    suffixed = sorted({_identity(o)[2] for o in copied if not _occurrences(_identity(o)[2], names)})
    for name in suffixed:
        if not re.search(r"-[a-z0-9]{5}$", name):
            raise ValueError(f"cannot give {name!r} a new suffix in copies")
    rvs = [int(m.group(1)) for t in texts for m in _RV.finditer(t)]
    rv_span = (max(rvs) - min(rvs) + 1000) if rvs else 1
    renamer = _Renamer(families, copies, suffixed, shared_uids, rv_span)
    names = renamer.names()

    # One template per (kind, namespace) group, so the List is ordered like kubectl's (kind, namespace).
    groups: dict[tuple[int, str], tuple[list[str], list[str]]] = {}
    for obj in objs:
        kind, ns, _ = _identity(obj)
        order = ORDER.index(kind) if kind in ORDER else len(ORDER)
        once, per_copy = groups.setdefault((order, ns), ([], []))
        if id(obj) in is_copied:
            per_copy.append(_dumps(obj))
        else:
            text = _dumps(copy_of_daemonset(obj, copies) if kind == "DaemonSet" else obj)
            if {m.group(0) for m in _UUID.finditer(text)} & owned:
                raise ValueError(f"{kind} {ns}/{_identity(obj)[2]} is written once but refers to a copied object")
            once.append(text)

    info = CloneInfo(copies, out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    info.list_file = out / "cluster-dump.json"
    for o in objs:
        kind = str(o.get("kind"))
        info.objects[kind] = info.objects.get(kind, 0) + 1
    for o in copied:
        info.objects[str(o.get("kind"))] += copies - 1
    with open(info.list_file, "w", encoding="utf-8") as f:
        f.write(LIST_HEAD)
        first = True
        for key in sorted(groups):
            once, per_copy = groups[key]
            template = _Template(",\n".join(per_copy), _spans(",\n".join(per_copy), names)) if per_copy else None
            if once:
                f.write(("" if first else ",\n") + ",\n".join(once))
                first = False
            if template is None:
                continue
            for k in range(copies):
                f.write(("" if first else ",\n") + template.render(renamer.at(k)))
                first = False
        f.write(LIST_TAIL)
    for doc in info_docs:
        (out / "cluster-info.yaml").write_text(kyaml.dump(doc))

    # Launcher evidence: folder and file names, and the text in them, renamed the same way.
    files = []
    for rel, data in sorted(lab.files.items()):
        text = data.decode("utf-8")
        joined = rel + "\0" + text
        files.append(_Template(joined, _spans(joined, names, rvs=False)))
    made: set[Path] = set()
    for k in range(copies):
        renamer.at(k)
        for template in files:
            rel, _, text = template.render(renamer).partition("\0")
            path = out / rel
            if path.parent not in made:
                path.parent.mkdir(parents=True, exist_ok=True)
                made.add(path.parent)
            path.write_bytes(text.encode("utf-8"))
            info.evidence_files += 1
    return info


def copy_of_daemonset(obj: Obj, copies: int) -> Obj:
    """The DaemonSet's status counts one pod per node: scale its numbers with the nodes."""
    obj = json.loads(json.dumps(obj))
    status = obj.get("status") or {}
    for key, value in list(status.items()):
        if key.endswith(("Scheduled", "Ready", "Available")) and isinstance(value, int) and key != "numberMisscheduled":
            status[key] = value * copies
    return obj
