"""`KubeAPIServer`: lifecycle, kubeconfig, faults and request records of the loopback API server."""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import ssl
import sys
import threading
from collections.abc import Iterable
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from . import routes, snapshot
from .container import Container
from .discovery import Catalog
from .faults import Fault, RecordedRequest
from .handler import Handler
from .rbac import Authorizer
from .store import Store
from .tls import self_signed, server_context

DEFAULT_USER = "system:serviceaccount:default:test"
PathLike = str | os.PathLike[str]


class KubeAPIServer:
    """A read-only Kubernetes API server on 127.0.0.1:<ephemeral port>, for the python client and kubectl.

    Serves discovery (/version, /api, /apis, group versions), GET of collections and objects with
    labelSelector, fieldSelector, limit/continue, Tables for kubectl, Status errors, and pods/exec
    over WebSocket (v5/v4.channel.k8s.io) answered from the pod's evidence folder. Everything but
    GET (and the exec upgrade, and POSTs of SelfSubjectAccessReview/SelfSubjectRulesReview, answered
    from `rbac`) answers 405 and is recorded in `requests`.

    Watches (`?watch=1`, the legacy /watch/ paths) stream JSON lines as kube-apiserver does (see
    `watch`): initial events, resourceVersion, bookmarks every `bookmark_interval` seconds,
    sendInitialEvents, 410 Expired for a revision older than the kept history, timeoutSeconds
    (else `watch_timeout`), Tables for kubectl. Tests change the cluster through `store`:
    `srv.store.apply(obj)` (create or replace), `srv.store.delete(kind, namespace, name)`, and
    `srv.store.compact()` (forget the history: older revisions answer 410). Namespaces are served:
    the stored ones, those of the objects, and default/kube-system. A list with
    `resourceVersion=0` ignores `limit`, as the watch cache does.

    Objects are served at every served version of their group with `apiVersion` rewritten; shapes
    are NOT converted (resource.k8s.io v1beta1 differs from v1). Core and events.k8s.io events are
    one store seen through both APIs (fields mapped as upstream does). Served groups: core v1 and
    events.k8s.io v1 always, plus ClusterInfo.groups and the groups of the objects.
    `ClusterInfo.unavailable` resources (e.g. `resourceslices.resource.k8s.io`, `pods/exec`) answer
    403. With `token`, requests without `Authorization: Bearer <token>` get 401.

    Attributes tests may set: `faults` (key -> Fault: a resource `resourceslices`, a qualified one
    `resourceslices.resource.k8s.io`, a subresource `pods/exec`, a path prefix `/apis/kubevirt.io`,
    or `*`), `exec_delay` (seconds between the exec handshake and the output), `user` (named in 403
    messages), `omit_builtin_item_kinds` (drop kind/apiVersion from list items of built-in types,
    as the real API does; off by default), `rbac` (an `rbac.Authorizer`: resource requests its
    ClusterRole/Role rules do not allow answer 403 as RBAC words it; None allows everything).
    """

    def __init__(
        self,
        objects: Iterable[dict[str, Any]] = (),
        evidence_root: PathLike | Iterable[PathLike] | None = None,
        cluster_info: dict[str, Any] | None = None,
        *,
        tls: bool = False,
        token: str | None = None,
    ) -> None:
        objs, found_info = snapshot.split_documents(objects)
        self.cluster_info = cluster_info or found_info
        self.catalog = Catalog(objs, self.cluster_info)
        self.store = Store(objs, self.catalog)
        if evidence_root is None:
            evidence_root = []
        elif isinstance(evidence_root, (str, os.PathLike)):
            evidence_root = [evidence_root]
        self.evidence_roots = [Path(p) for p in evidence_root]
        self.dumpxml: dict[tuple[str, str], Path] = {}  # (namespace, pod) -> must-gather domain XML
        self.unavailable: dict[str, str] = {
            str(u.get("resource")): str(u.get("reason") or "")
            for u in (self.cluster_info or {}).get("unavailable") or () if isinstance(u, dict)
        }
        self.tls, self.token, self.user = tls, token, DEFAULT_USER
        self.faults: dict[str, Fault] = {}
        self.exec_delay = 0.0
        self.omit_builtin_item_kinds = False
        self.rbac: Authorizer | None = None
        self.bookmark_interval = 1.0  # seconds without an event before a BOOKMARK (upstream: about 1 min)
        self.watch_timeout = 1800.0  # kube-apiserver's --min-request-timeout
        self.requests: list[RecordedRequest] = []
        self.ca_pem: bytes | None = None
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def from_snapshot(cls, paths: PathLike | Iterable[PathLike], tls: bool = False,
                      token: str | None = None) -> KubeAPIServer:
        """Serve the objects of snapshot folders/files; evidence and must-gather XML found in them."""
        snap = snapshot.load(paths)
        srv = cls(snap.objects, snap.evidence_roots, snap.cluster_info, tls=tls, token=token)
        srv.dumpxml = snap.dumpxml
        return srv

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> KubeAPIServer:
        handler = type("BoundHandler", (Handler,), {"api": self})
        self.store.open()
        httpd = _HTTPServer(("127.0.0.1", 0), handler)
        if self.tls:
            cert, key = self_signed()
            self.ca_pem, httpd.ssl_context = cert, server_context(cert, key)
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"kubeapi-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self.store.close()  # ends every watch stream
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> KubeAPIServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def write_kubeconfig(self, path: PathLike, context: str = "test", namespace: str | None = None) -> Path:
        """A real kubeconfig (clusters, users, contexts, current-context) pointing at this server."""
        cluster: dict[str, Any] = {"server": self.url}
        if self.ca_pem:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_pem).decode()
        ctx: dict[str, Any] = {"cluster": context, "user": context}
        if namespace:
            ctx["namespace"] = namespace
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": cluster}],
            "users": [{"name": context, "user": {"token": self.token} if self.token else {}}],
            "contexts": [{"name": context, "context": ctx}],
            "current-context": context,
            "preferences": {},
        }
        out = Path(path)
        out.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        return out

    # --- requests, faults, exec ----------------------------------------------------------------

    def reset_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def fault_for(self, path: str, route: routes.Route, query: dict[str, list[str]]) -> Fault | None:
        """The first live fault for this request: path prefix, then subresource/resource, then `*`."""
        keys = sorted((k for k in self.faults if k.startswith("/") and
                       (path == k or path.startswith(k.rstrip("/") + "/"))), key=len, reverse=True)
        if route.resource:
            qualified = f"{route.resource}.{route.group}" if route.group else route.resource
            keys += ([f"{route.resource}/{route.subresource}", f"{qualified}/{route.subresource}"]
                     if route.subresource else [qualified, route.resource])
        keys.append("*")
        with self._lock:
            for key in keys:
                fault = self.faults.get(key)
                if fault is None or fault.times == 0 or (fault.status == 410 and not query.get("continue")):
                    continue
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    def container(self, namespace: str, pod_name: str, pod: dict[str, Any]) -> Container:
        """The compute container of a launcher pod, from `evidence/<ns>/<pod>/` and must-gather."""
        evidence = next((d for root in self.evidence_roots if (d := root / namespace / pod_name).is_dir()), None)
        domain_xml = evidence / "domain.xml" if evidence else None
        if domain_xml is None or not domain_xml.is_file():
            domain_xml = self.dumpxml.get((namespace, pod_name))
        meta = pod.get("metadata") or {}
        vmi = next((o.get("name") for o in meta.get("ownerReferences") or ()
                    if o.get("kind") == "VirtualMachineInstance"), None)
        vmi = vmi or (meta.get("annotations") or {}).get("kubevirt.io/domain")
        return Container(evidence, domain_xml, f"{namespace}_{vmi}" if vmi else None)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    ssl_context: Any = None

    def __init__(self, address: tuple[str, int], handler: type[Handler]) -> None:
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # TLS handshake here, in the connection's thread, so a slow client cannot stall accept().
        request.settimeout(30)
        if self.ssl_context is not None:
            request = self.ssl_context.wrap_socket(request, server_side=True)
        with self._conn_lock:
            self._connections.add(request)
        try:
            super().finish_request(request, client_address)
        finally:
            with self._conn_lock:
                self._connections.discard(request)
            if self.ssl_context is not None:
                request.close()  # the wrapped socket owns the descriptor now

    def close_connections(self) -> None:
        with self._conn_lock:
            for conn in list(self._connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up or fail TLS are normal in tests; anything else is a bug here.
        if not isinstance(sys.exc_info()[1], (OSError, ssl.SSLError)):
            super().handle_error(request, client_address)
