"""Reports as strings: the describe tree, the doctor list, and one dict for json/yaml."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .allocation import DeviceState, Explanation
from .chain import Chain, VmiView
from .checks import Report
from .checks.launcher import addresses
from .index import dig, items, meta
from .model import Finding, Severity
from .sources.errors import for_terminal

SCHEMA_VERSION = 1
_MARKS = {"ok": "✔", "error": "✖", "warning": "!", "info": "i", "missing": "✖", "unknown": "?", "n/a": "-"}
_COLORS = {"ok": "32", "error": "31", "missing": "31", "warning": "33", "info": "36", "unknown": "2", "n/a": "2"}
_LINK_TITLES = {
    "spec": "spec",
    "source": "source",
    "pod": "pod",
    "claim": "claim",
    "allocation": "allocation",
    "class": "class",
    "device": "device",
    "deviceStatus": "deviceStatus",
    "metadata": "metadata",
    "vfio": "/dev/vfio",
    "domain": "domain XML",
}


class Style:
    """ANSI colour, on only when asked (a TTY without NO_COLOR)."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, status: str, text: str) -> str:
        code = _COLORS.get(status)
        return f"\033[{code}m{text}\033[0m" if self.color and code else text


# ---- one dict per VMI: the machine-readable report ------------------------------------------


def _finding_dict(f: Finding) -> dict[str, Any]:
    return {
        "id": f.id,
        "name": f.name,
        "severity": str(f.severity),
        "subject": f.subject.as_dict(),
        "message": f.message,
        "fix": f.fix,
        "link": f.link,
        "vmi": f.vmi.as_dict() if f.vmi else None,
        "gpu": f.gpu,
    }


def _worst(findings: list[Finding]) -> str | None:
    if not findings:
        return None
    return str(max(f.severity for f in findings))


def _links(view: VmiView, chain: Chain, findings: list[Finding]) -> dict[str, dict[str, Any]]:
    """Each link's identity, key values and status (worst finding, else present/missing)."""
    ev = chain.evidence
    pod = view.pod
    links: dict[str, dict[str, Any]] = {}
    links["spec"] = {"kind": chain.gpu.kind, "claimName": chain.gpu.claim_name, "requestName": chain.gpu.request_name}
    src = chain.source
    links["source"] = {
        "present": src is not None,
        "resourceClaimName": dig(src, "resourceClaimName"),
        "resourceClaimTemplateName": dig(src, "resourceClaimTemplateName"),
        "templateFound": chain.template is not None if dig(src, "resourceClaimTemplateName") else None,
    }
    links["pod"] = {
        "present": pod is not None,
        "name": meta(pod, "name") if pod else None,
        "uid": meta(pod, "uid") if pod else None,
        "phase": dig(pod, "status", "phase"),
        "node": dig(pod, "spec", "nodeName"),
        "computeClaims": [
            f"{c.get('name')}/{c.get('request')}" if c.get("request") else str(c.get("name"))
            for ct in items(pod, "spec", "containers")
            if ct.get("name") == "compute"
            for c in items(ct, "resources", "claims")
        ]
        if pod
        else [],
    }
    req = chain.request
    links["claim"] = {
        "present": chain.claim is not None,
        "name": meta(chain.claim, "name") if chain.claim else None,
        "uid": meta(chain.claim, "uid") if chain.claim else None,
        "generated": chain.claim_generated,
        "state": chain.claim_state,
        "request": {
            "name": req.name,
            "deviceClassName": req.device_class,
            "allocationMode": req.mode,
            "count": req.count,
            "selectors": list(req.selectors),
            "firstAvailable": [s.name for s in req.first_available],
        }
        if req
        else None,
        "config": [
            {"source": c.source, "driver": c.driver, "requests": list(c.requests), "parameters": dict(c.parameters)}
            for c in chain.configs
        ],
    }
    links["allocation"] = {
        "present": bool(chain.results),
        "results": [
            {"request": r.request, "driver": r.driver, "pool": r.pool, "device": r.device} for r in chain.results
        ],
        "node": chain.alloc_node,
    }
    links["class"] = {"present": chain.device_class is not None, "name": chain.class_name}
    dev = chain.device
    links["device"] = {
        "present": dev is not None,
        "slice": dev.slice_name if dev else None,
        "driver": dev.driver if dev else None,
        "pool": dev.pool if dev else None,
        "generation": dev.generation if dev else None,
        "current": dev.current if dev else None,
        "name": dev.name if dev else None,
        "type": dev.type if dev else None,
        "pciBusID": dev.pci if dev else None,
        "productName": dev.product if dev else None,
        "taints": [dict(t) for t in dev.taints] if dev else [],
    }
    if ev.status_present:
        links["deviceStatus"] = {"present": True, "pciAddress": ev.status_pci, "mDevUUID": ev.status_mdev}
    md = ev.metadata_devices[0] if len(ev.metadata_devices) == 1 else None
    links["metadata"] = {
        "present": bool(ev.metadata_files),
        "dir": ev.metadata_dir,
        "files": list(ev.metadata_files),
        "apiVersions": list(ev.metadata.api_versions) if ev.metadata else [],
        "device": md.name if md else None,
        "pciBusID": md.pci if md else None,
        "mdevUUID": md.mdev if md else None,
        "error": ev.metadata_error,
    }
    links["vfio"] = {"present": ev.vfio is not None, "entries": list(ev.vfio or ()), "error": ev.vfio_error}
    links["domain"] = {
        "present": ev.hostdev is not None,
        "name": ev.domain_name,
        "alias": chain.gpu.alias,
        "pciBusID": ev.hostdev.pci if ev.hostdev else None,
        "mdevUUID": ev.hostdev.mdev if ev.hostdev else None,
        "error": ev.domain_error,
    }
    for name, link in links.items():
        link["status"] = _link_status(view, chain, name, link, [f for f in findings if f.link == name])
    return links


def _link_status(view: VmiView, chain: Chain, name: str, link: dict[str, Any], found: list[Finding]) -> str:
    worst = _worst([f for f in found if f.severity > Severity.INFO])
    if worst:
        return worst
    if name == "spec":
        return "ok"
    runtime = name in ("pod", "allocation", "device", "metadata", "vfio", "domain") or chain.template is not None
    if view.vmi is None and not link.get("present") and runtime:  # a VM that is not running: nothing to walk yet
        return "n/a"
    if name in ("metadata", "vfio", "domain"):
        if name == "metadata" and chain.evidence.metadata_dir is None and view.pod_evidence is not None:
            return "n/a" if not link["error"] else "unknown"
        if link.get("error") or view.pod_evidence is None:
            return "unknown"
        if name == "vfio":
            return "ok" if link["present"] else "unknown"
    return "ok" if link.get("present") else ("unknown" if found else "missing")


def _device_dict(d: DeviceState) -> dict[str, Any]:
    return {
        "name": d.name,
        "type": d.type,
        "pciBusID": d.pci,
        "productName": d.product,
        "state": d.state,
        "detail": d.detail or None,
    }


def _explanation_dict(ex: Explanation) -> dict[str, Any]:
    return {
        "request": ex.request,
        "deviceClassName": ex.device_class,
        "driver": ex.driver,
        "summary": ex.summary,
        "unevaluated": list(ex.unevaluated),
        "nodes": [
            {
                "node": n.node,
                "usable": n.usable,
                "whyNot": n.why_not or None,
                "summary": n.summary,
                "devices": [_device_dict(d) for d in n.devices],
            }
            for n in ex.nodes[:MAX_EXPLAINED_NODES]
        ],
        "nodesOmitted": max(0, len(ex.nodes) - MAX_EXPLAINED_NODES),
    }


MAX_EXPLAINED_NODES = 10  # a fleet has thousands: the summary counts them all, the detail shows the first


def vmi_dict(
    view: VmiView, findings: tuple[Finding, ...], explanations: Mapping[tuple[str, str, str], Explanation]
) -> dict[str, Any]:
    gpus = []
    for chain in view.chains:
        mine = [f for f in findings if f.gpu == chain.gpu.name]
        addr = addresses(chain)
        links = _links(view, chain, mine)
        explanation = explanations.get((view.namespace, view.name, chain.gpu.name))
        if explanation is not None:
            links["allocation"]["explain"] = _explanation_dict(explanation)
        gpus.append(
            {
                "name": chain.gpu.name,
                "kind": chain.gpu.kind,
                "claimName": chain.gpu.claim_name,
                "requestName": chain.gpu.request_name,
                "links": links,
                "pciBusID": addr["pciBusID"],
                "mdevUUID": addr["mdevUUID"],
                "findings": [_finding_dict(f) for f in mine],
            }
        )
    return {
        "namespace": view.namespace,
        "name": view.name,
        "uid": view.uid,
        "kind": "VirtualMachine" if view.vmi is None else "VirtualMachineInstance",
        "vm": meta(view.vm, "name") if view.vm else None,
        "phase": view.phase,
        "node": view.node,
        "launcherPod": meta(view.pod, "name") if view.pod else None,
        "gpus": gpus,
        "findings": [_finding_dict(f) for f in findings if f.gpu is None],
    }


def summary(report: Report, views: list[VmiView]) -> dict[str, Any]:
    all_findings = list(report.cluster) + [f for fs in report.by_vmi.values() for f in fs]
    counts = {str(s): sum(1 for f in all_findings if f.severity == s) for s in reversed(Severity)}
    return {
        "vmis": len(views),
        "vmisWithErrors": sum(1 for fs in report.by_vmi.values() if any(f.severity == Severity.ERROR for f in fs)),
        **counts,
        "silenced": report.silenced,
    }


def report_dict(
    kind: str,
    origin: str,
    report: Report,
    views: list[VmiView],
    version: str | None,
    explanations: Mapping[tuple[str, str, str], Explanation] | None = None,
) -> dict[str, Any]:
    return {
        "schemaVersion": SCHEMA_VERSION,
        "kind": kind,
        "source": origin,
        "kubevirtVersion": version,
        "findings": [_finding_dict(f) for f in report.cluster],
        "vmis": [vmi_dict(v, report.by_vmi.get((v.namespace, v.name), ()), explanations or {}) for v in views],
        "summary": summary(report, views),
    }


def to_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def to_yaml(data: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)


# ---- text ------------------------------------------------------------------------------------


def _header(vd: dict[str, Any]) -> str:
    where = f" on {vd['node']}" if vd["node"] else ""
    if vd["kind"] == "VirtualMachine":
        return f"VM {vd['namespace']}/{vd['name']}  {vd['phase'] or 'no VMI'} (no VMI; read from its template)"
    owner = f"  (VM {vd['vm']})" if vd["vm"] else ""
    return f"VMI {vd['namespace']}/{vd['name']}  {vd['phase'] or '?'}{where}{owner}"


def _describe_link(name: str, link: dict[str, Any], gpu: dict[str, Any]) -> str:  # noqa: C901 - one line per link
    if link.get("status") == "n/a" and gpu["links"]["pod"]["status"] == "n/a":
        if name == "claim" and link.get("request"):
            req = link["request"]
            return f"generated from the template when the VM starts; request {req['name']}: {req['deviceClassName']}"
        return "— (the VM is not running)"
    if name == "spec":
        return f"{gpu['kind']} {gpu['name']}: claim {link['claimName'] or '?'}, request {link['requestName'] or '?'}"
    if name == "source":
        if not link["present"]:
            return f"no spec.resourceClaims entry named {gpu['claimName']!r}"
        if link["resourceClaimTemplateName"] and not link["resourceClaimName"]:
            found = "" if link["templateFound"] else " (not found)"
            return f"ResourceClaimTemplate {link['resourceClaimTemplateName']}{found}"
        if link["resourceClaimName"] and not link["resourceClaimTemplateName"]:
            return f"ResourceClaim {link['resourceClaimName']}"
        return "invalid entry (both or neither of resourceClaimName/resourceClaimTemplateName)"
    if name == "pod":
        if not link["present"]:
            return "no virt-launcher pod"
        claims = ", ".join(link["computeClaims"]) or "none"
        return f"{link['name']}  {link['phase']} on {link['node'] or '(unscheduled)'}; compute claims: {claims}"
    if name == "claim":
        req = link["request"]
        req_text = ""
        if req:
            cls = req["deviceClassName"] or "firstAvailable " + "|".join(req["firstAvailable"])
            req_text = f"; request {req['name']}: {cls}, {req['allocationMode']} {req['count']}"
        cfg = "; ".join(_config_text(c) for c in link["config"])
        if not link["present"]:
            return f"not found{req_text}"
        return f"{link['name']}  {link['state']}{req_text}" + (f"; {cfg}" if cfg else "")
    if name == "allocation":
        if not link["present"]:
            return "no devices allocated"
        res = ", ".join(f"{r['driver']}/{r['pool']}/{r['device']}" for r in link["results"])
        return res + (f" on node {link['node']}" if link["node"] else "")
    if name == "class":
        return f"{link['name'] or '?'}" + ("" if link["present"] else " (not found)")
    if name == "device":
        if not link["present"]:
            allocated = gpu["links"]["allocation"]["present"]
            return "not in any current ResourceSlice" if allocated else "none (nothing allocated)"
        stale = "" if link["current"] else ", stale generation"
        return (
            f"{link['name']} in {link['slice']} (gen {link['generation']}{stale}): {link['type'] or '?'} "
            f"{link['pciBusID'] or 'no pciBusID'} {link['productName'] or ''}"
        ).rstrip()
    if name == "deviceStatus":
        return f"pciAddress {link['pciAddress'] or '-'}" + (
            f", mDevUUID {link['mDevUUID']}" if link["mDevUUID"] else ""
        )
    if name == "metadata":
        if link["status"] == "n/a":
            return "not read by this KubeVirt version (it uses VMI status.deviceStatus)"
        if link["error"]:
            return f"unknown: {link['error']}" if not link["files"] else link["error"]
        if link["dir"] is None:
            return _not_collected(gpu)
        if not link["files"]:
            return f"no *-metadata.json in {link['dir']}/"
        addr = f"mdevUUID {link['mdevUUID']}" if link["mdevUUID"] else f"pciBusID {link['pciBusID'] or '-'}"
        return f"{', '.join(link['files'])}: {addr}"
    if name == "vfio":
        if link["error"]:
            return f"unknown: {link['error']}"
        if not link["present"]:
            return _not_collected(gpu)
        return ", ".join(link["entries"]) or "empty"
    if name == "domain":
        if link["error"]:
            return f"unknown: {link['error']}"
        if link["name"] is None:
            return _not_collected(gpu)
        if not link["present"]:
            return f"{link['name']}: no hostdev {link['alias']}"
        addr = f"mdev {link['mdevUUID']}" if link["mdevUUID"] else f"source {link['pciBusID'] or '-'}"
        return f"{link['name']}: hostdev {link['alias']}, {addr}"
    return ""


def _not_collected(gpu: dict[str, Any]) -> str:
    pod = gpu["links"]["pod"]
    if not pod["present"]:
        return "no launcher pod"
    if pod["phase"] != "Running":
        return f"not read: pod is {pod['phase'] or 'not running'}"
    return "not collected"


def _config_text(cfg: dict[str, Any]) -> str:
    params = cfg["parameters"]
    kind = params.get("kind", "opaque config")
    iommu = params.get("iommu") if isinstance(params.get("iommu"), dict) else {}
    details = ", ".join(f"{k}={json.dumps(v)}" for k, v in iommu.items())
    return f"{kind} ({cfg['source']}{': ' + details if details else ''})"


def _finding_lines(f: dict[str, Any], indent: str, style: Style) -> list[str]:
    sev = f["severity"]
    lines = [f"{indent}{style(sev, _MARKS[sev] + ' ' + sev.upper())} {f['id']} {f['name']}: {f['message']}"]
    fix_lines = f["fix"].splitlines()
    lines.append(f"{indent}    fix: {fix_lines[0]}")
    lines += [f"{indent}         {line}" for line in fix_lines[1:]]
    return lines


def describe_text(data: dict[str, Any], style: Style) -> str:
    data = for_terminal(data)  # cluster and container text, control characters escaped
    out: list[str] = []
    for f in data["findings"]:
        out += _finding_lines(f, "", style)
    if data["findings"]:
        out.append("")
    if not data["vmis"]:
        out.append("No VMIs or VMs with DRA GPUs or host devices found.")
    for vd in data["vmis"]:
        out.append(_header(vd))
        for f in vd["findings"]:
            out += _finding_lines(f, "│ ", style)
        for gi, gpu in enumerate(vd["gpus"]):
            last_gpu = gi == len(vd["gpus"]) - 1
            out.append(("└── " if last_gpu else "├── ") + _describe_link("spec", gpu["links"]["spec"], gpu))
            pad = "    " if last_gpu else "│   "
            names = [n for n in gpu["links"] if n != "spec"]
            for li, name in enumerate(names):
                link = gpu["links"][name]
                last = li == len(names) - 1
                branch = "└── " if last else "├── "
                status = link["status"]
                mark = style(status, _MARKS.get(status, "?"))
                title = _LINK_TITLES[name].ljust(13)
                out.append(f"{pad}{branch}{mark} {title} {_describe_link(name, link, gpu)}")
                sub = pad + ("    " if last else "│   ")
                if name == "allocation" and link.get("explain"):
                    out += _explain_lines(link["explain"], sub)
                for f in gpu["findings"]:
                    if f["link"] == name or (name == names[-1] and f["link"] not in names):
                        out += _finding_lines(f, sub, style)
        out.append("")
    out.append(_summary_line(data["summary"]))
    return "\n".join(out) + "\n"


def _explain_lines(ex: dict[str, Any], indent: str) -> list[str]:
    lines = [f"{indent}why: request {ex['request']} ({ex['deviceClassName'] or '?'}): {ex['summary']}"]
    lines += [f"{indent}  {n['summary']}" for n in ex["nodes"]]
    lines += [f"{indent}  not evaluated: {u}" for u in ex["unevaluated"]]
    return lines


def doctor_text(data: dict[str, Any], style: Style) -> str:
    data = for_terminal(data)  # cluster and container text, control characters escaped
    out: list[str] = []
    if data["findings"]:
        out.append("Cluster")
        for f in data["findings"]:
            out += _finding_lines(f, "  ", style)
            out.append(f"      subject: {_subject(f)}")
        out.append("")
    if not data["vmis"]:
        out.append("No VMIs or VMs with DRA GPUs or host devices found.")
    for vd in data["vmis"]:
        findings = vd["findings"] + [f for g in vd["gpus"] for f in g["findings"]]
        out.append(_header(vd))
        if not findings:
            out.append(f"  {style('ok', _MARKS['ok'])} no findings")
        for f in findings:
            out += _finding_lines(f, "  ", style)
            where = f"  [{f['gpu']}]" if f["gpu"] else ""
            out.append(f"      subject: {_subject(f)}{where}")
        out.append("")
    out.append(_summary_line(data["summary"]))
    return "\n".join(out) + "\n"


def _subject(f: dict[str, Any]) -> str:
    s = f["subject"]
    return f"{s['kind']} {s['namespace'] + '/' if s['namespace'] else ''}{s['name']}"


def _summary_line(s: dict[str, Any]) -> str:
    parts = [
        f"{s['error']} error{'s' if s['error'] != 1 else ''}",
        f"{s['warning']} warning{'s' if s['warning'] != 1 else ''}",
        f"{s['info']} info",
    ]
    silenced = f", {s['silenced']} silenced" if s["silenced"] else ""
    return (
        f"Summary: {s['vmis']} VMI{'s' if s['vmis'] != 1 else ''} checked, {s['vmisWithErrors']} with errors; "
        f"{', '.join(parts)}{silenced}"
    )


# ---- devices ---------------------------------------------------------------------------------


def devices_dict(origin: str, rows: list[DeviceState]) -> dict[str, Any]:
    nodes: dict[str, dict[str, Any]] = {}
    for d in rows:
        entry = nodes.setdefault(d.node, {"node": d.node, "devices": 0, "free": [], "states": {}})
        entry["devices"] += 1
        entry["states"][d.state] = entry["states"].get(d.state, 0) + 1
        if d.state == "free":
            entry["free"].append(d.name)
    return {
        "schemaVersion": SCHEMA_VERSION,
        "kind": "Devices",
        "source": origin,
        "devices": [{"node": d.node, "pool": d.pool, **_device_dict(d)} for d in rows],
        "nodes": list(nodes.values()),
    }


def devices_text(data: dict[str, Any]) -> str:
    data = for_terminal(data)  # cluster and container text, control characters escaped
    from tabulate import tabulate

    if not data["devices"]:
        return "No DRA devices published (no current ResourceSlice).\n"
    rows = [
        (
            d["node"],
            d["name"],
            d["type"] or "-",
            d["pciBusID"] or "-",
            d["productName"] or "-",
            d["state"] + (f" ({d['detail']})" if d["detail"] else ""),
        )
        for d in data["devices"]
    ]
    out = [tabulate(rows, headers=("NODE", "DEVICE", "TYPE", "PCI BUS ID", "PRODUCT", "STATE"), tablefmt="plain"), ""]
    for n in data["nodes"]:
        states = ", ".join(f"{count} {state}" for state, count in sorted(n["states"].items()))
        free = f"; free: {', '.join(n['free'])}" if n["free"] else ""
        out.append(f"{n['node']}: {n['devices']} devices ({states}){free}")
    free_vfio = sum(1 for d in data["devices"] if d["state"] == "free" and d["type"] == "vfio")
    out.append(f"Free passthrough (vfio) devices: {free_vfio}")
    return "\n".join(out) + "\n"
