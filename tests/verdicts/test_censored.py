"""The censored log-normal estimator against independent references: scipy's log-t interval when
nothing is censored, a slow plain-Python likelihood (math.erf) maximised on a grid, and a simulation
with a known true ratio where dropping the censored seeds is biased and this estimator is not."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from actlab.verdicts.censored import (
    ABOVE,
    BELOW,
    EXACT,
    Censored,
    censored_activation_number,
    censored_lognormal,
    log_likelihood,
    paired_ratio,
)


def slow_loglik(mu: float, sigma: float, obs: list[Censored]) -> float:
    """The censored normal log-likelihood of log(value), written out with math.erf."""
    total = 0.0
    for o in obs:
        z = (math.log(o.value) - mu) / sigma
        if o.kind == EXACT:
            total += -0.5 * z * z - 0.5 * math.log(2 * math.pi) - math.log(sigma)
            continue
        tail = 0.5 * math.erfc(z / math.sqrt(2)) if o.kind == ABOVE else 0.5 * math.erfc(-z / math.sqrt(2))
        total += math.log(tail) if tail > 0 else -math.inf
    return total


def test_with_nothing_censored_it_is_the_log_t_interval():
    values = [1.3, 0.7, 2.1, 0.9, 1.1, 1.6]
    est = censored_lognormal([Censored(v) for v in values])
    logs = np.log(values)
    lo, hi = stats.t.interval(0.95, len(values) - 1, loc=logs.mean(), scale=stats.sem(logs))
    assert est.estimate == pytest.approx(stats.gmean(values), rel=1e-12)
    assert (est.low, est.high) == pytest.approx((math.exp(lo), math.exp(hi)), rel=1e-9)
    assert est.censored == 0 and est.n == 6


def test_the_likelihood_matches_a_plain_python_one():
    obs = [Censored(1.2), Censored(0.8, ABOVE), Censored(2.0, BELOW), Censored(1.5)]
    for mu, sigma in ((0.0, 1.0), (0.3, 0.4), (-1.0, 2.5)):
        assert log_likelihood(mu, sigma, obs) == pytest.approx(slow_loglik(mu, sigma, obs), abs=1e-9)


def test_the_maximum_matches_a_grid_search_of_the_slow_likelihood():
    obs = [Censored(v) for v in (120, 150, 200, 90)] + [Censored(400, ABOVE), Censored(400, ABOVE)]
    est = censored_lognormal(obs)
    mus, sigmas = np.linspace(4.5, 6.5, 201), np.exp(np.linspace(-2.0, 1.0, 61))
    best = max((slow_loglik(m, s, obs), m) for m in mus for s in sigmas)
    assert math.log(est.estimate) == pytest.approx(best[1], abs=0.011)  # the grid's spacing is 0.01
    # two seeds at >= 400 raise the median above every estimate that drops or caps them
    exact = [120, 150, 200, 90]
    assert est.estimate > stats.gmean(exact + [400, 400]) > stats.gmean(exact)
    assert est.censored == 2 and est.low < est.estimate < est.high


def test_simulation_with_a_known_ratio_covers_it_and_is_not_biased_like_dropping():
    """Log-ratios ~ N(log 2, 0.6^2) over 8 seed pairs; a pair whose ratio exceeds 3.5 is seen only as
    '>= 3.5' (about 18% of pairs). The 95% interval should catch log 2 in about 95% of repeats."""
    rng = np.random.default_rng(0)
    truth, cap, hits, mine, dropped = math.log(2.0), 3.5, 0, [], []
    repeats = 300
    for _ in range(repeats):
        ratios = np.exp(rng.normal(truth, 0.6, 8))
        obs = [Censored(float(r)) if r < cap else Censored(cap, ABOVE) for r in ratios]
        est = censored_lognormal(obs)
        hits += est.low <= 2.0 <= est.high
        mine.append(math.log(est.estimate))
        dropped.append(float(np.mean(np.log(ratios[ratios < cap]))))
    coverage = hits / repeats
    assert 0.89 <= coverage <= 0.99, coverage  # 95% nominal; 300 repeats: +-2.5% sampling error
    assert abs(np.mean(mine) - truth) < 0.04  # unbiased within its sampling error (0.6/sqrt(8*300) = 0.012)
    assert np.mean(dropped) < truth - 0.08  # dropping the slow pairs biases the ratio down


def test_paired_ratio_turns_each_censoring_into_the_right_bound():
    obs, both = paired_ratio([300, None, 200, None, False], [100, 150, None, None, 100], max_steps=1000)
    assert [(o.value, o.kind) if o else None for o in obs] == [
        (3.0, EXACT), (1000 / 150, ABOVE), (0.2, BELOW), None, None]
    assert both == 1
    with pytest.raises(ValueError, match="pair them by seed"):
        paired_ratio([1], [1, 2], max_steps=10)


def test_no_estimate_when_the_likelihood_has_no_finite_maximum():
    est = censored_lognormal([Censored(2.0, ABOVE), Censored(3.0, ABOVE), Censored(1.5)])
    assert est.estimate is None and "fewer than 2 distinct ones are exact" in est.why
    assert censored_lognormal([]).estimate is None


def test_activation_number_counts_censored_seeds_and_pairs_with_the_baseline():
    gelu = [80, 90, None, 70, 85]
    relu = [100, 120, 150, 90, None]
    num = censored_activation_number("gelu", gelu, relu, max_steps=500)
    assert num.n == 5 and "1 of 5 seeds never reached the target" in num.note
    # pairs: 0.8, 0.75, >= 500/150, 0.778, <= 85/500
    ref = censored_lognormal([Censored(0.8), Censored(0.75), Censored(500 / 150, ABOVE), Censored(70 / 90),
                              Censored(85 / 500, BELOW)])
    assert num.ratio == pytest.approx(ref.estimate) and num.ratio_low == pytest.approx(ref.low)
    base = censored_activation_number("relu", relu, relu, max_steps=500)
    assert (base.ratio, base.ratio_low, base.ratio_high) == (1.0, 1.0, 1.0)
