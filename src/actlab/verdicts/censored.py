"""Estimates from censored positive quantities: steps to a target that some seeds never reached.

A run that stops at ``max_steps`` without reaching the target is a *censored* observation: its
steps are at least ``max_steps``, not unknown and not absent. Dropping it keeps only the fast
seeds and biases every mean downwards; counting it as ``max_steps`` biases it the other way.

The estimator here is the censored log-normal maximum-likelihood estimate ("Tobit" on the log
scale): log(value) ~ N(mu, sigma^2); an exact observation contributes its density, one known only
to lie above a bound contributes P(log value >= bound), one known only to lie below a bound
P(log value <= bound). The estimate is exp(mu), the log-normal median (the geometric mean when
nothing is censored). Its 95% interval is mu +- t_{0.975, n-1} * SE * sqrt(n / (n - 1)), with SE
from the observed information at the maximum: with nothing censored this is exactly the log-t
interval of :func:`~actlab.verdicts.stats.positive_ci95` (the same numbers, computed in closed
form), so one estimator covers both cases.

Paired by seed (:func:`paired_ratio`): for one seed, a/b is exact when both reached the target;
when only ``a`` was censored at A, a/b >= A/b (a bound from below); when only ``b`` was censored
at B, a/b <= a/B; when both were censored the seed says nothing about the ratio and is counted
apart (``both_censored``).

Why this and not Kaplan-Meier: with 5-10 seeds a Kaplan-Meier median jumps from one seed to the
next and has no median at all once half the seeds are censored; the log-normal shape is what the
steps of independent restarts look like (they are positive and spread multiplicatively), and it
reduces to the interval every other claim uses when nothing is censored. Its cost: when most
observations are censored the estimate rests on that shape, so callers refuse to decide beyond a
stated censored share (``convergence``: half).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize as _optimize
from scipy import special as _special

from .result import ActivationNumber
from .stats import positive_ci95, t_quantile_975

__all__ = ["EXACT", "ABOVE", "BELOW", "Censored", "CensoredEstimate", "censored_lognormal", "paired_ratio",
           "steps_observations", "censored_activation_number", "log_likelihood"]

EXACT, ABOVE, BELOW = "exact", "above", "below"


@dataclass(frozen=True)
class Censored:
    """One positive observation: ``value`` itself (``kind`` "exact"), or a bound: the true value is
    at least ``value`` ("above") or at most ``value`` ("below")."""

    value: float
    kind: str = EXACT

    def __post_init__(self) -> None:
        if self.kind not in (EXACT, ABOVE, BELOW):
            raise ValueError(f"kind must be exact, above or below, not {self.kind!r}")
        if not (math.isfinite(self.value) and self.value > 0):
            raise ValueError(f"a censored observation needs a positive finite value, not {self.value!r}")


@dataclass(frozen=True)
class CensoredEstimate:
    """exp(mu) with its 95% interval; ``n`` observations used, ``censored`` of them bounds."""

    estimate: float | None
    low: float | None
    high: float | None
    n: int
    censored: int
    both_censored: int = 0       # pairs where both sides were censored (no information; not in n)
    method: str = "censored log-normal MLE"
    why: str = ""                # why there is no estimate or no interval

    @property
    def exact(self) -> int:
        return self.n - self.censored


def log_likelihood(mu: float, sigma: float, obs: Sequence[Censored]) -> float:
    """The censored normal log-likelihood of log(obs) (scipy.special; the tests check it with math.erf)."""
    y = np.log([o.value for o in obs])
    kinds = np.array([o.kind for o in obs])
    return _loglik(mu, sigma, y, kinds == EXACT, kinds == ABOVE, kinds == BELOW)


_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _loglik(mu: float, sigma: float, y: np.ndarray, exact: np.ndarray, above: np.ndarray, below: np.ndarray
            ) -> float:
    z = (y - mu) / sigma
    return float(np.sum(-0.5 * z[exact] ** 2 - _LOG_SQRT_2PI - math.log(sigma))
                 + np.sum(_special.log_ndtr(-z[above])) + np.sum(_special.log_ndtr(z[below])))


def _fit(obs: Sequence[Censored]) -> tuple[float, float, float]:
    """(mu, sigma, SE of mu) at the maximum of the censored likelihood."""
    y = np.log([o.value for o in obs])
    kinds = np.array([o.kind for o in obs])
    exact, above, below = kinds == EXACT, kinds == ABOVE, kinds == BELOW
    start_mu = float(np.mean(y[exact]))
    start_sd = float(np.std(y[exact])) if exact.sum() > 1 else 0.5
    start = np.array([start_mu, math.log(max(start_sd, 1e-3))])

    def nll(p: np.ndarray) -> float:
        return -_loglik(float(p[0]), math.exp(float(p[1])), y, exact, above, below)

    res = _optimize.minimize(nll, start, method="Nelder-Mead",
                             options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20_000, "maxfev": 40_000})
    mu, log_sigma = float(res.x[0]), float(res.x[1])
    # observed information: central differences of the negative log-likelihood in (mu, log sigma)
    h = 1e-4
    p0 = np.array([mu, log_sigma])
    hess = np.zeros((2, 2))
    for i in range(2):
        for j in range(2):
            ei, ej = np.eye(2)[i] * h, np.eye(2)[j] * h
            hess[i, j] = (nll(p0 + ei + ej) - nll(p0 + ei - ej) - nll(p0 - ei + ej) + nll(p0 - ei - ej)) / (4 * h * h)
    try:
        cov = np.linalg.inv(hess)
        se = math.sqrt(cov[0, 0]) if cov[0, 0] > 0 else math.nan
    except np.linalg.LinAlgError:
        se = math.nan
    return mu, math.exp(log_sigma), se


def censored_lognormal(obs: Sequence[Censored]) -> CensoredEstimate:
    """The censored log-normal estimate of ``obs`` (see the module docstring).

    No estimate with no exact observation, or fewer than 2 distinct exact ones while some are
    censored (the likelihood then has no finite maximum); no interval with fewer than 2 observations.
    """
    obs = list(obs)
    n = len(obs)
    cens = sum(o.kind != EXACT for o in obs)
    if n == 0:
        return CensoredEstimate(None, None, None, 0, 0, why="no observations")
    if cens == 0:
        iv = positive_ci95([o.value for o in obs])
        return CensoredEstimate(iv.estimate, iv.low, iv.high, n, 0)
    exact_values = {o.value for o in obs if o.kind == EXACT}
    if len(exact_values) < 2:
        return CensoredEstimate(None, None, None, n, cens,
                                why=f"{cens} of {n} observations are bounds and fewer than 2 distinct ones are exact")
    mu, _sigma, se = _fit(obs)
    if not math.isfinite(se):
        return CensoredEstimate(math.exp(mu), None, None, n, cens, why="the likelihood is flat: no interval")
    half = t_quantile_975(n - 1) * se * math.sqrt(n / (n - 1))
    return CensoredEstimate(math.exp(mu), math.exp(mu - half), math.exp(mu + half), n, cens)


def steps_observations(steps: Sequence[int | None], max_steps: int) -> list[Censored]:
    """One observation per trained run: its steps to the target, or ">= max_steps" when it never got
    there (``None``). Leave untrained (diverged) runs out before calling. A target met at step 0
    (before any update) counts as 1 step, so that every value is positive."""
    return [Censored(_positive(s), EXACT) if s is not None else Censored(float(max_steps), ABOVE) for s in steps]


def _positive(steps: float) -> float:
    return max(float(steps), 1.0)


def paired_ratio(num: Sequence[int | None | bool], den: Sequence[int | None | bool], max_steps: int
                 ) -> tuple[list[Censored | None], int]:
    """Per-seed ratios num/den of steps to a target, with censoring (see the module docstring).

    ``num``/``den``: per seed, the steps (int; 0 counts as 1), ``None`` (trained but never reached:
    censored at ``max_steps``) or ``False`` (not trained: diverged; the pair is left out). Returns the per-seed
    observations (None where the pair is left out or both are censored) and the number of pairs
    where both were censored.
    """
    if len(num) != len(den):
        raise ValueError(f"{len(num)} values against {len(den)}: pair them by seed")
    out: list[Censored | None] = []
    both = 0
    m = float(max_steps)
    for a, b in zip(num, den):
        if a is False or b is False:
            out.append(None)
        elif a is not None and b is not None:
            out.append(Censored(_positive(a) / _positive(b), EXACT))
        elif a is None and b is not None:
            out.append(Censored(m / _positive(b), ABOVE))
        elif a is not None and b is None:
            out.append(Censored(_positive(a) / m, BELOW))
        else:
            both += 1
            out.append(None)
    return out, both


def censored_activation_number(activation: str, steps: Sequence[int | None | bool],
                               baseline: Sequence[int | None | bool] | None, max_steps: int) -> ActivationNumber:
    """An :class:`ActivationNumber` of steps to a target with censoring: the activation's own steps
    (censored log-normal median) and its ratio to the baseline's, paired by seed.

    ``steps``/``baseline`` as in :func:`paired_ratio`. The note counts censored and left-out seeds.
    """
    trained = [s for s in steps if s is not False]
    own = censored_lognormal(steps_observations(trained, max_steps)) if trained else CensoredEstimate(
        None, None, None, 0, 0)
    notes = []
    if own.censored:
        notes.append(f"{own.censored} of {own.n} seeds never reached the target (censored at {max_steps} steps)")
    if len(trained) < len(steps):
        notes.append(f"{len(steps) - len(trained)} diverged, left out")
    ratio = CensoredEstimate(None, None, None, 0, 0)
    if baseline is not None and list(baseline) == list(steps):  # the baseline itself: 1 by definition
        ratio = CensoredEstimate(1.0, 1.0, 1.0, own.n, 0)
    elif baseline is not None:
        pairs, both = paired_ratio(steps, baseline, max_steps)
        ratio = censored_lognormal([p for p in pairs if p is not None])
        ratio = CensoredEstimate(ratio.estimate, ratio.low, ratio.high, ratio.n, ratio.censored, both, why=ratio.why)
        if ratio.censored:
            notes.append(f"ratio: {ratio.censored} of {ratio.n} seed pairs are bounds")
        if both:
            notes.append(f"{both} pair{'s' if both != 1 else ''} where neither reached it (no information)")
    return ActivationNumber(activation, own.estimate, own.low, own.high, own.n, ratio.estimate, ratio.low,
                            ratio.high, "; ".join(notes))
