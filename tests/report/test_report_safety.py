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
