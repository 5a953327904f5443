"""The monitor and ``torch.compile``: never a recompile storm.

Part of :class:`~actlab.probes.Monitor` (a mixin; it never imports the monitor).

Every way a model gets compiled is detected:

* ``torch.compile(model)`` before the monitor attaches (the monitor is given the
  ``OptimizedModule``, or a model with a compiled submodule), and ``model.compile()``
  in place (``nn.Module.compile`` sets ``_compiled_call_impl``): found when it
  attaches;
* ``torch.compile(model)`` (it marks ``model._is_torch_compile``) or
  ``model.compile()`` after the monitor attached: found at the next ``step()``, or
  by the monitor's own hooks while Dynamo traces them (``torch.compiler.is_compiling()``).

On a compiled model the monitor records parameter statistics only (said in one
warning): compiled code calls no Python activation to watch. Its code stays out of
the graph: while Dynamo traces a forward, every hook of the monitor returns at its
first line (nothing is recorded, nothing traced but that test). Module hooks are
never added or removed once the model is compiled, because Dynamo guards on a
module's hooks and would recompile: hooks that were installed when the compile was
found stay in place, doing nothing, until ``detach()``. Gradient hooks live on the
parameters, outside the compiled forward, and go on as before. A test counts the
frames Dynamo compiles (``torch._dynamo.utils.counters``): none after warm-up.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from ._model_scan import compiled_module

__all__: list[str] = []  # private: the Monitor's pieces

_IS_COMPILING = getattr(torch.compiler, "is_compiling", None) or (lambda: False)


def is_compiling() -> bool:
    """True while Dynamo traces the calling code."""
    return _IS_COMPILING()


def marked_compiled(model: nn.Module) -> bool:
    """``model`` itself was compiled (``torch.compile(model)`` or ``model.compile()``)."""
    return bool(getattr(model, "_is_torch_compile", False)) or getattr(model, "_compiled_call_impl", None) is not None


class CompileGuard:
    """Detects compilation after attach and keeps the monitor out of Dynamo's way."""

    def _check_compiled(self, full: bool = False) -> None:
        """Compiled after attach: parameters only from now on. ``full``: look at every
        submodule too (on sampled steps), not only the root and the hooks' traces."""
        if self._compiled is not None:
            return
        if self._traced or marked_compiled(self.model):
            name = compiled_module(self.model) or type(self.model).__name__
        elif full:
            name = compiled_module(self.model)
            if name is None:
                return
        else:
            return
        # hooks installed now stay (Dynamo guards on them): removing them would recompile
        self._frozen_hooks = bool(self._handles)
        self._parameters_only(name, late=True)

    def _parameters_only(self, compiled: str, late: bool = False) -> None:
        """Under torch.compile: no activation hooks from now on, said in one line."""
        self._compiled = compiled
        if self._want_any_activation:
            when = " (after the monitor attached)" if late else ""
            warnings.warn(f"actlab Monitor: {compiled} is compiled with torch.compile{when}, so the monitor records "
                          "parameter statistics only (gradient norms, update ratios, sign coherence, histograms) and "
                          "keeps its code out of the compiled graph (no recompiles): compiled code calls no Python "
                          "activation to watch. To see activations, monitor the model uncompiled (a short debug run).",
                          stacklevel=5)
        self._want_any_activation = self._want_activations = self._track_feeds = False
        self._mode_regions, self._mode_modules = [], frozenset()
