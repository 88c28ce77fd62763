"""`collect` bundles: an inventory written as a reproducible .tar.gz snapshot."""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import tarfile
import tempfile
from typing import Any

import yaml

from .model import Inventory, Obj
from .sources.snapshot import CLUSTER_INFO

_DROP_METADATA = ("managedFields",)


def _clean(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    if isinstance(meta, dict) and any(k in meta for k in _DROP_METADATA):
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k not in _DROP_METADATA}}
    return obj


def _dump(doc: Any) -> bytes:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode()


def files(inv: Inventory) -> dict[str, bytes]:
    """Every file of the bundle by path, following docs/snapshot-layout.md."""
    out: dict[str, bytes] = {}
    api_version, kind = CLUSTER_INFO
    info: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "serverVersion": inv.cluster.server_version}
    if inv.cluster.groups is not None:
        info["groups"] = {g: list(v) for g, v in sorted(inv.cluster.groups.items()) if g}
    info["listed"] = sorted(inv.listed)
    info["unavailable"] = [{"resource": r, "reason": why} for r, why in sorted(inv.cluster.unavailable.items())]
    out["cluster-info.yaml"] = _dump(info)
    for kind_name, objs in sorted(inv.objects.items()):
        items = sorted(
            (_clean(o) for o in objs),
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
        if ev.domain_xml is not None:
            out[f"{base}/domain.xml"] = ev.domain_xml.encode()
        unavailable = dict(ev.unavailable)
        if ev.metadata_files is None and "metadata" not in unavailable:
            unavailable["metadata"] = "not collected"
        if unavailable:
            out[f"{base}/unavailable.yaml"] = _dump(dict(sorted(unavailable.items())))
    return out


def write(inv: Inventory, path: str) -> int:
    """Write the bundle; the same inventory always gives the same bytes. Returns the file count."""
    content = files(inv)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(content.items()):
            member = tarfile.TarInfo(f"vmgpu-bundle/{name}")
            member.size, member.mode, member.mtime = len(data), 0o644, 0
            tar.addfile(member, io.BytesIO(data))
    # Written beside the target and renamed: an error or Ctrl-C never leaves a truncated bundle.
    fd, tmp = tempfile.mkstemp(prefix=".vmgpu-bundle-", dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "wb") as f, gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0) as gz:
            gz.write(raw.getvalue())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # what open() would have created
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return len(content)
