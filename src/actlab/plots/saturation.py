"""Figures of the `saturation` claim, in the style of Glorot & Bengio (2010), Fig. 2-4."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

from ..experiments.result import Result
from .style import legend_outside, new_figure, save_figure, styled

__all__ = ["plot"]


def _layer_colors(n: int) -> list:
    cmap = matplotlib.colormaps["viridis"]
    return [cmap(i / max(n - 1, 1)) for i in range(n)]


@styled
def plot(result: Result, out_dir: Path) -> list[Path]:
    """saturation_mean_std.png (per-layer mean +- std over training, one panel per activation),
    saturation_fraction.png, saturation_histograms.png (final activation histograms)."""
    m, cfg = result.metrics, result.config
    acts = list(m["layer_mean"])
    steps = np.array(m["steps"], dtype=float)
    where = f"MLP {cfg['depth']}x{cfg['width']} on {cfg['dataset']}, SGD batch {cfg['batch_size']}, lr {cfg['lr']:g}"
    paths = []

    fig, axes = new_figure(1, len(acts), width=4.6 * len(acts), height=4.2, sharey=False, squeeze=False)
    for ax, act in zip(axes[0], acts):
        mean = np.array(m["layer_mean"][act], dtype=float)  # (probes, layers)
        std = np.array(m["layer_std"][act], dtype=float)
        colors = _layer_colors(mean.shape[1])
        for j in range(mean.shape[1]):
            ax.plot(steps, mean[:, j], color=colors[j], lw=2, label=f"layer {j + 1}")
            ax.fill_between(steps, mean[:, j] - std[:, j], mean[:, j] + std[:, j], color=colors[j], alpha=0.12, lw=0)
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlim(0, steps[-1])
        ax.set_xlabel("SGD step (symlog)")
        err = m["train_error"][act]
        ax.set_title(f"{act} (final training error {100 * err:.0f}%)" if err == err else act)
    axes[0][0].set_ylabel("activation: mean, band = +- 1 std")
    legend_outside(axes[0][-1], title="hidden layer")
    fig.suptitle(f"Activations of each hidden layer on {cfg['probe_examples']} fixed test examples during training\n{where}",
                 fontsize=10, y=1.04)
    paths.append(save_figure(fig, out_dir / "saturation_mean_std.png"))

    fig, axes = new_figure(1, len(acts), width=4.6 * len(acts), height=3.8, sharey=True, squeeze=False)
    for ax, act in zip(axes[0], acts):
        sat = 100 * np.array(m["saturated_fraction"][act], dtype=float)
        colors = _layer_colors(sat.shape[1])
        for j in range(sat.shape[1]):
            ax.plot(steps, sat[:, j], color=colors[j], lw=2, label=f"layer {j + 1}")
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlim(0, steps[-1])
        ax.set_ylim(-2, 102)
        ax.set_xlabel("SGD step (symlog)")
        ax.set_title(act)
    axes[0][0].set_ylabel("saturated units (%): |f'| < 5% of max")
    legend_outside(axes[0][-1], title="hidden layer")
    fig.suptitle(f"Share of saturated activations per hidden layer\n{where}", fontsize=10, y=1.06)
    paths.append(save_figure(fig, out_dir / "saturation_fraction.png"))

    hists, ranges = result.data.get("final_histogram"), result.data.get("histogram_range")
    if hists:
        fig, axes = new_figure(1, len(acts), width=4.6 * len(acts), height=3.8, squeeze=False)
        for ax, act in zip(axes[0], acts):
            layers = hists[act]
            colors = _layer_colors(len(layers))
            for j, counts in enumerate(layers):
                counts = np.array(counts, dtype=float)
                lo, hi = ranges[act][j] if ranges and ranges[act][j] else (-1.0, 1.0)
                edges = np.linspace(lo, hi, len(counts) + 1)
                centers = (edges[:-1] + edges[1:]) / 2
                ax.plot(centers, counts / max(counts.sum(), 1), color=colors[j], lw=1.8, label=f"layer {j + 1}")
            ax.set_yscale("log")
            ax.set_xlabel("activation value")
            ax.set_title(f"{act}: after step {int(steps[-1])}")
        axes[0][0].set_ylabel("share of activations per bin (log)")
        legend_outside(axes[0][-1], title="hidden layer")
        fig.suptitle(f"Activation histograms at the end of training (Glorot & Bengio Fig. 4 style)\n{where}", fontsize=10, y=1.06)
        paths.append(save_figure(fig, out_dir / "saturation_histograms.png"))
    return paths
