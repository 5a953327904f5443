"""``actlab show``: f and f' of some activations, and where each one saturates.

Curves that coincide stay visible: each activation has its own colour, line style and
marker (``style.style_for``), earlier curves are drawn wider than later ones (relu, drawn
after elu, shows as a thin line inside elu's for x > 0), and markers are staggered. Below
the two panels, one strip per activation marks its saturated inputs, with the one
definition of "saturated" that the monitor and the report use
(``actlab.activations.curves``: |f'| < 5% of max |f'|).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..activations import Activation
from ..activations.curves import (
    SATURATION_SLOPE,
    SATURATION_TEXT,
    UNIT_CURVE_NOTE,
    is_saturating,
    saturated_mask,
    unit_curve,
)
from .style import legend_outside, new_figure, save_figure, style_for, styled

__all__ = ["plot_activations", "SATURATED_SLOPE"]

#: |f'| below this fraction of max |f'| is drawn as saturated (the shared definition).
SATURATED_SLOPE = SATURATION_SLOPE
N_POINTS = 2001
N_MARKERS = 9  # markers per curve, staggered between curves


@styled
def plot_activations(acts: Sequence[Activation], path: str | Path, x_range: tuple[float, float] = (-6.0, 6.0)) -> Path:
    """Draw f (left), f' (right) and the saturated inputs (strip below) of ``acts`` into a PNG.

    Saturated means |f'| < 5% of that activation's max |f'|, for activations declared
    saturating; the others (relu, leaky_relu, maxout, ...) get an empty strip that says so.
    """
    lo, hi = x_range
    if not lo < hi:
        raise ValueError(f"x range {lo}..{hi} is empty: the first value must be smaller")
    if not acts:
        raise ValueError("give at least one activation to draw")
    x = torch.linspace(lo, hi, N_POINTS, dtype=torch.float64)
    xs = x.numpy()
    n = len(acts)
    strip_h = 0.32 * n + 0.5
    fig, axes = new_figure(2, 2, width=11.5, height=4.4 + strip_h,
                           gridspec_kw={"height_ratios": [4.4, strip_h], "hspace": 0.5})
    ax_f, ax_d = axes[0]
    gs = axes[1, 0].get_gridspec()
    for ax in axes[1]:
        ax.remove()
    ax_s = fig.add_subplot(gs[1, :])
    step = N_POINTS // N_MARKERS
    for i, act in enumerate(acts):
        y, d = unit_curve(act, x)
        style = style_for(act.name)
        lw = 3.4 - 2.0 * i / max(n - 1, 1)  # the first drawn is the widest: later ones show inside it
        kw = dict(color=style["color"], linestyle=style["linestyle"], lw=lw, marker=style["marker"], ms=5.5,
                  markevery=(int(step * (i + 0.5) / n), step), label=act.label, zorder=2 + i)
        ax_f.plot(xs, y.numpy(), **kw)
        ax_d.plot(xs, d.numpy(), **kw)
        row = n - 1 - i  # first activation on top
        sat = saturated_mask(act, x).numpy()
        if sat.any():
            ax_s.fill_between(xs, row - 0.35, row + 0.35, where=sat, color=style["color"], alpha=0.75, lw=0)
        elif not is_saturating(act):
            ax_s.text(0.5 * (lo + hi), row, "declared non-saturating", ha="center", va="center",
                      fontsize=8, color="0.35")
        else:
            ax_s.text(0.5 * (lo + hi), row, f"not saturated in [{lo:g}, {hi:g}]", ha="center", va="center",
                      fontsize=8, color="0.35")
    for ax, title, ylabel in ((ax_f, "activation f(x)", "f(x)"), (ax_d, "derivative f'(x)", "f'(x)")):
        ax.axhline(0, color="0.3", lw=0.8)
        ax.axvline(0, color="0.3", lw=0.8)
        ax.set_xlabel("input x")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.set_xlim(lo, hi)
    layers = [a.label for a in acts if a.kind == "layer"]
    if layers:
        ax_f.set_title(f"activation f(x)\n{', '.join(layers)}: {UNIT_CURVE_NOTE}", fontsize=9.5)
    ax_s.set_xlim(lo, hi)
    ax_s.set_ylim(-0.6, n - 0.4)
    ax_s.set_yticks(np.arange(n), [a.label for a in reversed(acts)])
    ax_s.grid(False)
    ax_s.set_xlabel("input x")
    ax_s.set_title(f"saturated inputs: {SATURATION_TEXT} (the monitor's and the report's definition)",
                   fontsize=10)
    legend_outside(ax_d)
    names = ", ".join(a.label for a in acts)
    fig.suptitle(names if len(names) < 90 else f"{len(acts)} activations", fontsize=12)
    return save_figure(fig, path)
