"""CI's guard: with ACTLAB_STRICT_EXTRAS=1 a skip for a missing Python package is a failure."""

from __future__ import annotations

from pathlib import Path

pytest_plugins = ["pytester"]

INNER = '''
import pytest

def test_needs_a_missing_package():
    pytest.importorskip("no_such_package_for_actlab")

def test_needs_an_extra():
    pytest.skip("Ray is not installed (pip install 'actlab[ray]')")

def test_needs_a_gpu():
    pytest.skip("CUDA is not available here")
'''


def _run(pytester, monkeypatch, strict: bool):
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(test_inner=INNER)
    if strict:
        monkeypatch.setenv("ACTLAB_STRICT_EXTRAS", "1")
    else:
        monkeypatch.delenv("ACTLAB_STRICT_EXTRAS", raising=False)
    return pytester.runpytest_inprocess("-q")


def test_strict_mode_fails_skips_for_missing_packages_only(pytester, monkeypatch):
    _run(pytester, monkeypatch, strict=True).assert_outcomes(failed=2, skipped=1)


def test_without_strict_mode_they_skip(pytester, monkeypatch):
    _run(pytester, monkeypatch, strict=False).assert_outcomes(skipped=3)
