"""Shared test set-up: the real MNIST / Fashion-MNIST files, never a download.

A test that reads the real data says so, in one of three ways: the ``needs_data`` marker, the
``data_dir`` fixture (the folder, per test) or the ``real_data`` fixture (the same, for module-
scoped fixtures). Without the folder such a test skips, with the reason. Every other test runs
with ``ACTLAB_DATA_DIR`` and ``ACTLAB_CACHE_DIR`` pointing at an empty folder (in worker
processes too, which inherit the environment), so a test that reads data without saying so
fails on every machine, not only on one without the data (tests/test_data_guard.py).
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from pathlib import Path

import pytest

# A test run started as a background job of a non-interactive shell (`cmd &`, as CI scripts and
# nohup do) inherits SIGINT ignored, and so would every actlab process the tests start: the Ctrl-C
# tests would then measure the shell, not actlab (the run finishes, exit 0). A Python handler,
# unlike SIG_IGN, is not inherited across exec: the children start with Ctrl-C as on a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

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
    config.addinivalue_line("markers", "needs_data: reads the real MNIST / Fashion-MNIST files "
                                       "(skips when the data folder is absent)")
    config.stash[_EMPTY] = Path(tempfile.mkdtemp(prefix="actlab-no-data-"))


def pytest_unconfigure(config: pytest.Config) -> None:
    if _EMPTY in config.stash:
        shutil.rmtree(config.stash[_EMPTY], ignore_errors=True)


_EMPTY = pytest.StashKey[Path]()
_SAVED = pytest.StashKey[dict]()
_DATA_FIXTURES = {"data_dir", "real_data"}
_GUARDED = ("ACTLAB_DATA_DIR", "ACTLAB_CACHE_DIR")


def real_data_folder() -> Path | None:
    """The folder with mnist/ and fashion-mnist/, or None when it is absent."""
    path = Path(os.environ.get("ACTLAB_DATA_DIR", SHARED_DATA))
    return path if (path / "mnist").is_dir() else None


def _skip_without_data() -> Path:
    path = real_data_folder()
    if path is None:
        where = os.environ.get("ACTLAB_DATA_DIR", SHARED_DATA)
        pytest.skip(f"needs the real MNIST files: no data folder at {where} (set ACTLAB_DATA_DIR; see "
                    "../shared/data/README)")
    return path


def needs_data(item: pytest.Item) -> bool:
    """Whether ``item`` said that it reads the real data (marker or fixture, also through other fixtures)."""
    return item.get_closest_marker("needs_data") is not None or bool(
        _DATA_FIXTURES & set(getattr(item, "fixturenames", ())))


@pytest.fixture
def data_dir() -> Path:
    """The folder with mnist/ and fashion-mnist/ (skips, with the reason, if absent)."""
    return _skip_without_data()


@pytest.fixture(scope="session")
def real_data() -> Path:
    """``data_dir`` for module- and session-scoped fixtures that read the real data."""
    return _skip_without_data()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture: a data test without data skips; any other test sees no data at all."""
    if needs_data(item):
        _skip_without_data()
        return
    empty = item.config.stash[_EMPTY]
    item.stash[_SAVED] = {k: os.environ.get(k) for k in _GUARDED}
    os.environ["ACTLAB_DATA_DIR"] = str(empty)
    os.environ["ACTLAB_CACHE_DIR"] = str(empty / "cache")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem):
    yield
    for key, value in item.stash.get(_SAVED, {}).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


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
