"""Import only the parts of the kubernetes client the live source uses.

`import kubernetes` (or any `kubernetes.x`) runs `kubernetes/__init__.py`, which imports every API
class, every model (~700 modules), the dynamic client, watch, utils and leader election. The tool
sends raw GETs through `ApiClient.call_api(_preload_content=False)` and never builds a model, so
it registers bare package modules for `kubernetes`, `kubernetes.client` and
`kubernetes.client.models` (their `__path__` the real folders) before importing the few modules
it needs: `kubernetes.client.configuration`, `.api_client`, `.rest`, `.exceptions`,
`kubernetes.config` and `kubernetes.stream.ws_client`.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types
from typing import Any

_PACKAGES = ("kubernetes", "kubernetes.client", "kubernetes.client.models")


def prepare() -> None:
    """Make `kubernetes.client.ApiClient`/`Configuration` importable without the package inits."""
    if "kubernetes" in sys.modules:  # already imported (the real package, or prepared before)
        return
    spec = importlib.util.find_spec("kubernetes")
    if spec is None or not spec.submodule_search_locations:
        return  # not installed: the regular import reports it
    root = list(spec.submodule_search_locations)[0]
    made = []
    try:
        for name in _PACKAGES:
            module = types.ModuleType(name)
            module.__path__ = [os.path.join(root, *name.split(".")[1:])]
            module.__package__ = name
            module.__file__ = os.path.join(module.__path__[0], "__init__.py")
            module.__dict__["_complete"] = False
            module.__getattr__ = _lazy(name)  # type: ignore[method-assign]
            sys.modules[name] = module
            made.append(name)
            if "." in name:
                parent, _, child = name.rpartition(".")
                setattr(sys.modules[parent], child, module)
        from kubernetes.client.api_client import ApiClient
        from kubernetes.client.configuration import Configuration

        client = sys.modules["kubernetes.client"]
        client.ApiClient = ApiClient  # type: ignore[attr-defined]
        client.Configuration = Configuration  # type: ignore[attr-defined]
    except Exception:  # another client layout: forget the stubs, import the whole package
        for name in [n for n in sys.modules if n == "kubernetes" or n.startswith("kubernetes.")]:
            del sys.modules[name]


def _complete_all() -> None:
    """Run the real package inits into the stand-ins (innermost first), for code that wants the whole client."""
    for name in reversed(_PACKAGES):
        module = sys.modules.get(name)
        if module is None or module.__dict__.get("_complete", True):
            continue
        module.__dict__["_complete"] = True
        with open(str(module.__file__)) as f:
            exec(compile(f.read(), str(module.__file__), "exec"), module.__dict__)


def _lazy(name: str) -> Any:
    """A module `__getattr__` (PEP 562): the first name the stand-in lacks loads the real package."""

    def __getattr__(attr: str) -> Any:
        if not attr.startswith("__"):  # `from package import submodule` asks here first
            try:
                return importlib.import_module(f"{name}.{attr}")
            except ModuleNotFoundError:
                pass
        _complete_all()
        namespace = sys.modules[name].__dict__
        if attr in namespace:
            return namespace[attr]
        raise AttributeError(f"module {name!r} has no attribute {attr!r}")

    return __getattr__


def configure(cfg: Any, proxy_url: str | None) -> None:
    """What the client's loaders get wrong about kubectl's behaviour, set right on its Configuration.

    `Configuration()` takes HTTP_PROXY over HTTPS_PROXY and then forgets NO_PROXY (kubernetes-client
    python configuration.py), and its kubeconfig loader ignores `proxy-url`: the proxy is decided
    once, as client-go would (sources/proxy.py). With TLS verification off, urllib3 warns on every
    request; one line says it instead.
    """
    import warnings

    from urllib3.exceptions import InsecureRequestWarning

    from . import proxy

    cfg.proxy = proxy_url if proxy_url is not None else proxy.for_server(str(cfg.host), None, os.environ)
    cfg.no_proxy = None
    if not cfg.verify_ssl:
        warnings.filterwarnings("ignore", category=InsecureRequestWarning)
        print(f"warning: the certificate of {cfg.host} is not verified (insecure-skip-tls-verify)", file=sys.stderr)


def send_headers(client: Any, lines: list[tuple[str, str]]) -> None:
    """Send these header lines with every request of `client` (an ApiClient), a repeated name on its own line.

    `call_api` folds header parameters into a dict (one value per name), but the API server reads
    each Impersonate-Group line as one group (k8s.io/apiserver endpoints/filters/impersonation.go):
    the lines are added where urllib3 still takes a multi-valued HTTPHeaderDict.
    """
    if not lines:
        return
    from urllib3 import HTTPHeaderDict

    pool = client.rest_client.pool_manager
    send = pool.request

    def request(method: str, url: str, *args: Any, headers: Any = None, **kw: Any) -> Any:
        merged = HTTPHeaderDict(headers or {})
        for name, value in lines:
            merged.add(name, value)
        return send(method, url, *args, headers=merged, **kw)

    pool.request = request
