"""`actlab report`: one self-contained HTML page from a results folder.

One module-scoped folder holds a real claim run (zigzag at tiny size, through the CLI),
synthetic-but-valid results with tiny PNGs, an old result without the optional keys,
a corrupt result.json, a non-PNG file and monitor findings. The HTML is parsed with
html.parser; the browser test opens it in headless Chromium.
"""

from __future__ import annotations

import base64
import json
import shlex
import struct
import subprocess
import zlib
from dataclasses import asdict
from html.parser import HTMLParser
from pathlib import Path

import pytest

from actlab.claims import CLAIMS
from actlab.cli.common import claim_config as _claim_config
from actlab.cli.main import build_parser, main
from actlab.report import (
    ReportError,
    build_report,
    scan_results,
)
from actlab.report.render import figure_caption, png_info, short_evidence
from actlab.report.summary import NO_KEY_NUMBER
from actlab.training.settings import make_config
from actlab.verdicts.result import (
    KeyNumber,
    Result,
    Rule,
    Source,
    Verdict,
    environment,
    to_jsonable,
    write_json_atomic,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_MISSING = f"{CHROMIUM} not found; install it with: apt-get install -y chromium"
ZIGZAG_ARGS = ["--quick", "--seed", "3", "--set", "parts=linear", "--set", "dims=2,10", "--set", "samples=200"]


# --- helpers ---------------------------------------------------------------------------


def tiny_png(width: int, height: int, rgb: tuple[int, int, int], title: str | None = None) -> bytes:
    """A valid RGB PNG, written by hand (a checkerboard of ``rgb`` and white)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\0" + b"".join(bytes(rgb) if (x + y) % 2 else b"\xff\xff\xff" for x in range(width))
                    for y in range(height))
    text = chunk(b"tEXt", b"Title\0" + title.encode("latin-1")) if title else b""
    return (PNG_SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + text
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


class Node:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Node | None):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []  # elements and text, in document order

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def elements(self) -> list[Node]:
        return [c for c in self.children if isinstance(c, Node)]

    def iter(self):
        yield self
        for c in self.elements():
            yield from c.iter()

    def find_all(self, tag: str, cls: str | None = None) -> list[Node]:
        return [n for n in self.iter() if n.tag == tag and (cls is None or cls in n.classes())]

    def all_text(self) -> str:
        return " ".join("".join(c if isinstance(c, str) else " " + c.all_text() + " " for c in self.children).split())


class Tree(HTMLParser):
    """A minimal DOM: enough to find sections, images, tables and their text."""

    VOID = {"img", "meta", "br", "wbr", "hr", "input", "link", "source"}

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.root = self.node = Node("#document", {}, None)
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs}, self.node)
        self.node.children.append(node)
        if tag not in self.VOID:
            self.node = node

    def handle_endtag(self, tag):
        n = self.node
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.node = n.parent

    def handle_data(self, data):
        self.node.children.append(data)


def parse(path: Path) -> Node:
    return Tree(path.read_text(encoding="utf-8")).root


def sections(doc: Node) -> dict[str, Node]:
    return {s.attrs["id"]: s for s in doc.find_all("section", "claim")}


def write_result(root: Path, name: str, result: dict, figures: dict[str, bytes] = {}) -> Path:  # noqa: B006
    folder = root / name
    write_json_atomic(result, folder / "result.json")
    for file, data in figures.items():
        (folder / file).write_bytes(data)
    return folder


def quick_config(module_name: str) -> dict:
    import importlib

    module = importlib.import_module(f"actlab.claims.{module_name}")
    return to_jsonable(asdict(make_config(module.Config, module.QUICK)))


# --- the results folder ------------------------------------------------------------------

SC_MEANING = ("Sigmoid outputs are all positive, so every neuron in a layer fed by sigmoid gets weight "
              "gradients of one sign for one example.\n\nHere every such neuron had one sign (row coherence "
              "1.000: the share of neurons whose gradient row is all one sign).")
SC_VERDICT = Verdict(
    "holds", "At batch 1 every activation-fed layer had row coherence 1.000 for sigmoid.",
    rule=Rule("minimum row coherence at batch 1", 0.99, "above", seeds=10, min_seeds=5),
    source=Source("CS231n lecture 6", "all gradients on w share the sign of dL/df", "1.000 of neurons one-signed",
                  "a 3-layer MLP on Gaussian inputs, not a trained net; DESIGN.md budget"),
    meaning=SC_MEANING,
    key_number=KeyNumber(1.0, "1.000", "share of sigmoid neurons with one-signed gradients (batch 1)"))


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("results")
    # A real claim, run as a user runs it (tiny sizes).
    assert main(["run", "zigzag", *ZIGZAG_ARGS, "--out", str(root), "--no-progress"]) == 0
    env = environment("cpu")
    # Synthetic but valid results: the shapes the claims write (nested dicts, per-layer
    # lists, None for "not reached", "nan" for a non-finite number).
    sc = Result("sign-coherence", quick_config("sign_coherence"),
                {"coherence": {"sigmoid": {"1": [0.0, 1.0, 1.0], "64": [0.0, 0.68, 0.95]},
                               "tanh": {"1": [0.0, 0.0, 0.0], "64": [0.0, 0.01, 0.0]}},
                 "rows": {"sigmoid": [320, 320, 50], "tanh": [320, 320, 50]}},
                SC_VERDICT, {**env, "threads": 1}, 6.25, data={"hist": [1, 2, 3]}).to_dict()
    write_result(root, "sign-coherence", sc, {
        "sign_coherence_by_layer.png": tiny_png(40, 20, (31, 119, 180)),
        "sign_coherence_vs_batch.png": tiny_png(30, 30, (214, 39, 40), title="Row coherence against batch size"),
    })
    conv = Result("convergence", quick_config("convergence"),
                  {"target": 0.25,
                   "steps_to_target": {"relu": {"mean": 42.5, "per_seed": [30, 55], "reached": 2},
                                       "tanh": {"mean": None, "per_seed": [None, None], "reached": 0}},
                   "speedup_vs_tanh": {"relu": 0.47058823529411764, "tanh": 1.0},
                   "curve": [0.9 * 0.97 ** i for i in range(40)],
                   "ratio": "nan"},
                  Verdict("does_not_hold", "relu reached 25% training error in 42 steps vs tanh's 20 (0.47x faster)."),
                  env, 40.4).to_dict()
    write_result(root, "convergence", conv, {
        "convergence_curves.png": tiny_png(50, 25, (44, 160, 44)),
        "convergence_broken.png": b"this is not an image",
    })
    # An old result: no data, no actlab_version, a thinner env, a setting since renamed.
    old = {"experiment": "vanishing", "config": {"seed": 0, "depth": 5, "old_setting": 1},
           "metrics": {"grad_norm": {"sigmoid": {"default": [10.0 ** -k for k in range(12)]}},
                       "decay_per_layer": {"sigmoid": {"default": 0.144, "xavier": 0.236}}},
           "verdict": {"status": "inconclusive", "evidence": "Too shallow to tell."},
           "env": {"torch": "2.3.0"}, "elapsed_s": 1.5}
    (root / "vanishing").mkdir()
    (root / "vanishing" / "result.json").write_text(json.dumps(old))
    # A corrupt one, a folder that is no claim, a temp folder of `actlab run`.
    (root / "cost").mkdir()
    (root / "cost" / "result.json").write_text('{"experiment": "cost", "config": {')
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("not a claim")
    (root / ".zigzag.tmp123").mkdir()
    # Monitor findings, as a user would save monitor.findings().
    findings = [{"severity": "critical", "kind": "dead_units", "layer": "2 (relu)",
                 "evidence": "45% of its units are dead (29 of 64).", "suggestion": "lower the learning rate.",
                 "value": 0.45, "threshold": 0.4, "source": "CS231n notes", "step": 100}]
    (root / "monitor").mkdir()
    (root / "monitor" / "findings.json").write_text(json.dumps(findings))
    assert main(["report", str(root)]) == 0
    return root


@pytest.fixture(scope="module")
def doc(results) -> Node:
    return parse(results / "report.html")


PRESENT = ["sign-coherence", "zigzag", "vanishing", "convergence"]  # CLAIMS order


# --- tests ---------------------------------------------------------------------------


def test_one_section_per_claim_in_design_order(doc):
    ids = [s.attrs["id"] for s in doc.find_all("section", "claim")]
    assert ids == [f"claim-{n}" for n in PRESENT] + ["monitor"]
    assert [n for n in CLAIMS if n in PRESENT] == PRESENT


def test_every_figure_is_embedded_and_decodes_to_its_file(results, doc):
    secs = sections(doc)
    total = 0
    for name in PRESENT:
        pngs = sorted(p for p in (results / name).glob("*.png") if p.read_bytes().startswith(PNG_SIGNATURE))
        imgs = secs[f"claim-{name}"].find_all("img")
        assert len(imgs) == len(pngs), name
        for img, path in zip(imgs, pngs):
            prefix = "data:image/png;base64,"
            assert img.attrs["src"].startswith(prefix)
            data = base64.b64decode(img.attrs["src"][len(prefix):], validate=True)
            assert data[:8] == PNG_SIGNATURE and data == path.read_bytes()
            assert int(img.attrs["width"]) == png_info(data)[0] and img.attrs["alt"]
        total += len(imgs)
    assert total == len(doc.find_all("img")) >= 4  # zigzag draws at least 2, synthetic 3


def test_every_figure_has_a_caption_that_is_not_its_file_name(doc):
    figures = doc.find_all("figure")
    assert len(figures) >= 4
    for fig in figures:
        caption = fig.find_all("figcaption")[0].all_text()
        text = caption.split(".", 1)[1].strip()  # after "Figure 1.2."
        name = fig.attrs["data-file"]
        assert len(text.split()) >= 4, caption  # a sentence, not a label
        assert name not in caption and Path(name).stem not in caption, caption
    # the fallback, for figures the claim's captions() does not cover: a known sentence, the PNG's title, or a
    # sentence made from the name (never "By layer")
    assert figure_caption(Path("sign_coherence_by_layer.png"), "sign-coherence").startswith("Row coherence")
    assert figure_caption(Path("x.png"), "zigzag", "Row coherence against batch size") == "Row coherence against batch size"
    odd = figure_caption(Path("zigzag_odd_thing.png"), "zigzag")
    assert odd.startswith("Odd thing, as measured in this zigzag run") and "zigzag_odd_thing" not in odd


def test_a_file_that_is_not_a_png_is_named_not_embedded(doc):
    conv = sections(doc)["claim-convergence"]
    assert len(conv.find_all("img")) == 1
    assert "convergence_broken.png: not a PNG image" in conv.all_text()


def test_page_is_self_contained(results, doc):
    text = (results / "report.html").read_text(encoding="utf-8")
    for node in doc.iter():
        for attr in ("src", "href", "action", "srcset"):
            value = node.attrs.get(attr)
            if value is not None:
                assert value.startswith(("data:", "#")), (node.tag, attr, value[:60])
    assert not doc.find_all("link") and not doc.find_all("iframe")
    assert "url(" not in text and "@import" not in text
    csp = [m for m in doc.find_all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0].attrs["content"]
    # Readable without JavaScript: the one script only sets data-* attributes on <body>.
    scripts = doc.find_all("script")
    assert len(scripts) == 1 and "setAttribute" in scripts[0].all_text() and "innerHTML" not in text


def test_summary_table_has_every_claim_with_its_verdict(results, doc):
    table = doc.find_all("table", "summary")[0]
    rows = {r.find_all("td")[1].all_text().split()[0]: r for r in table.find_all("tbody")[0].find_all("tr")}
    assert list(rows) == list(CLAIMS)
    # zigzag ran part (a) only: an algebra check, which decides nothing on its own (issue 12)
    expect = {"sign-coherence": "holds", "zigzag": "inconclusive", "vanishing": "inconclusive",
              "convergence": "does_not_hold", "saturation": "missing", "dead-relu": "missing", "cost": "unreadable"}
    for name, status in expect.items():
        badges = rows[name].find_all("span", "badge")
        assert len(badges) == 1 and status in badges[0].classes(), name
    assert "no key number in this result" in rows["convergence"].all_text()  # an older result
    assert rows["sign-coherence"].find_all("a")[0].attrs["href"] == "#claim-sign-coherence"
    tally = doc.find_all("p", "tally")[0].all_text()
    assert "1 holds" in tally and "1 does not hold" in tally and "2 not run" in tally and "1 unreadable" in tally


def test_missing_claims_listed_with_the_command_that_makes_them(results, doc):
    text = " ".join(doc.find_all("div", "missing-list")[0].all_text().split())
    # Most results here were --quick runs, so the suggested commands are too.
    for name in ("saturation", "dead-relu"):
        assert f"actlab run {name} --quick --out {results}" in text
    assert "cost" in text and "unreadable" in text


def test_corrupt_result_is_named_in_the_report_and_on_stderr(results, doc, capsys):
    row = [r for r in doc.find_all("tr", "unreadable")]
    assert len(row) == 1 and "cost/result.json" in row[0].all_text() and "not valid JSON" in row[0].all_text()
    assert main(["report", str(results)]) == 0
    captured = capsys.readouterr()
    assert "cost/result.json" in captured.err and "warning" in captured.err
    assert f"wrote {results / 'report.html'}" in captured.out


def test_rerun_command_gives_back_the_recorded_config(results, doc):
    zig = sections(doc)["claim-zigzag"]
    command = zig.find_all("pre", "rerun")[0].all_text()
    argv = shlex.split(" ".join(command.split()))
    assert argv[:4] == ["actlab", "run", "zigzag", "--quick"] and "--seed" in argv
    from actlab.claims import zigzag

    args = build_parser().parse_args(argv[1:])
    config = _claim_config(zigzag, args, strict=True)
    recorded = json.loads((results / "zigzag" / "result.json").read_text())["config"]
    assert to_jsonable(asdict(config)) == recorded
    # The synthetic results are the exact --quick configs.
    sc = sections(doc)["claim-sign-coherence"].find_all("pre", "rerun")[0].all_text().split()
    assert sc == ["actlab", "run", "sign-coherence", "--quick"]


def test_old_result_without_optional_keys(doc):
    text = " ".join(sections(doc)["claim-vanishing"].all_text().split())
    assert "actlab unknown" in text and "torch 2.3.0" in text
    assert "settings unknown to this actlab, left out: old_setting" in text
    assert "Too shallow to tell." in text


def test_metrics_are_labelled_tables_and_big_arrays_fold_away(doc):
    secs = sections(doc)
    conv = secs["claim-convergence"]
    folds = {d.find_all("summary")[0].all_text().split()[0]: d for d in conv.find_all("details", "metric-fold")}
    assert set(folds) == {"curve"} and "40 values" in folds["curve"].all_text()
    grid = [t for t in conv.find_all("table", "grid")
            if "per_seed" in t.all_text()][0]
    head = [th.all_text() for th in grid.find_all("thead")[0].find_all("th")]
    assert head == ["activation", "mean", "per_seed", "reached"]  # the row keys are named
    body = [[c.all_text() for c in tr.elements()] for tr in grid.find_all("tbody")[0].find_all("tr")]
    assert body == [["relu", "42.5", "30, 55", "2"], ["tanh", "\u2014", "\u2014, \u2014", "0"]]
    assert "0.4706" in conv.all_text() and "nan" in conv.all_text()
    assert "one value per index" in conv.all_text()  # what a list in a cell is
    van = secs["claim-vanishing"]
    assert [d.find_all("summary")[0].all_text().split()[0] for d in van.find_all("details", "metric-fold")] == ["grad_norm"]
    assert "0.144" in van.all_text()


def _cells(table: Node) -> list[str]:
    return [td.all_text() for td in table.find_all("td")]


def test_no_table_is_empty_or_all_dashes(doc):
    for table in doc.find_all("table"):
        head = [th.all_text() for th in table.find_all("th", None) if th.parent and th.parent.parent
                and th.parent.parent.tag == "thead"]
        cells = [c for c in _cells(table) if c]
        assert cells, table.all_text()[:200]
        if "summary" not in table.classes():
            assert any(c not in ("\u2014", "\u2014, \u2014") for c in cells), table.all_text()[:200]
        if table.find_all("thead"):
            assert any(head), table.all_text()[:200]


def test_each_claim_section_opens_with_what_this_means(doc):
    for sid, sec in sections(doc).items():
        if sid == "monitor":
            continue
        first = sec.elements()[1]  # right after the heading and badge
        assert "meaning" in first.classes(), sid
        assert first.find_all("h3")[0].all_text() == "What this means"
        assert first.find_all("p") and len(first.find_all("p")[0].all_text()) > 40, sid
    sc = sections(doc)["claim-sign-coherence"].find_all("div", "meaning")[0]
    assert [p.all_text() for p in sc.find_all("p")] == [" ".join(p.split()) for p in SC_MEANING.split("\n\n")]
    assert "fallback" not in sc.classes()
    conv = sections(doc)["claim-convergence"].find_all("div", "meaning")[0]  # no meaning stored: a plain fallback
    assert "fallback" in conv.classes() and "This run found that it does not hold" in conv.all_text()


def test_rule_and_the_sources_number_beside_ours(doc):
    sec = sections(doc)["claim-sign-coherence"]
    verdict = sec.find_all("div", "verdict")[0]
    assert "How it is decided" in verdict.all_text() and "minimum row coherence at batch 1" in verdict.all_text()
    assert "fewer than the" not in verdict.all_text()  # 10 seeds, 5 needed
    table = verdict.find_all("table", "source-vs-ours")[0]
    rows = [[c.all_text() for c in tr.elements()] for tr in table.find_all("tbody")[0].find_all("tr")]
    assert rows == [["The source", "CS231n lecture 6", "all gradients on w share the sign of dL/df"],
                    ["This run", "actlab, this folder", "1.000 of neurons one-signed"]]
    assert "How our setup differs" in verdict.all_text() and "Gaussian inputs" in verdict.all_text()
    assert verdict.find_all("p", "key-number")[0].all_text().startswith("1.000 share of sigmoid neurons")


def test_summary_key_number_is_the_number_and_its_label(doc):
    table = doc.find_all("table", "summary")[0]
    rows = {r.find_all("td")[1].all_text().split()[0]: r for r in table.find_all("tbody")[0].find_all("tr")}
    key = rows["sign-coherence"].find_all("td", "key")[0]
    assert key.find_all("span", "kn")[0].all_text() == "1.000"
    assert key.find_all("span", "kl")[0].all_text() == "share of sigmoid neurons with one-signed gradients (batch 1)"
    # an older result without a key number: says so (never the evidence cut mid-sentence)
    conv = rows["convergence"].find_all("td", "key")[0].all_text()
    assert conv == NO_KEY_NUMBER and "\u2026" not in conv


def test_quick_or_full_scale_is_visible(results, doc):
    sc = sections(doc)["claim-sign-coherence"]
    scale = sc.find_all("div", "scale")[0]
    assert scale.attrs["data-scale"] == "quick" and "quick" in scale.all_text()
    sizes = scale.find_all("table", "sizes")[0]
    assert [th.all_text() for th in sizes.find_all("thead")[0].find_all("th")] == ["setting", "this run", "full scale"]
    assert "depth" in sizes.all_text()
    for row in sizes.find_all("tbody")[0].find_all("tr"):  # only the settings that differ are listed
        this, full = (td.all_text() for td in row.find_all("td"))
        assert this != full, row.all_text()
    assert scale.find_all("pre", "full")[0].all_text() == "actlab run sign-coherence"
    assert "quick (--quick)" in doc.find_all("table", "summary")[0].all_text()
    zig = sections(doc)["claim-zigzag"].find_all("div", "scale")[0]
    assert zig.attrs["data-scale"] == "custom"  # --set parts=linear ... : neither quick nor full
    assert "scale-line" in {c for p in doc.find_all("p") for c in p.classes()}


def test_no_1_threads_and_no_internal_file_names(results):
    text = (results / "report.html").read_text(encoding="utf-8")
    assert "1 thread" in text and "1 threads" not in text
    assert "DESIGN.md" not in text


def test_monitor_findings_section(doc):
    mon = sections(doc)["monitor"]
    text = mon.all_text()
    assert "45% of its units are dead" in text and "critical" in text and "lower the learning rate" in text


def test_monitor_jsonl_is_diagnosed(tmp_path):
    import torch

    from actlab.probes import Monitor, read_jsonl

    write_result(tmp_path, "zigzag", Result("zigzag", {"seed": 0}, {"a": 1}, Verdict("holds", "ok."), {}, 0.1).to_dict())
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Sigmoid(), torch.nn.Linear(16, 1))
    with torch.no_grad():
        model[0].weight.mul_(50.0)  # drive the sigmoid into saturation
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with Monitor(model, every=1, jsonl=tmp_path / "monitor.jsonl") as monitor:
        for _ in range(6):
            opt.zero_grad()
            model(torch.randn(32, 8)).pow(2).mean().backward()
            opt.step()
            monitor.step()
    expected = [f.evidence for f in monitor.findings()]
    folder = scan_results(tmp_path)
    text = parse(build_report(folder)).all_text()
    assert folder.monitor is not None and "Monitor findings" in text
    assert len([r for r in read_jsonl(tmp_path / "monitor.jsonl") if r.get("type") == "step"]) == 6
    assert folder.monitor.error is None and folder.monitor.steps == 6
    assert expected and all(e[:40] in text for e in expected)


def test_odd_but_parseable_result_files_do_not_crash(tmp_path):
    verdict = {"status": "holds", "evidence": "ok."}
    odd = {"experiment": 5, "config": [1, 2], "metrics": "text", "verdict": verdict, "env": None, "elapsed_s": "nan"}
    write_result(tmp_path, "zigzag", odd)
    bad_time = {**odd, "experiment": "sign-coherence", "config": {}, "elapsed_s": "abc"}
    write_result(tmp_path, "sign-coherence", bad_time)
    shapes = {"runs": [{"lr": 0.1, "steps": 5}, {"lr": 0.3, "steps": None}], "nested_lists": {"a": [[1, 2], [3]]},
              "ragged": {"x": 1, "y": {"z": 2}}, "empty": {}, "wide": {str(i): i for i in range(30)}}
    write_result(tmp_path, "convergence", {**odd, "experiment": "convergence", "config": {"seed": 1},
                                           "metrics": shapes, "env": {}})
    folder = scan_results(tmp_path)
    assert [c.name for c in folder.results] == ["zigzag", "convergence"]
    assert [u.name for u in folder.unreadable] == ["sign-coherence"] and "abc" in folder.unreadable[0].reason
    doc = parse(build_report(folder))
    conv = sections(doc)["claim-convergence"]
    names = {c.all_text() for n in conv.find_all("h4") + conv.find_all("summary") + conv.find_all("p", "not-measured")
             for c in n.find_all("code")}
    assert {"runs", "nested_lists", "ragged", "ragged.y", "empty", "wide"} <= names
    assert "not measured in this run" in conv.all_text()
    assert "This folder holds a result of 5" in sections(doc)["claim-zigzag"].all_text()


@pytest.mark.parametrize("case", ["empty", "file", "claim-folder", "only-corrupt", "missing"])
def test_not_a_results_folder_is_one_line_and_exit_2(tmp_path, capsys, case):
    target = tmp_path / "x"
    if case == "empty":
        target.mkdir()
        (target / "other").mkdir()
    elif case == "file":
        target.write_text("hello")
    elif case == "claim-folder":
        write_result(tmp_path, "x", Result("zigzag", {}, {}, Verdict("holds", "ok."), {}, 0.1).to_dict())
    elif case == "only-corrupt":
        (target / "zigzag").mkdir(parents=True)
        (target / "zigzag" / "result.json").write_text("[1, 2")
    assert main(["report", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("actlab: error: ") and err.count("\n") == 1, err
    assert not (target / "report.html").exists() if target.is_dir() else True
    with pytest.raises(ReportError):
        scan_results(target)


def test_short_evidence_cuts_at_a_clause_outside_brackets():
    text = ("Sigmoid's gradient shrinks by 0.236 per layer (0.144 to 0.313 over 4 inits, as bound: 0.25), "
            + "and more words here; " * 20)
    short = short_evidence(text, 120)
    assert len(short) <= 122 and short.endswith("\u2026") and short.count("(") == short.count(")")
    assert short_evidence("short.", 120) == "short."


# --- in a real browser -------------------------------------------------------------------


def _chromium(*args: str, user_dir: Path) -> subprocess.CompletedProcess:
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
           "--enable-logging=stderr", "--v=0", f"--user-data-dir={user_dir}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90)


@pytest.mark.skipif(not CHROMIUM.exists(), reason=CHROMIUM_MISSING)
def test_report_in_headless_chromium(results, doc, tmp_path):
    from PIL import Image

    url = (results / "report.html").resolve().as_uri()
    n_images = len(doc.find_all("img"))
    # 1. The DOM after load: the page's script records on <body> that every image decoded.
    run = _chromium("--virtual-time-budget=5000", "--dump-dom", url, user_dir=tmp_path / "profile1")
    assert run.returncode == 0, run.stderr[-2000:]
    body = [n for n in Tree(run.stdout).root.iter() if n.tag == "body"][0].attrs
    assert body.get("data-images") == str(n_images), body
    assert body.get("data-images-ok") == "true" and body.get("data-images-broken") == "0", body
    assert body.get("data-script-errors") == "0", body
    for line in run.stderr.splitlines():  # the console: script errors, and CSP blocks of any fetch
        assert "Uncaught" not in line and "Content Security Policy" not in line, line
    # What the browser built: every claim section opens with "What this means", every figure has a
    # caption that is not its file name, and no table is empty.
    dom = Tree(run.stdout).root
    claim_sections = [sec for sec in dom.find_all("section", "claim") if sec.attrs.get("id") != "monitor"]
    assert len(claim_sections) == len(PRESENT)
    for sec in claim_sections:
        meaning = sec.find_all("div", "meaning")
        assert meaning and meaning[0].find_all("h3")[0].all_text() == "What this means", sec.attrs["id"]
        assert len(meaning[0].find_all("p")[0].all_text()) > 40, sec.attrs["id"]
    for fig in dom.find_all("figure"):
        caption = fig.find_all("figcaption")[0].all_text()
        assert fig.attrs["data-file"] not in caption and len(caption.split()) >= 6, caption
    for table in dom.find_all("table"):
        assert [td for td in table.find_all("td") if td.all_text().strip()], table.all_text()[:200]
    # 2. A screenshot: it exists, it is not blank, and the CSS was applied (badge colours).
    shot = tmp_path / "report.png"
    run = _chromium(f"--screenshot={shot}", "--window-size=1280,4000", url, user_dir=tmp_path / "profile2")
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 4000)
    top = image.crop((0, 0, 1280, 1400))
    colours = top.getcolors(maxcolors=1 << 20)
    assert len(colours) > 50  # text, badges and table rules, not a blank page
    non_white = sum(n for n, c in colours if min(c) < 235)
    assert non_white > 0.01 * 1280 * 1400
    pixels = top.load()
    holds_bg = sum(1 for x in range(0, 1280, 2) for y in range(0, 1400, 2) if pixels[x, y] == (218, 251, 225))
    assert holds_bg > 50  # the green "holds" badges of the summary are drawn
