"""Figures, drawn from results (``Result`` objects or ``result.json``), never from live training.

``plot_result(result, out_dir)`` dispatches to ``plots/<claim>.py``, whose
``plot(result, out_dir) -> list[Path]`` writes that claim's PNGs.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from pathlib import Path

from ..claims import CLAIMS
from ..verdicts.result import Result
from .activations import plot_activations
from .style import on_figure_saved

__all__ = ["plot_activations", "plot_result"]


def plot_result(result: Result, out_dir: str | Path,
                progress: Callable[[int, int | None], None] | None = None) -> list[Path]:
    """Every figure of ``result``'s claim, as PNGs in ``out_dir``; returns their paths.

    ``progress(done, total)`` is called before the first figure and after each one is saved;
    ``total`` is the number the claim's ``captions(result)`` announces (None if it has none).
    """
    module_name = CLAIMS.get(result.experiment)
    if module_name is None or importlib.util.find_spec(f"{__name__}.{module_name}") is None:
        return []
    module = importlib.import_module(f"{__name__}.{module_name}")
    if progress is None:
        return list(module.plot(result, Path(out_dir)))
    try:
        total: int | None = len(module.captions(result)) if hasattr(module, "captions") else None
    except Exception:  # noqa: BLE001 - a count for a progress line is never worth failing the figures
        total = None
    done = 0

    def saved(_path: Path) -> None:
        nonlocal done
        done += 1
        progress(done, None if total is None else max(total, done))

    progress(0, total)
    with on_figure_saved(saved):
        return list(module.plot(result, Path(out_dir)))
