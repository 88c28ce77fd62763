"""Kubeconfig files merged as kubectl merges them (first file wins), read-only."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..model import Connection
from . import proxy
from .errors import SourceError

NO_FLAGS = Connection()

# Fields holding file paths, relative to the kubeconfig file that sets them.
_PATH_FIELDS = {
    "clusters": ("certificate-authority",),
    "users": ("client-certificate", "client-key", "tokenFile"),
}


# The type of every field the tool or the client reads; anything else is left to the client.
_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "clusters": {
        "server": (str,),
        "certificate-authority": (str,),
        "certificate-authority-data": (str,),
        "insecure-skip-tls-verify": (bool,),
        "proxy-url": (str,),
        "tls-server-name": (str,),
    },
    "users": {
        "token": (str,),
        "tokenFile": (str,),
        "client-certificate": (str,),
        "client-certificate-data": (str,),
        "client-key": (str,),
        "client-key-data": (str,),
        "username": (str,),
        "password": (str,),
        "exec": (dict,),
        "auth-provider": (dict,),
        "as": (str,),
        "as-uid": (str,),
        "as-groups": (list,),
    },
    "contexts": {"cluster": (str,), "user": (str,), "namespace": (str,)},
}
_EXPECTED: dict[type, str] = {bool: "true or false", dict: "a mapping", list: "a list"}
MAX_BYTES = 16 << 20  # a kubeconfig is a few KB; a larger one is not read whole
MAX_TOKEN_BYTES = 1 << 20


@dataclass(frozen=True)
class Impersonation:
    """Who the requests act as: Impersonate-User, Impersonate-Uid and one Impersonate-Group per group."""

    user: str
    uid: str | None = None
    groups: tuple[str, ...] = ()

    def headers(self) -> list[tuple[str, str]]:
        """The header lines, as client-go's transport/round_trippers.go sends them (a group per line)."""
        lines = [("Impersonate-User", self.user)]
        if self.uid:
            lines.append(("Impersonate-Uid", self.uid))
        lines += [("Impersonate-Group", group) for group in self.groups]
        return lines


@dataclass(frozen=True)
class KubeConfig:
    """The kubeconfig reduced to the chosen context, cluster and user, kubectl's flags applied."""

    config: dict[str, Any]
    context: str
    namespace: str
    files: tuple[str, ...]
    proxy: str | None = None  # what kubectl would use for this context's server (see proxy.py)
    impersonation: Impersonation | None = None
    merged: dict[str, Any] | None = None  # every file merged, before the choice and the flags


def _parse(path: Path) -> Any:
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise SourceError(f"kubeconfig {path}: cannot be read ({exc.strerror or exc})") from None
    if len(raw) > MAX_BYTES:
        raise SourceError(f"kubeconfig {path}: larger than {MAX_BYTES >> 20} MiB, refused")
    try:
        return yaml.safe_load(raw.decode("utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise SourceError(f"kubeconfig {path}: not UTF-8 text (byte {exc.start})") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" line {mark.line + 1}" if mark else ""
        raise SourceError(f"kubeconfig {path}: invalid YAML at{where}: {exc.problem or exc.context}") from None
    except (yaml.YAMLError, ValueError) as exc:
        raise SourceError(f"kubeconfig {path}: invalid YAML ({(str(exc).splitlines() or ['?'])[0]})") from None
    except RecursionError:
        raise SourceError(f"kubeconfig {path}: nested too deep, refused") from None


def _validate(path: Path, doc: Any) -> dict[str, Any]:
    """The shape kubectl accepts (clientcmd/api/v1 types), else one line naming the file and the field."""
    if not isinstance(doc, dict):
        raise SourceError(f"kubeconfig {path}: not a kubeconfig (expected a mapping)")
    if not isinstance(doc.get("current-context") or "", str):
        raise SourceError(f"kubeconfig {path}: current-context is not a string")
    for section, fields in _FIELDS.items():
        entries = doc.get(section) or []
        if not isinstance(entries, list):
            raise SourceError(f"kubeconfig {path}: {section} is not a list")
        for i, entry in enumerate(entries):
            where = f"{section}[{i}]"
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise SourceError(f"kubeconfig {path}: {where} is not a mapping with a name")
            body = entry.get(section[:-1])
            if body is None:
                continue
            if not isinstance(body, dict):
                raise SourceError(f"kubeconfig {path}: {where}.{section[:-1]} is not a mapping")
            for name, types in fields.items():
                if body.get(name) is not None and not isinstance(body[name], types):
                    expected = _EXPECTED.get(types[0], "a string")
                    raise SourceError(f"kubeconfig {path}: {where}.{section[:-1]}.{name} is not {expected}")
    return doc


def _read(path: Path) -> dict[str, Any]:
    doc = _validate(path, _parse(path))
    base = path.parent
    for section, fields in _PATH_FIELDS.items():
        for entry in doc.get(section) or []:
            body = entry.get(section[:-1])
            if not isinstance(body, dict):
                continue
            for name in fields:
                value = body.get(name)
                if isinstance(value, str) and value and not os.path.isabs(value):
                    body[name] = str(base / value)
    return doc


def files_to_read(explicit: str | None) -> list[Path]:
    """--kubeconfig alone; else every file of $KUBECONFIG that exists; else ~/.kube/config."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise SourceError(f"kubeconfig {explicit}: no such file")
        return [path]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p and Path(p).expanduser().is_file()]
    default = Path.home() / ".kube" / "config"
    return [default] if default.is_file() else []


def merge(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """kubectl's rules: for each named entry and for current-context, the first file that sets it wins."""
    merged: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
    for doc in docs:
        for section in ("clusters", "users", "contexts"):
            known = {e.get("name") for e in merged[section]}
            for entry in doc.get(section) or []:
                if isinstance(entry, dict) and entry.get("name") not in known:
                    merged[section].append(entry)
                    known.add(entry.get("name"))
        if doc.get("current-context") and not merged.get("current-context"):
            merged["current-context"] = doc["current-context"]
    return merged


def load(explicit: str | None, context: str | None, flags: Connection = NO_FLAGS) -> KubeConfig | None:
    """The merged kubeconfig with kubectl's flags laid over it, or None when there is none (then
    in-cluster config may apply). `config` holds one context: the chosen cluster and user, as the
    client must use them."""
    paths = files_to_read(explicit)
    if not paths and not flags.server:
        return None
    merged = merge([_read(p) for p in paths])
    name = context or merged.get("current-context")
    ctx: dict[str, Any] = {}
    if name:
        entry = next((c for c in merged["contexts"] if c.get("name") == name), None)
        if entry is None:
            raise SourceError(f'context "{name}" does not exist in the kubeconfig (see `kubectl config get-contexts`)')
        ctx = entry.get("context") or {}
    elif not flags.server:  # clientcmd accepts no context when --server names the cluster
        raise SourceError("no current context in the kubeconfig; pass --context (see `kubectl config get-contexts`)")
    cluster_name = flags.cluster or ctx.get("cluster")
    user_name = flags.user or ctx.get("user")
    # clientcmd's getCluster/getAuthInfo (client_config.go): a name given by flag must exist
    for section, flag, given in (("clusters", "cluster", flags.cluster), ("users", "user", flags.user)):
        if given and not any(e.get("name") == given for e in merged[section]):
            raise SourceError(f'--{flag} "{given}" does not exist in the kubeconfig')
    cluster = _cluster(dict(_named(merged, "clusters", cluster_name)), flags)
    if not cluster.get("server"):  # the client would fall back to localhost, kubectl refuses
        raise SourceError(f'context "{name or ""}": cluster "{cluster_name or ""}" has no server in the kubeconfig')
    user = _user(dict(_named(merged, "users", user_name)), flags)
    if user.get("tokenFile"):
        user["token"] = _token(str(user.pop("tokenFile")), str(user_name))
    label = str(name or "(flags)")
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "vmgpu", "cluster": cluster}],
        "users": [{"name": "vmgpu", "user": user}],
        "contexts": [{"name": label, "context": {"cluster": "vmgpu", "user": "vmgpu"}}],
        "current-context": label,
    }
    return KubeConfig(
        config=config,
        context=label,
        namespace=str(ctx.get("namespace") or "default"),
        files=tuple(map(str, paths)),
        proxy=proxy.for_server(str(cluster["server"]), cluster.get("proxy-url"), os.environ),
        impersonation=impersonation(user, flags, str(user_name or "")),
        merged=merged,
    )


def _cluster(body: dict[str, Any], flags: Connection) -> dict[str, Any]:
    """The cluster with --server, --certificate-authority and --insecure-skip-tls-verify over it.

    clientcmd getCluster (client_config.go): --server clears tls-server-name; a CA flag or
    --insecure-skip-tls-verify=true replaces all three of insecure-skip-tls-verify,
    certificate-authority and certificate-authority-data (a false flag overrides nothing).
    """
    if flags.server:
        body["server"] = flags.server
        body.pop("tls-server-name", None)
    if flags.insecure_skip_tls_verify or flags.certificate_authority:
        for key in ("insecure-skip-tls-verify", "certificate-authority", "certificate-authority-data"):
            body.pop(key, None)
        if flags.insecure_skip_tls_verify:
            body["insecure-skip-tls-verify"] = True
        if flags.certificate_authority:  # a flag's path is the working directory's, not a kubeconfig's
            body["certificate-authority"] = os.path.abspath(os.path.expanduser(flags.certificate_authority))
    return body


def _user(body: dict[str, Any], flags: Connection) -> dict[str, Any]:
    """The user with --token over it: it wins over token, tokenFile, exec and auth-provider.

    client-go sends a static token and never runs the exec plugin then (plugin/pkg/client/auth/exec/
    exec.go: `kubectl get --token (token) pods`); the python client's loader would try the plugin
    first, so they are removed. Client certificates stay, as client-go keeps them.
    """
    if flags.token:
        for key in ("tokenFile", "exec", "auth-provider"):
            body.pop(key, None)
        body["token"] = flags.token
    return body


def impersonation(user: dict[str, Any], flags: Connection, name: str) -> Impersonation | None:
    """--as/--as-uid/--as-group over the user's as/as-uid/as-groups (clientcmd api/v1 types.go).

    As clientcmd's validation.go: a uid or groups without a user to impersonate is refused.
    """
    who = flags.impersonate or user.get("as")
    uid = flags.impersonate_uid or user.get("as-uid")
    groups = flags.impersonate_groups or tuple(g for g in user.get("as-groups") or () if isinstance(g, str))
    if (uid or groups) and not who:
        raise SourceError(f'requesting uid or groups for user "{name}" without impersonating a user (add --as USER)')
    if not who:
        return None
    return Impersonation(user=str(who), uid=str(uid) if uid else None, groups=tuple(map(str, groups)))


def _named(merged: dict[str, Any], section: str, name: Any) -> dict[str, Any]:
    """The body of the named cluster or user (an empty one when absent)."""
    entry = next((e for e in merged[section] if e.get("name") == name), None)
    body = (entry or {}).get(section[:-1]) or {}
    if entry is not None:
        entry[section[:-1]] = body
    return body


def _token(path: str, user: str) -> str:
    """client-go reads `tokenFile` and trims it (transport/token_source.go: strings.TrimSpace); the file wins."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_TOKEN_BYTES + 1)
    except OSError as exc:
        why = exc.strerror or exc  # clientcmd fails the same way (client_config.go reads the file at load)
        raise SourceError(f'kubeconfig user "{user}": tokenFile {path}: cannot be read ({why})') from None
    if len(raw) > MAX_TOKEN_BYTES:
        raise SourceError(f'kubeconfig user "{user}": tokenFile {path}: larger than 1 MiB, refused')
    token = raw.decode("utf-8", "replace").strip()
    if any(c in token for c in "\r\n\x00"):
        raise SourceError(f'kubeconfig user "{user}": tokenFile {path}: more than one line, refused')
    return token
