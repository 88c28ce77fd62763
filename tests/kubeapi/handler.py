"""HTTP request handling: auth, faults, routing, content negotiation, watches, access reviews, exec."""

from __future__ import annotations

import json
import socket
import struct
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from . import podexec, reviews, routes, tables
from . import watch as watches
from . import websocket as ws
from .discovery import CREATE_ONLY, Resource
from .faults import HEADERS_KEPT, Fault, RecordedRequest
from .selectors import Predicate, SelectorError, field_selector, label_selector
from .status import forbidden, not_found, status
from .store import ContinueError, page

if TYPE_CHECKING:
    from .server import KubeAPIServer

NOT_FOUND_PAGE = b"404 page not found\n"


def _selectors(first: dict[str, str], res: Resource) -> list[Predicate]:
    """The label and field selectors of a list or watch request."""
    predicates: list[Predicate] = []
    if first.get("labelSelector"):
        predicates.append(label_selector(first["labelSelector"]))
    if first.get("fieldSelector"):
        predicates.append(field_selector(first["fieldSelector"], res))
    return predicates


def _media(accept: str) -> str | None:
    """What the Accept header asks for: json, Table, PartialObjectMetadata (+ version), or None."""
    for part in (accept or "application/json").split(","):
        media, *params = [p.strip() for p in part.split(";")]
        options = dict(p.split("=", 1) for p in params if "=" in p)
        if media not in ("application/json", "application/*", "*/*"):
            continue
        shape = options.get("as")
        if shape is None:
            return "json"
        if options.get("g") == "meta.k8s.io" and options.get("v") in ("v1", "v1beta1"):
            if shape == "Table":
                return f"Table/{options['v']}"
            if shape in ("PartialObjectMetadata", "PartialObjectMetadataList"):
                return f"Partial/{options['v']}"
    return None


class Handler(BaseHTTPRequestHandler):
    """One connection; HTTP/1.1 keep-alive like kube-apiserver."""

    protocol_version = "HTTP/1.1"
    server_version, sys_version = "kubeapi-test", ""
    timeout = 30
    api: KubeAPIServer  # set on the subclass the server builds
    record: RecordedRequest | None = None
    reset = False

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def send_response(self, code: int, message: str | None = None) -> None:
        if self.record is not None:
            self.record.status = code
        super().send_response(code, message)

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    # --- plumbing ---------------------------------------------------------------------------

    def _send(self, code: int, body: bytes, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache, private")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if self.reset:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            # SO_LINGER 0: close() sends RST instead of FIN, a connection reset mid-body.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        self.wfile.write(body)

    def _json(self, code: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(code, json.dumps(obj, separators=(",", ":")).encode(), headers=headers)

    def _not_found_page(self) -> None:
        self._send(404, NOT_FOUND_PAGE, "text/plain; charset=utf-8")

    body = b""

    def _drain_body(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.body = self.rfile.read(length)
        elif self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True  # never parsed: drop the connection instead

    def _chunk(self, data: bytes) -> None:
        """One chunk of a chunked (streamed) body, flushed: each watch event reaches the client now."""
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    # --- the request --------------------------------------------------------------------------

    def _handle(self) -> None:
        api = self.api
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        route = routes.parse(url.path)
        upgrade = "websocket" in self.headers.get("Upgrade", "").lower()
        is_exec = route.kind == "object" and route.resource == "pods" and route.subresource == "exec"
        self.record = RecordedRequest(
            self.command, url.path, query,
            {k: v for k in HEADERS_KEPT if (v := self.headers.get(k)) is not None},
            is_exec=is_exec, websocket=upgrade, lines=list(self.headers.items()),
        )
        api.record(self.record)
        if self.command != "GET":
            self._drain_body()
        fault = api.fault_for(url.path, route, query)
        self.reset = bool(fault and fault.reset)
        if fault is not None:
            self.record.faulted = True
            time.sleep(fault.latency)
        scheme, _, presented = (self.headers.get("Authorization") or "").partition(" ")
        # the apiserver's bearer authenticator compares the scheme case-insensitively
        if api.token and (scheme.lower() != "bearer" or presented.strip() != api.token):
            return self._json(401, status(401))
        res = api.catalog.resource(route.group, route.version, route.resource) if route.resource else None
        if fault is not None and fault.status:
            return self._fault(fault, route, res)
        if api.rbac is not None and res is not None and (self.command == "GET" or is_exec):
            resource = f"{res.name}/{route.subresource}" if route.subresource else res.name
            for verb in self._rbac_verbs(route):
                if not api.rbac.allows(verb, res.group, resource, route.namespace):
                    return self._json(403, forbidden(res, api.user, verb, route.namespace, route.name or None,
                                                     route.subresource))
        if self.command == "POST" and res is not None and (res.group, res.name) in CREATE_ONLY:
            return self._review(res)
        if self.command != "GET" and not (is_exec and upgrade and self.command == "POST"):
            self.close_connection = True
            return self._json(405, status(405))
        self._route(route, res, query)

    def _verb(self, route: routes.Route) -> str:
        if route.subresource == "exec":
            # Since 1.35 a WebSocket exec (a GET) also needs `create` on pods/exec.
            return "create" if self.command == "POST" or self.api.catalog.minor() >= 35 else "get"
        if route.watch or self.record and watches.is_true(self.record.param("watch")):
            return "watch"
        return "get" if route.name else "list"

    def _rbac_verbs(self, route: routes.Route) -> list[str]:
        """The verbs RBAC checks: a WebSocket exec is a GET, and also `create` since 1.35 (KEP-4006)."""
        if route.subresource == "exec" and self.command == "GET":
            return ["get", "create"] if self.api.catalog.minor() >= 35 else ["get"]
        return [self._verb(route)]

    def _fault(self, fault: Fault, route: routes.Route, res: Resource | None) -> None:
        code = fault.status or 500
        headers = {}
        if code == 403 and res is not None:
            body = forbidden(res, self.api.user, self._verb(route), route.namespace, route.name or None,
                             route.subresource, fault.message)
        elif code == 404 and res is not None and route.name and not fault.message:
            body = not_found(res, route.name)
        elif code == 429 or (code == 503 and fault.retry_after):
            wait = fault.retry_after or 1
            body = status(code, fault.message, {"retryAfterSeconds": wait})
            headers["Retry-After"] = str(wait)
        else:
            body = status(code, fault.message)
        self._json(code, body, headers)

    def _route(self, route: routes.Route, res: Resource | None, query: dict[str, list[str]]) -> None:
        api, catalog = self.api, self.api.catalog
        if route.kind == "root":
            return self._json(200, {"paths": ["/api", "/api/v1", "/apis", "/healthz", "/version"]
                                    + sorted(f"/apis/{g}/{v}" for g, vs in catalog.versions.items() if g for v in vs)})
        if route.kind == "version":
            return self._json(200, catalog.version_info())
        if route.kind == "health":
            return self._send(200, b"ok", "text/plain; charset=utf-8")
        if route.kind == "api":
            return self._json(200, catalog.api_versions(f"127.0.0.1:{api.port}"))
        if route.kind == "apis":
            return self._json(200, catalog.group_list())
        if route.kind == "group" and route.group in catalog.versions and route.group:
            return self._json(200, catalog.api_group(route.group))
        if route.kind in ("openapi", "unknown", "group") or not catalog.served(route.group, route.version):
            return self._not_found_page()
        if route.kind == "resources":
            return self._json(200, catalog.resource_list(route.group, route.version))
        if res is None or (route.namespace and not res.namespaced) or (route.name and res.namespaced
                                                                         and route.namespace is None):
            return self._json(404, status(404))
        # ClusterInfo.unavailable: what the collecting user could not read stays forbidden here.
        keys = [f"{res.name}/{route.subresource}"] if route.subresource else [res.qualified, res.name]
        reason = next((api.unavailable[k] for k in keys if k in api.unavailable), None)
        if reason is not None:
            return self._json(403, forbidden(res, api.user, self._verb(route), route.namespace, route.name or None,
                                             route.subresource, reason or None))
        if route.subresource == "exec" and res.name == "pods":
            return self._exec(route, res, query)
        if route.subresource not in ("", "status") or (res.group, res.name) in CREATE_ONLY:
            return self._json(404, status(404)) if route.subresource else self._json(405, status(405))
        if route.watch or watches.is_true(query.get("watch", [""])[0]):
            return self._watch(route, res, query)
        if route.name:
            return self._object(route, res)
        self._list(route, res, query)

    def _object(self, route: routes.Route, res: Resource) -> None:
        obj = self.api.store.get(res, route.version, route.namespace or "", route.name)
        if obj is None:
            return self._json(404, not_found(res, route.name))
        media = _media(self.headers.get("Accept", ""))
        if media is None:
            return self._json(406, status(406))
        if media.startswith("Table/"):
            include = (self.record.param("includeObject") if self.record else None) or "Metadata"
            return self._json(200, tables.table(res, [obj], f"meta.k8s.io/{media[6:]}", include, {}))
        if media.startswith("Partial/"):
            return self._json(200, {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{media[8:]}",
                                    "metadata": obj.get("metadata") or {}})
        self._json(200, obj)

    def _list(self, route: routes.Route, res: Resource, query: dict[str, list[str]]) -> None:
        api = self.api
        first = {k: v[0] for k, v in query.items() if v}
        media = _media(self.headers.get("Accept", ""))
        if media is None:
            return self._json(406, status(406))
        try:
            predicates = _selectors(first, res)
            if first.get("sendInitialEvents"):
                raise watches.InvalidWatch('ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: '
                                           "Forbidden: sendInitialEvents is forbidden for list")
            limit = int(first["limit"]) if first.get("limit", "").isdigit() else 0
            if first.get("resourceVersion") == "0" and not first.get("continue"):
                limit = 0  # served from the watch cache, which ignores the limit (KEP-365)
            items, rv = api.store.read(res, route.version, route.namespace)
            chunk = page(items, predicates, limit, first.get("continue", ""), rv)
        except (SelectorError, ContinueError) as err:
            return self._json(400, status(400, str(err)))
        except watches.InvalidWatch as err:
            return self._json(422, status(422, str(err)))
        meta: dict[str, Any] = {"resourceVersion": rv}
        if chunk.continue_token:
            meta["continue"] = chunk.continue_token
        if chunk.remaining is not None:
            meta["remainingItemCount"] = chunk.remaining
        if media.startswith("Table/"):
            include = first.get("includeObject") or "Metadata"
            return self._json(200, tables.table(res, chunk.items, f"meta.k8s.io/{media[6:]}", include, meta))
        if media.startswith("Partial/"):
            api_version = f"meta.k8s.io/{media[8:]}"
            items = [{"kind": "PartialObjectMetadata", "apiVersion": api_version, "metadata": o.get("metadata") or {}}
                     for o in chunk.items]
            return self._json(200, {"kind": "PartialObjectMetadataList", "apiVersion": api_version,
                                    "metadata": meta, "items": items})
        items = chunk.items
        if api.omit_builtin_item_kinds and res.builtin:
            items = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in items]
        api_version = f"{res.group}/{route.version}" if res.group else route.version
        self._json(200, {"kind": f"{res.kind}List", "apiVersion": api_version, "metadata": meta, "items": items})

    def _watch(self, route: routes.Route, res: Resource, query: dict[str, list[str]]) -> None:
        """A watch stream: chunked JSON lines until timeoutSeconds, the server's stop or the client's hang-up."""
        api = self.api
        first = {k: v[0] for k, v in query.items() if v}
        media = _media(self.headers.get("Accept", ""))
        if media is None:
            return self._json(406, status(406))
        try:
            opts = watches.options(first, api.watch_timeout)
            predicates = _selectors(first, res)
            if route.name:  # the legacy /watch/.../NAME path
                predicates.append(field_selector(f"metadata.name={route.name}", res))
        except SelectorError as err:
            return self._json(400, status(400, str(err)))
        except watches.InvalidWatch as err:
            return self._json(422, status(422, str(err)))
        encoder = watches.Encoder(res, route.version, media, first.get("includeObject") or "Metadata")
        watch = watches.Watch(api.store, res, route.version, route.namespace, predicates, opts, encoder,
                              api.bookmark_interval)
        watch.start()
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            watch.run(self._chunk)
            self._chunk(b"")  # the last chunk: the stream ended cleanly
        except OSError:
            pass  # the client hung up (kubectl killed, Watch.stop): nothing left to tell it

    def _review(self, res: Resource) -> None:
        """POST of a SelfSubjectAccessReview or SelfSubjectRulesReview: 201 with its status."""
        kind = "SelfSubjectAccessReview" if res.name == "selfsubjectaccessreviews" else "SelfSubjectRulesReview"
        try:
            if (self.headers.get("Content-Type") or "").startswith(reviews.PROTOBUF):
                body = reviews.decode_protobuf(self.body, kind)
            else:
                body = json.loads(self.body or b"{}")
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError) as err:
            return self._json(400, status(400, f"the body of the request was in an unknown format: {err}"))
        try:
            answer = (reviews.access_review if kind == "SelfSubjectAccessReview" else reviews.rules_review)(
                body, self.api.rbac)
        except reviews.InvalidReview as err:
            return self._json(422, status(422, str(err)))
        self._json(201, answer)

    def _exec(self, route: routes.Route, res: Resource, query: dict[str, list[str]]) -> None:
        api = self.api
        self.close_connection = True
        pod = api.store.get(res, "v1", route.namespace or "", route.name)
        if pod is None:
            return self._json(404, not_found(res, route.name))
        if self.record is None or not self.record.websocket:
            return self._json(400, status(400, "Upgrade request required"))
        container = query.get("container", [None])[0]
        if why := podexec.refusal(pod, container):
            return self._json(400, status(400, why))
        offered = ",".join(self.headers.get_all("Sec-WebSocket-Protocol") or [])
        protocol = ws.choose_protocol(offered)
        key = self.headers.get("Sec-WebSocket-Key")
        if protocol is None or not key:
            return self._json(400, status(400, f"unable to upgrade: requested protocol(s) are not supported: "
                                               f"[{offered}]; supports {list(ws.PROTOCOLS)}"))
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", ws.accept_key(key))
        self.send_header("Sec-WebSocket-Protocol", protocol)
        self.end_headers()
        self.wfile.flush()
        time.sleep(api.exec_delay)
        argv = query.get("command", [])
        result = api.container(route.namespace or "", route.name, pod).run(list(argv))
        self.record.exit_code = None if result.error else result.exit_code
        if self.reset:  # half of the first output message, then a TCP reset mid-stream
            out = ws.channel_frames(ws.STDOUT, result.stdout or b"partial output\n")
            self.wfile.write(out[: max(2, len(out) // 2)])
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return
        podexec.stream(self.rfile, self.wfile, self.connection, argv, result)
