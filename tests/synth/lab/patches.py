"""A user's `kubectl patch` on the lab's input objects (VM, template, KubeVirt CR), read back into the knobs.

The lab derives every object from knobs; a patch is applied to the input object as the lab renders it, the knobs
the lab models are read back from the patched object, and the object is rendered again from them: when the two
differ, the patch changed something the lab does not model, and the patch is refused (a proof needs the lab to
play the patched spec, not a guess of it).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..model import VM
from . import claims, cluster, vmspec

if TYPE_CHECKING:
    from . import Lab


@dataclass(frozen=True)
class Patch:
    """`kubectl patch KIND NAME -n NAMESPACE --type TYPE -p PATCH`, as `doctor -o json` writes it in fixPatch."""

    kind: str
    namespace: str | None
    name: str
    type: str  # merge | json
    patch: Any


class Unmodelled(ValueError):
    """The patch changes what the lab's knobs cannot express."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _walk(doc: Any, pointer: str) -> tuple[Any, str]:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("/").split("/")]
    node = doc
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node, parts[-1]


def json_patch(doc: Any, ops: list[dict[str, Any]]) -> Any:
    """RFC 6902: add, replace, remove and test (what the tool's fixPatch uses)."""
    doc = copy.deepcopy(doc)
    for op in ops:
        parent, key = _walk(doc, op["path"])
        if isinstance(parent, list):
            index = len(parent) if key == "-" else int(key)
            if op["op"] == "add":
                parent.insert(index, copy.deepcopy(op["value"]))
            elif op["op"] == "replace":
                parent[index] = copy.deepcopy(op["value"])
            elif op["op"] == "remove":
                del parent[index]
            elif op["op"] == "test" and parent[index] != op["value"]:
                raise Unmodelled(f"test failed at {op['path']}")
            continue
        if op["op"] in ("add", "replace"):
            if op["op"] == "replace" and key not in parent:
                raise Unmodelled(f"replace of a missing {op['path']}")
            parent[key] = copy.deepcopy(op["value"])
        elif op["op"] == "remove":
            del parent[key]
        elif op["op"] == "test" and parent.get(key) != op["value"]:
            raise Unmodelled(f"test failed at {op['path']}")
    return doc


def _apply(doc: Any, p: Patch) -> Any:
    return merge_patch(doc, p.patch) if p.type == "merge" else json_patch(doc, p.patch)


def _vm(lab: Lab, p: Patch) -> VM:
    vm = next((v for v in lab.vms if v.name == p.name and v.namespace == p.namespace), None)
    if vm is None:
        raise Unmodelled(f"no VM {p.namespace}/{p.name} in the lab")
    return vm


def _check(before: Any, after: Any, what: str) -> None:
    if before != after:
        raise Unmodelled(f"the patch of {what} changes fields the lab does not model")


def _patch_vm(lab: Lab, p: Patch) -> None:
    vm = _vm(lab, p)
    patched = _apply({"spec": {"template": {"spec": vmspec.spec(vm, defaults=False)}}}, p)
    devices = patched["spec"]["template"]["spec"]["domain"]["devices"]
    entries = devices.get("hostDevices" if vm.host_devices else "gpus", [])
    vm.vmi_request_names = [e["requestName"] for e in entries if "requestName" in e]
    _check(patched, {"spec": {"template": {"spec": vmspec.spec(vm, defaults=False)}}}, f"VM {p.name}")


def _patch_template(lab: Lab, p: Patch) -> None:
    users = [v for v in lab.vms if v.template == p.name and v.namespace == p.namespace and v.claim == "template"]
    if not users:
        raise Unmodelled(f"no VM uses template {p.namespace}/{p.name}")
    patched = _apply({"spec": {"spec": claims.claim_spec(lab, users[0])}}, p)
    devices = patched["spec"]["spec"]["devices"]
    for vm in users:
        vm.device_class = devices["requests"][0]["exactly"]["deviceClassName"]
        vfio = [c for c in devices.get("config", []) if c["opaque"]["parameters"].get("kind") == "VfioDeviceConfig"]
        if vfio:
            vm.vfio = {k: v for k, v in vfio[0]["opaque"]["parameters"].items() if k not in ("apiVersion", "kind")}
            vm.config_source = "claim"
    _check(patched, {"spec": {"spec": claims.claim_spec(lab, users[0])}}, f"template {p.name}")


def _patch_kubevirt(lab: Lab, p: Patch) -> None:
    patched = _apply({"spec": {"configuration": cluster.kubevirt_config(lab)}}, p)
    dev = patched["spec"]["configuration"].get("developerConfiguration", {})
    lab.feature_gates = list(dev.get("featureGates", []))
    lab.disabled_gates = list(dev.get("disabledFeatureGates", []))
    _check(patched, {"spec": {"configuration": cluster.kubevirt_config(lab)}}, "the KubeVirt CR")


_BY_KIND = {"VirtualMachine": _patch_vm, "ResourceClaimTemplate": _patch_template, "KubeVirt": _patch_kubevirt}


def apply(lab: Lab) -> None:
    """Every patch of `lab.patches`, before any simulated component runs."""
    for p in lab.patches:
        if p.kind not in _BY_KIND:
            raise Unmodelled(f"the lab cannot patch a {p.kind}")
        _BY_KIND[p.kind](lab, p)
