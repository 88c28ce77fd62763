"""Which groups, versions and resources are served, and the discovery documents that say so."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

DEFAULT_SERVER_VERSION = "v1.34.2"
READ_VERBS = ("get", "list", "watch")


@dataclass(frozen=True)
class Resource:
    """One API resource: how discovery names it and how errors spell it."""

    group: str
    name: str  # plural, as in URLs
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    builtin: bool = True  # served by kube-apiserver itself, not by a CRD

    @property
    def qualified(self) -> str:
        """`pods` or `resourceslices.resource.k8s.io`, as the API writes it in messages."""
        return f"{self.name}.{self.group}" if self.group else self.name


def _r(group: str, name: str, kind: str, namespaced: bool, *short: str, cats: tuple[str, ...] = ()) -> Resource:
    return Resource(group, name, kind.lower(), kind, namespaced, short, cats, group != "kubevirt.io")


KNOWN: tuple[Resource, ...] = (
    _r("", "pods", "Pod", True, "po", cats=("all",)),
    _r("", "events", "Event", True, "ev"),
    _r("", "nodes", "Node", False, "no"),
    _r("", "namespaces", "Namespace", False, "ns"),
    _r("", "configmaps", "ConfigMap", True, "cm"),
    _r("", "services", "Service", True, "svc", cats=("all",)),
    _r("", "serviceaccounts", "ServiceAccount", True, "sa"),
    _r("", "persistentvolumeclaims", "PersistentVolumeClaim", True, "pvc"),
    _r("events.k8s.io", "events", "Event", True, "ev"),
    _r("kubevirt.io", "virtualmachineinstances", "VirtualMachineInstance", True, "vmi", "vmis", cats=("all",)),
    _r("kubevirt.io", "virtualmachines", "VirtualMachine", True, "vm", "vms", cats=("all",)),
    _r("kubevirt.io", "kubevirts", "KubeVirt", True, "kv", "kvs", cats=("all",)),
    _r("kubevirt.io", "virtualmachineinstancemigrations", "VirtualMachineInstanceMigration", True,
       "vmim", "vmims", cats=("all",)),
    _r("resource.k8s.io", "deviceclasses", "DeviceClass", False),
    _r("resource.k8s.io", "resourceclaims", "ResourceClaim", True),
    _r("resource.k8s.io", "resourceclaimtemplates", "ResourceClaimTemplate", True),
    _r("resource.k8s.io", "resourceslices", "ResourceSlice", False),
    _r("authorization.k8s.io", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False),
    _r("authorization.k8s.io", "selfsubjectrulesreviews", "SelfSubjectRulesReview", False),
)
# Resources that only take `create` (a review is answered, never stored).
CREATE_ONLY = {("authorization.k8s.io", "selfsubjectaccessreviews"),
               ("authorization.k8s.io", "selfsubjectrulesreviews")}

# Served whenever their group is, objects or not: what a cluster running KubeVirt and DRA lists.
ALWAYS: dict[str, tuple[str, ...]] = {
    "": ("pods", "events", "nodes", "namespaces"),
    "events.k8s.io": ("events",),
    "kubevirt.io": ("virtualmachineinstances", "virtualmachines", "kubevirts"),
    "resource.k8s.io": ("deviceclasses", "resourceclaims", "resourceclaimtemplates", "resourceslices"),
    "authorization.k8s.io": ("selfsubjectaccessreviews", "selfsubjectrulesreviews"),
}
SUBRESOURCES: dict[tuple[str, str], tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    ("", "pods"): (("exec", "PodExecOptions", ("create", "get")), ("status", "Pod", READ_VERBS[:1])),
    ("resource.k8s.io", "resourceclaims"): (("status", "ResourceClaim", READ_VERBS[:1]),),
}


def version_key(version: str) -> tuple[int, int, int]:
    """Kubernetes version priority: GA before beta before alpha, higher numbers first."""
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (3, 0, 0)  # non-Kubernetes-style versions sort last
    stage = {"": 0, "beta": 1, "alpha": 2}[m.group(2) or ""]
    return (stage, -int(m.group(1)), -int(m.group(3) or 0))


def guess_resource(group: str, kind: str, namespaced: bool) -> Resource:
    """A kind the registry does not know: lower-case English plural, like most CRDs."""
    for known in KNOWN:
        if known.group == group and known.kind == kind:
            return known
    lower = kind.lower()
    if lower.endswith(("s", "x", "ch", "sh")):
        plural = lower + "es"
    elif lower.endswith("y") and lower[-2:-1] not in "aeiou":
        plural = lower[:-1] + "ies"
    else:
        plural = lower + "s"
    builtin = "." not in group or group.endswith(".k8s.io")  # CRD groups are dotted domains
    return Resource(group, plural, lower, kind, namespaced, builtin=builtin)


class Catalog:
    """Served group versions (preferred first) and resources per group."""

    def __init__(self, objects: Iterable[dict[str, Any]], cluster_info: dict[str, Any] | None) -> None:
        info = cluster_info or {}
        self.server_version = str(info.get("serverVersion") or DEFAULT_SERVER_VERSION)
        # authorization.k8s.io: `kubectl auth can-i` posts SelfSubjectAccess/RulesReviews there
        self.versions: dict[str, list[str]] = {"": ["v1"], "events.k8s.io": ["v1"], "authorization.k8s.io": ["v1"]}
        for group, versions in (info.get("groups") or {}).items():
            if group not in ("", "core", "v1"):
                self.versions.setdefault(group, []).extend(v for v in versions or () if isinstance(v, str))
        self.resources: dict[str, dict[str, Resource]] = {}
        for obj in objects:
            group, _, version = obj["apiVersion"].rpartition("/")
            served = self.versions.setdefault(group, [])
            if version not in served:
                served.append(version)
            namespaced = bool((obj.get("metadata") or {}).get("namespace"))
            res = guess_resource(group, obj["kind"], namespaced)
            self.resources.setdefault(group, {}).setdefault(res.name, res)
        for group, versions in self.versions.items():
            if not (info.get("groups") or {}).get(group):
                versions.sort(key=version_key)  # inferred: the usual preference order
            for name in ALWAYS.get(group, ()):
                res = next(r for r in KNOWN if r.group == group and r.name == name)
                self.resources.setdefault(group, {}).setdefault(name, res)
        self.versions = {g: list(dict.fromkeys(v)) for g, v in self.versions.items() if v}

    def add(self, obj: dict[str, Any]) -> Resource:
        """Serve the group version and resource of an object written after start (Store.apply)."""
        group, _, version = obj["apiVersion"].rpartition("/")
        served = self.versions.setdefault(group, [])
        if version not in served:
            served.append(version)
        namespaced = bool((obj.get("metadata") or {}).get("namespace"))
        res = guess_resource(group, obj["kind"], namespaced)
        return self.resources.setdefault(group, {}).setdefault(res.name, res)

    def resource(self, group: str, version: str, name: str) -> Resource | None:
        """The resource named `name` (plural) in a served group version."""
        if version not in self.versions.get(group, ()):
            return None
        return self.resources.get(group, {}).get(name)

    def served(self, group: str, version: str) -> bool:
        return version in self.versions.get(group, ())

    def minor(self) -> int:
        m = re.match(r"v?\d+\.(\d+)", self.server_version)
        return int(m.group(1)) if m else 0

    # --- discovery documents ---------------------------------------------------------------

    def version_info(self) -> dict[str, Any]:
        m = re.match(r"v?(\d+)\.(\d+)", self.server_version)
        major, minor = (m.group(1), m.group(2)) if m else ("1", "34")
        return {
            "major": major,
            "minor": minor,
            "emulationMajor": major,
            "emulationMinor": minor,
            "minCompatibilityMajor": major,
            "minCompatibilityMinor": str(max(int(minor) - 1, 0)),
            "gitVersion": self.server_version,
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2025-11-11T00:00:00Z",
            "goVersion": "go1.24.9",
            "compiler": "gc",
            "platform": "linux/amd64",
        }

    def api_versions(self, server_address: str) -> dict[str, Any]:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
        }

    def api_group(self, group: str) -> dict[str, Any]:
        versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in self.versions[group]]
        return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": versions,
                "preferredVersion": versions[0]}

    def group_list(self) -> dict[str, Any]:
        groups = []
        for group in sorted(g for g in self.versions if g):
            doc = self.api_group(group)
            del doc["kind"], doc["apiVersion"]
            groups.append(doc)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def resource_list(self, group: str, version: str) -> dict[str, Any]:
        entries: list[dict[str, Any]] = []
        for res in sorted(self.resources.get(group, {}).values(), key=lambda r: r.name):
            entry: dict[str, Any] = {"name": res.name, "singularName": res.singular, "namespaced": res.namespaced,
                                     "kind": res.kind,
                                     "verbs": ["create"] if (group, res.name) in CREATE_ONLY else list(READ_VERBS)}
            if res.short_names:
                entry["shortNames"] = list(res.short_names)
            if res.categories:
                entry["categories"] = list(res.categories)
            entries.append(entry)
            for sub, kind, verbs in SUBRESOURCES.get((group, res.name), ()):
                entries.append({"name": f"{res.name}/{sub}", "singularName": "", "namespaced": res.namespaced,
                                "kind": kind, "verbs": list(verbs)})
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version, "resources": entries}
