"""The claims' report hooks (``plots/<claim>.captions``, ``tables``, ``callout``), exercised with
stub plot modules, and the generic rendering they fall back to when absent, failing or malformed."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
from test_report import parse, quick_config, sections, tiny_png, write_result

from actlab.report import build_report, scan_results
from actlab.verdicts.result import KeyNumber, Result, Verdict

FIGS = {"sign_coherence_by_layer.png": tiny_png(40, 20, (31, 119, 180)),
        "sign_coherence_layers.png": tiny_png(30, 30, (214, 39, 40))}
METRICS = {"coherence": {"sigmoid": {"1": [0.0, 1.0, 1.0]}, "tanh": {"1": [0.0, 0.0, 0.0]}},
           "unmeasured": {"a": None, "b": None}}


def _folder(tmp_path: Path) -> Path:
    result = Result("sign-coherence", quick_config("sign_coherence"), METRICS,
                    Verdict("holds", "Every neuron one-signed.", meaning="Plain words about the result, long enough.",
                            key_number=KeyNumber(1.0, "1.000", "coherence")), {"threads": 2}, 1.0)
    write_result(tmp_path, "sign-coherence", result.to_dict(), FIGS)
    return tmp_path


def _stub(monkeypatch, **hooks) -> list:
    """Replace actlab.plots.sign_coherence by a module with just ``hooks``; return the calls seen."""
    calls: list = []
    module = types.ModuleType("actlab.plots.sign_coherence")
    for name, fn in hooks.items():
        def hook(result, _fn=fn, _name=name):
            calls.append((_name, result.experiment))
            return _fn(result)
        setattr(module, name, hook)
    monkeypatch.setitem(sys.modules, "actlab.plots.sign_coherence", module)
    return calls


def _section(tmp_path):
    return sections(parse(build_report(scan_results(tmp_path))))["claim-sign-coherence"]


def test_captions_tables_and_callout_from_the_hooks(tmp_path, monkeypatch):
    calls = _stub(
        monkeypatch,
        captions=lambda r: {"sign_coherence_by_layer.png": "The sigmoid line stays at 1.0 from layer 2 on: every "
                                                           "neuron's gradient row has one sign.",
                            "gone.png": "a figure that is not in the folder"},
        tables=lambda r: [
            {"title": "Row coherence at batch 1 (share of neurons one-signed)", "columns": ["activation", "layer 1",
             "layer 2", "not measured"], "rows": [["sigmoid", 0.0, 1.0, None], ["tanh", 0.0, 0.0, None]],
             "note": "Layer 1 sees the zero-mean input."},
            {"title": "Nothing here", "columns": ["activation", "value"], "rows": [["sigmoid", None]], "note": ""}],
        callout=lambda r: {"title": "Why the histogram looks mixed", "text": "Each neuron's sign is set by its own "
                           "upstream gradient.\n\nA layer mixes neurons.", "figure": "sign_coherence_layers.png"})
    sec = _section(_folder(tmp_path))
    assert {c[0] for c in calls} == {"captions", "tables", "callout"} and all(c[1] == "sign-coherence" for c in calls)
    figs = {f.attrs["data-file"]: f for f in sec.find_all("figure")}
    by_layer = figs["sign_coherence_by_layer.png"]
    assert by_layer.attrs["data-caption"] == "claim"
    assert "The sigmoid line stays at 1.0 from layer 2 on" in by_layer.find_all("figcaption")[0].all_text()
    assert figs["sign_coherence_layers.png"].attrs["data-caption"] == "fallback"  # no caption from the hook
    # the call-out sits beside its figure
    box = sec.find_all("div", "with-callout")[0]
    assert box.find_all("figure")[0].attrs["data-file"] == "sign_coherence_layers.png"
    aside = box.find_all("aside", "callout")[0]
    assert aside.find_all("h4")[0].all_text() == "Why the histogram looks mixed" and len(aside.find_all("p")) == 2
    # labelled tables: caption, header, note; the all-empty column left out and named; the empty table a line
    tables = sec.find_all("table", "labelled")
    assert len(tables) == 1
    assert tables[0].find_all("caption")[0].all_text().startswith("Row coherence at batch 1")
    assert [th.all_text() for th in tables[0].find_all("th")] == ["activation", "layer 1", "layer 2"]
    text = sec.all_text()
    assert "Layer 1 sees the zero-mean input." in text and "left out: not measured" in text
    assert "Nothing here" in text and "nothing measured in this run" in text
    # the generic metrics stay available, folded
    assert sec.find_all("details", "all-metrics")


@pytest.mark.parametrize("how", ["absent", "raising", "malformed"])
def test_hooks_absent_failing_or_malformed_fall_back(tmp_path, monkeypatch, how):
    def boom(result):
        raise KeyError("data")

    hooks = {"absent": {}, "raising": {"captions": boom, "tables": boom, "callout": boom},
             "malformed": {"captions": lambda r: ["not", "a", "dict"], "tables": lambda r: [{"title": "t"}],
                           "callout": lambda r: {"title": 3}}}[how]
    _stub(monkeypatch, **hooks)
    sec = _section(_folder(tmp_path))
    figs = sec.find_all("figure")
    assert len(figs) == 2 and all(f.attrs["data-caption"] == "fallback" for f in figs)
    for f in figs:
        caption = f.find_all("figcaption")[0].all_text()
        assert f.attrs["data-file"] not in caption and len(caption.split()) >= 6
    assert not sec.find_all("aside", "callout") and not sec.find_all("table", "labelled")
    grid = sec.find_all("table", "grid")[0]  # the generic rendering, labelled
    assert [th.all_text() for th in grid.find_all("thead")[0].find_all("th")][0] == "activation"
    assert "unmeasured" in sec.all_text() and "not measured in this run" in sec.all_text()


def test_a_rule_with_too_few_seeds_says_so(tmp_path):
    from actlab.verdicts.result import Rule

    verdict = Verdict("inconclusive", "Two seeds.", rule=Rule("speed-up", 1.0, "above", seeds=2, min_seeds=5))
    write_result(tmp_path, "zigzag", Result("zigzag", {"seed": 0}, {"a": 1}, verdict, {}, 0.1).to_dict())
    rule = sections(parse(build_report(scan_results(tmp_path))))["claim-zigzag"].find_all("p", "rule")[0].all_text()
    assert "With 2 seeds, fewer than the 5 a firm verdict needs" in rule and "--seeds" in rule


def test_callout_without_its_figure_still_shows(tmp_path, monkeypatch):
    _stub(monkeypatch, callout=lambda r: {"title": "Seed question", "text": "Answer.", "figure": "missing.png"})
    sec = _section(_folder(tmp_path))
    assert sec.find_all("aside", "callout")[0].all_text().startswith("Seed question")
    assert not sec.find_all("div", "with-callout")


def test_callout_only_for_sign_coherence(tmp_path, monkeypatch):
    module = types.ModuleType("actlab.plots.zigzag")
    module.callout = lambda r: {"title": "Not here", "text": "x", "figure": ""}
    monkeypatch.setitem(sys.modules, "actlab.plots.zigzag", module)
    write_result(tmp_path, "zigzag", Result("zigzag", {"seed": 0}, {"a": 1}, Verdict("holds", "ok."), {}, 0.1).to_dict())
    sec = sections(parse(build_report(scan_results(tmp_path))))["claim-zigzag"]
    assert not sec.find_all("aside", "callout")
