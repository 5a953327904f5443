"""The scorecard from constructed claim results (the per-activation contract), and the rule of
thumb's verdicts from it, checked against numbers computed here by hand (scipy's t quantile)."""

from __future__ import annotations

import math

import pytest
from scipy import stats as sps

from actlab.compare import build_scorecard, check_rule_of_thumb
from actlab.compare.rules import RULES
from actlab.compare.scorecard import NOT_MEASURED
from actlab.compare.table import render_scorecard_markdown
from actlab.verdicts.result import PerActivation, Result, Verdict
from actlab.verdicts.stats import activation_number

ACTS = ["sigmoid", "tanh", "relu", "gelu"]


def _result(name: str, per: tuple[PerActivation, ...] = ()) -> Result:
    return Result(experiment=name, config={}, metrics={}, verdict=Verdict("holds", "constructed"), env={},
                  elapsed_s=1.0, per_activation=per)


def _steps(factors: dict[str, float], seeds: int = 5, spread: float = 0.05) -> PerActivation:
    """Steps per seed: relu 100 * (1 + spread * k), others factor x relu's with their own wobble."""
    relu = [100.0 * (1 + spread * k) for k in range(seeds)]
    values = []
    for act, f in factors.items():
        per = [r * f * (1 + spread * ((3 * k) % seeds - seeds / 2) / seeds) for k, r in enumerate(relu)]
        values.append(activation_number(act, per, relu))
    return PerActivation("steps_to_target", "steps to 15% training error", "steps", "lower", "relu", tuple(values),
                         ratio_label="steps / relu's, paired by seed")


def _log_t(values):
    logs = [math.log(v) for v in values]
    n = len(logs)
    m = sum(logs) / n
    s = math.sqrt(sum((x - m) ** 2 for x in logs) / (n - 1))
    h = sps.t.ppf(0.975, n - 1) * s / math.sqrt(n)
    return math.exp(m), math.exp(m - h), math.exp(m + h)


def test_cells_are_the_claims_numbers_and_missing_ones_say_so():
    relu = [100.0, 110.0, 95.0, 105.0, 98.0]
    tanh = [180.0, 200.0, 170.0, 210.0, 190.0]
    steps = PerActivation("steps_to_target", "steps to 15% error", "steps", "lower", "relu",
                          (activation_number("relu", relu, relu), activation_number("tanh", tanh, relu)))
    cost = PerActivation("forward_ratio", "forward time / relu's", "x", "lower", "relu",
                         (activation_number("tanh", [1.5] * 5, [1.0] * 5),))
    card = build_scorecard({"convergence": _result("convergence", (steps,)), "cost": _result("cost", (cost,)),
                            "zigzag": _result("zigzag"), "saturation": None}, ["relu", "tanh", "gelu"], "relu",
                           refused={"cost": {"gelu": "cost takes no such op"}})
    assert [r["activation"] for r in card["rows"]] == ["relu", "tanh", "gelu"]
    assert [c["id"] for c in card["columns"]] == ["convergence/steps_to_target", "cost/forward_ratio"]
    tanh_cell = card["rows"][1]["cells"]["convergence/steps_to_target"]
    est, low, high = _log_t(tanh)
    assert tanh_cell["measured"] and tanh_cell["n"] == 5
    assert tanh_cell["estimate"] == pytest.approx(est, rel=1e-12)
    assert (tanh_cell["low"], tanh_cell["high"]) == (pytest.approx(low, rel=1e-12), pytest.approx(high, rel=1e-12))
    r, rl, rh = _log_t([t / b for t, b in zip(tanh, relu)])
    assert (tanh_cell["ratio"], tanh_cell["ratio_low"], tanh_cell["ratio_high"]) == (
        pytest.approx(r), pytest.approx(rl), pytest.approx(rh))
    # lower is better: relu has the smaller estimate in steps; gelu was not measured at all
    assert card["columns"][0]["best"] == "relu"
    gelu = card["rows"][2]["cells"]
    assert not gelu["convergence/steps_to_target"]["measured"]
    assert gelu["convergence/steps_to_target"]["note"].startswith(NOT_MEASURED)
    assert gelu["cost/forward_ratio"]["note"] == f"{NOT_MEASURED}: cost takes no such op"
    assert card["claims"]["zigzag"]["status"] == "no_per_activation"
    assert card["claims"]["saturation"]["status"] == "not_run"
    md = render_scorecard_markdown(card)
    assert "| activation | convergence: steps to target (steps; lower is better) |" in md
    assert "convergence: steps to target: steps to 15% error" in md  # the full quantity, under the table
    assert "zigzag: gave no per-activation numbers (not measured by this claim)" in md
    assert "gelu not measured by cost: cost takes no such op" in md


def _card(steps: PerActivation, baseline: str = "relu", gain: PerActivation | None = None):
    results = {"convergence": _result("convergence", (steps,))}
    if gain is not None:
        results["vanishing"] = _result("vanishing", (gain,))
    card = build_scorecard(results, [v.activation for v in steps.values], baseline)
    return {line["sentence"]: line for line in check_rule_of_thumb(card)}


def test_rule_of_thumb_words_follow_the_intervals():
    steps = _steps({"sigmoid": 3.0, "tanh": 1.02, "relu": 1.0, "gelu": 0.8, "silu": 0.95})
    gain = PerActivation("gain_per_layer", "backward gain per layer", "x per layer", "neither", "relu",
                         (activation_number("sigmoid", [0.24, 0.25, 0.23, 0.24, 0.26], [1.0, 1.01, 0.99, 1.0, 1.02]),
                          activation_number("relu", [1.0, 1.01, 0.99, 1.0, 1.02], [1.0, 1.01, 0.99, 1.0, 1.02])))
    lines = _card(steps, gain=gain)
    assert len(lines) == len(RULES) == 6
    sigmoid = lines["Never use sigmoid."]
    assert sigmoid["status"] == "holds", sigmoid["evidence"]
    assert "Slowest to the target (or never reached it) in 1 of the 1 network(s)" in sigmoid["evidence"]
    assert sigmoid["rule"]["threshold"] == 1.5 and sigmoid["rule"]["min_seeds"] == 5
    assert sigmoid["limits"][0]["status"] == "holds"  # gain 0.24x of relu's: below 1
    # tanh at 1.02x relu with a 5% wobble: the interval spans 1, so no word either way
    tanh = lines["Try out tanh but don't expect much."]
    assert tanh["status"] == "inconclusive" and "spans the threshold 1" in tanh["evidence"]
    # Use ReLU needs sigmoid AND tanh slower: tanh undecided -> inconclusive
    assert lines["Use ReLU."]["status"] == "inconclusive"
    assert lines["Use ReLU."]["limits"][0]["status"] == "holds"  # gelu is faster than relu here
    assert lines["GELU/SiLU train at least as fast as ReLU."]["status"] == "holds"
    # nothing measured dead units, nor leaky_relu / maxout / elu: inconclusive with the reason
    assert "no claim measured the dead units" in lines["Be careful with your learning rates."]["evidence"]
    assert "none of leaky_relu, maxout, elu" in lines["Try out Leaky ReLU / Maxout / ELU."]["evidence"]


def test_rule_of_thumb_reversed_numbers_do_not_hold():
    steps = _steps({"sigmoid": 0.7, "tanh": 0.6, "relu": 1.0, "gelu": 1.6, "silu": 1.5})
    lines = _card(steps)
    assert lines["Never use sigmoid."]["status"] == "does_not_hold"
    assert lines["Use ReLU."]["status"] == "does_not_hold"
    assert lines["GELU/SiLU train at least as fast as ReLU."]["status"] == "does_not_hold"


def test_too_few_seeds_or_another_baseline_is_inconclusive():
    lines = _card(_steps({"sigmoid": 3.0, "relu": 1.0}, seeds=3))
    assert lines["Never use sigmoid."]["status"] == "inconclusive"
    assert "a verdict needs at least 5" in lines["Never use sigmoid."]["evidence"]
    lines = _card(_steps({"sigmoid": 3.0, "relu": 1.0}), baseline="tanh")
    assert lines["Never use sigmoid."]["status"] == "inconclusive"
    assert "--baseline relu" in lines["Never use sigmoid."]["evidence"]


def test_dead_share_rule_reads_percent_and_fractions():
    dead = [40.0, 45.0, 42.0, 38.0, 44.0]
    for unit, scale in (("%", 1.0), ("fraction", 0.01)):
        per = PerActivation("dead_share", "dead units at the deadliest rate that trains", unit, "lower", "relu",
                            (activation_number("relu", [d * scale for d in dead], positive=True),))
        card = build_scorecard({"dead-relu": _result("dead-relu", (per,))}, ["relu"], "relu")
        line = next(x for x in check_rule_of_thumb(card) if x["sentence"].startswith("Be careful"))
        assert line["status"] == "holds", (unit, line["evidence"])


def test_a_measured_activation_without_an_estimate_is_not_reported_as_not_measured():
    from actlab.compare.scorecard import cell_text
    from actlab.verdicts.result import ActivationNumber

    relu = [100.0, 110.0, 95.0, 105.0, 98.0]
    steps = PerActivation("steps_to_target", "steps to 15% error", "steps", "lower", "relu",
                          (activation_number("relu", relu, relu),
                           activation_number("tanh", [r * 0.7 for r in relu], relu),
                           ActivationNumber("sigmoid", None, n=4, note="4 of 4 seeds never reached the target "
                                                                       "(censored at 500 steps); 1 diverged, left out")))
    zig = _steps({"sigmoid": 3.0, "tanh": 1.5, "relu": 1.0})
    card = build_scorecard({"convergence": _result("convergence", (steps,)), "zigzag": _result("zigzag", (zig,))},
                           ["sigmoid", "tanh", "relu", "gelu"], "relu")
    cell = card["rows"][0]["cells"]["convergence/steps_to_target"]
    assert not cell["measured"] and cell["ran"]
    assert cell_text(cell) == "4 of 4 seeds never reached the target (censored at 500 steps)"
    assert cell_text(card["rows"][3]["cells"]["convergence/steps_to_target"]) == "not measured"
    # an old scorecard.json without "ran": the note tells which it is
    assert cell_text({"measured": False, "note": "5 of 5 seeds never pinned by the end (censored, left out)"}) == \
        "5 of 5 seeds never pinned by the end (censored, left out)"
    md = render_scorecard_markdown(card)
    row = next(line for line in md.splitlines() if line.startswith("| sigmoid"))
    assert "never reached the target" in row and "not measured" not in row
    # the column has an unranked activation: no star
    assert card["columns"][0]["best"] is None and "sigmoid" in card["columns"][0]["best_note"]
    lines = {x["sentence"]: x for x in check_rule_of_thumb(card)}
    sigmoid = lines["Never use sigmoid."]
    # the network where sigmoid never reached the target counts, as the slowest
    assert "in 2 of the 2 network(s) read here" in sigmoid["evidence"], sigmoid["evidence"]
    assert "Measured, no estimate: sigmoid in convergence: 4 of 4 seeds never reached" in sigmoid["evidence"]
    assert "Not measured: sigmoid" not in sigmoid["evidence"]


def test_rule_lines_say_what_was_tested_and_the_threshold_beside_each_word():
    steps = _steps({"sigmoid": 3.0, "tanh": 1.02, "relu": 1.0, "leaky_relu": 1.0, "elu": 0.9, "gelu": 0.8,
                    "silu": 0.95})
    card = build_scorecard({"convergence": _result("convergence", (steps,))},
                           [v.activation for v in steps.values], "relu")
    lines = check_rule_of_thumb(card)
    for line in lines:
        assert line["why"].startswith("Tested: ") and line["why"].endswith("?"), line["why"]
    by = {x["sentence"]: x for x in lines}
    assert "(inconclusive against 1x)" in by["Try out tanh but don't expect much."]["evidence"]
    assert "against 1.25x)" in by["Try out Leaky ReLU / Maxout / ELU."]["evidence"]
    assert by["GELU/SiLU train at least as fast as ReLU."]["group"] == "today"
    assert all(x["group"] == "cs231n" for x in lines if not x["sentence"].startswith("GELU"))
    card["rule_of_thumb"] = lines
    md = render_scorecard_markdown(card)
    cs231n, today = md.index("The rule of thumb (CS231n)"), md.index("Today's practice")
    assert cs231n < md.index("Never use sigmoid") < today < md.index("GELU/SiLU train")
    assert ".." not in md.replace("...", "")


def test_zero_width_intervals_on_a_step_grid_say_so():
    from actlab.compare.rules import refresh_scorecard
    from actlab.compare.scorecard import cell_text
    from actlab.verdicts.result import ActivationNumber

    per = PerActivation("steps_to_target", "SGD steps to 65% training error", "steps", "lower", "relu",
                        (ActivationNumber("relu", 108, 86.6, 136, 5, 1.0, 1.0, 1.0),
                         ActivationNumber("elu", 100, 100, 100, 5, 0.92, 0.74, 1.15),
                         ActivationNumber("leaky_relu", 108, 86.6, 136, 5, 1.0, 1.0, 1.0)))
    card = build_scorecard({"zigzag": _result("zigzag", (per,))}, ["relu", "elu", "leaky_relu"], "relu",
                           claim_info={"zigzag": {"config": {"eval_every": 50}}})
    col = card["columns"][0]
    assert col["resolution"] == 50
    assert cell_text(card["rows"][1]["cells"][col["id"]], resolution=50) == "100 (all seeds at 100; read every 50 steps)"
    md = render_scorecard_markdown(refresh_scorecard(card))
    assert "zigzag: steps to target (steps, read every 50; lower is better)" in md
    assert "100-100" not in md and "(1-1)" not in md
    assert "leaky_relu in zigzag: 1x (all seeds at 1x; read every 50 steps)" in md


def test_equal_seeds_whose_mean_differs_in_the_last_digits_are_not_a_zero_width_range():
    # five saturation seeds all pinned by probe 667: the geometric mean and its log-t interval come
    # back as 666.9999999999992 (666.9999999999986-666.9999999999998), which printed "667 (667-667)"
    from actlab.compare.scorecard import interval_text, zero_width

    assert zero_width(666.9999999999986, 666.9999999999998) and not zero_width(666.0, 668.0)
    assert not zero_width(None, 1.0)  # the figure asks this of cells without an interval too
    assert interval_text(666.9999999999992, 666.9999999999986, 666.9999999999998) == "667 (all seeds at 667)"
    assert interval_text(667.0, 666.0, 668.0) == "667 (666-668)"  # a real, narrow interval stays a range


def test_the_scorecard_figure_shows_whole_headers_and_marks_a_cut_note(tmp_path, monkeypatch):
    """A column header is never cut (the vanishing column's runs to 8 lines); a cell note
    too long for its box ends in an ellipsis rather than stopping mid-sentence."""
    import matplotlib.pyplot as plt

    from actlab.plots import scorecard as fig

    long_quantity = ("backward gain per layer at the standard inits (default, xavier, he, lecun; "
                     "||dL/dz_l|| / ||dL/dz_l+1||, geometric mean over hidden layers and inits)")
    note = "5 of 5 seeds pinned from the first probe (step 0): an onset at the start has no positive step to average"
    card = {"baseline": "relu", "columns": [
        {"id": "a", "claim": "vanishing", "quantity": long_quantity, "unit": "x per layer", "better": "higher"}],
        "rows": [{"activation": "relu", "cells": {"a": {"measured": True, "estimate": 0.7, "low": 0.6, "high": 0.8}}},
                 {"activation": "tanh", "cells": {"a": {"measured": True, "estimate": None}}}]}
    monkeypatch.setattr(fig, "cell_short_note", lambda cell: note)
    texts: list[str] = []
    monkeypatch.setattr(fig, "save_figure", lambda f, path: texts.extend(
        t.get_text() for ax in f.axes for t in ax.texts) or path)
    fig.plot_scorecard(card, tmp_path)
    plt.close("all")
    shown = " ".join(" ".join(t.split()) for t in texts)
    assert " ".join(f"vanishing: {long_quantity}".split()) in shown  # whole, in order
    (cut,) = [t for t in texts if t.startswith("5 of 5 seeds pinned")]
    assert cut.endswith("\u2026") and len(cut.splitlines()) == 3
    assert fig._clipped_lines("short note", 27, 3) == ["short note"]
