"""Live source: a fixed set of list calls planned from discovery, read concurrently; evidence as a second phase."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from ..model import ClusterFacts, Inventory, Obj, Scope
from ..normalize import add_objects
from .api import MAX_IN_FLIGHT, Api, ApiError, _seg
from .errors import SourceError
from .launchers import collect_evidence

DRA_VERSIONS = ("v1", "v1beta2", "v1beta1")  # preferred first
VMIS = "virtualmachineinstances.kubevirt.io"
CLAIMS = "resourceclaims.resource.k8s.io"


def _path(group_version: str, resource: str, namespace: str | None) -> str:
    root = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    return f"{root}/namespaces/{_seg(namespace)}/{resource}" if namespace else f"{root}/{resource}"


@dataclass(frozen=True)
class Read:
    """One list (or get) call and the resource it reads, for gaps and the `listed` set."""

    kind: str
    resource: str  # resource.group, as RBAC names it
    path: str
    query: dict[str, Any]
    single: bool = False
    fallback: str | None = None  # the namespace to read instead when RBAC refuses this cluster-wide list


def _kubevirt_reads(kv: str, scope: Scope, namespace: str | None) -> list[Read]:
    """The VMIs and VMs in scope (a named one by name), and the KubeVirt CR."""
    if scope.name and namespace:
        reads = [
            Read(kind, resource, _path(kv, plural, namespace) + f"/{_seg(scope.name)}", {}, single=True)
            for kind, plural, resource in (
                ("VirtualMachineInstance", "virtualmachineinstances", VMIS),
                ("VirtualMachine", "virtualmachines", "virtualmachines.kubevirt.io"),
            )
        ]
    else:
        reads = [
            Read("VirtualMachineInstance", VMIS, _path(kv, "virtualmachineinstances", namespace), {}),
            Read("VirtualMachine", "virtualmachines.kubevirt.io", _path(kv, "virtualmachines", namespace), {}),
        ]
    return [*reads, Read("KubeVirt", "kubevirts.kubevirt.io", _path(kv, "kubevirts", None), {})]


def _dra_reads(dra: str, namespace: str | None) -> list[Read]:
    """Claims (cluster-wide: the explainer must know every holder), templates, classes and slices."""
    return [
        Read("ResourceClaim", CLAIMS, _path(dra, "resourceclaims", None), {}, fallback=namespace),
        Read(
            "ResourceClaimTemplate",
            "resourceclaimtemplates.resource.k8s.io",
            _path(dra, "resourceclaimtemplates", namespace),
            {},
        ),
        Read("DeviceClass", "deviceclasses.resource.k8s.io", _path(dra, "deviceclasses", None), {}),
        Read("ResourceSlice", "resourceslices.resource.k8s.io", _path(dra, "resourceslices", None), {}),
    ]


def plan(groups: dict[str, tuple[str, ...]], scope: Scope, namespace: str | None) -> list[Read]:
    """The reads for a scope: the same calls however many VMIs there are."""
    kv = "kubevirt.io/v1" if "v1" in groups.get("kubevirt.io", ()) else None
    dra_version = next((v for v in DRA_VERSIONS if v in groups.get("resource.k8s.io", ())), None)
    launcher = "kubevirt.io=virt-launcher"
    reads: list[Read] = _kubevirt_reads(kv, scope, namespace) if kv else []
    if kv and scope.name and namespace:
        launcher += f",vm.kubevirt.io/name={scope.name}"
    # For one namespace, launchers and claims are still read cluster-wide: the allocation explainer must know
    # who holds every device, and VMs of other namespaces hold devices too (issue 16).
    wide = namespace if not scope.name else None
    reads += [
        Read(
            "Pod", "pods", _path("v1", "pods", None if wide else namespace), {"labelSelector": launcher}, fallback=wide
        ),
        Read("Event", "events", _path("v1", "events", namespace), {"fieldSelector": "type=Warning"}),
        # Node labels decide which nodes a pending launcher may use (the allocation explainer)
        Read("Node", "nodes", _path("v1", "nodes", None), {}),
    ]
    return reads + (_dra_reads(f"resource.k8s.io/{dra_version}", namespace) if dra_version else [])


def _discover(api: Api, pool: ThreadPoolExecutor) -> ClusterFacts:
    apis_f = pool.submit(api.get, "/apis")
    version_f = pool.submit(api.get, "/version")
    try:
        apis = apis_f.result()
    except ApiError as exc:
        raise SourceError(exc.args[0] if exc.status in (0, 401) else f"discovery failed: {exc}") from None
    groups: dict[str, tuple[str, ...]] = {"": ("v1",)}
    for group in apis.get("groups") or []:
        if isinstance(group, dict):
            groups[str(group.get("name"))] = tuple(
                str(v.get("version")) for v in group.get("versions") or [] if isinstance(v, dict)
            )
    try:
        server = version_f.result().get("gitVersion")
    except ApiError:
        server = None
    return ClusterFacts(server_version=server, groups=groups)


def _run_read(api: Api, read: Read) -> list[Obj]:
    if read.single:
        try:
            obj = api.get(read.path)
        except ApiError as exc:
            if exc.status == 404:
                return []
            raise
        return [obj]
    return api.list(read.path, read.query)


def _read_all(
    api: Api, pool: ThreadPoolExecutor, reads: list[Read], inv: Inventory, unavailable: dict[str, str]
) -> None:
    """Run reads concurrently; a refused read becomes a named gap, the rest is still used."""
    futures = [(read, pool.submit(_run_read, api, read)) for read in reads]
    objects: list[Obj] = []
    failed: set[str] = set()
    for read, future in futures:
        try:
            objects += future.result()
        except ApiError as exc:
            unavailable[read.resource] = str(exc)
            failed.add(read.kind)
    inv.listed |= {r.kind for r in reads if not r.single and r.kind not in failed}
    add_objects(inv, objects)


class Reader:
    """One cluster connection: `read` the scope, then (a second phase the caller runs after linking) the
    slices of the nodes a named VMI touches and the evidence of the launchers it chose.

    -A and -n make the same calls however many VMIs exist; a named VMI reads only the ResourceSlices and Node
    objects of the nodes its chains touch (all of them while it is unscheduled).
    """

    def __init__(self, scope: Scope) -> None:
        self.api = Api(scope)
        self.scope = scope
        self.namespace = None if scope.all_namespaces else (scope.namespace or self.api.namespace)
        self.pool = ThreadPoolExecutor(MAX_IN_FLIGHT)
        self.needs_nodes = False
        self._slices: list[Read] = []
        self._unavailable: dict[str, str] = {}

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        self.close(cancel=kind is not None)

    def close(self, cancel: bool = False) -> None:
        self.pool.shutdown(wait=not cancel, cancel_futures=cancel)  # Ctrl-C: do not wait for requests in flight

    def read(self) -> Inventory:
        inv = Inventory(origin=f"cluster {self.api.host}")
        try:
            facts = _discover(self.api, self.pool)
            reads = plan(dict(facts.groups or {}), self.scope, self.namespace)
            targeted = bool(self.scope.name and self.namespace)
            self._slices = [r for r in reads if targeted and r.kind in ("ResourceSlice", "Node")]
            self.needs_nodes = bool(self._slices)
            _read_all(self.api, self.pool, [r for r in reads if r not in self._slices], inv, self._unavailable)
            if VMIS in self._unavailable:  # the subject of every report: without it there is nothing to say
                raise SourceError(f"cannot read {VMIS}: {self._unavailable[VMIS]}")
            claims_scope = self._narrow(reads, inv)
            inv.cluster = ClusterFacts(facts.server_version, facts.groups, self._unavailable, claims_scope)
        except BaseException:
            self.close(cancel=True)
            raise
        return inv

    def _narrow(self, reads: list[Read], inv: Inventory) -> str | None:
        """Cluster-wide lists RBAC refused, read again in the namespace; the namespace when claims were narrowed."""
        narrowed = None
        for read in reads:
            if read.fallback is None or read.resource not in self._unavailable:
                continue
            refused = self._unavailable.pop(read.resource)
            base, _, resource = read.path.rpartition("/")
            local = replace(read, path=f"{base}/namespaces/{_seg(read.fallback)}/{resource}", fallback=None)
            _read_all(self.api, self.pool, [local], inv, self._unavailable)
            if read.resource == CLAIMS and CLAIMS not in self._unavailable:
                inv.notes.append(
                    f"ResourceClaims read in namespace {read.fallback} only ({refused}): the holders "
                    "of devices in other namespaces are unknown"
                )
                narrowed = read.fallback
        return narrowed

    def read_slices(self, inv: Inventory, nodes: set[str]) -> None:
        """The ResourceSlices and Node objects of these nodes (every node's while the VMI is unscheduled)."""
        if not nodes:
            _read_all(self.api, self.pool, self._slices, inv, self._unavailable)
            return
        reads = []
        for read in self._slices:
            for node in sorted(nodes):
                if read.kind == "Node":  # its own node by name, not every node
                    reads.append(replace(read, path=f"{read.path}/{_seg(node)}", single=True))
                else:
                    reads.append(replace(read, query={"fieldSelector": f"spec.nodeName={node}"}))
        _read_all(self.api, self.pool, reads, inv, self._unavailable)

    def read_evidence(self, inv: Inventory, targets: list[tuple[str, str, str]]) -> None:
        """Run the fixed commands in each (namespace, pod, VMI) launcher."""
        inv.evidence.update(collect_evidence(self.api, self.pool, targets))
