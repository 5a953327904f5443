"""The convergence claim: its rule on constructed runs (each verdict, edges, degenerate runs),
the grid growth, intervals against scipy, captions/tables, and the CLI at tiny size."""

from __future__ import annotations

import json
import math

import pytest
from scipy import stats

from actlab.claims import convergence
from actlab.claims.convergence.curve import analyse, ratio_cells, verdict
from actlab.cli.main import main
from actlab.plots import convergence as conv_plots
from actlab.verdicts.result import Result, environment

TARGETS = (0.3, 0.2, 0.12)


def fake_run(reach: int | None, *, every: int = 10, steps: int = 1000, diverged_at: int | None = None,
             stuck: bool = False) -> dict:
    """A run's record whose training error falls linearly from 0.9 towards 0.12, and is 0.1 from step ``reach`` on."""
    xs = list(range(0, steps + 1, every))
    if stuck:
        errs = [0.9] * len(xs)
    elif reach is None:
        errs = [0.9 - 0.6 * x / steps for x in xs]  # ends at 0.3: never below 0.2
    else:
        errs = [0.9 - (0.9 - 0.12) * x / reach if x < reach else 0.1 for x in xs]
    if diverged_at is not None:
        xs = [x for x in xs if x <= diverged_at]
        errs = errs[: len(xs) - 1] + [math.nan]
    return {"steps": xs, "train_error": errs, "final_test_error": math.nan if diverged_at is not None else 0.15,
            "diverged_at": diverged_at, "steps_run": xs[-1]}


def config(**kw) -> convergence.Config:
    base = dict(depths=(), seeds=5, lr_grid=(0.01, 0.03, 0.1), target=0.12, targets=TARGETS, max_steps=1000,
                workers=1)
    return convergence.Config(**{**base, **kw})


def decide_from(relu_reach, tanh_reach, *, edge=None, relu_runs=None, cfg=None):
    """The verdict for constructed runs of relu and tanh on the headline CNN."""
    cfg = cfg or config()
    runs = {("cnn", "relu"): relu_runs or [fake_run(r) for r in relu_reach],
            ("cnn", "tanh"): [fake_run(r) for r in tanh_reach]}
    search = {p: {0.03: rs[0], 0.01: fake_run(None), 0.1: fake_run(None)} for p, rs in runs.items()}
    chosen = {p: 0.03 for p in runs}
    edges = {p: None for p in runs}
    if edge:
        edges[("cnn", edge)] = "high"
        chosen[("cnn", edge)] = 0.1
    grids = {p: [0.01, 0.03, 0.1] for p in runs}
    metrics, data = analyse(cfg, ["cnn"], ("relu", "tanh"), runs, search, chosen, edges, grids)
    return verdict(cfg, metrics, "custom"), metrics


# ------------------------------------------------------------------ the rule gives each verdict


def test_relu_six_times_faster_holds():
    v, m = decide_from([100, 110, 120, 100, 130], [700, 650, 720, 680, 700])
    assert v.status == "holds", v.evidence
    assert v.rule.threshold == 3.0 and v.rule.holds_if == "above" and v.rule.seeds == 5
    assert v.key_number.value == pytest.approx(m["ratio_vs_tanh"]["cnn"]["relu"]["0.12"]["estimate"])
    assert 5 < v.key_number.value < 7


def test_relu_no_faster_does_not_hold():
    v, _ = decide_from([200, 210, 190, 220, 200], [180, 200, 170, 210, 190])
    assert v.status == "does_not_hold", v.evidence
    assert "wholly below 3" in v.evidence
    assert "not faster at all" in v.meaning or "well under" in v.meaning


def test_spread_across_the_threshold_is_inconclusive_with_what_to_rerun():
    v, _ = decide_from([100, 100, 100, 100, 100], [120, 900, 200, 1000, 150])
    assert v.status == "inconclusive", v.evidence
    assert "spans the threshold 3" in v.evidence and "--seeds 10" in v.evidence


def test_fewer_than_five_seeds_is_inconclusive_even_when_clear():
    v, _ = decide_from([100, 100, 110], [700, 700, 720], cfg=config(seeds=3))
    assert v.status == "inconclusive" and "at least 5" in v.evidence


def test_a_target_reached_in_tens_of_steps_is_no_verdict():
    v, _ = decide_from([20, 20, 30, 20, 20], [200, 180, 190, 200, 210])
    assert v.status == "inconclusive" and "first transient" in v.evidence


def test_best_lr_at_the_grid_edge_is_inconclusive():
    v, _ = decide_from([100, 110, 120, 100, 130], [700, 650, 720, 680, 700], edge="tanh")
    assert v.status == "inconclusive"
    assert "best lr at the grid edge for tanh" in v.evidence


def test_target_not_reached_on_every_seed_is_inconclusive():
    v, _ = decide_from([100, 110, 120, 100, 130], [700, None, 720, 680, 700])
    assert v.status == "inconclusive" and "raise max_steps" in v.evidence


# ------------------------------------------------------------------ degenerate runs


def test_degenerate_runs_are_excluded_and_named():
    relu = [fake_run(100), fake_run(None, diverged_at=40), fake_run(110), fake_run(None, stuck=True), fake_run(120),
            fake_run(100), fake_run(105)]
    v, m = decide_from(None, [700, 650, 720, 680, 700, 690, 710], relu_runs=relu, cfg=config(seeds=7))
    whys = {(d["activation"], d["seed"]): d["why"] for d in m["degenerate"]}
    assert whys == {("relu", 1): "diverged at step 40", ("relu", 3): "never left chance (training error >= 80%)"}
    cell = m["ratio_vs_tanh"]["cnn"]["relu"]["0.12"]
    assert cell["n"] == 5 and cell["per_seed"][1] is None and cell["per_seed"][3] is None
    st = m["steps_to_target"]["cnn"]["relu"]["0.12"]
    assert st["trained"] == 5 and st["reached"] == 5  # the excluded runs do not count as "not reached"
    assert "relu seed 1 (diverged at step 40)" in v.evidence and "relu seed 3 (never left chance" in v.evidence
    assert v.status == "holds"
    # the test error leaves the diverged run out instead of reporting its NaN
    assert m["test_error"]["cnn"]["relu"]["per_seed"][1] is None


def test_pick_lr_skips_diverged_and_prefers_the_fastest_that_trained():
    runs = {0.01: fake_run(400), 0.03: fake_run(200), 0.1: fake_run(50, diverged_at=60), 0.3: fake_run(None, stuck=True)}
    assert convergence.pick_lr(runs, 0.12, TARGETS, 0.8) == 0.03


# ------------------------------------------------------------------ intervals against scipy


def test_steps_and_ratio_intervals_are_log_t_intervals():
    relu, tanh = [100, 110, 120, 100, 130], [700, 650, 720, 680, 700]
    _, m = decide_from(relu, tanh)
    # fake_run crosses 0.12 exactly at its reach step (a multiple of 10)
    st = m["steps_to_target"]["cnn"]["relu"]["0.12"]
    assert st["per_seed"] == relu
    logs = [math.log(v) for v in relu]
    lo, hi = stats.t.interval(0.95, len(logs) - 1, loc=sum(logs) / len(logs), scale=stats.sem(logs))
    assert st["geo_mean"] == pytest.approx(stats.gmean(relu), rel=1e-9)
    assert (st["ci95_low"], st["ci95_high"]) == pytest.approx((math.exp(lo), math.exp(hi)), rel=1e-3)
    ratios = [t / r for t, r in zip(tanh, relu)]
    cell = m["ratio_vs_tanh"]["cnn"]["relu"]["0.12"]
    assert cell["per_seed"] == pytest.approx(ratios)
    assert cell["estimate"] == pytest.approx(stats.gmean(ratios), rel=1e-9) and cell["ci95_low"] > 0


def test_ratio_cells_say_where_relu_is_faster():
    _, m = decide_from([100, 110, 120, 100, 130], [700, 650, 720, 680, 700])
    sides = {c["target"]: c["side"] for c in ratio_cells(m)}
    assert sides[0.12] == "act"


# ------------------------------------------------------------------ the grid grows until interior


def _fake_trainer(best_lr: float, calls: list):
    def fake(config, setup, activation, lr, seed, task_id=0, report=None):
        calls.append((setup, activation, lr, seed))
        if report is not None:
            report.put((task_id, 10))
        reach = int(100 * (1 + abs(math.log(lr / best_lr))))  # fastest at best_lr
        return fake_run(10 * (reach // 10), steps=config.max_steps)

    return fake


def test_grid_grows_up_until_the_best_rate_is_interior(monkeypatch):
    calls: list = []
    monkeypatch.setattr(convergence, "_train_one", _fake_trainer(0.3, calls))
    monkeypatch.setattr(convergence, "_load", lambda c: _tiny_tensors())
    seen = []
    result = convergence.run(config(activations=("relu", "tanh"), lr_grid_extensions=3),
                             progress=lambda d, t, msg="": seen.append((d, t, msg)))
    m = result.metrics
    # one grid step is the base grid's ratio, sqrt(10): 0.1 -> 0.316 -> 0.999; the optimum 0.3 is then interior
    assert m["lr_grid_used"]["cnn"]["relu"] == pytest.approx([0.01, 0.03, 0.1, 0.316, 0.999])
    assert m["lr_chosen"]["cnn"]["relu"] == pytest.approx(0.316)
    assert m["lr_at_grid_edge"]["cnn"]["relu"] is None
    assert "grid edge" not in result.verdict.evidence
    assert seen and seen[-1][0] == pytest.approx(seen[-1][1]) and any("growing" in s[2] for s in seen)


def test_grid_that_cannot_grow_enough_leaves_the_verdict_inconclusive(monkeypatch):
    monkeypatch.setattr(convergence, "_train_one", _fake_trainer(3.0, []))
    monkeypatch.setattr(convergence, "_load", lambda c: _tiny_tensors())
    result = convergence.run(config(lr_grid_extensions=1))
    assert result.metrics["lr_at_grid_edge"]["cnn"]["relu"] == "high"
    assert result.verdict.status == "inconclusive" and "best lr at the grid edge" in result.verdict.evidence


def _tiny_tensors():
    import torch

    from actlab.training.trainer import Tensors

    g = torch.Generator().manual_seed(0)
    return Tensors(torch.rand(256, 784, generator=g), torch.arange(256) % 10, torch.rand(64, 784, generator=g),
                   torch.arange(64) % 10)


# ------------------------------------------------------------------ the figures' captions and tables


def test_captions_and_tables_from_a_constructed_result(tmp_path):
    v, m = decide_from([100, 110, 120, 100, 130], [700, 650, 720, 680, 700])
    cfg = config()
    curves = {"cnn": {a: {"steps": [fake_run(100)["steps"]] * 5, "train_error": [fake_run(100)["train_error"]] * 5}
                      for a in ("relu", "tanh")}}
    from dataclasses import asdict

    result = Result("convergence", asdict(cfg), m, v, environment(), 1.0, data={"curves": curves, "eval_every": 10})
    paths = conv_plots.plot(result, tmp_path)
    caps = conv_plots.captions(result)
    assert sorted(caps) == sorted(p.name for p in paths) == ["curves.png", "lr_search.png", "ratio.png", "steps.png"]
    assert all(name not in text and len(text) > 60 for name, text in caps.items())
    ratio = m["ratio_vs_tanh"]["cnn"]["relu"]["0.12"]["estimate"]
    assert f"tanh/relu = {ratio:.2f}x" in caps["steps.png"]  # the run's own ratio, not a fixed sentence
    for t in conv_plots.tables(result):
        assert t["title"] and t["rows"] and all(len(r) == len(t["columns"]) for r in t["rows"])
        assert any(str(c) not in ("", "-", "n/a") for r in t["rows"] for c in r)


# ------------------------------------------------------------------ the real thing at tiny size

TINY = ["--set", "depths=2", "--set", "seeds=5", "--set", "lr_grid=0.05,0.2", "--set", "lr_grid_extensions=0",
        "--set", "max_steps=20", "--set", "eval_every=5", "--set", "eval_examples=100",
        "--set", "train_examples=500", "--set", "test_examples=100", "--set", "width=8",
        "--set", "channels=4", "--set", "hidden=8", "--set", "targets=0.8,0.6", "--set", "target=0.6",
        "--set", "min_steps=0"]


def test_cli_tiny_writes_the_contract_files_and_figures(tmp_path, data_dir):
    assert main(["run", "convergence", "--out", str(tmp_path), "--no-progress", "--dataset", "fashion-mnist",
                 "--set", "workers=1", *TINY]) == 0
    folder = tmp_path / "convergence"
    d = json.loads((folder / "result.json").read_text())
    assert d["config"]["dataset"] == "fashion-mnist" and d["config"]["seeds"] == 5
    assert {"rule", "source", "meaning", "key_number"} <= set(d["verdict"])
    assert "CIFAR-10 is not available offline" in d["verdict"]["source"]["differences"]
    assert sorted(p.name for p in folder.glob("*.png")) == ["curves.png", "lr_search.png", "ratio.png", "steps.png"]
    # steps to target are read off the stored curves (a plain scan)
    m, curves = d["metrics"], d["data"]["curves"]
    for s in m["setups"]:
        for a in ("relu", "tanh"):
            for i, (st, er) in enumerate(zip(curves[s][a]["steps"], curves[s][a]["train_error"])):
                first = next((x for x, e in zip(st, er) if isinstance(e, float) and e <= 0.6), None)
                assert m["steps_to_target"][s][a]["0.6"]["per_seed"][i] == first


def test_same_metrics_in_one_or_two_workers(tmp_path, data_dir):
    outs = []
    for workers in (1, 2):
        out = tmp_path / str(workers)
        assert main(["run", "convergence", "--out", str(out), "--no-progress", "--no-plots", "--activations",
                     "relu,tanh", "--set", f"workers={workers}", *TINY, "--set", "depths=", "--set", "seeds=2"]) == 0
        outs.append(json.loads((out / "convergence" / "result.json").read_text())["metrics"])
    assert json.dumps(outs[0]) == json.dumps(outs[1])


def test_cli_reads_a_cifar10_folder(tmp_path):
    from test_cifar10 import make_cifar_folder

    root = make_cifar_folder(tmp_path / "data", per_file=120)
    assert main(["run", "convergence", "--out", str(tmp_path / "o"), "--no-progress", "--no-plots", "--dataset",
                 "cifar10", "--data-dir", str(root), "--set", "workers=1", *TINY, "--set", "seeds=1",
                 "--set", "depths="]) == 0
    d = json.loads((tmp_path / "o" / "convergence" / "result.json").read_text())
    assert d["config"]["dataset"] == "cifar10" and "CIFAR-10" in d["verdict"]["evidence"]


@pytest.mark.parametrize("args", [["--dataset", "cifar100"], ["--set", "model=cnn", "--dataset", "mnist1d"],
                                  ["--activations", "relu,nope"], ["--seeds", "0"], ["--set", "lr_grid=-1"],
                                  ["--set", "target=2"], ["--set", "targets="], ["--set", "init=zeros"],
                                  ["--set", "channels=2,2,2,2,2"],
                                  ["--device", "cuda"]])
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
    from actlab.training.trainer import load_tensors

    clear_cache()
    load_tensors.cache_clear()
    convergence._load.cache_clear()
    rc = main(["run", "convergence", "--quick", "--out", str(tmp_path / "o"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "train-images-idx3-ubyte.gz" in err[0], err
    assert not (tmp_path / "o" / "convergence").exists()


def test_scale_and_init_rules():
    assert convergence.scale_of(convergence.Config(**convergence.QUICK)) == "quick"
    assert convergence.scale_of(convergence.Config()) == "full"
    assert convergence.scale_of(convergence.Config(seeds=7)) == "custom"
    assert convergence.init_for("relu", "auto") == "he" and convergence.init_for("tanh", "auto") == "lecun"
    assert convergence.init_for("tanh", "xavier") == "xavier"
    assert convergence.Config(target=0.11, targets=(0.3,)).targets == (0.3, 0.11)
    # model "auto": the CNN on image datasets, the MLP of `depth` layers on MNIST-1D (no CNN for 1-D signals)
    assert convergence.setups_of(convergence.Config()) == ["cnn", "mlp2", "mlp4", "mlp8"]
    assert convergence.setups_of(convergence.Config(dataset="mnist1d", depth=3, depths=(3, 5))) == ["mlp3", "mlp5"]
    with pytest.raises(ValueError, match="needs an image dataset"):
        convergence.Config(dataset="mnist1d", model="cnn")


def test_quick_has_power_and_a_target_of_hundreds_of_steps_at_full_scale():
    q, full = convergence.Config(**convergence.QUICK), convergence.Config()
    assert q.seeds >= 5 and full.seeds >= 5 and len(full.depths) == 3
    assert min(full.targets) <= 0.08 and max(full.targets) >= 0.3


@pytest.fixture(autouse=True)
def _clear_loader_cache():
    yield
    convergence._load.cache_clear()


def test_cifar10_without_a_folder_is_one_line_exit_2(tmp_path, capsys, data_dir):
    rc = main(["run", "convergence", "--quick", "--dataset", "cifar10", "--out", str(tmp_path / "o"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "cifar-10-batches-bin" in err[0] and "ACTLAB_OFFLINE" in err[0], err
    assert not (tmp_path / "o" / "convergence").exists()


def test_a_cell_where_some_seed_never_reached_the_target_is_censored_not_estimated():
    """Ratios from only the seeds that got there would be biased towards the fast ones."""
    from actlab.claims.convergence.curve import ratio_cells

    def steps(reached, trained=5):
        return {"reached": reached, "trained": trained}

    def ratio(estimate):
        return {"estimate": estimate, "ci95_low": estimate * 0.8, "ci95_high": estimate * 1.25, "n": 5}

    metrics = {"targets": [0.2, 0.1],
               "ratio_vs_tanh": {"mlp": {"relu": {"0.2": ratio(0.7), "0.1": {**ratio(1.4), "n": 2}}}},
               "steps_to_target": {"mlp": {"relu": {"0.2": steps(5), "0.1": steps(2)},
                                           "tanh": {"0.2": steps(5), "0.1": steps(5)}}}}
    whole, partial = ratio_cells(metrics)
    assert whole["side"] == "tanh" and whole["estimate"] == 0.7
    assert partial["side"] == "censored" and partial["estimate"] is None and partial["low"] is None
