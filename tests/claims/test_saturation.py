"""The saturation claim: monitor statistics against a plain loop, the pinned-stretch statistic,
the decision rule on constructed runs (each verdict), degenerate runs, captions/tables, CLI."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from actlab.activations import get
from actlab.claims import saturation
from actlab.cli.main import main
from actlab.plots import saturation as plots
from actlab.training.models import build_mlp
from actlab.verdicts.result import Result


def reference_stats(model: nn.Sequential, x: torch.Tensor, act_name: str) -> list[dict]:
    """Slow reference: per activation layer, mean, population std, saturated share and share below
    the lower end + 0.05, by loops."""
    act = get(act_name)
    threshold = 0.05 * act.properties.max_abs_derivative
    lower = act.properties.output_range[0]
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
            near = sum(1 for v in values if v < lower + saturation.NEAR) / n
            out.append({"mean": mean, "std": std, "saturated_fraction": sat, "near_low": near})
    return out


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "softsign"])
def test_layer_statistics_match_a_plain_loop(act):
    model = build_mlp(6, 5, 3, 2, act, seed=1)
    with torch.no_grad():
        model[2].bias += 4.0  # push one layer into saturation so the shares are not trivially 0
        model[4].bias -= 40.0  # and one to the lower end (softsign needs x < -19 to come within 0.05 of -1)
    x = 3 * torch.randn(40, 6, generator=torch.Generator().manual_seed(0))
    got = saturation.layer_statistics(model, x)
    want = reference_stats(model, x, act)
    assert len(got) == 3
    for g, w in zip(got, want):
        assert g["mean"] == pytest.approx(w["mean"], rel=1e-5, abs=1e-6)
        assert g["std"] == pytest.approx(w["std"], rel=1e-4, abs=1e-6)
        assert g["saturated_fraction"] == pytest.approx(w["saturated_fraction"], abs=1e-9)
        assert sum(g["histogram"]) == 40 * 5  # every value, not a sample
        # the share near the lower end read from the histogram's first bins (values within a
        # float32 rounding of a bin edge may fall either side: one value in 200)
        assert saturation._near_ends(g)[0] == pytest.approx(w["near_low"], abs=1 / 200 + 1e-9)
    assert max(w["near_low"] for w in want) > 0.2  # the test exercises a non-trivial share


def test_probe_steps_are_dense_early_and_cover_the_run():
    steps = saturation.probe_steps(2000, 24)
    assert steps[0] == 0 and steps[1] == 1 and steps[-1] == 2000 and steps == sorted(set(steps))
    assert len(steps) <= 26
    assert sum(s <= 200 for s in steps) >= 8  # dense early (geometric half)
    gaps = [b - a for a, b in zip(steps, steps[1:])]
    assert max(gaps) <= 2000 / 12 + 1  # and no long gap later (even half)
    assert saturation.probe_steps(1, 5) == [0, 1]


def test_pinned_stretch():
    steps = [0, 10, 100, 500, 1000]
    assert saturation.pinned_stretch(steps, [0, 0, 0.9, 1.0, 1.0], 1000) == (100, 0.9)
    # pinned, released, pinned again: the stretch that lasts to the end counts
    assert saturation.pinned_stretch(steps, [0, 0.8, 0.1, 0.6, 0.7], 1000) == (500, 0.5)
    # not pinned at the end: no stretch
    assert saturation.pinned_stretch(steps, [0, 0.9, 0.9, 0.9, 0.4], 1000) == (None, 0.0)
    # exactly half is not "more than half"
    assert saturation.pinned_stretch(steps, [0, 0, 0, 0, 0.5], 1000) == (None, 0.0)


# --- the decision rule on constructed runs -------------------------------------------------------

CONFIG = {"depth": 4, "width": 1000, "steps": 2000, "batch_size": 10, "lr": 0.1, "seeds": 5, "init": "default",
          "dataset": "mnist", "train_examples": 0, "probe_examples": 300}


def fake_run(act="sigmoid", seed=0, top_from=400, lower_for=0.0, err=0.89, min_err=None, diverged=None,
             top_mean_end=0.01, top_mean_late=0.012, near_end=None, spacing=100, total=None):
    total = total or CONFIG["steps"]
    top_for = 0.0 if top_from is None else (total - top_from) / total
    return {
        "activation": act, "seed": seed, "pinned_from": [None, None, None, top_from],
        "pinned_for": [lower_for, 0.0, 0.0, top_for], "top_mean_start": 0.5, "top_mean_end": top_mean_end,
        "top_mean_three_quarters": top_mean_late,
        "top_near_low_end": (1.0 if top_from is not None else 0.0) if near_end is None else near_end,
        "onset_after": total if top_from is None else max(0, top_from - spacing), "onset_by": top_from,
        "lower_pinned_end": lower_for > 0, "top_saturated_end": 0.9, "saturation_onset_by": top_from,
        "train_error": None if diverged else err, "min_train_error": None if diverged else (err if min_err is None else min_err),
        "test_error": None if diverged else err, "diverged_at": diverged, "chance_error": 0.887,
    }


def verdict_of(runs, **config):
    cfg = {**CONFIG, **config}
    acts = sorted({r["activation"] for r in runs})
    return saturation.decide_claim(saturation.classify_runs(runs, acts), config=cfg, steps=[0, cfg["steps"]])


def controls(n=5, err=0.1):
    return [fake_run(a, s, top_from=None, err=err, top_mean_end=0.0, top_mean_late=0.0)
            for a in ("tanh", "softsign") for s in range(n)]


def check_contract(v):
    assert v.rule is not None and v.rule.threshold == saturation.EARLY_STEPS and v.rule.holds_if == "below"
    assert f"first {saturation.EARLY_STEPS} steps" in v.rule.text  # "early" in steps, not a share of the run
    assert v.source is not None and "2.21" in v.source.value and "Glorot" in v.source.citation
    assert "whole test set" in v.source.ours and "not comparable" in v.source.differences
    assert v.key_number is not None and v.key_number.text and v.key_number.label
    n_sentences = v.meaning.count(". ") + 1
    assert 3 <= n_sentences <= 8, v.meaning
    check_sentences(v)


def check_sentences(v):
    """No generated sentence contradicts the verdict's numbers."""
    word = {"holds": "holds here", "does_not_hold": "does not hold here", "inconclusive": "no verdict"}
    assert word[v.status] in v.meaning.replace("not enough for a verdict", "no verdict")
    for other, w in word.items():
        if other != v.status:
            assert w not in v.meaning
    kn = v.key_number
    if kn.value is not None:
        assert f"{kn.value:.0f}" in kn.text or " to " in kn.text
    low_high = [int(x) for x in __import__("re").findall(r"step (\d+) to (\d+)", kn.text)[0]] if " to " in kn.text else []
    if low_high:
        assert low_high[0] < low_high[1]  # never a zero-width interval
        if v.status == "holds":
            assert low_high[1] < saturation.EARLY_STEPS
        if v.status == "does_not_hold" and "lower layer" not in v.evidence:
            assert low_high[0] > saturation.EARLY_STEPS


def test_rule_holds_when_the_top_layer_is_pinned_early_and_stays():
    runs = [fake_run(seed=s, top_from=300 + 40 * s) for s in range(5)] + controls()
    v = verdict_of(runs)
    assert v.status == "holds", v.evidence
    assert f"wholly below {saturation.EARLY_STEPS}" in v.evidence and "tanh 10%" in v.evidence
    check_contract(v)
    assert "full-scale" in v.meaning


def test_same_probe_in_every_seed_is_not_a_zero_width_interval():
    """Issue 20: five seeds landing on the same probe gave '67 to 67'; the probe spacing is the resolution."""
    runs = [fake_run(seed=s, top_from=818, spacing=151) for s in range(5)] + controls()
    v = verdict_of(runs)
    assert v.status == "holds" and "step 667 to 818" in v.key_number.text, v.key_number.text
    iv = saturation.onset_interval([r for r in saturation.classify_runs(runs, ["sigmoid"]) if r["activation"] == "sigmoid"])
    assert (iv.low, iv.high, iv.estimate) == (667, 818, 818)


def test_onset_near_the_boundary_goes_each_way():
    # onset known only between probes 950 and 1050: spans step 1000
    v = verdict_of([fake_run(seed=s, top_from=1050) for s in range(5)] + controls())
    assert v.status == "inconclusive" and "spans" in v.evidence
    check_sentences(v)
    # between 900 and 990: holds; between 1010 and 1100: does not hold (pinned, but not early)
    v = verdict_of([fake_run(seed=s, top_from=990, spacing=90) for s in range(5)] + controls())
    assert v.status == "holds"
    check_sentences(v)
    v = verdict_of([fake_run(seed=s, top_from=1100, spacing=90) for s in range(5)] + controls())
    assert v.status == "does_not_hold" and "wholly above" in v.evidence
    check_sentences(v)


def test_early_is_in_steps_not_a_share_of_the_run():
    # the same onset (step 700) holds at 2000 and at 4000 steps: "early" does not move with the run length
    for total in (2000, 4000):
        runs = [fake_run(seed=s, top_from=700, total=total) for s in range(5)] + controls()
        assert verdict_of(runs, steps=total).status == "holds"


def test_rule_does_not_hold_when_the_lower_layers_saturate_too():
    runs = [fake_run(seed=s, top_from=100, lower_for=0.9 - 0.01 * s, err=0.3) for s in range(5)] + controls()
    v = verdict_of(runs)
    assert v.status == "does_not_hold", v.evidence
    assert "lower layer was pinned at the end too" in v.evidence
    check_contract(v)


def test_rule_does_not_hold_when_the_top_layer_never_gets_there_and_has_settled():
    runs = [fake_run(seed=s, top_from=None, err=0.05, top_mean_end=0.3, top_mean_late=0.3) for s in range(5)] + controls()
    v = verdict_of(runs)
    assert v.status == "does_not_hold", v.evidence
    check_sentences(v)


def test_inconclusive_when_the_run_is_too_short():
    # never pinned, but the top layer's mean is still sliding towards 0: too short, not "does not hold"
    runs = [fake_run(seed=s, top_from=None, top_mean_end=0.2, top_mean_late=0.3) for s in range(5)] + controls()
    v = verdict_of(runs)
    assert v.status == "inconclusive" and "too short" in v.evidence and "steps=4000" in v.evidence
    # pinned early, but the run stops before it could show "stays there"
    runs = [fake_run(seed=s, top_from=300, total=1500) for s in range(5)] + controls()
    v = verdict_of(runs, steps=1500)
    assert v.status == "inconclusive" and "too short to show the layer stays" in v.evidence
    check_sentences(v)


def test_inconclusive_with_fewer_than_five_seeds():
    runs = [fake_run(seed=s) for s in range(3)] + controls(3)
    v = verdict_of(runs, seeds=3)
    assert v.status == "inconclusive" and "at least 5" in v.evidence
    check_contract(v)


def test_inconclusive_when_the_interval_spans_the_threshold():
    runs = [fake_run(seed=s, top_from=f) for s, f in enumerate((100, 1900, 200, 1800, 1000))] + controls()
    v = verdict_of(runs)
    assert v.status == "inconclusive" and "spans the threshold" in v.evidence


def test_nothing_trains_is_inconclusive_not_a_finding():
    """Issue 14, item 15: every layer pinned from step 1 and chance-level error everywhere (lr=1e23)."""
    runs = ([fake_run(seed=s, top_from=1, lower_for=1.0) for s in range(5)]
            + [fake_run(a, s, top_from=None, err=0.9, top_mean_end=0.0, top_mean_late=0.0)
               for a in ("tanh", "softsign") for s in range(5)])
    v = verdict_of(runs, lr=1e23)
    assert v.status == "inconclusive", v.evidence
    assert "never left chance level" in v.evidence and "did not train" in v.evidence
    check_contract(v)


def test_sigmoid_alone_at_chance_is_inconclusive_without_a_control():
    v = verdict_of([fake_run(seed=s) for s in range(5)])
    assert v.status == "inconclusive" and "--activations sigmoid,tanh" in v.evidence


def test_diverged_runs_are_left_out_and_named():
    runs = ([fake_run(seed=s) for s in range(5)] + [fake_run(seed=7, diverged=40)] + controls())
    v = verdict_of(runs)
    assert v.status == "holds" and "1 sigmoid run(s) diverged (seed 7)" in v.evidence
    runs = [fake_run(seed=s, diverged=10) for s in range(5)] + controls()
    v = verdict_of(runs)
    assert v.status == "inconclusive" and "diverged" in v.evidence


def test_no_sigmoid_is_inconclusive():
    v = verdict_of(controls())
    assert v.status == "inconclusive" and "did not train sigmoid" in v.evidence


def test_limits_say_whether_the_controls_are_pinned():
    v = verdict_of([fake_run(seed=s) for s in range(5)] + controls())
    assert [(lim.name, lim.status) for lim in v.limits] == [("tanh", "holds"), ("softsign", "holds")]
    pinned = [fake_run("tanh", s, top_from=500, err=0.1) for s in range(5)]
    v = verdict_of([fake_run(seed=s) for s in range(5)] + pinned)
    assert [(lim.name, lim.status) for lim in v.limits] == [("tanh", "does_not_hold")]
    assert "5 of 5 seeds" in v.limits[0].evidence


def test_per_activation_pairs_by_seed_and_censors_never_pinned():
    runs = saturation.classify_runs(
        [dict(fake_run(seed=s, top_from=400 + 100 * s), top_near_low_end=0.8 + 0.02 * s) for s in range(5)]
        + [dict(fake_run("relu", s, top_from=None, err=0.1), top_near_low_end=0.4) for s in range(5)],
        ["sigmoid", "relu"])
    share, onset = saturation.per_activation(runs, ("sigmoid", "relu"), "relu")
    sig = share.get("sigmoid")
    assert sig.estimate == pytest.approx(84.0) and sig.n == 5
    assert sig.ratio == pytest.approx(math.exp(sum(math.log((80 + 2 * s) / 40) for s in range(5)) / 5))
    assert onset.get("sigmoid").estimate == pytest.approx(math.exp(sum(math.log(400 + 100 * s) for s in range(5)) / 5))
    assert onset.get("relu").estimate is None and "5 of 5 seeds never pinned" in onset.get("relu").note


def test_per_activation_says_why_an_activation_has_no_number():
    # every elu seed diverged; relu pinned from the first probe: neither is "not measured"
    runs = saturation.classify_runs(
        [fake_run(seed=s, top_from=400) for s in range(5)]
        + [fake_run("elu", s, diverged=100) for s in range(5)]
        + [dict(fake_run("relu", s, top_from=0, err=0.1), top_near_low_end=0.8) for s in range(5)],
        ["sigmoid", "elu", "relu"])
    share, onset = saturation.per_activation(runs, ("sigmoid", "elu", "relu"), "relu")
    assert share.get("elu").estimate is None and "5 of 5 seeds diverged" in share.get("elu").note
    assert onset.get("elu").estimate is None and "5 of 5 seeds diverged" in onset.get("elu").note
    relu = onset.get("relu")
    assert relu.estimate is None and "5 of 5 seeds pinned from the first probe (step 0)" in relu.note
    assert onset.get("sigmoid").note == ""  # nothing to explain


# --- real runs at tiny size ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(real_data):
    cfg = saturation.Config(width=32, steps=60, probes=6, train_examples=1000, seeds=2, workers=1)
    return saturation.run(cfg)


def test_metrics_consistent_with_layers_and_probes(tiny):
    m = tiny.metrics
    assert m["steps"] == saturation.probe_steps(60, 6)
    assert len(m["runs"]) == 8 and {r["status"] for r in m["runs"]} <= {"trained", "stuck at chance", "diverged"}
    for act in ("sigmoid", "tanh", "softsign"):
        assert len(m["layer_mean"][act]) == len(m["steps"]) and all(len(row) == 4 for row in m["layer_mean"][act])
        assert all(0 <= v <= 1 for row in m["near_low"][act] for v in row)
        assert m["summary"][act]["seeds"] == 2
    # sigmoid outputs lie in (0, 1): their means too, and the init mean is near 1/2
    assert all(0 < v < 1 for row in m["layer_mean"]["sigmoid"] for v in row)
    assert m["layer_mean"]["sigmoid"][0][-1] == pytest.approx(0.5, abs=0.05)
    assert 0.85 < m["chance_error"] < 0.92  # MNIST: about 1 - 11.2%
    assert tiny.verdict.status == "inconclusive"  # 2 seeds (and 60 steps) never decide


def test_deterministic(tiny):
    again = saturation.run(saturation.Config(**tiny.config))
    assert json.dumps(again.to_dict()["metrics"]) == json.dumps(tiny.to_dict()["metrics"])


def test_captions_and_tables_from_the_run(tiny, tmp_path):
    paths = plots.plot(tiny, tmp_path)
    caps = plots.captions(tiny)
    assert {p.name for p in paths} == set(caps)
    for name, text in caps.items():
        assert name not in text and len(text) > 40
    for t in plots.tables(tiny):
        assert t["title"] and t["note"] and t["rows"]
        assert all(len(row) == len(t["columns"]) for row in t["rows"])
        assert any(str(c) not in ("", "-", "n/a") for row in t["rows"] for c in row)
    round_trip = Result.from_dict(json.loads(json.dumps(tiny.to_dict())))
    assert plots.captions(round_trip) == caps


@pytest.mark.needs_data
def test_absurd_learning_rate_is_inconclusive(tmp_path):
    """Issue 14, item 15, through the CLI at tiny size: lr=1e23 never leaves chance level."""
    args = ["run", "saturation", "--out", str(tmp_path), "--no-progress", "--no-report", "--no-plots",
            "--set", "width=16", "--set", "steps=40", "--set", "probes=4", "--set", "train_examples=500",
            "--set", "workers=1", "--set", "lr=1e23"]
    assert main(args) == 0
    v = json.loads((tmp_path / "saturation" / "result.json").read_text())["verdict"]
    assert v["status"] == "inconclusive", v["evidence"]
    assert "chance level" in v["evidence"] or "diverged" in v["evidence"]


@pytest.mark.needs_data
def test_cli_tiny(tmp_path):
    args = ["run", "saturation", "--out", str(tmp_path), "--no-progress", "--activations", "sigmoid,tanh",
            "--set", "width=16", "--set", "steps=20", "--set", "probes=4", "--set", "train_examples=500",
            "--set", "workers=1", "--seeds", "1"]
    assert main(args) == 0
    folder = tmp_path / "saturation"
    d = json.loads((folder / "result.json").read_text())
    assert d["experiment"] == "saturation"
    assert set(d["verdict"]) >= {"status", "evidence", "rule", "source", "meaning", "key_number"}
    assert {p.name for p in folder.glob("*.png")} == {"saturation_mean_std.png", "saturation_near_zero.png",
                                                     "saturation_histograms.png"}


@pytest.mark.parametrize("args", [["--set", "depth=0"], ["--set", "width=-1"], ["--activations", "maxout"],
                                  ["--set", "lr=0"], ["--set", "probes=1"], ["--seeds", "0"]])
def test_bad_input(tmp_path, args):
    assert main(["run", "saturation", "--quick", "--out", str(tmp_path), "--no-progress", *args]) == 2
    assert not (tmp_path / "saturation").exists()


def test_text_says_a_stuck_sigmoid_never_left_chance_and_the_paper_recovers_much_later():
    stuck = [fake_run(seed=s, top_from=300 + 40 * s, err=0.9) for s in range(5)] + controls()
    v = verdict_of(stuck)
    check_contract(v)
    assert "never left chance level (5 of 5 seeds)" in v.meaning and "much later than this run" in v.meaning
    trained = verdict_of([fake_run(seed=s, top_from=300 + 40 * s, err=0.2) for s in range(5)] + controls())
    assert "never left chance level" not in trained.meaning  # only where the numbers say so
    # the onset interval is named: over seeds, probe before to onset probe
    assert "95% interval over seeds, from the probe before each seed's onset" in v.evidence


@pytest.mark.parametrize("saturated, words", [(0.15, "It does saturate, at both ends"),
                                              (0.01, "It hardly saturates here")])
def test_tanh_limit_separates_pinned_from_saturated(saturated, words):
    tanh = [dict(fake_run("tanh", s, top_from=None, err=0.1, top_mean_end=0.0, top_mean_late=0.0),
                 top_saturated_end=saturated, top_near_low_end=saturated / 2) for s in range(5)]
    (lim,) = verdict_of([fake_run(seed=s) for s in range(5)] + tanh).limits
    assert lim.status == "holds" and "not pinned at its lower end the way sigmoid's is" in lim.statement
    assert words in lim.evidence and f"{100 * saturated:.0f}%" in lim.evidence


def test_relu_share_note_says_an_inactive_unit_is_not_saturation():
    runs = saturation.classify_runs([fake_run(seed=s) for s in range(5)]
                                    + [fake_run("relu", s, top_from=None, err=0.1) for s in range(5)],
                                    ["sigmoid", "relu"])
    share, onset = saturation.per_activation(runs, ("sigmoid", "relu"), "relu")
    assert "inactive unit, not saturation" in share.note and "not meaningful" in share.ratio_label
    assert "geometric mean" in onset.note and "wider" in onset.note
