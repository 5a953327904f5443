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
    assert "holds" in text and "limit: large weights" in text and "1.06x per layer" in text
    section = sections(doc)["claim-vanishing"]
    block = section.find_all("div", "limits-block")
    assert len(block) == 1 and "saturation alone does not make the gradient vanish" in block[0].all_text()
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
    assert "\u2713 holds" in row and "limit: large weights" in row and "\u2713 holds (1.06x per layer)" in row
    assert "Limits: limit: large weights" in md


@pytest.mark.parametrize("field,value", [("status", "maybe"), ("name", " ")])
def test_limit_checks_its_fields(field, value):
    kwargs = {"name": "n", "statement": "s", "status": "holds", "evidence": "e", field: value}
    with pytest.raises(ValueError):
        Limit(**kwargs)


def test_per_activation_refuses_an_unknown_direction():
    with pytest.raises(ValueError, match="better"):
        PerActivation("k", "q", "u", "faster", "relu", ())
