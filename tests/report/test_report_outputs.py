"""`actlab report DIR --markdown FILE --summary-png FILE`, and `actlab report SWEEPDIR`."""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from pathlib import Path

import pytest
from test_report import Node, Tree, quick_config, tiny_png, write_result

from actlab.cli.main import main
from actlab.report import render_markdown, render_summary_png, render_sweep_html, scan_results
from actlab.report.markdown import MARKDOWN_HEADER, markdown_block, splice_markdown
from actlab.verdicts.result import KeyNumber, Result, Verdict, to_jsonable, write_json_atomic


def _results(root: Path) -> Path:
    meaning = "Sigmoid outputs are positive.\n\nSo every neuron's gradients | share one sign."
    write_result(root, "sign-coherence", Result(
        "sign-coherence", quick_config("sign_coherence"), {"a": 1},
        Verdict("holds", "Row coherence 1.000.", meaning=meaning,
                key_number=KeyNumber(1.0, "1.000", "share of neurons one-signed")),
        {"device": "cpu", "threads": 1}, 6.25).to_dict(), {"sign_coherence_by_layer.png": tiny_png(8, 8, (1, 2, 3))})
    write_result(root, "vanishing", Result(
        "vanishing", {"seed": 0, "depth": 50}, {"a": 2},
        Verdict("inconclusive", "Too few seeds. More words here."), {"device": "cpu", "threads": 2}, 75.0).to_dict())
    (root / "cost").mkdir()
    (root / "cost" / "result.json").write_text("{")
    return root


def test_markdown_holds_verdict_key_number_meaning_scale_and_time(tmp_path):
    root = _results(tmp_path)
    text = render_markdown(root)
    assert text.startswith(MARKDOWN_HEADER) and text.endswith("\n")
    assert text == render_markdown(scan_results(root))  # a pure function of the files
    assert str(root) not in text  # no paths: the README block does not depend on where it was rendered
    lines = text.splitlines()
    assert "**1 holds, 0 do not hold, 1 inconclusive, 4 not run, 1 unreadable.**" in lines
    assert "| 1 | sign-coherence | \u2713 holds | **1.000** share of neurons one-signed | quick | 6.2 s |" in lines
    assert ("| 3 | vanishing | ? inconclusive | no key number in this result (made by an older actlab): see its "
            "evidence in the report | custom | 1 min 15 s |") in lines
    assert "| 7 | cost | unreadable | | | |" in lines and "| 2 | zigzag | not run | | | |" in lines
    assert "**1. sign-coherence: \u2713 holds.** Key number: **1.000** share of neurons one-signed." in lines
    assert "Sigmoid outputs are positive." in lines and "So every neuron's gradients | share one sign." in lines
    assert "_Quick run (`--quick`), measured in 6.2 s of wall time (device cpu, 1 thread). Full scale: `actlab run sign-coherence`._" in lines
    assert any(line.startswith("_Run at custom sizes, measured in 1 min 15 s of wall time (device cpu, 2 threads).") for line in lines)


def test_summary_png_is_deterministic_and_drawn(tmp_path):
    from PIL import Image

    root = _results(tmp_path / "r")
    a, b = render_summary_png(root, tmp_path / "a.png"), render_summary_png(root, tmp_path / "sub" / "b.png")
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    image = Image.open(a).convert("RGB")
    assert image.size[0] > 1000 and image.size[1] > 300
    colours = dict((c, n) for n, c in image.getcolors(1 << 20))
    assert colours.get((218, 251, 225), 0) > 50  # the green "holds" badge
    assert b"Software" in a.read_bytes()[:400]  # a fixed tag (no version, no date): actlab's own picture


def test_cli_writes_markdown_and_summary_png(tmp_path, capsys):
    root = _results(tmp_path / "r")
    md, png = tmp_path / "out" / "results.md", tmp_path / "summary.png"
    (tmp_path / "out").mkdir()
    assert main(["report", str(root), "--markdown", str(md), "--summary-png", str(png)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {md}" in out and f"wrote {png}" in out and (root / "report.html").exists()
    assert markdown_block(md.read_text(encoding="utf-8"), "r") == render_markdown(root)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["report", str(root), "--summary-png", str(png)]) == 0  # its own picture: replaced
    assert main(["report", str(root), "--summary-png", str(tmp_path / "x.svg")]) == 2
    assert "ending in .png" in capsys.readouterr().err


# --- sweeps --------------------------------------------------------------------------------


def _sweep(root: Path, seeds: int = 3) -> Path:
    """A sweep folder as `actlab sweep vanishing --quick --seeds 3 --grid depth=3,5` writes it, with
    synthetic results (the plan is real: plan_sweep)."""
    from actlab.claims import load_claim
    from actlab.runs.sweep import plan_sweep
    from actlab.training.settings import make_config

    claim = load_claim("vanishing")
    plan = plan_sweep(claim, make_config(claim.Config, claim.QUICK, {"seeds": 1}), seeds=seeds,
                      grid={"depth": [3, 5]})
    folder = root / "vanishing"
    write_json_atomic(plan.manifest(), folder / "sweep.json")
    for i, run in enumerate(plan.runs):
        depth = run.point["depth"]
        value = 0.25 * depth + 0.01 * i
        status = "holds" if depth == 5 or i % 3 else "inconclusive"
        metrics = {"decay_per_layer": {"sigmoid": {"default": value}}, "grad_norm": {"sigmoid": [1.0, 0.5]},
                   "diverged": "nan" if i == 1 else 1.0}
        result = Result("vanishing", to_jsonable(asdict(run.config)), metrics,
                        Verdict(status, "ok.", key_number=KeyNumber(value, f"{value:.3f}", "decay per layer")),
                        {"threads": 1}, 0.5)
        write_json_atomic(result.to_dict(), folder / "runs" / run.run_id / "result.json")
    return root


def _doc(path: Path) -> Node:
    return Tree(path.read_text(encoding="utf-8")).root


@pytest.mark.parametrize("level", ["out", "claim"])
def test_report_of_a_sweep_folder(tmp_path, capsys, level):
    root = _sweep(tmp_path)
    target = root if level == "out" else root / "vanishing"
    assert main(["report", str(target)]) == 0
    assert "wrote" in capsys.readouterr().out
    doc = _doc(target / "report.html")
    sec = doc.find_all("section", "sweep")[0]
    assert sec.find_all("div", "meaning")[0].find_all("h3")[0].all_text() == "What this means"
    table = sec.find_all("table", "sweep-points")[0]
    rows = [[c.all_text() for c in tr.elements()] for tr in table.find_all("tbody")[0].find_all("tr")]
    # depth | finished | holds | does not hold | inconclusive | NaN runs | key number mean [CI]
    assert [r[:6] for r in rows] == [["3", "3 of 3", "2", "0", "1", "1"], ["5", "3 of 3", "3", "0", "0", "0"]]
    assert rows[0][6].startswith("0.76 [")  # mean of 0.75, 0.76, 0.77 with its interval
    metrics = sec.find_all("table", "sweep-metrics")[0].all_text()
    assert "decay_per_layer.sigmoid.default" in metrics and "grad_norm" not in metrics  # per-index values fold
    assert "grad_norm.sigmoid[0]" in sec.find_all("details", "all-metrics")[0].all_text()
    assert len(sec.find_all("img")) == 2
    for fig in sec.find_all("figure"):
        assert len(fig.find_all("figcaption")[0].all_text().split()) >= 8
    for t in doc.find_all("table"):
        assert any(td.all_text().strip() for td in t.find_all("td"))


def test_unfinished_sweep_says_what_is_missing(tmp_path):
    root = _sweep(tmp_path)
    runs = sorted((root / "vanishing" / "runs").iterdir())
    (runs[0] / "result.json").unlink()
    text = " ".join(render_sweep_html(root).split())
    assert "1 planned run has no result yet" in text and "2 of 3" in text


def test_sweep_options_that_need_a_results_folder(tmp_path, capsys):
    root = _sweep(tmp_path)
    assert main(["report", str(root), "--markdown", str(tmp_path / "x.md")]) == 2
    assert "sweep folder" in capsys.readouterr().err


def test_markdown_goes_between_the_markers_of_an_existing_file_and_keeps_the_rest(tmp_path, capsys):
    root = _results(tmp_path / "quick")
    readme = tmp_path / "README.md"
    before = ("# Title\n\nprose above\n\n<!-- actlab results quick: begin -->\nstale\n"
              "<!-- actlab results quick: end -->\n\nprose below\n")
    readme.write_text(before, encoding="utf-8")
    assert main(["report", str(root), "--markdown", str(readme)]) == 0
    after = readme.read_text(encoding="utf-8")
    assert after.startswith("# Title\n\nprose above\n\n") and after.endswith("<!-- actlab results quick: end -->\n\nprose below\n")
    assert "stale" not in after and markdown_block(after, "quick") == render_markdown(root)
    assert main(["report", str(root), "--markdown", str(readme)]) == 0
    assert readme.read_text(encoding="utf-8") == after  # idempotent


def test_markdown_and_png_never_replace_a_users_file(tmp_path, capsys):
    root = _results(tmp_path / "quick")
    mine = tmp_path / "notes.md"
    mine.write_text("my notes, no markers\n", encoding="utf-8")
    assert main(["report", str(root), "--markdown", str(mine)]) == 2
    assert "no '<!-- actlab results quick: begin -->'" in capsys.readouterr().err
    assert mine.read_text(encoding="utf-8") == "my notes, no markers\n"
    picture = tmp_path / "holiday.png"
    render_summary_png(root, tmp_path / "drawn.png")
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)  # a PNG someone else made
    assert main(["report", str(root), "--summary-png", str(picture)]) == 2
    assert "not drawn by actlab" in capsys.readouterr().err
    assert picture.read_bytes() == b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def test_splice_markdown_new_file_and_missing_markers():
    assert markdown_block(splice_markdown(None, "block\n", "full"), "full") == "block\n"
    with pytest.raises(ValueError, match="no '<!-- actlab results full: begin -->'"):
        splice_markdown("text\n", "block\n", "full")


def test_markdown_of_a_custom_run_names_the_settings_that_differ_from_full_scale(tmp_path):
    # `actlab run convergence --set wide_channels=` and the like: the README line says what was changed,
    # as the page's "this run against full scale" table does, not only "custom sizes"
    from actlab.claims.vanishing import Config

    full = Config().depth
    write_result(tmp_path, "vanishing", Result(
        "vanishing", {"seed": 0, "depth": full + 7}, {"a": 2},
        Verdict("inconclusive", "Too few seeds."), {"device": "cpu", "threads": 2}, 75.0).to_dict())
    lines = render_markdown(tmp_path).splitlines()
    assert any(line.startswith(f"_Run at custom sizes (depth={full + 7} against {full} at full scale), measured in 1 min 15 s")
               for line in lines), lines
