"""The README's results are generated from committed, real runs, and the cheap ones still reproduce.

* The blocks between README.md's ``<!-- actlab results NAME: begin/end -->`` lines equal what
  ``actlab report docs/results/NAME --markdown README.md`` renders from the committed
  ``result.json`` files, and ``docs/report-summary.png`` is the picture
  ``--summary-png`` draws from ``docs/results/quick``.
* The deterministic claims (sign-coherence, vanishing, zigzag part a) rerun at the committed
  settings give the committed metrics exactly: the snapshot is reproducible, not just present.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

from actlab.claims import load_claim
from actlab.report import render_markdown, render_summary_png
from actlab.report.markdown import markdown_block
from actlab.verdicts.result import load_result, to_jsonable

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "results"
README = REPO / "README.md"
REFRESH = "actlab report docs/results/{name} --markdown README.md"


@pytest.mark.parametrize("name", ["quick", "full"])
def test_readme_block_is_what_the_committed_results_render(name):
    block = markdown_block(README.read_text(encoding="utf-8"), name)
    assert block is not None, f"README.md lost its '<!-- actlab results {name}: begin/end -->' lines"
    assert block == render_markdown(RESULTS / name), f"README.md is stale: run `{REFRESH.format(name=name)}`"


def test_summary_picture_is_drawn_from_the_quick_results(tmp_path):
    drawn = mpimg.imread(render_summary_png(RESULTS / "quick", tmp_path / "summary.png"))
    committed = mpimg.imread(REPO / "docs" / "report-summary.png")
    hint = "docs/report-summary.png is stale: run `actlab report docs/results/quick --summary-png docs/report-summary.png`"
    assert drawn.shape == committed.shape, hint
    # Fonts and anti-aliasing may differ by a grey level between matplotlib builds; stale text differs by far more.
    assert float(np.abs(drawn - committed).mean()) < 2e-3, hint


def _committed_config(module, config: dict, **changes):
    """The claim's Config from a result file's config (JSON lists back to tuples)."""
    values = {}
    for f in dataclasses.fields(module.Config):
        if f.name in config:
            v = config[f.name]
            values[f.name] = tuple(v) if isinstance(v, list) else v
    values.update(changes)
    return module.Config(**values)


def _rerun(name: str, **changes):
    committed = load_result(RESULTS / "quick" / name)
    module = load_claim(name)
    fresh = module.run(_committed_config(module, dict(committed.config), **changes))
    return json.loads(json.dumps(to_jsonable(committed.metrics))), json.loads(json.dumps(to_jsonable(fresh.metrics)))


@pytest.mark.parametrize("name", ["sign-coherence", "vanishing"])
def test_deterministic_claims_reproduce_the_committed_metrics_exactly(name):
    committed, fresh = _rerun(name)
    assert fresh == committed


def test_zigzag_part_a_reproduces_the_committed_metrics_exactly():
    committed, fresh = _rerun("zigzag", parts=("linear",))
    assert fresh, "part (a) gave no metrics"
    for key, value in fresh.items():
        assert key in committed, key
        assert value == committed[key], key
