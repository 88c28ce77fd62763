"""The floor of snapshot analysis (issue 15): what `snapshot.load` must at least do, and nothing more.

    python benchmarks/floor.py SNAPSHOT_DIR

With the cyclic GC off (as the tool runs), walk the snapshot tree and read every file the tool reads,
parsed by the same parsers: `.json` with `json.loads`, `.yaml`/`.yml` with PyYAML's `load_all` (libyaml's
CSafeLoader when present, as sources/snapshot.py), launcher evidence and domain XML decoded to text.
Every parsed document is kept to the end, as the tool keeps its inventory, so that peak RSS compares too.
"""

from __future__ import annotations

import gc
import io
import json
import os
import sys
from typing import Any

import yaml

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - a PyYAML without libyaml
    _Loader = yaml.SafeLoader


def read_tree(root: str) -> list[Any]:
    """Every document and text of the tree, in the order of a sorted walk."""
    kept: list[Any] = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        evidence = "evidence" in os.path.relpath(folder, root).split(os.sep)
        for name in sorted(names):
            if not (evidence or name.endswith((".json", ".yaml", ".yml", ".dumpxml.xml"))):
                continue
            with open(os.path.join(folder, name), "rb") as f:
                text = f.read().decode("utf-8", errors="replace")
            if evidence and name != "unavailable.yaml" or name.endswith(".xml"):
                kept.append(text)
            elif name.endswith(".json"):
                kept.append(json.loads(text))
            else:
                kept.extend(yaml.load_all(io.StringIO(text), Loader=_Loader))
    return kept


def main(argv: list[str]) -> int:
    gc.disable()
    kept = read_tree(argv[0])
    print(len(kept))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
