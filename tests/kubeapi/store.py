"""The served objects: indexed by resource, ordered like etcd keys, filtered, paged, written and watched."""

from __future__ import annotations

import base64
import binascii
import copy
import json
import threading
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .discovery import Catalog, Resource, guess_resource
from .selectors import Predicate


class ContinueError(ValueError):
    """A `continue` token this server did not issue: 400 BadRequest, as upstream."""


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


# Namespaces a cluster always has (kube-apiserver's system namespaces controller creates them).
SYSTEM_NAMESPACES = ("default", "kube-system")
DEFAULT_LOG_SIZE = 1000  # changes kept for watches, like the watch cache's bounded history


@dataclass(frozen=True)
class Change:
    """One write: `obj` as stored after it (DELETED: its last state), `old` before it."""

    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    group: str
    resource: str
    obj: dict[str, Any]
    old: dict[str, Any] | None = None


class TooOld(ValueError):
    """A watch from a resourceVersion older than the kept history: 410 Expired, as upstream."""

    def __init__(self, requested: int, oldest: int) -> None:
        # apiserver/pkg/storage/cacher/watch_cache.go: errors.NewResourceExpired
        super().__init__(f"too old resource version: {requested} ({oldest})")


class Store:
    """Objects per (group, resource), sorted by namespace then name (etcd key order).

    Writes (`apply`, `delete`) bump one global resourceVersion, as etcd's revision does, and are
    logged (the last `log_size` of them) for watches. Thread-safe: one lock for reads and writes;
    watchers wait on it for the next change (`changes_after`).
    """

    def __init__(self, objects: Iterable[dict[str, Any]], catalog: Catalog,
                 log_size: int = DEFAULT_LOG_SIZE) -> None:
        self.catalog = catalog
        self._cond = threading.Condition()
        self._items: dict[tuple[str, str], list[dict[str, Any]]] = {}
        objects = list(objects)
        revisions = [0]
        for obj in objects:
            rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
            revisions.append(int(rv) if rv.isdigit() else 0)
        self._rv = max(revisions) or 1
        for obj in objects:
            obj.setdefault("metadata", {}).setdefault("resourceVersion", str(self._rv))
            self._items.setdefault(self._resource(obj), []).append(obj)
        namespaces = {ns for ns, _ in (_key(o) for o in objects) if ns} | set(SYSTEM_NAMESPACES)
        stored = {_key(o)[1] for o in self._items.get(("", "namespaces"), ())}
        for ns in sorted(namespaces - stored):
            self._items.setdefault(("", "namespaces"), []).append(_namespace(ns, self._rv))
        for items in self._items.values():
            items.sort(key=_key)
        self._log: deque[Change] = deque(maxlen=max(log_size, 1))
        self._oldest = self._rv  # every change after this revision is in the log
        self._closed = False

    def _resource(self, obj: dict[str, Any]) -> tuple[str, str]:
        group = obj["apiVersion"].rpartition("/")[0]
        res = guess_resource(group, obj["kind"], bool(_key(obj)[0]))
        return group, self.catalog.resources.get(group, {}).get(res.name, res).name

    @property
    def resource_version(self) -> str:
        """The current revision: of the last write, or the highest of the loaded objects."""
        with self._cond:
            return str(self._rv)

    # --- reads ----------------------------------------------------------------------------------

    def items(self, res: Resource, version: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Objects of `res` as served at `version`, in one namespace or all of them."""
        return self.read(res, version, namespace)[0]

    def read(self, res: Resource, version: str, namespace: str | None = None) -> tuple[list[dict[str, Any]], str]:
        """`items` and the revision they were read at, consistently."""
        with self._cond:
            found = {_key(o): o for o in self._events(res)} if res.name == "events" else {}
            found.update((_key(o), o) for o in self._items.get((res.group, res.name), ()))
            out = [_at_version(obj, res.group, version) for key, obj in sorted(found.items())
                   if namespace is None or key[0] == namespace]
            return out, str(self._rv)

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

    # --- writes (the test's hand on the cluster) ---------------------------------------------------

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace `obj` (by apiVersion group, kind, namespace, name): a new revision,
        an ADDED or MODIFIED change for watchers; a Namespace first if its namespace is new.
        Returns the object as stored (resourceVersion, uid and creationTimestamp set)."""
        new = copy.deepcopy(obj)
        meta = new.setdefault("metadata", {})
        if not meta.get("name") or not new.get("kind") or not new.get("apiVersion"):
            raise ValueError("apply needs apiVersion, kind and metadata.name")
        res = self.catalog.add(new)
        with self._cond:
            namespace = meta.get("namespace") or ""
            if res.namespaced and namespace and not self._find(("", "namespaces"), ("", namespace)):
                self._write(("", "namespaces"), _namespace(namespace, 0))
            old = self._find((res.group, res.name), _key(new))
            if old is not None:
                meta.setdefault("uid", (old.get("metadata") or {}).get("uid"))
                meta.setdefault("creationTimestamp", (old.get("metadata") or {}).get("creationTimestamp"))
            stored = self._write((res.group, res.name), new)
            return copy.deepcopy(stored)

    def delete(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        """Remove the object of `kind` (a Kind like `VirtualMachineInstance` or a resource like
        `pods`) named `name`: a DELETED change carrying its last state at the new revision."""
        with self._cond:
            for (group, resource), items in self._items.items():
                for i, obj in enumerate(items):
                    if _key(obj) == (namespace or "", name) and kind in (obj.get("kind"), resource):
                        del items[i]
                        gone = copy.deepcopy(obj)
                        self._rv += 1
                        gone["metadata"]["resourceVersion"] = str(self._rv)
                        self._record(Change(self._rv, "DELETED", group, resource, gone, obj))
                        return copy.deepcopy(gone)
        raise KeyError(f"{kind} {namespace or ''}/{name} is not stored")

    def compact(self) -> None:
        """Forget the change history, as etcd compaction does: a watch from any revision before
        now answers 410 Expired."""
        with self._cond:
            self._log.clear()
            self._oldest = self._rv

    def _find(self, where: tuple[str, str], key: tuple[str, str]) -> dict[str, Any] | None:
        return next((o for o in self._items.get(where, ()) if _key(o) == key), None)

    def _write(self, where: tuple[str, str], obj: dict[str, Any]) -> dict[str, Any]:
        items = self._items.setdefault(where, [])
        key = _key(obj)
        index = next((i for i, o in enumerate(items) if _key(o) == key), None)
        self._rv += 1
        meta = obj["metadata"]
        meta["resourceVersion"] = str(self._rv)
        meta["uid"] = meta.get("uid") or str(uuid.uuid4())
        meta["creationTimestamp"] = meta.get("creationTimestamp") or _now()
        old = None
        if index is None:
            items.append(obj)
            items.sort(key=_key)
        else:
            old, items[index] = items[index], obj
        self._record(Change(self._rv, "ADDED" if old is None else "MODIFIED", *where, copy.deepcopy(obj), old))
        return obj

    def _record(self, change: Change) -> None:
        if len(self._log) == self._log.maxlen:
            self._oldest = self._log[0].rv  # the oldest change falls out of the history
        self._log.append(change)
        self._cond.notify_all()

    # --- watching -------------------------------------------------------------------------------

    def check_watchable(self, rv: int) -> None:
        """Raise TooOld when changes after `rv` are no longer all kept."""
        with self._cond:
            if rv < self._oldest:
                raise TooOld(rv, self._oldest)

    def changes_after(self, rv: int, timeout: float) -> tuple[list[Change], int]:
        """Changes after revision `rv` (waiting up to `timeout` seconds for one) and the current
        revision; TooOld when the history no longer reaches back to `rv`."""
        with self._cond:
            self._cond.wait_for(lambda: self._closed or self._rv > rv, timeout)
            if rv < self._oldest:
                raise TooOld(rv, self._oldest)
            return [c for c in self._log if c.rv > rv], self._rv

    def open(self) -> None:
        with self._cond:
            self._closed = False

    def close(self) -> None:
        """Wake every watcher: the server is stopping."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _namespace(name: str, rv: int) -> dict[str, Any]:
    """A Namespace as kube-apiserver stores one (the metadata.name label since 1.21)."""
    meta: dict[str, Any] = {"name": name, "labels": {"kubernetes.io/metadata.name": name}}
    if rv:
        meta.update(resourceVersion=str(rv), uid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"namespace/{name}")),
                    creationTimestamp="2025-01-01T00:00:00Z")
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta,
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def convert_event(obj: dict[str, Any], group: str) -> dict[str, Any]:
    """An event stored through one events API, as the other (`group`) serves it."""
    return _core_event(obj) if group == "" else _events_v1_event(obj)


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
