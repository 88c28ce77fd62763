"""Shell completion: `completion bash|zsh|fish`, kubectl's plugin completion, and the candidates.

Two ways in, one logic (click's own completion of the command tree, plus the callbacks below):

* `kubectl-vmgpu <TAB>`: the script `kubectl vmgpu completion bash|zsh|fish` prints, click's
  completion protocol on the `_KUBECTL_VMGPU_COMPLETE` variable.
* `kubectl vmgpu <TAB>` (kubectl 1.26+): kubectl runs the executable `kubectl_complete-vmgpu` found
  on PATH with the words after `kubectl vmgpu`, the last one being the word to complete (empty
  for a new word), and reads one candidate a line (`value<TAB>description` allowed), then
  optionally `:<n>`, a cobra ShellCompDirective (kubectl's pkg/cmd/plugin/plugin_completion.go).

VMI names come from `--demo` or `--snapshot` when the words hold them, else from the cluster of
the kubeconfig (`--kubeconfig`, `--context`, `-n`, `-A` as given), with a short time limit.
Completion never prints an error: on any failure it offers nothing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
from click.shell_completion import CompletionItem, ShellComplete, get_completion_class

PROG = "kubectl-vmgpu"
COMPLETE_EXE = "kubectl_complete-vmgpu"  # the name kubectl runs for `kubectl vmgpu <TAB>`
COMPLETE_VAR = "_KUBECTL_VMGPU_COMPLETE"
SHELLS = ("bash", "zsh", "fish")
LIVE_TIMEOUT = 3.0  # seconds for the whole cluster lookup of one completion
DEBUG_VAR = "KUBECTL_VMGPU_COMPLETE_DEBUG"  # set to print what failed on stderr

# cobra's ShellCompDirective bits, as kubectl reads them from the last line `:<n>`
DIRECTIVE_DEFAULT = 0  # the shell may complete file names when there is no candidate
DIRECTIVE_NO_SPACE = 2
DIRECTIVE_NO_FILE_COMP = 4
DIRECTIVE_FILTER_DIRS = 16


# --- completion scripts ------------------------------------------------------------------------


def script(shell: str, root: click.Command) -> str:
    """The completion script of `kubectl-vmgpu` for a shell (click's, without its bash version probe)."""
    cls = get_completion_class(shell)
    if cls is None:
        raise click.BadParameter(f"no completion for {shell!r}", param_hint="SHELL")
    comp = cls(root, {}, PROG, COMPLETE_VAR)
    note = (
        f"# {shell} completion of {PROG}: {PROG} completion {shell}\n"
        "# `kubectl vmgpu` itself is completed by kubectl's own completion (kubectl 1.26+) through\n"
        "# the kubectl_complete-vmgpu executable, when it is on PATH.\n"
    )
    body = str(comp.source_template % comp.source_vars())
    if body.startswith("#compdef"):  # zsh reads its first line
        first, _, rest = body.partition("\n")
        return f"{first}\n{note}{rest}"
    return note + body


@click.group("completion")
def completion_command() -> None:
    """Shell completion: print the script of kubectl-vmgpu, or link kubectl's plugin completer.

    \b
    bash:  source <(kubectl vmgpu completion bash)     # in ~/.bashrc
    zsh:   source <(kubectl vmgpu completion zsh)      # in ~/.zshrc, after compinit
    fish:  kubectl vmgpu completion fish | source      # in ~/.config/fish/config.fish

    These complete the `kubectl-vmgpu` command. `kubectl vmgpu` is completed by kubectl's own
    completion (kubectl 1.26+) when the kubectl_complete-vmgpu executable is on PATH:
    `kubectl vmgpu completion install` links it (krew links only the plugin itself).
    """


def _script_command(shell: str) -> click.Command:
    @click.pass_context
    def run(ctx: click.Context) -> None:
        click.echo(script(shell, ctx.find_root().command), nl=False)

    return click.Command(shell, callback=run, help=f"Print the {shell} completion script of kubectl-vmgpu.")


for _shell in SHELLS:
    completion_command.add_command(_script_command(_shell))


@completion_command.command("install")
@click.option(
    "--dir",
    "directory",
    metavar="DIR",
    type=click.Path(file_okay=False),
    help="Where to put the link (default: the folder of the plugin kubectl runs, krew's bin for krew).",
)
@click.option("--force", is_flag=True, help="Replace a kubectl_complete-vmgpu already there.")
def install_command(directory: str | None, force: bool) -> None:
    """Link kubectl_complete-vmgpu beside the plugin, so that `kubectl vmgpu <TAB>` completes.

    kubectl (1.26+) completes a plugin's words by running `kubectl_complete-<plugin>` from PATH.
    krew links only a plugin's executable into its bin folder, never other files of the archive;
    this links the completer there as `kubectl_complete-vmgpu -> kubectl-vmgpu` (the plugin
    completes when called by that name), so it follows krew upgrades of the plugin.
    """
    plugin = _plugin_path()
    if plugin is None:
        raise click.ClickException(f"{PROG} is not on PATH: give --dir and put it there first")
    folder = Path(directory).expanduser().absolute() if directory else plugin.parent
    click.echo(install(plugin, folder, force))


def _plugin_path() -> Path | None:
    """The plugin as kubectl runs it: argv[0] (krew's bin link, not resolved), else the one on PATH."""
    argv0 = Path(sys.argv[0])
    if argv0.name == PROG and argv0.exists():
        return argv0.absolute()
    found = shutil.which(PROG)
    return Path(found).absolute() if found else None


def install(plugin: Path, folder: Path, force: bool = False) -> str:
    """Link `folder/kubectl_complete-vmgpu` to the plugin (relative when beside it); what was done."""
    target = folder / COMPLETE_EXE
    link = plugin.name if plugin.parent == folder else str(plugin)
    on_path = str(folder) in os.environ.get("PATH", "").split(os.pathsep)
    note = "" if on_path else f" (note: {folder} is not on PATH, kubectl will not find it there)"
    if os.path.islink(target) and os.readlink(target) == link:
        return f"{target} already links to {link}{note}"
    if os.path.lexists(target) and not force:
        return f"{target} is already there (--force replaces it){note}"
    tmp = folder / f".{COMPLETE_EXE}.{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(link, tmp)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise click.ClickException(f"cannot link {target}: {exc.strerror or exc}") from None
    return f"linked {target} -> {link}{note}"


# --- kubectl's plugin completion ---------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(text.split())


def plugin_complete(words: Sequence[str], root: click.Command) -> tuple[list[str], int]:
    """Candidates and cobra directive for the words after `kubectl vmgpu` (the last one incomplete)."""
    args = list(words[:-1])
    incomplete = words[-1] if words else ""
    prefix = ""
    if incomplete.startswith("-") and "=" in incomplete:
        prefix = incomplete.partition("=")[0] + "="
    comp = ShellComplete(root, {}, "kubectl vmgpu", COMPLETE_VAR)
    items = comp.get_completions(args, incomplete)
    lines = []
    for item in items:
        if item.type == "file":
            return [], DIRECTIVE_DEFAULT
        if item.type == "dir":
            return [], DIRECTIVE_FILTER_DIRS
        line = prefix + str(item.value)
        if item.help:
            line += "\t" + _one_line(str(item.help))
        lines.append(line)
    return lines, DIRECTIVE_NO_FILE_COMP


# --- candidates: shell_complete callbacks for click parameters ---------------------------------


def _debug(exc: BaseException) -> None:
    if os.environ.get(DEBUG_VAR):
        print(f"kubectl-vmgpu completion: {type(exc).__name__}: {exc}", file=sys.stderr)


def _snapshot_objects(params: dict[str, Any]) -> list[dict[str, Any]] | None:
    """VMIs and VMs of --demo / --snapshot, or None when the words name neither."""
    from .sources import snapshot

    if params.get("demo"):
        from importlib.resources import files

        inv = snapshot.load_traversable(files("kubectl_vmgpu") / "demo", "demo")
    elif params.get("snapshots"):
        inv = snapshot.load(list(params["snapshots"]))
    else:
        return None
    return inv.of("VirtualMachineInstance") + inv.of("VirtualMachine")


def _params(ctx: click.Context) -> dict[str, Any]:
    """The parsed parameters of the command, with the global flags given before it (options.Flags)."""
    from .options import Flags

    return Flags.merged(dict(ctx.params), ctx)


def _live(params: dict[str, Any], what: Callable[[Any, str | None], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Objects read from the cluster by `what(api, namespace)` within LIVE_TIMEOUT, else nothing."""
    from .model import Scope
    from .options import connection

    found: list[dict[str, Any]] = []

    def run() -> None:
        with contextlib.suppress(Exception):
            from .sources.api import Api

            scope = Scope(
                name=None,
                namespace=params.get("namespace"),
                all_namespaces=bool(params.get("all_namespaces")),
                snapshots=(),
                demo=False,
                kubeconfig=params.get("kubeconfig"),
                context=params.get("kube_context"),
                request_timeout=LIVE_TIMEOUT,
                no_exec=True,
                connection=connection(params),  # --server, --token, --as... as the command would use them
            )
            api = Api(scope)
            namespace = None if scope.all_namespaces else (scope.namespace or api.namespace)
            found.extend(what(api, namespace))

    worker = threading.Thread(target=run, name="vmgpu-complete", daemon=True)
    worker.start()
    worker.join(LIVE_TIMEOUT)
    return [] if worker.is_alive() else list(found)


def _list_vms(api: Any, namespace: str | None) -> list[dict[str, Any]]:
    where = f"namespaces/{namespace}/" if namespace else ""
    out: list[dict[str, Any]] = []
    kinds = (("virtualmachineinstances", "VirtualMachineInstance"), ("virtualmachines", "VirtualMachine"))
    for resource, kind in kinds:
        for obj in api.list(f"/apis/kubevirt.io/v1/{where}{resource}"):
            obj["kind"] = kind
            out.append(obj)
    return out


def _list_namespaces(api: Any, _namespace: str | None) -> list[dict[str, Any]]:
    return list(api.list("/api/v1/namespaces"))


def _meta(obj: dict[str, Any], key: str) -> str:
    meta = obj.get("metadata")
    return str(meta.get(key) or "") if isinstance(meta, dict) else ""


def vm_objects(params: dict[str, Any]) -> list[dict[str, Any]]:
    """The VMIs and VMs in the scope the parsed parameters describe."""
    objs = _snapshot_objects(params)
    if objs is None:
        return _live(params, _list_vms)
    namespace = None if params.get("all_namespaces") else params.get("namespace")
    return [o for o in objs if namespace is None or _meta(o, "namespace") == namespace]


def complete_vmi_names(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """shell_complete for NAME: the VMI and VM names in scope, each with its namespaces."""
    try:
        objs = vm_objects(_params(ctx))
    except Exception as exc:
        _debug(exc)
        return []
    names: dict[str, tuple[set[str], set[str]]] = {}
    for obj in objs:
        name = _meta(obj, "name")
        if name.startswith(incomplete):
            kinds, namespaces = names.setdefault(name, (set(), set()))
            kinds.add("VMI" if obj.get("kind") == "VirtualMachineInstance" else "VM")
            namespaces.add(_meta(obj, "namespace"))
    return [
        CompletionItem(name, help=f"{'VMI' if 'VMI' in kinds else 'VM'} in {', '.join(sorted(namespaces))}")
        for name, (kinds, namespaces) in sorted(names.items())
    ]


def complete_namespaces(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """shell_complete for -n: namespaces holding VMIs or VMs in a snapshot, or the cluster's namespaces."""
    params = {**_params(ctx), "namespace": None, "all_namespaces": True}
    try:
        objs = _snapshot_objects(params)
        if objs is None:
            objs = _live(params, _list_namespaces)
            found = {_meta(o, "name") for o in objs}
        else:
            found = {_meta(o, "namespace") for o in objs}
    except Exception as exc:
        _debug(exc)
        return []
    return [CompletionItem(ns) for ns in sorted(found) if ns and ns.startswith(incomplete)]


def complete_contexts(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """shell_complete for --context: the context names of the kubeconfig files in use."""
    try:
        import yaml

        from .sources import kubeconfig

        names: set[str] = set()
        for path in kubeconfig.files_to_read(_params(ctx).get("kubeconfig")):
            doc = yaml.safe_load(path.read_text())
            entries = doc.get("contexts") if isinstance(doc, dict) else None
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict) and entry.get("name"):
                    names.add(str(entry["name"]))
    except Exception as exc:
        _debug(exc)
        return []
    return [CompletionItem(n) for n in sorted(names) if n.startswith(incomplete)]


def complete_checks(_ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """shell_complete for --ignore and --explain: check names (and ids, when the word starts like one)."""
    from .checks import CHECKS

    by_id = incomplete[:2].upper() == "VG"
    out = []
    for check in CHECKS:
        value = check.id if by_id else check.name
        if value.lower().startswith(incomplete.lower()):
            out.append(CompletionItem(value, help=check.summary))
    return out


def complete_files(_ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """shell_complete for a path option: let the shell complete file names."""
    return [CompletionItem(incomplete, type="file")]
