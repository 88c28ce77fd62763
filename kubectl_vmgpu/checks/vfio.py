"""VFIO config checks: the NVIDIA VfioDeviceConfig that applies to a passthrough request."""

from __future__ import annotations

from collections.abc import Iterator

from ..chain import Chain, LinkName, VmiView
from ..model import FixPatch, Severity
from ..views import OpaqueConfig
from .base import Context, E, Hit, VmiCheck, claim_holder, gpu_label, restart, template_request_path

VFIO_KIND = "VfioDeviceConfig"
BACKEND_POLICIES = ("LegacyOnly", "PreferIommuFD")
VFIO_CLASS = "vfio.gpu.nvidia.com"
NVIDIA_DRIVER = "gpu.nvidia.com"

API_DEVICE_YAML = """config:
- requests: [{request}]
  opaque:
    driver: gpu.nvidia.com
    parameters:
      apiVersion: resource.nvidia.com/v1beta1
      kind: VfioDeviceConfig
      iommu:
        backendPolicy: LegacyOnly
        enableAPIDevice: true"""


def is_vfio(chain: Chain) -> bool:
    """Whether the GPU is a VFIO passthrough request: the vfio class, or a `type: vfio` device."""
    return chain.class_name == VFIO_CLASS or (chain.device is not None and chain.device.device.type == "vfio")


def vfio_configs(chain: Chain) -> list[OpaqueConfig]:
    """The chain's effective configs that are VfioDeviceConfigs."""
    return [c for c in chain.configs if c.kind == VFIO_KIND]


IOMMU_DEVICE = "/dev/iommu"


def iommufd_mode(chain: Chain) -> bool:
    """The driver's iommufd mode: effective backendPolicy PreferIommuFD on a device whose host has /dev/iommu
    (slice `iommuFDEnabled: true`) [dra-driver-nvidia-gpu vfio-cdi.go GetCommonEdits, GetDeviceSpecsByPCIBusID]."""
    wants = any(c.vfio is not None and c.vfio.iommufd for c in vfio_configs(chain))
    return wants and chain.device is not None and chain.device.device.iommufd


def api_device_node(chain: Chain) -> str:
    """The API device the driver injects with enableAPIDevice: /dev/iommu (iommufd mode), else /dev/vfio/vfio."""
    return IOMMU_DEVICE if iommufd_mode(chain) else "/dev/vfio/vfio"


def api_device_seen(chain: Chain) -> bool:
    """Whether the launcher shows the API device of the chain's mode (the driver v25.12 injected it always)."""
    evd = chain.evidence
    if iommufd_mode(chain):
        return evd.iommu is not None and IOMMU_DEVICE in evd.iommu
    return evd.vfio is not None and "vfio" in evd.vfio


def api_device_not_enabled(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """A VFIO request whose effective VfioDeviceConfig lacks iommu.enableAPIDevice: true (or that has none)."""
    for chain in view.chains:
        if not is_vfio(chain) or chain.request is None:
            continue
        configs = vfio_configs(chain)
        if any(c.vfio is not None and c.vfio.enable_api_device is True for c in configs):
            continue
        if api_device_seen(chain):
            continue  # the driver injects it anyway (v25.12): works as is
        found = "its VfioDeviceConfig lacks iommu.enableAPIDevice: true" if configs else "it has no VfioDeviceConfig"
        holder = claim_holder(chain)
        settled = chain.evidence.vfio is not None or _driver_has_api_config(ctx, chain)
        if iommufd_mode(chain):
            effect = "the driver will not inject /dev/iommu (iommufd mode: PreferIommuFD on a host with iommufd)"
        else:
            effect = "the driver will not inject /dev/vfio/vfio"
        yield Hit(
            holder,
            f"{gpu_label(chain)} is a VFIO passthrough request but {found}: {effect} and libvirt cannot assign the GPU"
            + ("" if settled else _DRIVER_DOUBT),
            _api_device_fix(chain, holder, configs),
            LinkName.CLAIM,
            gpu=chain.gpu.name,
            # No patch while the driver may be v25.12: its VfioDeviceConfig has no fields and strict decoding
            # would refuse the iommu block the patch adds.
            fix_patch=_api_device_patch(ctx, view, chain) if settled else None,
            severity=None if settled else Severity.WARNING,
        )


def _api_device_fix(chain: Chain, holder: object, configs: list[OpaqueConfig]) -> str:
    """Set the flag in the VfioDeviceConfig that applies (one VFIO config group per claim), or add one."""
    then = "then delete and recreate the claim (restart the VM for a template claim)"
    if configs:
        where = "the DeviceClass's" if configs[0].source == "FromClass" else f"{holder}'s"
        return f"set iommu.enableAPIDevice: true in {where} VfioDeviceConfig (a claim takes one VFIO config), {then}"
    spec = ".spec" if chain.template is not None else ""
    return (
        f"add to spec{spec}.devices of {holder}:\n"
        + API_DEVICE_YAML.format(request=chain.gpu.request_name)
        + f"\n{then}"
    )


def api_device_op(chain: Chain) -> dict[str, object]:
    """The JSON patch operation that adds a VfioDeviceConfig with enableAPIDevice to the GPU's template."""
    config = {
        "requests": [chain.gpu.request_name],
        "opaque": {
            "driver": NVIDIA_DRIVER,
            "parameters": {
                "apiVersion": "resource.nvidia.com/v1beta1",
                "kind": VFIO_KIND,
                "iommu": {"backendPolicy": "LegacyOnly", "enableAPIDevice": True},
            },
        },
    }
    if any(c.source.lower().endswith("claim") for c in chain.configs):
        return {"op": "add", "path": "/spec/spec/devices/config/-", "value": config}
    return {"op": "add", "path": "/spec/spec/devices/config", "value": [config]}


def _api_device_patch(ctx: Context, view: VmiView, chain: Chain) -> FixPatch | None:
    """enableAPIDevice on the template's VfioDeviceConfig, or a new one when it has none; the VM restart makes a
    new claim from it. None for a direct claim or a class config (edited by hand)."""
    found = template_request_path(ctx, chain)
    if found is None or chain.template is None:
        return None
    mine = [
        c
        for c in chain.template.spec.configs
        if c.vfio is not None and (not c.requests or chain.gpu.request_name in c.requests)
    ]
    if not mine and vfio_configs(chain):  # the config that applies is not the template's (a DeviceClass's)
        return None
    if mine and mine[0].vfio is not None and (mine[0].vfio.unknown_fields or mine[0].vfio.api_device_invalid):
        return None  # strict decoding refuses that config whatever the flag says: vfio-config-invalid first
    op = api_device_op(chain) if not mine else _enable_op(mine[0])
    meta = chain.template.meta
    return FixPatch(found[0], "ResourceClaimTemplate", meta.namespace, meta.name, "json", [op], restart(view))


def _enable_op(cfg: OpaqueConfig) -> dict[str, object]:
    """enableAPIDevice: true in an existing VfioDeviceConfig of the template (its iommu block added if absent)."""
    base = f"/spec/spec/devices/config/{cfg.index}/opaque/parameters/iommu"
    if cfg.vfio is not None and cfg.vfio.iommu_block:
        return {"op": "add", "path": f"{base}/enableAPIDevice", "value": True}
    return {"op": "add", "path": base, "value": {"enableAPIDevice": True}}


# Driver v0.4.0+ publish `iommuFDEnabled` on every vfio device [dra-driver-nvidia-gpu v0.4.1
# cmd/gpu-kubelet-plugin/deviceinfo.go]; v25.12.0 does not, always injects /dev/vfio/vfio and its
# VfioDeviceConfig has no fields [v25.12.0 api/nvidia.com/resource/v1beta1/vfiodeviceconfig.go].
# The DRA driver's own version is in no object the tool reads (slices' driverVersion is the kernel driver).
_V04_ATTR = "iommuFDEnabled"
_DRIVER_DOUBT = (
    " (unconfirmed: /dev/vfio could not be read, and the driver's vfio devices publish no iommuFDEnabled, so it "
    "may be v25.12, which always injects /dev/vfio/vfio and needs no VfioDeviceConfig)"
)


def _driver_has_api_config(ctx: Context, chain: Chain) -> bool:
    """Whether the NVIDIA driver is v0.4+ (enableAPIDevice decides /dev/vfio/vfio): its vfio devices say so."""
    if chain.device is not None:
        return _V04_ATTR in chain.device.device.attributes
    return any(
        dev.type == "vfio" and _V04_ATTR in dev.attributes
        for (driver, _, _), found in ctx.idx.devices.items()
        if driver == NVIDIA_DRIVER
        for _, dev in found
    )


def iommufd_unsupported(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """backendPolicy PreferIommuFD on a KubeVirt older than v1.9, or on v1.9 without the Alpha IOMMUFD gate."""
    kv = view.kubevirt
    blocker = kv.iommufd_blocker()
    if blocker is None:
        return
    gate = (
        ""
        if kv.predates_iommufd()
        else (
            ", or enable the Alpha IOMMUFD feature gate in the KubeVirt CR (spec.configuration.developerConfiguration."
            "featureGates; virt-launcher needs libvirt >= 12.2)"
        )
    )
    for chain in view.chains:
        for cfg in vfio_configs(chain):
            if cfg.vfio is not None and cfg.vfio.iommufd:
                yield Hit(
                    claim_holder(chain),
                    f"{gpu_label(chain)} asks for backendPolicy PreferIommuFD (config {cfg.source}): {blocker}",
                    f"set iommu.backendPolicy: LegacyOnly in the VfioDeviceConfig of {claim_holder(chain)}{gate}",
                    LinkName.CLAIM,
                    gpu=chain.gpu.name,
                )
                break


def _config_problems(cfg: OpaqueConfig, request_names: set[str]) -> list[str]:
    problems = []
    vfio = cfg.vfio
    assert vfio is not None
    for name in vfio.unknown_fields:
        # `iommu` itself is a known field: it is listed only when it is not an object
        problems.append(
            "iommu must be an object" if name == "iommu" else f'strict decoding error: unknown field "{name}"'
        )
    if vfio.policy_given and vfio.policy_raw not in BACKEND_POLICIES:
        problems.append(
            f"unknown IOMMU backend policy: {vfio.policy_raw}, supported IOMMU backend policies: "
            + ", ".join(BACKEND_POLICIES)
        )
    if vfio.api_device_invalid is not None:
        problems.append(f"iommu.enableAPIDevice must be true or false, not {vfio.api_device_invalid}")
    if cfg.driver and cfg.driver != NVIDIA_DRIVER:
        problems.append(f"a VfioDeviceConfig is addressed to driver {cfg.driver!r}, not {NVIDIA_DRIVER}")
    for req in cfg.requests:
        if req.partition("/")[0] not in request_names:
            problems.append(f"config names request {req!r}, which the claim does not have")
    return problems


def vfio_config_invalid(ctx: Context, view: VmiView) -> Iterator[Hit]:
    """A VfioDeviceConfig the driver refuses: unknown fields or policy, another driver or request, or several."""
    seen: set[tuple[str, str]] = set()
    for chain in view.chains:
        names = {r.name for r in chain.claim_spec.requests} if chain.claim_spec else set()
        configs = vfio_configs(chain)
        problems = [p for cfg in configs for p in _config_problems(cfg, names)]
        if len({(c.source, str(c.requests)) for c in configs}) > 1:
            problems.append(
                f"{len(configs)} VfioDeviceConfigs apply to request {chain.gpu.request_name!r}; "
                "the driver accepts one VFIO config group per claim"
            )
        holder = claim_holder(chain)
        if not problems or (holder.name, chain.gpu.request_name) in seen:
            continue
        seen.add((holder.name, chain.gpu.request_name))
        yield Hit(
            holder,
            f"the VfioDeviceConfig for {gpu_label(chain)} is invalid; the driver fails NodePrepareResources: "
            + "; ".join(problems),
            f"fix the opaque config in {holder} (allowed: iommu.backendPolicy LegacyOnly|PreferIommuFD, "
            "iommu.enableAPIDevice true|false), then recreate the claim",
            LinkName.CLAIM,
            gpu=chain.gpu.name,
        )


CHECKS = (
    VmiCheck(
        id="VG208",
        name="api-device-not-enabled",
        severity=E,
        stage="vmi",
        summary="VfioDeviceConfig lacks iommu.enableAPIDevice: true",
        explanation=(
            "Without it the NVIDIA driver (v0.4+) does not inject the VFIO API device libvirt needs: /dev/vfio/vfio, "
            "or /dev/iommu in iommufd mode (PreferIommuFD on a host with iommufd). Driver v25.12 always "
            "injected /dev/vfio/vfio: when /dev/vfio could not be read and the devices do not show a v0.4+ driver "
            "(attribute iommuFDEnabled), the finding is a warning that names that doubt."
        ),
        fix="Add the opaque VfioDeviceConfig with enableAPIDevice: true.",
        versions="all supported (KubeVirt v1.6-v1.9); NVIDIA DRA driver v0.4+ (a warning when it may be v25.12)",
        run=api_device_not_enabled,
    ),
    VmiCheck(
        id="VG209",
        name="iommufd-unsupported",
        severity=E,
        stage="vmi",
        summary="backendPolicy PreferIommuFD that this KubeVirt cannot use",
        explanation=(
            "KubeVirt has no iommufd backend before v1.9; v1.9.0 has it behind the Alpha IOMMUFD feature gate "
            "(off by default; libvirt >= 12.2)."
        ),
        fix="Use LegacyOnly, or (v1.9) enable the IOMMUFD gate with libvirt >= 12.2.",
        versions="KubeVirt v1.6-v1.8; v1.9 without the IOMMUFD gate",
        run=iommufd_unsupported,
    ),
    VmiCheck(
        id="VG210",
        name="vfio-config-invalid",
        severity=E,
        stage="vmi",
        summary="the VfioDeviceConfig is invalid",
        explanation=(
            "The driver decodes strictly: unknown fields, unknown backendPolicy, configs for missing requests or "
            "another driver, or several VFIO configs fail NodePrepareResources. Its Normalize() runs before "
            "Validate(): an empty or null backendPolicy (LegacyOnly) and a null enableAPIDevice (false) are valid."
        ),
        fix="Fix the config.",
        versions="all supported (KubeVirt v1.6-v1.9); NVIDIA DRA driver with VfioDeviceConfig",
        run=vfio_config_invalid,
    ),
)
