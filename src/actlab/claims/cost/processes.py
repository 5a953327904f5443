"""The ``cost`` claim's replicates: one independent process per replicate, aggregated here.

Rounds inside one process share its heap, its caches' history and whatever load hit it at that
moment, so they are not independent: under load they ranged 0.99-5.37x for one ratio (issue 20).
Each replicate is a fresh process (spawned, one torch thread), run one after another so that
replicates never compete with each other; the replicate's number is the median over its own
interleaved blocks. Every interval here is over processes (log-t, ``stats.positive_ci95``), and
each quantity has one estimator: the geometric mean over processes of the per-process ratio.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...verdicts.stats import positive_ci95
from .config import PASSES

__all__ = ["aggregate", "interval_dict", "cache_sizes", "cache_level", "load_average"]


def interval_dict(values: Sequence[float | None]) -> dict[str, Any]:
    iv = positive_ci95(values)
    return {"estimate": iv.estimate, "ci95_low": iv.low, "ci95_high": iv.high, "n": iv.n}


def _geomean(values: Sequence[float]) -> float:
    v = [float(x) for x in values if x is not None and math.isfinite(float(x)) and float(x) > 0]
    return math.exp(sum(math.log(x) for x in v) / len(v)) if v else math.nan


def _spread_stats(values: Sequence[float]) -> dict[str, Any]:
    """Across processes: the geometric mean ("median" key kept for the figures: the estimate), quartiles, all."""
    arr = np.asarray(values, dtype=np.float64)
    q1, q3 = (float(x) for x in np.percentile(arr, [25, 75]))
    return {"median": _geomean(values), "q1": q1, "q3": q3, "iqr": q3 - q1, "blocks": len(values),
            "per_process": [float(x) for x in arr]}


def aggregate(replicates: Sequence[Mapping[str, Any]], activations: Sequence[str], sizes: Sequence[int]) -> dict[str, Any]:
    """Per-process medians -> the claim's metrics, every interval over processes.

    Each replicate holds ``ns[activation][pass][size]``, ``copy_ns[pass][size]``,
    ``copy_into_ns[size]`` (medians in ns per element) and ``train_ms[activation]``.
    """
    keys = [str(n) for n in sizes]
    ns = {a: {p: {k: [r["ns"][a][p][k] for r in replicates] for k in keys} for p in PASSES} for a in activations}
    copy_ns = {p: {k: [r["copy_ns"][p][k] for r in replicates] for k in keys} for p in PASSES}
    ratios = {a: {p: {k: [x / y for x, y in zip(ns[a][p][k], ns["relu"][p][k], strict=True)] for k in keys}
                  for p in PASSES} for a in activations}
    vs_copy = {a: {p: {k: _geomean([x / y for x, y in zip(ns[a][p][k], copy_ns[p][k], strict=True)]) for k in keys}
                   for p in PASSES} for a in activations}
    ratio_ci = {a: {p: {k: interval_dict(v) for k, v in by.items()} for p, by in bp.items()} for a, bp in ratios.items()}
    # the sweep: per process, the geometric mean over the sizes of the ratio
    sweep = {a: {p: [_geomean([ratios[a][p][k][i] for k in keys]) for i in range(len(replicates))] for p in PASSES}
             for a in activations}
    train = {a: [r["train_ms"][a] for r in replicates] for a in activations}
    train_ratios = {a: [x / y for x, y in zip(train[a], train["relu"], strict=True)] for a in activations}
    train_ci = {a: interval_dict(v) for a, v in train_ratios.items()}
    relu_spread = {p: {k: max(ns["relu"][p][k]) / min(ns["relu"][p][k]) for k in keys} for p in PASSES}
    return {
        "replicates": len(replicates),
        "ns_per_element": {a: {p: {k: _spread_stats(v) for k, v in by.items()} for p, by in bp.items()}
                           for a, bp in ns.items()},
        "copy_ns_per_element": {p: {k: _spread_stats(v) for k, v in by.items()} for p, by in copy_ns.items()},
        "copy_into_ns_per_element": {k: _spread_stats([r["copy_into_ns"][k] for r in replicates]) for k in keys},
        "ratio_vs_relu_processes": ratios,
        "ratio_vs_relu_ci": ratio_ci,
        "ratio_vs_relu": {a: {p: {k: d["estimate"] for k, d in by.items()} for p, by in bp.items()}
                          for a, bp in ratio_ci.items()},
        "ratio_vs_copy": vs_copy,
        "sweep_ratio_processes": sweep,
        "sweep_ratio_ci": {a: {p: interval_dict(v) for p, v in bp.items()} for a, bp in sweep.items()},
        "train_step_ms": {a: _spread_stats(v) for a, v in train.items()},
        "train_step_ratio_processes": train_ratios,
        "train_step_ratio_ci": train_ci,
        "train_step_ratio_vs_relu": {a: d["estimate"] for a, d in train_ci.items()},
        "relu_spread": relu_spread,
    }


def cache_sizes() -> dict[str, int]:
    """{"L1d"/"L2"/"L3": bytes} of CPU 0 from sysfs (empty where unreadable)."""
    out: dict[str, int] = {}
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    try:
        for index in sorted(base.glob("index*")):
            level = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
            if kind == "Instruction":
                continue
            mult = {"K": 1024, "M": 1024 ** 2}.get(size[-1], 1)
            out[f"L{level}" + ("d" if level == "1" else "")] = int(size.rstrip("KM")) * mult
    except (OSError, ValueError):
        return {}
    return out


def cache_level(size: int, bytes_per_element: int, caches: Mapping[str, int]) -> str:
    """Where a forward pass's input and output (2 x size elements) fit: "L2", "L3" or "beyond cache"."""
    need = 2 * size * bytes_per_element
    for level in ("L1d", "L2", "L3"):
        if level in caches and need <= caches[level]:
            return level
    return "beyond cache" if caches else "unknown"


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None
