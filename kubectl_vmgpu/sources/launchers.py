"""The second phase: the fixed read-only commands in each chosen launcher's compute container."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from .. import execs
from ..evidence import EvidenceError, split_head_output
from ..model import PodEvidence
from .api import Api, ExecResult, _one_line
from .errors import printable


def collect_evidence(
    api: Api, pool: ThreadPoolExecutor, targets: list[tuple[str, str, str]]
) -> dict[tuple[str, str], PodEvidence]:
    """Run the fixed commands in every target pod, all pods at once, bounded by the pool."""
    first = {
        t: (
            pool.submit(api.exec, t[0], t[1], execs.FIND_METADATA),
            pool.submit(api.exec, t[0], t[1], execs.LIST_VFIO),
            pool.submit(api.exec, t[0], t[1], execs.dump_domain(t[0], t[2])),
            pool.submit(api.exec, t[0], t[1], execs.LIST_IOMMU),
        )
        for t in targets
    }
    reads = {}
    for t, (find_f, *_) in first.items():
        paths, odd = _found_paths(find_f.result())
        if paths and not odd:
            reads[t] = (paths, pool.submit(api.exec, t[0], t[1], execs.read_files(paths)))
    out = {}
    for t, (find_f, vfio_f, dom_f, iommu_f) in first.items():
        found = find_f.result()
        unavailable = {}
        files: dict[str, str] | None = None
        odd = _found_paths(found)[1]
        if found.error or not _find_ok(found):
            unavailable["metadata"] = found.error or _failed(execs.FIND_METADATA, found)
        elif odd:  # a name with a newline or escape: reported, never split into paths find did not list
            unavailable["metadata"] = f"find listed a file name with control characters, not read: {printable(odd[0])}"
        else:
            files = {}
            if t in reads:
                paths, head_f = reads[t]
                head = head_f.result()
                try:
                    if head.error:
                        raise EvidenceError(head.error)
                    files = split_head_output(head.stdout, paths)
                except EvidenceError as exc:
                    unavailable["metadata"] = str(exc)
                    files = None
        vfio_listing = _listing(execs.LIST_VFIO, vfio_f.result(), "vfio", unavailable)
        iommu_listing = _listing(execs.LIST_IOMMU, iommu_f.result(), "iommu", unavailable)
        dom = dom_f.result()
        domain = dom.stdout if dom.code == 0 and not dom.error else None
        if domain is None:
            unavailable["domain"] = dom.error or _failed(execs.dump_domain(t[0], t[2]), dom)
        out[(t[0], t[1])] = PodEvidence(files, vfio_listing, domain, unavailable, iommu_listing=iommu_listing)
    return out


def _listing(argv: tuple[str, ...], result: ExecResult, piece: str, unavailable: dict[str, str]) -> str | None:
    """`ls -l` stdout; a path that does not exist is left out of it (ls exits 2 and names it on stderr)."""
    if result.error:
        unavailable[piece] = result.error
        return None
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if result.code == 0 or (lines and all("No such file" in line for line in lines)):
        return result.stdout  # "" when none of the paths exists: nothing of that kind was injected
    unavailable[piece] = _failed(argv, result)
    return None


def _find_ok(result: ExecResult) -> bool:
    """find exits 1 when a root is missing (a KubeVirt or driver layout not in use): that is fine."""
    if result.code == 0:
        return True
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return result.code == 1 and all(line.endswith("No such file or directory") for line in lines)


def _found_paths(result: ExecResult) -> tuple[list[str], list[str]]:
    """The metadata files `find -print0` listed, and the names listed that are not plain paths under the roots."""
    if result.error:
        return [], []
    roots = tuple(r + "/" for r in execs.METADATA_ROOTS)
    good: list[str] = []
    odd: list[str] = []
    for name in filter(None, result.stdout.split("\0")):
        plain = name.startswith(roots) and "/../" not in name and name == printable(name)
        (good if plain and name.endswith("-metadata.json") else odd).append(name)
    return sorted(good), odd


def _failed(argv: tuple[str, ...], result: ExecResult) -> str:
    """The command's own last word on stderr, else its exit code."""
    detail = _one_line((result.stderr.strip().splitlines() or [""])[-1])
    return detail or f"`{' '.join(argv[:3])}` exited {result.code}"
