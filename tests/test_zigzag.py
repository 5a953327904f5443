"""The ``zigzag`` claim, part (a): metrics against plain-numpy references, the CLI, bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from actlab.cli import main
from actlab.experiments import load_result, write_json_atomic
from actlab.experiments import zigzag as zz

DIMS = (2, 5, 12)
EXACT = zz.Config(dims=DIMS, samples=240, tol=1e-6, sgd_epochs=20)
# Noisy targets: SGD never lands exactly on the optimum, so no step is exactly zero and
# the share of same-direction steps can be replayed step for step.
NOISY = zz.Config(dims=DIMS, samples=240, noise=0.1, tol=1e-4, sgd_epochs=2, seed=3)


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
    """Per-example SGD over examples in a plain loop: (steps to tol, same-direction share, steps moved)."""
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
            if any(s != 0 for s in step):
                moved += 1
                same += all(s > 0 for s in step) or all(s < 0 for s in step)
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
            assert moved % NOISY.samples == 0  # whole epochs, and no step that moved nothing
            assert noisy.metrics["sgd_steps_to_tol"][variant][str(n)] == reached


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
    assert exact.verdict.status == "holds"
    assert "LeCun" in exact.verdict.evidence


def test_same_config_same_metrics_other_seed_other_draws(exact):
    again = zz.run(EXACT)
    assert again.metrics == exact.metrics
    assert json.dumps(again.to_dict()["data"]) == json.dumps(exact.to_dict()["data"])
    other = zz.run(zz.Config(dims=(2,), samples=240, seed=1))
    assert other.metrics["condition_number"]["positive"]["2"] != exact.metrics["condition_number"]["positive"]["2"]
    # n = 2 does not depend on which other dims ran beside it
    alone = zz.run(zz.Config(dims=(2,), samples=240, tol=1e-6, sgd_epochs=20))
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
    result = zz.run(zz.Config(dims=(2, 6), samples=100, inputs="uniform"), progress=lambda d, t, msg="": calls.append((d, t)))
    x, _ = _arrays(zz.Config(dims=(2, 6), samples=100, inputs="uniform"), 6, "positive")
    assert (x > 0).all() and (x <= 1).all()
    assert all(result.metrics["quadrant_fraction"]["positive"][k] == 1.0 for k in ("2", "6"))
    assert result.metrics["condition_number_population"]["positive"]["6"] == pytest.approx(1 + 6 * 3)  # mu^2/s^2 = 3
    assert calls[0] == (0, 4) and calls[-1] == (4, 4)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_tol_not_reached_is_inconclusive_and_still_serialisable():
    result = zz.run(zz.Config(dims=(2,), samples=50, max_steps=3))
    assert result.metrics["steps_to_tol"]["positive"]["2"] is None
    assert result.metrics["steps_ratio"]["2"] is None
    assert result.verdict.status == "inconclusive" and "max_steps" in result.verdict.evidence
    json.dumps(result.to_dict(), allow_nan=False)


# --- config -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad, word", [
    ({"dims": (0,)}, "dims"), ({"dims": (1, 10)}, "dims"), ({"dims": ()}, "dims"),
    ({"samples": -5}, "samples"), ({"samples": 50, "dims": (2, 50)}, "samples"),
    ({"tol": 0.0}, "tol"), ({"tol": 1.5}, "tol"), ({"lr_scale": 2.0}, "lr_scale"),
    ({"sgd_lr_scale": -1.0}, "sgd_lr_scale"), ({"max_steps": 0}, "max_steps"),
    ({"inputs": "relu"}, "inputs"), ({"parts": ("factorial",)}, "factorial"), ({"parts": ()}, "parts"),
    ({"seed": -1}, "seed"), ({"noise": float("nan")}, "noise"),
])
def test_bad_config_is_a_clear_value_error(bad, word):
    with pytest.raises(ValueError, match=word):
        zz.Config(**bad)


def test_config_normalises_dims_and_parts():
    c = zz.Config(dims=[50, 2, 10, 2], parts="linear,linear")
    assert c.dims == (2, 10, 50) and c.parts == ("linear",)


# --- command line -----------------------------------------------------------------------------


def test_cli_quick_writes_result_and_figures(tmp_path: Path, capsys):
    assert main(["run", "zigzag", "--quick", "--out", str(tmp_path), "--no-progress"]) == 0
    folder = tmp_path / "zigzag"
    d = json.loads((folder / "result.json").read_text())
    for key in ("experiment", "actlab_version", "config", "metrics", "verdict", "env", "elapsed_s"):
        assert key in d
    assert d["experiment"] == "zigzag" and d["verdict"]["status"] == "holds"
    assert d["config"] == {**d["config"], **{k: list(v) if isinstance(v, tuple) else v for k, v in zz.QUICK.items()}}
    for name in ("condition_number", "steps_to_tol", "quadrant_fraction"):
        assert set(d["metrics"][name]) == {"positive", "centred"}
    pngs = sorted(p.name for p in folder.glob("*.png"))
    assert pngs == ["zigzag_contours.png", "zigzag_loss.png", "zigzag_summary.png"]
    assert all((folder / p).stat().st_size > 10_000 for p in pngs)
    assert "holds" in capsys.readouterr().out


def test_result_data_survives_json_unchanged(exact, tmp_path: Path):
    # The figures read only data, metrics and scalar config values: if they come back from
    # result.json unchanged, plotting a loaded result is plotting the live one (the CLI test).
    write_json_atomic(exact.to_dict(), tmp_path / "result.json")
    loaded = load_result(tmp_path)
    assert loaded.data == exact.data
    assert loaded.metrics == exact.metrics
    for key in ("tol", "lr_scale", "samples", "inputs"):
        assert loaded.config[key] == getattr(EXACT, key)


@pytest.mark.parametrize("setting", ["dims=0", "samples=-5", "dims=1,2", "tol=0", "parts=factorial", "bogus=1"])
def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path: Path, capsys, setting):
    out = tmp_path / "out"
    assert main(["run", "zigzag", "--quick", "--out", str(out), "--no-progress", "--set", setting]) == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert err.startswith("actlab: error:") and setting.split("=")[0] in err
