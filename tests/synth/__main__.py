"""`python -m tests.synth scenarios | demo | big --vmis N --nodes M OUT`: regenerate the committed test data."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from . import kyaml
from .scenarios import SCENARIOS

REPO = Path(__file__).resolve().parents[2]
SCENARIO_ROOT = REPO / "tests" / "scenarios"
DEMO_ROOT = REPO / "kubectl_vmgpu" / "demo"


def write_scenarios(root: Path = SCENARIO_ROOT, only: list[str] | None = None) -> list[Path]:
    written: list[Path] = []
    for sc in SCENARIOS:
        if only and sc.name not in only:
            continue
        folder = root / sc.name
        written += sc.build().write(folder / "snapshot", sc.layout)
        doc = {"description": sc.description, "expect": list(sc.expect), "healthy": sc.healthy}
        path = folder / "scenario.yaml"
        path.write_text(kyaml.dump(doc))
        written.append(path)
    return written


def write_demo(root: Path = DEMO_ROOT) -> list[Path]:
    from .demo import README, demo_lab

    # the demo folder is package data: keep nothing but what the builder writes
    for child in root.iterdir() if root.exists() else []:
        if child.name in ("__init__.py",):
            continue
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()
    staging = root.parent / (root.name + ".tmp-synth")
    written = demo_lab().write(staging)
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for p in written:
        rel = p.relative_to(staging)
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(p.read_bytes())
        out.append(dest)
    shutil.rmtree(staging)
    (root / "README.md").write_text(README)
    out.append(root / "README.md")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.synth", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sc = sub.add_parser("scenarios", help="rewrite tests/scenarios/*/snapshot and scenario.yaml")
    sc.add_argument("names", nargs="*", help="only these scenarios")
    sc.add_argument("--root", type=Path, default=SCENARIO_ROOT)
    dm = sub.add_parser("demo", help="rewrite kubectl_vmgpu/demo/")
    dm.add_argument("--root", type=Path, default=DEMO_ROOT)
    big = sub.add_parser("big", help="write a large synthetic snapshot")
    big.add_argument("--vmis", type=int, default=500)
    big.add_argument("--nodes", type=int, default=80)
    big.add_argument("--seed", default="big")
    big.add_argument("out", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "scenarios":
        files = write_scenarios(args.root, args.names or None)
    elif args.cmd == "demo":
        files = write_demo(args.root)
    else:
        from .big import big_lab

        files = big_lab(args.vmis, args.nodes, args.seed).write(args.out)
    print(f"wrote {len(files)} files", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
