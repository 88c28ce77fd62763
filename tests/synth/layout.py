"""Lay a built lab out on disk the way people hand snapshots over: kubectl dumps, one List, or a must-gather."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import kyaml

if TYPE_CHECKING:
    from .lab import Lab

Obj = dict[str, Any]

# `kubectl get <resource>` file names per kind (namespaced ones go under <namespace>/).
RESOURCE = {
    "VirtualMachine": "virtualmachines",
    "VirtualMachineInstance": "virtualmachineinstances",
    "Pod": "pods",
    "ResourceClaim": "resourceclaims",
    "ResourceClaimTemplate": "resourceclaimtemplates",
    "Event": "events",
    "DaemonSet": "daemonsets",
}
ORDER = ["Node", "KubeVirt", "DeviceClass", "ResourceSlice", "DaemonSet", "VirtualMachine", "VirtualMachineInstance",
         "Pod", "ResourceClaimTemplate", "ResourceClaim", "Event"]


def as_list(items: list[Obj]) -> Obj:
    """What `kubectl get a,b -o yaml` prints for several objects."""
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def _sorted(objs: list[Obj]) -> list[Obj]:
    def key(o: Obj) -> tuple[Any, ...]:
        m = o["metadata"]
        return (ORDER.index(o["kind"]) if o["kind"] in ORDER else 99, m.get("namespace", ""), m["name"])

    return sorted(objs, key=key)


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode() if isinstance(text, str) else text
    path.write_bytes(data)
    return path


def write_snapshot(lab: Lab, root: Path, layout: str = "kubectl") -> list[Path]:
    lab.build()
    if root.exists():
        shutil.rmtree(root)
    objs = [o for o in lab.all_objects() if o.get("kind") != "ClusterInfo"]
    info = [o for o in lab.all_objects() if o.get("kind") == "ClusterInfo"]
    written: list[Path] = []
    if layout == "kubectl":
        written += _kubectl(root, objs)
    elif layout == "multidoc":
        written += _multidoc(root, objs)
    elif layout == "list":
        written.append(_write(root / "cluster-dump.json", json.dumps(as_list(_sorted(objs)), indent=4,
                                                                     sort_keys=True, ensure_ascii=False) + "\n"))
    elif layout == "must-gather":
        written += _must_gather(lab, root, objs)
    else:
        raise ValueError(f"unknown layout {layout}")
    for o in info:
        written.append(_write(root / "cluster-info.yaml", kyaml.dump(o)))
    for rel, data in sorted(lab.files.items()):
        if layout == "must-gather" and rel.endswith("/domain.xml"):
            continue  # the domain XML comes from must-gather's dumpxml instead
        written.append(_write(root / rel, data))
    return written


def _kubectl(root: Path, objs: list[Obj]) -> list[Path]:
    out: list[Path] = []
    cluster: dict[str, list[Obj]] = {}
    spaced: dict[tuple[str, str], list[Obj]] = {}
    for o in _sorted(objs):
        ns = o["metadata"].get("namespace")
        if o["kind"] == "KubeVirt":
            out.append(_write(root / "kubevirt.yaml", kyaml.dump(o)))
        elif ns is None:
            cluster.setdefault(o["kind"], []).append(o)
        elif o["kind"] == "DaemonSet" or (o["kind"] == "Pod" and ("dra-driver" in ns or "nvidia" in ns)):
            spaced.setdefault((ns, "driver"), []).append(o)
        else:
            spaced.setdefault((ns, RESOURCE[o["kind"]]), []).append(o)
    names = {"Node": "nodes", "DeviceClass": "deviceclasses", "ResourceSlice": "resourceslices"}
    for kind, items in cluster.items():
        out.append(_write(root / f"{names[kind]}.yaml", kyaml.dump(as_list(items))))
    for (ns, res), items in sorted(spaced.items()):
        if res == "driver":
            out.append(_write(root / f"{ns}.yaml", kyaml.dump(as_list(items))))
        else:
            out.append(_write(root / ns / f"{res}.yaml", kyaml.dump(as_list(items))))
    return out


def _multidoc(root: Path, objs: list[Obj]) -> list[Path]:
    groups: dict[str, list[Obj]] = {}
    for o in _sorted(objs):
        groups.setdefault(o["metadata"].get("namespace", "cluster"), []).append(o)
    return [_write(root / f"{name}.yaml", kyaml.dump_all(items)) for name, items in sorted(groups.items())]


def _must_gather(lab: Lab, root: Path, objs: list[Obj]) -> list[Path]:
    """A KubeVirt must-gather tree (`--vms_details`) plus the DRA objects it does not collect, beside it."""
    out: list[Path] = []
    mg = root / "must-gather.local.5023418817470286135" / (
        "quay-io-kubevirt-must-gather-sha256-" + "4f0c9d1e7a2b3c5d6e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9012a3b4c5d6")
    out.append(_write(mg / "timestamp", "2026-11-20 10:41:07.314159265 +0000 UTC m=+0.051234112\n"
                                        "2026-11-20 10:44:52.271828182 +0000 UTC m=+225.008341093\n"))
    out.append(_write(mg / "version", "kubevirt/must-gather\n" + lab.kubevirt + "\n"))
    dra: list[Obj] = []
    by_ns_kind: dict[tuple[str, str], list[Obj]] = {}
    for o in _sorted(objs):
        kind, m = o["kind"], o["metadata"]
        ns = m.get("namespace")
        if kind == "Node":
            out.append(_write(mg / "cluster-scoped-resources/core/nodes" / f"{m['name']}.yaml", kyaml.dump(o)))
        elif kind == "KubeVirt":
            out.append(_write(mg / "namespaces" / ns / "crs/kubevirts.kubevirt.io" / f"{m['name']}.yaml",
                              kyaml.dump(o)))
        elif kind in ("DeviceClass", "ResourceSlice", "ResourceClaim", "ResourceClaimTemplate", "DaemonSet") or (
            kind == "Pod" and ("dra-driver" in ns or "nvidia" in ns)
        ):
            dra.append(o)
        elif kind == "VirtualMachine":
            out.append(_write(mg / "namespaces" / ns / "crs/virtualmachines.kubevirt.io" / f"{m['name']}.yaml",
                              kyaml.dump(o)))
        elif kind == "VirtualMachineInstance":
            out.append(_write(mg / "namespaces" / ns / "kubevirt.io/virtualmachineinstances" / f"{m['name']}.yaml",
                              kyaml.dump(o)))
            by_ns_kind.setdefault((ns, "vmis"), []).append(o)
        elif kind == "Pod":
            out.append(_write(mg / "namespaces" / ns / "pods" / m["name"] / f"{m['name']}.yaml", kyaml.dump(o)))
            by_ns_kind.setdefault((ns, "pods"), []).append(o)
        elif kind == "Event":
            by_ns_kind.setdefault((ns, "events"), []).append(o)
    for (ns, what), items in sorted(by_ns_kind.items()):
        if what == "pods":
            doc = {"apiVersion": "v1", "items": items, "kind": "PodList", "metadata": {"resourceVersion": "5309617"}}
            out.append(_write(mg / "namespaces" / ns / "core/pods.yaml", kyaml.dump(doc)))
        elif what == "events":
            doc = {"apiVersion": "v1", "items": items, "kind": "EventList", "metadata": {"resourceVersion": "5309617"}}
            out.append(_write(mg / "namespaces" / ns / "core/events.yaml", kyaml.dump(doc)))
    for rel, data in sorted(lab.files.items()):
        if rel.endswith("/domain.xml"):
            _, ns, pod, _ = rel.split("/", 3)
            vm = next(o["metadata"]["annotations"]["kubevirt.io/domain"] for o in objs
                      if o["kind"] == "Pod" and o["metadata"]["name"] == pod)
            out.append(_write(mg / "namespaces" / ns / "vms" / vm / f"{pod}.dumpxml.xml", data))
    kinds = {"DeviceClass": "deviceclasses", "ResourceSlice": "resourceslices", "ResourceClaim": "resourceclaims",
             "ResourceClaimTemplate": "resourceclaimtemplates"}
    for kind, fname in kinds.items():
        items = [o for o in dra if o["kind"] == kind]
        if items:
            out.append(_write(root / "kubectl" / f"{fname}.yaml", kyaml.dump(as_list(items))))
    drv = [o for o in dra if o["kind"] in ("DaemonSet", "Pod")]
    if drv:
        out.append(_write(root / "kubectl" / "dra-driver.yaml", kyaml.dump(as_list(drv))))
    return out
