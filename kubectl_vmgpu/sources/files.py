"""Snapshot files read as a hostile sender could shape them: no symlink out, no FIFO, every byte capped."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import stat
import tarfile
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import PurePosixPath
from typing import IO, Any

from .errors import SourceError

MAX_FILE_BYTES = 1 << 30  # one file or archive member (a 20,000-VMI `kubectl get -o json` is ~1 GB)
MAX_TOTAL_BYTES = 2 << 30  # everything one run reads from its snapshots
# An archive may expand to this many times its own size (plus ARCHIVE_ALLOWANCE): Kubernetes YAML and
# JSON compress 10-20x with gzip, a run of one byte ~1000x (a decompression bomb).
MAX_ARCHIVE_RATIO = 64
ARCHIVE_ALLOWANCE = 16 << 20
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}
Wanted = Callable[[PurePosixPath], bool]
Read = Callable[[], bytes]  # reads the content when called (charged to the budget then), once
Entry = tuple[PurePosixPath, str, Read]  # path inside the snapshot, label for messages, its content


def size_text(n: int) -> str:
    """2147483648 -> `2 GiB`: caps named the way people say them."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


class Budget:
    """Bytes a run may still read; `what` names the cap in the one-line refusal."""

    def __init__(self, limit: int = MAX_TOTAL_BYTES, what: str = "") -> None:
        self.left = limit
        self.what = what or f"the total cap of {size_text(limit)} per run"

    def take(self, label: str, size: int) -> None:
        if size > MAX_FILE_BYTES:
            raise SourceError(f"{label}: more than the per-file cap of {size_text(MAX_FILE_BYTES)}, refused")
        if size > self.left:
            raise SourceError(f"{label}: the snapshot goes over {self.what}, refused")
        self.left -= size


def kind_of(mode: int) -> str:
    """What a non-regular, non-directory file is, for the note that says it was skipped."""
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def read_regular(path: str, label: str, budget: Budget) -> bytes:
    """A regular file's bytes: opened without following a symlink or blocking on a FIFO, then capped."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise SourceError(f"{label}: cannot be read ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # swapped for a FIFO or device after the walk looked at it
            raise SourceError(f"{label}: {kind_of(st.st_mode)}, not a regular file, refused")
        budget.take(label, st.st_size)
        want = st.st_size + 1  # one byte more: a file that grew is seen to
        data = os.read(fd, want)
        while 0 < len(data) < want and (more := os.read(fd, want - len(data))):
            data += more  # a short read (some file systems); a regular file ends at the first empty read
    except OSError as exc:
        raise SourceError(f"{label}: cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if len(data) > st.st_size:  # the file grew while read: count what was really read
        budget.take(label, len(data) - st.st_size)
    return data


def walk_tree(root: str, label: str, wanted: Wanted, budget: Budget, skipped: list[str]) -> Iterator[Entry]:
    """Every wanted regular file under `root`; symlinks are followed only inside it, each directory once.

    Directories are listed with `os.scandir`, whose entry types cost no system call: only a symlink is
    resolved. Directories are known by their real path (`real_root` and every path below it through
    plain directories is one), so a symlink to a folder read already, or to come, is not read twice.
    """
    real_root = os.path.realpath(root)
    seen = {real_root}
    # relative paths as `a/b` text: a PurePosixPath only for the files (the tree has many more folders)
    stack: list[tuple[str, str]] = [(real_root, "")]
    while stack:
        path, rel = stack.pop()
        try:
            with os.scandir(path) as it:
                entries = sorted(it, key=_name, reverse=True)
        except OSError as exc:
            raise SourceError(f"{label}/{rel or '.'}: cannot be read ({exc.strerror or exc})") from None
        for entry in entries:
            name = entry.name
            crel, full = f"{rel}/{name}" if rel else name, entry.path
            link = entry.is_symlink()
            if link:
                target = _link_target(full, real_root, f"{label}/{crel}", skipped)
                if target is None:
                    continue
                full, st = target
                is_dir, is_file, mode = stat.S_ISDIR(st.st_mode), stat.S_ISREG(st.st_mode), st.st_mode
            else:
                is_dir, is_file, mode = entry.is_dir(follow_symlinks=False), entry.is_file(follow_symlinks=False), 0
            if is_dir:
                if full in seen:
                    if link:  # (a plain folder read already was reached through a symlink first)
                        skipped.append(f"{label}/{crel}: a symlink to a folder already read (a loop?), not followed")
                    continue
                seen.add(full)
                stack.append((full, crel))
            elif wanted(pure := PurePosixPath(crel)):
                if not is_file:
                    mode = mode or entry.stat(follow_symlinks=False).st_mode
                    skipped.append(f"{label}/{crel}: {kind_of(mode)}, not read")
                    continue
                yield pure, f"{label}/{crel}", partial(read_regular, full, f"{label}/{crel}", budget)


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name


def _link_target(link: str, real_root: str, label: str, skipped: list[str]) -> tuple[str, os.stat_result] | None:
    """Where a symlink leads when that is inside the snapshot; else None, with a note."""
    target = os.path.realpath(link)
    if os.path.commonpath([target, real_root]) != real_root:
        skipped.append(f"{label}: a symlink out of the snapshot, not followed")
        return None
    try:
        return target, os.stat(target)
    except OSError as exc:
        skipped.append(f"{label}: a dangling or looping symlink ({exc.strerror or exc}), not followed")
        return None


def member_path(name: str) -> PurePosixPath | None:
    """An archive member's path without `.`, empty parts or a leading `/`; None when it climbs with `..`."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return PurePosixPath(*parts)


class _Capped:
    """A decompressed stream that stops at the archive's cap, whatever tarfile reads (pax headers too)."""

    def __init__(self, stream: IO[bytes], label: str, cap: int, what: str) -> None:
        self.stream, self.label, self.left, self.what = stream, label, cap, what

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size if size >= 0 else self.left + 1)
        self.left -= len(data)
        if self.left < 0:
            raise SourceError(f"{self.label}: expands past {self.what}, refused (a decompression bomb?)")
        return data


def _decompressed(raw: IO[bytes]) -> Any:
    magic = raw.read(6)
    raw.seek(0)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(raw)
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(raw)
    return raw


def walk_tar(path: str, label: str, wanted: Wanted, budget: Budget, skipped: list[str]) -> Iterator[Entry]:
    """Every wanted regular member of a (compressed) tar, read as a stream within the caps."""
    fd = os.open(path, _OPEN_FLAGS)
    with os.fdopen(fd, "rb") as raw:
        size = os.fstat(fd).st_size
        cap = min(ARCHIVE_ALLOWANCE + MAX_ARCHIVE_RATIO * size, budget.left)
        what = f"{MAX_ARCHIVE_RATIO} times its size + {size_text(ARCHIVE_ALLOWANCE)} ({size_text(cap)})"
        if cap == budget.left:
            what = budget.what
        stream: Any = _Capped(_decompressed(raw), label, cap, what)
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            while (member := tar.next()) is not None:
                tar.members.clear()  # type: ignore[attr-defined]  # a stream is read once: keep no header of members already read
                yield from _member(tar, member, label, wanted, budget, skipped)


def _member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, label: str, wanted: Wanted, budget: Budget, skipped: list[str]
) -> Iterator[Entry]:
    rel = member_path(member.name)
    where = f"{label}:{member.name}"
    if rel is None:
        if member.name.strip("./"):
            skipped.append(f"{where}: a name that climbs out with `..`, not read")
        return
    if not wanted(rel):
        return
    if not member.isfile():
        if not member.isdir():
            skipped.append(f"{where}: a {'link' if member.issym() or member.islnk() else 'special'} member, not read")
        return
    budget.take(where, member.size)
    data = tar.extractfile(member)
    if data is not None:
        yield rel, where, partial(data.read, member.size)
