"""Figures, drawn from results (``Result`` objects or ``result.json``), never from live training.

``plot_result(result, out_dir)`` dispatches to ``plots/<claim>.py``, whose
``plot(result, out_dir) -> list[Path]`` writes that claim's PNGs.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from ..claims import CLAIMS
from ..verdicts.result import Result
from .activations import plot_activations

__all__ = ["plot_activations", "plot_result"]


def plot_result(result: Result, out_dir: str | Path) -> list[Path]:
    """Every figure of ``result``'s claim, as PNGs in ``out_dir``; returns their paths."""
    module_name = CLAIMS.get(result.experiment)
    if module_name is None or importlib.util.find_spec(f"{__name__}.{module_name}") is None:
        return []
    module = importlib.import_module(f"{__name__}.{module_name}")
    return list(module.plot(result, Path(out_dir)))
