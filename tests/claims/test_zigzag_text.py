"""zigzag's generated text, limit and per-activation numbers on constructed metrics: no sentence contradicts its
numbers (issue 20), and the per-activation numbers match numpy (issue 23)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

from actlab.claims import zigzag as zz
from actlab.claims.zigzag.linear import Section

DIMS = (2, 10, 50)


def linear_section(ratio=(40.5, 72.8, 183.7), same_gd=(0.0, 0.0, 0.00032)) -> Section:
    keys = [str(n) for n in DIMS]
    m = {"steps_ratio": dict(zip(keys, ratio)),
         "quadrant_fraction_full_batch": {"positive": dict(zip(keys, same_gd))},
         "quadrant_fraction": {"positive": dict.fromkeys(keys, 1.0)},
         "condition_number": {"positive": dict(zip(keys, (12.2, 74.5, 610.0))),
                              "centred": dict(zip(keys, (1.02, 1.62, 3.6)))},
         "sgd_steps_ratio": dict(zip(keys, (11.0, 6.0, 6.5)))}
    return Section(m, {}, "holds", "", None)


@pytest.mark.parametrize(("ratio", "same_gd", "status"), [
    ((40.5, 72.8, 183.7), (0.0, 0.0, 0.00032), "holds"),      # slow, and almost no same-way steps: conditioning
    ((40.5, 72.8, 183.7), (0.0, 0.0, 0.049), "holds"),         # just under the 5% bound
    ((40.5, 72.8, 183.7), (0.0, 0.0, 0.051), "inconclusive"),  # just over it
    ((1.5, 72.8, 183.7), (0.0, 0.0, 0.0), "inconclusive"),     # not slowed at every n
    ((40.5, 72.8, 183.7), (0.6, 0.7, 0.8), "does_not_hold"),   # most full-batch steps move all weights one way
    ((None, 72.8, 183.7), (0.0, 0.0, 0.0), "inconclusive"),    # tolerance not reached at n = 2
])
def test_part_a_limit_says_what_it_measures(ratio, same_gd, status):
    config = zz.Config(parts=("linear",), dims=DIMS, samples=500)
    lim = zz.conditioning_limit(config, linear_section(ratio, same_gd))
    assert lim.status == status
    assert "conditioning" in lim.statement
    # the numbers in the sentence are the measured ones, in order
    for r in ratio:
        assert ("n/a" if r is None else f"{r:.3g}") in lim.evidence
    assert f"{max(same_gd):.3%}" in lim.evidence and lim.key_number.value == max(same_gd)


def test_meaning_does_not_credit_same_sign_steps_for_the_slowdown():
    config = zz.Config(parts=("linear",), dims=DIMS, samples=500)
    result = zz.run(config)
    v = result.verdict
    assert v.status == "inconclusive" and "conditioning" in v.meaning
    (lim,) = v.limits
    m = result.metrics
    assert lim.status == ("holds" if max(m["quadrant_fraction_full_batch"]["positive"].values()) < 0.01
                          and min(m["steps_ratio"].values()) >= zz.MIN_STEPS_RATIO else lim.status)
    assert "slowed most" in v.meaning and "not a test of the claim" in v.meaning


def _log_t(values):
    logs = np.log(values)
    half = stats.t.ppf(0.975, len(logs) - 1) * logs.std(ddof=1) / math.sqrt(len(logs))
    return math.exp(logs.mean()), math.exp(logs.mean() - half), math.exp(logs.mean() + half)


def test_per_activation_steps_and_centring_factor_match_numpy():
    config = zz.Config(parts=("factorial",), seeds=5)  # activations: the four, and relu (the baseline)
    per_seed = {"sigmoid": [900, 1000, 950, 1100, None], "sigmoid_centered": [400, 420, 450, 500, 380],
                "tanh_shifted": [380, 360, 400, 390, 370], "tanh": [170, 160, 180, 175, 165],
                "relu": [200, 210, 190, 220, 205]}
    metrics = {"activation_steps": {a: {"per_seed": s, "lr": 0.3, "lr_at_grid_edge": None}
                                    for a, s in per_seed.items()}}
    steps, centring = zz.per_activation(config, metrics)
    assert [v.activation for v in steps.values] == list(config.activations) and steps.baseline == "relu"
    tanh = steps.get("tanh")
    est, lo, hi = _log_t(per_seed["tanh"])
    assert (tanh.estimate, tanh.low, tanh.high) == (pytest.approx(est), pytest.approx(lo), pytest.approx(hi))
    r, rlo, rhi = _log_t(np.array(per_seed["tanh"]) / np.array(per_seed["relu"]))
    assert (tanh.ratio, tanh.ratio_low, tanh.ratio_high) == (pytest.approx(r), pytest.approx(rlo), pytest.approx(rhi))
    sig = steps.get("sigmoid")
    assert sig.n == 4 and "1 of 5 seeds missed the target" in sig.note  # censored, named
    cs = centring.get("sigmoid")
    want = _log_t([400 / 900, 420 / 1000, 450 / 950, 500 / 1100])
    assert cs.estimate == pytest.approx(want[0]) and cs.n == 4 and "sigmoid_centered / sigmoid" in cs.note
    ts = centring.get("tanh_shifted")
    assert ts.estimate == pytest.approx(_log_t(np.array(per_seed["tanh"]) / np.array(per_seed["tanh_shifted"]))[0])
    assert [v.activation for v in centring.values] == ["sigmoid", "tanh_shifted"]  # only where a twin exists


def test_config_always_trains_the_four_and_the_baseline():
    c = zz.Config(activations=("gelu",), baseline="relu")
    assert c.activations == ("sigmoid", "sigmoid_centered", "tanh_shifted", "tanh", "gelu", "relu")
    with pytest.raises(ValueError, match="maxout"):
        zz.Config(activations=("maxout",))


def _factorial_metrics(centring=(0.45, 0.37, 0.55)):
    """Part (b)'s metrics as factorial_verdict reads them, constructed (quick run's shape)."""
    from actlab.claims.zigzag.factorial import FACTORIAL_VARIANTS
    means = dict(zip(FACTORIAL_VARIANTS, (950.0, 430.0, 370.0, 170.0)))
    eff = {e: {"mean": -0.8, "ci95_low": -1.0, "ci95_high": -0.6, "n": 5} for e in zz.EFFECTS}
    return {"steps_to_target": {v: {"mean": x, "per_seed": [x] * 5, "n_excluded": 0} for v, x in means.items()},
            "factorial_effects": {**eff, "centring_share": 0.46},
            "centring_steps_factor": dict(zip(("estimate", "ci95_low", "ci95_high"), centring), n=5),
            "lr_at_grid_edge": dict.fromkeys(FACTORIAL_VARIANTS), "lr_chosen": dict.fromkeys(FACTORIAL_VARIANTS, 1.0),
            "lr_grid_used": {}}


@pytest.mark.parametrize(("centring", "same_gd", "status", "words"), [
    ((0.45, 0.37, 0.55), (0.0, 0.0, 0.00032), "holds", "not the course's stated one"),
    ((0.45, 0.37, 0.55), (0.6, 0.7, 0.8), "holds", "do move all weights one way, as the course's"),
    ((0.95, 0.85, 1.05), (0.0, 0.0, 0.00032), "inconclusive", "not the course's stated one"),
    ((1.05, 0.97, 1.13), (0.0, 0.0, 0.051), "does_not_hold", "does not settle"),
])
def test_conclusion_names_the_outcome_and_part_a_mechanism_in_one_sentence(centring, same_gd, status, words):
    """What holds (centring speeds training, by how much) and what part (a) finds about the mechanism, together; the
    target never reads as an accuracy; the log-scale share says so and gives the raw-steps share beside it."""
    from actlab.claims.zigzag.factorial import factorial_verdict
    config = zz.Config(parts=("linear", "factorial"), dims=DIMS, samples=500, seeds=5, target_error=0.65)
    lim = zz.conditioning_limit(config, linear_section(same_gd=same_gd))
    v = factorial_verdict(config, _factorial_metrics(centring), lim)
    assert v.status == status
    last = v.meaning.split(". So ")[-1]
    assert words in last
    assert ("speeds training (0.45x the steps)" in last) == (status == "holds")
    assert "training error at or below 65%" in v.evidence and "65% training error" not in v.evidence + v.meaning
    assert "on the log scale" in v.meaning and "saves 520 of the 780 steps between them, 67%" in v.meaning
    assert "arithmetic mean" in v.meaning and "tables below" not in v.evidence
    alone = factorial_verdict(dataclasses.replace(config, parts=("factorial",)), _factorial_metrics(centring))
    assert "not measured in this run" in alone.meaning  # no part (a): no finding claimed about the mechanism
