"""Test-run options: `--full` (or VMGPU_FULL=1) selects the full sizes of the heavy tests (issue 15).

The README's `pytest -q` runs the property tests with fewer examples and the benchmark script at its
smallest size, to stay within three minutes on two cores; .ci/run runs them again at full size, as a
separate step (`VMGPU_FULL=1 pytest tests/test_properties.py tests/test_performance.py`).
"""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--full", action="store_true", help="heavy tests at full size (property examples, benchmark sizes)"
    )


def pytest_configure(config: pytest.Config) -> None:
    # an environment variable, because test modules size their hypothesis settings at import
    if config.getoption("--full"):
        os.environ["VMGPU_FULL"] = "1"


def pytest_report_header(config: pytest.Config) -> str:
    return f"heavy tests: {'full sizes' if full() else 'small sizes (--full or VMGPU_FULL=1 for full)'}"


def full() -> bool:
    return os.environ.get("VMGPU_FULL", "") not in ("", "0")
