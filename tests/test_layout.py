"""The layout rules of the typed core, checked on every run: small modules, short functions, one direction."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "kubectl_vmgpu"
MODULES = sorted(p for p in PACKAGE.rglob("*.py"))
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 400, 60


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_and_functions_are_small(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{path.name} has more than {MAX_MODULE_LINES} lines"
    tree = ast.parse(text)
    assert ast.get_docstring(tree), f"{path.name} has no module docstring"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"{path.name}: functions over {MAX_FUNCTION_LINES} lines: {', '.join(long)}"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            names |= {(node.module or "").split(".")[-1]} | {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name.split(".")[-1] for a in node.names}
    return names


def test_sources_know_nothing_of_the_core() -> None:
    for path in (PACKAGE / "sources").glob("*.py"):
        assert not _imports(path) & {"chain", "checks", "render", "report", "index"}, path.name


def test_completion_does_not_import_cli() -> None:
    assert "cli" not in _imports(PACKAGE / "completion.py")


def test_checks_read_no_raw_dicts() -> None:
    raw = re.compile(r"\.get\(|(?<![.\w])(?:dig|items|meta)\(")
    for path in (PACKAGE / "checks").glob("*.py"):
        hits = [f"{path.name}:{i}" for i, line in enumerate(path.read_text().splitlines(), 1) if raw.search(line)]
        assert not hits, hits


def test_only_the_kubevirt_view_compares_versions() -> None:
    version = re.compile(r"\(1, [6-9], \d\)")
    for path in MODULES:
        if path.relative_to(PACKAGE).as_posix() != "views/kubevirt.py":
            assert not version.search(path.read_text()), path.name
