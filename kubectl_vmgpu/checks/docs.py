"""docs/checks.md, generated from the registry: `python -m kubectl_vmgpu.checks.docs > docs/checks.md`."""

from __future__ import annotations

from . import CHECKS, IGNORE_ANNOTATION

STAGES = {
    "cluster": "Cluster and configuration",
    "vmi": "VMI spec",
    "claim": "Launcher pod and claim",
    "device": "Device and ResourceSlice",
    "launcher": "Inside the launcher",
}


def markdown() -> str:
    lines = [
        "# Checks",
        "",
        "Generated from the check registry (`kubectl_vmgpu/checks/__init__.py`) by",
        "`python -m kubectl_vmgpu.checks.docs > docs/checks.md`; a test fails when this file is out of date.",
        "",
        "`kubectl vmgpu doctor --list-checks` lists them and `--explain ID|NAME` explains one. Silence a check",
        f"with `--ignore ID|NAME`, or on one VM/VMI with the annotation `{IGNORE_ANNOTATION}: name,ID,...`.",
        "",
    ]
    for stage, title in STAGES.items():
        lines += [f"## {title}", "", "| id | name | severity | what it finds |", "|---|---|---|---|"]
        lines += [f"| {c.id} | `{c.name}` | {c.severity} | {c.summary} |" for c in CHECKS if c.stage == stage]
        lines.append("")
        for c in (c for c in CHECKS if c.stage == stage):
            lines += [f"### {c.id} `{c.name}`", "", c.explanation, "", f"Fix: {c.fix}", ""]
            lines += [f"Applies to: {c.versions}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(), end="")
