"""The settings several claims share, checked one way.

A claim's ``Config.__post_init__`` calls ``check_fields(self, "dataset", "depth", ...)``
for the fields it has in common with other claims (same name, same meaning, same
bounds), in the order it wants them checked, and checks its own fields itself. A field
with its own bounds in some claim (``zigzag``'s ``batch_size``, ``sign-coherence``'s
``seed``) is checked there by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .models import INITS
from .settings import (
    MAX_BATCH,
    MAX_DEPTH,
    MAX_WIDTH,
    MAX_WORKERS,
    check_activations,
    check_choice,
    check_float,
    check_int,
    resolve_device,
)
from .trainer import DATASETS

__all__ = ["check_fields", "FIELD_CHECKS"]


def _activations(config: Any) -> None:
    # canonical names, duplicates dropped (the dataclass is frozen)
    object.__setattr__(config, "activations", check_activations(config.activations))


def _baseline(config: Any) -> None:
    """The activation every per-activation number is compared with (``--baseline``, default relu):
    a canonical name, measured too (added to ``activations`` when missing). Check it after
    ``activations``."""
    (name,) = check_activations((config.baseline,), what="baseline")
    object.__setattr__(config, "baseline", name)
    if hasattr(config, "activations") and name not in config.activations:
        object.__setattr__(config, "activations", (*config.activations, name))


#: field name -> its check (ValueError naming the bad value).
FIELD_CHECKS: dict[str, Callable[[Any], None]] = {
    "activations": _activations,
    "baseline": _baseline,
    "dataset": lambda c: check_choice("dataset", c.dataset, DATASETS),
    "init": lambda c: check_choice("init", c.init, INITS),
    "depth": lambda c: check_int("depth", c.depth, min_value=1, max_value=MAX_DEPTH),
    "width": lambda c: check_int("width", c.width, min_value=1, max_value=MAX_WIDTH),
    "batch_size": lambda c: check_int("batch_size", c.batch_size, min_value=1, max_value=MAX_BATCH),
    "steps": lambda c: check_int("steps", c.steps, min_value=1),
    "momentum": lambda c: check_float("momentum", c.momentum, min_value=0.0, max_value=0.999),
    "seed": lambda c: check_int("seed", c.seed, min_value=0),
    "seeds": lambda c: check_int("seeds", c.seeds, min_value=1),
    "train_examples": lambda c: check_int("train_examples", c.train_examples, min_value=0),
    "test_examples": lambda c: check_int("test_examples", c.test_examples, min_value=0),
    "workers": lambda c: check_int("workers", c.workers, min_value=0, max_value=MAX_WORKERS),
    "device": lambda c: resolve_device(c.device),
}


def check_fields(config: Any, *names: str) -> None:
    """Check ``config``'s shared fields ``names``, in that order."""
    for name in names:
        FIELD_CHECKS[name](config)
