"""The zoo against independent references: autograd, gradcheck, torch.nn, scipy, numpy."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import integrate, special, stats
from torch import nn

from actlab.activations import (
    REGISTRY,
    Maxout,
    MaxoutPool,
    Properties,
    UnknownActivationError,
    get,
    make_module,
    names,
    register_activation,
    unregister_activation,
    verify,
)
from actlab.activations import functional as AF

ELEMENTWISE = [n for n in names() if get(n).kind == "elementwise"]

# --- derivative: autograd (float64, dense grid incl. 0 and |x| up to 50), gradcheck, FD ----

GRID = torch.cat([torch.linspace(-50, 50, 20_001, dtype=torch.float64), torch.tensor([0.0, -1.0, 1.0, -3.0, 3.0], dtype=torch.float64)])


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_matches_autograd_on_dense_grid(name):
    act = get(name)
    x = GRID.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(act(x).sum(), x)
    torch.testing.assert_close(act.derivative(GRID), auto, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("name", names())
def test_gradcheck_module_float64(name):
    act = get(name)
    g = torch.Generator().manual_seed(0)
    shape = (4, 6 * act.width_multiplier) if act.kind == "layer" else (3, 7)
    x = (3 * torch.randn(*shape, generator=g, dtype=torch.float64))
    x = torch.where(x.abs() < 1e-2, torch.full_like(x, 0.3), x).requires_grad_(True)  # away from kinks
    assert torch.autograd.gradcheck(act.module().double(), (x,), eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_matches_central_differences(name):
    act = get(name)
    x = torch.linspace(-7.9, 7.9, 397, dtype=torch.float64) + 1e-3  # no point on a kink
    h = 1e-6
    fd = (act(x + h) - act(x - h)) / (2 * h)
    torch.testing.assert_close(act.derivative(x), fd, rtol=1e-6, atol=1e-7)


def test_maxout_derivative_matches_autograd():
    act = get("maxout", k=3)
    z = torch.randn(50, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(3)).requires_grad_(True)
    (auto,) = torch.autograd.grad(act(z).sum(), z)
    assert torch.equal(act.derivative(z.detach()), auto)


# --- values: torch.nn built-ins, scipy, numpy ------------------------------------------------

X = np.concatenate([np.linspace(-30, 30, 6001), [0.0]])


def _np(name, **params):
    return get(name, **params)(torch.from_numpy(X)).numpy()


REFERENCES = {
    "sigmoid": lambda x: special.expit(x),
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.01 * x),
    "prelu": lambda x: np.where(x > 0, x, 0.25 * x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "selu": lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(np.minimum(x, 0))),
    "gelu": lambda x: x * stats.norm.cdf(x),
    "gelu_tanh": lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
    "silu": lambda x: x * special.expit(x),
    "mish": lambda x: x * np.tanh(np.logaddexp(0, x)),
    "softplus": lambda x: np.where(x > 20, x, np.logaddexp(0, x)),  # PyTorch: linear past threshold=20
    "softsign": lambda x: x / (1 + np.abs(x)),
    "hard_sigmoid": lambda x: np.clip(x / 6 + 0.5, 0, 1),
    "hard_tanh": lambda x: np.clip(x, -1, 1),
    "lecun_tanh": lambda x: 1.7159 * np.tanh(2 * x / 3),
    "sigmoid_centered": lambda x: special.expit(x) - 0.5,
    "tanh_shifted": lambda x: np.tanh(x) + 1,
}


def test_every_elementwise_activation_has_a_reference():
    assert set(ELEMENTWISE) == set(REFERENCES)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_values_match_scipy_numpy_reference(name):
    np.testing.assert_allclose(_np(name), REFERENCES[name](X), rtol=1e-12, atol=1e-12)


TORCH_NN = {
    "sigmoid": nn.Sigmoid(), "tanh": nn.Tanh(), "relu": nn.ReLU(), "leaky_relu": nn.LeakyReLU(),
    "prelu": nn.PReLU(), "elu": nn.ELU(), "selu": nn.SELU(), "gelu": nn.GELU(),
    "gelu_tanh": nn.GELU(approximate="tanh"), "silu": nn.SiLU(), "mish": nn.Mish(),
    "softplus": nn.Softplus(), "softsign": nn.Softsign(), "hard_sigmoid": nn.Hardsigmoid(),
    "hard_tanh": nn.Hardtanh(),
}


@pytest.mark.parametrize("name", sorted(TORCH_NN))
def test_values_match_torch_nn_builtin(name):
    x = torch.linspace(-20, 20, 4001, dtype=torch.float64)
    torch.testing.assert_close(get(name)(x), TORCH_NN[name].double()(x), rtol=0, atol=0)


@pytest.mark.parametrize("name", names())
def test_module_matches_function(name):
    act = get(name)
    x = torch.randn(5, 8 * act.width_multiplier, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 4
    torch.testing.assert_close(act.module().double()(x), act(x))


def test_identities_from_the_course():
    x = torch.linspace(-10, 10, 1001, dtype=torch.float64)
    torch.testing.assert_close(AF.tanh(x), 2 * AF.sigmoid(2 * x) - 1)  # tanh(x) = 2 sigma(2x) - 1
    torch.testing.assert_close(AF.sigmoid_centered(x), AF.tanh(x / 2) / 2)
    torch.testing.assert_close(AF.tanh_shifted(x), 2 * AF.sigmoid(2 * x))
    torch.testing.assert_close(AF.softplus_grad(x), AF.sigmoid(x))
    assert float(AF.lecun_tanh(torch.tensor(1.0, dtype=torch.float64))) == pytest.approx(1.0, abs=2e-4)


def test_maxout_layer_is_max_of_k_linear_pieces():
    torch.manual_seed(0)
    layer = Maxout(5, 3, k=4)
    x = torch.randn(7, 5)
    pieces = layer.linear(x).reshape(7, 3, 4)
    torch.testing.assert_close(layer(x), pieces.max(-1).values)
    n_linear = sum(p.numel() for p in nn.Linear(5, 3).parameters())
    assert sum(p.numel() for p in layer.parameters()) == 4 * n_linear  # k times the parameters
    assert MaxoutPool(2)(torch.tensor([[1.0, -2.0, 0.5, 3.0]])).tolist() == [[1.0, 3.0]]


# --- stability: +-1e4, +-1e30, +-inf in float32 and float64 -----------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", names())
def test_stable_at_huge_and_infinite_inputs(name, dtype):
    act = get(name)
    x = torch.tensor([-math.inf, -1e30, -1e4, 1e4, 1e30, math.inf], dtype=dtype)
    if act.kind == "layer":
        x = x.repeat_interleave(2).reshape(-1, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y, d = act(x).flatten(), act.derivative(x).flatten()
    assert not y.isnan().any() and not d.isnan().any(), (y, d)
    assert d.isfinite().all(), d
    assert y[1:-1].isfinite().all(), y
    lo, hi = act.properties.output_range
    # at -inf: the lower limit for monotonic activations, 0 for the non-monotonic smooth rectifiers
    expect_neg = (lo if act.properties.monotonic else 0.0)
    assert float(y[0]) == pytest.approx(expect_neg, abs=1e-6) or (math.isinf(lo) and float(y[0]) == -math.inf)
    assert float(y[-1]) == pytest.approx(hi, abs=1e-6) or (math.isinf(hi) and float(y[-1]) == math.inf)


# --- declared properties, measured independently ---------------------------------------------


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_zero_centred_agrees_with_gaussian_mean(name):
    act = get(name)

    def f(z):
        return float(act(torch.tensor([z], dtype=torch.float64)))

    mean = integrate.quad(lambda z: f(z) * stats.norm.pdf(z), -12, 12, points=[0.0], limit=200)[0]
    second = integrate.quad(lambda z: f(z) ** 2 * stats.norm.pdf(z), -12, 12, points=[0.0], limit=200)[0]
    assert (abs(mean) < 0.05 * math.sqrt(second)) == act.properties.zero_centred, (mean, second)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_declared_max_derivative_and_range_hold_on_a_grid(name):
    act = get(name)
    p = act.properties
    x = torch.linspace(-60, 60, 1_200_001, dtype=torch.float64)
    d, y = act.derivative(x), act(x)
    assert float(d.abs().max()) == pytest.approx(p.max_abs_derivative, rel=1e-5)
    lo, hi = p.output_range
    assert float(y.min()) >= lo - 1e-12 and float(y.max()) <= hi + 1e-12
    assert bool((d >= 0).all()) == p.monotonic
    assert float(act(torch.zeros(1, dtype=torch.float64))) == pytest.approx(p.f0, abs=1e-12)
    assert float(act.derivative(torch.zeros(1, dtype=torch.float64))) == pytest.approx(p.df0, abs=1e-7)
    for side, xs in (("saturates_left", -1e4), ("saturates_right", 1e4)):
        slope = abs(float(act.derivative(torch.tensor([xs], dtype=torch.float64))))
        assert (slope < 1e-6) == getattr(p, side), (side, slope)


@pytest.mark.parametrize("name", names())
def test_verify_finds_no_problem_in_the_zoo(name):
    assert verify(get(name)) == []


@pytest.mark.parametrize(
    "name,params",
    [("elu", {"alpha": 0.5}), ("elu", {"alpha": 2.0}), ("leaky_relu", {"negative_slope": 0.2}),
     ("leaky_relu", {"negative_slope": 0.0}), ("hard_tanh", {"min_val": -2.0, "max_val": 0.5}),
     ("softplus", {"beta": 2.0, "threshold": 10.0}), ("maxout", {"k": 4}), ("prelu", {"init": 0.1})],
)
def test_verify_with_parameters(name, params):
    assert verify(get(name, **params)) == []


def _broken(name, **changes):
    """A copy of a zoo entry under another name, with some declared property wrong."""
    from dataclasses import replace

    spec = REGISTRY.spec(name)
    props = replace(get(name).properties, **changes)
    return replace(spec, name=f"broken_{name}", aliases=(), properties=props)


@pytest.mark.parametrize(
    "name,changes,expect",
    [("sigmoid", {"max_abs_derivative": 0.3}, "max_abs_derivative"),
     ("elu", {"zero_centred": True}, "zero_centred"),
     ("relu", {"saturates_left": False}, "saturates_left"),
     ("gelu", {"monotonic": True}, "monotonic"),
     ("relu", {"smooth": True}, "smooth"),
     ("tanh", {"output_range": (-0.5, 0.5)}, "output_range")],
)
def test_verify_catches_a_wrong_table_entry(name, changes, expect):
    with REGISTRY.temporarily(_broken(name, **changes)) as spec:
        problems = verify(get(spec.name))
    assert any(expect in p for p in problems), problems


def test_verify_catches_a_wrong_derivative():
    from dataclasses import replace

    spec = replace(REGISTRY.spec("tanh"), name="tanh_wrong_grad", aliases=(), derivative=lambda x: 1 - x.tanh())
    with REGISTRY.temporarily(spec):
        problems = verify(get("tanh_wrong_grad"))
    assert any("autograd" in p for p in problems) and any("finite difference" in p for p in problems)


# --- names, parameters, registration, factory ---------------------------------------------------


@pytest.mark.parametrize("alias,canonical", [("Swish", "silu"), ("SIGMOID", "sigmoid"), ("Leaky-ReLU", "leaky_relu"),
                                             ("leakyrelu", "leaky_relu"), ("logistic", "sigmoid"), ("hardtanh", "hard_tanh"),
                                             ("gelu-tanh", "gelu_tanh"), ("sigmoid_centred", "sigmoid_centered")])
def test_names_are_case_insensitive_with_aliases(alias, canonical):
    assert get(alias).name == canonical


def test_unknown_name_lists_closest():
    with pytest.raises(UnknownActivationError, match=r"unknown activation 'sigmod'; did you mean sigmoid"):
        get("sigmod")
    with pytest.raises(UnknownActivationError, match="actlab list"):
        get("zzzzzz")


@pytest.mark.parametrize(
    "name,params,message",
    [("maxout", {"k": 1}, r"k=1 is invalid.*>= 2"), ("maxout", {"k": 2.5}, "k=2.5"),
     ("elu", {"alpha": -1.0}, r"alpha=-1.0 is invalid: it must be > 0"), ("leaky_relu", {"negative_slope": 1.5}, r"\[0, 1\)"),
     ("softplus", {"beta": 0.0}, "beta=0.0"), ("hard_tanh", {"min_val": 1.0, "max_val": -1.0}, "min_val=1.0 must be < max_val"),
     ("elu", {"alpha": math.nan}, "finite")],
)
def test_invalid_parameters_raise_value_error_naming_the_value(name, params, message):
    with pytest.raises(ValueError, match=message):
        get(name, **params)


def test_unknown_parameter_is_a_type_error():
    with pytest.raises(TypeError, match="no parameter 'slope'; valid parameters: negative_slope"):
        get("leaky_relu", slope=0.1)


def test_user_registered_activation_gets_the_same_treatment(tmp_path):
    from actlab.cli.main import main

    def arctan(x):
        return torch.atan(x)

    def arctan_grad(x):
        return 1 / (1 + x * x)

    props = Properties(output_range=(-math.pi / 2, math.pi / 2), zero_centred=True, negative_outputs=True, monotonic=True,
                       smooth=True, saturates_left=True, saturates_right=True, max_abs_derivative=1.0, f0=0.0, df0=1.0,
                       reference="arctan unit")
    register_activation("arctan_unit", arctan, arctan_grad, props, aliases=("atan",))
    try:
        assert get("ATAN").name == "arctan_unit"
        assert verify(get("atan")) == []
        assert "arctan_unit" in names()
        m = make_module("arctan_unit")
        torch.testing.assert_close(m(torch.tensor([0.0, 1.0])), arctan(torch.tensor([0.0, 1.0])))
        assert main(["show", "atan", "tanh", "--out", str(tmp_path / "b.png")]) == 0
        assert (tmp_path / "b.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with pytest.raises(ValueError, match="already registered"):
            register_activation("arctan_unit", arctan, arctan_grad, props)
    finally:
        unregister_activation("arctan_unit")
    assert "arctan_unit" not in names()


def test_make_module_factory():
    assert isinstance(make_module("relu"), nn.ReLU)
    assert make_module("leaky_relu", negative_slope=0.1).negative_slope == 0.1
    assert isinstance(make_module(nn.GELU, approximate="tanh"), nn.GELU)
    assert isinstance(make_module(None), nn.Identity)
    inst = nn.Tanh()
    assert make_module(inst) is inst
    m = make_module(torch.sin)
    torch.testing.assert_close(m(torch.tensor([1.0])), torch.sin(torch.tensor([1.0])))
    with pytest.raises(TypeError, match="no parameters"):
        make_module(torch.sin, a=1)
    with pytest.raises(TypeError):
        make_module(3)


def test_prelu_module_slope_is_learnable_and_starts_at_quarter():
    m = get("prelu").module()
    assert isinstance(m, nn.PReLU) and float(m.weight.detach()) == 0.25 and m.weight.requires_grad
    out = m(torch.tensor([-2.0]))
    out.sum().backward()
    assert float(m.weight.grad) == -2.0  # d(a x)/da = x


def test_registry_rejects_alias_collisions():
    from dataclasses import replace

    spec = replace(REGISTRY.spec("tanh"), name="my_tanh", aliases=("swish",))
    with pytest.raises(ValueError, match="'swish' of 'my_tanh' is already used by 'silu'"):
        REGISTRY.register(spec)
    assert get("swish").name == "silu"


def test_gelu_tanh_kernel_nan_is_patched_in_float32():
    # PyTorch's own tanh-GELU backward gives NaN at 1e30 in float32; ours stays finite
    x = torch.tensor([1e30, -1e30], requires_grad=True)
    (g,) = torch.autograd.grad(F.gelu(x, approximate="tanh").sum(), x)
    assert g.isnan().any()  # documents the PyTorch behaviour the functional form works around
    assert get("gelu_tanh").derivative(x.detach()).tolist() == [1.0, 0.0]


# --- what `actlab show` draws agrees with what `actlab list` declares -------------------------


@pytest.mark.parametrize("name,params", [(n, {}) for n in names()] + [("maxout", {"k": 3}), ("maxout", {"k": 4})])
def test_declared_monotonic_matches_the_curve_show_draws(name, params):
    # The check that missed maxout: the grid test above covers elementwise entries only, and
    # verify measured maxout's monotonicity in its pieces while `show` draws it against x.
    from actlab.activations.curves import unit_curve
    from actlab.activations.verify import measure_properties

    act = get(name, **params)
    _, d = unit_curve(act, torch.linspace(-8, 8, 3201, dtype=torch.float64))
    assert bool((d >= -1e-12).all()) == act.properties.monotonic, name
    assert measure_properties(act).monotonic == act.properties.monotonic, name


def test_maxout_unit_is_convex_not_monotonic():
    from actlab.activations.curves import unit_curve

    x = torch.linspace(-3, 3, 601, dtype=torch.float64)
    for k in (2, 3):
        y, d = unit_curve(get("maxout", k=k), x)
        torch.testing.assert_close(y, x.abs(), rtol=0, atol=1e-12)  # slopes -1 .. 1: |x|
        assert (d.diff() >= 0).all()  # f' non-decreasing: convex
    assert not get("maxout").properties.monotonic


def test_one_definition_of_saturated():
    from actlab.activations import SATURATION_SLOPE, saturated_mask, saturation_threshold
    from actlab.plots.activations import SATURATED_SLOPE
    from actlab.probes.sites import activation_info

    assert SATURATED_SLOPE == SATURATION_SLOPE == 0.05
    x = torch.linspace(-10, 10, 2001, dtype=torch.float64)
    for name in ("sigmoid", "tanh", "softsign", "elu", "hard_sigmoid"):
        act = get(name)
        expect = act.derivative(x).abs() < 0.05 * act.properties.max_abs_derivative  # 5% of max |f'|
        assert torch.equal(saturated_mask(act, x), expect), name
        # the monitor's threshold at its default slope is the same number
        assert activation_info(act, SATURATION_SLOPE).saturation_threshold == pytest.approx(saturation_threshold(act))
    assert saturation_threshold(get("sigmoid")) == pytest.approx(0.0125)  # not the absolute 0.05 show used
    # sigmoid at x = 3.5: |f'| = 0.0285 < 0.05 but 11% of its max: not saturated (it was, in `show`)
    assert not bool(saturated_mask(get("sigmoid"), torch.tensor([3.5], dtype=torch.float64)))
    for name in ("leaky_relu", "maxout"):
        assert not saturated_mask(get(name), x).any(), name
    with pytest.raises(ValueError, match="slope"):
        saturation_threshold(get("tanh"), slope=5)


def _lab(hex_colour: str) -> tuple[float, float, float]:
    """sRGB hex -> CIELAB (D65), the textbook formulas."""
    def lin(c):
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(int(hex_colour[i:i + 2], 16) / 255) for i in (1, 3, 5))
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t):
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def test_one_distinct_colour_marker_and_line_style_per_activation():
    from actlab.plots.style import color_for, style_for

    zoo = names()
    colours = {n: color_for(n) for n in zoo}
    assert all(isinstance(c, str) and c.startswith("#") for c in colours.values()), colours  # all in the palette
    for i, a in enumerate(zoo):
        for b in zoo[i + 1:]:
            assert math.dist(_lab(colours[a]), _lab(colours[b])) >= 20, (a, b)  # tanh vs lecun_tanh was ~5
    looks = {(style_for(n)["marker"], style_for(n)["linestyle"]) for n in zoo}
    assert len(looks) == len(zoo)
    assert color_for("elu(alpha=0.5)") == color_for("elu")


def test_show_draws_several_activations_and_maxout(tmp_path):
    from PIL import Image

    from actlab.cli.main import main

    for args in (["sigmoid", "tanh", "relu", "elu"], ["maxout:k=3"]):
        out = tmp_path / f"{len(args)}.png"
        assert main(["show", *args, "--out", str(out)]) == 0
        assert Image.open(out).size[0] > 800


def test_verify_reports_each_activation_as_it_goes(capsys):
    from actlab.cli.main import main

    assert main(["verify", "relu", "tanh"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[:2] == ["relu                 ok", "tanh                 ok"]
    assert "verify:" in err and "relu: derivative" in err and "100% done" in err
    assert main(["verify", "relu", "--no-progress"]) == 0
    assert capsys.readouterr().err == ""
