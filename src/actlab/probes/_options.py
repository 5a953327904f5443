"""The Monitor's options: the statistics it can record and the layer filter.

Part of :class:`~actlab.probes.Monitor` (``monitor.py`` imports this module; it imports
nothing of the monitor's).
"""

from __future__ import annotations

import difflib
import fnmatch
import math
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["ACTIVATION_STATS", "PARAMETER_STATS", "ALL_STATS", "DEFAULT_EVERY", "HISTOGRAM_SAMPLE",
           "parse_layers", "parse_stats", "check_numbers"]

ACTIVATION_STATS = ("mean", "std", "zero_centring", "saturated_fraction", "dead_fraction", "histogram")
PARAMETER_STATS = ("grad_norm", "update_ratio", "sign_coherence", "positive_grad_fraction", "weight_histogram",
                   "grad_histogram")
ALL_STATS = ACTIVATION_STATS + PARAMETER_STATS
_STAT_GROUPS = {"all": ALL_STATS, "activations": ACTIVATION_STATS, "parameters": PARAMETER_STATS}

#: Default schedule: every 100th step (0, 100, 200, ...). A lone sampled step with
#: every statistic costs about one plain step of a small MLP on the CPU
#: (benchmarks/monitor_overhead.py); spread over 100 steps that is about 1%, within
#: the 2% budget.
DEFAULT_EVERY = 100
#: Default cap on the values per call that go into a histogram (an even strided sample).
HISTOGRAM_SAMPLE = 4096


def _all_layers(name: str) -> bool:
    return True


def parse_layers(layers: Any) -> Callable[[str], bool]:
    if layers is None:
        return _all_layers
    if callable(layers):
        return layers
    patterns = [layers] if isinstance(layers, str) else list(layers)
    if not patterns or not all(isinstance(p, str) for p in patterns):
        raise TypeError(f"layers= takes glob patterns (strings) or a function name -> bool, not {layers!r}")

    def include(name: str) -> bool:
        parts = name.split(".") if name else [""]
        prefixes = [".".join(parts[: i + 1]) for i in range(len(parts))]
        return any(fnmatch.fnmatchcase(prefix, pat) for pat in patterns for prefix in prefixes)

    return include


def parse_stats(stats: str | Iterable[str]) -> frozenset[str]:
    names = [stats] if isinstance(stats, str) else list(stats)
    if not names:
        raise ValueError(f"stats= is empty; choose from {', '.join(ALL_STATS)} (or 'all', 'activations', 'parameters')")
    out: set[str] = set()
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"stats= takes statistic names, not {name!r}")
        if name in _STAT_GROUPS:
            out.update(_STAT_GROUPS[name])
        elif name in ALL_STATS:
            out.add(name)
        else:
            close = difflib.get_close_matches(name, list(ALL_STATS) + list(_STAT_GROUPS), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"unknown statistic {name!r}{hint} (statistics: {', '.join(ALL_STATS)}; groups: "
                             f"{', '.join(_STAT_GROUPS)})")
    return frozenset(out)


def check_numbers(*, window: Any, bins: Any, flush_every: Any, keep: Any, start_step: Any, saturation_slope: Any,
                  histogram_range: Any, histogram_sample: Any, unit_dim: Any) -> tuple[float, float] | None:
    """Check the Monitor's numeric arguments (ValueError naming the bad one); returns
    ``histogram_range`` as two floats (or None)."""
    for name, value, minimum in (("window", window, 1), ("bins", bins, 1), ("flush_every", flush_every, 1),
                                 ("keep", keep, 1), ("start_step", start_step, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")
    if not (isinstance(saturation_slope, (int, float)) and 0 < saturation_slope < 1):
        raise ValueError(f"saturation_slope={saturation_slope!r} must be a number in (0, 1), e.g. 0.05")
    if histogram_range is not None:
        try:
            lo, hi = (float(v) for v in histogram_range)
        except (TypeError, ValueError):
            lo = hi = math.nan
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"histogram_range={histogram_range!r} must be two finite numbers lo < hi")
        histogram_range = (lo, hi)
    if histogram_sample is not None and (isinstance(histogram_sample, bool) or not isinstance(histogram_sample, int)
                                         or histogram_sample < 1):
        raise ValueError(f"histogram_sample={histogram_sample!r} must be a positive integer or None (every value)")
    if unit_dim is not None and (isinstance(unit_dim, bool) or not isinstance(unit_dim, int)):
        raise ValueError(f"unit_dim={unit_dim!r} must be an integer dimension or None")
    return histogram_range
