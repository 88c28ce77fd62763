"""Object builders every component shares: metadata, owner references and the two kinds of Event."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ..ids import micro, ts, uid
from .records import Obj

if TYPE_CHECKING:
    from . import Lab


def meta(
    kind: str,
    name: str,
    when: datetime,
    namespace: str | None = None,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    owner: Obj | None = None,
    finalizers: list[str] | None = None,
    generation: int | None = None,
    generate: str | None = None,
) -> Obj:
    m: Obj = {"creationTimestamp": ts(when), "name": name, "uid": uid(kind, namespace or "", name)}
    if namespace:
        m["namespace"] = namespace
    if labels:
        m["labels"] = dict(labels)
    if annotations:
        m["annotations"] = dict(annotations)
    if owner:
        m["ownerReferences"] = [owner]
    if finalizers:
        m["finalizers"] = list(finalizers)
    if generation is not None:
        m["generation"] = generation
    if generate:
        m["generateName"] = generate
    return m


def ref(obj: Obj, controller: bool = True, block: bool = True) -> Obj:
    r: Obj = {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
    }
    if controller:
        r["controller"] = True
    if block:
        r["blockOwnerDeletion"] = True
    return r


def event(
    lab: Lab,
    involved: Obj,
    reason: str,
    message: str,
    when: datetime,
    *,
    type_: str = "Warning",
    component: str,
    host: str = "",
    count: int = 1,
    last: datetime | None = None,
) -> Obj:
    """A core/v1 Event from a client-go EventRecorder (kubelet, KubeVirt, kube-controller-manager)."""
    ns = involved["metadata"].get("namespace", "default")
    name = f"{involved['metadata']['name']}.{int(when.timestamp() * 1e9) + len(lab.objects):x}"
    src: Obj = {"component": component}
    if host:
        src["host"] = host
    obj: Obj = {
        "apiVersion": "v1",
        "count": count,
        "eventTime": None,
        "firstTimestamp": ts(when),
        "involvedObject": {
            "apiVersion": involved["apiVersion"],
            "kind": involved["kind"],
            "name": involved["metadata"]["name"],
            "namespace": ns,
            "resourceVersion": "",
            "uid": involved["metadata"]["uid"],
        },
        "kind": "Event",
        "lastTimestamp": ts(last or when),
        "message": message,
        "metadata": meta("Event", name, when, ns),
        "reason": reason,
        "reportingComponent": component,
        "reportingInstance": host,
        "source": src,
        "type": type_,
    }
    return lab.emit(last or when, obj)


def sched_event(lab: Lab, pod: Obj, reason: str, message: str, when: datetime, *, count: int = 1,
                last: datetime | None = None, type_: str = "Warning") -> Obj:
    """kube-scheduler records through events.k8s.io/v1: read as core/v1 it has eventTime, no counts."""
    ns = pod["metadata"]["namespace"]
    name = f"{pod['metadata']['name']}.{int(when.timestamp() * 1e9) + len(lab.objects):x}"
    obj: Obj = {
        "action": "Scheduling" if reason == "FailedScheduling" else "Binding",
        "apiVersion": "v1",
        "eventTime": micro(when),
        "firstTimestamp": None,
        "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": pod["metadata"]["name"], "namespace": ns,
                           "resourceVersion": "", "uid": pod["metadata"]["uid"]},
        "kind": "Event",
        "lastTimestamp": None,
        "message": message,
        "metadata": meta("Event", name, when, ns),
        "reason": reason,
        "reportingComponent": "default-scheduler",
        "reportingInstance": "default-scheduler-cp-01",
        "source": {},
        "type": type_,
    }
    if count > 1:
        obj["series"] = {"count": count, "lastObservedTime": micro(last or when)}
    return lab.emit(last or when, obj)
