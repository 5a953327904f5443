"""The convergence claim at tiny size: metrics against the stored curves, determinism, CLI."""

from __future__ import annotations

import json
import math

import pytest
from scipy import stats

from actlab.cli import main
from actlab.experiments import convergence
from actlab.experiments.trainer import load_tensors

TINY = dict(activations=("relu", "tanh"), seeds=2, lr_grid=(0.05, 0.2), max_steps=30, eval_every=5,
            eval_examples=500, train_examples=2000, test_examples=500, width=32, target=0.5, workers=1)


@pytest.fixture(scope="module")
def result(data_dir_module):
    return convergence.run(convergence.Config(data_dir=str(data_dir_module), **TINY))


@pytest.fixture(scope="module")
def data_dir_module():
    import os
    from pathlib import Path

    path = Path(os.environ["ACTLAB_DATA_DIR"])
    if not (path / "mnist").is_dir():
        pytest.skip("no real data folder")
    return path


def test_steps_to_target_is_read_off_the_stored_curves(result):
    m, curves = result.metrics, result.data["curves"]
    for act in TINY["activations"]:
        c = curves[act]
        for i, errs in enumerate(c["train_error"]):
            first = next((s for s, e in zip(c["steps"], errs) if e <= TINY["target"]), None)  # plain scan
            assert m["steps_to_target"][act]["per_seed"][i] == first
        per_seed = m["steps_to_target"][act]["per_seed"]
        if None not in per_seed:
            assert m["steps_to_target"][act]["mean"] == pytest.approx(sum(per_seed) / len(per_seed))
    r, t = m["steps_to_target"]["relu"]["mean"], m["steps_to_target"]["tanh"]["mean"]
    if r and t:
        assert m["speedup_vs_tanh"]["relu"] == pytest.approx(t / r)
    assert m["speedup_vs_tanh"]["tanh"] == pytest.approx(1.0) or t is None


def test_test_error_interval_matches_scipy(result):
    te = result.metrics["test_error"]["relu"]
    values = te["per_seed"]
    lo, hi = stats.t.interval(0.95, len(values) - 1, loc=sum(values) / len(values), scale=stats.sem(values))
    if math.isfinite(lo):
        assert te["ci95_low"] == pytest.approx(lo, rel=1e-3, abs=1e-9)
        assert te["ci95_high"] == pytest.approx(hi, rel=1e-3, abs=1e-9)


def test_learning_rate_is_the_fastest_that_stays_trained(result):
    m = result.metrics
    target = TINY["target"]
    for act in TINY["activations"]:
        steps = {float(k): v for k, v in m["lr_search"][act].items()}
        final = {float(k): v for k, v in m["lr_search_final_error"][act].items()}
        stable = {lr for lr in steps if isinstance(final[lr], float) and final[lr] <= target}
        pool = {lr: s for lr, s in steps.items() if lr in stable and s is not None} or \
               {lr: s for lr, s in steps.items() if s is not None}
        if pool:
            assert steps[m["lr_chosen"][act]] == min(pool.values())
        # the first seed's run is the search run at the chosen rate
        assert m["steps_to_target"][act]["per_seed"][0] == steps[m["lr_chosen"][act]]


def test_same_config_same_metrics_in_any_number_of_workers(result, data_dir_module):
    again = convergence.run(convergence.Config(data_dir=str(data_dir_module), **{**TINY, "workers": 2}))
    assert json.dumps(again.to_dict()["metrics"]) == json.dumps(result.to_dict()["metrics"])


def test_verdict_and_contract(result):
    d = result.to_dict()
    assert {"experiment", "actlab_version", "config", "metrics", "verdict", "env", "elapsed_s"} <= set(d)
    assert d["verdict"]["status"] in ("holds", "does_not_hold", "inconclusive")
    assert "relu" in d["verdict"]["evidence"]


def test_cli_runs_and_writes_contract_files(tmp_path, data_dir_module):
    args = ["run", "convergence", "--out", str(tmp_path), "--no-progress", "--activations", "relu,tanh", "--seeds", "1",
            "--set", "lr_grid=0.1", "--set", "max_steps=10", "--set", "train_examples=500", "--set", "test_examples=200",
            "--set", "eval_examples=200", "--set", "width=16", "--set", "workers=1", "--dataset", "fashion-mnist"]
    assert main(args) == 0
    folder = tmp_path / "convergence"
    d = json.loads((folder / "result.json").read_text())
    assert d["experiment"] == "convergence" and d["config"]["dataset"] == "fashion-mnist"
    assert sorted(p.name for p in folder.glob("*.png")) == ["convergence_curves.png", "convergence_steps.png"]


@pytest.mark.parametrize("args", [["--dataset", "cifar"], ["--set", "model=cnn", "--dataset", "mnist1d"],
                                  ["--activations", "relu,nope"], ["--seeds", "0"], ["--set", "lr_grid=-1"],
                                  ["--set", "target=2"], ["--device", "cuda"] ])
def test_bad_input_exit_2_writes_nothing(tmp_path, args, capsys):
    import torch

    if args == ["--device", "cuda"] and torch.cuda.is_available():
        pytest.skip("CUDA is present")
    assert main(["run", "convergence", "--quick", "--out", str(tmp_path / "o"), "--no-progress", *args]) == 2
    assert "actlab: error:" in capsys.readouterr().err
    assert not (tmp_path / "o" / "convergence").exists()


def test_missing_data_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ACTLAB_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("ACTLAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ACTLAB_OFFLINE", "1")
    from actlab.data import clear_cache

    clear_cache()
    load_tensors.cache_clear()
    rc = main(["run", "convergence", "--quick", "--out", str(tmp_path / "o"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "train-images-idx3-ubyte.gz" in err[0], err
    assert not (tmp_path / "o" / "convergence").exists()
