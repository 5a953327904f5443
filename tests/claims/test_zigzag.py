"""The ``zigzag`` claim: part (a) against plain-numpy references, part (b) (the MNIST-1D
factorial) against plain scans and hand-computed contrasts, the CLI, bad input."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from actlab.claims import zigzag as zz
from actlab.claims.zigzag import factorial as zz_b
from actlab.cli.main import main
from actlab.plots import zigzag as zz_plots
from actlab.verdicts.result import load_result, write_json_atomic

DIMS = (2, 5, 12)
LINEAR = ("linear",)
EXACT = zz.Config(parts=LINEAR, dims=DIMS, samples=240, tol=1e-6, sgd_epochs=20)
# Noisy targets: SGD never lands exactly on the optimum, so no step is exactly zero and
# the share of same-direction steps can be replayed step for step.
NOISY = zz.Config(parts=LINEAR, dims=DIMS, samples=240, noise=0.1, tol=1e-4, sgd_epochs=2, seed=3)


@pytest.fixture(scope="module")
def exact():
    return zz.run(EXACT)


@pytest.fixture(scope="module")
def noisy():
    return zz.run(NOISY)


# --- plain-numpy references ------------------------------------------------------------


def _arrays(config: zz.Config, n: int, variant: str) -> tuple[np.ndarray, np.ndarray]:
    problems, _ = zz.linear_problem(config, n)
    return problems[variant].inputs.numpy(), problems[variant].targets.numpy()


def _loss(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    return 0.5 * float(np.mean((x @ w - y) ** 2))


def _relative_excess(x, y):
    w_ls = np.linalg.lstsq(x, y, rcond=None)[0]
    best = _loss(x, y, w_ls)
    start = _loss(x, y, np.zeros(x.shape[1])) - best
    return lambda w: (_loss(x, y, w) - best) / start


def _numpy_gd_steps(x, y, lr_scale, tol, max_steps):
    n_samples = len(y)
    lr = lr_scale / np.linalg.eigvalsh(x.T @ x / n_samples)[-1]
    rel = _relative_excess(x, y)
    w = np.zeros(x.shape[1])
    for t in range(1, max_steps + 1):
        w = w - lr * x.T @ (x @ w - y) / n_samples
        if rel(w) <= tol:
            return t
    return None


def _numpy_sgd(x, y, config: zz.Config, order_seed: int):
    """Per-example SGD over examples in a plain loop: (steps to tol, same-direction share, steps counted).

    A step -lr r x_i moves along x_i: it moves every weight the same way when x_i has one sign
    throughout. Every step is counted, also one whose residual has rounded to exactly 0."""
    lr = config.sgd_lr_scale / np.mean(np.sum(x**2, axis=1))
    rel = _relative_excess(x, y)
    orders = zz.sgd_orders(order_seed, len(y))
    w = np.zeros(x.shape[1])
    t, reached, same, moved = 0, None, 0, 0
    for _ in range(config.sgd_epochs):
        if reached is not None:
            break
        for i in next(orders):
            step = -lr * (x[i] @ w - y[i]) * x[i]
            w = w + step
            t += 1
            moved += 1
            same += all(v > 0 for v in x[i]) or all(v < 0 for v in x[i])
            if reached is None and rel(w) <= config.tol:
                reached = t
    return reached, same / moved, moved


# --- metrics ----------------------------------------------------------------------------------


def test_condition_number_matches_numpy_eigvalsh(exact):
    for n in DIMS:
        for variant in zz.VARIANTS:
            x, _ = _arrays(EXACT, n, variant)
            eig = np.linalg.eigvalsh(x.T @ x / len(x))
            assert exact.metrics["condition_number"][variant][str(n)] == pytest.approx(eig[-1] / eig[0], rel=1e-9)
        # the mean is what separates them: positive inputs in (0, 1), centred = positive - mean
        xp, _ = _arrays(EXACT, n, "positive")
        xc, _ = _arrays(EXACT, n, "centred")
        assert (xp > 0).all() and (xp < 1).all()
        np.testing.assert_allclose(xc, xp - xp.mean(axis=0), rtol=0, atol=1e-15)
        assert exact.metrics["condition_number"]["positive"][str(n)] > 5 * exact.metrics["condition_number"]["centred"][str(n)]


def test_population_condition_number_matches_quadrature():
    from scipy import integrate

    def moment(k):
        f = lambda z: (1 / (1 + math.exp(-z))) ** k * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
        return integrate.quad(f, -40, 40, epsabs=1e-14)[0]

    mean, var = zz.population_moments("sigmoid")
    assert mean == pytest.approx(moment(1), abs=1e-12)
    assert var == pytest.approx(moment(2) - moment(1) ** 2, rel=1e-9)
    assert zz.population_moments("uniform") == (0.5, pytest.approx(1 / 12))


def test_steps_to_tol_matches_numpy_gradient_descent(exact, noisy):
    for result, config in ((exact, EXACT), (noisy, NOISY)):
        for n in DIMS:
            for variant in zz.VARIANTS:
                x, y = _arrays(config, n, variant)
                want = _numpy_gd_steps(x, y, config.lr_scale, config.tol, config.max_steps)
                got = result.metrics["steps_to_tol"][variant][str(n)]
                # The module measures L - L* as a quadratic form, the reference from the data:
                # rounding may move the crossing of tol by one step, no more.
                assert want is not None and got is not None
                assert abs(got - want) <= 1, (variant, n, got, want)
                assert got <= result.metrics["steps_bound"][variant][str(n)]


def test_quadrant_fraction_matches_plain_loop(noisy):
    for n in DIMS:
        _, order_seed = zz.linear_problem(NOISY, n)
        for variant in zz.VARIANTS:
            x, y = _arrays(NOISY, n, variant)
            reached, fraction, moved = _numpy_sgd(x, y, NOISY, order_seed)
            assert noisy.metrics["quadrant_fraction"][variant][str(n)] == fraction
            assert noisy.metrics["quadrant_fraction_steps"][variant][str(n)] == moved
            assert moved % NOISY.samples == 0  # whole epochs
            assert noisy.metrics["sgd_steps_to_tol"][variant][str(n)] == reached


def test_quadrant_fraction_does_not_hang_on_residuals_that_rounded_to_zero(exact):
    # Without noise SGD converges to the last bit, where a residual is exactly 0 on one CPU and
    # +-1e-17 on another; the share must not depend on which (it did: 0.51 vs 0.59 for n = 2).
    for n in DIMS:
        _, order_seed = zz.linear_problem(EXACT, n)
        for variant in zz.VARIANTS:
            x, y = _arrays(EXACT, n, variant)
            _, fraction, steps = _numpy_sgd(x, y, EXACT, order_seed)
            assert exact.metrics["quadrant_fraction_steps"][variant][str(n)] == steps
            assert steps % EXACT.samples == 0
            assert exact.metrics["quadrant_fraction"][variant][str(n)] == fraction
            # over whole epochs (each a permutation) it is the share of examples in the two orthants
            in_orthant = np.mean(np.all(x > 0, axis=1) | np.all(x < 0, axis=1))
            assert fraction == pytest.approx(in_orthant, abs=1e-12)


def test_sgd_steps_to_tol_matches_plain_loop(exact):
    for n in DIMS:
        _, order_seed = zz.linear_problem(EXACT, n)
        for variant in zz.VARIANTS:
            x, y = _arrays(EXACT, n, variant)
            reached, _, _ = _numpy_sgd(x, y, EXACT, order_seed)
            assert reached is not None
            assert exact.metrics["sgd_steps_to_tol"][variant][str(n)] == reached


def test_positive_inputs_confine_every_step_and_centring_frees_them(exact, noisy):
    for result in (exact, noisy):
        for n in DIMS:
            assert result.metrics["quadrant_fraction"]["positive"][str(n)] == 1.0  # the sign argument, exactly
        # centred, 2 weights: about half the steps (2^(1-n)), within 5 standard errors
        half = result.metrics["quadrant_fraction"]["centred"]["2"]
        steps = result.metrics["quadrant_fraction_steps"]["centred"]["2"]
        assert abs(half - 0.5) < 5 * math.sqrt(0.25 / steps) + 1e-12, (half, steps)
        assert result.metrics["quadrant_fraction"]["centred"]["12"] < 0.05


def test_centred_problem_needs_far_fewer_steps(exact):
    m = exact.metrics
    for n in map(str, DIMS):
        assert m["steps_to_tol"]["centred"][n] * zz.MIN_STEPS_RATIO <= m["steps_to_tol"]["positive"][n]
        assert m["steps_ratio"][n] == m["steps_to_tol"]["positive"][n] / m["steps_to_tol"]["centred"][n]
    # the mean's eigenvalue grows with n, and so does the condition number
    kappas = [m["condition_number"]["positive"][str(n)] for n in DIMS]
    assert kappas == sorted(kappas)
    assert exact.verdict.status == "inconclusive" and "algebra check" in exact.verdict.evidence  # (a) tests nothing
    assert "LeCun" in exact.verdict.evidence


def test_same_config_same_metrics_other_seed_other_draws(exact):
    again = zz.run(EXACT)
    assert again.metrics == exact.metrics
    assert json.dumps(again.to_dict()["data"]) == json.dumps(exact.to_dict()["data"])
    other = zz.run(zz.Config(parts=LINEAR, dims=(2,), samples=240, seed=1))
    assert other.metrics["condition_number"]["positive"]["2"] != exact.metrics["condition_number"]["positive"]["2"]
    # n = 2 does not depend on which other dims ran beside it
    alone = zz.run(zz.Config(parts=LINEAR, dims=(2,), samples=240, tol=1e-6, sgd_epochs=20))
    assert alone.metrics["steps_to_tol"]["positive"]["2"] == exact.metrics["steps_to_tol"]["positive"]["2"]


def test_sgd_ratio_is_the_ratio_of_sgd_steps(exact):
    m = exact.metrics
    for n in map(str, DIMS):
        assert m["sgd_steps_ratio"][n] == m["sgd_steps_to_tol"]["positive"][n] / m["sgd_steps_to_tol"]["centred"][n]
        assert m["sgd_steps_ratio"][n] > 1
    mean, var = zz.population_moments("sigmoid")
    assert m["sgd_steps_ratio_population"] == pytest.approx(1 + mean**2 / var)


def test_uniform_inputs_and_progress():
    calls = []
    config = zz.Config(parts=LINEAR, dims=(2, 6), samples=100, inputs="uniform")
    result = zz.run(config, progress=lambda d, t, msg="": calls.append((d, t)))
    x, _ = _arrays(config, 6, "positive")
    assert (x > 0).all() and (x <= 1).all()
    assert all(result.metrics["quadrant_fraction"]["positive"][k] == 1.0 for k in ("2", "6"))
    assert result.metrics["condition_number_population"]["positive"]["6"] == pytest.approx(1 + 6 * 3)  # mu^2/s^2 = 3
    assert calls[0] == (0, 4) and calls[-1] == (4, 4)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_tol_not_reached_is_inconclusive_and_still_serialisable():
    result = zz.run(zz.Config(parts=LINEAR, dims=(2,), samples=50, max_steps=3))
    assert result.metrics["steps_to_tol"]["positive"]["2"] is None
    assert result.metrics["steps_ratio"]["2"] is None
    assert result.verdict.status == "inconclusive" and "max_steps" in result.verdict.evidence
    json.dumps(result.to_dict(), allow_nan=False)


# --- part (b): the factorial on MNIST-1D ---------------------------------------------------

# Tiny but real: every variant reaches 70% training error at one of the two rates within
# 300 steps (3 seeds, so the CIs exist); at one rate for all, some variant misses it.
FAC = zz.Config(parts=("factorial",), seeds=3, select_seeds=2, baseline="tanh", width=16, lr_grid=(0.3, 3.0),
                train_steps=300, eval_every=10, target_error=0.7, workers=1, lr_grid_growth=0)
# Every run misses the target (30 steps at lr 1e-3) or diverges (lr 1e37 overflows float32).
BROKEN = zz.Config(parts=("factorial",), seeds=2, width=8, lr_grid=(1e-3, 1e37), fixed_lr=1e37,
                   train_steps=30, eval_every=10, workers=1, lr_grid_growth=0)


@pytest.fixture(scope="module")
def fac():
    calls = []
    result = zz.run(FAC, progress=lambda d, t, msg="": calls.append((d, t)))
    return result, calls


def _scan(steps, errors, target):
    """First step whose error is <= target, by a plain loop; NaN ("nan" once in JSON) never counts."""
    for step, err in zip(steps, errors):
        err = float(err)
        if not math.isnan(err) and err <= target:
            return step
    return None


def _ci95(values):
    from scipy import stats

    v = np.asarray(values, float)
    half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return v.mean() - half, v.mean() + half


def test_steps_to_target_is_a_plain_scan_of_the_stored_curves(fac):
    result, _ = fac
    m, data = result.metrics, result.data["factorial"]
    assert m["target_error"] == FAC.target_error
    for curves_key, suffix, rates in (("tuned", "", m["lr_chosen"]), ("fixed", "_fixed_lr", dict.fromkeys(zz.FACTORIAL_VARIANTS, m["lr_fixed"]))):
        for v in zz.FACTORIAL_VARIANTS:
            curves, summary = data[curves_key][v], m["steps_to_target" + suffix][v]
            assert curves["lr"] == summary["lr"] == rates[v]
            assert curves["seeds"] == [0, 1, 2]
            want = [_scan(st, er, FAC.target_error) for st, er in zip(curves["steps"], curves["train_error"])]
            assert summary["per_seed"] == want
            assert summary["reached"] == sum(w is not None for w in want)
            # the curves are whole runs: evaluated every eval_every steps, from 0 to train_steps
            assert all(st == list(range(0, FAC.train_steps + 1, FAC.eval_every)) for st in curves["steps"])
            if None in want:
                assert summary["mean"] is None and summary["n_excluded"] == want.count(None)
            else:
                assert summary["mean"] == pytest.approx(np.mean(want), rel=1e-12)
                lo, hi = _ci95(want)
                assert (summary["ci95_low"], summary["ci95_high"]) == (pytest.approx(lo, rel=1e-3), pytest.approx(hi, rel=1e-3))
            # the rate search ran on the selection seeds, never these
            assert len(m["lr_search"][v][f"{rates[v]:g}"]["per_seed"]) == FAC.select_seeds
    # tuned: every variant reached it (the verdict has numbers); at one rate for all, not every one
    assert all(m["steps_to_target"][v]["mean"] is not None for v in zz.FACTORIAL_VARIANTS)
    assert any(m["steps_to_target_fixed_lr"][v]["mean"] is None for v in zz.FACTORIAL_VARIANTS)


def test_factorial_effects_match_a_regression_on_the_per_seed_steps(fac):
    # Independent of the module's formulas: per seed, fit ln steps = b0 + bc*c + bg*g + bcg*c*g
    # with c, g = -1/2 (all-positive; sigmoid's gain) or +1/2 (centred; tanh's gain). With this
    # coding the main effects are bc and bg, and the module's interaction (half the difference
    # of the two simple centring effects) is bcg / 2.
    result, _ = fac
    m = result.metrics
    design, cells = [], []
    for v, (centred, gain) in zz.FACTORS.items():
        c, g = (0.5 if centred else -0.5), (0.5 if gain == "tanh" else -0.5)
        design.append([1.0, c, g, c * g])
        cells.append(v)
    design = np.asarray(design)
    per_seed = {"centring": [], "gain": [], "interaction": [], "total": [], "centring_at_sigmoid_gain": []}
    for i in range(FAC.seeds):
        y = np.log([m["steps_to_target"][v]["per_seed"][i] for v in cells])
        b0, bc, bg, bcg = np.linalg.lstsq(design, y, rcond=None)[0]
        steps = dict(zip(cells, y))
        per_seed["centring"].append(bc)
        per_seed["gain"].append(bg)
        per_seed["interaction"].append(bcg / 2)
        per_seed["total"].append(steps["tanh"] - steps["sigmoid"])
        per_seed["centring_at_sigmoid_gain"].append(steps["sigmoid_centered"] - steps["sigmoid"])
    effects = m["factorial_effects"]
    for name, values in per_seed.items():
        e = effects[name]
        np.testing.assert_allclose(e["per_seed"], values, rtol=0, atol=1e-12)
        assert e["mean"] == pytest.approx(np.mean(values), abs=1e-12)
        lo, hi = _ci95(values)
        assert e["ci95_low"] == pytest.approx(lo, rel=1e-3, abs=1e-12) and e["ci95_high"] == pytest.approx(hi, rel=1e-3, abs=1e-12)
        assert e["steps_factor"] == pytest.approx(math.exp(np.mean(values)), rel=1e-12)
    assert effects["centring_share"] == pytest.approx(np.mean(per_seed["centring"]) / np.mean(per_seed["total"]), rel=1e-12)
    assert effects["centring_alone_share"] == pytest.approx(
        np.mean(per_seed["centring_at_sigmoid_gain"]) / np.mean(per_seed["total"]), rel=1e-12)
    # at one rate for all, some variant missed the target: no contrasts there, and no shares
    fixed = m["factorial_effects_fixed_lr"]
    assert all(fixed[e]["mean"] is None for e in zz.EFFECTS) and fixed["centring_share"] is None


def test_factorial_effects_by_hand_and_with_a_missed_target():
    # seed 0: centring halves the steps at both gains, so does gain; seed 1: centring thirds them
    per_seed = {"sigmoid": [800, 900], "sigmoid_centered": [400, 300], "tanh_shifted": [400, 450], "tanh": [200, 150]}
    e = zz.factorial_effects(per_seed)
    assert e["centring"]["per_seed"] == pytest.approx([math.log(1 / 2), math.log(1 / 3)], abs=1e-15)
    assert e["gain"]["per_seed"] == pytest.approx([math.log(1 / 2), math.log(1 / 2)], abs=1e-15)
    assert e["interaction"]["per_seed"] == pytest.approx([0.0, 0.0], abs=1e-15)
    assert e["total"]["per_seed"] == pytest.approx([math.log(1 / 4), math.log(1 / 6)], abs=1e-15)
    assert e["centring_share"] == pytest.approx(math.log(6) / math.log(24), rel=1e-12)
    assert e["centring"]["steps_factor"] == pytest.approx(math.sqrt(1 / 6), rel=1e-12)
    # a seed where one variant never reached the target (or met it before training) has no contrasts
    for missing in (None, 0):
        e = zz.factorial_effects({**per_seed, "tanh_shifted": [400, missing]})
        assert e["centring"]["per_seed"][1] is None and e["centring"]["per_seed"][0] == pytest.approx(math.log(1 / 2))
        assert e["centring"]["mean"] is None and e["centring"]["n_excluded"] == 1
        assert e["centring_share"] is None
    with pytest.raises(ValueError, match="same number of seeds"):
        zz.factorial_effects({**per_seed, "tanh": [200]})


def _rank(runs):
    # plain re-statement of the rule: fewest diverged, fewest missed, lowest mean ln steps
    diverged = sum(r["diverged_at"] is not None for r in runs)
    reached = [r["steps_to_target"] for r in runs if r["steps_to_target"]]
    return diverged, len(runs) - len(reached), (np.mean(np.log(reached)) if reached else math.inf)


def test_lr_choice_follows_the_rate_search(fac):
    result, _ = fac
    m = result.metrics
    for v in zz.FACTORIAL_VARIANTS:
        runs = {float(k): [{"diverged_at": dv, "steps_to_target": st, "train_error": [0.5]}
                           for st, dv in zip(d["per_seed"], d["diverged"])] for k, d in m["lr_search"][v].items()}
        assert m["lr_chosen"][v] == min(runs, key=lambda lr: _rank(runs[lr]))
        for d in m["lr_search"][v].values():
            reached = [s for s in d["per_seed"] if s is not None]
            assert d["reached"] == len(reached)
            want = np.mean(np.log(reached)) if len(reached) == FAC.select_seeds else None
            assert d["mean_log_steps"] == (pytest.approx(want, rel=1e-12) if want is not None else None)
    # synthetic: a rate that diverged on one seed loses to a slower one that did not, and a
    # rate that misses the target on one seed loses to one that reaches it on every seed
    run = lambda steps, div=None: {"steps_to_target": steps, "diverged_at": div, "train_error": [0.4]}  # noqa: E731
    assert zz.choose_lr({1.0: [run(100), run(100, div=400)], 0.1: [run(900), run(800)]}) == 0.1
    assert zz.choose_lr({1.0: [run(100), run(None)], 0.1: [run(900), run(800)], 0.3: [run(300), run(400)]}) == 0.3
    both = {"a": {1.0: [run(100)], 0.1: [run(900)]}, "b": {1.0: [run(None)], 0.1: [run(500)]}}
    assert zz.choose_fixed_lr(both) == 0.1


def test_the_four_variants_start_from_the_same_weights_and_runs_repeat(fac):
    result, _ = fac
    for seed in (0, 1):
        weights = {v: [p.detach() for p in zz.factorial_model(FAC, v, seed).parameters()] for v in zz.FACTORIAL_VARIANTS}
        for v in zz.FACTORIAL_VARIANTS[1:]:
            assert all(torch.equal(a, b) for a, b in zip(weights["sigmoid"], weights[v]))
    # ... and another seed from other weights
    assert not torch.equal(next(zz.factorial_model(FAC, "sigmoid", 1).parameters()),
                           next(zz.factorial_model(FAC, "sigmoid", 0).parameters()))
    # determinism: one stored run, trained again in this process and in a worker process
    v = "tanh"
    lr, stored = result.metrics["lr_chosen"][v], result.data["factorial"]["tuned"][v]
    again = zz.factorial_run(FAC, v, lr, 2)
    assert again["train_error"] == stored["train_error"][2]
    assert 1 - again["final_test_error"] == result.metrics["test_accuracy"][v]["per_seed"][2]
    from actlab.training.workers import run_tasks

    in_workers = run_tasks(zz.factorial_run, [(FAC, v, lr, 2), (FAC, "sigmoid", 3.0, 0)], workers=2)
    assert in_workers[0]["train_error"] == stored["train_error"][2]


def test_test_accuracy_and_progress(fac):
    result, calls = fac
    m = result.metrics
    for v in zz.FACTORIAL_VARIANTS:
        acc = m["test_accuracy"][v]
        assert len(acc["per_seed"]) == FAC.seeds and all(0.1 < a < 0.9 for a in acc["per_seed"])
        assert acc["mean"] == pytest.approx(np.mean(acc["per_seed"]), rel=1e-12)
        assert m["diverged"][v] == [None] * FAC.seeds
    total = len(FAC.activations) * (len(FAC.lr_grid) * FAC.select_seeds + 2 * FAC.seeds)  # the most it can take
    assert calls[-1] == (total, total) and [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert result.env["device"] == "cpu"


def test_verdict_reads_the_centring_effect(fac):
    result, _ = fac
    effects = result.metrics["factorial_effects"]
    # two rates and no growth: every chosen rate is at an edge of its grid, so no verdict
    assert all(e is not None for e in result.metrics["lr_at_grid_edge"].values())
    assert result.verdict.status == "inconclusive" and "best lr at the grid edge" in result.verdict.evidence
    text = result.verdict.evidence
    assert f"{100 * effects['centring_share']:.0f}% of tanh's advantage over sigmoid on the log scale" in text
    assert "training error at or below 70%" in text and "70% training error" not in text  # never read as accuracy
    assert "part (b) table" in text and "tables below" not in text and len(text.split()) < 110
    rows = {row[0]: row for t in zz_plots.tables(result) for row in t["rows"]}
    for v in zz.FACTORIAL_VARIANTS:  # the cases are in the tables
        assert any(f"{result.metrics['steps_to_target'][v]['mean']:.0f}" in str(c) for c in rows[v])
    # the rates were chosen on seeds that are not reported
    assert not set(result.metrics["seeds_select"]) & set(result.metrics["seeds_reported"])
    factor = result.metrics["centring_steps_factor"]
    per_seed = [math.exp(c) for c in effects["centring"]["per_seed"]]
    assert factor["estimate"] == pytest.approx(math.exp(np.mean(np.log(per_seed))), rel=1e-12)
    v = result.verdict
    assert v.rule.holds_if == "below" and v.rule.threshold == pytest.approx(1 / zz.MIN_CENTRING_SPEEDUP, abs=1e-4)
    assert v.key_number.label.startswith("centring") and "neuron" in v.meaning and "custom-size" in v.meaning


@pytest.mark.parametrize(("interval", "status"), [
    ((0.45, 0.37, 0.55), "holds"),
    ((1.05, 0.97, 1.13), "does_not_hold"),
    ((0.85, 0.70, 1.05), "inconclusive"),
])
def test_centring_rule_gives_each_verdict_on_constructed_inputs(fac, interval, status):
    result, _ = fac
    m = json.loads(json.dumps(result.metrics))
    m["lr_at_grid_edge"] = dict.fromkeys(zz.FACTORIAL_VARIANTS)  # every best rate interior
    e, lo, hi = interval
    m["centring_steps_factor"] = {"estimate": e, "ci95_low": lo, "ci95_high": hi, "n": 5}
    config = dataclasses.replace(FAC, seeds=5)
    assert zz_b.factorial_verdict(config, m).status == status
    m["lr_at_grid_edge"]["tanh"] = "low"
    v = zz_b.factorial_verdict(config, m)
    assert v.status == "inconclusive" and "best lr at the grid edge" in v.evidence
    m["lr_at_grid_edge"]["tanh"] = None
    m["centring_steps_factor"]["n"] = 3
    assert zz_b.factorial_verdict(config, m).status == "inconclusive"  # fewer than 5 seeds


def test_next_rate_walks_the_ladder_beyond_an_edge():
    assert zz.next_rate((0.3, 1.0, 3.0), "high") == 10.0
    assert zz.next_rate((0.3, 1.0, 3.0), "low") == 0.1
    assert zz.next_rate((1.0, 10.0), "high") == 30.0
    assert zz.next_rate((0.25, 0.5), "high") == 1.0  # off the ladder: the grid's own ratio
    assert zz.next_rate((0.25, 0.5), "low") == 0.125


def test_a_rate_at_the_edge_grows_the_grid(tmp_path: Path):
    config = zz.Config(parts=("factorial",), seeds=1, width=8, lr_grid=(0.01, 0.03), train_steps=40, eval_every=20,
                       target_error=0.88, workers=1, lr_grid_growth=1)
    m = zz.run(config).metrics
    for v in zz.FACTORIAL_VARIANTS:
        grid = m["lr_grid_used"][v]
        assert len(grid) in (2, 3) and set(config.lr_grid) <= set(grid)
        assert set(m["lr_search"][v]) == {f"{lr:g}" for lr in grid}
        if len(grid) == 3:  # grown once, towards the edge the best rate sat at
            assert grid[-1] == 0.1 or grid[0] == 0.003


def test_part_a_alone_is_an_algebra_check_not_a_verdict():
    config = zz.Config(parts="a", dims=(2, 10), samples=200)
    assert config.parts == ("linear",) and zz.Config(parts="b,a").parts == ("factorial", "linear")
    result = zz.run(config)
    assert result.verdict.status == "inconclusive" and "algebra check" in result.verdict.evidence
    assert result.verdict.key_number.value == result.metrics["condition_number"]["positive"]["10"]


def test_missed_target_and_divergence_are_recorded_not_raised(tmp_path: Path):
    result = zz.run(BROKEN)
    m = result.metrics
    for v in zz.FACTORIAL_VARIANTS:
        assert m["lr_chosen"][v] == 1e-3  # the diverging rate ranks last
        assert m["steps_to_target"][v]["per_seed"] == [None, None] and m["steps_to_target"][v]["reached"] == 0
        assert m["steps_to_target"][v]["mean"] is None
        assert m["lr_search"][v]["1e+37"]["diverged"] == [10] * BROKEN.select_seeds
        assert m["diverged_fixed_lr"][v] == [10, 10]
        acc = m["test_accuracy_fixed_lr"][v]
        assert acc["mean"] is None and acc["n_excluded"] == 2 and all(math.isnan(a) for a in acc["per_seed"])
    assert m["lr_fixed"] == 1e37
    assert all(m["factorial_effects"][e]["mean"] is None for e in zz.EFFECTS)
    assert result.verdict.status == "inconclusive"
    assert "sigmoid on 2 of 2 seeds" in result.verdict.evidence and "train_steps" in result.verdict.evidence
    json.dumps(result.to_dict(), allow_nan=False)
    # the figures draw what there is (diverged curves are NaN, missed targets say so)
    write_json_atomic(result.to_dict(), tmp_path / "result.json")
    paths = zz_plots.plot(load_result(tmp_path), tmp_path)
    assert sorted(p.name for p in paths) == ["zigzag_factorial.png", "zigzag_factorial_curves.png"]


def test_factorial_data_survives_json_unchanged(fac, tmp_path: Path):
    result, _ = fac
    write_json_atomic(result.to_dict(), tmp_path / "result.json")
    loaded = load_result(tmp_path)
    assert loaded.data == json.loads(json.dumps(result.to_dict()["data"]))
    assert loaded.data["factorial"] == result.data["factorial"]
    assert loaded.metrics == result.metrics


# --- config -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad, word", [
    ({"dims": (0,)}, "dims"), ({"dims": (1, 10)}, "dims"), ({"dims": ()}, "dims"),
    ({"samples": -5}, "samples"), ({"samples": 50, "dims": (2, 50)}, "samples"),
    ({"tol": 0.0}, "tol"), ({"tol": 1.5}, "tol"), ({"lr_scale": 2.0}, "lr_scale"),
    ({"sgd_lr_scale": -1.0}, "sgd_lr_scale"), ({"max_steps": 0}, "max_steps"),
    ({"inputs": "relu"}, "inputs"), ({"parts": ("bogus",)}, "parts"), ({"parts": ()}, "parts"),
    ({"seed": -1}, "seed"), ({"noise": float("nan")}, "noise"),
    ({"seeds": 0}, "seeds"), ({"width": 0}, "width"), ({"depth": 0}, "depth"), ({"init": "zeros"}, "init"),
    ({"batch_size": 4001}, "batch_size"), ({"lr_grid": ()}, "lr_grid"), ({"lr_grid": (0.1, -1.0)}, "lr_grid"),
    ({"lr_grid": "0.1,x"}, "lr_grid"), ({"fixed_lr": 0.5}, "fixed_lr"), ({"train_steps": 0}, "train_steps"),
    ({"target_error": 1.0}, "target_error"), ({"target_error": 0.0}, "target_error"),
    ({"eval_every": 0}, "eval_every"), ({"workers": -1}, "workers"), ({"device": "tpu"}, "device"),
    ({"lr_grid_growth": -1}, "lr_grid_growth"),
])
def test_bad_config_is_a_clear_value_error(bad, word):
    with pytest.raises(ValueError, match=word):
        zz.Config(**bad)


def test_config_normalises_dims_parts_and_rates():
    c = zz.Config(dims=[50, 2, 10, 2], parts="linear,linear")
    assert c.dims == (2, 10, 50) and c.parts == ("linear",)
    c = zz.Config(parts="factorial, linear", lr_grid="3,0.3,3", fixed_lr=3)
    assert c.parts == ("factorial", "linear") and c.lr_grid == (0.3, 3.0) and c.fixed_lr == 3.0
    assert zz.Config().parts == ("linear", "factorial")


# --- command line -----------------------------------------------------------------------------


TINY_FACTORIAL = ["--set", "parts=linear,factorial", "--set", "width=8", "--set", "lr_grid=1,3",
                  "--set", "train_steps=40", "--set", "eval_every=20", "--set", "target_error=0.85",
                  "--set", "workers=1", "--seeds", "2", "--device", "cpu"]


def test_cli_quick_runs_both_parts_and_writes_result_and_figures(tmp_path: Path, capsys):
    assert main(["run", "zigzag", "--quick", "--out", str(tmp_path), "--no-progress", *TINY_FACTORIAL]) == 0
    folder = tmp_path / "zigzag"
    d = json.loads((folder / "result.json").read_text())
    for key in ("experiment", "actlab_version", "config", "metrics", "verdict", "env", "elapsed_s"):
        assert key in d
    assert d["experiment"] == "zigzag" and d["verdict"]["status"] in ("holds", "does_not_hold", "inconclusive")
    quick = {k: v for k, v in zz.QUICK.items() if k in ("dims", "samples")}
    assert d["config"] == {**d["config"], **{k: list(v) for k, v in quick.items() if isinstance(v, tuple)},
                           "samples": zz.QUICK["samples"], "seeds": 2, "width": 8, "lr_grid": [1.0, 3.0],
                           "train_steps": 40, "parts": ["linear", "factorial"]}
    for name in ("condition_number", "steps_to_tol", "quadrant_fraction"):
        assert set(d["metrics"][name]) == {"positive", "centred"}
    for name in ("steps_to_target", "test_accuracy", "steps_to_target_fixed_lr", "lr_chosen"):
        assert set(d["metrics"][name]) == set(zz.FACTORIAL_VARIANTS)
    assert d["verdict"]["evidence"].startswith("(b), the test") and "(a), an algebra check" in d["verdict"]["evidence"]
    assert {"rule", "source", "meaning", "key_number"} <= set(d["verdict"])
    result = load_result(folder)
    assert set(zz_plots.captions(result)) == {p.name for p in folder.glob("*.png")}
    for table in zz_plots.tables(result):
        assert table["rows"] and all(len(r) == len(table["columns"]) for r in table["rows"])
    assert set(d["data"]) == {"linear", "factorial"}
    pngs = sorted(p.name for p in folder.glob("*.png"))
    assert pngs == ["zigzag_contours.png", "zigzag_factorial.png", "zigzag_factorial_curves.png",
                    "zigzag_loss.png", "zigzag_summary.png"]
    assert all((folder / p).stat().st_size > 10_000 for p in pngs)
    assert d["verdict"]["status"] in capsys.readouterr().out


def test_result_data_survives_json_unchanged(exact, tmp_path: Path):
    # The figures read only data, metrics and scalar config values: if they come back from
    # result.json unchanged, plotting a loaded result is plotting the live one (the CLI test).
    write_json_atomic(exact.to_dict(), tmp_path / "result.json")
    loaded = load_result(tmp_path)
    assert loaded.data == exact.data
    assert loaded.metrics == exact.metrics
    for key in ("tol", "lr_scale", "samples", "inputs"):
        assert loaded.config[key] == getattr(EXACT, key)


@pytest.mark.parametrize("setting", ["dims=0", "samples=-5", "dims=1,2", "tol=0", "parts=bogus", "bogus=1",
                                     "lr_grid=0", "lr_grid=abc", "fixed_lr=10", "target_error=1", "seeds=0",
                                     "batch_size=5000", "init=zeros", "eval_every=0", "device=tpu"])
def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path: Path, capsys, setting):
    out = tmp_path / "out"
    assert main(["run", "zigzag", "--quick", "--out", str(out), "--no-progress", "--set", setting]) == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert err.startswith("actlab: error:") and setting.split("=")[0] in err
