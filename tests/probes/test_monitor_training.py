"""Training with the monitor is bit-identical to training without it, and the
findings name the pathologies of deliberately broken networks."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from actlab.probes import Monitor, Thresholds, every, union


class Mixed(nn.Module):
    """Module, in-place module used twice, functional and in-place functional activations, dropout."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2, self.fc3, self.fc4 = nn.Linear(12, 16), nn.Linear(16, 16), nn.Linear(16, 16), nn.Linear(16, 3)
        self.act = nn.ReLU(inplace=True)
        self.sig = nn.Sigmoid()
        self.drop = nn.Dropout(0.2)

    def forward(self, x):
        h = self.act(self.fc1(x))
        h = self.drop(self.sig(self.fc2(h)))
        h = self.act(self.fc3(h) - 0.1)
        h = F.gelu(torch.tanh(h))
        return self.fc4(F.leaky_relu(h, 0.1, inplace=True))


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, padding=1), nn.ELU(inplace=True), nn.Dropout2d(0.1),
        nn.Flatten(), nn.Linear(6 * 4 * 4, 10), nn.Hardtanh(inplace=True), nn.Linear(10, 3))


def transformer() -> nn.Module:
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, batch_first=True)
    return nn.Sequential(nn.TransformerEncoder(layer, 2, enable_nested_tensor=False), nn.Flatten(), nn.Linear(8 * 4, 3))


def run(model: nn.Module, shape: tuple[int, ...], steps: int, opt_cls, monitor_kwargs: dict | None):
    torch.manual_seed(123)
    opt = opt_cls(model.parameters(), lr=0.01)
    mon = Monitor(model, **monitor_kwargs).attach() if monitor_kwargs is not None else None
    for _ in range(steps):
        x, y = torch.randn(*shape), torch.randint(0, 3, (shape[0],))
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        if mon is not None:
            mon.step()
    if mon is not None:
        mon.detach()
    return model, opt, torch.get_rng_state(), mon


@pytest.mark.parametrize("build, shape, opt_cls, kwargs", [
    (Mixed, (16, 12), torch.optim.SGD, {"every": 1}),
    (Mixed, (16, 12), lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9), {"schedule": union(every(3), every(5))}),
    (cnn, (8, 1, 8, 8), torch.optim.Adam, {"every": 2, "stats": "all"}),
    (transformer, (4, 4, 8), torch.optim.Adam, {"every": 1}),
], ids=["mlp-every-step", "mlp-momentum-schedule", "cnn-adam", "transformer-adam"])
def test_training_is_bit_identical_with_and_without_the_monitor(build, shape, opt_cls, kwargs):
    torch.manual_seed(0)
    base = build()
    plain, plain_opt, plain_rng, _ = run(copy.deepcopy(base), shape, 12, opt_cls, None)
    watched, watched_opt, watched_rng, mon = run(copy.deepcopy(base), shape, 12, opt_cls, kwargs)
    assert len(mon.history) > 0 and mon.sites
    for (name, a), b in zip(plain.state_dict().items(), watched.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    for a, b in zip(plain_opt.state.values(), watched_opt.state.values(), strict=True):
        for key in a:
            assert torch.equal(torch.as_tensor(a[key]), torch.as_tensor(b[key])), key
    assert torch.equal(plain_rng, watched_rng)  # the monitor draws no random numbers


def fit(model, steps=30, lr=0.05, batch=64, dim=20, **monitor_kwargs):
    torch.manual_seed(1)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    with Monitor(model, every=1, **monitor_kwargs) as mon:
        for _ in range(steps):
            x = torch.randn(batch, dim)
            opt.zero_grad()
            F.cross_entropy(model(x), (x[:, 0] > 0).long()).backward()
            opt.step()
            mon.step()
    return mon.findings()


def kinds(findings) -> set[tuple[str, str]]:
    return {(f.kind, f.layer.split(" ")[0]) for f in findings}


def test_saturated_sigmoid_layer_is_found():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 32), nn.Sigmoid(), nn.Linear(32, 2))
    with torch.no_grad():
        model[0].weight.mul_(100.0)
    found = fit(model, steps=6)
    sat = [f for f in found if f.kind == "saturation"]
    assert sat and sat[0].layer.startswith("1 ") and sat[0].severity == "critical" and sat[0].value > 0.9
    assert "Glorot" in sat[0].source


def test_dead_relu_units_are_found():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(inplace=True), nn.Linear(32, 2))
    with torch.no_grad():
        model[0].bias[:16] = -100.0  # half the units never fire
    found = fit(model, steps=8)
    dead = [f for f in found if f.kind == "dead_units"]
    assert len(dead) == 1 and dead[0].severity == "critical" and dead[0].value >= 0.5
    assert "40%" in dead[0].source  # CS231n's number


def test_vanishing_gradients_in_a_deep_sigmoid_net_are_found():
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for _ in range(10):
        layers += [nn.Linear(20, 20), nn.Sigmoid()]
    model = nn.Sequential(*layers, nn.Linear(20, 2))
    found = fit(model, steps=5)
    assert ("vanishing_gradients", "0.weight") in kinds(found)
    # and the sigmoid outputs feed every next layer off-centre
    assert ("not_zero_centred", "1") in kinds(found)


def test_exploding_gradients_are_found():
    # inputs 1000x too large (and first weights 1000x too small, so the forward pass is
    # unchanged): the first layer's gradient dL/dW = delta x^T is 1000x too large
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 20), nn.Tanh(), nn.Linear(20, 20), nn.Tanh(), nn.Linear(20, 2))
    with torch.no_grad():
        model[0].weight.div_(1000.0)
    scaled = nn.Sequential(Scale(1000.0), model)
    found = fit(scaled, steps=3, lr=1e-6)
    assert ("exploding_gradients", "1.0.weight") in kinds(found)


class Scale(nn.Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


def test_a_too_high_learning_rate_shows_in_the_update_ratio():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 32), nn.Tanh(), nn.Linear(32, 2))
    assert any(f.kind == "update_ratio_high" for f in fit(model, steps=6, lr=20.0))
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 32), nn.Tanh(), nn.Linear(32, 2))
    low = fit(model, steps=6, lr=1e-5, start_step=200)  # past warm-up (Thresholds.warmup_steps)
    assert {f.kind for f in low} == {"update_ratio_low"}
    # in warm-up a small ratio is not reported, and a high one only 10x beyond the band
    assert not fit(copy.deepcopy(model), steps=6, lr=1e-5)


def test_thresholds_are_configurable():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 32), nn.Tanh(), nn.Linear(32, 2))
    quiet = fit(model, steps=6, lr=1e-5, start_step=200, thresholds=Thresholds(update_ratio_low=1e-9, update_ratio_target=1e-8,
                                                                update_ratio_high=1e-2))
    assert not quiet


def test_a_healthy_tanh_net_has_no_warning():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 2))
    found = fit(model, steps=20, lr=0.01)
    assert not [f for f in found if f.severity != "info"], [str(f) for f in found]
