"""The data guard of tests/conftest.py: a test that reads the real MNIST files without saying so
(``needs_data`` marker, ``data_dir`` or ``real_data`` fixture) fails on every machine; one that
says so skips, with the reason, where the data folder is absent (issue 18)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

TESTS = Path(__file__).resolve().parent
SRC = TESTS.parent / "src"

INNER = '''
import pytest

from actlab.data.files import FILES, fetch_file

LABELS = FILES["mnist"]["t10k-labels-idx1-ubyte.gz"]


def test_reads_without_saying():
    fetch_file(LABELS)


@pytest.mark.needs_data
def test_reads_with_the_marker():
    assert fetch_file(LABELS).is_file()


def test_reads_with_the_fixture(data_dir):
    assert fetch_file(LABELS, data_dir=data_dir).is_file()


@pytest.fixture(scope="module")
def loaded(real_data):
    return fetch_file(LABELS)


def test_reads_through_a_module_fixture(loaded):
    assert loaded.is_file()
'''


def _inner_run(tmp_path: Path, data_dir: str) -> dict[str, str]:
    """Run INNER under this suite's conftest; test name -> passed/failed/skipped (with the skip reason)."""
    shutil.copy(TESTS / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_inner.py").write_text(INNER)
    env = {**os.environ, "ACTLAB_DATA_DIR": data_dir, "ACTLAB_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
    report = tmp_path / "report.xml"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
                           str(tmp_path / "test_inner.py")], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=300)
    assert report.is_file(), proc.stdout + proc.stderr
    outcomes = {}
    for case in ElementTree.parse(report).iter("testcase"):
        child = next((c for c in case if c.tag in ("failure", "error", "skipped")), None)
        outcomes[case.get("name")] = "passed" if child is None else f"{child.tag}: {child.get('message')}"
    return outcomes


@pytest.mark.needs_data
def test_with_data_only_the_test_that_did_not_say_so_fails(tmp_path, data_dir):
    out = _inner_run(tmp_path, str(data_dir))
    assert out["test_reads_without_saying"].startswith(("failure", "error"))
    assert all(out[name].startswith("passed") for name in
               ("test_reads_with_the_marker", "test_reads_with_the_fixture", "test_reads_through_a_module_fixture")), out


def test_without_data_the_tests_that_said_so_skip_with_the_reason(tmp_path):
    empty = tmp_path / "empty-data"
    empty.mkdir()
    (tmp_path / "inner").mkdir()
    out = _inner_run(tmp_path / "inner", str(empty))
    assert out["test_reads_without_saying"].startswith(("failure", "error"))
    for name in ("test_reads_with_the_marker", "test_reads_with_the_fixture", "test_reads_through_a_module_fixture"):
        assert out[name].startswith("skipped") and "needs the real MNIST files" in out[name], out
        assert str(empty) in out[name]
