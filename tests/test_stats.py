from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from actlab.experiments.stats import geometric_mean, mean_ci95, t_quantile_975


@pytest.mark.parametrize("df", range(1, 31))
def test_t_table_matches_scipy(df):
    assert t_quantile_975(df) == pytest.approx(stats.t.ppf(0.975, df), abs=6e-4)


def test_mean_ci95_matches_scipy_interval():
    values = [12.0, 15.0, 9.0, 14.0, 11.0]
    got = mean_ci95(values)
    lo, hi = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert got["mean"] == pytest.approx(np.mean(values))
    assert got["ci95_low"] == pytest.approx(lo, rel=1e-3) and got["ci95_high"] == pytest.approx(hi, rel=1e-3)


def test_mean_ci95_excludes_non_finite_and_handles_one_value():
    got = mean_ci95([3.0, math.nan, None, math.inf])
    assert got["mean"] == 3.0 and got["n"] == 1 and got["n_excluded"] == 3 and got["ci95_low"] is None
    assert mean_ci95([])["mean"] is None


def test_geometric_mean():
    assert geometric_mean([1.0, 4.0, 16.0]) == pytest.approx(4.0)
    assert math.isnan(geometric_mean([1.0, 0.0]))
