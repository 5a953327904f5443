"""The Monitor's text summary of a record (``Monitor.summary()``)."""

from __future__ import annotations

from typing import Any

__all__ = ["summary_table"]


def _fmt(value: Any, width: int = 9, pct: bool = False) -> str:
    if value is None:
        return f"{'-':>{width}}"
    if pct:
        return f"{100 * value:>{width - 1}.1f}%"
    return f"{value:>{width}.3g}"


def summary_table(rec: dict[str, Any] | None, model_name: str) -> str:
    """A text table of one record: one line per activation site and parameter."""
    if rec is None:
        return f"Monitor({model_name}): no sampled step recorded yet"
    names = list(rec["activations"]) + list(rec["parameters"])
    w = min(max([len(n) for n in names] + [16]), 48)
    lines = [f"step {rec['step']}",
             f"{'activation site':{w}} {'activation':14} {'mean':>9} {'std':>9} {'|m|/s':>7} {'sat':>6} {'dead':>6}"]
    for name, a in rec["activations"].items():
        lines.append(f"{name[:w]:{w}} {a['activation'][:14]:14} {_fmt(a.get('mean'))} {_fmt(a.get('std'))} "
                     f"{_fmt(a.get('zero_centring'), 7)} {_fmt(a.get('saturated_fraction'), 6, pct=True)} "
                     f"{_fmt(a.get('dead_fraction'), 6, pct=True)}")
    lines.append(f"{'parameter':{w}} {'shape':14} {'grad norm':>9} {'upd/w':>9} {'coher':>7}")
    for name, p in rec["parameters"].items():
        shape = "x".join(map(str, p["shape"]))
        lines.append(f"{name[:w]:{w}} {shape[:14]:14} {_fmt(p.get('grad_norm'))} {_fmt(p.get('update_ratio'))} "
                     f"{_fmt(p.get('sign_coherence'), 7)}")
    return "\n".join(lines)
