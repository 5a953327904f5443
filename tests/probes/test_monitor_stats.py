"""Every statistic the monitor records, against a slow reference: the same network
evaluated by hand, float64 loops, and autograd for f'(x) and the gradients."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from actlab.activations import get
from actlab.probes import Monitor
from actlab.probes import stats as S

SLOPE = 0.05


class Net(nn.Module):
    """Module sites, an in-place module, a shared in-place module called twice, and
    functional calls (plain, non-monotone, in-place, Tensor method)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.sig = nn.Linear(10, 12), nn.Sigmoid()
        self.fc2, self.relu = nn.Linear(12, 12), nn.ReLU(inplace=True)
        self.fc3 = nn.Linear(12, 12)
        self.fc4, self.elu = nn.Linear(12, 12), nn.ELU(alpha=0.7, inplace=True)
        self.fc5 = nn.Linear(12, 12)
        self.fc6 = nn.Linear(12, 4)

    def forward(self, x):
        return self.stages(x)[1]

    def stages(self, x):
        """([(site name, output, pre-activation, activation name)], logits)."""
        out = []
        z = self.fc1(x); a = self.sig(z); out.append(("sig", a, z.detach().clone(), "sigmoid"))  # noqa: E702
        z = self.fc2(a); zc = z.detach().clone(); a = self.relu(z); out.append(("relu", a, zc, "relu"))  # noqa: E702
        z = self.fc3(a); a = torch.tanh(z); out.append(("tanh()", a, z.detach().clone(), "tanh"))  # noqa: E702
        z = self.fc4(a); zc = z.detach().clone(); a = self.elu(z); out.append(("elu", a, zc, "elu"))  # noqa: E702
        z = self.fc5(a); zc = z.detach().clone(); a = self.elu(z); out.append(("elu#1", a, zc, "elu"))  # noqa: E702
        z = a * 2.0; a = F.gelu(z); out.append(("gelu()", a, z.detach().clone(), "gelu"))  # noqa: E702
        z = a - 0.5; zc = z.detach().clone(); a = F.elu(z, alpha=0.3, inplace=True)  # noqa: E702
        out.append(("elu()", a, zc, "elu_fn"))
        z = a.sigmoid(); out.append(("sigmoid()", z, a.detach().clone(), "sigmoid"))  # noqa: E702
        return out, self.fc6(z)


ACTS = {"sigmoid": get("sigmoid"), "relu": get("relu"), "tanh": get("tanh"), "elu": get("elu", alpha=0.7),
        "gelu": get("gelu"), "elu_fn": get("elu", alpha=0.3)}


def autograd_derivative(name: str, z: torch.Tensor) -> torch.Tensor:
    z = z.detach().clone().requires_grad_(True)
    (d,) = torch.autograd.grad(ACTS[name](z).sum(), z)
    return d


def reference_site(name: str, y: torch.Tensor, z: torch.Tensor, bins: int, hist_range) -> dict:
    vals = [float(v) for v in y.detach().double().reshape(-1)]
    n = len(vals)
    mean = sum(vals) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in vals) / n)
    act = ACTS[name]
    d = autograd_derivative(name, z).abs()
    thr = SLOPE * act.properties.max_abs_derivative
    saturated = sum(1 for v in d.reshape(-1).tolist() if v < thr) / n
    units = z.shape[-1]
    alive = sum(1 for u in range(units) if any(d[i, u] != 0 for i in range(z.shape[0])))
    lo, hi = hist_range
    hist = [0] * bins
    for v in y.detach().reshape(-1).tolist():
        i = math.floor((v - lo) * bins / (hi - lo))
        hist[min(max(i, 0), bins - 1)] += 1
    return {"mean": mean, "std": std, "zero_centring": abs(mean) / std, "saturated_fraction": saturated,
            "dead_fraction": (units - alive) / units, "histogram": hist}


def one_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, **kw):
    """One SGD step with the monitor; returns the record and a copy of the model before it."""
    before = copy.deepcopy(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with Monitor(model, every=1, **kw) as mon:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        mon.step()
    return mon.history[-1], before


@pytest.fixture(scope="module")
def recorded():
    torch.manual_seed(0)
    model = Net()
    with torch.no_grad():
        model.fc2.bias[:4] = -50.0  # four dead units after the in-place ReLU
        model.fc1.weight.mul_(6.0)  # a partly saturated sigmoid
    x, y = torch.randn(32, 10), torch.randint(0, 4, (32,))
    record, before = one_step(model, x, y, histogram_sample=None, bins=16)
    return record, before, model, x, y


def test_sites_are_named_by_call_place_in_forward_order(recorded):
    record = recorded[0]
    assert list(record["activations"]) == ["sig", "relu", "tanh()", "elu", "elu#1", "gelu()", "elu()", "sigmoid()"]
    meta = record["activations"]
    assert meta["relu"]["call"] == "module" and meta["tanh()"]["call"] == "function"
    assert meta["elu#1"]["module"] == "elu" and meta["elu()"]["activation"] == "elu(alpha=0.3)"
    assert all(s["calls"] == 1 and s["numel"] == 32 * 12 for s in meta.values())


def test_activation_statistics_match_the_slow_reference(recorded):
    record, before, _, x, _ = recorded
    stages = before.stages(x)[0]
    for name, y_ref, z_ref, kind in stages:
        got = record["activations"][name]
        ref = reference_site(kind, y_ref, z_ref, 16, got["histogram_range"])
        n = y_ref.numel()
        assert got["mean"] == pytest.approx(ref["mean"], rel=1e-5, abs=1e-7), name
        assert got["std"] == pytest.approx(ref["std"], rel=1e-4), name
        assert got["zero_centring"] == pytest.approx(ref["zero_centring"], rel=1e-4, abs=1e-6), name
        # f' by autograd vs the registry's analytic f': allow one element on the band's edge
        assert got["saturated_fraction"] == pytest.approx(ref["saturated_fraction"], abs=1.01 / n), name
        assert got["dead_fraction"] == ref["dead_fraction"], name
        assert got["histogram"] == ref["histogram"], name
        assert got["nan_count"] == 0 and got["units"] == 12 and got["dead_window"] == 1
    # the set-up did what it meant to: dead units and saturation are really exercised
    assert record["activations"]["relu"]["dead_fraction"] >= 4 / 12
    assert record["activations"]["sig"]["saturated_fraction"] > 0.2


def test_module_sites_read_the_same_through_hooks_and_through_the_mode():
    """In a model with its own forward the TorchFunctionMode records the activation
    modules; with ``functional=False`` their hooks do (a pre-hook for the in-place ELU).
    Same ops in the same order: the same numbers, to the bit."""
    torch.manual_seed(0)
    model = Net()
    x, y = torch.randn(32, 10), torch.randint(0, 4, (32,))
    by_mode, _ = one_step(copy.deepcopy(model), x, y, histogram_sample=None, bins=16)
    by_hooks, _ = one_step(copy.deepcopy(model), x, y, histogram_sample=None, bins=16, functional=False)
    modules = ["sig", "relu", "elu", "elu#1"]
    assert list(by_hooks["activations"]) == modules
    def without_order(sites: dict) -> dict:  # "order" counts the functional sites too
        return {k: {f: v for f, v in sites[k].items() if f != "order"} for k in modules}

    assert without_order(by_mode["activations"]) == without_order(by_hooks["activations"])
    assert by_mode["parameters"] == by_hooks["parameters"]


def test_parameter_statistics_match_autograd_and_float64(recorded):
    record, before, after, x, y = recorded
    F.cross_entropy(before(x), y).backward()
    for (name, p0), p1 in zip(before.named_parameters(), after.parameters(), strict=True):
        got = record["parameters"][name]
        g = p0.grad.double()
        assert got["grad_norm"] == pytest.approx(math.sqrt(sum(v * v for v in g.reshape(-1).tolist())), rel=1e-5)
        w0, w1 = p0.detach().double(), p1.detach().double()
        ref_ratio = math.sqrt(((w1 - w0) ** 2).sum()) / math.sqrt((w0 ** 2).sum())
        assert got["update_ratio"] == pytest.approx(ref_ratio, rel=1e-3), name
        assert got["shape"] == list(p0.shape)
        if p0.ndim == 2:
            coherent = nonzero = 0
            for row in g.tolist():
                signs = {v > 0 for v in row if v != 0}
                nonzero += bool(signs)
                coherent += len(signs) == 1
            assert got["nonzero_rows"] == nonzero
            assert got["sign_coherence"] == pytest.approx(coherent / nonzero), name
        else:
            assert "sign_coherence" not in got
    # depth comes from the order gradients arrive in (backward runs the last layer first)
    depth = {n: p["depth"] for n, p in record["parameters"].items() if n.endswith("weight")}
    assert [n for n, _ in sorted(depth.items(), key=lambda kv: kv[1])] == [f"fc{i}.weight" for i in range(1, 7)]


def test_dead_rows_make_the_next_layer_gradient_rows_zero_and_left_out(recorded):
    # fc2's dead units pass no gradient: those rows of fc2.weight.grad are all zero
    record = recorded[0]
    dead = round(record["activations"]["relu"]["dead_fraction"] * 12)
    assert record["parameters"]["fc2.weight"]["nonzero_rows"] == 12 - dead


def test_default_histogram_is_an_even_sample_counted_exactly():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 200), nn.Tanh(), nn.Linear(200, 2))
    x, y = torch.randn(50, 64), torch.randint(0, 2, (50,))
    record, before = one_step(model, x, y, histogram_sample=1000, bins=10)
    with torch.no_grad():
        a = before[1](before[0](x))
    stride = S.sample_stride(a.numel(), 200, 1000)
    sample = a.reshape(-1)[::stride]
    got = record["activations"]["1"]
    assert sum(got["histogram"]) == sample.numel() <= 1000
    ref = [0] * 10
    for v in sample.tolist():
        ref[min(max(math.floor((v + 1) * 10 / 2), 0), 9)] += 1
    assert got["histogram"] == ref and got["histogram_range"] == [-1.0, 1.0]
    # the other statistics still use every value
    assert got["mean"] == pytest.approx(float(a.double().mean()), rel=1e-5, abs=1e-7)


def test_gradient_accumulation_pools_the_micro_batches():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.Sigmoid(), nn.Linear(7, 2))
    xs = [torch.randn(6, 5), torch.randn(9, 5)]
    ys = [torch.randint(0, 2, (6,)), torch.randint(0, 2, (9,))]
    before = copy.deepcopy(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with Monitor(model, every=1) as mon:
        opt.zero_grad()
        for x, y in zip(xs, ys, strict=True):
            F.cross_entropy(model(x), y).backward()
        opt.step()
        mon.step()
    rec = mon.history[0]
    site = rec["activations"]["1"]
    with torch.no_grad():
        a = torch.cat([before[1](before[0](x)) for x in xs]).double()
    assert site["calls"] == 2 and site["numel"] == 15 * 7 and rec["forwards"] == 2
    assert site["mean"] == pytest.approx(float(a.mean()), rel=1e-6)
    assert site["std"] == pytest.approx(float(a.std(correction=0)), rel=1e-5)
    for x, y in zip(xs, ys, strict=True):
        F.cross_entropy(before(x), y).backward()
    assert rec["parameters"]["0.weight"]["grad_norm"] == pytest.approx(float(before[0].weight.grad.norm()), rel=1e-5)


def test_cnn_with_inplace_relu_counts_channels_as_units():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 6, 3, padding=1), nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(6 * 5 * 5, 3))
    with torch.no_grad():
        model[0].bias[:2] = -100.0  # channels 0 and 1 never fire
    x, y = torch.randn(8, 2, 5, 5), torch.randint(0, 3, (8,))
    record, before = one_step(model, x, y)
    with torch.no_grad():
        z = before[0](x)
    got = record["activations"]["1"]
    assert got["units"] == 6
    dead = sum(1 for c in range(6) if not (z[:, c] > 0).any())
    assert dead >= 2 and got["dead_fraction"] == dead / 6
    assert got["saturated_fraction"] == pytest.approx(float((z <= 0).double().mean()))
    assert got["mean"] == pytest.approx(float(z.relu().double().mean()), rel=1e-5)


def test_dead_units_need_the_whole_window():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2))
    with torch.no_grad():
        model[0].bias.fill_(10.0)  # every unit alive at first
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    deads, windows = [], []
    with Monitor(model, every=1, window=3, stats=["dead_fraction"]) as mon:
        for step in range(6):
            if step == 1:
                with torch.no_grad():
                    model[0].bias[0] = -1e3  # unit 0 stops firing from step 1 on
            opt.zero_grad()
            model(torch.randn(8, 4)).sum().backward()
            opt.step()
            mon.step()
    for rec in mon.history:
        deads.append(rec["activations"]["1"]["dead_fraction"])
        windows.append(rec["activations"]["1"]["dead_window"])
    assert windows == [1, 2, 3, 3, 3, 3]
    assert deads == [0.0, 0.0, 0.0, 0.2, 0.2, 0.2]  # dead once steps 1-3 fill the window


def test_transformer_encoder_functional_sites():
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, activation="gelu")
    model = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    with Monitor(model, every=1, stats=["mean", "saturated_fraction"]) as mon:
        model(torch.randn(3, 4, 8)).sum().backward()
        mon.step()
    acts = mon.history[0]["activations"]
    assert list(acts) == ["layers.0.gelu()", "layers.1.gelu()"]
    assert all(a["numel"] == 3 * 4 * 16 and a["activation"] == "gelu" for a in acts.values())


def test_statistics_subset_records_only_those():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    record, _ = one_step(model, torch.randn(5, 3), torch.randint(0, 2, (5,)), stats=["std", "grad_norm"])
    site = record["activations"]["1"]
    assert "std" in site and not {"mean", "histogram", "dead_fraction", "saturated_fraction"} & set(site)
    assert set(record["parameters"]["0.weight"]) == {"shape", "depth", "grad_norm"}


def test_non_saturating_and_output_only_sites():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(), nn.Linear(4, 4), nn.Hardswish(), nn.Linear(4, 2))
    x = torch.randn(5, 3)
    record, before = one_step(model, x, torch.randint(0, 2, (5,)))
    leaky, hsw = record["activations"]["1"], record["activations"]["3"]
    assert leaky["saturated_fraction"] == 0.0 and leaky["dead_fraction"] == 0.0  # none by declaration
    assert hsw["saturated_fraction"] is None and hsw["dead_fraction"] is None  # not in the zoo: unknown
    with torch.no_grad():
        ref = before[:4](x).double()
    assert hsw["mean"] == pytest.approx(float(ref.mean()), rel=1e-5, abs=1e-7)
    assert hsw["std"] == pytest.approx(float(ref.std(correction=0)), rel=1e-4)


def test_nan_activations_are_counted_not_fatal():
    model = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid())
    with torch.no_grad():
        model[0].weight[0, 0] = math.nan
    with Monitor(model, every=1, stats="activations") as mon:
        model(torch.randn(5, 3))
        mon.step()
    site = mon.history[0]["activations"]["1"]
    assert site["nan_count"] == 5 and math.isnan(site["mean"])
    assert any(f.kind == "non_finite" for f in mon.findings())


def test_update_ratio_over_consecutive_and_separate_sampled_steps():
    """Consecutive sampled steps reuse the weights' norms measured at the previous step's
    end; after a gap they are measured afresh. Both against float64 snapshots."""
    from actlab.probes import at

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    gen = torch.Generator().manual_seed(3)
    expected = {}
    with Monitor(model, schedule=at(0, 1, 2, 5, 6), stats=["update_ratio"]) as mon:
        for step in range(8):
            before = {n: p.detach().double().clone() for n, p in model.named_parameters()}
            x, y = torch.randn(6, 5, generator=gen), torch.randint(0, 3, (6,), generator=gen)
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
            mon.step()
            expected[step] = {n: (float((p.detach().double() - before[n]).norm() / before[n].norm()),
                                  float(before[n].norm())) for n, p in model.named_parameters()}
    records = {r["step"]: r["parameters"] for r in mon.history}
    assert sorted(records) == [0, 1, 2, 5, 6]
    for step, params in records.items():
        for name, got in params.items():
            ratio, norm = expected[step][name]
            assert got["update_ratio"] == pytest.approx(ratio, rel=1e-4), (step, name)
            assert got["weight_norm"] == pytest.approx(norm, rel=1e-6), (step, name)


def test_parameter_histograms_and_positive_gradient_share_match_the_tensors():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(8, 5), torch.randint(0, 3, (8,))
    with Monitor(model, every=1, bins=8) as mon:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        grads = {n: p.grad.detach().clone().double() for n, p in model.named_parameters()}
        weights = {n: p.detach().clone().double() for n, p in model.named_parameters()}
        mon.step()
    rec = mon.history[-1]["parameters"]
    for name in grads:
        for kind, ref in (("weight", weights[name]), ("grad", grads[name])):
            m = ref.abs().max().item()
            expected = torch.histc(ref.reshape(-1), 8, -m, m).long().tolist()  # float64 reference
            assert rec[name][f"{kind}_histogram"] == expected, (name, kind)
            assert rec[name][f"{kind}_range"] == pytest.approx([-m, m], rel=1e-6)
        assert rec[name]["positive_grad_fraction"] == pytest.approx((grads[name] > 0).double().mean().item(), abs=1e-7)
