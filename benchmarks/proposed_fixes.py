# ruff: noqa: E501
"""The fixes the benchmarks call for, as exact edits to a copy of kubectl_vmgpu (the package itself is not touched).

    python benchmarks/proposed_fixes.py OUT          # OUT/kubectl_vmgpu: a patched copy of the package
    python benchmarks/proposed_fixes.py --diff       # the same changes as a unified diff against the tree

Each edit names the exact text it replaces and fails when that text is not there (the fix landed, or the
code moved): `benchmarks/run.py` then benchmarks the tree alone and says why. docs/performance.md has
the measurements; the numbered comments below match its list of fixes.
"""

from __future__ import annotations

import argparse
import difflib
import shutil
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "kubectl_vmgpu"


class Stale(Exception):
    """An edit's text is not in the package (once) any more."""


class Edit(NamedTuple):
    file: str  # relative to kubectl_vmgpu/
    old: str
    new: str


EDITS = [
    # 1. cel: remember that cel-python is missing
    Edit('cel.py',
         'def available() -> bool:\n    try:',
         '@functools.cache\ndef available() -> bool:\n    try:'),
    Edit('cel.py',
         'def _program(expression: str) -> Any:\n    try:\n        import celpy\n    except ImportError:\n        raise CelUnavailable(INSTALL_HINT) from None\n',
         'def _program(expression: str) -> Any:\n    if not available():  # Python does not remember a failed import: it would search sys.path every call\n        raise CelUnavailable(INSTALL_HINT)\n    import celpy\n'),
    # 2. claim-not-owned: orphaned claims found once per index, not once per VMI
    Edit('checks/claim.py',
         'from collections.abc import Iterator\n',
         'from collections.abc import Iterator\nfrom typing import Any\n'),
    Edit('checks/claim.py',
         '    prefix = f"virt-launcher-{view.name}-"\n    for (ns, name), claim in sorted(ctx.idx.claims.items()):\n        if ns != view.namespace:\n            continue\n        owner = next(\n            (r for r in items(claim, "metadata", "ownerReferences") if r.get("kind") == "Pod" and r.get("controller")),\n            None,\n        )\n        if owner is None or not str(owner.get("name", "")).startswith(prefix):\n            continue\n        if str(owner.get("uid")) in ctx.idx.pod_uids:\n            continue\n',
         '    prefix = f"virt-launcher-{view.name}-"\n    ns = view.namespace\n    for name, claim, owner in _pod_orphans(ctx.idx).get(ns, ()):\n        if not str(owner.get("name", "")).startswith(prefix):\n            continue\n'),
    # 3. driver-not-publishing / passthrough-not-enabled: a driver's slices summarised once per index
    Edit('checks/cluster.py',
         'from collections.abc import Iterator\n',
         'from collections.abc import Iterator\nfrom typing import Any\n'),
    Edit('checks/cluster.py',
         'from ..model import Ref, Severity',
         'from ..model import Obj, Ref, Severity'),
    Edit('checks/cluster.py',
         '        slices = [s for s in ctx.idx.inv.of("ResourceSlice") if dig(s, "spec", "driver") == driver]\n        node = view.node\n        if not slices:\n            where = "on any node"\n        elif node and not any(dig(s, "spec", "nodeName") == node or dig(s, "spec", "allNodes") for s in slices):',
         '        slices, nodes, _ = _driver_slices(ctx.idx, driver)\n        node = view.node\n        if not slices:\n            where = "on any node"\n        elif node and node not in nodes and None not in nodes:'),
    Edit('checks/cluster.py',
         '        slices = [s for s in ctx.idx.inv.of("ResourceSlice") if dig(s, "spec", "driver") == NVIDIA_DRIVER]\n        if not slices:\n            continue  # driver-not-publishing says it\n        devices = [d for s in slices for d in items(s, "spec", "devices")]\n        if any(dig(d, "attributes", "type", "string") == "vfio" for d in devices):\n            continue',
         '        slices, _, (count, vfio) = _driver_slices(ctx.idx, NVIDIA_DRIVER)\n        if not slices:\n            continue  # driver-not-publishing says it\n        if vfio:\n            continue'),
    Edit('checks/cluster.py',
         'but none of the {len(devices)} {NVIDIA_DRIVER} devices "',
         'but none of the {count} {NVIDIA_DRIVER} devices "'),
    # 4. allocation: one explanation per distinct (request, own allocation, pod node constraints)
    Edit('allocation.py',
         'def explain(idx: Index, view: VmiView, request: Request, own_claim: Obj | None) -> Explanation:\n    """Every device the request\'s driver publishes, node by node, and what keeps it from the request."""\n',
         'def explain(idx: Index, view: VmiView, request: Request, own_claim: Obj | None) -> Explanation:\n    """Every device the request\'s driver publishes, node by node, and what keeps it from the request.\n\n    Pending claims that ask the same of pods with the same node constraints get the same explanation\n    (a claim holding nothing is excluded from nothing): it is worked out once per index.\n    """\n    holds = bool(items(own_claim, "status", "allocation", "devices", "results"))\n    pod = view.pod\n    key = repr(\n        (\n            request,\n            meta(own_claim, "uid") if holds else "",\n            None if pod is None else (dig(pod, "spec", "nodeSelector"), dig(pod, "spec", "affinity", "nodeAffinity")),\n        )\n    )\n    memo = idx.__dict__.setdefault("_explanations", {})\n    if key not in memo:\n        memo[key] = _explain(idx, view, request, own_claim)\n    return memo[key]\n\n\ndef _explain(idx: Index, view: VmiView, request: Request, own_claim: Obj | None) -> Explanation:\n'),
    Edit('allocation.py',
         '    pods = {meta(p, "uid"): p for p in idx.inv.of("Pod")}\n',
         '    pods = idx.__dict__.get("_pods_by_uid")\n    if pods is None:\n        pods = idx.__dict__["_pods_by_uid"] = {meta(p, "uid"): p for p in idx.inv.of("Pod")}\n'),
    # 5. output: at most MAX_NODES nodes in a pending claim's message and in each JSON explanation
    Edit('render.py',
         '                "devices": [_device_dict(d) for d in n.devices],\n            }\n            for n in ex.nodes\n        ],\n    }',
         '                "devices": [_device_dict(d) for d in n.devices],\n            }\n            for n in ex.nodes[:MAX_EXPLAINED_NODES]\n        ],\n        "nodesOmitted": max(0, len(ex.nodes) - MAX_EXPLAINED_NODES),\n    }\n\n\nMAX_EXPLAINED_NODES = 10  # a fleet has thousands: the summary counts them all, the detail shows the first'),
    Edit('checks/claim.py',
         '        why = f"; {\'; \'.join(summaries)} ({\'; \'.join(nodes)})" if summaries else ""',
         '        shown = list(nodes)[:10]\n        more = f"; and {len(nodes) - len(shown)} more nodes" if len(nodes) > len(shown) else ""\n        why = f"; {\'; \'.join(summaries)} ({\'; \'.join(shown)}{more})" if summaries else ""'),
    # 6. no cyclic GC in a one-shot run over millions of acyclic objects
    Edit('cli.py',
         '    """The inventory and the namespace to filter on (None = all)."""\n    from .sources.errors import SourceError\n',
         '    """The inventory and the namespace to filter on (None = all)."""\n    import gc\n\n    from .sources.errors import SourceError\n\n    # One short run building millions of acyclic objects: the cyclic collector would walk them again and\n    # again (super-linear in the snapshot size) and free nothing.\n    gc.disable()\n'),
    # 7. snapshot hardening at C speed where possible
    Edit('sources/snapshot.py',
         '    return len(_OPENER.findall(text)) if "[" in text or "{" in text else 0',
         '    return text.count("[") + text.count("{")'),
    Edit('sources/snapshot.py',
         '    todo = [(doc, 1)]\n    while todo:\n        node, depth = todo.pop()\n        if depth > MAX_DEPTH:\n            raise SourceError(f"{label}: JSON nested deeper than {MAX_DEPTH} levels, refused")\n        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()\n        todo.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))',
         '    level, depth = [doc], 1\n    while level:  # one level at a time: no tuple per node\n        if depth > MAX_DEPTH:\n            raise SourceError(f"{label}: JSON nested deeper than {MAX_DEPTH} levels, refused")\n        deeper: list[Any] = []\n        for node in level:\n            children = node.values() if type(node) is dict else node if type(node) is list else ()\n            deeper.extend([c for c in children if type(c) is dict or type(c) is list])\n        level, depth = deeper, depth + 1'),
    # 8. live start-up: only the client modules the tool uses
    Edit('sources/cluster.py',
         "        with contextlib.redirect_stdout(sys.stderr):  # the client's loaders may print\n            from kubernetes import config as kconfig",
         "        with contextlib.redirect_stdout(sys.stderr):  # the client's loaders may print\n            from . import kclient\n\n            kclient.prepare()\n            from kubernetes import config as kconfig"),
]

APPENDS = [
    ('checks/claim.py', '\n\ndef _pod_orphans(idx: Any) -> dict[str, list[tuple[str, Obj, Obj]]]:\n    """Per namespace, by name: claims controlled by a Pod that does not exist, with that owner (once per index)."""\n    cached = idx.__dict__.get("_pod_orphans")\n    if cached is not None:\n        return cached\n    out: dict[str, list[tuple[str, Obj, Obj]]] = {}\n    for (ns, name), claim in sorted(idx.claims.items()):\n        owner = next(\n            (r for r in items(claim, "metadata", "ownerReferences") if r.get("kind") == "Pod" and r.get("controller")),\n            None,\n        )\n        if owner is not None and str(owner.get("uid")) not in idx.pod_uids:\n            out.setdefault(ns, []).append((name, claim, owner))\n    idx.__dict__["_pod_orphans"] = out\n    return out\n'),
    ('checks/cluster.py', '\n\ndef _driver_slices(idx: Any, driver: str) -> tuple[list[Obj], set[str | None], tuple[int, bool]]:\n    """A driver\'s slices, their nodes (None: an allNodes slice) and (device count, any vfio), once per index."""\n    memo = idx.__dict__.setdefault("_driver_slices", {})\n    if driver not in memo:\n        slices = [s for s in idx.inv.of("ResourceSlice") if dig(s, "spec", "driver") == driver]\n        nodes: set[str | None] = {str(dig(s, "spec", "nodeName")) for s in slices if dig(s, "spec", "nodeName")}\n        if any(dig(s, "spec", "allNodes") for s in slices):\n            nodes.add(None)\n        devices = [d for s in slices for d in items(s, "spec", "devices")]\n        vfio = any(dig(d, "attributes", "type", "string") == "vfio" for d in devices)\n        memo[driver] = (slices, nodes, (len(devices), vfio))\n    return memo[driver]\n'),
]

KCLIENT = '''"""Import only the parts of the kubernetes client the live source uses.

`import kubernetes` (or any `kubernetes.x`) runs `kubernetes/__init__.py`, which imports every API
class, every model (~700 modules), the dynamic client, watch, utils and leader election. The tool
sends raw GETs through `ApiClient.call_api(_preload_content=False)` and never builds a model, so
it registers bare package modules for `kubernetes`, `kubernetes.client` and
`kubernetes.client.models` (their `__path__` the real folders) before importing the few modules
it needs: `kubernetes.client.configuration`, `.api_client`, `.rest`, `.exceptions`,
`kubernetes.config` and `kubernetes.stream.ws_client`.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types

_PACKAGES = ("kubernetes", "kubernetes.client", "kubernetes.client.models")


def prepare() -> None:
    """Make `kubernetes.client.ApiClient`/`Configuration` importable without the package inits."""
    if "kubernetes" in sys.modules:  # already imported (the real package, or prepared before)
        return
    spec = importlib.util.find_spec("kubernetes")
    if spec is None or not spec.submodule_search_locations:
        return  # not installed: the regular import reports it
    root = list(spec.submodule_search_locations)[0]
    made = []
    try:
        for name in _PACKAGES:
            module = types.ModuleType(name)
            module.__path__ = [os.path.join(root, *name.split(".")[1:])]
            module.__package__ = name
            sys.modules[name] = module
            made.append(name)
            if "." in name:
                parent, _, child = name.rpartition(".")
                setattr(sys.modules[parent], child, module)
        from kubernetes.client.api_client import ApiClient
        from kubernetes.client.configuration import Configuration

        client = sys.modules["kubernetes.client"]
        client.ApiClient = ApiClient  # type: ignore[attr-defined]
        client.Configuration = Configuration  # type: ignore[attr-defined]
    except Exception:  # another client layout: forget the stubs, import the whole package
        for name in [n for n in sys.modules if n == "kubernetes" or n.startswith("kubernetes.")]:
            del sys.modules[name]
'''

NEW_FILES = {"sources/kclient.py": KCLIENT}


def apply(root: Path) -> None:
    """Edit the package copy at `root` (a kubectl_vmgpu folder) in place."""
    for edit in EDITS:
        path = root / edit.file
        text = path.read_text()
        if text.count(edit.old) != 1:
            raise Stale(f"{edit.file}: the text this fix replaces is not there (once): {edit.old[:120]!r}")
        path.write_text(text.replace(edit.old, edit.new))
    for rel, text in APPENDS:
        with open(root / rel, "a") as f:
            f.write(text)
    for rel, text in NEW_FILES.items():
        if (root / rel).exists():
            raise Stale(f"{rel} exists already")
        (root / rel).write_text(text)


def patched_copy(out: Path) -> Path:
    """OUT/kubectl_vmgpu: the package with every fix applied; raises Stale when one does not apply."""
    target = out / "kubectl_vmgpu"
    if target.exists():
        shutil.rmtree(target)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__"))
    apply(target)
    return target


def diff() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        target = patched_copy(Path(tmp))
        chunks: list[str] = []
        for new in sorted(target.rglob("*.py")):
            rel = new.relative_to(target).as_posix()
            old = PACKAGE / rel
            a = old.read_text().splitlines(keepends=True) if old.exists() else []
            b = new.read_text().splitlines(keepends=True)
            name = f"kubectl_vmgpu/{rel}"
            chunks += difflib.unified_diff(a, b, f"a/{name}" if a else "/dev/null", f"b/{name}")
        return "".join(chunks)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", nargs="?", type=Path, help="write OUT/kubectl_vmgpu")
    ap.add_argument("--diff", action="store_true", help="print the fixes as a unified diff")
    args = ap.parse_args()
    try:
        if args.diff:
            sys.stdout.write(diff())
        elif args.out is not None:
            print(patched_copy(args.out))
        else:
            ap.error("give OUT or --diff")
    except Stale as exc:
        print(f"stale: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
