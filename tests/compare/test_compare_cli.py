"""``actlab compare`` end to end at tiny settings: the scorecard's rows, columns and intervals
against the per-claim results it wrote, reuse and resume, refused activations, the report's
scorecard section, the README block, and one-line errors.

A fake claim (``compare_fake_claim.py``, instant, with per-activation numbers) runs beside a
real one (sign-coherence, quick: well under a second)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from actlab.cli import main
from actlab.verdicts.result import load_result
from conftest import REAL

sys.path.insert(0, str(Path(__file__).parent))
import compare_fake_claim as fake  # noqa: E402


def _compare(out: Path, acts: str = "relu,tanh,gelu", *extra: str) -> int:
    return main(["compare", acts, "--quick", "--out", str(out), "--no-progress", "--no-plots", *extra])


def test_scorecard_matches_the_claim_results(with_fake, tmp_path, capsys):
    out = tmp_path / "res"
    assert _compare(out) == 0
    card = json.loads((out / "compare" / "scorecard.json").read_text())
    assert card["activations"] == ["relu", "tanh", "gelu"] and card["baseline"] == "relu"
    assert [r["activation"] for r in card["rows"]] == ["relu", "tanh", "gelu"]
    # every per-activation number of every claim result in DIR is a column, its cells copied exactly
    expected_cols = []
    for name in (fake.NAME, REAL):
        result = load_result(out / name / "result.json")
        assert card["claims"][name]["config"] == json.loads(json.dumps(result.config))
        assert card["claims"][name]["status"] == ("measured" if result.per_activation else "no_per_activation")
        for per in result.per_activation:
            cid = f"{name}/{per.key}"
            expected_cols.append(cid)
            col = next(c for c in card["columns"] if c["id"] == cid)
            assert (col["unit"], col["better"], col["baseline"]) == (per.unit, per.better, per.baseline)
            for row in card["rows"]:
                number = per.get(row["activation"])
                cell = row["cells"][cid]
                if number is None:
                    assert not cell["measured"] and "not measured by this claim" in cell["note"]
                    continue
                for k in ("estimate", "low", "high", "n", "ratio", "ratio_low", "ratio_high"):
                    assert cell[k] == getattr(number, k), (cid, row["activation"], k)
    assert [c["id"] for c in card["columns"]] == expected_cols
    assert f"{fake.NAME}/steps_to_target" in expected_cols
    # the fake's numbers, independently: gelu (90) has the lowest steps, but its interval overlaps
    # relu's (100, the same 0-40% spread over 5 seeds): no clear best, so no star
    col = next(c for c in card["columns"] if c["id"] == f"{fake.NAME}/steps_to_target")
    assert col["best"] is None and "overlaps" in col["best_note"]
    tanh = next(r for r in card["rows"] if r["activation"] == "tanh")["cells"][col["id"]]
    assert tanh["n"] == 5 and tanh["low"] < tanh["estimate"] < tanh["high"]
    assert len(card["rule_of_thumb"]) == 6 and all("rule" in x for x in card["rule_of_thumb"])
    # the table, the figure, and the section at the top of the report
    assert (out / "compare" / "scorecard.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "compare" / "scorecard.md").read_text()
    assert "| activation |" in md and "\u2605" in md and "Never use sigmoid." in md
    html = (out / "report.html").read_text()
    assert 'id="scorecard"' in html and html.index('id="scorecard"') < html.index('class="summary-section"')
    assert "Which activation should I use?" in html
    # ten or more columns: the table scrolls in its own box, the page does not scroll sideways
    assert '<div class="table-wrap"><table class="scorecard">' in html
    assert re.search(r"section\.scorecard \.table-wrap \{[^}]*overflow-x: auto", html)
    text = capsys.readouterr().out
    assert "the rule of thumb, checked:" in text


def test_reuses_finished_claims_and_reruns_changed_ones(with_fake, tmp_path, capsys):
    out = tmp_path / "res"
    assert _compare(out) == 0
    assert len(fake.RUNS) == 1
    capsys.readouterr()
    assert _compare(out) == 0  # same settings: nothing rerun
    assert len(fake.RUNS) == 1
    assert f"reused from {out / fake.NAME}" in capsys.readouterr().out
    card = json.loads((out / "compare" / "scorecard.json").read_text())
    assert card["claims"][fake.NAME]["reused"] is True
    assert _compare(out, "relu,tanh,gelu", "--seeds", "6") == 0  # other settings: rerun
    assert len(fake.RUNS) == 2
    card = json.loads((out / "compare" / "scorecard.json").read_text())
    assert card["rows"][1]["cells"][f"{fake.NAME}/steps_to_target"]["n"] == 6


def test_resumes_after_an_interrupted_comparison(with_fake, tmp_path, monkeypatch):
    import actlab.claims.sign_coherence as sc

    out = tmp_path / "res"
    real_run = sc.run

    def stop(config, progress=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(sc, "run", stop)  # the fake claim runs first and finishes; the real one is stopped
    assert _compare(out) == 130
    assert (out / fake.NAME / "result.json").is_file() and not (out / "compare").exists()
    monkeypatch.setattr(sc, "run", real_run)
    fake.RUNS.clear()
    assert _compare(out) == 0
    assert fake.RUNS == []  # the finished claim was not rerun
    assert load_result(out / REAL).experiment == REAL
    assert (out / "compare" / "scorecard.json").is_file()


def test_a_setting_without_a_claim_goes_to_every_claim_that_has_it(with_fake, tmp_path):
    out = tmp_path / "res"
    assert _compare(out, "relu,tanh,gelu", "--set", "refuse=tanh") == 0  # only the fake has 'refuse'
    card = json.loads((out / "compare" / "scorecard.json").read_text())
    assert card["claims"][fake.NAME]["config"]["refuse"] == "tanh"
    assert card["claims"][fake.NAME]["refused"] == {"tanh": "activations: tanh is not something this claim can measure"}
    assert card["claims"][REAL]["refused"] == {}


def test_an_activation_a_claim_refuses_is_not_measured_there(with_fake, tmp_path):
    out = tmp_path / "res"
    assert _compare(out, "relu,tanh,gelu", "--set", f"{fake.NAME}.refuse=gelu") == 0
    card = json.loads((out / "compare" / "scorecard.json").read_text())
    assert card["claims"][fake.NAME]["refused"] == {"gelu": "activations: gelu is not something this claim can measure"}
    gelu = next(r for r in card["rows"] if r["activation"] == "gelu")["cells"][f"{fake.NAME}/steps_to_target"]
    assert not gelu["measured"]
    assert gelu["note"] == "not measured by this claim: activations: gelu is not something this claim can measure"
    assert load_result(out / fake.NAME).config["activations"] == ["relu", "tanh"]


def test_report_markdown_writes_the_scorecard_block(with_fake, tmp_path):
    out = tmp_path / "quick"
    assert _compare(out) == 0
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- actlab results quick: begin -->\n<!-- actlab results quick: end -->\n"
                      "<!-- actlab results quick scorecard: begin -->\nplaceholder\n"
                      "<!-- actlab results quick scorecard: end -->\nfooter\n")
    assert main(["report", str(out), "--markdown", str(readme)]) == 0
    text = readme.read_text()
    from actlab.report.markdown import markdown_block
    from actlab.report.scorecard import scorecard_markdown

    assert markdown_block(text, "quick scorecard") == scorecard_markdown(out)
    assert "placeholder" not in text and text.startswith("intro\n") and text.endswith("footer\n")


@pytest.mark.parametrize("argv, words", [
    (["compare", "relu,nosuchact"], "unknown activation 'nosuchact'"),
    (["compare", "relu,tanh", "--set", "noequals"], "must look like CLAIM.KEY=VALUE or KEY=VALUE"),
    (["compare", "relu,tanh", "--set", "nosuch=1"], "no claim compared has a setting 'nosuch'"),
    (["compare", "relu,tanh", "--set", "fake-acts.nosuch=1"], "has no setting 'nosuch'"),
    (["compare", "relu,tanh", "--claims", "nosuch"], "unknown claim 'nosuch'"),
    (["compare", "relu,tanh", "--baseline", "nosuch"], "--baseline: unknown activation"),
])
def test_bad_input_is_one_line_exit_2(with_fake, tmp_path, capsys, argv, words):
    assert main([*argv, "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("actlab: error:") and words in err and "\n" not in err


def test_never_writes_over_a_compare_folder_it_did_not_make(with_fake, tmp_path, capsys):
    out = tmp_path / "res"
    (out / "compare").mkdir(parents=True)
    (out / "compare" / "notes.txt").write_text("mine")
    assert _compare(out) == 2
    assert "actlab did not write it" in capsys.readouterr().err
    assert (out / "compare" / "notes.txt").read_text() == "mine"
    assert fake.RUNS == []  # refused before any work


def test_a_changed_plugin_file_is_measured_again(with_fake, tmp_path):
    from actlab.activations import REGISTRY
    from actlab.activations.plugins import _LOADED

    plugin = tmp_path / "my_acts.py"
    plugin.write_text("from actlab.activations import get, register_activation\n"
                      "register_activation('mine', lambda x: x.relu(), lambda x: (x > 0).to(x.dtype), "
                      "get('relu').properties)\n")
    out = tmp_path / "res"
    try:
        assert _compare(out, "mine,relu", "--plugin", str(plugin)) == 0
        assert _compare(out, "mine,relu", "--plugin", str(plugin)) == 0
        assert len(fake.RUNS) == 1  # same file: reused
        card = json.loads((out / "compare" / "scorecard.json").read_text())
        assert set(card["claims"][fake.NAME]["plugins"]) == {"mine"}
        plugin.write_text(plugin.read_text() + "# changed\n")
        assert _compare(out, "mine,relu", "--plugin", str(plugin)) == 0
        assert len(fake.RUNS) == 2  # other bytes: measured again
    finally:
        if "mine" in REGISTRY.names():
            REGISTRY.unregister("mine")
        _LOADED.clear()
