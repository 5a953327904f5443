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

CONFIG = {**{f: getattr(dead_relu.Config, f) for f in ("depth", "width", "init", "steps", "batch_size", "dataset",
                                                          "momentum")},
          "lrs": (0.1, 0.5, 0.7, 1.0), "adam_lrs": (0.001, 0.01, 0.03, 0.1), "bias_inits": (0.0, 0.01),
          "activations": ("relu", "leaky_relu"), "seeds": 5, "select_seeds": 5, "train_examples": 0}


def fake(act="relu", opt="adam", lr=0.01, seed=0, dead=0.0, err=0.03, bias=0.0, diverged=None, stuck=False):
    return {"activation": act, "optimizer": opt, "bias_init": bias, "lr": lr, "seed": seed,
            "dead": None if diverged else dead, "dead_per_layer": None if diverged else [dead] * 3,
            "dead_at_init": 0.0, "diverged_at": diverged, "train_error": None if diverged else err,
            "min_train_error": None if diverged else (0.88 if stuck else err),
            "test_error": None if diverged else err, "chance_error": 0.887}


def setting(act="relu", opt="adam", lr=0.01, bias=0.0, seeds=5, base=0, **spec):
    """One setting's runs; a list value gives one entry per seed."""
    return [fake(act, opt, lr, base + s, bias=bias,
                 **{k: (v[s] if isinstance(v, (list, tuple)) else v) for k, v in spec.items()}) for s in range(seeds)]


def summary(runs, arm=None):
    out = dead_relu.summarise(dead_relu.classify(runs))
    return [dict(s, arm=arm) for s in out] if arm else out


def selection(adam_dead=0.5, adam_err=0.08, top_err=0.88):
    """relu Adam: 0.001 and 0.01 train with few dead, 0.03 is the band, 0.1 breaks; SGD likewise."""
    runs = (setting(lr=0.001, dead=0.01) + setting(lr=0.01, dead=0.2, err=0.05)
            + setting(lr=0.03, dead=adam_dead, err=adam_err) + setting(lr=0.1, dead=0.97, err=top_err, stuck=True)
            + setting(opt="sgd", lr=0.1) + setting(opt="sgd", lr=0.5, dead=0.02)
            + setting(opt="sgd", lr=0.7, dead=0.1, err=0.06) + setting(opt="sgd", lr=1.0, diverged=12)
            + [r for lr in (0.001, 0.01, 0.03, 0.1) for r in setting("leaky_relu", lr=lr, err=0.05 if lr < 0.1 else 0.5)])
    return summary(runs)


def confirmation(dead=(0.6, 0.62, 0.58, 0.65, 0.61), err=0.07, lr=0.03, bias_dead=0.55, sgd_dead=0.1, **kw):
    base = 1000
    return (summary(setting(lr=lr, dead=list(dead), err=err, base=base, **kw), "headline")
            + summary(setting(lr=lr, bias=0.01, dead=bias_dead, err=err, base=base), "bias 0.01")
            + summary(setting(opt="sgd", lr=0.7, dead=sgd_dead, err=0.06, base=base), "sgd")
            + summary(setting("leaky_relu", lr=0.03, err=0.05, base=base), "activation leaky_relu"))


def verdict(sel=None, conf=None, **config):
    return dead_relu.decide_claim(selection() if sel is None else sel, confirmation() if conf is None else conf,
                                  config={**CONFIG, **config}, scale="full-scale")


def check_contract(v):
    assert v.rule is not None and v.rule.threshold == 0.4 and v.rule.holds_if == "above"
    assert "Adam" in v.rule.text and "median" in v.rule.text and "fresh seeds" in v.rule.text
    assert v.source is not None and "40%" in v.source.value and v.source.differences
    assert v.key_number is not None and v.key_number.label
    assert 3 <= v.meaning.count(". ") + 1 <= 8, v.meaning
    assert len(v.evidence.split()) < 90, v.evidence  # the sentence is the conclusion; the cases are in tables
    check_sentences(v)


def check_sentences(v, sel=None):
    """No generated sentence contradicts its numbers."""
    import re

    word = {"holds": "claim holds here", "does_not_hold": "claim does not hold here",
            "inconclusive": "not enough for a verdict"}
    assert word[v.status] in v.meaning
    assert all(w not in v.meaning for k, w in word.items() if k != v.status)
    if v.key_number.value is not None:
        assert v.key_number.text == f"{100 * v.key_number.value:.0f}% dead"
        assert re.search(r"Adam lr [0-9.]+", v.key_number.label)  # the key number names its optimizer
        if v.status == "holds":
            assert v.key_number.value > 0.4
        if v.status == "does_not_hold":
            assert v.key_number.value < 0.4
    if sel is not None and "no longer trained" in v.meaning:
        lr = float(re.search(r"next rate up, ([0-9.]+), no longer trained", v.meaning).group(1))
        above = next(s for s in sel if s["activation"] == "relu" and s["optimizer"] == "adam" and s["lr"] == lr)
        assert not above["trains"]
    if sel is not None and "still trained but killed fewer" in v.meaning:
        lr = float(re.search(r"next rate up, ([0-9.]+), still trained", v.meaning).group(1))
        above = next(s for s in sel if s["activation"] == "relu" and s["optimizer"] == "adam" and s["lr"] == lr)
        assert above["trains"]
    for lim in v.limits:
        kn = lim.key_number
        if kn is not None and kn.value is not None and lim.rule is not None and lim.status != "inconclusive":
            below = kn.value < lim.rule.threshold
            assert (lim.status == "holds") == (below if lim.rule.holds_if == "below" else not below), lim


def test_still_trains_is_decided_per_setting_by_the_median():
    """Issue 20: one seed at 11.2% training error must not flip a setting that trains at about 9%."""
    runs = dead_relu.classify(setting(lr=0.03, dead=0.47, err=[0.08, 0.085, 0.112, 0.09, 0.079]))
    (s,) = dead_relu.summarise(runs)
    assert s["trains"] and s["median_train_error"] == pytest.approx(0.085)
    assert s["dead_mean"] == pytest.approx(0.47) and s["n_untrained"] == 1  # the 11.2% seed's units still count
    runs = dead_relu.classify(setting(lr=0.03, dead=0.47, err=[0.08, 0.112, 0.112, 0.2, 0.079]))
    assert not dead_relu.summarise(runs)[0]["trains"]
    # a diverged seed counts as infinite error, and has no dead share
    runs = dead_relu.classify(setting(lr=0.03, dead=0.5, err=0.05, diverged=[None, None, 7, 7, 7]))
    s = dead_relu.summarise(runs)[0]
    assert not s["trains"] and s["dead_mean"] == pytest.approx(0.5) and s["n_diverged"] == 3


def test_choose_the_deadliest_setting_that_still_trains():
    sel = selection()
    c = dead_relu.choose(sel, "relu", "adam", 0.0)
    assert (c["optimizer"], c["lr"]) == ("adam", 0.03)
    assert dead_relu.highest_trainable(sel, "relu", "sgd", 0.0)["lr"] == 0.7
    sel = selection(adam_err=0.12)  # 0.03 no longer trains: 0.01 is the deadliest that does
    assert dead_relu.choose(sel, "relu", "adam", 0.0)["lr"] == 0.01


def test_holds_on_fresh_seeds():
    sel = selection()
    v = verdict(sel)
    assert v.status == "holds", v.evidence
    assert v.key_number.value == pytest.approx(0.612) and "Adam lr 0.03" in v.key_number.label
    assert "The next rate up, 0.1, no longer trained" in v.meaning
    assert "Plain SGD is gentler" in v.meaning and "SGD lr 0.7" in v.meaning
    names = [lim.name for lim in v.limits]
    assert names == ["plain SGD", "bias 0.01", "other activations"]
    # the heading the compare page builds (name: statement) names each activation once
    assert v.limits[2].statement.startswith("leaky_relu units do not die at their own deadliest Adam rate")
    # 'still works' is the criterion, with the error at that rate and at the best rate
    assert "still trains (median training error 7.0%, within this run's 10% limit; 3.0% at the best rate" in v.meaning
    check_contract(v)
    check_sentences(v, sel)


@pytest.mark.parametrize("dead,status", [
    ((0.43, 0.44, 0.45, 0.44, 0.43), "holds"),            # just above 40%, tight
    ((0.38, 0.42, 0.45, 0.36, 0.44), "inconclusive"),     # spans 40%
    ((0.36, 0.37, 0.38, 0.37, 0.36), "does_not_hold"),    # just below
    ((0.0, 0.01, 0.0, 0.02, 0.0), "does_not_hold"),
])
def test_every_boundary_of_the_interval(dead, status):
    sel = selection()
    v = verdict(sel, confirmation(dead=dead))
    assert v.status == status, v.evidence
    check_contract(v)
    check_sentences(v, sel)


def test_inconclusive_when_the_chosen_setting_does_not_train_on_fresh_seeds():
    v = verdict(conf=confirmation(err=[0.12, 0.13, 0.05, 0.14, 0.2]))
    assert v.status == "inconclusive" and "did not train on the fresh seeds" in v.evidence
    check_contract(v)


def test_inconclusive_when_a_fresh_seed_diverges():
    v = verdict(conf=confirmation(diverged=[None, None, None, None, 33]))
    assert v.status == "inconclusive" and "1 of 5 fresh seeds diverged" in v.evidence
    check_sentences(v)


def test_inconclusive_when_the_chosen_rate_is_the_top_of_its_grid():
    sel = selection(top_err=0.05)
    sel = [dict(s, trains=True, dead_mean=0.7) if s["lr"] == 0.1 and s["optimizer"] == "adam" else s for s in sel]
    v = verdict(sel, confirmation(lr=0.1))
    assert v.status == "inconclusive" and "top of its grid" in v.evidence
    check_contract(v)
    v = verdict(selection(), confirmation(), adam_lrs=(0.03,))
    assert v.status == "inconclusive" and "top of its grid" in v.evidence


def test_the_next_rate_up_that_still_trains_is_not_called_broken():
    """Issue 20: 'larger rates broke training' was said while Adam 0.03 trained 4 of 5 seeds."""
    sel = [dict(s, trains=True, median_train_error=0.086, dead_mean=0.3)
           if s["lr"] == 0.1 and s["optimizer"] == "adam" and s["activation"] == "relu" else s for s in selection()]
    v = verdict(sel, confirmation())
    assert "no longer trained" not in v.meaning and "still trained but killed fewer units (30%)" in v.meaning
    check_sentences(v, sel)


def test_fewer_than_five_fresh_seeds_is_inconclusive():
    conf = confirmation()
    conf = [dict(s, seeds=3, dead_per_seed=s["dead_per_seed"][:3]) if s["arm"] == "headline" else s for s in conf]
    v = verdict(conf=conf, seeds=3)
    assert v.status == "inconclusive" and "at least 5" in v.evidence


def test_limits_plain_sgd_bias_and_the_other_activations():
    v = verdict()
    sgd, bias, others = v.limits
    assert sgd.status == "holds" and "SGD lr 0.7" in sgd.evidence and sgd.key_number.value == pytest.approx(0.1)
    assert bias.status == "does_not_hold" and bias.key_number.value == pytest.approx(0.55)  # 0.01 does not save them
    assert others.status == "holds" and "leaky_relu: at most 0.0% dead in any of 5 fresh seeds" in others.evidence
    v = verdict(conf=confirmation(sgd_dead=0.45, bias_dead=0.1))
    assert [lim.status for lim in v.limits][:2] == ["does_not_hold", "holds"]
    check_sentences(v)


def test_no_relu_or_no_adam_is_inconclusive():
    v = verdict(selection(), [], activations=("leaky_relu",))
    assert v.status == "inconclusive" and "did not train relu" in v.evidence
    v = verdict([], [], adam_lrs=())
    assert v.status == "inconclusive" and "adam_lrs is empty" in v.evidence


def test_per_activation_numbers_for_any_activation():
    conf = confirmation()
    (per,) = dead_relu.per_activation(conf, ("relu", "leaky_relu", "elu"), "relu")
    relu, leaky, elu = per.values
    assert relu.estimate == pytest.approx(61.2) and relu.low < 61.2 < relu.high and relu.ratio == pytest.approx(1.0)
    assert leaky.estimate == pytest.approx(0.0) and leaky.ratio is None  # a ratio needs both shares above 0
    assert elu.estimate is None and "no Adam rate" in elu.note
    assert per.unit == "%" and per.better == "lower" and per.baseline == "relu"


# --- real runs at tiny size ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_result(real_data):
    cfg = dead_relu.Config(activations=("relu", "elu"), lrs=(0.01, 50.0), adam_lrs=(0.001, 0.01), bias_inits=(0.0, 0.01),
                           steps=60, width=16, depth=2, seeds=2, select_seeds=2, train_examples=1000, test_examples=200,
                           workers=1)
    return dead_relu.run(cfg)


def test_metrics_shape_and_divergence_handling(tiny_result):
    m = tiny_result.metrics
    select = [r for r in m["runs"] if r["phase"] == "select"]
    confirm = [r for r in m["runs"] if r["phase"] == "confirm"]
    # selection: relu on both grids (2 Adam + 2 SGD rates), elu on Adam's; 2 seeds; the standard bias only
    assert len(select) == (4 + 2) * 2 and len(m["settings"]) == 6 and {r["bias_init"] for r in select} == {0.0}
    # fresh seeds: never the selection's
    assert {r["seed"] for r in select} == {0, 1} and {r["seed"] for r in confirm} <= {1000, 1001}
    assert m["design"]["confirm_seeds"] == [1000, 1001] and m["design"]["select_seeds"] == [0, 1]
    assert len(confirm) == 2 * len(m["confirmation"])
    for r in m["runs"]:
        if r["status"] == "diverged":
            assert r["dead"] is None and r["train_error"] is None  # no dead share is made up for a NaN network
        else:
            assert 0 <= r["dead"] <= 1 and len(r["dead_per_layer"]) == 2
    # lr 50 breaks every run (NaN, or every unit dead and the net at chance level): that setting does not train
    (broken,) = [s for s in m["settings"] if s["lr"] == 50.0]
    assert not broken["trains"]
    sgd_ok = [s["lr"] for s in m["settings"] if s["optimizer"] == "sgd" and s["trains"]]
    assert (m["sgd_highest_trainable"] or {}).get("lr") == max(sgd_ok, default=None)
    for s in m["settings"]:
        alive = [r for r in select if (r["activation"], r["optimizer"], r["lr"]) == (s["activation"], s["optimizer"], s["lr"])
                 and r["status"] != "diverged"]
        if alive:
            assert s["dead_mean"] == pytest.approx(sum(r["dead"] for r in alive) / len(alive))
        errs = sorted(float("inf") if r["train_error"] is None else r["train_error"] for r in select
                      if (r["activation"], r["optimizer"], r["lr"]) == (s["activation"], s["optimizer"], s["lr"]))
        assert s["trains"] == ((errs[0] + errs[1]) / 2 <= dead_relu.ERROR_LIMIT)
    assert tiny_result.verdict.status == "inconclusive"  # 2 seeds never decide
    (per,) = tiny_result.per_activation
    assert [v.activation for v in per.values] == ["relu", "elu"]


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
    conf, sel = tables[0], tables[1]
    assert conf["columns"][:5] == ["arm", "activation", "optimizer", "bias init", "learning rate"]
    assert any("training error" in c for c in conf["columns"]) and any("training error" in c for c in sel["columns"])
    assert len(sel["rows"]) == len(tiny_result.metrics["settings"])
    round_trip = Result.from_dict(json.loads(json.dumps(tiny_result.to_dict())))
    assert plots.tables(round_trip) == tables


@pytest.mark.needs_data
def test_cli_tiny_run(tmp_path):
    args = ["run", "dead-relu", "--out", str(tmp_path), "--no-progress", "--no-report", "--activations", "relu",
            "--seeds", "1", "--set", "select_seeds=1", "--set", "lrs=0.1,1", "--set", "adam_lrs=", "--set", "bias_inits=0", "--set", "steps=20",
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


def test_sgd_limit_says_why_it_is_inconclusive_first():
    conf = [dict(c, n_diverged=1, dead_per_seed=c["dead_per_seed"][:4] + [None]) if c["arm"] == "sgd" else c
            for c in confirmation()]
    (sgd, *_rest) = verdict(conf=conf).limits
    assert sgd.status == "inconclusive"
    assert sgd.evidence.startswith("1 of 5 fresh seeds diverged") and "The seeds that did not diverge" in sgd.evidence


def test_other_activations_limit_names_the_rate_checked_and_the_broken_rates():
    def killed(s):
        return dict(s, dead_mean=0.073) if (s["activation"], s["optimizer"], s["lr"]) == ("leaky_relu", "adam", 0.1) else s
    sel = [killed(s) for s in selection()]
    others = verdict(sel).limits[2]
    assert others.status == "holds" and "their own deadliest Adam rate that still trains" in others.statement
    assert "leaky_relu 7% at Adam lr 0.1" in others.evidence  # dead units where training broke, said beside the tick
    clean = verdict().limits[2]
    assert "where training broke" not in clean.evidence  # nothing dead there: nothing said
