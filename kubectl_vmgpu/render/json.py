"""The machine-readable report (`-o json|yaml`): the only module that knows its camelCase schema."""

from __future__ import annotations

from typing import Any

from ..allocation import DeviceState, Explanation
from ..chain import Chain, VmiView
from ..jsonout import dumps_indented
from ..model import Finding, FixPatch, Severity
from ..report import GpuReport, Report, VmiReport
from ..views import Taint
from .devices import per_node
from .get import Row as GetRow

SCHEMA_VERSION = 1
MAX_EXPLAINED_NODES = 10  # a fleet has thousands: the summary counts them all, the detail shows the first


def finding(f: Finding) -> dict[str, Any]:
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
        "role": f.role.value,
        "causedBy": {"name": f.caused_by.name, "subject": f.caused_by.subject.as_dict()} if f.caused_by else None,
        "fixPatch": fix_patch(f.fix_patch) if f.fix_patch else None,
    }


def fix_patch(p: FixPatch) -> dict[str, Any]:
    out = {
        "apiVersion": p.api_version,
        "kind": p.kind,
        "namespace": p.namespace,
        "name": p.name,
        "type": p.type,
        "patch": p.patch,
    }
    if p.then:
        out["then"] = p.then
    return out


def device(d: DeviceState) -> dict[str, Any]:
    return {
        "name": d.name,
        "type": d.type,
        "pciBusID": d.pci,
        "productName": d.product,
        "state": d.state,
        "detail": d.detail or None,
    }


def explanation(ex: Explanation) -> dict[str, Any]:
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
                "devices": [device(d) for d in n.devices],
            }
            for n in ex.nodes[:MAX_EXPLAINED_NODES]
        ],
        "nodesOmitted": max(0, len(ex.nodes) - MAX_EXPLAINED_NODES),
    }


def _spec_source(view: VmiView, chain: Chain) -> dict[str, dict[str, Any]]:
    src = chain.source
    pod = view.pod
    return {
        "spec": {"kind": chain.gpu.kind, "claimName": chain.gpu.claim_name, "requestName": chain.gpu.request_name},
        "source": {
            "present": src is not None,
            "resourceClaimName": src.claim_name if src else None,
            "resourceClaimTemplateName": src.template_name if src else None,
            "templateFound": chain.template is not None if src and src.template_name else None,
        },
        "pod": {
            "present": pod is not None,
            "name": pod.meta.name if pod else None,
            "uid": pod.meta.uid if pod else None,
            "phase": (pod.phase or None) if pod else None,
            "node": pod.node if pod else None,
            "computeClaims": [f"{c}/{r}" if r else c for c, r in pod.compute_claims] if pod else [],
        },
    }


def _claim(chain: Chain) -> dict[str, Any]:
    req, claim = chain.request, chain.claim
    return {
        "present": claim is not None,
        "name": claim.meta.name if claim else None,
        "uid": claim.meta.uid if claim else None,
        "generated": chain.claim_generated,
        "state": chain.claim_state.value,
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


def _device(chain: Chain) -> dict[str, Any]:
    dev = chain.device
    return {
        "present": dev is not None,
        "slice": dev.slice.name if dev else None,
        "driver": dev.driver if dev else None,
        "pool": dev.pool if dev else None,
        "generation": dev.slice.generation if dev else None,
        "current": dev.current if dev else None,
        "name": dev.name if dev else None,
        "type": dev.device.type if dev else None,
        "pciBusID": dev.pci if dev else None,
        "productName": dev.device.product if dev else None,
        "taints": [_taint(t) for t in dev.device.taints] if dev else [],
    }


def _taint(t: Taint) -> dict[str, str]:
    """As the API server writes it: keys in order, empty ones left out."""
    fields = {"effect": t.effect, "key": t.key, "timeAdded": t.time_added, "value": t.value}
    return {k: v for k, v in fields.items() if v}


def _evidence(chain: Chain) -> dict[str, dict[str, Any]]:
    ev = chain.evidence
    out: dict[str, dict[str, Any]] = {}
    if ev.status_present:
        out["deviceStatus"] = {"present": True, "pciAddress": ev.status_pci, "mDevUUID": ev.status_mdev}
    md = ev.metadata_devices[0] if len(ev.metadata_devices) == 1 else None
    out["metadata"] = {
        "present": bool(ev.metadata_files),
        "dir": ev.metadata_dir,
        "files": list(ev.metadata_files),
        "apiVersions": list(ev.metadata.api_versions) if ev.metadata else [],
        "device": md.name if md else None,
        "pciBusID": md.pci if md else None,
        "mdevUUID": md.mdev if md else None,
        "error": ev.metadata_error,
    }
    out["vfio"] = {"present": ev.vfio is not None, "entries": list(ev.vfio or ()), "error": ev.vfio_error}
    out["domain"] = {
        "present": ev.hostdev is not None,
        "name": ev.domain_name,
        "alias": chain.gpu.alias,
        "pciBusID": ev.hostdev.pci if ev.hostdev else None,
        "mdevUUID": ev.hostdev.mdev if ev.hostdev else None,
        "error": ev.domain_error,
    }
    return out


def links(view: VmiView, gpu: GpuReport) -> dict[str, dict[str, Any]]:
    """Each link's identity, key values and status."""
    chain = gpu.chain
    out = _spec_source(view, chain)
    out["claim"] = _claim(chain)
    out["allocation"] = {
        "present": bool(chain.results),
        "results": [
            {"request": r.request, "driver": r.driver, "pool": r.pool, "device": r.device} for r in chain.results
        ],
        "node": chain.alloc_node,
    }
    out["class"] = {"present": chain.device_class is not None, "name": chain.class_name}
    out["device"] = _device(chain)
    out.update(_evidence(chain))
    for link in gpu.links:
        out[link.name.value]["status"] = link.status.value
    if gpu.explanation is not None:
        out["allocation"]["explain"] = explanation(gpu.explanation)
    return out


def vmi(v: VmiReport) -> dict[str, Any]:
    view = v.view
    return {
        "namespace": view.namespace,
        "name": view.name,
        "uid": view.uid,
        "kind": "VirtualMachine" if view.vmi is None else "VirtualMachineInstance",
        "vm": view.vm.meta.name if view.vm else None,
        "phase": view.phase,
        "node": view.node,
        "launcherPod": view.pod.meta.name if view.pod else None,
        "gpus": [
            {
                "name": g.chain.gpu.name,
                "kind": g.chain.gpu.kind,
                "claimName": g.chain.gpu.claim_name,
                "requestName": g.chain.gpu.request_name,
                "links": links(view, g),
                "pciBusID": dict(g.addresses["pciBusID"]),
                "mdevUUID": dict(g.addresses["mdevUUID"]),
                "findings": [finding(f) for f in g.findings],
            }
            for g in v.gpus
        ],
        "findings": [finding(f) for f in v.findings],
    }


def report(r: Report) -> dict[str, Any]:
    s = r.summary
    return {
        "schemaVersion": SCHEMA_VERSION,
        "kind": r.kind,
        "source": r.origin,
        "kubevirtVersion": r.kubevirt_version,
        "findings": [finding(f) for f in r.findings],
        "vmis": [vmi(v) for v in r.vmis],
        "summary": {
            "vmis": s.vmis,
            "vmisWithErrors": s.vmis_with_errors,
            **{str(sev): s.counts.get(sev, 0) for sev in reversed(Severity)},
            "silenced": s.silenced,
            "problems": s.problems,
            "findings": s.findings,
        },
    }


def devices(origin: str, rows: list[DeviceState]) -> dict[str, Any]:
    nodes = [{"node": n.node, "devices": n.devices, "free": list(n.free), "states": n.states} for n in per_node(rows)]
    return {
        "schemaVersion": SCHEMA_VERSION,
        "kind": "Devices",
        "source": origin,
        "devices": [{"node": d.node, "pool": d.pool, **device(d)} for d in rows],
        "nodes": nodes,
    }


def to_json(data: dict[str, Any]) -> str:
    """The bytes of `json.dumps(data, indent=2, ensure_ascii=False)`, through the C encoder (issue 15)."""
    return dumps_indented(data) + "\n"


def to_yaml(data: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)


def get_row(r: GetRow) -> dict[str, Any]:
    """One row of `get -o json|yaml` (the items of a kubectl-style List; README documents it).

    `metadata` repeats name, namespace and creationTimestamp where kubectl habits look for them
    (`--sort-by=.metadata.name`, `-o custom-columns=NAME:.metadata.name`).
    """
    return {
        "kind": r.kind,
        "metadata": {"name": r.name, "namespace": r.namespace, "creationTimestamp": r.created or None},
        "namespace": r.namespace,
        "name": r.name,
        "phase": r.phase,
        "node": r.node,
        "gpus": {"ready": r.gpus_ready, "total": r.gpus_total},
        "devices": list(r.devices),
        "status": r.status,
        "severity": r.severity,
        "creationTimestamp": r.created or None,
        "age": r.age,
        "claims": list(r.claims),
        "pciBusIDs": list(r.pci),
        "kubevirtVersion": r.kubevirt,
        "drivers": list(r.drivers),
    }


def get_list(origin: str, rows: list[GetRow]) -> dict[str, Any]:
    """`get -o json|yaml`: a List as kubectl prints one, with the report's schemaVersion and source."""
    return {
        "apiVersion": "v1",
        "kind": "List",
        "schemaVersion": SCHEMA_VERSION,
        "source": origin,
        "items": [get_row(r) for r in rows],
    }
