from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from actlab.verdicts.stats import geometric_mean, mean_ci95, t_quantile_975


@pytest.mark.parametrize("df", [*range(1, 31), 40, 99])
def test_t_quantile_is_scipys_at_every_df(df):
    # no typed table that falls back to 1.96 beyond 30 degrees of freedom (2.02 at df = 40)
    assert t_quantile_975(df) == pytest.approx(stats.t.ppf(0.975, df), rel=1e-12)
    with pytest.raises(ValueError, match="degrees of freedom"):
        t_quantile_975(0)


def test_mean_ci95_matches_scipy_interval():
    values = [12.0, 15.0, 9.0, 14.0, 11.0]
    got = mean_ci95(values)
    lo, hi = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert got["mean"] == pytest.approx(np.mean(values))
    assert got["ci95_low"] == pytest.approx(lo, rel=1e-3) and got["ci95_high"] == pytest.approx(hi, rel=1e-3)


def test_mean_ci95_excludes_non_finite_and_handles_one_value():
    got = mean_ci95([3.0, math.nan, None, math.inf])
    assert got["mean"] == 3.0 and got["n"] == 1 and got["n_excluded"] == 3 and got["ci95_low"] is None
    assert mean_ci95([])["mean"] is None


def test_geometric_mean():
    assert geometric_mean([1.0, 4.0, 16.0]) == pytest.approx(4.0)
    assert math.isnan(geometric_mean([1.0, 0.0]))


# --- the decision rule shared by every claim ---------------------------------------------

from actlab.verdicts.result import KeyNumber, Result, Rule, Source, Verdict  # noqa: E402
from actlab.verdicts.stats import (  # noqa: E402
    Interval,
    bootstrap_ci95,
    decide,
    grid_edge,
    positive_ci95,
)


def test_positive_ci95_is_the_t_interval_of_the_logs_and_stays_positive():
    values = [3.0, 40.0, 7.0, 120.0, 9.0]  # a spread that puts the plain t interval below zero
    plain = mean_ci95(values)
    assert plain["ci95_low"] < 0
    logs = np.log(values)
    lo, hi = stats.t.interval(0.95, len(values) - 1, loc=logs.mean(), scale=stats.sem(logs))
    got = positive_ci95(values)
    assert got.estimate == pytest.approx(stats.gmean(values))
    assert got.low == pytest.approx(math.exp(lo), rel=1e-3) and got.high == pytest.approx(math.exp(hi), rel=1e-3)
    assert got.low > 0 and got.method == "log-t"


def test_positive_ci95_of_reciprocals_is_the_reciprocal_interval():
    a = positive_ci95([0.5, 0.8, 0.6, 0.7, 0.9])
    b = positive_ci95([1 / 0.5, 1 / 0.8, 1 / 0.6, 1 / 0.7, 1 / 0.9])
    assert a.low == pytest.approx(1 / b.high) and a.high == pytest.approx(1 / b.low)


def test_positive_ci95_refuses_non_positive_values():
    with pytest.raises(ValueError, match="positive"):
        positive_ci95([1.0, 0.0, 2.0])


def test_bootstrap_ci95_matches_a_numpy_reference_and_is_seeded():
    values = [1.0, 2.0, 2.5, 4.0, 8.0, 3.0]
    got = bootstrap_ci95(values, resamples=4000, seed=1)
    assert got == bootstrap_ci95(values, resamples=4000, seed=1)
    rng = np.random.default_rng(0)  # an independent resampler: the intervals agree to sampling error
    boots = np.sort(rng.choice(values, size=(20000, len(values))).mean(axis=1))
    ref_lo, ref_hi = np.percentile(boots, [2.5, 97.5])
    assert got.estimate == pytest.approx(np.mean(values))
    assert got.low == pytest.approx(ref_lo, abs=0.25) and got.high == pytest.approx(ref_hi, abs=0.25)
    assert bootstrap_ci95([5.0]).low is None


RULE = Rule(statistic="tanh/relu step ratio", threshold=2.0, holds_if="above", seeds=5)


@pytest.mark.parametrize(("interval", "status"), [
    (Interval(3.0, 2.5, 3.5, 5, "log-t"), "holds"),
    (Interval(1.0, 0.8, 1.2, 5, "log-t"), "does_not_hold"),
    (Interval(2.0, 1.5, 2.5, 5, "log-t"), "inconclusive"),   # spans the threshold
    (Interval(3.0, 2.5, 3.5, 4, "log-t"), "inconclusive"),   # too few seeds
    (Interval(3.0, None, None, 5, "log-t"), "inconclusive"),  # no interval
    (Interval(None, None, None, 0, "log-t"), "inconclusive"),
])
def test_decide_gives_each_verdict(interval, status):
    got, reason = decide(interval, RULE)
    assert got == status and reason


def test_decide_below_rule_and_reasons_say_what_to_rerun():
    rule = Rule(statistic="dead share", threshold=0.4, holds_if="below", seeds=5)
    assert decide(Interval(0.1, 0.05, 0.2, 5, "t"), rule)[0] == "holds"
    assert decide(Interval(0.6, 0.5, 0.7, 5, "t"), rule)[0] == "does_not_hold"
    assert "--seeds 5" in decide(Interval(0.1, 0.05, 0.2, 2, "t"), rule)[1]
    assert "spans the threshold 0.4" in decide(Interval(0.4, 0.3, 0.5, 5, "t"), rule)[1]


def test_grid_edge():
    assert grid_edge([0.01, 0.1, 1.0], 0.01) == "low"
    assert grid_edge([0.01, 0.1, 1.0], 1.0) == "high"
    assert grid_edge([1.0, 0.1, 0.01], 0.1) is None
    assert grid_edge([0.3], 0.3) == "low"
    with pytest.raises(ValueError):
        grid_edge([0.1, 1.0], 0.5)


def test_rule_text_is_made_from_its_numbers_and_bad_direction_refused():
    assert "above 2" in RULE.text and "5 seeds" in RULE.text
    with pytest.raises(ValueError, match="holds_if"):
        Rule(statistic="x", threshold=1.0, holds_if="over", seeds=5)


def test_verdict_round_trips_through_result_json():
    v = Verdict("holds", "interval 2.5-3.5 above 2", rule=RULE,
                source=Source("Krizhevsky et al. 2012, Fig. 1", "about 6x", "3x (2.5-3.5)", "MNIST, not CIFAR-10"),
                meaning="ReLU was faster.", key_number=KeyNumber(3.0, "3.0x", "tanh/relu steps"))
    r = Result("convergence", {}, {}, v, {}, 1.0)
    again = Result.from_dict(r.to_dict())
    assert again.verdict == v
    old = Result.from_dict({**r.to_dict(), "verdict": {"status": "holds", "evidence": "e"}})
    assert old.verdict.rule is None and old.verdict.meaning == ""


def test_decide_each_needs_every_arm():
    from actlab.verdicts.stats import decide_each

    up, down, wide = (Interval(3.0, 2.5, 3.5, 5, "log-t"), Interval(1.0, 0.8, 1.2, 5, "log-t"),
                      Interval(2.0, 1.5, 2.5, 5, "log-t"))
    assert decide_each({"a": up, "b": up}, RULE)[0] == "holds"
    assert decide_each({"a": up, "b": down, "c": wide}, RULE)[0] == "does_not_hold"
    assert decide_each({"a": up, "b": wide}, RULE)[0] == "inconclusive"
    status, per = decide_each({}, RULE)
    assert status == "inconclusive" and per == {}


def test_activation_number_pairs_ratios_by_seed_against_a_scipy_reference():
    from actlab.verdicts.stats import activation_number

    mine, base = [2.0, 4.0, 3.0, float("nan"), 5.0], [1.0, 2.5, 2.0, 1.0, 2.0]
    got = activation_number("gelu", mine, base)
    ratios = np.log([2.0 / 1.0, 4.0 / 2.5, 3.0 / 2.0, 5.0 / 2.0])  # the diverged seed drops out of its pair
    lo, hi = stats.t.interval(0.95, len(ratios) - 1, loc=ratios.mean(), scale=stats.sem(ratios))
    assert got.ratio == pytest.approx(np.exp(ratios.mean()), rel=1e-12)
    assert (got.ratio_low, got.ratio_high) == pytest.approx((np.exp(lo), np.exp(hi)), rel=1e-12)
    logs = np.log([2.0, 4.0, 3.0, 5.0])
    assert got.estimate == pytest.approx(np.exp(logs.mean()), rel=1e-12) and got.n == 4
    plain = activation_number("tanh", [-1.0, 1.0, 0.5], positive=False)
    assert plain.estimate == pytest.approx(np.mean([-1.0, 1.0, 0.5])) and plain.ratio is None
    with pytest.raises(ValueError, match="pair them by seed"):
        activation_number("x", [1.0, 2.0], [1.0])
