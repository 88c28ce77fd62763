"""The human report: the describe tree (kubectl-tree style) and the doctor list, from the typed report."""

from __future__ import annotations

import json
import shlex

from ..allocation import Explanation
from ..chain import Chain, LinkName, VmiView
from ..links import Link, Status
from ..model import Finding, FixPatch, Role, Severity
from ..report import GpuReport, Report, Summary, VmiReport
from ..sources.errors import printable
from ..views import OpaqueConfig

MARKS = {"ok": "✔", "error": "✖", "warning": "!", "info": "i", "missing": "✖", "unknown": "?", "n/a": "-"}
_COLORS = {"ok": "32", "error": "31", "missing": "31", "warning": "33", "info": "36", "unknown": "2", "n/a": "2"}
_TITLES = {LinkName.VFIO: "/dev/vfio", LinkName.DOMAIN: "domain XML"}
NO_VMIS = "No VMIs or VMs with DRA GPUs or host devices found."
IMMUTABLE_SPEC = ("ResourceClaimTemplate", "ResourceClaim")  # spec is immutable: replaced, not patched
SHORT = 150  # a consequence's folded line


class Style:
    """ANSI colour, on only when asked (a TTY without NO_COLOR)."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, status: str, text: str) -> str:
        code = _COLORS.get(status)
        return f"\033[{code}m{text}\033[0m" if self.color and code else text


def header(view: VmiView) -> str:
    return printable(_header(view))


def _header(view: VmiView) -> str:
    if view.vmi is None:
        return f"VM {view.namespace}/{view.name}  {view.phase or 'no VMI'} (no VMI; read from its template)"
    where = f" on {view.node}" if view.node else ""
    owner = f"  (VM {view.vm.meta.name})" if view.vm else ""
    return f"VMI {view.namespace}/{view.name}  {view.phase or '?'}{where}{owner}"


def _not_collected(view: VmiView) -> str:
    pod = view.pod
    if pod is None:
        return "no launcher pod"
    if not pod.running:
        return f"not read: pod is {pod.phase or 'not running'}"
    return "not collected"


def _config_text(cfg: OpaqueConfig) -> str:
    iommu = cfg.parameters.get("iommu")
    details = ", ".join(f"{k}={json.dumps(v)}" for k, v in iommu.items()) if isinstance(iommu, dict) else ""
    return f"{cfg.kind or 'opaque config'} ({cfg.source}{': ' + details if details else ''})"


def _source(chain: Chain) -> str:
    src = chain.source
    if src is None:
        return f"no spec.resourceClaims entry named {chain.gpu.claim_name!r}"
    if src.template_name and not src.claim_name:
        return f"ResourceClaimTemplate {src.template_name}{'' if chain.template else ' (not found)'}"
    if src.claim_name and not src.template_name:
        return f"ResourceClaim {src.claim_name}"
    return "invalid entry (both or neither of resourceClaimName/resourceClaimTemplateName)"


def _claim(chain: Chain) -> str:
    req = chain.request
    req_text = ""
    if req:
        cls = req.device_class or "firstAvailable " + "|".join(s.name for s in req.first_available)
        req_text = f"; request {req.name}: {cls}, {req.mode} {req.count}"
    if chain.claim is None:
        return f"not found{req_text}"
    cfg = "; ".join(_config_text(c) for c in chain.configs)
    return f"{chain.claim.meta.name}  {chain.claim_state.value}{req_text}" + (f"; {cfg}" if cfg else "")


def _device(chain: Chain) -> str:
    dev = chain.device
    if dev is None:
        return "not in any current ResourceSlice" if chain.results else "none (nothing allocated)"
    stale = "" if dev.current else ", stale generation"
    d = dev.device
    return (
        f"{dev.name} in {dev.slice.name} (gen {dev.slice.generation}{stale}): {d.type or '?'} "
        f"{d.pci or 'no pciBusID'} {d.product or ''}"
    ).rstrip()


def _metadata(view: VmiView, chain: Chain, link: Link) -> str:
    ev = chain.evidence
    if link.status is Status.NA:
        return "not read by this KubeVirt version (it uses VMI status.deviceStatus)"
    if ev.metadata_error:
        return f"unknown: {ev.metadata_error}" if not ev.metadata_files else ev.metadata_error
    if ev.metadata_dir is None:
        return _not_collected(view)
    if not ev.metadata_files:
        return f"no *-metadata.json in {ev.metadata_dir}/"
    md = ev.metadata_devices[0] if len(ev.metadata_devices) == 1 else None
    addr = f"mdevUUID {md.mdev}" if md and md.mdev else f"pciBusID {(md.pci if md else None) or '-'}"
    return f"{', '.join(ev.metadata_files)}: {addr}"


def _domain(view: VmiView, chain: Chain) -> str:
    ev = chain.evidence
    if ev.domain_error:
        return f"unknown: {ev.domain_error}"
    if ev.domain_name is None:
        return _not_collected(view)
    if ev.hostdev is None:
        return f"{ev.domain_name}: no hostdev {chain.gpu.alias}"
    addr = f"mdev {ev.hostdev.mdev}" if ev.hostdev.mdev else f"source {ev.hostdev.pci or '-'}"
    return f"{ev.domain_name}: hostdev {chain.gpu.alias}, {addr}"


def _runtime(view: VmiView, chain: Chain, link: Link) -> str:
    name, ev = link.name, chain.evidence
    if name is LinkName.DEVICE_STATUS:
        return f"pciAddress {ev.status_pci or '-'}" + (f", mDevUUID {ev.status_mdev}" if ev.status_mdev else "")
    if name is LinkName.METADATA:
        return _metadata(view, chain, link)
    if name is LinkName.VFIO:
        if ev.vfio_error:
            return f"unknown: {ev.vfio_error}"
        return _not_collected(view) if ev.vfio is None else ", ".join(ev.vfio) or "empty"
    return _domain(view, chain)


def _pod(view: VmiView) -> str:
    pod = view.pod
    if pod is None:
        return "no virt-launcher pod"
    claims = ", ".join(f"{c}/{r}" if r else c for c, r in pod.compute_claims) or "none"
    return f"{pod.meta.name}  {pod.phase or None} on {pod.node or '(unscheduled)'}; compute claims: {claims}"


def describe_link(view: VmiView, gpu: GpuReport, link: Link) -> str:
    """One line per link: what was found there (cluster and container text made printable)."""
    return printable(_describe_link(view, gpu, link))


def _describe_link(view: VmiView, gpu: GpuReport, link: Link) -> str:
    chain, name = gpu.chain, link.name
    pod_link = next(lk for lk in gpu.links if lk.name is LinkName.POD)
    if link.status is Status.NA and pod_link.status is Status.NA:
        req = chain.request
        if name is LinkName.CLAIM and req:
            return f"generated from the template when the VM starts; request {req.name}: {req.device_class}"
        return "— (the VM is not running)"
    if name is LinkName.SPEC:
        g = chain.gpu
        return f"{g.kind} {g.name}: claim {g.claim_name or '?'}, request {g.request_name or '?'}"
    if name is LinkName.SOURCE:
        return _source(chain)
    if name is LinkName.POD:
        return _pod(view)
    if name is LinkName.CLAIM:
        return _claim(chain)
    if name is LinkName.ALLOCATION:
        if not chain.results:
            return "no devices allocated"
        res = ", ".join(f"{r.driver}/{r.pool}/{r.device}" for r in chain.results)
        return res + (f" on node {chain.alloc_node}" if chain.alloc_node else "")
    if name is LinkName.CLASS:
        return f"{chain.class_name or '?'}" + ("" if chain.device_class else " (not found)")
    if name is LinkName.DEVICE:
        return _device(chain)
    return _runtime(view, chain, link)


def patch_command(p: FixPatch) -> str:
    """The fix as a ready command line: `kubectl patch`, or for an immutable spec get | patch --local | replace."""
    group = p.api_version.rpartition("/")[0]
    resource = f"{p.kind.lower()}.{group}" if group else p.kind.lower()
    ns = f" -n {shlex.quote(p.namespace)}" if p.namespace else ""
    body = shlex.quote(json.dumps(p.patch, separators=(",", ":")))
    name = shlex.quote(p.name)
    if p.kind in IMMUTABLE_SPEC:
        return (
            f"kubectl get {resource} {name}{ns} -o json | kubectl patch --local -f - --type {p.type} -p {body} "
            "-o json | kubectl replace --force -f -"
        )
    return f"kubectl patch {resource} {name}{ns} --type {p.type} -p {body}"


def consequence_line(f: Finding, indent: str) -> str:
    """A consequence folded under its cause on one short line; its fix is the cause's."""
    cause = f.caused_by.name if f.caused_by else "?"
    text = printable(f"→ because of {cause}: {f.id} {f.name}: {f.message}")
    return indent + (text if len(text) <= SHORT else text[: SHORT - 1] + "…")


def finding_lines(f: Finding, indent: str, style: Style) -> list[str]:
    if f.role is Role.CONSEQUENCE:
        return [consequence_line(f, indent)]
    sev = str(f.severity)
    lines = [f"{indent}{style(sev, MARKS[sev] + ' ' + sev.upper())} {f.id} {f.name}: {printable(f.message)}"]
    fix_lines = [printable(line) for line in f.fix.split("\n")] or [""]
    if f.fix_patch is not None:
        fix_lines.append(printable(patch_command(f.fix_patch)))
        if f.fix_patch.then:
            fix_lines.append(printable(f"then {f.fix_patch.then}"))
    lines.append(f"{indent}    fix: {fix_lines[0]}")
    lines += [f"{indent}         {line}" for line in fix_lines[1:]]
    return lines


def _folded(findings: tuple[Finding, ...]) -> list[tuple[Finding, list[Finding]]]:
    """Causes first, each with the consequences that name it; consequences of causes elsewhere (the cluster) last."""
    groups: list[tuple[Finding, list[Finding]]] = [(f, []) for f in findings if f.role is Role.CAUSE]
    for f in findings:
        if f.role is not Role.CONSEQUENCE or f.caused_by is None:
            continue
        cb = f.caused_by
        home = next(
            (
                g
                for c, g in groups
                if c.name == cb.name and c.subject == cb.subject and (c.gpu is None or f.gpu in (None, c.gpu))
            ),
            None,
        )
        if home is None:
            groups.append((f, []))
        else:
            home.append(f)
    return groups


def explain_lines(ex: Explanation, indent: str) -> list[str]:
    from .json import MAX_EXPLAINED_NODES

    lines = [f"why: request {ex.request} ({ex.device_class or '?'}): {ex.summary}"]
    lines += [f"  {n.summary}" for n in ex.nodes[:MAX_EXPLAINED_NODES]]
    lines += [f"  not evaluated: {u}" for u in ex.unevaluated]
    return [indent + printable(line) for line in lines]


def _gpu_lines(view: VmiView, gpu: GpuReport, last_gpu: bool, style: Style) -> list[str]:
    spec, *rest = gpu.links
    out = [("└── " if last_gpu else "├── ") + describe_link(view, gpu, spec)]
    pad = "    " if last_gpu else "│   "
    names = {lk.name.value for lk in rest}
    for li, link in enumerate(rest):
        last = li == len(rest) - 1
        status = link.status.value
        title = _TITLES.get(link.name, link.name.value).ljust(13)
        out.append(
            f"{pad}{'└── ' if last else '├── '}{style(status, MARKS[status])} {title} {describe_link(view, gpu, link)}"
        )
        sub = pad + ("    " if last else "│   ")
        if link.name is LinkName.ALLOCATION and gpu.explanation is not None:
            out += explain_lines(gpu.explanation, sub)
        for f in gpu.findings:
            if f.link == link.name.value or (last and f.link not in names):
                out += finding_lines(f, sub, style)
    return out


def describe(report: Report, style: Style) -> str:
    out: list[str] = []
    for f in report.findings:
        out += finding_lines(f, "", style)
    if report.findings:
        out.append("")
    if not report.vmis:
        out.append(NO_VMIS)
    for v in report.vmis:
        out.append(header(v.view))
        for f in v.findings:
            out += finding_lines(f, "│ ", style)
        for gi, gpu in enumerate(v.gpus):
            out += _gpu_lines(v.view, gpu, gi == len(v.gpus) - 1, style)
        out.append("")
    out.append(summary_line(report.summary))
    return "\n".join(out) + "\n"


def _vmi_doctor(v: VmiReport, style: Style) -> list[str]:
    out = [header(v.view)]
    findings = v.all_findings
    if not findings:
        out.append(f"  {style('ok', MARKS['ok'])} no findings")
    for cause, consequences in _folded(findings):
        out += finding_lines(cause, "  ", style)
        if cause.role is Role.CAUSE:
            out.append(printable(f"      subject: {cause.subject}{f'  [{cause.gpu}]' if cause.gpu else ''}"))
        out += [consequence_line(f, "      ") for f in consequences]
    return out


def doctor(report: Report, style: Style) -> str:
    out: list[str] = []
    if report.findings:
        out.append("Cluster")
        for f in report.findings:
            out += finding_lines(f, "  ", style)
            out.append(printable(f"      subject: {f.subject}"))
        out.append("")
    if not report.vmis:
        out.append(NO_VMIS)
    for v in report.vmis:
        out += _vmi_doctor(v, style)
        out.append("")
    out.append(summary_line(report.summary))
    return "\n".join(out) + "\n"


def summary_line(s: Summary) -> str:
    err, warn, info = (s.counts.get(sev, 0) for sev in (Severity.ERROR, Severity.WARNING, Severity.INFO))
    parts = [f"{err} error{'s' if err != 1 else ''}", f"{warn} warning{'s' if warn != 1 else ''}", f"{info} info"]
    silenced = f", {s.silenced} silenced" if s.silenced else ""
    found = f"{s.findings} finding{'s' if s.findings != 1 else ''}"
    problems = f"{s.problems} problem{'s' if s.problems != 1 else ''} ({found})"
    return (
        f"Summary: {s.vmis} VMI{'s' if s.vmis != 1 else ''} checked, {s.vmis_with_errors} with errors; "
        f"{problems}: {', '.join(parts)}{silenced}"
    )
