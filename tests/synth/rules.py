"""The domain rules the lab shares with the product, imported from ONE place so lab and tool cannot drift apart.

Device-taint tolerations are the product's own matcher (the lead may move it out of chain.py: re-point the
import here). CEL selectors stay with the lab's evaluator (celsim): the product's cel.py needs the optional
cel-python package, and cel-python lacks Kubernetes' string library (lowerAscii), which kube-scheduler has and
the pending-unsupported-selector scenario relies on. celsim takes the attribute-domain rule from cel.py.
"""

from __future__ import annotations

from kubectl_vmgpu.chain import tolerates

from .celsim import SelectorError, matches

__all__ = ["SelectorError", "matches", "tolerates"]
