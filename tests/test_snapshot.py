"""The snapshot reader: formats, wrappers, de-duplication, v1beta1 normalization, bad files."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from kubectl_vmgpu.build import claim_spec
from kubectl_vmgpu.sources import snapshot
from tests.helpers import exe

CLAIM_V1BETA1 = {
    "apiVersion": "resource.k8s.io/v1beta1",
    "kind": "ResourceClaim",
    "metadata": {"name": "c", "namespace": "ns", "uid": "u1", "resourceVersion": "10"},
    "spec": {
        "devices": {
            "requests": [
                {"name": "gpu", "deviceClassName": "vfio.gpu.nvidia.com", "allocationMode": "ExactCount", "count": 1}
            ]
        }
    },
}
SLICE_V1BETA1 = {
    "apiVersion": "resource.k8s.io/v1beta1",
    "kind": "ResourceSlice",
    "metadata": {"name": "s", "uid": "u2", "resourceVersion": "11"},
    "spec": {
        "driver": "gpu.nvidia.com",
        "pool": {"name": "n1", "generation": 1, "resourceSliceCount": 1},
        "nodeName": "n1",
        "devices": [{"name": "gpu-vfio-0", "basic": {"attributes": {"type": {"string": "vfio"}}}}],
    },
}


def test_v1beta1_is_normalized_to_v1(tmp_path: Path) -> None:
    (tmp_path / "dump.json").write_text(
        json.dumps({"apiVersion": "v1", "kind": "List", "items": [CLAIM_V1BETA1, SLICE_V1BETA1]})
    )
    inv = snapshot.load([str(tmp_path)])
    claim = inv.of("ResourceClaim")[0]
    assert claim["apiVersion"] == "resource.k8s.io/v1"
    request = claim_spec(claim["spec"]).find("gpu")
    assert request is not None and request.device_class == "vfio.gpu.nvidia.com"
    device = inv.of("ResourceSlice")[0]["spec"]["devices"][0]
    assert device["attributes"]["type"]["string"] == "vfio" and "basic" not in device
    assert inv.resource_versions["resource.k8s.io"] == {"v1beta1"}


def test_nested_lists_and_duplicates_keep_the_newest(tmp_path: Path) -> None:
    newer = json.loads(json.dumps(CLAIM_V1BETA1))
    newer["metadata"]["resourceVersion"] = "99"
    newer["metadata"]["labels"] = {"seen": "twice"}
    nested = {
        "kind": "List",
        "apiVersion": "v1",
        "items": [{"kind": "ResourceClaimList", "apiVersion": "resource.k8s.io/v1beta1", "items": [newer]}],
    }
    (tmp_path / "a.yaml").write_text(json.dumps(CLAIM_V1BETA1))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.yaml").write_text("---\n" + json.dumps(nested) + "\n---\n# empty\n")
    inv = snapshot.load([str(tmp_path)])
    assert len(inv.of("ResourceClaim")) == 1
    assert inv.of("ResourceClaim")[0]["metadata"]["labels"] == {"seen": "twice"}


def test_tar_gz_bundle(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "evidence" / "ns" / "pod" / "files" / "var" / "run").mkdir(parents=True)
    (src / "claim.json").write_text(json.dumps(CLAIM_V1BETA1))
    (src / "evidence" / "ns" / "pod" / "dev-vfio.txt").write_text("total 0\n")
    (src / "evidence" / "ns" / "pod" / "files" / "var" / "run" / "gpu.nvidia.com-metadata.json").write_text("{}")
    out = tmp_path / "b.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        tar.add(src, arcname="bundle")
    inv = snapshot.load([str(out)])
    assert len(inv.of("ResourceClaim")) == 1
    ev = inv.evidence[("ns", "pod")]
    assert ev.vfio_listing == "total 0\n"
    assert ev.metadata_files == {"/var/run/gpu.nvidia.com-metadata.json": "{}"}


def test_must_gather_domain_dump(tmp_path: Path) -> None:
    vm_dir = tmp_path / "must-gather.local.1" / "quay-io-kubevirt-must-gather" / "namespaces" / "ns" / "vms" / "vm1"
    vm_dir.mkdir(parents=True)
    (vm_dir / "virt-launcher-vm1-abcde.dumpxml.xml").write_text("<domain><name>ns_vm1</name></domain>")
    inv = snapshot.load([str(tmp_path)])
    assert inv.evidence[("ns", "virt-launcher-vm1-abcde")].domain_xml.startswith("<domain>")


def test_malformed_yaml_exits_3_naming_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(json.dumps(CLAIM_V1BETA1))
    (tmp_path / "bad.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n  x: 1\n")
    run = exe("describe", "--snapshot", str(tmp_path))
    assert run.code == 3
    assert run.out == ""
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.err
    assert f"{tmp_path}/bad.yaml:5: invalid YAML" in lines[0]


def test_malformed_json_and_missing_path_exit_3(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"apiVersion": "v1",\n "kind": }')
    run = exe("doctor", "--snapshot", str(tmp_path))
    assert run.code == 3 and f"{tmp_path}/bad.json:2: invalid JSON" in run.err
    run = exe("doctor", "--snapshot", str(tmp_path / "nope"))
    assert run.code == 3 and "no such file or directory" in run.err
