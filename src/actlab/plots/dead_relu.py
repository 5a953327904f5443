"""Figures of the `dead-relu` claim, from its result."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..experiments.result import Result
from .style import color_for, legend_outside, new_figure, save_figure, styled

__all__ = ["plot"]


@styled
def plot(result: Result, out_dir: Path) -> list[Path]:
    """dead_relu_vs_lr.png (overall dead share against learning rate) and dead_relu_layers.png."""
    m, cfg = result.metrics, result.config
    dead, diverged = m["dead_fraction"], m["diverged"]
    where = (f"MLP {cfg['depth']}x{cfg['width']} on {cfg['dataset']}, {cfg['steps']} SGD steps, "
             f"{cfg['init']} init, {cfg['seeds']} seed(s)")
    paths = []

    fig, ax = new_figure(1, 1, width=8.5, height=4.6)
    for act, by_bias in dead.items():
        for j, (bias, by_lr) in enumerate(by_bias.items()):
            lrs = np.array([float(lr) for lr in by_lr])
            vals = np.array([np.nan if d["overall"] is None else 100 * d["overall"] for d in by_lr.values()])
            ls = "-" if j == 0 else "--"
            ax.plot(lrs, vals, ls, marker="o", color=color_for(act), lw=2, label=f"{act}, bias init {bias}")
            div = [float(lr) for lr, steps in diverged[act][bias].items() if all(s is not None for s in steps)]
            if div:
                ax.plot(div, [100] * len(div), "x", color=color_for(act), ms=10, mew=2)
    ax.axhline(40, color="tab:red", ls=":", lw=1.2, label='"as much as 40%" (CS231n)')
    ax.plot([], [], "kx", ms=8, mew=2, label="diverged (NaN loss), drawn at 100%")
    ax.set_xscale("log")
    ax.set_ylim(-3, 103)
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("dead units (% of hidden units)")
    ax.set_title(f"Units with zero output on every training example, after training\n{where}")
    legend_outside(ax)
    paths.append(save_figure(fig, out_dir / "dead_relu_vs_lr.png"))

    if "relu" in dead:
        biases = list(dead["relu"])
        fig, axes = new_figure(1, len(biases), width=5.2 * len(biases), height=4.0, sharey=True, squeeze=False)
        for ax, bias in zip(axes[0], biases):
            by_lr = dead["relu"][bias]
            lrs = list(by_lr)
            layers = cfg["depth"]
            width = 0.8 / max(len(lrs), 1)
            cmap = __import__("matplotlib").colormaps["viridis"]
            for i, lr in enumerate(lrs):
                per_layer = by_lr[lr]["per_layer"]
                xs = np.arange(layers) + (i - (len(lrs) - 1) / 2) * width
                if per_layer is None:
                    ax.text(xs.mean(), 2, "diverged", rotation=90, fontsize=7, ha="center")
                    continue
                ax.bar(xs, 100 * np.array(per_layer), width=width, color=cmap(i / max(len(lrs) - 1, 1)), label=f"lr {lr}")
            ax.set_xticks(np.arange(layers), [f"hidden {k + 1}" for k in range(layers)])
            ax.set_title(f"relu, bias init {bias}")
            ax.set_ylabel("dead units (%)")
            ax.axhline(40, color="tab:red", ls=":", lw=1)
        legend_outside(axes[0][-1])
        fig.suptitle(f"Dead relu units per hidden layer\n{where}", fontsize=10, y=1.06)
        paths.append(save_figure(fig, out_dir / "dead_relu_layers.png"))
    return paths
