"""Pass/fail tests of the virt-launcher evidence checks (checks/launcher.py), built from views."""

from __future__ import annotations

from kubectl_vmgpu.chain import LinkName, link_gpu
from kubectl_vmgpu.checks import gaps as g
from kubectl_vmgpu.checks import launcher as c
from kubectl_vmgpu.model import PodEvidence, Ref

from . import factory as f

VMI_REF = Ref("VirtualMachineInstance", f.NS, f.VMI)
POD_REF = Ref("Pod", f.NS, f.POD)
# Everything was read inside the launcher (the chains carry what was found).
COLLECTED = PodEvidence(metadata_files={}, vfio_listing="", domain_xml="<domain/>")


def _view(*chains: f.Chain, **kw: object) -> f.VmiView:
    return f.view(list(chains) or [f.vfio_chain()], **{"pod_evidence": COLLECTED, **kw})


def test_healthy_view_passes_every_launcher_check() -> None:
    ctx, view = f.ctx(), _view()
    for check in c.CHECKS:
        assert f.hits(check.run, ctx, view) == [], check.name


def test_metadata_missing() -> None:
    none = f.evidence(vfio=("42", "vfio"), metadata_files=(), metadata=None, metadata_devices=())
    (hit,) = f.hits(c.metadata_missing, f.ctx(), _view(f.vfio_chain(evidence=none)))
    assert hit.message == (
        f"no *-metadata.json in {f.METADATA_DIR}/ for GPU 'gpu1': virt-launcher cannot tell which device to attach "
        '(`failed to read metadata for claim "gpu-claim" request "gpu": no files matching ...`)'
    )
    assert hit.subject == POD_REF and hit.link is LinkName.METADATA and hit.gpu == f.GPU
    elsewhere = f.vfio_chain(evidence=f.evidence(metadata_files=(), metadata_other=("/var/run/x/a-metadata.json",)))
    (msg,) = f.messages(f.hits(c.metadata_missing, f.ctx(), _view(elsewhere)))
    assert msg.endswith("; metadata found elsewhere: /var/run/x/a-metadata.json")
    # KubeVirt v1.6/v1.7 read no metadata folder: nothing to miss.
    unused = f.vfio_chain(evidence=f.evidence(metadata_dir=None, metadata_files=()))
    assert f.hits(c.metadata_missing, f.ctx(), _view(unused)) == []


def test_metadata_unreadable() -> None:
    two = (f.METADATA_FILE, f"{f.METADATA_DIR}/other-metadata.json")
    (hit,) = f.hits(c.metadata_unreadable, f.ctx(), _view(f.vfio_chain(evidence=f.evidence(metadata_files=two))))
    assert hit.message == (
        f"the DRA metadata of GPU 'gpu1' cannot be used: 2 metadata files ({', '.join(two)}); KubeVirt needs one"
    )
    assert hit.subject == POD_REF and hit.link is LinkName.METADATA
    broken = f.vfio_chain(evidence=f.evidence(metadata=None, metadata_devices=(), metadata_error="not JSON"))
    assert f.messages(f.hits(c.metadata_unreadable, f.ctx(), _view(broken)))[0].endswith("cannot be used: not JSON")
    empty = f.vfio_chain(evidence=f.evidence(metadata_devices=()))
    (msg,) = f.messages(f.hits(c.metadata_unreadable, f.ctx(), _view(empty)))
    assert msg.endswith(f"{f.METADATA_FILE} lists 0 devices for request 'gpu'; KubeVirt needs exactly one")


def test_pci_mismatch() -> None:
    moved = f.vfio_chain(evidence=f.evidence(vfio=("42", "vfio"), hostdev=f.hostdev(pci="0000:5e:00.0")))
    (hit,) = f.hits(c.pci_mismatch, f.ctx(), _view(moved))
    assert hit.message == (
        "GPU 'gpu1' has different pciBusIDs: ResourceSlice 0000:3b:00.0, metadata 0000:3b:00.0, "
        "domain XML 0000:5e:00.0: the guest may get another device than the one allocated"
    )
    assert hit.subject == VMI_REF and hit.link is LinkName.DOMAIN
    # Addresses compare case-insensitively.
    upper = f.vfio_chain(evidence=f.evidence(vfio=("42", "vfio"), hostdev=f.hostdev(pci=f.PCI.upper())))
    assert f.hits(c.pci_mismatch, f.ctx(), _view(upper)) == []


def test_api_device_absent() -> None:
    (hit,) = f.hits(c.api_device_absent, f.ctx(), _view(f.vfio_chain(evidence=f.evidence(vfio=("42",)))))
    assert hit.message.startswith("/dev/vfio in the compute container holds 42 but no /dev/vfio/vfio: ")
    assert hit.subject == POD_REF and hit.link is LinkName.VFIO
    (msg,) = f.messages(f.hits(c.api_device_absent, f.ctx(), _view(f.vfio_chain(evidence=f.evidence(vfio=())))))
    assert msg.startswith("/dev/vfio in the compute container holds no IOMMU group but no /dev/vfio/vfio")
    # Not a VFIO GPU: /dev/vfio is not its business.
    container = f.vfio_chain(class_name="gpu.nvidia.com", device=None, evidence=f.evidence(vfio=("42",)))
    assert f.hits(c.api_device_absent, f.ctx(), _view(container)) == []


def test_hostdev_missing() -> None:
    other = f.hostdev(alias="ua-dra-gpu-other")
    chain = f.vfio_chain(evidence=f.evidence(vfio=("42", "vfio"), hostdev=None, hostdevs=(other,)))
    (hit,) = f.hits(c.hostdev_missing, f.ctx(), _view(chain))
    assert hit.message == (
        "domain vms_vm1 has no hostdev with alias ua-dra-gpu-gpu1 (hostdevs: ua-dra-gpu-other): the guest does "
        "not see the device"
    )
    assert hit.subject == VMI_REF and hit.link is LinkName.DOMAIN
    assert f.hits(c.hostdev_missing, f.ctx(), _view(chain, phase="Scheduled")) == []


def test_launcher_sync_failed() -> None:
    vmi = f.vmi().meta
    events = [
        f.event(vmi, "SyncFailed", "server error: no mdevUUID or pciBusID", count=2, last="2025-01-01T00:01:00Z"),
        f.event(vmi, "SyncFailed", "failed to read metadata for claim", last="2025-01-01T00:02:00Z"),
        f.event(vmi, "SyncFailed", "unrelated: disk image missing", last="2025-01-01T00:03:00Z"),
    ]
    (hit,) = f.hits(c.launcher_sync_failed, f.ctx(extra=events), _view())
    assert hit.message == "virt-handler reports SyncFailed (3x): failed to read metadata for claim"
    # no evidence read: DeviceMetadata is advised only for a vfio device without metadata anywhere
    assert hit.fix == "check the claim/request names of the VMI's GPUs and the metadata files in the compute container"
    assert hit.subject == VMI_REF and hit.link is LinkName.DOMAIN and hit.gpu is None
    normal = f.event(vmi, "SyncFailed", "vfio", type="Normal")
    assert f.hits(c.launcher_sync_failed, f.ctx(extra=[normal, events[2]]), _view()) == []


def test_evidence_unavailable_pod_not_running() -> None:
    (hit,) = f.hits(g.evidence_unavailable, f.ctx(), _view(pod=f.pod(phase="Pending"), pod_evidence=None))
    assert hit.message == f"not checked inside the launcher (launcher evidence: pod {f.POD} is Pending)"
    assert hit.subject == POD_REF and hit.link is LinkName.METADATA and hit.gpu is None
    assert f.hits(g.evidence_unavailable, f.ctx(), _view(phase="Succeeded", pod_evidence=None)) == []


def test_evidence_unavailable_no_exec_or_not_in_snapshot() -> None:
    (msg,) = f.messages(f.hits(g.evidence_unavailable, f.ctx(exec_disabled=True), _view(pod_evidence=None)))
    assert msg == "not checked inside the launcher (metadata files, /dev/vfio and domain XML: --no-exec)"
    (msg,) = f.messages(f.hits(g.evidence_unavailable, f.ctx(), _view(pod_evidence=None)))
    assert msg.endswith("(metadata files, /dev/vfio and domain XML: no launcher evidence in the snapshot)")


def test_evidence_unavailable_reasons_from_the_linked_chain() -> None:
    """The reasons come from chain.link, which copies the pod's `unavailable` into each chain's evidence."""
    ctx = f.ctx()
    forbidden = PodEvidence(unavailable={"metadata": "exec forbidden", "vfio": "exec forbidden", "domain": "no virsh"})
    chain = link_gpu(ctx.idx, f.devices(), f.NS, f.vmi(), f.pod(), f.gpu(), forbidden)
    (msg,) = f.messages(f.hits(g.evidence_unavailable, ctx, _view(chain, pod_evidence=forbidden)))
    assert msg == "not checked inside the launcher (metadata files and /dev/vfio: exec forbidden; domain XML: no virsh)"
    # Nothing said about a piece: "not collected"; KubeVirt v1.7 reads no metadata files.
    (msg,) = f.messages(
        f.hits(g.evidence_unavailable, ctx, _view(kubevirt=f.kubevirt((1, 7, 0)), pod_evidence=PodEvidence()))
    )
    assert msg == "not checked inside the launcher (/dev/vfio and domain XML: not collected)"


def test_evidence_unavailable_no_domain_yet() -> None:
    early = PodEvidence(metadata_files={}, vfio_listing="", unavailable={"domain": "failed to get domain: not found"})
    chain = f.vfio_chain(evidence=f.evidence(domain_error="failed to get domain: not found"))
    assert f.hits(g.evidence_unavailable, f.ctx(), _view(chain, pod_evidence=early, phase="Scheduled")) == []
    (msg,) = f.messages(f.hits(g.evidence_unavailable, f.ctx(), _view(chain, pod_evidence=early)))
    assert msg == "not checked inside the launcher (domain XML: failed to get domain: not found)"


def test_evidence_unavailable_domain_unparsable() -> None:
    chain = f.vfio_chain(evidence=f.evidence(domain_error="domain XML is not well-formed"))
    (msg,) = f.messages(f.hits(g.evidence_unavailable, f.ctx(), _view(chain)))
    assert msg == "not checked inside the launcher (domain XML: domain XML is not well-formed)"
