"""Watches: the newline-delimited JSON event stream of `?watch=1`, with kube-apiserver's semantics.

Parameters as upstream reads them (k8s.io/apimachinery/pkg/apis/meta/internalversion/validation/
validation.go ValidateListOptions, and the watch cache in k8s.io/apiserver/pkg/storage/cacher):
`resourceVersion` unset or "0" starts with synthetic ADDED events of the current state; a number
streams the changes after it, or one ERROR event (410 Expired) when the history no longer reaches
back to it; `sendInitialEvents=true` (with `resourceVersionMatch=NotOlderThan`) sends the current
state, then, with `allowWatchBookmarks=true`, a BOOKMARK annotated `k8s.io/initial-events-end`;
`allowWatchBookmarks=true` also sends a BOOKMARK when nothing changed for `bookmark_interval`;
`timeoutSeconds` ends the stream.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import tables
from .discovery import Resource
from .selectors import Predicate
from .status import status
from .store import Change, Store, TooOld, _at_version, _key, convert_event

INITIAL_EVENTS_END = "k8s.io/initial-events-end"
TRUE = ("1", "t", "T", "TRUE", "true", "True")  # Go's strconv.ParseBool, how query booleans are read


def is_true(value: str | None) -> bool:
    return value in TRUE


class InvalidWatch(ValueError):
    """Options the API server refuses: 422 Invalid (`ListOptions.meta.k8s.io "" is invalid: ...`)."""


@dataclass(frozen=True)
class WatchOptions:
    since: int | None  # stream changes after this revision; None: from now, after the initial state
    initial: bool  # synthetic ADDED events of the current state first
    initial_end_bookmark: bool
    bookmarks: bool
    timeout: float


def options(first: dict[str, str], default_timeout: float) -> WatchOptions:
    """The watch options of a request's query (first value of each parameter)."""
    rv, match = first.get("resourceVersion", ""), first.get("resourceVersionMatch", "")
    send = first.get("sendInitialEvents")
    errors = []
    if match and send is None:
        errors.append("resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch "
                      "unless sendInitialEvents is provided")
    if send is not None and match != "NotOlderThan":
        errors.append("resourceVersionMatch: Forbidden: sendInitialEvents requires setting "
                      "resourceVersionMatch to NotOlderThan")
    if rv and not rv.isdigit():
        errors.append(f'resourceVersion: Invalid value: "{rv}": must be a non-negative integer')
    if errors:
        joined = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
        raise InvalidWatch(f'ListOptions.meta.k8s.io "" is invalid: {joined}')
    bookmarks = is_true(first.get("allowWatchBookmarks"))
    timeout_text = first.get("timeoutSeconds", "")
    timeout = float(timeout_text) if timeout_text.isdigit() and int(timeout_text) > 0 else default_timeout
    if send is not None:  # a watch-list: the state at least as new as `rv`, i.e. now, or nothing
        initial = is_true(send)
        return WatchOptions(None, initial, initial and bookmarks, bookmarks, timeout)
    if rv in ("", "0"):
        return WatchOptions(None, True, False, bookmarks, timeout)
    return WatchOptions(int(rv), False, False, bookmarks, timeout)


@dataclass
class Encoder:
    """Watch events as JSON lines; `media` json, Table/<v> or Partial/<v> (as for lists)."""

    res: Resource
    version: str
    media: str
    include: str
    headers_sent: bool = False

    def event(self, kind: str, obj: dict[str, Any]) -> bytes:
        if kind != "ERROR":
            obj = self._shape(kind, obj)
        return json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode() + b"\n"

    def _shape(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        if self.media.startswith("Table/"):
            # handlers/response.go watchEmbeddedEncoder: column definitions in the first event only
            meta = {"resourceVersion": (obj.get("metadata") or {}).get("resourceVersion", "")}
            rows = [] if kind == "BOOKMARK" else [obj]
            table = tables.table(self.res, rows, f"meta.k8s.io/{self.media[6:]}", self.include, meta)
            if self.headers_sent:
                table["columnDefinitions"] = []
            self.headers_sent = self.headers_sent or kind != "BOOKMARK"
            return table
        if self.media.startswith("Partial/"):
            return {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{self.media[8:]}",
                    "metadata": obj.get("metadata") or {}}
        return obj

    def bookmark(self, rv: int, initial_end: bool = False) -> bytes:
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {INITIAL_EVENTS_END: "true"}
        api_version = f"{self.res.group}/{self.version}" if self.res.group else self.version
        return self.event("BOOKMARK", {"kind": self.res.kind, "apiVersion": api_version, "metadata": meta})


@dataclass
class Watch:
    """One watch of `res` at `version`, in `namespace` (None: all), of objects matching `predicates`."""

    store: Store
    res: Resource
    version: str
    namespace: str | None
    predicates: list[Predicate]
    opts: WatchOptions
    encoder: Encoder
    bookmark_interval: float = 1.0
    _initial: list[dict[str, Any]] = field(default_factory=list, init=False)
    _cursor: int = field(default=0, init=False)
    _started: bool = field(default=False, init=False)

    def matches(self, obj: dict[str, Any] | None) -> bool:
        if obj is None or (self.namespace is not None and _key(obj)[0] != self.namespace):
            return False
        return all(p(obj) for p in self.predicates)

    def _served(self, change: Change) -> dict[str, Any] | None:
        """The change's object as this watch serves it; None when it is of another resource."""
        if (change.group, change.resource) == (self.res.group, self.res.name):
            return _at_version(change.obj, self.res.group, self.version)
        if self.res.name == change.resource == "events" and {change.group, self.res.group} == {"", "events.k8s.io"}:
            return _at_version(convert_event(change.obj, self.res.group), self.res.group, self.version)
        return None

    def _old(self, change: Change) -> dict[str, Any] | None:
        if change.old is None or change.group == self.res.group:
            return change.old
        return convert_event(change.old, self.res.group)

    def translate(self, change: Change) -> tuple[str, dict[str, Any]] | None:
        """The event a watcher with selectors sees (cacher.go: an object leaving the selection
        is DELETED for it, one entering it ADDED)."""
        obj = self._served(change)
        if obj is None:
            return None
        now, before = self.matches(obj), change.type == "MODIFIED" and self.matches(self._old(change))
        if change.type == "MODIFIED" and now != before:
            return ("ADDED" if now else "DELETED"), obj
        return (change.type, obj) if now else None

    def start(self) -> None:
        """Fix where the watch starts (the current revision and state, when resourceVersion is
        unset): called before the response headers, so a change made once they are in is streamed."""
        self._started = True
        if self.opts.since is not None:
            self._cursor = self.opts.since
            return
        items, rv = self.store.read(self.res, self.version, self.namespace)
        self._cursor = int(rv)
        self._initial = [obj for obj in items if self.matches(obj)] if self.opts.initial else []

    def run(self, write: Callable[[bytes], None]) -> None:
        """Stream events through `write` until the timeout, a closed store or a failed write."""
        deadline = time.monotonic() + self.opts.timeout
        if not self._started:
            self.start()
        cursor = self._cursor
        try:
            for obj in self._initial:
                write(self.encoder.event("ADDED", obj))
            if self.opts.initial_end_bookmark:
                write(self.encoder.bookmark(cursor, initial_end=True))
            self._stream(write, cursor, deadline)
        except TooOld as err:
            write(self.encoder.event("ERROR", status(410, str(err))))

    def _stream(self, write: Callable[[bytes], None], cursor: int, deadline: float) -> None:
        last_sent = time.monotonic()
        self.store.check_watchable(cursor)
        while not self.store.closed:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            wait = min(left, self.bookmark_interval) if self.opts.bookmarks else min(left, 0.5)
            changes, current = self.store.changes_after(cursor, wait)
            for change in changes:
                event = self.translate(change)
                if event is not None:
                    write(self.encoder.event(*event))
                    last_sent = time.monotonic()
            cursor = max(cursor, current)
            if self.opts.bookmarks and time.monotonic() - last_sent >= self.bookmark_interval:
                write(self.encoder.bookmark(cursor))
                last_sent = time.monotonic()
