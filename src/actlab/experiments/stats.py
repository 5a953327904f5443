"""Small statistics for aggregates over seeds: mean and a 95% confidence interval."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["t_quantile_975", "mean_ci95", "geometric_mean"]

# Two-sided 95% Student-t critical values t_{0.975, df} for df = 1..30 (standard tables;
# tests/test_stats.py checks them against scipy.stats.t.ppf).
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)


def t_quantile_975(df: int) -> float:
    """t_{0.975, df}; the normal 1.96 beyond df = 30 (off by < 2%)."""
    if df < 1:
        raise ValueError(f"degrees of freedom {df} must be >= 1")
    return _T975[df - 1] if df <= len(_T975) else 1.96


def mean_ci95(values: Sequence[float]) -> dict[str, float | int | None]:
    """{'mean', 'ci95_low', 'ci95_high', 'n'} of the finite ``values``.

    The interval is mean +- t_{0.975, n-1} s / sqrt(n); with one value it is None.
    Non-finite values (a diverged run) are left out and counted in 'n_excluded'.
    """
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    n = len(finite)
    out: dict[str, float | int | None] = {"mean": None, "ci95_low": None, "ci95_high": None, "n": n,
                                          "n_excluded": len(values) - n}
    if n == 0:
        return out
    mean = sum(finite) / n
    out["mean"] = mean
    if n >= 2:
        s = math.sqrt(sum((v - mean) ** 2 for v in finite) / (n - 1))
        half = t_quantile_975(n - 1) * s / math.sqrt(n)
        out["ci95_low"], out["ci95_high"] = mean - half, mean + half
    return out


def geometric_mean(values: Sequence[float]) -> float:
    """exp(mean(log v)) of positive values; NaN if any is not positive."""
    if not values or any(v <= 0 or not math.isfinite(v) for v in values):
        return math.nan
    return math.exp(sum(math.log(v) for v in values) / len(values))
