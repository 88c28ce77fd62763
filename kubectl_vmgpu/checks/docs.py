"""docs/checks.md, generated from the registry: `python -m kubectl_vmgpu.checks.docs > docs/checks.md`."""

from __future__ import annotations

from . import CHECKS, IGNORE_ANNOTATION
from .causes import RULES

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
            if c.name in PROVEN:
                lines += [f"Fix patch: {PROVEN[c.name]}", ""]
    return "\n".join(lines + _causes())


# Checks whose finding carries a machine-readable fixPatch, and how it is proven (tests/test_fixes.py).
PROVEN = {
    "request-not-found": "a JSON patch of the VM's requestName, then a VM restart; proven by tests/test_fixes.py.",
    "not-a-passthrough-class": "a JSON patch of the template's deviceClassName (plus a VfioDeviceConfig when it "
    "has none), then a VM restart; proven by tests/test_fixes.py.",
    "feature-gate-off": "a merge patch of the KubeVirt CR's gate lists; proven by tests/test_fixes.py.",
    "api-device-not-enabled": "a JSON patch of the template: enableAPIDevice: true in its VfioDeviceConfig "
    "(proven by tests/test_fixes.py), or a new VfioDeviceConfig when it has none (proven within "
    "not-a-passthrough-class's patch). None for a direct claim, a DeviceClass config, a config the driver "
    "refuses anyway (vfio-config-invalid), or a driver that may be v25.12 (whose config has no fields).",
}


def _causes() -> list[str]:
    """The causal table: which finding explains which (checks/causes.py)."""
    lines = [
        "## Causes and consequences",
        "",
        "A finding is a `cause` unless another finding of the same scope explains it: then it is a `consequence`",
        "(`causedBy` names the root cause, followed transitively). A cluster finding explains the VMIs' findings;",
        "a VMI-level one its VMI's; a GPU-level one its GPU's and its VMI's as a whole. Findings without a known",
        "cause, and independent causes, all stay causes. Text output folds each consequence under its cause.",
        "",
        "| cause | explains | when |",
        "|---|---|---|",
    ]
    lines += [f"| `{r.cause}` | `{r.consequence}` | {r.when or 'same scope'} |" for r in RULES]
    return [*lines, ""]


if __name__ == "__main__":
    print(markdown(), end="")
