"""Small statistics for verdicts over seeds: 95% intervals, the decision rule, grid edges.

Every claim decides its verdict the same way (DESIGN.md, results contract):

* :func:`mean_ci95` / :func:`interval95` for a quantity that may take any sign (Student t);
* :func:`positive_ci95` for a positive quantity (steps, ratios, norms): the t interval of
  log(values), taken back with exp, so that it never goes below zero;
* :func:`bootstrap_ci95` for a statistic with no closed-form interval (``scipy.stats.bootstrap``,
  percentile method, seeded, so the same values always give the same interval);
* :func:`decide` turns an :class:`Interval` and a :class:`~actlab.verdicts.result.Rule`
  into ``holds`` / ``does_not_hold`` / ``inconclusive`` with the reason;
* :func:`grid_edge` says whether a tuned setting sits at the edge of its grid.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as _scipy_stats

from .result import ActivationNumber, Rule

__all__ = ["t_quantile_975", "mean_ci95", "geometric_mean", "Interval", "interval95", "positive_ci95",
           "bootstrap_ci95", "decide", "decide_each", "grid_edge",
           "activation_number"]

def t_quantile_975(df: float) -> float:
    """t_{0.975, df}, the two-sided 95% Student-t critical value (``scipy.stats.t.ppf``)."""
    if not df >= 1:
        raise ValueError(f"degrees of freedom {df} must be >= 1")
    return float(_scipy_stats.t.ppf(0.975, df))


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


@dataclass(frozen=True)
class Interval:
    """An estimate with its 95% interval over ``n`` values (``low``/``high`` None when n < 2)."""

    estimate: float | None
    low: float | None
    high: float | None
    n: int
    method: str  # "t", "log-t" or "bootstrap"

    def text(self, fmt: str = "{:.3g}", unit: str = "") -> str:
        """"0.82x (95% CI 0.61-1.1x, 5 seeds)" with ``unit`` = "x"."""
        if self.estimate is None:
            return "n/a"
        head = fmt.format(self.estimate) + unit
        if self.low is None or self.high is None:
            return f"{head} ({self.n} seed{'s' if self.n != 1 else ''}, no interval)"
        return f"{head} (95% CI {fmt.format(self.low)}-{fmt.format(self.high)}{unit}, {self.n} seeds)"


def _finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def interval95(values: Sequence[float | None]) -> Interval:
    """The Student-t 95% interval of the mean of the finite ``values``."""
    m = mean_ci95(list(values))
    return Interval(m["mean"], m["ci95_low"], m["ci95_high"], int(m["n"]), "t")


def positive_ci95(values: Sequence[float | None]) -> Interval:
    """The geometric mean of positive ``values`` and its 95% interval, computed on log scale.

    The t interval of log(v) taken back with exp: it stays positive, and for ratios it is
    symmetric in the ratio's direction (a/b and b/a give reciprocal intervals).
    Non-finite values are left out; a value <= 0 is a ``ValueError`` (not a positive quantity).
    """
    finite = _finite(values)
    if any(v <= 0 for v in finite):
        raise ValueError(f"positive_ci95 needs positive values, got {min(finite)}")
    m = mean_ci95([math.log(v) for v in finite])
    if m["mean"] is None:
        return Interval(None, None, None, 0, "log-t")
    low = math.exp(m["ci95_low"]) if m["ci95_low"] is not None else None
    high = math.exp(m["ci95_high"]) if m["ci95_high"] is not None else None
    return Interval(math.exp(m["mean"]), low, high, int(m["n"]), "log-t")


def bootstrap_ci95(values: Sequence[float | None], statistic: Callable[[list[float]], float] | None = None,
                   resamples: int = 2000, seed: int = 0) -> Interval:
    """The percentile-bootstrap 95% interval of ``statistic`` (default: the mean) of the finite values.

    Seeded, so the same values always give the same interval. With fewer than 2 values
    there is no interval.
    """
    finite = _finite(values)
    stat = statistic or (lambda xs: sum(xs) / len(xs))
    if not finite:
        return Interval(None, None, None, 0, "bootstrap")
    estimate = float(stat(finite))
    if len(finite) < 2:
        return Interval(estimate, None, None, len(finite), "bootstrap")
    if len(set(finite)) == 1:  # every resample is the same value: the interval is that value
        return Interval(estimate, estimate, estimate, len(finite), "bootstrap")
    res = _scipy_stats.bootstrap((np.asarray(finite),), lambda x, axis: np.apply_along_axis(
        lambda row: float(stat(list(row))), axis, x), n_resamples=resamples, method="percentile",
        confidence_level=0.95, vectorized=True, rng=np.random.default_rng(seed))
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    n = len(finite)
    return Interval(estimate, low, high, n, "bootstrap")


def decide(interval: Interval, rule: Rule) -> tuple[str, str]:
    """``(status, reason)`` from an interval and its rule (see :class:`~actlab.verdicts.result.Rule`).

    ``holds`` / ``does_not_hold`` need ``rule.min_seeds`` values and an interval wholly on one
    side of ``rule.threshold``; otherwise ``inconclusive``, and the reason says why and what
    to rerun.
    """
    t = rule.threshold
    if interval.estimate is None:
        return "inconclusive", f"no {rule.statistic} could be measured"
    if interval.n < rule.min_seeds:
        return "inconclusive", (f"only {interval.n} seed{'s' if interval.n != 1 else ''} gave a {rule.statistic}; "
                                f"a verdict needs at least {rule.min_seeds}: rerun with --seeds {rule.min_seeds}")
    if interval.low is None or interval.high is None:
        return "inconclusive", f"the {rule.statistic} has no interval"
    above, below = interval.low > t, interval.high < t
    if not above and not below:
        more = max(2 * interval.n, rule.min_seeds)
        return "inconclusive", (f"the 95% interval {interval.low:.3g}-{interval.high:.3g} of the {rule.statistic} "
                                f"spans the threshold {t:g}; rerun with --seeds {more}")
    side = "above" if above else "below"
    status = "holds" if side == rule.holds_if else "does_not_hold"
    return status, (f"the 95% interval {interval.low:.3g}-{interval.high:.3g} of the {rule.statistic} "
                    f"lies wholly {side} {t:g}")


def decide_each(intervals: Mapping[str, Interval], rule: Rule) -> tuple[str, dict[str, tuple[str, str]]]:
    """``(overall status, {arm: (status, reason)})`` for a claim that must hold in every arm measured.

    Each arm (an init, a size regime) is decided by :func:`decide`; overall ``does_not_hold``
    if some arm does not hold, ``holds`` if every arm holds, else (or with no arm) ``inconclusive``.
    """
    per = {arm: decide(iv, rule) for arm, iv in intervals.items()}
    statuses = [st for st, _ in per.values()]
    if "does_not_hold" in statuses:
        return "does_not_hold", per
    if statuses and all(st == "holds" for st in statuses):
        return "holds", per
    return "inconclusive", per


def grid_edge(grid: Sequence[float], chosen: float) -> str | None:
    """"low" or "high" when ``chosen`` is the smallest or largest value of ``grid``, else None.

    A grid of one value has no interior: its only value is at both edges ("low").
    """
    values = sorted(float(g) for g in grid)
    if not values:
        raise ValueError("grid_edge needs a non-empty grid")
    if float(chosen) not in values:
        raise ValueError(f"{chosen:g} is not in the grid {values}")
    if float(chosen) == values[0]:
        return "low"
    if float(chosen) == values[-1]:
        return "high"
    return None


def activation_number(activation: str, values: Sequence[float | None], baseline: Sequence[float | None] | None = None,
                      *, positive: bool = True, note: str = "") -> ActivationNumber:
    """One activation's per-seed ``values`` as an :class:`ActivationNumber` for ``PerActivation``.

    The estimate and its interval: :func:`positive_ci95` (geometric mean, log-t) for a positive
    quantity, else :func:`interval95`. ``baseline``: the baseline activation's values for the same
    seeds, in the same order: the ratio is then paired by seed (the log-t interval of the per-seed
    ratios value / baseline), over the seeds where both are finite and positive. A value that is
    None or not finite (a diverged or censored run) is left out; say so in ``note``.
    """
    iv = positive_ci95([v if v is None or not math.isfinite(float(v)) or float(v) > 0 else math.nan for v in values]) \
        if positive else interval95(values)
    ratio = Interval(None, None, None, 0, "log-t")
    if baseline is not None:
        if len(baseline) != len(values):
            raise ValueError(f"{activation}: {len(values)} values but {len(baseline)} baseline values: pair them by seed")
        pairs = [float(v) / float(b) for v, b in zip(values, baseline)
                 if v is not None and b is not None and math.isfinite(float(v)) and math.isfinite(float(b))
                 and float(v) > 0 and float(b) > 0]
        ratio = positive_ci95(pairs)
    return ActivationNumber(activation, iv.estimate, iv.low, iv.high, iv.n, ratio.estimate, ratio.low, ratio.high,
                            note)
