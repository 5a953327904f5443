"""The compare tests' fake claim (``compare_fake_claim.py``), found by name beside a real one."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import compare_fake_claim as fake  # noqa: E402

import actlab.claims as claims_pkg  # noqa: E402

#: the real claim the fake runs beside (quick: well under a second)
REAL = "sign-coherence"


@pytest.fixture
def with_fake(monkeypatch):
    """``actlab.claims`` knows the fake claim (its name loads it; "all" is the fake and REAL)."""
    real_load = claims_pkg.load_claim

    def load(name: str):
        return fake if name.strip().lower() == fake.NAME else real_load(name)

    monkeypatch.setattr(claims_pkg, "load_claim", load)
    monkeypatch.setattr(claims_pkg, "claim_names", lambda available_only=True: [fake.NAME, REAL])
    fake.RUNS.clear()
    return fake
