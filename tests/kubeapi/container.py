"""A launcher pod's compute container, answering the tool's fixed commands from its evidence folder."""

from __future__ import annotations

import fnmatch
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass
class Result:
    """What the command printed and how it ended; `error` is a failure to start it (a Status)."""

    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int = 0
    error: dict[str, Any] | None = None

    def status(self, argv: list[str]) -> dict[str, Any]:
        """The status-channel message kubelet sends when the command is done."""
        if self.error:
            return self.error
        if self.exit_code == 0:
            return {"metadata": {}, "status": "Success"}
        # containerd's streaming server wraps the exit as `error executing command %v, exit code %d`.
        message = f"error executing command [{' '.join(argv)}], exit code {self.exit_code}"
        return {
            "metadata": {},
            "status": "Failure",
            "message": f"command terminated with non-zero exit code: {message}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(self.exit_code)}]},
        }


def _fail(stderr: str, code: int = 1) -> Result:
    return Result(stderr=stderr.encode(), exit_code=code)


def missing_binary(argv: list[str]) -> Result:
    """containerd + runc for a binary that is not there: an InternalError Status, no exit code."""
    exec_id = hashlib.sha256("\0".join(argv).encode()).hexdigest()
    cmd = argv[0] if argv else ""
    why = f"stat {cmd}: no such file or directory" if "/" in cmd else "executable file not found in $PATH"
    err = (f'error executing command in container: failed to exec in container: failed to start exec "{exec_id}": '
           f'OCI runtime exec failed: exec failed: unable to start container process: exec: "{cmd}": {why}: unknown')
    return Result(error={"metadata": {}, "status": "Failure", "message": f"Internal error occurred: {err}",
                         "reason": "InternalError", "details": {"causes": [{"message": err}]}, "code": 500})


class Container:
    """The compute container of one pod: files, /dev/vfio and libvirt, as far as evidence shows."""

    def __init__(self, evidence: Path | None, domain_xml: Path | None, domain_name: str | None) -> None:
        self.evidence = evidence  # evidence/<namespace>/<pod>/, None when not collected
        self.domain_xml = domain_xml
        self.domain_name = domain_name  # `<namespace>_<vmi>` when the pod's VMI is known
        self.unavailable: dict[str, str] = {}
        if evidence and (evidence / "unavailable.yaml").is_file():
            data = yaml.safe_load((evidence / "unavailable.yaml").read_text(encoding="utf-8")) or {}
            self.unavailable = {str(k): str(v) for k, v in data.items()}

    def run(self, argv: list[str]) -> Result:
        name = os.path.basename(argv[0]) if argv and argv[0].startswith(("/bin/", "/usr/bin/")) else ""
        command = {"find": self._find, "head": self._head, "ls": self._ls, "virsh": self._virsh}.get(
            name or (argv[0] if argv else ""))
        return command(argv[1:]) if command else missing_binary(argv)

    def _host(self, container_path: str) -> Path | None:
        if not self.evidence:
            return None
        return self.evidence / "files" / container_path.lstrip("/")

    def _unavailable(self, piece: str) -> Result | None:
        reason = self.unavailable.get(piece)
        return _fail(reason if reason.endswith("\n") else reason + "\n") if reason is not None else None

    def _find(self, args: list[str]) -> Result:
        if failed := self._unavailable("metadata"):
            return failed
        roots = []
        while args and not args[0].startswith("-") and args[0] not in ("(", "!"):
            roots.append(args.pop(0))
        tests: dict[str, str] = {}
        end = "\n"
        while args:
            if args[0] in ("-type", "-name") and len(args) > 1:
                tests[args[0]] = args[1]
                args = args[2:]
            elif args[0] in ("-print", "-print0"):
                end = "\0" if args.pop(0) == "-print0" else "\n"
            else:
                return _fail(f"find: unknown predicate `{args[0]}'\n")
        out, err, code = [], "", 0
        for root in roots or ["."]:
            host = self._host(root)
            if host is None or not host.exists():
                err += f"find: '{root}': No such file or directory\n"
                code = 1
                continue
            out += [p for p in _tree(host, root) if _matches(p, tests)]
        return Result("".join(f"{p[0]}{end}" for p in sorted(out)).encode(), err.encode(), code)

    def _head(self, args: list[str]) -> Result:
        if failed := self._unavailable("metadata"):
            return failed
        count, lines, verbose, paths = 10, True, False, []
        while args:
            arg = args.pop(0)
            if arg == "--":
                paths += args
                break
            if arg in ("-v", "--verbose", "-q", "--quiet"):
                verbose = arg in ("-v", "--verbose")
            elif arg in ("-c", "-n") and args:
                count, lines = int(args.pop(0)), arg == "-n"
            elif arg.startswith(("-c", "-n")) and arg[2:].isdigit():
                count, lines = int(arg[2:]), arg[1] == "n"
            elif arg.startswith("--bytes="):
                count, lines = int(arg[8:]), False
            else:
                paths.append(arg)
        out, err, code, headers = b"", "", 0, verbose or len(paths) > 1
        for path in paths:
            host = self._host(path)
            if host is None or not host.exists():
                err += f"head: cannot open '{path}' for reading: No such file or directory\n"
                code = 1
                continue
            if headers:  # GNU head: a blank line before every header but the first printed
                out += (b"\n" if out else b"") + f"==> {path} <==\n".encode()
            if host.is_dir():
                err += f"head: error reading '{path}': Is a directory\n"
                code = 1
                continue
            data = host.read_bytes()
            out += b"".join(data.splitlines(keepends=True)[:count]) if lines else data[:count]
        return Result(out, err.encode(), code)

    def _ls(self, args: list[str]) -> Result:
        paths = [a for a in args if not a.startswith("-")]
        if paths == ["/dev/iommu", "/dev/vfio/devices"]:
            return self._ls_iommu(paths)
        if paths != ["/dev/vfio"]:
            return _fail("".join(f"ls: cannot access '{p}': No such file or directory\n" for p in paths), 2)
        if failed := self._unavailable("vfio"):
            return failed
        listing = self.evidence / "dev-vfio.txt" if self.evidence else None
        if listing is None or not listing.is_file():
            return _fail("ls: cannot access '/dev/vfio': No such file or directory\n", 2)
        return Result(listing.read_bytes())

    def _ls_iommu(self, paths: list[str]) -> Result:
        """`ls -l /dev/iommu /dev/vfio/devices`: what exists is listed, each missing path named on stderr (exit 2)."""
        if failed := self._unavailable("iommu"):
            return failed
        listing = self.evidence / "dev-iommu.txt" if self.evidence else None
        data = listing.read_bytes() if listing is not None and listing.is_file() else b""
        text = data.decode()
        present = {"/dev/iommu": " /dev/iommu\n" in text, "/dev/vfio/devices": "/dev/vfio/devices:" in text}
        err = "".join(f"ls: cannot access '{p}': No such file or directory\n" for p in paths if not present[p])
        return Result(data, err.encode(), 2 if err else 0)

    def _virsh(self, args: list[str]) -> Result:
        words = [a for a in args if a not in ("-r", "--readonly")]
        if not words or words[0] != "dumpxml" or len(words) < 2:
            return _fail(f"error: unknown command: '{words[0] if words else ''}'\n")
        name = words[-1]
        if failed := self._unavailable("domain"):
            return failed
        if self.domain_xml is None or (self.domain_name and name != self.domain_name):
            return _fail(f"error: failed to get domain '{name}'\n")
        return Result(self.domain_xml.read_bytes())


def _tree(host: Path, root: str) -> list[tuple[str, Path]]:
    """(container path, host path) for `root` and everything below it, as find walks it."""
    base = root.rstrip("/") or "/"
    found = [(root, host)]
    for dirpath, dirnames, filenames in os.walk(host):
        rel = os.path.relpath(dirpath, host)
        prefix = base if rel == "." else f"{base.rstrip('/')}/{rel}"
        for name in dirnames + filenames:
            found.append((f"{prefix.rstrip('/')}/{name}", Path(dirpath) / name))
    return found


def _matches(entry: tuple[str, Path], tests: dict[str, str]) -> bool:
    path, host = entry
    kind = tests.get("-type")
    if kind == "f" and (host.is_symlink() or not host.is_file()):
        return False
    if kind == "d" and (host.is_symlink() or not host.is_dir()):
        return False
    pattern = tests.get("-name")
    return pattern is None or fnmatch.fnmatchcase(os.path.basename(path.rstrip("/")) or "/", pattern)
