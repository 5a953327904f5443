"""The claims: one module (or package, for a claim with parts) per claim, each with
``run(config) -> Result`` (see :mod:`actlab.training.settings`).

``CLAIMS`` maps the command-line name of each claim to its module; modules are
imported on first use so that ``actlab list`` starts fast.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

__all__ = ["CLAIMS", "claim_names", "load_claim"]

# DESIGN.md order. Name on the command line -> module (or package) under actlab.claims.
CLAIMS: dict[str, str] = {
    "sign-coherence": "sign_coherence",
    "zigzag": "zigzag",
    "vanishing": "vanishing",
    "saturation": "saturation",
    "dead-relu": "dead_relu",
    "convergence": "convergence",
    "cost": "cost",
}


def claim_names(available_only: bool = True) -> list[str]:
    """Claim names in DESIGN.md order (only those whose module exists, by default)."""
    if not available_only:
        return list(CLAIMS)
    return [n for n in CLAIMS if importlib.util.find_spec(f"{__name__}.{CLAIMS[n]}") is not None]


def load_claim(name: str) -> ModuleType:
    """The module of claim ``name``; ValueError listing the valid names otherwise."""
    key = name.strip().lower().replace("_", "-")
    if key not in CLAIMS or key not in claim_names():
        import difflib

        valid = claim_names()
        close = difflib.get_close_matches(key, valid, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown claim {name!r}{hint} (claims: {', '.join(valid)}, or all)")
    return importlib.import_module(f"{__name__}.{CLAIMS[key]}")
