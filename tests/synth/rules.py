"""The domain rules the lab shares with the product, imported from ONE place so lab and tool cannot drift apart.

Device-taint tolerations are the product's own matcher (`views.tolerates`, on the product's typed taints).
CEL selectors stay with the lab's evaluator (celsim): the product's cel.py needs the optional
cel-python package, and cel-python lacks Kubernetes' string library (lowerAscii), which kube-scheduler has and
the pending-unsupported-selector scenario relies on. celsim takes the attribute-domain rule from cel.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubectl_vmgpu import build, views

from .celsim import SelectorError, matches


def tolerates(taint: dict[str, Any], tolerations: Iterable[dict[str, Any]]) -> bool:
    """The product's toleration matcher, on the lab's raw taint and tolerations."""
    return views.tolerates(build.taint(taint), tuple(build.toleration(t) for t in tolerations))


__all__ = ["SelectorError", "matches", "tolerates"]
