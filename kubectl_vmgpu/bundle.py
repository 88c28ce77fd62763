"""`collect` bundles: an inventory written as a reproducible .tar.gz snapshot."""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import os
import re
import stat
import tarfile
import tempfile
from typing import Any

import yaml

from .model import Inventory, Obj
from .sources.files import kind_of, member_path
from .sources.snapshot import CLUSTER_INFO

_DROP_METADATA = ("managedFields",)
REDACTED = "<redacted>"
# Annotation keys whose values are redacted: the last applied object (it holds whatever was applied,
# Secret data included) and keys named like a credential. Only annotations and env values are touched:
# `key` is also a field of tolerations, taints and selectors the checks read.
_SECRET_NAME = re.compile(
    r"token|passw|secret|credential|(?:^|[-_./])(?:api|private|access|ssh)?-?keys?(?:$|[-_./])", re.IGNORECASE
)
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
NEVER_COLLECTED = frozenset({"Secret"})


def _clean(obj: Obj, redact: bool = True) -> Obj:
    meta = obj.get("metadata")
    if isinstance(meta, dict) and any(k in meta for k in _DROP_METADATA):
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k not in _DROP_METADATA}}
    return _redact(obj) if redact else obj


def _redact(obj: Obj) -> Obj:
    """The object with annotation and env secrets replaced (a copy where changed; the input is never mutated)."""
    meta = obj.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    if isinstance(annotations, dict) and any(_secret_annotation(k) for k in annotations):
        hidden = {k: REDACTED if _secret_annotation(k) else v for k, v in annotations.items()}
        obj = {**obj, "metadata": {**meta, "annotations": hidden}}  # type: ignore[dict-item]
    spec = obj.get("spec")
    if obj.get("kind") == "Pod" and isinstance(spec, dict):
        lists = {name: _redact_env(spec[name]) for name in _CONTAINER_LISTS if isinstance(spec.get(name), list)}
        if any(lists[n] is not spec[n] for n in lists):
            obj = {**obj, "spec": {**spec, **lists}}
    return obj


def _secret_annotation(key: Any) -> bool:
    return key == _LAST_APPLIED or bool(_SECRET_NAME.search(str(key)))


def _redact_env(containers: list[Any]) -> list[Any]:
    """env[].value replaced, names and valueFrom (a reference, not the secret) kept."""
    out = []
    for c in containers:
        env = c.get("env") if isinstance(c, dict) else None
        if isinstance(env, list) and any(isinstance(e, dict) and e.get("value") for e in env):
            hidden = [{**e, "value": REDACTED} if isinstance(e, dict) and e.get("value") else e for e in env]
            c = {**c, "env": hidden}
        out.append(c)
    return out if any(a is not b for a, b in zip(out, containers, strict=True)) else containers


def _dump(doc: Any) -> bytes:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode()


def files(inv: Inventory, redact: bool = True) -> dict[str, bytes]:
    """Every file of the bundle by path, following docs/snapshot-layout.md; names never climb out."""
    return {str(rel): data for name, data in _files(inv, redact).items() if (rel := member_path(name)) is not None}


def _files(inv: Inventory, redact: bool) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    api_version, kind = CLUSTER_INFO
    info: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "serverVersion": inv.cluster.server_version}
    if inv.cluster.groups is not None:
        info["groups"] = {g: list(v) for g, v in sorted(inv.cluster.groups.items()) if g}
    info["listed"] = sorted(inv.listed)
    info["unavailable"] = [{"resource": r, "reason": why} for r, why in sorted(inv.cluster.unavailable.items())]
    if inv.cluster.claims_namespace is not None:  # claims listed only there: other holders unknown
        info["claimsNamespace"] = inv.cluster.claims_namespace
    out["cluster-info.yaml"] = _dump(info)
    for kind_name, objs in sorted(inv.objects.items()):
        if kind_name in NEVER_COLLECTED:
            continue
        items = sorted(
            (_clean(o, redact) for o in objs),
            key=lambda o: (str(o["metadata"].get("namespace") or ""), str(o["metadata"].get("name"))),
        )
        out[f"objects/{kind_name}.yaml"] = _dump({"apiVersion": "v1", "kind": "List", "items": items})
    for (ns, pod), ev in sorted(inv.evidence.items()):
        base = f"evidence/{ns}/{pod}"
        out[f"{base}/.collected"] = b""
        for path, text in sorted((ev.metadata_files or {}).items()):
            out[f"{base}/files/{path.lstrip('/')}"] = text.encode()
        if ev.vfio_listing is not None:
            out[f"{base}/dev-vfio.txt"] = ev.vfio_listing.encode()
        if ev.iommu_listing is not None:
            out[f"{base}/dev-iommu.txt"] = ev.iommu_listing.encode()
        if ev.domain_xml is not None:
            out[f"{base}/domain.xml"] = ev.domain_xml.encode()
        unavailable = dict(ev.unavailable)
        if ev.metadata_files is None and "metadata" not in unavailable:
            unavailable["metadata"] = "not collected"
        if unavailable:
            out[f"{base}/unavailable.yaml"] = _dump(dict(sorted(unavailable.items())))
    return out


def _check_target(path: str) -> None:
    """Only a regular file is replaced: never a FIFO, a device (`-o /dev/full` as root) or a symlink."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise OSError(errno.EEXIST, "a symbolic link is there, refused (give the path it points to)")
    if stat.S_ISDIR(st.st_mode):
        raise OSError(errno.EISDIR, "a folder is there, refused")
    if not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EEXIST, f"{kind_of(st.st_mode)} is there, not a regular file, refused")


def write(inv: Inventory, path: str, redact: bool = True) -> int:
    """Write the bundle (mode 0600); the same inventory always gives the same bytes. Returns the file count."""
    _check_target(path)
    content = files(inv, redact)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(content.items()):
            member = tarfile.TarInfo(f"vmgpu-bundle/{name}")
            member.size, member.mode, member.mtime = len(data), 0o600, 0
            tar.addfile(member, io.BytesIO(data))
    # Written beside the target (mkstemp: mode 0600) and renamed over it: an error or Ctrl-C never leaves a
    # truncated bundle, and what was at the path is replaced, never written through.
    fd, tmp = tempfile.mkstemp(prefix=".vmgpu-bundle-", dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "wb") as f, gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0) as gz:
            gz.write(raw.getvalue())
        _check_target(path)  # again, just before the rename
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return len(content)
