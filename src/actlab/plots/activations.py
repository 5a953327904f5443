"""``actlab show``: f and f' of some activations on one figure."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from ..activations import Activation
from .style import color_for, legend_outside, new_figure, save_figure, styled

__all__ = ["plot_activations", "SATURATED_SLOPE"]

#: |f'| below this fraction of max |f'| is drawn as saturated.
SATURATED_SLOPE = 0.05


def _curves(act: Activation, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, str]:
    if act.kind == "layer":
        # maxout as a function of one input: k pieces a_j * x with slopes a_j evenly in
        # [-1, 1] (k = 2 gives |x|), an illustration of one unit, not of a trained layer.
        k = act.width_multiplier
        slopes = torch.linspace(-1, 1, k, dtype=x.dtype)
        pieces = x[:, None] * slopes[None, :]  # (N, k)
        return act(pieces).squeeze(-1), (act.derivative(pieces) * slopes).sum(-1), f"{act.label}, pieces a*x, a in [-1, 1]"
    return act(x), act.derivative(x), act.label


@styled
def plot_activations(acts: Sequence[Activation], path: str | Path, x_range: tuple[float, float] = (-6.0, 6.0)) -> Path:
    """Draw f (left) and f' (right) of ``acts`` over ``x_range`` into a PNG at ``path``.

    Where a single activation is drawn, the inputs where it saturates
    (|f'| < 5% of its max |f'|) are shaded on both panels; with several, the
    saturated band |f'| < 0.05 is shaded on the f' panel.
    """
    lo, hi = x_range
    if not lo < hi:
        raise ValueError(f"x range {lo}..{hi} is empty: the first value must be smaller")
    x = torch.linspace(lo, hi, 2001, dtype=torch.float64)
    fig, axes = new_figure(1, 2, width=11.5, height=4.2)
    ax_f, ax_d = axes[0]
    for act in acts:
        y, d, label = _curves(act, x)
        c = color_for(act.name)
        ax_f.plot(x, y, color=c, lw=2, label=label)
        ax_d.plot(x, d, color=c, lw=2, label=label)
    if len(acts) == 1:
        _, d, _ = _curves(acts[0], x)
        sat = (d.abs() < SATURATED_SLOPE * d.abs().max()).numpy()
        for ax in (ax_f, ax_d):
            ax.fill_between(x.numpy(), 0, 1, where=sat, color="0.5", alpha=0.15, lw=0,
                            transform=ax.get_xaxis_transform(), label=f"saturated: |f'| < {SATURATED_SLOPE:g} max|f'|")
    else:
        ax_d.axhspan(-SATURATED_SLOPE, SATURATED_SLOPE, color="0.5", alpha=0.15, lw=0, label=f"|f'| < {SATURATED_SLOPE:g} (saturated)")
    for ax, title, ylabel in ((ax_f, "activation f(x)", "f(x)"), (ax_d, "derivative f'(x)", "f'(x)")):
        ax.axhline(0, color="0.3", lw=0.8)
        ax.axvline(0, color="0.3", lw=0.8)
        ax.set_xlabel("input x")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.set_xlim(lo, hi)
    legend_outside(ax_d)
    names = ", ".join(a.label for a in acts)
    fig.suptitle(names if len(names) < 90 else f"{len(acts)} activations", fontsize=12)
    return save_figure(fig, path)
