"""kubectl-vmgpu, the single-file build: this zip holds the plugin and everything it imports.

(scripts/build_release.py writes this file as the zipapp's __main__.py.)

Python never caches the bytecode of modules imported from a zip, so each run would compile the
kubernetes client again (seconds). A finder below loads this zip's modules with a bytecode cache
in ${XDG_CACHE_HOME:-~/.cache}/kubectl-vmgpu/pyc/, each .pyc checked against the CRC and size of
its source in the zip. The cache is the plugin's own, like pip's: PYTHONDONTWRITEBYTECODE (set in many
container images, where it keeps __pycache__ out of source trees) does not turn it off, or every run
would compile the client again (issue 15); an explicit `python -B` still writes nothing. Without a
cache folder (none can be made, or -B before one exists) imports stay zipimport's.
"""

import contextlib
import sys

if sys.version_info < (3, 10):  # noqa: UP036 - python3 on PATH may be older than the plugin needs
    # macOS's own python3 is 3.9, and 3.9 cannot run the dependencies the file holds (click, urllib3,
    # requests, tabulate and websocket-client need 3.10+): one line saying what to do, no traceback.
    sys.exit(
        "kubectl-vmgpu needs Python 3.10 or newer, not " + sys.version.split()[0] + " (" + sys.executable + "): "
        "install one (macOS: `brew install python@3.12`, or the installer from python.org) and put its python3 "
        "first on PATH"
    )


def _bytecode_cache() -> None:
    import importlib.machinery
    import importlib.util
    import marshal
    import os
    import zipfile
    import zipimport
    from typing import Any

    archive = os.path.dirname(os.path.abspath(__file__))
    if not zipfile.is_zipfile(archive):
        return
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    cache = os.path.join(base, "kubectl-vmgpu", "pyc")
    # sys.dont_write_bytecode is set by -B and by the environment variable alike: only -B stops writing
    writable = not (sys.flags.dont_write_bytecode and not os.environ.get("PYTHONDONTWRITEBYTECODE"))
    if not os.path.isdir(cache):
        if not writable:  # python -B: read a cache, never start one
            return
        try:
            os.makedirs(cache, exist_ok=True)
        except OSError:
            return
    zf = zipfile.ZipFile(archive)
    members = {i.filename: (i.CRC, i.file_size) for i in zf.infolist()}
    top = archive + os.sep

    def inside(path: str) -> str | None:
        return path[len(top) :].replace(os.sep, "/") if path.startswith(top) else None

    class Loader(importlib.machinery.SourceFileLoader):
        compiled = False  # get_data read the source: no valid .pyc was found

        def get_code(self, fullname: str) -> Any:
            self.compiled = False
            code = super().get_code(fullname)
            if self.compiled and sys.dont_write_bytecode and writable:
                # SourceLoader.get_code skips set_data under sys.dont_write_bytecode (CPython
                # Lib/importlib/_bootstrap_external.py): the .pyc of PEP 552 (timestamp form) written here
                stats = self.path_stats(self.path)
                fields = (0, stats["mtime"] & 0xFFFFFFFF, stats["size"] & 0xFFFFFFFF)
                header = importlib.util.MAGIC_NUMBER + b"".join(n.to_bytes(4, "little") for n in fields)
                self.set_data(importlib.util.cache_from_source(self.path), header + marshal.dumps(code))
            return code

        def path_stats(self, path: str) -> Any:
            # the source's CRC stands for its mtime: a .pyc is reused only for the very same source
            rel = inside(path)
            if rel not in members:
                raise OSError(f"{path} is not in {archive}")
            crc, size = members[rel]
            return {"mtime": crc, "size": size}

        def get_data(self, path: str) -> bytes:
            rel = inside(path)
            if rel is not None and rel in members:
                self.compiled = self.compiled or path == self.path
                return zf.read(rel)
            with open(os.path.join(cache, rel) if rel is not None else path, "rb") as f:
                return f.read()

        def set_data(self, path: str, data: Any, *, _mode: int = 0o666) -> None:
            rel = inside(path)
            target = os.path.join(cache, rel) if rel is not None else path
            tmp = f"{target}.{os.getpid()}.tmp"
            try:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(tmp, "wb") as f:
                    f.write(data)
                os.replace(tmp, target)
            except OSError:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

        def get_resource_reader(self, name: str | None = None) -> Any:
            # what zipimport would answer: its importer of the module's folder in the zip
            fullname = name or self.name
            parent = fullname.rpartition(".")[0]
            folder = os.path.join(archive, *parent.split(".")) if parent else archive
            return zipimport.zipimporter(folder).get_resource_reader(fullname)

    class Finder:
        @staticmethod
        def find_spec(fullname: str, path: Any = None, target: Any = None) -> Any:
            rel = fullname.replace(".", "/")
            if path is not None and not any(str(p) == archive or str(p).startswith(top) for p in path):
                return None
            for member, package in ((rel + "/__init__.py", True), (rel + ".py", False)):
                if member in members:
                    origin = os.path.join(archive, *member.split("/"))
                    where = [os.path.join(archive, *rel.split("/"))] if package else None
                    return importlib.util.spec_from_file_location(
                        fullname, origin, loader=Loader(fullname, origin), submodule_search_locations=where
                    )
            return None

    sys.meta_path.insert(0, Finder())


with contextlib.suppress(Exception):  # never let the cache stop the plugin: zipimport works too
    _bytecode_cache()

if sys.argv[1:2] == ["__complete"]:
    # kubectl's plugin completion, through kubectl_complete-vmgpu: the words after `kubectl vmgpu`
    from kubectl_vmgpu.entry import complete_main

    sys.exit(complete_main(sys.argv[2:]))

from kubectl_vmgpu.entry import main  # noqa: E402

main(prog_name="kubectl vmgpu", complete_var="_KUBECTL_VMGPU_COMPLETE")
