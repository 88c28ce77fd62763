"""The transport: the official client on raw JSON (paged lists, retries, one-line errors) and exec."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from .. import execs
from ..model import Connection, Obj, Scope
from . import kubeconfig
from .errors import SourceError, printable

PAGE = 500
MAX_IN_FLIGHT = 8
MAX_RETRY_AFTER = 10.0  # seconds; a longer Retry-After is not waited for
# The extra header lines of the exec being opened in this thread (see _timed_websockets)
_EXTRA_HEADERS = threading.local()


class _Broken(Exception):
    """The connection broke while an answer was being read (retried once)."""


class ApiError(Exception):
    """A request the API server refused or did not answer; `status` 0 when it never answered."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ExecResult:
    """What one exec printed; `error` set when it could not run at all."""

    stdout: str = ""
    stderr: str = ""
    code: int | None = None
    error: str | None = None


class Api:
    """GET and exec over the official client, objects kept as JSON dicts."""

    def __init__(self, scope: Scope) -> None:
        with contextlib.redirect_stdout(sys.stderr):  # the client's loaders may print
            from . import kclient

            kclient.prepare()
            from kubernetes import config as kconfig
            from kubernetes.client import ApiClient, Configuration

            cfg = Configuration()
            flags = scope.connection
            kc = kubeconfig.load(scope.kubeconfig, scope.context, flags)
            try:
                if kc is None:
                    if not os.environ.get("KUBERNETES_SERVICE_HOST"):
                        raise SourceError("no kubeconfig found (set KUBECONFIG or --kubeconfig) and not in a cluster")
                    kconfig.load_incluster_config(client_configuration=cfg)
                    _incluster_flags(cfg, flags)
                    self.namespace = _incluster_namespace()
                    who = kubeconfig.impersonation({}, flags, "in-cluster")
                else:
                    kconfig.load_kube_config_from_dict(
                        kc.config, context=kc.context, client_configuration=cfg, persist_config=False
                    )
                    self.namespace = kc.namespace
                    who = kc.impersonation
            except (kconfig.ConfigException, ValueError, TypeError) as exc:  # e.g. certificate data not base64
                raise SourceError(f"kubeconfig: {(str(exc).splitlines() or [type(exc).__name__])[0]}") from None
            kclient.configure(cfg, kc.proxy if kc else None)
        cfg.retries = _retries(scope.request_timeout)
        cfg.connection_pool_maxsize = MAX_IN_FLIGHT * 2
        self.cfg = cfg
        self.client = ApiClient(cfg)
        self.headers = who.headers() if who else []  # impersonation, on every request and exec
        kclient.send_headers(self.client, self.headers)
        self.timeout = scope.request_timeout
        self.host = cfg.host

    def get(self, path: str, query: dict[str, Any] | None = None) -> Obj:
        """One GET; a connection broken mid-answer is tried once more, as client-go does for GETs."""
        try:
            return self._get(path, query)
        except _Broken:
            try:
                return self._get(path, query)
            except _Broken as exc:
                raise ApiError(0, str(exc)) from None

    def _get(self, path: str, query: dict[str, Any] | None) -> Obj:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import ProtocolError

        params = [(k, v) for k, v in (query or {}).items() if v is not None]
        # The client drops a float timeout silently: only an int or a (connect, read) tuple is used.
        timeout = (self.timeout, self.timeout) if self.timeout else None
        try:
            resp = self.client.call_api(
                path,
                "GET",
                query_params=params,
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=timeout,
            )
            data = self._body(resp, path)
        except ApiException as exc:
            raise ApiError(exc.status or 0, _status_message(exc.status, exc.body, exc.reason)) from None
        except ProtocolError as exc:  # the connection broke while the answer was being read
            raise _Broken(f"the connection to the API server at {self.host} broke mid-answer ({_cause(exc)})") from None
        except Exception as exc:  # urllib3 connection, TLS and timeout errors
            raise ApiError(0, _network_message(self.host, exc)) from None
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError):
            raise ApiError(resp.status, f"GET {path}: the answer is not JSON") from None
        return doc if isinstance(doc, dict) else {}

    def _body(self, resp: Any, path: str) -> bytes:
        """The whole answer, read within the request timeout even when it trickles in."""
        if not self.timeout:
            return bytes(resp.data)
        deadline = time.monotonic() + self.timeout
        chunks = []
        for chunk in resp.stream(1 << 16):
            chunks.append(chunk)
            if time.monotonic() > deadline:
                resp.release_conn()
                raise ApiError(0, f"the API server at {self.host} did not answer {path} in time (--request-timeout)")
        return b"".join(chunks)

    def list(self, path: str, query: dict[str, Any] | None = None) -> list[Obj]:
        """Every item of a collection, page by page; items get their list's apiVersion and kind.

        A `continue` token that expired (410) restarts the list once, unpaged, as client-go's pager does.
        """
        out: list[Obj] = []
        token = None
        limit: int | None = PAGE
        while True:
            try:
                page = self.get(path, {**(query or {}), "limit": limit, "continue": token})
            except ApiError as exc:
                if exc.status != 410 or not token or limit is None:
                    raise
                out, token, limit = [], None, None
                continue
            kind = str(page.get("kind", "")).removesuffix("List")
            for item in page.get("items") or []:
                if isinstance(item, dict):
                    item.setdefault("apiVersion", page.get("apiVersion"))
                    item.setdefault("kind", kind)
                    out.append(item)
            listed = page.get("metadata")
            token = listed.get("continue") if isinstance(listed, dict) else None
            if not token:
                return out
            token = str(token)

    def exec(self, namespace: str, pod: str, argv: tuple[str, ...]) -> ExecResult:
        """Run a fixed argument vector in the compute container; output capped, time bounded."""
        import websocket
        from kubernetes.stream.ws_client import ERROR_CHANNEL, STDERR_CHANNEL, STDOUT_CHANNEL, WSClient

        query = [("command", a) for a in argv] + [
            ("container", execs.CONTAINER),
            ("stdout", "true"),
            ("stderr", "true"),
        ]
        url = self.host.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        url += f"/api/v1/namespaces/{_seg(namespace)}/pods/{_seg(pod)}/exec?{urlencode(query)}"
        headers: dict[str, str] = {}
        self.client.update_params_for_auth(headers, [], ["BearerToken"])
        headers = {k.lower(): v for k, v in headers.items()}
        headers["sec-websocket-protocol"] = "v5.channel.k8s.io,v4.channel.k8s.io"
        timeout = self.timeout or 60.0
        websocket.setdefaulttimeout(timeout)
        _timed_websockets()
        try:
            _EXTRA_HEADERS.lines = [f"{k}: {v}" for k, v in self.headers]  # the client passes on only auth
            ws = WSClient(self.cfg, url, headers, capture_all=False)
        except websocket.WebSocketBadStatusException as exc:
            return ExecResult(error=_exec_refusal(exc))
        except Exception as exc:
            if isinstance(exc, (TimeoutError, websocket.WebSocketTimeoutException)):
                return ExecResult(error=f"exec `{argv[0]}` got no answer within {timeout:g}s (--request-timeout)")
            return ExecResult(error=_one_line(f"exec failed: {_cause(exc)}"))
        finally:
            _EXTRA_HEADERS.lines = []
        deadline = time.monotonic() + timeout
        try:
            while ws.is_open():
                left = deadline - time.monotonic()
                if left <= 0:
                    return ExecResult(error=f"exec `{' '.join(argv[:2])}` timed out after {timeout:g}s")
                ws.update(timeout=left)
                size = sum(len(ws._channels.get(c, "")) for c in (STDOUT_CHANNEL, STDERR_CHANNEL))
                if size > execs.MAX_OUTPUT_BYTES:
                    return ExecResult(error=f"exec `{argv[0]}` printed more than {execs.MAX_OUTPUT_BYTES} bytes")
            status = ws.read_channel(ERROR_CHANNEL)
            return ExecResult(
                ws.read_channel(STDOUT_CHANNEL),
                ws.read_channel(STDERR_CHANNEL),
                _exit_code(status),
                _exec_failure(status),
            )
        except Exception as exc:
            return ExecResult(error=_one_line(f"exec `{argv[0]}` failed: {_cause(exc)}"))
        finally:
            with contextlib.suppress(Exception):
                ws.close()


def _timed_websockets() -> None:
    """Give the client's exec sockets the websocket default timeout, for the handshake and every read.

    websocket-client documents that a connect without `timeout` uses `getdefaulttimeout()`, but since
    1.x only `create_connection` does; the kubernetes client's `create_websocket` calls `connect`.
    """
    import websocket
    from kubernetes.stream import ws_client

    base = getattr(ws_client, "WebSocket", None)
    if base is None or getattr(base, "timed", False):
        return

    class TimedWebSocket(base):  # type: ignore[misc, valid-type]
        timed = True

        def connect(self, url: str, **options: Any) -> None:
            options.setdefault("timeout", websocket.getdefaulttimeout())
            options["header"] = list(options.get("header") or []) + list(getattr(_EXTRA_HEADERS, "lines", []))
            super().connect(url, **options)

    ws_client.WebSocket = TimedWebSocket


def _incluster_flags(cfg: Any, flags: Connection) -> None:
    """kubectl's flags over the in-cluster config (clientcmd's inClusterClientConfig.ClientConfig)."""
    if flags.server:
        cfg.host = flags.server
    if flags.token:
        cfg.api_key = {"authorization": f"Bearer {flags.token}"}
        cfg.refresh_api_key_hook = None  # the service account token would be read again otherwise
    if flags.certificate_authority:
        cfg.ssl_ca_cert = os.path.abspath(os.path.expanduser(flags.certificate_authority))
    if flags.insecure_skip_tls_verify:
        cfg.verify_ssl = False


def _seg(text: str) -> str:
    """One URL path segment: a name with `/`, `?` or `..` cannot walk to another path."""
    return quote(text, safe="")


def _retries(timeout: float | None = None) -> Any:
    """Bounded retries for 429/5xx and one for a refused connection.

    Retry-After is honoured only when it fits the request timeout (at most MAX_RETRY_AFTER);
    a longer one ends the retries at once, so the read becomes a named gap instead of a hang.
    """
    from urllib3.exceptions import MaxRetryError, ResponseError
    from urllib3.util.retry import Retry

    longest = min(timeout or MAX_RETRY_AFTER, MAX_RETRY_AFTER)

    class BoundedRetry(Retry):
        def increment(self, method: Any = None, url: Any = None, response: Any = None, *args: Any, **kw: Any) -> Any:
            wait = None
            if response is not None and self.respect_retry_after_header:
                with contextlib.suppress(Exception):
                    wait = self.get_retry_after(response)
            if wait is not None and wait > longest:
                raise MaxRetryError(kw.get("_pool"), url, ResponseError(f"Retry-After {wait:g}s is too long"))  # type: ignore[arg-type]
            return super().increment(method, url, response, *args, **kw)

    return BoundedRetry(
        total=3,
        connect=1,
        read=0,
        status=2,
        backoff_factor=0.2,
        status_forcelist=(429, 502, 503, 504),
        allowed_methods=("GET",),
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def _cause(exc: BaseException) -> str:
    """The innermost reason of a urllib3 error, e.g. `Connection reset by peer`."""
    for arg in getattr(exc, "args", ()):
        if isinstance(arg, BaseException):
            return _cause(arg)
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return getattr(exc, "strerror", None) or text


def _incluster_namespace() -> str:
    """The pod's namespace, beside the service account token the client reads."""
    from kubernetes.config import incluster_config

    try:
        with open(os.path.join(os.path.dirname(incluster_config.SERVICE_TOKEN_FILENAME), "namespace")) as f:
            return f.read().strip() or "default"
    except OSError:
        return "default"


def _status_message(status: int | None, body: Any, reason: Any) -> str:
    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and doc.get("message"):
            return _one_line(str(doc["message"]))
    except (TypeError, ValueError, RecursionError):
        pass
    return _one_line(f"{status} {reason}".strip())


def _one_line(text: str, limit: int = 500) -> str:
    """Server wording for a one-line error: whitespace collapsed, length bounded."""
    text = printable(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _network_message(host: str, exc: Exception) -> str:
    text = str(exc)
    if "timed out" in text.lower() or "timeout" in type(exc).__name__.lower():
        return f"the API server at {host} did not answer in time (--request-timeout)"
    reason = getattr(exc, "reason", None)
    return _one_line(f"cannot reach the API server at {host}: {reason or text or type(exc).__name__}")


def _exec_refusal(exc: Any) -> str:
    code = getattr(exc, "status_code", 0)
    body = getattr(exc, "resp_body", b"") or b""
    message = _status_message(code, body.decode("utf-8", "replace") if isinstance(body, bytes) else body, "")
    if code == 403:
        return f"pods/exec forbidden: {message}"
    return f"exec refused ({code}): {message}"


def _exit_code(status: str) -> int | None:
    try:
        doc = json.loads(status) if status else None
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    if doc.get("status") == "Success":
        return 0
    details = doc.get("details")
    causes = details.get("causes") if isinstance(details, dict) else None
    for cause in causes if isinstance(causes, list) else []:
        if isinstance(cause, dict) and cause.get("reason") == "ExitCode":
            with contextlib.suppress(TypeError, ValueError):
                return int(str(cause.get("message")))
    return None


def _exec_failure(status: str) -> str | None:
    """A failure that is not a command's exit code (e.g. executable not found)."""
    try:
        doc = json.loads(status) if status else None
    except ValueError:
        return None
    if isinstance(doc, dict) and doc.get("status") == "Failure" and doc.get("reason") != "NonZeroExitCode":
        return str(doc.get("message") or doc.get("reason"))
    return None


# ---- what to read ---------------------------------------------------------------------------
