"""Figures of the ``vanishing`` claim, drawn from its result only.

* ``vanishing_grad_norm.png``: weight-gradient norm against Linear layer index
  (log scale), one panel per init, one line per activation (band: min to max over seeds).
* ``vanishing_bound.png``: the 0.25 bound at work. Top row: mean f'(pre-activation)
  per hidden layer for every activation, against sigmoid's ceiling 0.25. Bottom row:
  sigmoid's measured backward gain per layer beside its mean f' and the bound
  0.25 x ||W||_2.
* ``vanishing_decay.png``: ``decay_per_layer`` for every activation x init, with the
  orders of magnitude lost from the last layer to the first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.ticker import MaxNLocator

from ..experiments.result import Result
from .style import color_for, legend_outside, new_figure, save_figure, styled

__all__ = ["plot", "plot_grad_norm", "plot_bound", "plot_decay"]

_INIT_TITLES = {
    "default": "PyTorch default init",
    "xavier": "Xavier (Glorot) init",
    "he": "He init",
    "lecun": "LeCun init",
}


def _floats(values: Sequence[Any]) -> np.ndarray:
    """Numbers from a result (JSON writes inf and nan as strings)."""
    return np.array([float(v) for v in values], dtype=np.float64)


def _grid(n: int) -> tuple[int, int]:
    ncols = min(n, 2)
    return math.ceil(n / ncols), ncols


def _subtitle(cfg: Mapping[str, Any]) -> str:
    seeds = cfg.get("seeds", 1)
    return (f"MLP, {cfg.get('depth')} hidden layers of {cfg.get('width')} units, Gaussian batch of "
            f"{cfg.get('batch')}, cross-entropy on random labels; {seeds} seed{'s' if seeds != 1 else ''}")


@styled
def plot_grad_norm(result: Result, path: Path) -> Path:
    """Log-scale ||dL/dW_l|| against layer index; one panel per init, one line per activation."""
    m, cfg = result.metrics, result.config
    acts, inits = list(m["grad_norm"]), list(cfg["inits"])
    per_seed = result.data.get("grad_norm_per_seed", {})
    nrows, ncols = _grid(len(inits))
    fig, axes = new_figure(nrows, ncols, width=5.2 * ncols + 1.8, height=3.8 * nrows + 0.6,
                           sharex=True, sharey=True)
    axes = np.atleast_1d(axes).ravel()
    for ax, init in zip(axes[: len(inits)], inits, strict=True):
        for name in acts:
            norms = _floats(m["grad_norm"][name][init])
            layers = np.arange(1, len(norms) + 1)
            c = color_for(name)
            ax.plot(layers, norms, color=c, lw=1.8, label=name)
            seeds = per_seed.get(name, {}).get(init)
            if seeds is not None and len(seeds) > 1:
                runs = np.array([_floats(r) for r in seeds])
                ax.fill_between(layers, runs.min(axis=0), runs.max(axis=0), color=c, alpha=0.18, lw=0)
        ax.set_yscale("log")
        ax.set_title(_INIT_TITLES.get(init, init))
        ax.set_xlim(1, len(norms))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes[len(inits):]:
        ax.set_visible(False)
    for k, ax in enumerate(axes[: len(inits)]):
        if k + ncols >= len(inits):  # nothing drawn below this panel
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.set_xlabel("Linear layer (1 = input side, last = logits)")
        if k % ncols == 0:
            ax.set_ylabel("||dL/dW|| (Frobenius, log scale)")
    legend_outside(axes[min(ncols, len(inits)) - 1], title="activation")
    fig.suptitle("Weight-gradient norm per layer at initialisation\n"
                 f"{_subtitle(cfg)}\nband: min to max over seeds; the factor per layer is in vanishing_decay.png",
                 fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)


@styled
def plot_bound(result: Result, path: Path) -> Path:
    """Mean f' per layer against 0.25 (top); sigmoid's gain beside its bound (bottom)."""
    m, cfg = result.metrics, result.config
    acts, inits = list(m["grad_norm"]), list(cfg["inits"])
    focus = "sigmoid" if "sigmoid" in acts else acts[0]
    max_abs = float(m["max_abs_derivative"][focus])
    sigmoid_max = 0.25
    fig, axes = new_figure(2, len(inits), width=max(4.0 * len(inits) + 1.8, 9.0), height=7.6, sharex=True)
    top_max = max(float(np.nanmax(_floats(m["mean_derivative"][a][i]))) for a in acts for i in inits)
    bottom_max = max(float(np.nanmax(_floats(m["gain_bound"][focus][i]))) for i in inits)
    for col, init in enumerate(inits):
        top, bottom = axes[0, col], axes[1, col]
        for name in acts:
            slope = _floats(m["mean_derivative"][name][init])
            top.plot(np.arange(1, len(slope) + 1), slope, color=color_for(name), lw=1.6, label=name)
        top.axhline(sigmoid_max, color="k", ls="--", lw=1.2, label="0.25 = max of sigmoid'")
        top.set_ylim(0, max(1.05, 1.08 * top_max))
        top.set_title(_INIT_TITLES.get(init, init))

        gain = _floats(m["backward_gain"][focus][init])
        bound = _floats(m["gain_bound"][focus][init])
        slope = _floats(m["mean_derivative"][focus][init])
        layers = np.arange(1, len(gain) + 1)
        c = color_for(focus)
        bottom.plot(layers, bound, color="0.35", ls="--", lw=1.5,
                    label=rf"bound ${max_abs:g}\,\|W_{{l+1}}\|_2$")
        bottom.plot(layers, gain, color=c, lw=2, label=r"measured gain $\|\delta_l\|\,/\,\|\delta_{l+1}\|$")
        bottom.plot(layers, slope, color=c, ls=":", lw=1.6, label=rf"mean {focus}$'(z_l)$")
        bottom.axhline(1.0, color="0.6", lw=1, label="1 (gradient kept)")
        bottom.set_ylim(0, max(1.1, 1.08 * bottom_max))
        bottom.set_xlabel("hidden layer l (1 = input side)")
        bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
        gm = float(np.exp(np.mean(np.log(gain))))
        bottom.text(0.97, 0.97, f"gain {gm:.2g}/layer", transform=bottom.transAxes, ha="right", va="top",
                    fontsize=8, color=c)
    axes[0, 0].set_ylabel("mean f'(pre-activation)")
    axes[1, 0].set_ylabel(f"{focus}: backward gain per layer")
    legend_outside(axes[0, -1], title="activation")
    legend_outside(axes[1, -1], title=rf"{focus} ($\delta_l = \partial L / \partial z_l$)")
    headline = "The 0.25 bound at work" if focus == "sigmoid" else f"The max|f'| = {max_abs:g} bound of {focus}"
    fig.suptitle(f"{headline}\ntop: mean f'(pre-activation) per hidden layer; bottom: {focus}'s backward gain "
                 f"per layer under max|f'| x ||W||_2\n{_subtitle(cfg)}", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)


@styled
def plot_decay(result: Result, path: Path) -> Path:
    """Heat map of decay_per_layer (activation x init), annotated with the decades lost."""
    m, cfg = result.metrics, result.config
    acts, inits = list(m["grad_norm"]), list(cfg["inits"])
    decay = np.array([[float(m["decay_per_layer"][a][i]) for i in inits] for a in acts])  # (acts, inits)
    orders = np.array([[float(m["orders_of_magnitude"][a][i]) for i in inits] for a in acts])
    with np.errstate(divide="ignore", invalid="ignore"):
        logd = np.log10(decay)
    finite = np.isfinite(logd)
    reach = max(float(np.abs(logd[finite]).max()) if finite.any() else 0.0, 0.05)
    fig, ax = new_figure(width=max(1.6 * len(inits) + 3.4, 7.5), height=max(0.55 * len(acts) + 2.2, 3.6))
    image = ax.imshow(np.where(finite, logd, -reach), cmap="RdBu", aspect="auto",
                      norm=TwoSlopeNorm(vcenter=0.0, vmin=-reach, vmax=reach))
    for r in range(len(acts)):
        for c in range(len(inits)):
            strong = finite[r, c] and abs(logd[r, c]) > 0.6 * reach
            ax.text(c, r, f"x{decay[r, c]:.3g} / layer\n{orders[r, c]:+.1f} decades", ha="center", va="center",
                    fontsize=8, color="white" if strong else "black")
    ax.set_xticks(range(len(inits)), [_INIT_TITLES.get(i, i).replace(" init", "") for i in inits])
    ax.set_yticks(range(len(acts)), acts)
    ax.grid(False)
    ax.set_xlabel("weight init")
    ax.set_ylabel("activation")
    bar = fig.colorbar(image, ax=ax, fraction=0.05, pad=0.03)
    bar.set_label("log10 decay per layer (< 0: vanishing)")
    ax.set_title("Weight-gradient norm: factor per layer towards the input (decay_per_layer),\n"
                 "and decades lost from the last to the first layer, log10(||dW_last|| / ||dW_first||)\n"
                 f"depth {cfg.get('depth')}, width {cfg.get('width')}", fontsize=10)
    return save_figure(fig, path)


def plot(result: Result, out_dir: str | Path) -> list[Path]:
    """Every figure of a ``vanishing`` result, as PNGs in ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    return [
        plot_grad_norm(result, out_dir / "vanishing_grad_norm.png"),
        plot_bound(result, out_dir / "vanishing_bound.png"),
        plot_decay(result, out_dir / "vanishing_decay.png"),
    ]
