"""The proxy kubectl would use for an API server: kubeconfig `proxy-url`, else HTTPS_PROXY/HTTP_PROXY/NO_PROXY.

client-go (rest/transport.go) uses the cluster's `proxy-url` for every request when set; otherwise
`http.ProxyFromEnvironment`, i.e. golang.org/x/net/http/httpproxy: HTTPS_PROXY for https servers and
HTTP_PROXY for http ones (never one for the other), NO_PROXY entries as `*`, IPs, CIDRs, host suffixes
(`example.com` also matches `a.example.com`; `.example.com` and `*.example.com` only subdomains), each
with an optional `:port`; `localhost` and loopback addresses are never proxied.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"https": "443", "http": "80"}


def _env(environ: Mapping[str, str], name: str) -> str:
    """httpproxy's getEnvAny: the upper-case name first, then the lower-case one."""
    return environ.get(name) or environ.get(name.lower()) or ""


def _split_host_port(text: str) -> tuple[str, str]:
    """Go's net.SplitHostPort, leniently: `[::1]:80`, `host:80`, or a bare host (no port)."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") else ""
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, port
    return text, ""


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _excluded(entry: str, host: str, port: str) -> bool:
    """Whether one NO_PROXY entry matches the server's host and port."""
    ip = _ip(host)
    if "/" in entry:
        try:
            return ip is not None and ip in ipaddress.ip_network(entry, strict=False)
        except ValueError:
            return False
    phost, pport = _split_host_port(entry)
    if not phost or (pport and pport != port):
        return False
    pip = _ip(phost)
    if pip is not None:
        return ip is not None and pip == ip
    if phost.startswith("*."):
        phost = phost[1:]
    if phost.startswith("."):
        return host.endswith(phost)
    return host == phost or host.endswith("." + phost)


def for_server(server: str, proxy_url: str | None, environ: Mapping[str, str]) -> str | None:
    """The proxy URL for requests to `server`, or None to connect directly."""
    if proxy_url:
        return proxy_url
    parts = urlsplit(server)
    scheme = (parts.scheme or "https").lower()
    host = (parts.hostname or "").lower()
    port = str(parts.port) if parts.port else _DEFAULT_PORTS.get(scheme, "")
    proxy = _env(environ, "HTTPS_PROXY" if scheme == "https" else "HTTP_PROXY")
    if not proxy or not host or host == "localhost":
        return None
    ip = _ip(host)
    if ip is not None and ip.is_loopback:
        return None
    for entry in _env(environ, "NO_PROXY").split(","):
        entry = entry.strip().lower()
        if entry == "*" or _excluded(entry, host, port):
            return None
    return proxy if "://" in proxy else f"http://{proxy}"
