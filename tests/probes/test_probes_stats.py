"""actlab.probes: the pure reductions, schedules, site tables and findings, each
against a slow reference (plain loops, autograd) or a hand-made case."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from actlab.activations import LeCunTanh, MaxoutPool, SigmoidCentered, TanhShifted, get
from actlab.probes import THRESHOLD_SOURCES, Thresholds, diagnose, schedules
from actlab.probes import stats as S
from actlab.probes.sites import FUNCTIONAL_ACTIVATIONS, module_activation


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- reductions ---------------------------------------------------------------------------


def test_moments_match_float64_loops_and_keep_a_small_std_next_to_a_large_mean():
    y = 0.99 + 1e-3 * torch.randn(64, 33, generator=gen())  # a saturated sigmoid layer
    total, root = S.moments(y)
    mean, m2 = float(total) / y.numel(), float(root) ** 2
    vals = [float(v) for v in y.double().reshape(-1)]
    ref_mean = sum(vals) / len(vals)
    ref_m2 = sum((v - ref_mean) ** 2 for v in vals)
    assert mean == pytest.approx(ref_mean, rel=1e-6)
    assert float(m2) == pytest.approx(ref_m2, rel=1e-3)
    scratch = torch.empty_like(y)  # the same with a scratch buffer and a known sum
    assert S.moments(y, scratch, total)[1].item() == root.item()
    # the one-pass formula loses it in float32: the two-pass result is far closer
    naive = float((y * y).sum() - y.sum() ** 2 / y.numel())
    assert abs(float(m2) - ref_m2) < abs(naive - ref_m2)


def test_saturated_count_and_positive_count_match_loops():
    d = torch.rand(500, generator=gen())
    assert int(S.saturated_count(d, 0.05)) == sum(1 for v in d.tolist() if v < 0.05)
    y = torch.randn(40, 30, generator=gen(1)).relu()
    assert float(S.positive_count(y)) == sum(1 for v in y.reshape(-1).tolist() if v > 0)


@pytest.mark.parametrize("shape, unit_dim", [((8, 5), 1), ((4, 6, 5), 2), ((3, 4, 5, 6), 1), ((7,), 0)])
def test_unit_activity_is_the_max_over_everything_but_the_unit_dim(shape, unit_dim):
    d = torch.rand(shape, generator=gen()) * (torch.rand(shape, generator=gen(1)) > 0.7)
    got = S.unit_activity(d, unit_dim)
    units = shape[unit_dim]
    assert got.shape == (units,)
    moved = np.moveaxis(d.numpy(), unit_dim, 0).reshape(units, -1)
    for u in range(units):
        assert float(got[u]) == max(moved[u])
    assert S.default_unit_dim(len(shape)) == unit_dim


def test_unit_sums_of_a_relu_output_are_zero_exactly_for_silent_units():
    y = torch.randn(6, 4, 3, 3, generator=gen()).relu()
    y[:, 2] = 0.0
    sums = S.unit_sums(y, 1)
    assert sums.tolist() == pytest.approx([float(y[:, c].double().sum()) for c in range(4)], rel=1e-6)
    assert [s == 0 for s in sums.tolist()] == [False, False, True, False]


def test_default_unit_dim_of_a_scalar_is_none():
    assert S.default_unit_dim(0) is None


def _histogram_reference(values: list[float], lo: float, hi: float, bins: int) -> list[int]:
    counts = [0] * bins
    for v in values:
        if math.isnan(v):
            continue
        v = min(max(v, lo), hi)
        counts[min(int(math.floor((v - lo) * bins / (hi - lo))), bins - 1)] += 1
    return counts


def test_histogram_counts_match_a_loop_with_out_of_range_inf_and_nan():
    y = torch.randn(3000, generator=gen()) * 3
    y[:5] = torch.tensor([math.nan, math.inf, -math.inf, 100.0, -100.0])
    got = S.histogram_counts(y, -2.0, 4.0, 12)
    assert got.tolist() == _histogram_reference(y.tolist(), -2.0, 4.0, 12)
    assert int(got.sum()) == y.numel() - 1  # the NaN is in no bin


def test_histogram_deterministic_path_agrees():
    y = torch.randn(3000, generator=gen()) * 3
    y[:3] = torch.tensor([math.nan, math.inf, -math.inf])
    assert S._histogram_deterministic(y, -2.0, 4.0, 12).tolist() == S.histogram_counts(y, -2.0, 4.0, 12).tolist()


def test_histogram_upper_bound_goes_in_the_last_bin():
    got = S.histogram_counts(torch.tensor([0.0, 1.0, 0.5]), 0.0, 1.0, 4)
    assert got.tolist() == [1, 0, 1, 1]


def test_histogram_without_clamp_agrees_on_values_inside_the_range():
    y = torch.rand(3000, generator=gen())  # a sigmoid's outputs: inside [0, 1]
    y[:3] = torch.tensor([0.0, 1.0, math.nan])
    got = S.histogram_counts(y, 0.0, 1.0, 16, clamp=False)
    assert got.tolist() == S.histogram_counts(y, 0.0, 1.0, 16).tolist() == _histogram_reference(y.tolist(), 0.0, 1.0, 16)


def test_sample_stride_is_even_and_reaches_every_column():
    assert S.sample_stride(100, 10, 4096) == 1
    stride = S.sample_stride(128 * 256, 256, 4096)
    assert stride == 11 and 128 * 256 / stride <= 4096
    cols = {i % 256 for i in range(0, 128 * 256, stride)}
    assert cols == set(range(256))
    # a prime that divides the row is skipped
    assert S.sample_stride(10 * 11 * 100, 11 * 100, 1000) not in (11,)
    assert 1100 % S.sample_stride(10 * 11 * 100, 11 * 100, 1000) != 0


def _coherence_reference(g: torch.Tensor) -> tuple[int, int]:
    coherent = nonzero = 0
    for row in g.reshape(g.shape[0], -1).tolist():
        signs = {v > 0 for v in row if v != 0}
        if signs:
            nonzero += 1
            coherent += len(signs) == 1
    return coherent, nonzero


def test_row_sign_counts_and_coherence_match_a_loop():
    g = torch.randn(30, 7, generator=gen())
    g[0] = 0.0  # an all-zero row: left out
    g[1] = g[1].abs()  # coherent, positive
    g[2] = -g[2].abs()  # coherent, negative
    g[3, :4] = 0.0
    g[3, 4:] = g[3, 4:].abs()  # coherent with zeros
    pos, neg, both = S.row_sign_counts(g).tolist()
    coherent, nonzero = _coherence_reference(g)
    assert (pos + neg - both, pos + neg - 2 * both) == (nonzero, coherent)
    assert float(S.row_sign_coherence(g)) == pytest.approx(coherent / nonzero)
    conv = torch.randn(6, 3, 2, 2, generator=gen(2))
    conv[1] = conv[1].abs()
    c, n = _coherence_reference(conv)
    assert float(S.row_sign_coherence(conv)) == pytest.approx(c / n)
    assert math.isnan(float(S.row_sign_coherence(torch.zeros(4, 3))))


def test_row_sign_counter_counts_each_gradient_like_a_loop():
    grads = [torch.randn(5, 3, generator=gen(i)) for i in range(3)] + [torch.randn(4, 2, 2, generator=gen(9)).abs()]
    grads[1][2] = 0.0
    grads[2][0] = -grads[2][0].abs()
    counter = S.RowSignCounter([g.shape[0] for g in grads], grads[0])
    for step in range(2):  # the buffer is reused: a second round counts afresh
        for k, g in enumerate(grads):
            counter.write(k, g if step == 0 else -g)
        got = counter.counts()
        assert got.shape == (4, 3)
        for k, g in enumerate(grads):
            pos, neg, both = got[k].tolist()
            assert (pos + neg - 2 * both, pos + neg - both) == _coherence_reference(g), (step, k)
            assert (pos, neg) == ((_signs(g, 1), _signs(g, -1)) if step == 0 else (_signs(g, -1), _signs(g, 1)))
    counter.write(0, torch.tensor([[1.0, -1.0], [float("nan"), 2.0], [0.0, 0.0], [-3.0, -0.0], [5.0, 0.0]]))
    assert counter.counts()[0].tolist() == [2.0, 2.0, 1.0]  # NaN rows count as neither; -0.0 is not negative


def _signs(g: torch.Tensor, sign: int) -> int:
    """Rows of ``g`` with an entry of this sign, by a loop."""
    return sum(1 for row in g.reshape(g.shape[0], -1).tolist() if any(v * sign > 0 for v in row))


def test_row_coherence_is_one_for_a_batch_one_gradient_with_positive_inputs():
    # the sign-coherence claim: dL/dW = delta x^T with x > 0 makes every row one-signed
    lin = nn.Linear(5, 4)
    x = torch.rand(1, 5, generator=gen()) + 0.1
    lin(x).pow(3).sum().backward()
    assert float(S.row_sign_coherence(lin.weight.grad)) == 1.0


def test_update_ratio_matches_float64():
    before = torch.randn(20, 10, generator=gen())
    after = before + 1e-3 * torch.randn(20, 10, generator=gen(1))
    ref = np.linalg.norm((after.double() - before.double()).numpy()) / np.linalg.norm(before.double().numpy())
    assert float(S.update_ratio(before, after)) == pytest.approx(ref, rel=1e-4)


# --- schedules -------------------------------------------------------------------------------


def test_schedules():
    assert [t for t in range(25) if schedules.every(10)(t)] == [0, 10, 20]
    assert [t for t in range(25) if schedules.every(10, start=3)(t)] == [3, 13, 23]
    assert [t for t in range(9) if schedules.at(2, 5)(t)] == [2, 5]
    u = schedules.union(schedules.at(1), schedules.every(4))
    assert [t for t in range(9) if u(t)] == [0, 1, 4, 8]


@pytest.mark.parametrize("bad", [0, -1, 2.5, "10", True])
def test_every_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="every"):
        schedules.every(bad)


def test_check_schedule_needs_a_function_returning_bool():
    with pytest.raises(TypeError, match="bool"):
        schedules.check_schedule(lambda step: step % 2)
    with pytest.raises(TypeError, match="function"):
        schedules.check_schedule(10)


# --- sites -----------------------------------------------------------------------------------


@pytest.mark.parametrize("module, label", [
    (nn.ReLU(), "relu"), (nn.ReLU(inplace=True), "relu"), (nn.Sigmoid(), "sigmoid"), (nn.Tanh(), "tanh"),
    (nn.LeakyReLU(0.2), "leaky_relu(negative_slope=0.2)"), (nn.ELU(0.5), "elu(alpha=0.5)"), (nn.SELU(), "selu"),
    (nn.GELU(), "gelu"), (nn.GELU(approximate="tanh"), "gelu_tanh"), (nn.SiLU(), "silu"), (nn.Mish(), "mish"),
    (nn.Softplus(), "softplus"), (nn.Softsign(), "softsign"), (nn.Hardsigmoid(), "hard_sigmoid"),
    (nn.Hardtanh(), "hard_tanh"), (nn.ReLU6(), "hard_tanh(min_val=0.0, max_val=6.0)"),
    (LeCunTanh(), "lecun_tanh"), (SigmoidCentered(), "sigmoid_centered"), (TanhShifted(), "tanh_shifted"),
    (MaxoutPool(3), "maxout(k=3)"), (nn.PReLU(), "prelu"), (nn.Hardswish(), "hardswish"),
])
def test_every_activation_module_is_a_site(module, label):
    info = module_activation(module, 0.05)
    assert info is not None and info.label == label


def test_non_activation_modules_are_not_sites():
    for m in (nn.Linear(2, 2), nn.Conv2d(1, 1, 1), nn.Sequential(), nn.Dropout(), nn.LayerNorm(3)):
        assert module_activation(m, 0.05) is None


def test_saturation_threshold_and_sides_come_from_the_registry():
    sig = module_activation(nn.Sigmoid(), 0.05)
    assert sig.saturation_threshold == pytest.approx(0.05 * 0.25) and sig.two_sided
    relu = module_activation(nn.ReLU(), 0.05)
    assert relu.relu and relu.saturating and not relu.two_sided
    leaky = module_activation(nn.LeakyReLU(), 0.05)
    assert not leaky.saturating and leaky.derivative is None  # declared non-saturating: 0 by definition


@pytest.mark.parametrize("fn", [F.relu, torch.relu, torch.Tensor.relu, torch.relu_, torch.sigmoid, torch.Tensor.sigmoid,
                                torch.tanh, torch.Tensor.tanh, F.gelu, F.silu, F.mish, F.elu, F.selu, F.leaky_relu,
                                F.softplus, F.softsign, F.hardsigmoid, F.hardtanh, F.relu6, torch.special.expit])
def test_functional_table_covers_the_common_functions(fn):
    assert fn in FUNCTIONAL_ACTIVATIONS


def test_registry_derivative_matches_autograd_where_the_monitor_uses_it():
    # the saturation statistic relies on act.derivative; check it against autograd here too
    x = torch.linspace(-6, 6, 241, dtype=torch.float64, requires_grad=True)
    for name in ("sigmoid", "tanh", "gelu", "silu", "softsign", "elu"):
        act = get(name)
        (auto,) = torch.autograd.grad(act(x).sum(), x)
        assert torch.allclose(act.derivative(x.detach()), auto, atol=1e-10), name


# --- findings ----------------------------------------------------------------------------------


def _record(step=10, window=5, **parts):
    rec = {"type": "step", "step": step, "window": window, "activations": {}, "parameters": {}}
    for k, v in parts.items():
        rec[k].update(v)
    return rec


def _site(**kw):
    base = {"activation": "sigmoid", "mean": 0.1, "std": 1.0, "zero_centring": 0.1, "saturated_fraction": 0.0,
            "dead_fraction": 0.0, "dead_window": 5, "units": 100, "two_sided": True, "nan_count": 0}
    base.update(kw)
    return base


def _kinds(findings):
    return {(f.kind, f.severity, f.layer.split(" ")[0]) for f in findings}


def test_findings_fire_at_their_thresholds_and_not_below():
    th = Thresholds()
    recs = [_record(activations={
        "sat": _site(saturated_fraction=0.6),
        "sat_hi": _site(saturated_fraction=0.95),
        "sat_relu": _site(activation="relu", two_sided=False, saturated_fraction=0.95),
        "fine": _site(saturated_fraction=0.49, zero_centring=0.99, dead_fraction=0.09),
        "dead": _site(activation="relu", two_sided=False, dead_fraction=0.2),
        "dead_hi": _site(activation="relu", two_sided=False, dead_fraction=0.5),
        "dead_short": _site(activation="relu", two_sided=False, dead_fraction=0.9, dead_window=3),
        "offcentre": _site(mean=2.0, std=1.0, zero_centring=2.0),
    })]
    got = _kinds(diagnose(recs, th))
    assert got == {
        ("saturation", "warning", "sat"), ("saturation", "critical", "sat_hi"),
        ("dead_units", "warning", "dead"), ("dead_units", "critical", "dead_hi"),
        ("not_zero_centred", "warning", "offcentre"),
    }


def test_findings_use_the_median_over_recent_steps():
    recs = [_record(step=s, activations={"a": _site(saturated_fraction=v)}) for s, v in
            enumerate([0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.9])]
    assert not diagnose(recs, Thresholds(recent=5))  # median of the last 5 is 0.1
    assert _kinds(diagnose(recs, Thresholds(recent=1))) == {("saturation", "critical", "a")}


def test_gradient_findings_across_depth():
    def params(g_in, g_out):
        return {"w_in": {"shape": [4, 4], "depth": 0, "grad_norm": g_in},
                "mid": {"shape": [4, 4], "depth": 1, "grad_norm": 1.0},
                "b": {"shape": [4], "depth": 1, "grad_norm": 1e-9},
                "w_out": {"shape": [4, 4], "depth": 2, "grad_norm": g_out}}
    assert _kinds(diagnose([_record(parameters=params(1e-3, 1.0))])) == {("vanishing_gradients", "warning", "w_in")}
    assert _kinds(diagnose([_record(parameters=params(1e3, 1.0))])) == {("exploding_gradients", "warning", "w_in")}
    assert not diagnose([_record(parameters=params(0.5, 1.0))])
    assert ("non_finite", "critical", "w_in") in _kinds(diagnose([_record(parameters=params(math.inf, 1.0))]))


def test_update_ratio_findings():
    def p(r):
        return {"w": {"shape": [3, 3], "depth": 0, "update_ratio": r}, "b": {"shape": [3], "update_ratio": 1.0}}

    def rec(r, step=500, **kw):
        return _record(step=step, parameters=p(r), **kw)
    assert _kinds(diagnose([rec(0.05)])) == {("update_ratio_high", "warning", "w")}
    assert _kinds(diagnose([rec(1e-5)])) == {("update_ratio_low", "info", "w")}
    assert _kinds(diagnose([rec(0.0)])) == {("not_updated", "warning", "w")}
    assert not diagnose([rec(1e-3)])
    assert _kinds(diagnose([rec(1e-3)], Thresholds(update_ratio_high=5e-4, update_ratio_target=2e-4,
                                                   update_ratio_low=1e-4)))


def test_update_ratio_band_follows_the_optimizer_family_and_warm_up():
    def rec(r, step=500, family=None):
        out = _record(step=step, parameters={"w": {"shape": [3, 3], "depth": 0, "update_ratio": r}})
        if family:
            out["optimizer"] = {"name": "AdamW" if family == "adaptive" else "SGD", "family": family, "lr": 1e-3}
        return out
    # Adam's ratio is about lr / rms(w): 0.05 is lr 1e-3 on weights of rms 0.02, healthy
    assert not diagnose([rec(0.05, family="adaptive")])
    assert _kinds(diagnose([rec(0.05, family="sgd")])) == {("update_ratio_high", "warning", "w")}
    high = diagnose([rec(0.3, family="adaptive")])
    assert _kinds(high) == {("update_ratio_high", "warning", "w")} and "AdamW" in high[0].evidence
    assert high[0].threshold == Thresholds().update_ratio_high_adaptive
    # warm-up (step < 100): nothing below the band, above it only 10x beyond
    assert not diagnose([rec(0.05, step=60, family="sgd")])
    assert not diagnose([rec(1e-6, step=60, family="sgd")])
    assert _kinds(diagnose([rec(0.2, step=60, family="sgd")])) == {("update_ratio_high", "warning", "w")}
    assert diagnose([rec(0.05, step=60)], Thresholds(warmup_steps=50))  # past a shorter warm-up


def test_loss_findings_flat_and_diverged():
    def recs(losses, every=50):
        return [dict(_record(step=i * every), loss=v) for i, v in enumerate(losses)]
    flat = diagnose(recs([0.6931, 0.6930, 0.6935, 0.6929, 0.6932, 0.6931, 0.6930]))
    assert _kinds(flat) == {("loss_not_decreasing", "warning", "loss")}
    assert "0.6931 at step 0" in flat[0].evidence
    assert not diagnose(recs([0.69, 0.5, 0.4, 0.35]))  # learning
    assert not diagnose(recs([0.6931, 0.6930, 0.6931], every=20))  # 40 steps: too early to say
    assert _kinds(diagnose(recs([0.7, 0.9, 2.0, 3.0, 5.0]))) == {("loss_diverged", "critical", "loss")}
    assert _kinds(diagnose(recs([0.7, 0.6, math.nan]))) == {("loss_diverged", "critical", "loss")}


def test_findings_never_give_opposite_advice():
    # dead ReLUs (lower the lr) beside tiny updates on the layers they starve (raise it):
    # the dead units explain the tiny updates, which are not reported apart
    params = {f"l{i}.weight": {"shape": [8, 8], "depth": i, "update_ratio": 1e-6, "grad_norm": 1.0} for i in range(4)}
    acts = {"relu": _site(activation="relu", two_sided=False, dead_fraction=0.9, dead_window=5, zero_centring=0.1)}
    recs = [dict(_record(step=300 + i, activations=acts, parameters=params), loss=0.69) for i in range(5)]
    recs[0]["step"], recs[0]["loss"] = 0, 0.6931
    found = diagnose(recs)
    assert {f.kind for f in found} == {"dead_units"}, [str(f) for f in found]
    assert "It also explains" in found[0].evidence and "l0.weight (update_ratio_low)" in found[0].evidence
    for f in found:
        assert "raise" not in f.suggestion
    # without the cause, the tiny updates are reported
    assert {f.kind for f in diagnose([_record(step=300, parameters=params)])} == {"update_ratio_low"}


def test_non_finite_activations_are_critical_and_findings_are_sorted():
    recs = [_record(activations={"x": _site(mean=math.nan, std=math.nan), "y": _site(zero_centring=5.0)})]
    got = diagnose(recs)
    assert [f.severity for f in got] == ["critical", "warning"]
    assert got[0].kind == "non_finite" and "NaN" in got[0].evidence
    assert str(got[1]).startswith("[warning] y")


def test_thresholds_are_checked_and_every_one_has_a_source():
    assert set(THRESHOLD_SOURCES) == set(Thresholds.__dataclass_fields__)
    with pytest.raises(ValueError, match="dead_fraction"):
        Thresholds(dead_fraction=0.5, dead_critical=0.4)
    with pytest.raises(ValueError, match="fraction"):
        Thresholds(saturated_critical=1.5)
    with pytest.raises(ValueError, match="positive"):
        Thresholds(vanishing_ratio=-1)
    with pytest.raises(ValueError, match="recent"):
        Thresholds(recent=2.5)


def _segment_reference(t: torch.Tensor, bins: int):
    """One tensor's histogram over [-m, m] by a loop, in float64."""
    values = t.double().reshape(-1).tolist()
    m = max(abs(v) for v in values)
    counts = [0] * bins
    for v in values:
        if m == 0:
            i = bins // 2
        else:
            i = min(int((v / m + 1) * bins / 2), bins - 1)
        counts[i] += 1
    return counts, m, sum(v > 0 for v in values) / len(values)


def test_segment_histograms_match_a_loop_per_tensor():
    gen = torch.Generator().manual_seed(3)
    tensors = [torch.randn(5, 7, generator=gen), torch.randn(16, 3, 3, 3, generator=gen) * 1e-3,
               torch.zeros(4), torch.tensor([2.0, -2.0, 0.0, 1.0]), torch.rand(30, generator=gen)]
    hist = S.SegmentHistogram([t.shape for t in tensors], bins=10, cap=4096, device="cpu")
    counts, scale, positive = hist(tensors)
    for k, t in enumerate(tensors):
        ref_counts, ref_m, ref_pos = _segment_reference(t, 10)
        assert counts[k].tolist() == ref_counts, k
        assert scale[k].item() == pytest.approx(ref_m, rel=1e-6)
        assert positive[k].item() == pytest.approx(ref_pos, abs=1e-7)


def test_segment_histograms_sample_large_tensors_evenly():
    t = torch.arange(-5000, 5000, dtype=torch.float32).reshape(100, 100)
    hist = S.SegmentHistogram([t.shape], bins=4, cap=1000, device="cpu")
    counts, scale, positive = hist([t])
    stride = S.sample_stride(t.numel(), 100, 1000)
    sample = t.reshape(-1)[::stride]
    assert counts.sum().item() == sample.numel() <= 1000
    ref_counts, ref_m, ref_pos = _segment_reference(sample, 4)
    assert counts[0].tolist() == ref_counts and positive.item() == pytest.approx(ref_pos)
