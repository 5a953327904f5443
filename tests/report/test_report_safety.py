"""The report embeds only regular files inside the results folder, and damaged files are named (issue 14, 9, 22)."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from actlab.cli.main import main
from actlab.report import build_report, scan_results

SRC = str(Path(__file__).resolve().parents[2] / "src")
TINY = ["--set", "depth=2", "--set", "width=4", "--set", "batch=4", "--set", "seeds=1", "--set", "inits=default",
        "--no-progress", "--no-report"]
PNG = b"\x89PNG\r\n\x1a\n"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A results folder with one real claim (vanishing, with figures)."""
    out = tmp_path_factory.mktemp("results")
    assert main(["run", "vanishing", *TINY, "--out", str(out)]) == 0
    return out


@pytest.fixture
def folder(results, tmp_path) -> Path:
    shutil.copytree(results, tmp_path / "r")
    return tmp_path / "r"


def actlab(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "actlab.cli", *args], capture_output=True, text=True, timeout=120,
                          env=env)


def test_a_figure_linked_from_outside_is_not_embedded(folder, tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(PNG + b"my private picture" * 10)
    (folder / "vanishing" / "zz_link.png").symlink_to(secret)
    scanned = scan_results(folder)
    (claim,) = scanned.results
    assert all(p.name != "zz_link.png" for p in claim.figures) and claim.figures
    (line,) = scanned.skipped
    assert "zz_link.png: a link to" in line and "not followed" in line
    html = build_report(scanned).read_text()
    assert base64.b64encode(secret.read_bytes())[:40].decode() not in html


def test_a_claim_folder_linked_from_outside_is_not_followed(folder, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(folder / "vanishing", elsewhere)
    (folder / "cost").symlink_to(elsewhere)
    scanned = scan_results(folder)
    assert [c.name for c in scanned.results] == ["vanishing"]
    assert any(line.startswith(f"{folder / 'cost'}: a link to") for line in scanned.skipped)


def test_huge_files_are_not_read(folder):
    (folder / "vanishing" / "zero.png").symlink_to("/dev/zero")
    with open(folder / "vanishing" / "huge.png", "wb") as fh:  # sparse: 30 MB on paper, nothing on disk
        fh.write(PNG)
        fh.truncate(30 * 2**20)
    scanned = scan_results(folder)
    names = {p.name for p in scanned.results[0].figures}
    assert "zero.png" not in names and "huge.png" not in names
    assert any("huge.png: 30 MB, more than the 20 MB" in line for line in scanned.skipped)
    build_report(scanned)  # no MemoryError, no hang


def test_run_names_what_the_report_leaves_out(folder, tmp_path):
    (folder / "vanishing" / "zero.png").symlink_to("/dev/zero")
    proc = actlab("run", "vanishing", *TINY[:-1], "--no-plots", "--out", str(folder))
    # the folder holds a link actlab did not write: the run refuses to replace it
    assert proc.returncode == 2 and "files actlab did not write (zero.png)" in proc.stderr
    (folder / "vanishing" / "zero.png").unlink()
    (folder / "cost").symlink_to(tmp_path)
    proc = actlab("run", "vanishing", *TINY[:-1], "--no-plots", "--out", str(folder))
    assert proc.returncode == 0, proc.stderr
    assert f"actlab: warning: not in the report: {folder / 'cost'}: a link to" in proc.stderr
    proc = actlab("report", str(folder))
    assert proc.returncode == 0 and f"actlab: warning: not in the report: {folder / 'cost'}: a link to" in proc.stderr


@pytest.mark.parametrize("command", ["report", "run"])
def test_deeply_nested_json_is_an_unreadable_file_named_in_one_line(folder, command):
    (folder / "zigzag").mkdir()
    (folder / "zigzag" / "result.json").write_text('{"experiment": ' + nested(5000) + "}")
    (folder / "monitor").mkdir()
    (folder / "monitor" / "findings.json").write_text(nested(5000))
    args = ["report", str(folder)] if command == "report" else ["run", "vanishing", *TINY[:-1], "--no-plots",
                                                                   "--out", str(folder)]
    proc = actlab(*args)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "RecursionError" not in proc.stderr
    html = (folder / "report.html").read_text()
    assert "zigzag/result.json" in html and "nested too deep" in html
    assert "findings.json: JSON nested too deep to read" in html


def test_a_report_of_only_a_deeply_nested_file_is_one_line(tmp_path):
    (tmp_path / "zigzag").mkdir()
    (tmp_path / "zigzag" / "result.json").write_text(nested(5000))
    proc = actlab("report", str(tmp_path))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "zigzag/result.json" in lines[0], proc.stderr


def test_a_report_html_that_is_a_folder_is_named(folder):
    (folder / "report.html").mkdir()
    proc = actlab("report", str(folder))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0] == f"actlab: error: {folder / 'report.html'} is a folder, not actlab's report; move it away"
    proc = actlab("run", "vanishing", *TINY[:-1], "--no-plots", "--out", str(folder))
    assert proc.returncode == 2 and f"{folder / 'report.html'} is a folder, not actlab's report" in proc.stderr
    assert not any(p.name.startswith(".report.html.") for p in folder.iterdir())


def test_report_html_follows_the_users_umask(tmp_path):
    """report.html is shared like result.json: the mode the user's umask gives, not a fixed 0644."""
    import os
    import shutil

    from actlab.report import build_report

    committed = Path(__file__).resolve().parents[2] / "docs" / "results" / "quick" / "vanishing" / "result.json"
    (tmp_path / "vanishing").mkdir()
    shutil.copy(committed, tmp_path / "vanishing" / "result.json")
    old = os.umask(0o027)
    try:
        path = build_report(tmp_path)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640


# --- issue 21 ---------------------------------------------------------------------------


def test_report_never_overwrites_a_report_html_actlab_did_not_write(folder):
    """Item 3: `actlab report DIR` refuses, as `actlab run` does, and the user's page survives."""
    (folder / "report.html").write_text("<html>my own page</html>")
    proc = actlab("report", str(folder))
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        f"actlab: error: {folder / 'report.html'} was not written by actlab; move it away"], proc.stderr
    assert (folder / "report.html").read_text() == "<html>my own page</html>"
    (folder / "report.html").unlink()
    assert actlab("report", str(folder)).returncode == 0  # its own page it replaces
    assert actlab("report", str(folder)).returncode == 0


def test_a_result_in_another_claims_folder_is_shown_under_its_own_claim(folder):
    """Item 6: a vanishing result.json in D/dead-relu/ is not shown as dead-relu."""
    shutil.copytree(folder / "vanishing", folder / "dead-relu")
    shutil.rmtree(folder / "vanishing")
    proc = actlab("report", str(folder))
    assert proc.returncode == 0, proc.stderr
    assert (f"{folder / 'dead-relu' / 'result.json'}: the file is a vanishing result in a folder named dead-relu; "
            "the folder and the file disagree: shown under vanishing") in proc.stderr
    scanned = scan_results(folder)
    assert [c.name for c in scanned.results] == ["vanishing"] and "dead-relu" in scanned.missing
    assert "the folder and the file disagree: shown under vanishing" in build_report(scanned).read_text()


def test_many_result_folders_give_one_section_per_claim_and_a_bounded_table(folder):
    """Item 7: 600 copies of a run: one section, an All runs table of at most 500 rows, totals over all."""
    from actlab.report.folder import MAX_RUN_ROWS

    data = (folder / "vanishing" / "result.json").read_bytes()
    for i in range(600):
        (folder / f"run-{i:04d}").mkdir()
        (folder / f"run-{i:04d}" / "result.json").write_bytes(data)
    scanned = scan_results(folder)
    assert [c.name for c in scanned.results] == ["vanishing"]
    assert scanned.runs_total == 601 and len(scanned.runs) == MAX_RUN_ROWS == 500
    assert scanned.run_stats["vanishing"]["runs"] == 601
    assert len(scanned.notes) == 51 and scanned.notes[-1] == "and 550 more folders like these"
    html = build_report(scanned).read_text()
    assert html.count('class="claim-head"><h2>All runs (601)') == 1
    assert html.count("<td><code>run-") == 499 and "The first 500 of 601 runs are listed" in html
    assert len(html) < 2_000_000


def test_a_large_monitor_log_is_sampled_with_a_stated_bound(folder, monkeypatch):
    """Item 8: a log over the bound is streamed and every k-th step diagnosed, never read whole."""
    import json

    import actlab.report.folder as report_folder

    steps = [{"type": "step", "step": i, "forwards": i, "window": 1, "activations": {}, "parameters": {}}
             for i in range(400)]
    log = folder / "monitor.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in [{"type": "header", "version": 1}, *steps]) + "\n")
    monkeypatch.setattr(report_folder, "MAX_MONITOR_BYTES", log.stat().st_size // 4)
    seen = []
    import actlab.probes as probes

    monkeypatch.setattr(probes, "read_jsonl", lambda path: pytest.fail("read whole"))
    monkeypatch.setattr(probes, "diagnose", lambda records: seen.append(records) or [])
    monitor = scan_results(folder).monitor
    assert monitor.error is None and monitor.steps == 400 and monitor.sampled == 5
    assert len([r for r in seen[0] if r["type"] == "step"]) == 80 and seen[0][0]["type"] == "header"
    assert "every 5th step diagnosed" in build_report(folder).read_text()


def test_a_memory_error_reading_the_monitor_log_says_why(folder, monkeypatch):
    """Item 8: under a memory limit the warning used to end with an empty reason."""
    import actlab.probes as probes

    (folder / "monitor.jsonl").write_text('{"type": "header"}\n')
    monkeypatch.setattr(probes, "read_jsonl", lambda path: (_ for _ in ()).throw(MemoryError()))
    monitor = scan_results(folder).monitor
    assert monitor.findings is None and monitor.error.endswith("too large to diagnose in this machine's memory "
                                                               "(MemoryError)")


@pytest.mark.parametrize("where", ["report", "sweep resume", "marker"])
def test_a_huge_sparse_file_is_skipped_with_a_line_not_read(folder, tmp_path, where):
    """Item 9: a file over the bound is never read (an 8 GB one used to end in MemoryError; 64 MB here,
    so that a regression fails the test instead of exhausting a shared machine's memory)."""
    from actlab.runs.folders import MARKER, check_claim_folder
    from actlab.verdicts.result import ResultFileError, load_result

    big = folder / "vanishing" / ("result.json" if where != "marker" else MARKER)
    with open(big, "r+b" if big.exists() else "wb") as fh:
        fh.truncate(64 * 2**20)
    if where == "report":
        proc = actlab("report", str(folder))
        assert proc.returncode == 2 and "64 MB, more than the 32 MB a result file may have; not read" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
        return
    import tracemalloc

    tracemalloc.start()
    try:
        if where == "sweep resume":
            with pytest.raises(ResultFileError, match="more than the 32 MB"):
                load_result(big)
        else:
            from actlab.runs.folders import FolderError

            with pytest.raises(FolderError, match="actlab did not write it"):
                check_claim_folder(folder, "vanishing")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, f"read {peak / 2**20:.0f} MB of a file over the bound"


def test_a_path_that_is_not_utf8_is_refused_before_any_work(tmp_path, folder):
    """Item 11: `--out $(printf '/tmp/bad\\xff\\xfe')` used to crash after the run, building report.html."""
    bad = os.fsdecode(os.fsencode(str(tmp_path)) + b"/bad\xff\xfe")
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-m", "actlab.cli", "run", "vanishing", *TINY[:-1], "--out", bad],
                          capture_output=True, timeout=120, env=env)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and len(err.strip().splitlines()) == 1 and "not valid UTF-8" in err, err
    assert "\\xff\\xfe" in err and not os.path.exists(bad)
    shutil.copytree(folder, bad)
    proc = subprocess.run([sys.executable, "-m", "actlab.cli", "report", bad], capture_output=True, timeout=120,
                          env=env)
    assert proc.returncode == 2 and "not valid UTF-8" in proc.stderr.decode() and b"Traceback" not in proc.stderr
    assert build_report(bad).is_file()  # the library call writes the page, the path escaped in it


def test_markdown_never_carries_a_folders_html(folder, tmp_path):
    """Item 15: a folder named like an HTML tag, holding its own result, lands escaped."""
    import json

    name = "<img src=x onerror=alert(1)>"
    shutil.copytree(folder / "vanishing", folder / name)
    body = json.loads((folder / name / "result.json").read_text())
    body["experiment"] = name
    (folder / name / "result.json").write_text(json.dumps(body))
    out = tmp_path / "out.md"
    proc = actlab("report", str(folder), "--markdown", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "<img" not in text and text.count("&lt;img src=x onerror=alert\\(1\\)&gt;") == 2


def test_a_read_only_folder_names_report_html_not_the_temporary_file(folder):
    """Item 16: the error named `.report.html.77ga8k4n.tmp`."""
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    os.chmod(folder, 0o555)
    try:
        proc = actlab("report", str(folder))
    finally:
        os.chmod(folder, 0o755)
    assert proc.returncode == 2 and f"cannot write or read {folder / 'report.html'}: " in proc.stderr
    assert ".tmp" not in proc.stderr


def test_write_errors_name_the_file_asked_for_not_the_temporary_one(tmp_path, monkeypatch):
    """Item 16, as root can check it too: mkstemp's own error names its temporary file."""
    import tempfile

    from actlab.verdicts.result import write_text_atomic

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / ".report.html.77ga8k4n.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", full)
    with pytest.raises(OSError) as info:
        write_text_atomic("x", tmp_path / "report.html")
    assert info.value.filename == str(tmp_path / "report.html")
