"""Plain container pods holding a GPU through their own claim (and device-plugin GPUs): what VMs compete with."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from ..ids import claim_generate_name, ts
from ..model import GPU_CLASS, VM, Workload
from .claims import claim_obj, claim_spec
from .objects import meta
from .records import Obj

if TYPE_CHECKING:
    from . import Lab


def run(lab: Lab, w: Workload) -> None:
    """The pod (already running on its node), its `single-gpu` template and its allocated claim."""
    when = lab.ids.at(minutes=w.minutes)
    d = lab.devices[(w.node, w.device)]
    if w.namespace == "device-plugin":
        lab.taken[(w.node, w.device)] = "device-plugin"
        return
    lab.taken[(w.node, w.device)] = f"{w.namespace}/{w.name}"
    if not w.prepared:
        lab.racing.add((w.node, w.device))
    pod: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta("Pod", w.name, when, w.namespace, labels={"app": "cuda-job"}),
        "spec": {
            "containers": [{"command": ["python", "train.py"], "image": "nvcr.io/nvidia/pytorch:25.10-py3",
                            "imagePullPolicy": "IfNotPresent", "name": "trainer",
                            "resources": {"claims": [{"name": "gpu"}]}}],
            "nodeName": w.node,
            "resourceClaims": [{"name": "gpu", "resourceClaimTemplateName": "single-gpu"}],
            "restartPolicy": "Never",
            "schedulerName": "default-scheduler",
        },
        "status": {"phase": "Running", "hostIP": next(n.ip for n in lab.nodes if n.name == w.node),
                   "qosClass": "BestEffort", "startTime": ts(when)},
    }
    gen = claim_generate_name(w.name, "gpu")
    cname = gen + lab.ids.suffix()
    pod["status"]["resourceClaimStatuses"] = [{"name": "gpu", "resourceClaimName": cname}]
    lab.emit(when + timedelta(seconds=20), pod)
    tmpl_vm = VM(name="_", namespace=w.namespace, device_class=GPU_CLASS, vfio=None, requests=["gpu"])
    if not any(o["kind"] == "ResourceClaimTemplate" and o["metadata"]["name"] == "single-gpu"
               and o["metadata"].get("namespace") == w.namespace for _, o in lab.objects):
        tmpl: Obj = {
            "apiVersion": lab.res_api(),
            "kind": "ResourceClaimTemplate",
            "metadata": meta("ResourceClaimTemplate", "single-gpu", when - timedelta(hours=2), w.namespace,
                             generation=1),
            "spec": {"spec": claim_spec(lab, tmpl_vm)},
        }
        lab.emit(when - timedelta(hours=2), tmpl)
    claim = claim_obj(lab, tmpl_vm, cname, when, pod=pod, pod_claim="gpu", results=[("gpu", d)], node=w.node,
                      reserved=[{"name": w.name, "resource": "pods", "uid": pod["metadata"]["uid"]}], generate=gen)
    claim["metadata"].pop("labels", None)
    lab.emit(when + timedelta(seconds=2), claim)
