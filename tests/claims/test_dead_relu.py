"""The dead-relu claim: the monitor's dead fraction against a plain loop over the data; run status
(diverged, stuck at chance, untrained, trained); the rule on constructed runs (each verdict, grid edge,
degenerate runs named); captions and tables; CLI."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from actlab.claims import dead_relu
from actlab.cli.main import main
from actlab.plots import dead_relu as plots
from actlab.training.models import build_mlp
from actlab.verdicts.result import Result


def dead_by_loop(model: nn.Sequential, x: torch.Tensor) -> list[float]:
    """Slow reference: walk the layers, and for every unit of every ReLU check each example."""
    fractions = []
    h = x
    for layer in model:
        h = layer(h)
        if isinstance(layer, nn.ReLU):
            units = h.shape[1]
            dead = 0
            for u in range(units):
                if all(float(h[n, u]) <= 0.0 for n in range(h.shape[0])):
                    dead += 1
            fractions.append(dead / units)
    return fractions


def test_dead_fraction_through_the_monitor_matches_a_loop():
    torch.manual_seed(0)
    model = build_mlp(10, 12, 3, 4, "relu", seed=0)
    with torch.no_grad():
        model[0].bias[:5] = -100.0  # five units of layer 1 can never fire
        model[2].bias[:3] = -100.0
    x = torch.randn(300, 10)
    got = dead_relu.dead_fractions(model, x, batch_size=64)  # several batches, pooled
    with torch.no_grad():
        want = dead_by_loop(model, x)
    assert got == pytest.approx(want, abs=0)
    assert got[0] >= 5 / 12 and got[1] >= 3 / 12


def test_leaky_and_elu_units_cannot_die():
    model = build_mlp(10, 12, 2, 4, "leaky_relu", seed=0)
    with torch.no_grad():
        model[0].bias[:] = -100.0
    assert dead_relu.dead_fractions(model, torch.randn(50, 10)) == [0.0, 0.0]


# --- constructed runs ------------------------------------------------------------------------------

CONFIG = {**{f: getattr(dead_relu.Config, f) for f in ("depth", "width", "init", "steps", "batch_size", "dataset")},
          "lrs": (0.1, 0.5, 0.7, 1.0), "adam_lrs": (0.001, 0.01, 0.03, 0.1), "seeds": 5, "train_examples": 0}


def fake(act="relu", opt="sgd", lr=0.1, seed=0, dead=0.0, err=0.03, bias=0.0, diverged=None, stuck=False):
    return {"activation": act, "optimizer": opt, "bias_init": bias, "lr": lr, "seed": seed,
            "dead": None if diverged else dead, "dead_per_layer": None if diverged else [dead] * 3,
            "dead_at_init": 0.0, "diverged_at": diverged, "train_error": None if diverged else err,
            "min_train_error": None if diverged else (0.88 if stuck else err),
            "test_error": None if diverged else err, "chance_error": 0.887}


def grid(act="relu", bias=0.0, seeds=5, **per_lr):
    """Runs for every rate of CONFIG: per_lr maps 'sgd_0.7' -> dict(dead=..., err=...) (default: trains, none dead)."""
    known = {f"{o}_{lr:g}" for o, key in (("sgd", "lrs"), ("adam", "adam_lrs")) for lr in CONFIG[key]}
    assert set(per_lr) <= known, set(per_lr) - known  # a misspelt rate must not be ignored silently
    out = []
    for opt, lrs in (("sgd", CONFIG["lrs"]), ("adam", CONFIG["adam_lrs"])):
        for lr in lrs:
            spec = per_lr.get(f"{opt}_{lr:g}", {})
            for s in range(seeds):
                kw = {k: (v[s] if isinstance(v, (list, tuple)) else v) for k, v in spec.items()}
                out.append(fake(act, opt, lr, s, bias=bias, **kw))
    return out


def decide(runs, **config):
    runs = dead_relu.classify(runs)
    verdict, chosen = dead_relu.decide_claim(runs, dead_relu.summarise(runs), config={**CONFIG, **config})
    return verdict, chosen


BREAKS = {"sgd_1": {"diverged": 14}, "adam_0.1": {"stuck": True, "dead": 0.97, "err": 0.88}}


def check_contract(v):
    assert v.rule is not None and v.rule.threshold == 0.4 and v.rule.holds_if == "above"
    assert v.source is not None and "40%" in v.source.value and v.source.differences
    assert v.key_number is not None and v.key_number.label
    assert 3 <= v.meaning.count(". ") + 1 <= 8, v.meaning


def test_holds_when_a_trained_setting_kills_over_40_percent():
    runs = grid(**BREAKS, **{"adam_0.03": {"dead": [0.6, 0.65, 0.7, 0.62, 0.66], "err": 0.06}})
    runs += grid(bias=0.01, **BREAKS, **{"adam_0.03": {"dead": 0.55, "err": 0.07}})
    runs += grid("leaky_relu", **{"sgd_0.7": {"diverged": 20}, "sgd_1": {"diverged": 10}})
    v, chosen = decide(runs)
    assert v.status == "holds", v.evidence
    assert chosen == {"optimizer": "adam", "bias_init": 0.0, "lr": 0.03}
    assert "at 6.0% training error" in v.evidence  # the training error beside the dead share
    assert "bias init 0.01: 55% dead" in v.evidence  # the 0.01-bias arm, measured
    assert "leaky_relu diverged at SGD lr 0.7, SGD lr 1" in v.evidence  # divergence named
    assert "leaky_relu: 0% dead" in v.evidence
    assert "SGD lr 1 bias 0: diverged in 5 of 5 seeds" in v.evidence
    check_contract(v)
    assert v.key_number.value == pytest.approx(0.646)


def test_does_not_hold_when_no_trained_setting_reaches_40_percent():
    runs = grid(**BREAKS, **{"sgd_0.7": {"dead": [0.1, 0.12, 0.08, 0.11, 0.13], "err": 0.04},
                             "adam_0.03": {"dead": [0.2, 0.25, 0.22, 0.21, 0.24], "err": 0.08}})
    v, chosen = decide(runs)
    assert v.status == "does_not_hold", v.evidence
    assert chosen["lr"] == 0.03 and "wholly below 0.4" in v.evidence
    check_contract(v)


def test_dead_share_of_a_collapsed_network_does_not_count():
    # 90% dead but stuck at chance level (Adam 0.1) or above the error limit: never the verdict's number
    runs = grid(**{"sgd_1": {"diverged": 14}, "adam_0.1": {"stuck": True, "dead": 0.97, "err": 0.88},
                   "adam_0.03": {"dead": 0.8, "err": 0.35}, "adam_0.01": {"dead": [0.1, 0.12, 0.11, 0.1, 0.09]}})
    v, chosen = decide(runs)
    assert v.status == "does_not_hold", v.evidence
    assert chosen == {"optimizer": "adam", "bias_init": 0.0, "lr": 0.01}
    assert "stuck at chance level in 5 of 5" in v.evidence and "above the error limit in 5 of 5" in v.evidence


def test_inconclusive_with_fewer_than_five_trained_seeds():
    runs = grid(**BREAKS, **{"adam_0.03": {"dead": 0.6, "err": [0.05, 0.06, 0.3, 0.4, 0.35]}})
    v, _ = decide(runs)
    assert v.status == "inconclusive" and "killed 60% in the 2 seeds that trained" in v.evidence
    assert "--seeds 10" in v.evidence
    runs = grid(seeds=3, **BREAKS, **{"adam_0.03": {"dead": 0.6, "err": 0.05}})
    v, chosen = decide(runs, seeds=3)
    assert chosen["lr"] == 0.03 and v.status == "inconclusive" and "at least 5" in v.evidence
    check_contract(v)


def test_inconclusive_when_the_interval_spans_40_percent():
    runs = grid(**BREAKS, **{"adam_0.03": {"dead": [0.2, 0.6, 0.3, 0.55, 0.4], "err": 0.05}})
    v, _ = decide(runs)
    assert v.status == "inconclusive" and "spans the threshold" in v.evidence


def test_inconclusive_when_the_deadliest_rate_is_the_top_of_its_grid():
    runs = grid(**{"sgd_1": {"dead": [0.1, 0.12, 0.08, 0.11, 0.13]}})  # every rate trains: the band was not reached
    runs = [r for r in runs if r["optimizer"] == "sgd"]
    v, chosen = decide(runs, adam_lrs=())
    assert chosen["lr"] == 1.0
    assert v.status == "inconclusive" and "top of its grid" in v.evidence and "--set lrs=" in v.evidence


def test_a_single_rate_cannot_bracket_the_band():
    runs = [fake(lr=0.1, seed=s, dead=0.05) for s in range(5)]
    v, chosen = decide(runs, lrs=(0.1,), adam_lrs=())
    assert chosen["lr"] == 0.1 and v.status == "inconclusive" and "top of its grid" in v.evidence
    assert "no larger rate was tried" in v.meaning


def test_does_not_hold_is_withheld_when_a_thinly_trained_setting_reaches_40_percent():
    runs = grid(**BREAKS, **{"sgd_0.7": {"dead": [0.1, 0.12, 0.08, 0.11, 0.13]},
                             "adam_0.03": {"dead": 0.7, "err": [0.05, 0.3, 0.3, 0.3, 0.3]}})
    v, chosen = decide(runs)
    assert chosen["lr"] == 0.7 and v.status == "inconclusive" and "Adam lr 0.03" in v.evidence


def test_no_relu_or_nothing_trained_is_inconclusive():
    v, _ = decide(grid("elu"))
    assert v.status == "inconclusive" and "did not train relu" in v.evidence
    runs = grid(**{f"sgd_{lr:g}": {"diverged": 5} for lr in CONFIG["lrs"]},
                **{f"adam_{lr:g}": {"stuck": True, "err": 0.88} for lr in CONFIG["adam_lrs"]})
    v, chosen = decide(runs)
    assert v.status == "inconclusive" and chosen is None and "no relu run trained" in v.evidence
    check_contract(v)


def test_error_limit_is_ten_percent_or_twice_the_best():
    runs = dead_relu.classify([fake(err=0.02), fake(err=0.09, seed=1), fake(err=0.11, seed=2)])
    assert [r["status"] for r in runs] == ["trained", "trained", "untrained"]
    runs = dead_relu.classify([fake(err=0.2), fake(err=0.35, seed=1), fake(err=0.42, seed=2),
                               fake(err=0.45, seed=3)])  # a hard dataset: 2x the best; chance 88.7%: half is 44.35%
    assert runs[0]["error_limit"] == pytest.approx(0.4)
    assert [r["status"] for r in runs] == ["trained", "trained", "untrained", "stuck at chance"]


# --- real runs at tiny size ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_result(real_data):
    cfg = dead_relu.Config(activations=("relu", "elu"), lrs=(0.01, 50.0), adam_lrs=(0.01,), bias_inits=(0.0, 0.01),
                           steps=60, width=16, depth=2, seeds=2, train_examples=1000, test_examples=200, workers=1)
    return dead_relu.run(cfg)


def test_metrics_shape_and_divergence_handling(tiny_result):
    m = tiny_result.metrics
    # relu at both biases, elu at the first only; 3 rates; 2 seeds
    assert len(m["runs"]) == (2 + 1) * 3 * 2 and len(m["settings"]) == 9  # other_seeds 2: elu too
    assert set(m["dead_fraction"]) == {"relu", "elu"} and set(m["dead_fraction"]["relu"]["sgd"]) == {"0", "0.01"}
    for r in m["runs"]:
        if r["status"] == "diverged":
            assert r["dead"] is None and r["train_error"] is None  # no dead share is made up for a NaN network
        else:
            assert 0 <= r["dead"] <= 1 and len(r["dead_per_layer"]) == 2
    # lr 50 breaks every run (NaN, or every unit dead and the net at chance level): none counts as trained
    assert all(r["status"] != "trained" for r in m["runs"] if r["lr"] == 50.0)
    for s in m["settings"]:
        trained = [r for r in m["runs"] if (r["activation"], r["optimizer"], r["bias_init"], r["lr"])
                   == (s["activation"], s["optimizer"], s["bias_init"], s["lr"]) and r["status"] == "trained"]
        assert s["n_trained"] == len(trained)
        if trained:
            assert s["dead_mean"] == pytest.approx(sum(r["dead"] for r in trained) / len(trained))
    assert tiny_result.verdict.status == "inconclusive"  # 2 seeds never decide


def test_same_config_same_metrics(tiny_result):
    again = dead_relu.run(dead_relu.Config(**tiny_result.config))
    assert json.dumps(again.to_dict()["metrics"]) == json.dumps(tiny_result.to_dict()["metrics"])


def test_captions_and_tables(tiny_result, tmp_path):
    paths = plots.plot(tiny_result, tmp_path)
    caps = plots.captions(tiny_result)
    assert {p.name for p in paths} <= set(caps) | {"dead_relu_layers.png"}
    assert plots.VS_LR in caps
    for name, text in caps.items():
        assert name not in text and len(text) > 30
    tables = plots.tables(tiny_result)
    assert tables and all(t["title"] and t["note"] and t["rows"] for t in tables)
    for t in tables:
        assert all(len(row) == len(t["columns"]) for row in t["rows"])
    relu = tables[0]
    assert relu["columns"][:4] == ["activation", "optimizer", "bias init", "learning rate"]
    assert any("training error" in c for c in relu["columns"])
    round_trip = Result.from_dict(json.loads(json.dumps(tiny_result.to_dict())))
    assert plots.tables(round_trip) == tables


@pytest.mark.needs_data
def test_cli_tiny_run(tmp_path):
    args = ["run", "dead-relu", "--out", str(tmp_path), "--no-progress", "--no-report", "--activations", "relu",
            "--seeds", "1", "--set", "lrs=0.1,1", "--set", "adam_lrs=", "--set", "bias_inits=0", "--set", "steps=20",
            "--set", "width=8", "--set", "depth=2", "--set", "train_examples=500", "--set", "test_examples=100",
            "--set", "workers=1"]
    assert main(args) == 0
    folder = tmp_path / "dead-relu"
    d = json.loads((folder / "result.json").read_text())
    assert d["experiment"] == "dead-relu" and d["verdict"]["status"] == "inconclusive"
    assert set(d["verdict"]) >= {"status", "evidence", "rule", "source", "meaning", "key_number"}
    assert {p.name for p in folder.glob("*.png")} <= {"dead_relu_vs_lr.png", "dead_relu_layers.png"}
    assert (folder / "dead_relu_vs_lr.png").exists()


@pytest.mark.parametrize("args", [["--set", "lrs=-1"], ["--activations", "maxout"], ["--set", "depth=0"],
                                  ["--set", "width=-3"], ["--activations", "relux"],
                                  ["--set", "lrs=", "--set", "adam_lrs="], ["--seeds", "0"]])
def test_bad_input(tmp_path, args):
    assert main(["run", "dead-relu", "--quick", "--out", str(tmp_path), "--no-progress", *args]) == 2
    assert not (tmp_path / "dead-relu").exists()


def test_trainer_optimizer_setting():
    """The shared trainer's optimizer= (added for this claim's Adam arm): checked, and Adam really used."""
    from actlab.training.trainer import Tensors, TrainConfig, train

    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="rmsprop")
    with pytest.raises(ValueError, match="momentum"):
        TrainConfig(optimizer="adam", momentum=0.9)
    g = torch.Generator().manual_seed(0)
    data = Tensors(torch.randn(64, 5, generator=g), torch.randint(0, 3, (64,), generator=g),
                   torch.randn(16, 5, generator=g), torch.randint(0, 3, (16,), generator=g))
    first = {}
    for opt in ("sgd", "adam"):
        model = build_mlp(5, 8, 1, 3, "relu", seed=0)
        train(model, data, TrainConfig(steps=1, batch_size=16, lr=0.01, optimizer=opt, eval_every=1))
        first[opt] = model[0].weight.detach().clone()
    init = build_mlp(5, 8, 1, 3, "relu", seed=0)[0].weight.detach()
    # Adam's first step moves every weight with a gradient by about lr; SGD's by lr * gradient
    step = (first["adam"] - init).abs()
    assert step.max() == pytest.approx(0.01, rel=1e-3)
    assert not torch.allclose(first["adam"], first["sgd"])
