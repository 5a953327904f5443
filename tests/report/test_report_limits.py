"""A verdict's limits beside its headline, and a result's per-activation numbers, in every output:
result.json, the page (summary and section), the README's Markdown and the summary picture."""

from __future__ import annotations

import json

import pytest
from test_report import parse, quick_config, sections, write_result

from actlab.report import build_report, render_markdown, scan_results
from actlab.verdicts.result import (
    ActivationNumber,
    KeyNumber,
    Limit,
    PerActivation,
    Result,
    ResultFileError,
    Rule,
    Verdict,
    load_result,
    to_jsonable,
)

LIMIT = Limit(name="large weights", statement="saturation alone does not make the gradient vanish",
              status="holds", evidence="At 12x the LeCun scale each layer passes back 1.06x (1.01-1.10).",
              rule=Rule(statistic="gain per layer at s=12", threshold=1.0, holds_if="above", seeds=5),
              key_number=KeyNumber(1.06, "1.06x per layer", "sigmoid's gain at s=12"))
PER = PerActivation(key="gain_per_layer", quantity="backward gain per layer", unit="x per layer", better="higher",
                    baseline="relu", ratio_label="gain / relu's",
                    values=[ActivationNumber("relu", 0.71, 0.70, 0.72, 5, 1.0, 1.0, 1.0),
                            ActivationNumber("sigmoid", 0.14, 0.139, 0.141, 5, 0.197, 0.19, 0.2),
                            ActivationNumber("gelu", 0.93, 0.9, 0.96, 5, 1.31, 1.27, 1.35, note="one seed censored")])


def _result() -> Result:
    verdict = Verdict("holds", "The gradient shrinks by 0.14-0.32x per layer at the standard inits.",
                      rule=Rule(statistic="gain per layer at the standard inits", threshold=1.0, holds_if="below",
                                seeds=5),
                      key_number=KeyNumber(0.24, "0.14-0.32x per layer", "sigmoid's gain at the standard inits"),
                      limits=(LIMIT,))
    return Result("vanishing", quick_config("vanishing"), {"depth": 20}, verdict, {"device": "cpu"}, 1.0,
                  per_activation=(PER,))


def test_limits_and_per_activation_round_trip_through_result_json(tmp_path):
    folder = write_result(tmp_path, "vanishing", _result().to_dict())
    back = load_result(folder)
    assert back.verdict.limits == (LIMIT,)
    assert back.per_activation[0].get("gelu").note == "one seed censored"
    assert back.per_activation[0].get("sigmoid").ratio == pytest.approx(0.197)
    raw = json.loads((folder / "result.json").read_text())
    assert raw["verdict"]["limits"][0]["status"] == "holds" and raw["per_activation"][0]["baseline"] == "relu"


def test_a_malformed_limit_is_an_unreadable_result(tmp_path):
    d = to_jsonable(_result().to_dict())
    d["verdict"]["limits"] = [{"name": "x", "statement": "y", "status": "maybe", "evidence": "z"}]
    folder = write_result(tmp_path, "vanishing", d)
    with pytest.raises(ResultFileError, match="limit status must be one of"):
        load_result(folder)


def test_the_page_shows_the_limit_beside_the_headline_and_never_in_its_place(tmp_path):
    write_result(tmp_path, "vanishing", _result().to_dict())
    doc = parse(build_report(scan_results(tmp_path)))
    row = next(tr for tr in doc.find_all("tr", "holds"))
    text = row.all_text()
    assert "holds" in text and "1.06x per layer" in text
    assert ("limit found: large weights \u2014 tested: saturation alone does not make the gradient vanish "
            "(measured: 1.06x per layer)") in text
    section = sections(doc)["claim-vanishing"]
    block = section.find_all("div", "limits-block")
    assert len(block) == 1 and "saturation alone does not make the gradient vanish" in block[0].all_text()
    # a limit never carries the headline's tick or cross, nor its colours
    assert "\u2713" not in block[0].all_text() and "\u2717" not in block[0].all_text()
    assert not block[0].find_all("span", "badge")
    badge = section.find_all("span", "badge")[0]
    assert "holds" in badge.all_text()  # the headline word is the verdict's, not the limit's


def test_per_activation_table_marks_the_best_and_shows_intervals(tmp_path):
    write_result(tmp_path, "vanishing", _result().to_dict())
    text = parse(build_report(scan_results(tmp_path))).all_text()
    assert "Per activation: backward gain per layer" in text
    assert "gelu \u2605" in text and "relu (baseline)" in text and "sigmoid \u2605" not in text
    assert "0.14 (0.139\u20130.141)" in text and "one seed censored" in text


def test_the_count_column_names_what_the_interval_is_over():
    # sign-coherence's intervals are over trials and cost's over processes: never headed "seeds"
    from actlab.claims.sign_coherence import Config, per_activation
    from actlab.report.limits import per_activation_tables

    config = Config(trials=5, batches=(1, 64))
    trial = {name: {"64": [0.5 + 0.01 * i for i in range(5)]} for name in config.activations}
    result = Result("sign-coherence", {}, {}, Verdict("holds", "x"), {}, 1.0,
                    per_activation=per_activation(config, {"weighted_coherence_per_trial": trial}))
    table = per_activation_tables(result)[0]
    assert "trials" in table["columns"] and "seeds" not in table["columns"], table["columns"]
    assert per_activation_tables(_result())[0]["columns"][3] == "seeds"  # the default
    back = Result.from_dict(to_jsonable(result.to_dict()))
    assert back.per_activation[0].replicates == "trials"


def test_markdown_names_the_limit_in_the_summary_row(tmp_path):
    write_result(tmp_path, "vanishing", _result().to_dict())
    md = render_markdown(tmp_path)
    row = next(line for line in md.splitlines() if line.startswith("| 3 | vanishing"))
    assert "\u2713 holds" in row  # the headline's word
    assert "limit found: large weights \u2014 tested: saturation alone does not make the gradient vanish (measured: 1.06x per layer)" in row
    assert row.count("\u2713") == 1 and "limit:" not in row
    assert "Limits: limit found: large weights" in md
    # what the words mean, once, between the counts and the table (a reader took "limit not
    # found" for missing data, and the tested statement for its outcome)
    lines = md.splitlines()
    (legend,) = [i for i, line in enumerate(lines) if "\"limit not found\": it did not" in line]
    assert lines[legend - 2].startswith("**") and lines[legend + 2].startswith("| # |")


def test_markdown_without_limits_has_no_legend_for_them(tmp_path):
    result = _result().to_dict()
    result["verdict"]["limits"] = []
    write_result(tmp_path, "vanishing", result)
    assert "limit not found" not in render_markdown(tmp_path)


@pytest.mark.parametrize("status,word", [("holds", "limit found"), ("does_not_hold", "limit not found"),
                                         ("inconclusive", "limit not settled")])
def test_a_limit_reads_as_a_finding_whatever_its_word(status, word):
    from dataclasses import replace

    from actlab.report.limits import limit_phrase, limits_html, limits_inline_html

    lim = replace(LIMIT, status=status)
    phrase = limit_phrase(lim)
    assert phrase.startswith(f"{word}: large weights \u2014 tested: saturation alone")
    assert not any(mark in phrase for mark in ("\u2713", "\u2717", "?"))
    verdict = Verdict("holds", "x", limits=(lim,))
    for html in (limits_html(verdict), limits_inline_html(verdict)):
        assert word in html and "\u2713" not in html and "\u2717" not in html
        assert f'class="limit {status}"' not in html  # one neutral style, not the verdict colours


def _per(values, better="lower", unit="steps"):
    return PerActivation(key="k", quantity="steps to target", unit=unit, better=better, baseline="relu",
                         values=tuple(values))


@pytest.mark.parametrize("values,better,best", [
    # clear: relu's interval is clear of every other's
    ([ActivationNumber("relu", 100, 90, 110, 5), ActivationNumber("tanh", 200, 180, 220, 5)], "lower", "relu"),
    # a tie at the best estimate (all 0): no winner
    ([ActivationNumber("relu", 0, 0, 0, 5), ActivationNumber("tanh", 0, 0, 0, 5),
      ActivationNumber("elu", 3, 2, 4, 5)], "lower", None),
    # a single value: nothing to beat
    ([ActivationNumber("sigmoid", 0.45, 0.4, 0.5, 5)], "lower", None),
    # overlapping intervals: no clear winner
    ([ActivationNumber("relu", 100, 80, 130, 5), ActivationNumber("tanh", 120, 100, 150, 5)], "lower", None),
    # "neither": never
    ([ActivationNumber("relu", 1, 0.9, 1.1, 5), ActivationNumber("tanh", 3, 2.9, 3.1, 5)], "neither", None),
    # an activation measured without an estimate (never pinned: censored) cannot be ranked
    ([ActivationNumber("gelu", 900, 700, 1100, 5), ActivationNumber("relu", 10, 5, 15, 5),
      ActivationNumber("tanh", None, n=5, note="5 of 5 seeds never pinned by the end")], "higher", None),
])
def test_the_star_marks_only_a_clear_best(values, better, best):
    from actlab.report.limits import best_activation, per_activation_tables

    per = _per(values, better)
    assert best_activation(per) == best
    result = Result("zigzag", {}, {}, Verdict("holds", "x"), {}, 1.0, per_activation=(per,))
    table = per_activation_tables(result)[0]
    starred = [r[0].split(" ")[0] for r in table["rows"] if "\u2605" in r[0]]
    assert starred == ([best] if best else [])
    if best:
        assert "\u2605 marks the clear best" in table["note"]
    else:
        assert "\u2605 marks" not in table["note"]
        if better != "neither":
            assert "no clear best" in table["note"]


def test_a_measured_activation_without_an_estimate_says_why_not_a_dash():
    from actlab.report.limits import per_activation_tables

    per = _per([ActivationNumber("relu", 100, 90, 110, 4),
                ActivationNumber("sigmoid", None, n=4, note="4 of 4 seeds never reached the target (censored at 500 "
                                                            "steps); 1 diverged, left out"),
                ActivationNumber("elu", None, n=5)])
    table = per_activation_tables(Result("zigzag", {}, {}, Verdict("holds", "x"), {}, 1.0, per_activation=(per,)))[0]
    rows = {r[0].split(" ")[0]: r for r in table["rows"]}
    assert rows["sigmoid"][1] == "no estimate: 4 of 4 seeds never reached the target (censored at 500 steps)"
    assert rows["sigmoid"][-1] == "1 diverged, left out"
    assert rows["elu"][1] == "no estimate (the claim gave no reason)"
    assert not any(r[1] in ("\u2013", "n/a", "not measured") for r in table["rows"])


def test_step_counts_show_their_grid_and_never_a_zero_width_interval():
    from actlab.report.limits import per_activation_tables

    per = _per([ActivationNumber("relu", 108, 86.6, 136, 5), ActivationNumber("elu", 100, 100, 100, 5)])
    result = Result("zigzag", {"eval_every": 50}, {}, Verdict("holds", "x"), {}, 1.0, per_activation=(per,))
    table = per_activation_tables(result)[0]
    assert table["columns"][1] == "steps to target (steps, read every 50)"
    elu = next(r for r in table["rows"] if r[0].startswith("elu"))
    assert elu[1] == "100 (all seeds at 100; read every 50 steps)"
    assert "100\u2013100" not in elu[1] and "read every 50 steps" in table["note"]


@pytest.mark.parametrize("field,value", [("status", "maybe"), ("name", " ")])
def test_limit_checks_its_fields(field, value):
    kwargs = {"name": "n", "statement": "s", "status": "holds", "evidence": "e", field: value}
    with pytest.raises(ValueError):
        Limit(**kwargs)


def test_per_activation_refuses_an_unknown_direction():
    with pytest.raises(ValueError, match="better"):
        PerActivation("k", "q", "u", "faster", "relu", ())
