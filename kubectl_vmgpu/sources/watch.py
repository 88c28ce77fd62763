"""Live watches for `--watch`: one list and one watch connection per watched kind, raw objects only.

As client-go's reflector does (k8s.io/client-go/tools/cache/reflector.go): list, then watch from the list's
resourceVersion with allowWatchBookmarks; a stream that ends (timeoutSeconds) is watched again from the last
resourceVersion seen; 410 Gone (an HTTP answer or an ERROR event) lists again. Read-only: GET only.
"""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass, replace
from typing import Any

from ..model import Obj
from .api import Api, ApiError
from .cluster import Read

WATCHED = ("VirtualMachineInstance", "VirtualMachine", "Pod", "ResourceClaim", "ResourceSlice", "Event")
WATCH_SECONDS = 300  # each watch request's timeoutSeconds; the stream then resumes from the last version
RETRY_SECONDS = 1.0


@dataclass(frozen=True)
class Change:
    """One watch event: ADDED, MODIFIED, DELETED of `obj`, or RELISTED with every `items` of the kind."""

    kind: str
    type: str
    obj: Obj | None = None
    items: tuple[Obj, ...] = ()
    note: str | None = None  # a watch that failed and is retried, for stderr


def as_list(read: Read) -> Read:
    """A named GET of the plan as a list of that one name, which can be watched."""
    if not read.single:
        return read
    path, _, name = read.path.rpartition("/")
    return replace(read, path=path, query={"fieldSelector": f"metadata.name={name}"}, single=False)


def list_at(api: Api, read: Read) -> tuple[list[Obj], str]:
    """Every item of a list (paged) and the resourceVersion it was read at."""
    out: list[Obj] = []
    token: str | None = None
    version = ""
    while True:
        page = api.get(read.path, {**read.query, "limit": 500, "continue": token})
        listed = page.get("metadata")
        meta: dict[str, Any] = listed if isinstance(listed, dict) else {}
        version = str(meta.get("resourceVersion") or version)
        kind = str(page.get("kind", "")).removesuffix("List")
        for item in page.get("items") or []:
            if isinstance(item, dict):
                item.setdefault("apiVersion", page.get("apiVersion"))
                item.setdefault("kind", kind)
                out.append(item)
        token = str(meta.get("continue") or "") or None
        if not token:
            return out, version


class Gone(Exception):
    """410: the resourceVersion is too old; list again."""


class Watcher:
    """Threads (one per read) that put `Change`s on `changes` until `stop` is set."""

    def __init__(self, api: Api, reads: list[Read]) -> None:
        self.api = api
        self.reads = reads
        self.changes: queue.Queue[Change] = queue.Queue()
        self.stop = threading.Event()

    def start(self, versions: dict[str, str]) -> None:
        """Watch each read from the resourceVersion its initial list had (`versions` by kind)."""
        for read in self.reads:
            thread = threading.Thread(target=self._run, args=(read, versions[read.kind]), daemon=True)
            thread.start()

    def _run(self, read: Read, version: str) -> None:
        while not self.stop.is_set():
            try:
                version = self._stream(read, version)
            except Gone:
                version = self._relist(read, version)
            except ApiError as exc:
                self.changes.put(Change(read.kind, "ERROR", note=f"watch of {read.resource}: {exc}; retrying"))
                self.stop.wait(RETRY_SECONDS)

    def _relist(self, read: Read, version: str) -> str:
        try:
            items, version = list_at(self.api, read)
        except ApiError as exc:
            self.changes.put(Change(read.kind, "ERROR", note=f"list of {read.resource}: {exc}; retrying"))
            self.stop.wait(RETRY_SECONDS)
            return version
        self.changes.put(Change(read.kind, "RELISTED", items=tuple(items)))
        return version

    def _stream(self, read: Read, version: str) -> str:
        """One watch request; returns the last resourceVersion seen when the server ends it."""
        from kubernetes.watch.watch import iter_resp_lines

        query = {**read.query, "watch": "1", "resourceVersion": version, "allowWatchBookmarks": "true"}
        query["timeoutSeconds"] = str(WATCH_SECONDS)
        resp = stream_open(self.api, read.path, query)
        try:
            for line in iter_resp_lines(resp):
                if self.stop.is_set():
                    break
                version = self._event(read, line, version)
        except (OSError, ValueError) as exc:
            raise ApiError(0, f"the watch stream broke ({exc})") from None
        finally:
            resp.release_conn()
        return version

    def _event(self, read: Read, line: str, version: str) -> str:
        try:
            doc = json.loads(line)
        except ValueError:
            return version
        obj = doc.get("object") if isinstance(doc, dict) else None
        kind = doc.get("type") if isinstance(doc, dict) else None
        if not isinstance(obj, dict):
            return version
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise Gone
            raise ApiError(int(obj.get("code") or 0), str(obj.get("message") or "watch error"))
        found = obj.get("metadata")
        meta: dict[str, Any] = found if isinstance(found, dict) else {}
        version = str(meta.get("resourceVersion") or version)
        if kind in ("ADDED", "MODIFIED", "DELETED"):
            obj.setdefault("kind", read.kind)
            self.changes.put(Change(read.kind, str(kind), obj))
        return version


def stream_open(api: Api, path: str, query: dict[str, Any]) -> Any:
    """The unread response of a watch GET (410 raised as Gone)."""
    from kubernetes.client.exceptions import ApiException

    connect = api.timeout or None
    try:
        return api.client.call_api(
            path,
            "GET",
            query_params=list(query.items()),
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
            _preload_content=False,
            _return_http_data_only=True,
            _request_timeout=(connect, WATCH_SECONDS + 30) if connect else None,
        )
    except ApiException as exc:
        if exc.status == 410:
            raise Gone from None
        raise ApiError(exc.status or 0, f"watch {path}: {exc.reason}") from None
    except Exception as exc:  # urllib3 connection errors
        raise ApiError(0, f"watch {path}: {exc}") from None
