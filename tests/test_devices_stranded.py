"""`devices` shows a stranded gpu-vfio-N (dra-driver-nvidia-gpu issues 1089, 1331) as its own state, end to end."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import cli

SNAPSHOT = Path(__file__).parent / "scenarios" / "vfio-device-stranded" / "snapshot"


def test_devices_marks_the_stranded_vfio_device() -> None:
    run = cli("devices", "--snapshot", str(SNAPSHOT))
    assert run.code == 0, run.err
    line = next(x for x in run.out.splitlines() if x.startswith("gpu-worker-02") and "gpu-vfio-1" in x)
    assert line.endswith("stranded (no claim holds it and its type-gpu twin (0000:3b:00.0) is not published)")
    assert "gpu-worker-02: 3 devices (2 free, 1 stranded); free: gpu-0, gpu-vfio-0" in run.out
    assert "Free passthrough (vfio) devices: 2" in run.out  # the stranded one is not counted free
