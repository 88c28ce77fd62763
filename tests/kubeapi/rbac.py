"""RBAC as kube-apiserver applies it: ClusterRole and Role rules deciding each resource request."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Authorizer:
    """The rules of one user: ClusterRoles apply everywhere, Roles in their own namespace.

    Non-resource URLs (discovery, /version) are always allowed, as system:discovery does.
    """

    cluster_rules: list[dict[str, Any]] = field(default_factory=list)
    namespaced_rules: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def from_documents(cls, docs: Iterable[dict[str, Any]]) -> Authorizer:
        """ClusterRoles and Roles of an RBAC manifest (bindings are taken as binding the user)."""
        out = cls()
        for doc in docs:
            if not isinstance(doc, dict):
                continue
            rules = [r for r in doc.get("rules") or () if isinstance(r, dict)]
            if doc.get("kind") == "ClusterRole":
                out.cluster_rules += rules
            elif doc.get("kind") == "Role":
                namespace = str((doc.get("metadata") or {}).get("namespace") or "default")
                out.namespaced_rules.setdefault(namespace, []).extend(rules)
        return out

    def allows(self, verb: str, group: str, resource: str, namespace: str | None) -> bool:
        """Whether a rule grants `verb` on `resource` (e.g. `pods/exec`) of `group` in `namespace`."""
        rules = list(self.cluster_rules)
        if namespace is not None:
            rules += self.namespaced_rules.get(namespace, [])
        return any(_matches(rule, verb, group, resource) for rule in rules)

    def rules(self, namespace: str | None) -> list[dict[str, Any]]:
        """The resource rules in effect in `namespace` (SelfSubjectRulesReview's resourceRules)."""
        rules = list(self.cluster_rules)
        if namespace:
            rules += self.namespaced_rules.get(namespace, [])
        keys = ("verbs", "apiGroups", "resources", "resourceNames")
        return [{k: list(rule[k]) for k in keys if rule.get(k)} for rule in rules]


def _matches(rule: dict[str, Any], verb: str, group: str, resource: str) -> bool:
    def has(key: str, value: str) -> bool:
        values = rule.get(key) or ()
        return "*" in values or value in values

    return has("apiGroups", group) and has("resources", resource) and has("verbs", verb)
