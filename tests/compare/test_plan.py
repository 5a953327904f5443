"""Each claim's config for the default set: the claims' own checks decide what a claim cannot
take (maxout, a layer, in cost, saturation, dead-relu; a CNN's convergence), and only that
activation is left out of that claim, with the claim's own reason."""

from __future__ import annotations

import pytest

from actlab.claims import load_claim
from actlab.compare import DEFAULT_ACTIVATIONS, CompareError, plan


@pytest.mark.parametrize("claim", ["cost", "saturation", "dead-relu"])
def test_maxout_is_left_out_only_where_the_claim_refuses_it(claim):
    (p,) = plan([claim], list(DEFAULT_ACTIVATIONS), "relu", quick=True)
    module = load_claim(claim)
    try:
        module.Config(**{**module.QUICK, "activations": ("maxout", "relu")})
    except ValueError as exc:
        expected = " ".join(str(exc).split())
    else:
        expected = None
    if expected is None:
        assert p.refused == {} and "maxout" in p.config.activations
        return
    assert p.refused == {"maxout": expected}
    assert "maxout" not in p.config.activations
    assert set(p.config.activations) == set(DEFAULT_ACTIVATIONS) - {"maxout"}
    if "baseline" in {f for f in p.config.__dataclass_fields__}:
        assert p.config.baseline == "relu"


def test_quick_sizes_and_common_settings_reach_the_claim():
    (p,) = plan(["vanishing"], ["sigmoid", "gelu"], "relu", quick=True, common={"seed": 3, "seeds": 6})
    module = load_claim("vanishing")
    for key, value in module.QUICK.items():
        if key != "seeds":
            assert getattr(p.config, key) == value, key
    assert (p.config.seed, p.config.seeds) == (3, 6)
    assert set(p.config.activations) == {"sigmoid", "gelu", "relu"}  # the baseline is always measured


def test_a_bad_setting_is_an_error_not_a_refusal():
    with pytest.raises(CompareError, match="vanishing"):
        plan(["vanishing"], ["sigmoid", "relu"], "relu", quick=True, sets={"vanishing": {"depth": "0"}})
    with pytest.raises(CompareError, match="no setting 'nosuch'"):
        plan(["vanishing"], ["sigmoid", "relu"], "relu", quick=True, sets={"vanishing": {"nosuch": "1"}})
