"""Parsers of launcher evidence: metadata streams, /dev/vfio listings, domain XML, head output."""

from __future__ import annotations

import json

import pytest

from kubectl_vmgpu import evidence as ev
from kubectl_vmgpu import metadatafile as mf

V1ALPHA1 = {
    "kind": "DeviceMetadata",
    "apiVersion": "metadata.resource.k8s.io/v1alpha1",
    "metadata": {"name": "c", "namespace": "ns", "uid": "u", "generation": 1},
    "requests": [
        {
            "name": "gpu",
            "devices": [
                {
                    "driver": "gpu.nvidia.com",
                    "pool": "n1",
                    "name": "gpu-vfio-0",
                    "attributes": {"resource.kubernetes.io/pciBusID": {"string": "0000:4a:00.0"}},
                }
            ],
        }
    ],
}


def test_metadata_stream_newest_first_picks_v1alpha1() -> None:
    newer = dict(V1ALPHA1, apiVersion="metadata.resource.k8s.io/v1beta1")
    text = json.dumps(newer) + "\n" + json.dumps(V1ALPHA1)
    parsed = mf.parse_metadata("/x", text)
    assert parsed.api_versions == ("metadata.resource.k8s.io/v1beta1", "metadata.resource.k8s.io/v1alpha1")
    assert parsed.requests["gpu"][0].pci == "0000:4a:00.0"


def test_metadata_without_compatible_version_is_refused() -> None:
    text = json.dumps(dict(V1ALPHA1, apiVersion="metadata.resource.k8s.io/v1beta1"))
    with pytest.raises(ev.EvidenceError, match="no compatible metadata version found in stream"):
        mf.parse_metadata("/x", text)


def test_truncated_and_deep_metadata_are_refused() -> None:
    """A truncated object fails as KubeVirt v1.8.3+ words it (pkg/dra/utils.go), not with our own text."""
    with pytest.raises(ev.EvidenceError, match="read object from metadata stream: unexpected EOF"):
        mf.parse_metadata("/x", json.dumps(V1ALPHA1)[:-5])
    with pytest.raises(ev.EvidenceError, match="nested deeper"):
        mf.parse_metadata("/x", "[" * 100 + "]" * 100)


def test_mdev_uuid_is_read() -> None:
    doc = json.loads(json.dumps(V1ALPHA1))
    doc["requests"][0]["devices"][0]["attributes"] = {"mdevUUID": {"string": "6f0a-uuid"}}
    assert mf.parse_metadata("/x", json.dumps(doc)).requests["gpu"][0].mdev == "6f0a-uuid"


def test_vfio_listing() -> None:
    text = (
        "total 0\ncrw------- 1 root root 235,   0 Nov 27 10:12 66\ncrw-rw-rw- 1 root root  10, 196 Nov 27 10:12 vfio\n"
    )
    assert ev.parse_vfio_listing(text) == ("66", "vfio")
    assert ev.parse_vfio_listing("total 0\n") == ()


def test_domain_hostdevs() -> None:
    xml = """<domain type='kvm'><name>ns_vm</name><devices>
      <hostdev mode='subsystem' type='pci' managed='no'><driver name='vfio'/>
        <source><address domain='0x0000' bus='0x4a' slot='0x00' function='0x0'/></source>
        <alias name='ua-dra-gpu-gpu0'/><address type='pci' domain='0x0000' bus='0x09' slot='0x00' function='0x0'/>
      </hostdev>
      <hostdev mode='subsystem' type='mdev' model='vfio-pci'>
        <source><address uuid='4b20d080-1b54-4048-85b3-a6a62d165c01'/></source><alias name='ua-dra-gpu-vgpu'/>
      </hostdev></devices></domain>"""
    name, hostdevs = ev.parse_domain(xml)
    assert name == "ns_vm"
    assert [(h.alias, h.pci, h.mdev) for h in hostdevs] == [
        ("ua-dra-gpu-gpu0", "0000:4a:00.0", None),
        ("ua-dra-gpu-vgpu", None, "4b20d080-1b54-4048-85b3-a6a62d165c01"),
    ]


def test_domain_with_entities_is_refused() -> None:
    xml = '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><domain><name>&a;</name></domain>'
    with pytest.raises(ev.EvidenceError, match="DTD"):
        ev.parse_domain(xml)
    with pytest.raises(ev.EvidenceError, match="does not parse"):
        ev.parse_domain("<domain><name>x</domain>")


def test_head_output_split() -> None:
    text = '==> /a/x-metadata.json <==\n{"a": 1}\n\n==> /b/y-metadata.json <==\n{"b": 2}'
    assert ev.split_head_output(text) == {"/a/x-metadata.json": '{"a": 1}\n', "/b/y-metadata.json": '{"b": 2}'}
