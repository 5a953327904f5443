"""Shared test set-up: the real MNIST / Fashion-MNIST files, never a download."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


# Words that mark a skip for a missing Python package (pytest.importorskip's own message, and the
# "pip install ..." hint every such skip in this suite gives).
MISSING_PACKAGE = ("could not import", "pip install", "is not installed")


def pytest_configure(config: pytest.Config) -> None:
    # Tests read ../shared/data (see its README) unless ACTLAB_DATA_DIR says otherwise,
    # and must never download: ACTLAB_OFFLINE makes any download attempt an error.
    if "ACTLAB_DATA_DIR" not in os.environ and SHARED_DATA.is_dir():
        os.environ["ACTLAB_DATA_DIR"] = str(SHARED_DATA)
    os.environ.setdefault("ACTLAB_OFFLINE", "1")
    os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def data_dir() -> Path:
    """The folder with mnist/ and fashion-mnist/ (skips, with the reason, if absent)."""
    path = Path(os.environ.get("ACTLAB_DATA_DIR", SHARED_DATA))
    if not (path / "mnist").is_dir():
        pytest.skip(f"real data folder not found at {path}; set ACTLAB_DATA_DIR")
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """With ACTLAB_STRICT_EXTRAS=1 (set by .ci/run), a skip for a missing Python package fails.

    CI installs exactly what the README's test command installs; a test that would skip there
    for want of a package means that an extra is missing a dependency.
    """
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("ACTLAB_STRICT_EXTRAS") != "1" or not report.skipped:
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if any(word in reason.lower() for word in MISSING_PACKAGE):
        report.outcome = "failed"
        report.longrepr = (f"{reason}\n(ACTLAB_STRICT_EXTRAS=1: every Python package a test needs must be "
                           "installed by the README's test command; add it to an extra that command installs)")
