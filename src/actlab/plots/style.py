"""Shared figure style: one colour per activation everywhere, readable defaults."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ParamSpec, TypeVar

import matplotlib

matplotlib.use("Agg")  # figures are files; no display needed (CI has none)

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

__all__ = ["color_for", "marker_for", "linestyle_for", "style_for", "new_figure", "save_figure", "styled", "legend_outside", "plt", "RC"]

P = ParamSpec("P")
T = TypeVar("T")

# Fixed colours so that relu is the same colour in every figure of a report, and no two
# activations share one: every pair differs by a CIELAB distance of at least 25 (the
# test checks 20; ~10 is plainly visible). Families keep a hint of kinship (tanh red,
# lecun_tanh maroon, hard_tanh salmon) without being confusable.
_PALETTE = {
    "sigmoid": "#1f77b4",
    "tanh": "#d62728",
    "relu": "#2ca02c",
    "leaky_relu": "#9467bd",
    "prelu": "#8c564b",
    "elu": "#ff7f0e",
    "selu": "#e377c2",
    "gelu": "#17becf",
    "gelu_tanh": "#0b5563",
    "silu": "#bcbd22",
    "mish": "#7f7f7f",
    "softplus": "#3b3eac",
    "softsign": "#1a1a1a",
    "hard_sigmoid": "#9ecae1",
    "hard_tanh": "#f4a3a0",
    "lecun_tanh": "#7a0c1e",
    "maxout": "#006d2c",
    "sigmoid_centered": "#b8860b",
    "tanh_shifted": "#ff00cc",
}
# A marker and a line style per activation as well, so that lines that coincide (relu and
# elu for x > 0) or colours a reader cannot tell apart still read: (marker, style) pairs
# are unique over the palette.
_MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "<", ">", "h", "p", "d", "8", "H", "o", "s", "^", "v")
_LINESTYLES = ("-", "--", "-.", ":")
_FALLBACK = plt.get_cmap("tab20").colors

RC = {
    "figure.dpi": 110,
    "savefig.dpi": 110,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def color_for(name: str) -> str | tuple[float, float, float]:
    """The colour of activation ``name`` (stable for names outside the palette too)."""
    base = name.split("(")[0]
    if base in _PALETTE:
        return _PALETTE[base]
    return _FALLBACK[sum(map(ord, base)) % len(_FALLBACK)]


def _index(name: str) -> int:
    base = name.split("(")[0]
    names = list(_PALETTE)
    return names.index(base) if base in names else len(names) + sum(map(ord, base))


def marker_for(name: str) -> str:
    """The marker of activation ``name`` (stable across figures)."""
    return _MARKERS[_index(name) % len(_MARKERS)]


def linestyle_for(name: str) -> str:
    """The line style of activation ``name`` (stable across figures)."""
    return _LINESTYLES[_index(name) % len(_LINESTYLES)]


def style_for(name: str) -> dict[str, object]:
    """``color``, ``marker`` and ``linestyle`` of activation ``name``: ``ax.plot(x, y, **style_for(n))``."""
    return {"color": color_for(name), "marker": marker_for(name), "linestyle": linestyle_for(name)}


def styled(fn: Callable[P, T]) -> Callable[P, T]:
    """Run a plotting function under the shared style, without touching global rcParams."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        with plt.rc_context(RC):
            return fn(*args, **kwargs)

    return wrapper


def new_figure(nrows: int = 1, ncols: int = 1, *, width: float = 6.4, height: float = 4.0, **kw):
    """(fig, axes); axes is a 2-D array unless nrows == ncols == 1. Call inside @styled."""
    kw.setdefault("squeeze", nrows * ncols == 1)
    return plt.subplots(nrows, ncols, figsize=(width, height), **kw)


#: Called with the path of every figure :func:`save_figure` writes (see :func:`on_figure_saved`).
_SAVED_HOOKS: list[Callable[[Path], None]] = []


@contextmanager
def on_figure_saved(callback: Callable[[Path], None]) -> Iterator[None]:
    """Call ``callback(path)`` after each figure saved inside the block (progress while drawing)."""
    _SAVED_HOOKS.append(callback)
    try:
        yield
    finally:
        _SAVED_HOOKS.remove(callback)


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Save as PNG atomically (temp file, then rename) and close the figure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, bbox_inches="tight", format="png")
    plt.close(fig)
    os.replace(tmp, path)
    for hook in list(_SAVED_HOOKS):
        hook(path)
    return path


def legend_outside(ax, handles: Iterable | None = None, **kw) -> None:
    """A legend to the right of the axes, so it never hides data."""
    kw.setdefault("loc", "center left")
    kw.setdefault("bbox_to_anchor", (1.01, 0.5))
    kw.setdefault("frameon", False)
    if handles is not None:
        ax.legend(handles=handles, **kw)
    else:
        ax.legend(**kw)
