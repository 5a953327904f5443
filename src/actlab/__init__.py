"""actlab: activation functions and gradient flow, measured.

* ``actlab.activations``: the zoo (functions, derivatives, modules, properties).
* ``actlab.probes``: the training :class:`Monitor` and its statistics.
* ``actlab.claims``: one module (or package) per textbook claim, ``run(config) -> Result``.
* the ``actlab`` command: ``actlab list``, ``show``, ``verify``, ``run``, ``report``, ``sweep``.

The names below are loaded on first use (PEP 562), so that importing ``actlab`` (and
``actlab --help``) loads no torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .activations import get, make_module, names, register_activation
    from .probes import Monitor

__all__ = ["__version__", "Monitor", "get", "make_module", "names", "register_activation"]

_LAZY = {"get": "activations", "make_module": "activations", "names": "activations",
         "register_activation": "activations", "Monitor": "probes"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
