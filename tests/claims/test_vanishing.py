"""The ``vanishing`` claim: metrics against a hand-written backward pass, the 0.25 bound, the CLI."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy.stats import t as scipy_t
from torch import nn

from actlab.activations import get
from actlab.claims import vanishing as V
from actlab.cli.main import main
from actlab.plots.vanishing import captions, plot, tables
from actlab.verdicts.result import load_result, write_json_atomic
from actlab.verdicts.stats import Interval

# Small enough for exact float64 comparisons in well under a second.
TINY = V.Config(activations=("sigmoid", "tanh", "relu", "elu", "gelu", "selu"), depth=4, width=6,
                classes=3, batch=5, seeds=2)
# The --quick sizes: deep enough for sigmoid to lose 10+ decades.
QUICK = V.Config(**V.QUICK)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # These matrices are tiny; on a shared 2-core machine, two BLAS threads that spin
    # while waiting for each other make a --quick run 10-30x slower than one thread.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny():
    return V.run(TINY)


@pytest.fixture(scope="module")
def cli_quick(tmp_path_factory):
    """``actlab run vanishing --quick``, once: (exit code, its folder)."""
    out = tmp_path_factory.mktemp("cli")
    code = main(["run", "vanishing", "--quick", "--out", str(out), "--no-progress"])
    return code, out / "vanishing"


@pytest.fixture(scope="module")
def quick(cli_quick):
    """The --quick result, as read back from result.json."""
    return load_result(cli_quick[1])


def _reference(config: V.Config, activation: str, init: str, seed: int) -> dict[str, np.ndarray]:
    """Forward and backward by hand: explicit matrices, softmax cross-entropy, the zoo's analytic f'."""
    act = get(activation)
    model = V.draw_network(config, activation, init, seed)
    x, labels = V.draw_batch(config, seed)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    weights = [m.weight.detach().double().numpy() for m in linears]  # (out, in) each
    biases = [m.bias.detach().double().numpy() for m in linears]

    def f(z: np.ndarray) -> np.ndarray:
        return act(torch.from_numpy(z)).numpy()

    def df(z: np.ndarray) -> np.ndarray:
        return act.derivative(torch.from_numpy(z)).numpy()

    h = x.double().numpy()  # (B, width)
    inputs, pre = [], []
    for layer, (w, b) in enumerate(zip(weights, biases, strict=True)):
        inputs.append(h)
        z = h @ w.T + b
        pre.append(z)
        if layer < len(weights) - 1:
            h = f(z)
    logits = pre[-1]  # (B, classes)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    onehot = np.eye(config.classes)[labels.numpy()]
    delta = (p - onehot) / config.batch  # dL/dlogits for the mean cross-entropy
    grad_norm, delta_norm = [0.0] * len(weights), [0.0] * len(weights)
    for layer in reversed(range(len(weights))):
        delta_norm[layer] = np.linalg.norm(delta)
        grad_norm[layer] = np.linalg.norm(delta.T @ inputs[layer])  # ||dL/dW||_F
        if layer:
            delta = (delta @ weights[layer]) * df(pre[layer - 1])
    max_abs = act.properties.max_abs_derivative
    return {
        "grad_norm": np.array(grad_norm),
        "backward_gain": np.array(delta_norm[:-1]) / np.array(delta_norm[1:]),
        "gain_bound": np.array([max_abs * np.linalg.norm(w, 2) for w in weights[1:]]),
        "mean_derivative": np.array([df(z).mean() for z in pre[:-1]]),
    }


def test_metrics_match_hand_written_backprop(tiny):
    for name in TINY.activations:
        for init in TINY.inits:
            refs = [_reference(TINY, name, init, s) for s in V.seeds_of(TINY)]
            for key in ("grad_norm", "backward_gain", "gain_bound"):
                expected = np.exp(np.mean([np.log(r[key]) for r in refs], axis=0))  # geometric mean over seeds
                np.testing.assert_allclose(tiny.metrics[key][name][init], expected, rtol=1e-10,
                                           err_msg=f"{key} {name} {init}")
            expected = np.mean([r["mean_derivative"] for r in refs], axis=0)
            np.testing.assert_allclose(tiny.metrics["mean_derivative"][name][init], expected, rtol=1e-10, atol=1e-14)
            assert len(tiny.metrics["grad_norm"][name][init]) == TINY.depth + 1


def test_decay_per_layer_from_stored_norms(tiny, tmp_path):
    write_json_atomic(tiny.to_dict(), tmp_path / "result.json")
    stored = load_result(tmp_path)
    for name in TINY.activations:
        for init in TINY.inits:
            norms = np.array(stored.metrics["grad_norm"][name][init])
            ratios = norms[:-1] / norms[1:]
            expected = np.prod(ratios) ** (1 / len(ratios))
            assert stored.metrics["decay_per_layer"][name][init] == pytest.approx(expected, rel=1e-12)
            assert stored.metrics["orders_of_magnitude"][name][init] == pytest.approx(
                np.log10(norms[-1] / norms[0]), rel=1e-9, abs=1e-12)


def test_sigmoid_mean_derivative_at_most_a_quarter_and_gains_under_their_bounds(quick):
    m = quick.metrics
    assert m["max_abs_derivative"]["sigmoid"] == 0.25
    for init in QUICK.inits:
        slope = np.array(m["mean_derivative"]["sigmoid"][init])
        assert slope.max() <= 0.25
        assert slope.min() > 0.15  # near the centre: at init the units are not saturated
    for name in QUICK.activations:
        for init in QUICK.inits:
            gain, bound = np.array(m["backward_gain"][name][init]), np.array(m["gain_bound"][name][init])
            assert np.all(gain <= bound * (1 + 1e-12)), (name, init)


def test_sigmoid_vanishes_and_relu_with_he_does_not(quick):
    decay, orders = quick.metrics["decay_per_layer"], quick.metrics["orders_of_magnitude"]
    assert decay["sigmoid"]["he"] < 0.5 < 0.8 < decay["relu"]["he"] < 1.25
    for init in QUICK.inits:
        assert decay["sigmoid"][init] < 0.4
        assert orders["sigmoid"][init] > 8  # 20 layers at <= 0.4 per layer
    assert abs(orders["relu"]["he"]) < 1.5
    gain = quick.metrics["sigmoid_gain"]
    for init in QUICK.inits:  # every standard init: s <= sqrt(2), the gradient vanishes
        assert gain[init]["ci95_high"] < 1
    # the headline is decided on the standard inits only: it holds
    assert quick.verdict.status == "holds"
    assert "standard inits" in quick.verdict.key_number.label
    # weights 12x LeCun's saturate the units, yet the gradient grows: that is the limit, not the headline
    assert np.mean(quick.metrics["mean_derivative"]["sigmoid"]["scaled12"]) < 0.07
    assert gain["scaled12"]["ci95_low"] > 1
    (limit,) = quick.verdict.limits
    assert limit.status == "holds" and limit.statement == "saturation alone does not make the gradient vanish"
    assert "s=12" in limit.evidence and limit.key_number.label.startswith("sigmoid's gain per layer at s=12")
    assert "quick" in quick.verdict.meaning and "decades" in quick.verdict.meaning


def test_sigmoid_gain_is_the_log_t_interval_of_the_per_seed_geometric_means(quick):
    for arm, g in quick.metrics["sigmoid_gain"].items():
        logs = np.log(np.array(g["per_seed"]))
        half = scipy_t.ppf(0.975, len(logs) - 1) * logs.std(ddof=1) / math.sqrt(len(logs))
        assert g["estimate"] == pytest.approx(math.exp(logs.mean()), rel=1e-12), arm
        assert g["ci95_low"] == pytest.approx(math.exp(logs.mean() - half), rel=1e-9)
        assert g["ci95_high"] == pytest.approx(math.exp(logs.mean() + half), rel=1e-9)


def test_same_seed_same_metrics_other_seed_other_metrics(tiny):
    assert V.run(TINY).metrics == tiny.metrics
    other = V.run(replace(TINY, seed=1))
    assert other.metrics["grad_norm"] != tiny.metrics["grad_norm"]


def test_layer_activations_and_learned_slopes_run():
    config = V.Config(activations=("maxout", "prelu"), inits=("he",), depth=3, width=4, batch=3, seeds=1)
    m = V.run(config).metrics
    np.testing.assert_allclose(m["mean_derivative"]["maxout"]["he"], 1.0)  # each unit's slope wrt its pieces
    for name in config.activations:
        assert np.all(np.array(m["backward_gain"][name]["he"]) <= np.array(m["gain_bound"][name]["he"]))


def test_float32_underflows_at_depth_50_and_the_verdict_says_so():
    config = V.Config(activations=("sigmoid",), inits=("default",), depth=50, width=16, batch=8, seeds=1,
                      dtype="float32")
    result = V.run(config)
    assert result.metrics["grad_norm"]["sigmoid"]["default"][0] == 0.0
    assert result.verdict.status == "inconclusive"
    assert "float64" in result.verdict.evidence
    json.dumps(result.to_dict(), allow_nan=False)  # inf stored as a string


@pytest.mark.parametrize("gains, status", [
    ({"xavier": (0.24, 0.23, 0.25), "he": (0.31, 0.30, 0.32)}, "holds"),
    ({"xavier": (0.24, 0.23, 0.25), "he": (0.95, 0.93, 0.97)}, "does_not_hold"),  # above 10^(-2/50) = 0.912
    ({"xavier": (0.24, 0.23, 0.25), "he": (0.90, 0.88, 0.93)}, "inconclusive"),
])
def test_gain_rule_gives_each_verdict_on_constructed_intervals(gains, status):
    rule = V.gain_rule(V.Config())
    assert rule.threshold == pytest.approx(10 ** (-2 / 50), rel=1e-12) and rule.holds_if == "below"
    intervals = {a: Interval(e, lo, hi, 5, "log-t") for a, (e, lo, hi) in gains.items()}
    assert V.gain_verdict(intervals, rule)[0] == status


def test_gain_rule_needs_five_seeds():
    rule = V.gain_rule(V.Config(seeds=3))
    status, per = V.gain_verdict({"xavier": Interval(0.24, 0.23, 0.25, 3, "log-t")}, rule)
    assert status == "inconclusive" and "at least 5" in per["xavier"][1]


def test_scaled_arm_draws_lecun_weights_times_s():
    config = replace(TINY, seeds=1)
    base = V.draw_network(config, "sigmoid", "lecun", 0)
    big = V.draw_network(config, "sigmoid", "scaled10", 0)
    for a, b in zip(base, big, strict=True):
        if isinstance(a, nn.Linear):
            torch.testing.assert_close(b.weight, 10 * a.weight, rtol=1e-6, atol=0)  # scaled in float32
            assert not b.bias.any()


def test_verdict_without_sigmoid_is_inconclusive_but_gives_per_activation_gains():
    config = V.Config(activations=("gelu", "silu", "mish", "relu"), depth=3, width=5, batch=4, seeds=5,
                      weight_scales=())
    result = V.run(config)
    assert result.verdict.status == "inconclusive" and "sigmoid" in result.verdict.evidence
    (per,) = result.per_activation
    assert per.baseline == "relu" and [v.activation for v in per.values] == ["gelu", "silu", "mish", "relu"]
    relu = per.get("relu")
    assert relu.ratio == pytest.approx(1.0, abs=1e-12) and relu.n == 5
    for v in per.values:
        # independent: the geometric mean over seeds, layers and inits of the stored per-layer gains
        # equals exp(mean log) of the per-(seed, init) geometric means, which the metrics keep per layer
        logs = [np.log(np.array(result.metrics["backward_gain"][v.activation][i])).mean() for i in config.inits]
        assert v.estimate == pytest.approx(math.exp(np.mean(logs)), rel=1e-9), v.activation
        ratios = np.log(np.array(result.metrics["standard_gain"][v.activation]["per_seed"])
                        / np.array(result.metrics["standard_gain"]["relu"]["per_seed"]))
        half = scipy_t.ppf(0.975, 4) * ratios.std(ddof=1) / math.sqrt(5)
        assert v.ratio == pytest.approx(math.exp(ratios.mean()), rel=1e-9)
        if v.activation != "relu":
            assert v.ratio_low == pytest.approx(math.exp(ratios.mean() - half), rel=1e-9)


def test_baseline_setting_is_measured_and_named():
    result = V.run(V.Config(activations=("sigmoid", "tanh"), baseline="tanh", inits=("he",), depth=2, width=4,
                            batch=3, seeds=2, weight_scales=()))
    (per,) = result.per_activation
    assert per.baseline == "tanh" and per.get("tanh").ratio == pytest.approx(1.0)
    assert per.get("sigmoid").ratio < 1


def _constructed(standard: dict[str, tuple[float, float, float]], big: tuple[float, float, float] | None,
                 slope_big: float = 0.05, depth: int = 20) -> tuple[V.Config, dict]:
    """A vanishing result's metrics built by hand: sigmoid's gain (estimate, low, high) per arm."""
    config = V.Config(activations=("sigmoid", "relu"), inits=tuple(standard), depth=depth,
                      weight_scales=(12.0,) if big else ())
    arms = {**standard, **({"scaled12": big} if big else {})}
    gain = {a: {"estimate": e, "ci95_low": lo, "ci95_high": hi, "n": 5, "per_seed": [e] * 5}
            for a, (e, lo, hi) in arms.items()}
    slopes = {a: [slope_big if a.startswith("scaled") else 0.23] * depth for a in arms}
    m = {"sigmoid_gain": gain, "orders_of_magnitude": {"sigmoid": {a: -depth * math.log10(g[0])
                                                                   for a, g in arms.items()}},
         "mean_derivative": {"sigmoid": slopes}}
    return config, m


def _sentences_agree_with_intervals(text: str, arms: dict[str, tuple[float, float, float]]) -> None:
    for sentence in text.split(". "):
        for arm, (_, lo, hi) in arms.items():
            label = V.arm_label(arm)
            if f"{label})" in sentence or f"({label}" in sentence or f" {label} " in sentence:
                if "shrinks" in sentence:
                    assert hi < 1, sentence
                if "grows" in sentence:
                    assert lo > 1, sentence
                if "about kept" in sentence:
                    assert lo <= 1 <= hi, sentence


T20 = 10 ** (-2 / 20)  # 0.794: the vanishing threshold at depth 20


@pytest.mark.parametrize("standard, big, status, limit", [
    ({"xavier": (0.24, 0.23, 0.25), "he": (0.31, 0.30, 0.32)}, (1.06, 1.01, 1.10), "holds", "holds"),
    ({"xavier": (0.24, 0.23, 0.25), "he": (0.79, T20 - 0.01, T20 + 0.01)}, (0.99, 0.97, 1.01), "inconclusive",
     "holds"),
    ({"xavier": (0.24, 0.23, 0.25), "he": (0.80, T20 + 0.001, 0.81)}, (1.001, 0.999, 1.003), "does_not_hold",
     "holds"),
    ({"xavier": (0.24, 0.23, 0.25)}, (0.79, T20 - 0.02, T20 + 0.001), "holds", "inconclusive"),
    ({"xavier": (0.24, 0.23, 0.25)}, (0.7, 0.68, T20 - 0.001), "holds", "does_not_hold"),
    ({"xavier": (0.99, 0.98, 1.0)}, (1.2, 1.1, 1.3), "does_not_hold", "holds"),
])
def test_generated_text_never_contradicts_its_numbers(standard, big, status, limit):
    config, m = _constructed(standard, big)
    v = V.verdict(config, m)
    assert v.status == status
    (lim,) = v.limits
    assert lim.status == limit
    arms = {**standard, "scaled12": big}
    for text in (v.evidence, v.meaning, lim.evidence):
        _sentences_agree_with_intervals(text, arms)
    if status == "holds":
        assert "vanishes (interval wholly below" in v.evidence and "does not vanish" not in v.evidence
    if status == "does_not_hold":
        assert "does not vanish (interval wholly above" in v.evidence
    if status == "inconclusive":
        assert "spans" in v.evidence and "holds at the standard inits" not in v.meaning
    # the limit's word about the big arm follows its interval
    lo, hi = big[1], big[2]
    word = "grows" if lo > 1 else "shrinks" if hi < 1 else "is about kept"
    assert f"the gradient {word}" in lim.evidence


def test_an_unsaturated_largest_arm_leaves_the_limit_untested():
    config, m = _constructed({"xavier": (0.24, 0.23, 0.25)}, (1.2, 1.1, 1.3), slope_big=0.2)
    (lim,) = V.verdict(config, m).limits
    assert lim.status == "inconclusive" and "not saturated" in lim.evidence


@pytest.mark.parametrize("field, value, words", [
    ("depth", 0, "depth"),
    ("width", -1, "width"),
    ("seeds", 0, "seeds"),
    ("inits", ("foo",), "foo"),
    ("inits", (), "empty"),
    ("dtype", "float16", "dtype"),
    ("weight_scales", (0.0,), "weight_scales"),
    ("activations", ("nope",), "nope"),
])
def test_config_rejects_bad_values(field, value, words):
    with pytest.raises(ValueError, match=words):
        V.Config(**{field: value})


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present here")
def test_config_rejects_missing_cuda():
    with pytest.raises(ValueError, match="cuda"):
        V.Config(device="cuda")


def test_figures_from_a_stored_result_without_sigmoid_and_three_inits(tmp_path):
    result = V.run(V.Config(activations=("relu", "tanh"), inits=("default", "he", "lecun"), depth=2, width=4,
                            batch=3, seeds=1))
    write_json_atomic(result.to_dict(), tmp_path / "result.json")
    paths = plot(load_result(tmp_path), tmp_path / "figs")
    assert sorted(p.name for p in paths) == ["vanishing_bound.png", "vanishing_decay.png", "vanishing_grad_norm.png"]
    assert set(captions(load_result(tmp_path))) == {p.name for p in paths}
    assert all(t["rows"] for t in tables(load_result(tmp_path)))
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_quick_writes_result_and_figures(cli_quick):
    code, folder = cli_quick
    assert code == 0
    d = json.loads((folder / "result.json").read_text())
    for key in ("experiment", "actlab_version", "config", "metrics", "verdict", "env", "elapsed_s"):
        assert key in d
    assert d["experiment"] == "vanishing"
    assert d["config"]["depth"] == V.QUICK["depth"] and d["config"]["seed"] == 0
    assert d["verdict"]["status"] == "holds" and d["verdict"]["limits"][0]["status"] == "holds"
    assert {"rule", "source", "meaning", "key_number", "limits"} <= set(d["verdict"])
    assert d["per_activation"][0]["key"] == "gain_per_layer"
    assert set(d["metrics"]["grad_norm"]) == set(V.Config().activations)
    names = {p.name for p in folder.glob("*.png")}
    assert names == {"vanishing_bound.png", "vanishing_decay.png", "vanishing_grad_norm.png",
                     "vanishing_gain_vs_scale.png"}
    result = load_result(folder)
    assert set(captions(result)) == names
    assert "s=12" in captions(result)["vanishing_gain_vs_scale.png"]
    first = tables(result)[0]
    assert first["columns"][0] == "init" and [r[0] for r in first["rows"]][-1] == "s=12"


@pytest.mark.parametrize("args", [
    ["--set", "depth=0"],
    ["--set", "width=-1"],
    ["--activations", "nope"],
    ["--set", "inits=foo"],
])
def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, args):
    out = tmp_path / "out"
    assert main(["run", "vanishing", "--quick", "--out", str(out), "--no-progress", *args]) == 2
    assert "actlab: error" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())



@pytest.mark.parametrize("standard_slope, says", [
    (0.244, "not saturated"),   # near the 0.25 maximum: the units are not saturated
    (0.201, "not saturated"),   # just above the 0.2 "near the maximum" line
    (0.19, None),               # between: no word about saturation either way
    (0.10, "are saturated"),    # below SATURATED_MEAN_SLOPE
])
def test_not_saturated_sentence_only_when_mean_slope_is_near_its_maximum(standard_slope, says):
    config, m = _constructed({"xavier": (0.24, 0.23, 0.25)}, (1.06, 1.01, 1.10))
    m["mean_derivative"]["sigmoid"]["xavier"] = [standard_slope] * config.depth
    v = V.verdict(config, m)
    if says == "not saturated":
        assert "units are not saturated" in v.meaning and f"{standard_slope:.3f}" in v.meaning
        assert "gain below 1" in v.meaning  # the mechanism: f' <= 0.25 times these weights
    else:
        assert "not saturated" not in v.meaning.split("Limit")[0].split("(limit")[0]
    if says == "are saturated":
        assert "units are saturated" in v.meaning
    # the saturated arm, whose gradient grows: said where it is
    assert "Where the units are saturated, the gradient does not vanish" in v.meaning


def test_one_measure_per_sentence_and_one_name_for_depth():
    config, m = _constructed({"xavier": (0.24, 0.23, 0.25), "he": (0.31, 0.30, 0.32)}, (1.06, 1.01, 1.10))
    v = V.verdict(config, m)
    for text in (v.evidence, v.meaning):
        for sentence in text.split(". "):
            assert not ("gain" in sentence and "decades" in sentence), sentence  # dL/dz and dL/dW never mixed
    assert "20 hidden layers (21 Linear layers)" in v.evidence and "depth 20" not in v.evidence + v.meaning
    (pa,) = V.per_activation(V.Config(activations=("sigmoid", "relu")), {"sigmoid": [0.2] * 5, "relu": [0.67] * 5})
    assert "not He init" in pa.get("relu").note and "not He init" not in pa.get("sigmoid").note
