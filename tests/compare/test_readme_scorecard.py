"""README.md's scorecard is generated from the committed comparison, ``docs/results/compare/``.

Once that folder is committed (a real ``actlab compare --quick --out docs/results/compare``):

* the ``compare scorecard`` and ``compare`` blocks equal what ``actlab report docs/results/compare
  --markdown README.md`` renders from it;
* the committed scorecard is the one its committed claim results give: every row, column and
  interval rebuilt from the ``result.json`` files beside it, and every rule-of-thumb word
  decided again from it.

Until then both blocks must hold the placeholder, which has no numbers: a hand-typed table fails.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from actlab.compare import build_scorecard, check_rule_of_thumb, read_scorecard
from actlab.report import render_markdown
from actlab.report.markdown import markdown_block
from actlab.report.scorecard import README_PLACEHOLDER, scorecard_markdown
from actlab.verdicts.result import load_result, to_jsonable

REPO = Path(__file__).resolve().parents[2]
COMPARE = REPO / "docs" / "results" / "compare"
README = REPO / "README.md"
REFRESH = "actlab report docs/results/compare --markdown README.md"


def _blocks(readme: Path) -> tuple[str | None, str | None]:
    text = readme.read_text(encoding="utf-8")
    return markdown_block(text, "compare scorecard"), markdown_block(text, "compare")


def test_readme_scorecard_block_is_generated_from_the_committed_comparison():
    check_readme(README, COMPARE)


def check_readme(readme: Path, compare: Path) -> None:
    scorecard_block, claims_block = _blocks(readme)
    assert scorecard_block is not None, "README.md lost its '<!-- actlab results compare scorecard: begin/end -->' lines"
    assert claims_block is not None, "README.md lost its '<!-- actlab results compare: begin/end -->' lines"
    if read_scorecard(compare) is None:
        # not committed yet: only the placeholder, never a typed table
        assert scorecard_block == README_PLACEHOLDER + "\n"
        assert claims_block == README_PLACEHOLDER + "\n"
        assert not (compare / "compare").exists(), f"{compare}/compare/ has no readable scorecard.json"
        return
    assert scorecard_block == scorecard_markdown(compare), f"README.md is stale: run `{REFRESH}`"
    assert claims_block == render_markdown(compare), f"README.md is stale: run `{REFRESH}`"


def test_committed_scorecard_is_what_its_claim_results_give():
    check_scorecard(COMPARE)


def check_scorecard(compare: Path) -> None:
    card = read_scorecard(compare)
    if card is None:  # nothing committed: the test above holds the README to the placeholder
        assert not any(compare.glob("*/result.json")), "claim results committed without their scorecard"
        return
    results = {name: load_result(compare / name) if (compare / name / "result.json").is_file() else None
               for name in card["claims"]}
    refused = {name: info.get("refused", {}) for name, info in card["claims"].items()}
    info = {name: {k: v for k, v in i.items() if k not in ("status", "verdict", "refused")}
            for name, i in card["claims"].items()}
    rebuilt = build_scorecard(results, card["activations"], card["baseline"], refused=refused, claim_info=info)
    rebuilt = json.loads(json.dumps(to_jsonable(rebuilt)))
    for key in ("activations", "baseline", "columns", "rows", "claims"):
        assert card[key] == rebuilt[key], key
    assert card["rule_of_thumb"] == json.loads(json.dumps(to_jsonable(check_rule_of_thumb(card))))
    for name, result in results.items():  # each claim ran at the settings the scorecard names
        if result is not None:
            assert json.loads(json.dumps(to_jsonable(result.config))) == card["claims"][name]["config"], name


def test_the_checks_pass_on_a_fresh_comparison_and_catch_a_typed_number(with_fake, tmp_path):
    """The two checks above, on a comparison made here (the committed one may not exist yet)."""
    from actlab.cli import main

    out = tmp_path / "compare"
    assert main(["compare", "relu,tanh,gelu", "--quick", "--out", str(out), "--no-progress", "--no-plots"]) == 0
    readme = tmp_path / "README.md"
    readme.write_text("<!-- actlab results compare scorecard: begin -->\n<!-- actlab results compare scorecard: end -->\n"
                      "<!-- actlab results compare: begin -->\n<!-- actlab results compare: end -->\n")
    assert main(["report", str(out), "--markdown", str(readme)]) == 0
    check_readme(readme, out)
    check_scorecard(out)
    typed = readme.read_text().replace("| tanh |", "| tanh | 1.00 |", 1)
    assert typed != readme.read_text()
    readme.write_text(typed)
    with pytest.raises(AssertionError, match="stale"):
        check_readme(readme, out)
    card = json.loads((out / "compare" / "scorecard.json").read_text())
    card["rows"][1]["cells"]["fake-acts/steps_to_target"]["estimate"] = 1.0
    (out / "compare" / "scorecard.json").write_text(json.dumps(card))
    with pytest.raises(AssertionError):
        check_scorecard(out)
