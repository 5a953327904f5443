"""The dead-relu claim: the monitor's dead fraction against a plain loop over the data; CLI."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from actlab.cli import main
from actlab.experiments import dead_relu
from actlab.experiments.models import build_mlp


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


@pytest.fixture(scope="module")
def tiny_result():
    import os

    if not os.path.isdir(os.path.join(os.environ.get("ACTLAB_DATA_DIR", ""), "mnist")):
        pytest.skip("no real data folder")
    cfg = dead_relu.Config(activations=("relu", "elu"), lrs=(0.01, 2.0), bias_inits=(0.0, 0.01), steps=60, width=16,
                           depth=2, seeds=2, train_examples=1000, test_examples=200, workers=1)
    return dead_relu.run(cfg)


def test_metrics_shape_and_divergence_handling(tiny_result):
    m = tiny_result.metrics
    assert set(m["dead_fraction"]) == {"relu", "elu"}
    for act, by_bias in m["dead_fraction"].items():
        assert set(by_bias) == {"0", "0.01"}
        for bias, by_lr in by_bias.items():
            for lr, d in by_lr.items():
                steps = m["diverged"][act][bias][lr]
                ok = [v for v, s in zip(d["per_seed_overall"], steps) if s is None]
                if ok:
                    assert d["overall"] == pytest.approx(sum(ok) / len(ok))
                    assert len(d["per_layer"]) == 2
                else:
                    assert d["overall"] is None  # every seed diverged: no dead fraction is made up
                assert all(v is None for v, s in zip(d["per_seed_overall"], steps) if s is not None)
    # at a sane rate no elu unit dies (at lr 2 one can: exp(x) underflows to 0 below x ~ -104 in float32)
    for by_bias in m["dead_fraction"]["elu"].values():
        assert by_bias["0.01"]["overall"] == 0.0


def test_same_config_same_metrics(tiny_result):
    again = dead_relu.run(dead_relu.Config(**tiny_result.config))
    assert json.dumps(again.to_dict()["metrics"]) == json.dumps(tiny_result.to_dict()["metrics"])


def test_cli_tiny_run(tmp_path):
    args = ["run", "dead-relu", "--out", str(tmp_path), "--no-progress", "--activations", "relu", "--seeds", "1",
            "--set", "lrs=0.1,1", "--set", "bias_inits=0", "--set", "steps=20", "--set", "width=8", "--set", "depth=2",
            "--set", "train_examples=500", "--set", "test_examples=100", "--set", "workers=1"]
    assert main(args) == 0
    folder = tmp_path / "dead-relu"
    d = json.loads((folder / "result.json").read_text())
    assert d["experiment"] == "dead-relu" and d["verdict"]["status"] in ("holds", "does_not_hold", "inconclusive")
    assert {p.name for p in folder.glob("*.png")} == {"dead_relu_vs_lr.png", "dead_relu_layers.png"}


@pytest.mark.parametrize("args", [["--set", "lrs=-1"], ["--activations", "maxout"], ["--set", "depth=0"],
                                  ["--set", "width=-3"], ["--activations", "relux"]])
def test_bad_input(tmp_path, args):
    assert main(["run", "dead-relu", "--quick", "--out", str(tmp_path), "--no-progress", *args]) == 2
    assert not (tmp_path / "dead-relu").exists()
