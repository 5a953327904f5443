"""The saturation claim: monitor statistics against a plain loop, probe schedule, CLI."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from actlab.activations import get
from actlab.cli import main
from actlab.experiments import saturation
from actlab.experiments.models import build_mlp


def reference_stats(model: nn.Sequential, x: torch.Tensor, act_name: str) -> list[dict]:
    """Slow reference: per activation layer, mean, population std and saturated share by loops."""
    act = get(act_name)
    threshold = 0.05 * act.properties.max_abs_derivative
    out, h = [], x.double()
    model = model.double()
    for layer in model:
        layer.requires_grad_(False)
        pre = h
        h = layer(h)
        if not isinstance(layer, nn.Linear):
            values = [float(v) for v in h.flatten()]
            n = len(values)
            mean = sum(values) / n
            std = math.sqrt(sum((v - mean) ** 2 for v in values) / n)
            sat = sum(1 for v in pre.flatten() if abs(float(act.derivative(v.reshape(1)))) < threshold) / n
            out.append({"mean": mean, "std": std, "saturated_fraction": sat})
    return out


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "softsign"])
def test_layer_statistics_match_a_plain_loop(act):
    model = build_mlp(6, 5, 3, 2, act, seed=1)
    with torch.no_grad():
        model[2].bias += 4.0  # push one layer into saturation so the share is not trivially 0
    x = 3 * torch.randn(40, 6, generator=torch.Generator().manual_seed(0))
    got = saturation.layer_statistics(model, x)
    want = reference_stats(model, x, act)
    assert len(got) == 3
    for g, w in zip(got, want):
        assert g["mean"] == pytest.approx(w["mean"], rel=1e-5, abs=1e-6)
        assert g["std"] == pytest.approx(w["std"], rel=1e-4, abs=1e-6)
        assert g["saturated_fraction"] == pytest.approx(w["saturated_fraction"], abs=1e-9)
        assert sum(g["histogram"]) == 40 * 5


def test_probe_steps_are_dense_early_and_cover_the_run():
    steps = saturation.probe_steps(1500, 25)
    assert steps[0] == 0 and steps[-1] == 1500 and steps == sorted(set(steps))
    assert steps[:4] == [0, 1, 2, 3] and len(steps) <= 25
    assert saturation.probe_steps(1, 5) == [0, 1]


@pytest.fixture(scope="module")
def tiny():
    import os

    if not os.path.isdir(os.path.join(os.environ.get("ACTLAB_DATA_DIR", ""), "mnist")):
        pytest.skip("no real data folder")
    cfg = saturation.Config(width=32, steps=60, probes=6, train_examples=1000, workers=1)
    return saturation.run(cfg)


def test_metrics_consistent_with_layers_and_probes(tiny):
    m = tiny.metrics
    assert m["steps"] == saturation.probe_steps(60, 6)
    for act in ("sigmoid", "tanh", "softsign"):
        assert len(m["layer_mean"][act]) == len(m["steps"]) and all(len(row) == 4 for row in m["layer_mean"][act])
        top = [row[-1] for row in m["layer_mean"][act]]
        assert m["top_layer"][act]["min_mean"] == min(top) and m["top_layer"][act]["mean_at_init"] == top[0]
    # sigmoid outputs lie in (0, 1): their means too, and the init mean is near 1/2
    assert all(0 < v < 1 for row in m["layer_mean"]["sigmoid"] for v in row)
    assert m["top_layer"]["sigmoid"]["mean_at_init"] == pytest.approx(0.5, abs=0.05)


def test_deterministic(tiny):
    again = saturation.run(saturation.Config(**tiny.config))
    assert json.dumps(again.to_dict()["metrics"]) == json.dumps(tiny.to_dict()["metrics"])


def test_cli_tiny(tmp_path):
    args = ["run", "saturation", "--out", str(tmp_path), "--no-progress", "--activations", "sigmoid,tanh",
            "--set", "width=16", "--set", "steps=20", "--set", "probes=4", "--set", "train_examples=500", "--set", "workers=1"]
    assert main(args) == 0
    folder = tmp_path / "saturation"
    assert json.loads((folder / "result.json").read_text())["experiment"] == "saturation"
    assert {p.name for p in folder.glob("*.png")} == {"saturation_mean_std.png", "saturation_fraction.png",
                                                     "saturation_histograms.png"}


@pytest.mark.parametrize("args", [["--set", "depth=0"], ["--set", "width=-1"], ["--activations", "maxout"],
                                  ["--set", "lr=0"], ["--set", "probes=1"]])
def test_bad_input(tmp_path, args):
    assert main(["run", "saturation", "--quick", "--out", str(tmp_path), "--no-progress", *args]) == 2
    assert not (tmp_path / "saturation").exists()
