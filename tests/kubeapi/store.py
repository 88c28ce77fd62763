"""The served objects: indexed by resource, ordered like etcd keys, filtered and paged."""

from __future__ import annotations

import base64
import binascii
import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .discovery import Catalog, Resource, guess_resource
from .selectors import Predicate


class ContinueError(ValueError):
    """A `continue` token this server did not issue: 400 BadRequest, as upstream."""


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


class Store:
    """Objects per (group, resource), sorted by namespace then name (etcd key order)."""

    def __init__(self, objects: Iterable[dict[str, Any]], catalog: Catalog) -> None:
        self._items: dict[tuple[str, str], list[dict[str, Any]]] = {}
        revisions = [0]
        for obj in objects:
            group = obj["apiVersion"].rpartition("/")[0]
            res = guess_resource(group, obj["kind"], bool(_key(obj)[0]))
            res = catalog.resources.get(group, {}).get(res.name, res)
            self._items.setdefault((group, res.name), []).append(obj)
            rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
            revisions.append(int(rv) if rv.isdigit() else 0)
        for items in self._items.values():
            items.sort(key=_key)
        self.resource_version = str(max(revisions) or 1)

    def items(self, res: Resource, version: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Objects of `res` as served at `version`, in one namespace or all of them."""
        found = {_key(o): o for o in self._events(res)} if res.name == "events" else {}
        found.update((_key(o), o) for o in self._items.get((res.group, res.name), ()))
        return [
            _at_version(obj, res.group, version)
            for key, obj in sorted(found.items())
            if namespace is None or key[0] == namespace
        ]

    def get(self, res: Resource, version: str, namespace: str, name: str) -> dict[str, Any] | None:
        for obj in self.items(res, version, namespace if res.namespaced else None):
            if _key(obj)[1] == name:
                return obj
        return None

    def _events(self, res: Resource) -> list[dict[str, Any]]:
        # One event store, two APIs: core/v1 and events.k8s.io/v1 both list every event.
        if res.group == "":
            return [_core_event(e) for e in self._items.get(("events.k8s.io", "events"), ())]
        if res.group == "events.k8s.io":
            return [_events_v1_event(e) for e in self._items.get(("", "events"), ())]
        return []


def _at_version(obj: dict[str, Any], group: str, version: str) -> dict[str, Any]:
    # Served versions of a group share storage; shapes are not converted (v1beta1 DRA differs).
    api_version = f"{group}/{version}" if group else version
    out = copy.deepcopy(obj)
    out["apiVersion"] = api_version
    return out


_EVENT_FIELDS = (  # (core/v1 field, events.k8s.io/v1 field)
    ("involvedObject", "regarding"), ("related", "related"), ("message", "note"), ("reason", "reason"),
    ("type", "type"), ("action", "action"), ("eventTime", "eventTime"), ("series", "series"),
    ("reportingComponent", "reportingController"), ("reportingInstance", "reportingInstance"),
    ("source", "deprecatedSource"), ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"), ("count", "deprecatedCount"),
)


def _events_v1_event(core: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": core.get("metadata", {})}
    out.update((new, core[old]) for old, new in _EVENT_FIELDS if old in core)
    return out


def _core_event(event: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"apiVersion": "v1", "kind": "Event", "metadata": event.get("metadata", {})}
    out.update((old, event[new]) for old, new in _EVENT_FIELDS if new in event)
    return out


@dataclass
class Page:
    items: list[dict[str, Any]]
    continue_token: str = ""
    remaining: int | None = None


def page(items: list[dict[str, Any]], predicates: list[Predicate], limit: int, token: str, rv: str) -> Page:
    """Filter, then cut at `limit` after the `continue` token's position (upstream chunking)."""
    if token:
        start = _decode(token)
        items = [o for o in items if _key(o) > start]
    items = [o for o in items if all(p(o) for p in predicates)]
    if limit <= 0 or len(items) <= limit:
        return Page(items)
    last = _key(items[limit - 1])
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": int(rv) if rv.isdigit() else 1, "start": "/".join(last)})
    # Upstream sets remainingItemCount only for unfiltered lists: it cannot count a filtered rest.
    remaining = None if predicates else len(items) - limit
    return Page(items[:limit], base64.urlsafe_b64encode(raw.encode()).decode().rstrip("="), remaining)


def _decode(token: str) -> tuple[str, str]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        namespace, _, name = str(raw["start"]).partition("/")
    except (binascii.Error, ValueError, KeyError, TypeError) as err:
        raise ContinueError(f"continue key is not valid: {err}") from err
    return (namespace, name)
