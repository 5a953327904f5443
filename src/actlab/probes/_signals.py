"""What the monitor learns of the training beyond the model: the loss and the optimizer.

Part of :class:`~actlab.probes.Monitor` (a mixin; it never imports the monitor).

* The loss: ``monitor.step(loss=loss)`` (a tensor, read without a host sync at the
  step's flush, or a number). Only sampled steps keep it, in the record's ``loss``;
  the findings compare it with the first sampled step's loss (not moving, diverged).
* The optimizer: ``optimizer=``, or else the first ``torch.optim.Optimizer`` that
  steps one of the watched parameters (a global optimizer step post-hook, removed as
  soon as it has found it: unsampled steps pay nothing for it). Records carry
  ``optimizer``: ``{"name", "family", "lr"}``; the findings' update-ratio band
  depends on the family (``"sgd"`` or ``"adaptive"``, see ``findings.Thresholds``).
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import torch
from torch import Tensor

__all__ = ["optimizer_family", "ADAPTIVE_OPTIMIZERS"]

#: Optimizers whose step is scaled per coordinate by gradient statistics (an update of
#: about lr per entry whatever the gradient's size): their update ratio is about
#: lr / rms(w), not lr x ||g|| / ||w||.
ADAPTIVE_OPTIMIZERS = frozenset({
    "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad", "Adadelta", "SparseAdam", "Adafactor",
    "LAMB", "Lamb", "Lion", "Adan", "AdamW8bit", "Adam8bit", "PagedAdamW", "FusedAdam", "DeepSpeedCPUAdam",
})


def _unwrap(optimizer: Any) -> Any:
    # accelerate's AcceleratedOptimizer, Lightning's LightningOptimizer: the real one inside
    for _ in range(3):
        inner = getattr(optimizer, "optimizer", None) or getattr(optimizer, "_optimizer", None)
        if inner is None or inner is optimizer:
            break
        optimizer = inner
    return optimizer


def optimizer_family(optimizer: Any) -> str:
    """``"sgd"`` (SGD, with or without momentum), ``"adaptive"`` (Adam, AdamW, RMSprop,
    Adagrad, ... by class name, subclasses included) or ``"other"``."""
    for cls in type(_unwrap(optimizer)).__mro__:
        if cls.__name__ in ADAPTIVE_OPTIMIZERS:
            return "adaptive"
        if cls.__name__ == "SGD":
            return "sgd"
    return "other"


class TrainingSignals:
    """The loss and the optimizer, for the records."""

    def _find_optimizer(self) -> None:
        """Until the optimizer is known: a global step post-hook that looks for it."""
        self._seen_optimizer: Any = None
        self._optimizer_search: Any = None
        if self.optimizer is not None or not self._params:
            return
        from torch.optim import optimizer as optim_module

        register = getattr(optim_module, "register_optimizer_step_post_hook", None)
        if register is None:
            return
        watched = {id(p) for _, p in self._params}
        checked: set[int] = set()
        me = weakref.ref(self)

        def look(optimizer: Any, args: Any, kwargs: Any) -> None:
            mon = me()
            if mon is None or id(optimizer) in checked:
                return
            checked.add(id(optimizer))
            if any(id(p) in watched for group in optimizer.param_groups for p in group["params"]):
                mon._seen_optimizer = weakref.ref(optimizer)  # the hook goes at the next record (not
                # here: torch iterates over the global hooks while it runs this one)

        self._optimizer_search = register(look)

    def _stop_optimizer_search(self) -> None:
        handle, self._optimizer_search = getattr(self, "_optimizer_search", None), None
        if handle is not None:
            handle.remove()

    def _optimizer_record(self) -> dict[str, Any] | None:
        optimizer = self.optimizer
        if optimizer is None:
            ref = getattr(self, "_seen_optimizer", None)
            if ref is not None:
                self._stop_optimizer_search()
            optimizer = ref() if ref is not None else None
        if optimizer is None:
            return None
        inner = _unwrap(optimizer)
        lr = None
        groups = getattr(inner, "param_groups", None)
        if groups:
            value = groups[0].get("lr")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                lr = float(value)
        return {"name": type(inner).__name__, "family": optimizer_family(inner), "lr": lr}

    def _take_loss(self, loss: Any, pack: Any) -> Any:
        """The loss for a sampled step's record: a reference into ``pack`` for a tensor
        (read at the flush, no host sync now), a float for a number, or None."""
        if loss is None:
            return None
        if isinstance(loss, Tensor):
            if loss.numel() != 1:
                self._warn_once("loss", f"step(loss=...) takes the scalar loss; got a tensor of shape "
                                        f"{tuple(loss.shape)}: ignored")
                return None
            return pack.scalar(loss.detach().reshape(()).to(torch.float64))
        if isinstance(loss, (int, float)) and not isinstance(loss, bool):
            return float(loss)
        self._warn_once("loss", f"step(loss=...) takes a tensor or a number, not {type(loss).__name__}: ignored")
        return None


def loss_value(ref: Any, value_of: Any) -> float | None:
    """The loss of a record from what ``_take_loss`` kept."""
    if ref is None:
        return None
    if isinstance(ref, float):
        return ref
    v = value_of(ref)
    return v if isinstance(v, float) else (math.nan if v is None else float(v))
