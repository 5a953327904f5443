"""The convergence claim: its rule on constructed runs (each verdict, edges, degenerate runs),
the grid growth, intervals against scipy, captions/tables, and the CLI at tiny size."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from scipy import stats

from actlab.claims import convergence
from actlab.claims.convergence.curve import analyse, ratio_cells
from actlab.claims.convergence.verdict import HEADLINE_WORD, per_activation, reader_ratio, verdict
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


def decide_from(relu_reach, tanh_reach, *, edge=None, relu_runs=None, cfg=None, arm=None, extra=None):
    """The verdict for constructed runs of relu and tanh on the headline CNN; ``arm``: (relu, tanh)
    reaches of the Krizhevsky-init arm; ``extra``: {activation: reaches} on the headline CNN."""
    cfg = cfg or config()
    runs = {("cnn", "relu"): relu_runs or [fake_run(r) for r in relu_reach],
            ("cnn", "tanh"): [fake_run(r) for r in tanh_reach]}
    for a, reaches in (extra or {}).items():
        runs[("cnn", a)] = [fake_run(r) for r in reaches]
    setups = ["cnn"]
    if arm is not None:
        setups.append("cnn_krizhevsky")
        runs[("cnn_krizhevsky", "relu")] = [fake_run(r) for r in arm[0]]
        runs[("cnn_krizhevsky", "tanh")] = [fake_run(r) for r in arm[1]]
    search = {p: {0.03: rs[0], 0.01: fake_run(None), 0.1: fake_run(None)} for p, rs in runs.items()}
    chosen = {p: 0.03 for p in runs}
    edges = {p: None for p in runs}
    if edge:
        edges[("cnn", edge)] = "high"
        chosen[("cnn", edge)] = 0.1
    grids = {p: [0.01, 0.03, 0.1] for p in runs}
    acts = ("relu", "tanh", *(extra or {}))
    metrics, data = analyse(cfg, setups, acts, runs, search, chosen, edges, grids)
    if arm is not None:
        metrics["arms"] = {"cnn_krizhevsky": "N(0, 0.01^2) init"}
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


def test_a_seed_that_never_reached_the_target_is_a_bound_not_dropped():
    v, m = decide_from([100, 110, 120, 100, 130], [700, None, 720, 680, 700])
    cell = m["ratio_vs_tanh"]["cnn"]["relu"]["0.12"]
    assert cell["censored"] == 1 and cell["n"] == 5 and cell["per_seed_kind"][1] == "above"
    assert cell["per_seed"][1] == pytest.approx(1000 / 110)  # tanh >= max_steps: ratio >= 1000/110
    exact = [700 / 100, 720 / 120, 680 / 100, 700 / 130]
    assert cell["estimate"] > stats.gmean(exact)  # the slow seed pulls the ratio up instead of vanishing
    assert v.status == "holds" and "1 a bound" in v.evidence


def test_the_issue_case_one_slow_relu_seed_no_longer_makes_the_word_inconclusive():
    """Issue 20: one relu seed that never reached the target turned 'does not hold' into inconclusive."""
    v, m = decide_from([250, 260, 240, 270, None], [160, 170, 150, 165, 160], cfg=config(max_steps=500))
    cell = m["ratio_vs_tanh"]["cnn"]["relu"]["0.12"]
    assert cell["per_seed_kind"][4] == "below" and cell["per_seed"][4] == pytest.approx(160 / 500)
    assert v.status == "does_not_hold", v.evidence
    assert "ReLU needed" in v.evidence and v.evidence.startswith("not reproduced on a small CNN (8/16 channels), ")


def test_more_than_half_the_pairs_censored_is_inconclusive():
    v, _ = decide_from([100, 110, 120, 100, 130], [None, None, None, 680, 700])
    assert v.status == "inconclusive" and "3 of 5 seed pairs are bounds" in v.evidence
    assert "raise max_steps" in v.evidence


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
        "--set", "min_steps=0", "--set", "wide_channels=6"]


def test_cli_tiny_writes_the_contract_files_and_figures(tmp_path, data_dir):
    assert main(["run", "convergence", "--out", str(tmp_path), "--no-progress", "--dataset", "fashion-mnist",
                 "--set", "workers=1", *TINY]) == 0
    folder = tmp_path / "convergence"
    d = json.loads((folder / "result.json").read_text())
    assert d["config"]["dataset"] == "fashion-mnist" and d["config"]["seeds"] == 5
    assert {"rule", "source", "meaning", "key_number"} <= set(d["verdict"])
    assert "not CIFAR-10" in d["verdict"]["source"]["differences"]
    assert d["metrics"]["lr_search_seed"] == 10_000 and d["metrics"]["reported_seeds"] == [0, 1, 2, 3, 4]
    assert set(d["metrics"]["arms"]) == {"cnn_krizhevsky", "cnn_wide"}
    assert [lim["name"] for lim in d["verdict"]["limits"]] == ["the paper's init", "a wider CNN"]
    per = d["per_activation"][0]
    assert per["baseline"] == "relu" and [v["activation"] for v in per["values"]] == ["relu", "tanh"]
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


def test_cli_reads_a_cifar10_folder(tmp_path, monkeypatch):
    # tests/data's helper, importable also when this file runs alone (pytest puts a test file's
    # folder on sys.path only when it collects a file from it)
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "data"))
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
    # a named data folder that is not there is said at once, naming it (issue 18: fail fast on data)
    assert rc == 2 and len(err) == 1 and str(tmp_path / "empty") in err[0], err
    assert not (tmp_path / "o" / "convergence").exists()


def test_scale_and_init_rules():
    assert convergence.scale_of(convergence.Config(**convergence.QUICK)) == "quick"
    assert convergence.scale_of(convergence.Config()) == "full"
    assert convergence.scale_of(convergence.Config(seeds=7)) == "custom"
    assert convergence.init_for("relu", "auto") == "he" and convergence.init_for("tanh", "auto") == "lecun"
    assert convergence.init_for("tanh", "xavier") == "xavier"
    assert convergence.Config(target=0.11, targets=(0.3,)).targets == (0.3, 0.11)
    # model "auto": the CNN on image datasets, the MLP of `depth` layers on MNIST-1D (no CNN for 1-D signals)
    assert convergence.setups_of(convergence.Config()) == ["cnn", "cnn_krizhevsky", "cnn_wide", "mlp2", "mlp4",
                                                           "mlp8"]
    assert convergence.setups_of(convergence.Config(**convergence.QUICK)) == ["cnn", "mlp2"]  # the arms, deeper MLPs: full scale
    assert convergence.setups_of(convergence.Config(dataset="mnist1d", depth=3, depths=(3, 5))) == [
        "mlp3", "mlp3_krizhevsky", "mlp5"]
    assert convergence.parse_setup("cnn_krizhevsky") == ("cnn", 0, "krizhevsky")
    cfg = convergence.Config(activations=("relu", "tanh", "gelu"))
    assert convergence.activations_of(cfg, "cnn_wide") == ("relu", "tanh")
    assert convergence.activations_of(cfg, "cnn") == ("relu", "tanh", "gelu")
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


def test_ratio_cells_from_bounds_only_say_which_side_without_an_estimate():
    def cell(kinds, estimate=None):
        return {"estimate": estimate, "ci95_low": estimate and estimate * 0.8, "ci95_high": estimate and estimate * 1.25,
                "n": len(kinds), "censored": sum(k != "exact" for k in kinds), "per_seed_kind": kinds}

    metrics = {"targets": [0.2, 0.1, 0.05],
               "ratio_vs_tanh": {"mlp2": {"relu": {"0.2": cell(["exact"] * 5, 0.7), "0.1": cell(["above"] * 5),
                                                   "0.05": cell(["below", "above"])}}}}
    whole, relu_only, mixed = ratio_cells(metrics)
    assert whole["side"] == "tanh" and whole["estimate"] == 0.7
    assert relu_only["side"] == "act only" and relu_only["estimate"] is None
    assert mixed["side"] == "none"


# ------------------------------------------------------------------ lr seeds, arms, per activation


def test_the_lr_is_chosen_on_a_seed_that_is_never_reported(monkeypatch):
    calls: list = []
    monkeypatch.setattr(convergence, "_train_one", _fake_trainer(0.03, calls))
    monkeypatch.setattr(convergence, "_load", lambda c: _tiny_tensors())
    result = convergence.run(config(seed=7, krizhevsky_arm=False, wide_channels=()))
    search = {c[3] for c in calls if c[0] == "cnn" and c[1] == "relu" and len([d for d in calls if d[:3] == c[:3]]) == 1}
    reported = sorted(c[3] for c in calls if c[:3] == ("cnn", "relu", 0.03) and c[3] != 10_007)
    assert search == {10_007} and reported == [7, 8, 9, 10, 11]
    assert result.metrics["lr_search_seed"] == 10_007 and result.metrics["reported_seeds"] == [7, 8, 9, 10, 11]


def test_krizhevsky_init_is_n_0_001_in_every_layer():
    import torch

    from actlab.training.models import build_cnn

    net = build_cnn(1, 28, 10, "relu", channels=(32, 64), hidden=256, init="krizhevsky", seed=0)
    layers = [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(layers) == 4
    for m in layers:
        w = m.weight.detach().double()
        # std of N(0, 0.01^2) from n draws: relative standard error 1/sqrt(2n) < 9% for the smallest layer (288)
        assert float(w.std()) == pytest.approx(0.01, rel=0.18) and abs(float(w.mean())) < 3 * 0.01 / w.numel() ** 0.5
        assert torch.count_nonzero(m.bias) == 0
    he = build_cnn(1, 28, 10, "relu", channels=(32, 64), hidden=256, init="he", seed=0)
    assert float(he[3].weight.std()) > 5 * float(net[3].weight.std())  # not just He under another name


def test_an_extreme_arm_is_a_limit_and_never_changes_the_headline():
    v, _ = decide_from([200, 210, 190, 220, 200], [180, 200, 170, 210, 190],
                       arm=([100, 110, 100, 120, 105], [900, 950, 880, 990, 920]))
    assert v.status == "does_not_hold"  # as without the arm
    (lim,) = v.limits
    assert lim.name == "the paper's init" and lim.status == "holds" and lim.key_number.value > 7
    assert "N(0, 0.01²)" in lim.statement and "tanh needed" in lim.evidence
    plain, _ = decide_from([200, 210, 190, 220, 200], [180, 200, 170, 210, 190])
    assert plain.status == v.status and plain.key_number == v.key_number


def test_per_activation_steps_and_paired_ratio_with_censoring():
    from actlab.verdicts.censored import Censored, censored_lognormal

    relu, gelu = [100, 110, 120, 100, 130], [60, 70, None, 50, 80]
    cfg = config(activations=("relu", "tanh", "gelu"))
    _, m = decide_from(relu, [150, 160, 170, 150, 180], extra={"gelu": gelu}, cfg=cfg)
    per = per_activation(cfg, m)
    assert per.baseline == "relu" and per.better == "lower" and per.unit == "steps"
    g = per.get("gelu")
    ref = censored_lognormal([Censored(60 / 100), Censored(70 / 110), Censored(1000 / 120, "above"),
                              Censored(50 / 100), Censored(80 / 130)])
    assert (g.ratio, g.ratio_low, g.ratio_high) == pytest.approx((ref.estimate, ref.low, ref.high))
    assert "1 of 5 seeds never reached the target" in g.note and per.get("relu").ratio == 1.0


# ------------------------------------------------------------------ the words never contradict the numbers


@pytest.mark.parametrize("estimate,low,high", [
    (0.5, 0.4, 0.62), (0.9, 0.8, 0.99), (0.95, 0.9, 1.02), (1.05, 0.98, 1.1), (1.2, 1.01, 1.4), (2.9, 2.5, 2.99),
    (3.0, 2.8, 3.2), (3.2, 3.01, 3.4), (6.0, 4.0, 9.0), (1.0, 0.5, 2.0)])
def test_generated_sentences_agree_with_their_numbers_near_every_boundary(estimate, low, high):
    import re

    _, m = decide_from([100, 110, 120, 100, 130], [700, 650, 720, 680, 700])
    m["ratio_vs_tanh"]["cnn"]["relu"]["0.12"].update(estimate=estimate, ci95_low=low, ci95_high=high, n=5,
                                                     censored=0)
    v = verdict(config(), m, "custom")
    want = "holds" if low > 3 else "does_not_hold" if high < 3 else "inconclusive"
    assert v.status == want, (estimate, low, high, v.evidence)
    text = v.evidence + " " + v.meaning + " " + v.key_number.label
    assert v.evidence.startswith(HEADLINE_WORD[want] + " on a small CNN (8/16 channels), ")
    assert v.key_number.text == f"{estimate:.2f}x"
    # the reader's direction: the activation that needed more steps is named, with a factor >= 1
    for who, factor in re.findall(r"(ReLU|tanh) needed (\d+\.\d+)x", text):
        assert float(factor) >= 1.0
        assert (who == "ReLU") == (estimate < 1), (who, estimate)
        assert float(factor) == pytest.approx(1 / estimate if estimate < 1 else estimate, abs=0.006)
    assert reader_ratio(estimate) in text
    # an interval that spans 1 is said as "no clear difference", and only then
    assert ("no clear difference" in v.evidence + v.meaning) == (low <= 1 <= high), (low, high)
    if "tanh got there first" in text:
        assert high < 1
    if "ReLU was faster, but" in text:
        assert low > 1 and high < 3
    if "wholly above 3" in text:
        assert low > 3
    if "wholly below 3" in text:
        assert high < 3
    if "spans the threshold" in text:
        assert low <= 3 <= high
    assert ("not reproduced" in text) == (want == "does_not_hold")


def test_reader_ratio_says_no_clear_difference_when_the_interval_spans_one():
    assert reader_ratio(0.63, 0.358, 1.11) == "no clear difference: ReLU needed 1.59x tanh's steps (95% CI 0.90-2.79x)"
    assert reader_ratio(0.63, 0.5, 0.8).startswith("ReLU needed 1.59x")
    assert reader_ratio(1.2, 1.01, 1.4).startswith("tanh needed 1.20x")
    assert reader_ratio(1.2, 0.99, 1.4, with_ci=False) == "no clear difference: tanh needed 1.20x ReLU's steps"


def test_arm_where_only_tanh_reached_says_relu_was_slower_and_uncounted_cells_are_apart():
    v, m = decide_from([100, 110, 120, 100, 130], [700, 650, 720, 680, 700],
                       arm=([None] * 5, [300, 320, 310, 330, 305]))
    (lim,) = v.limits
    assert lim.evidence.startswith("only tanh reached 12%, so ReLU was slower here")
    assert lim.key_number.text == "only tanh reached 12% (ReLU slower)"
    cells = [c for c in __import__("actlab.claims.convergence.curve", fromlist=["ratio_cells"]).ratio_cells(m)]
    counted = [c for c in cells if c["estimate"] is not None or c["side"] in ("act only", "tanh only")]
    assert f"Across {len(counted)} combinations" in v.meaning
