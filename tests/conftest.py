"""Shared test set-up: the real MNIST / Fashion-MNIST files, never a download."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


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
