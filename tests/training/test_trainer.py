"""The shared trainer: same steps as a hand-written loop, deterministic, divergence recorded."""

from __future__ import annotations

import math

import pytest
import torch

from actlab.training.models import INITS, build_cnn, build_mlp, init_weights
from actlab.training.settings import torch_threads
from actlab.training.trainer import Tensors, TrainConfig, steps_to_target, train
from actlab.training.workers import run_tasks


def blobs(n: int = 600, d: int = 20, classes: int = 3, seed: int = 0) -> Tensors:
    """Gaussian blobs: learnable, tiny."""
    g = torch.Generator().manual_seed(seed)
    centers = 2 * torch.randn(classes, d, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    x = centers[y] + torch.randn(n, d, generator=g)
    return Tensors(x[: n * 4 // 5], y[: n * 4 // 5], x[n * 4 // 5 :], y[n * 4 // 5 :])


def test_trainer_takes_exactly_the_steps_of_a_plain_loop():
    data = blobs()
    cfg = TrainConfig(steps=37, batch_size=16, lr=0.1, momentum=0.9, seed=5, eval_every=10)
    model = build_mlp(20, 32, 2, 3, "tanh", seed=1)
    train(model, data, cfg)

    ref = build_mlp(20, 32, 2, 3, "tanh", seed=1)
    g = torch.Generator().manual_seed(5)
    opt = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    step, n = 0, len(data.x_train)
    with torch_threads(1):  # the trainer's default
        while step < 37:
            perm = torch.randperm(n, generator=g)
            for i in range(0, n - 16 + 1, 16):
                idx = perm[i : i + 16]
                loss = torch.nn.functional.cross_entropy(ref(data.x_train[idx]), data.y_train[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                step += 1
                if step == 37:
                    break
    for a, b in zip(model.parameters(), ref.parameters()):
        assert torch.equal(a, b)


def test_training_learns_and_curves_are_consistent():
    data = blobs()
    hist = train(build_mlp(20, 32, 1, 3, "relu", seed=0), data, TrainConfig(steps=120, batch_size=32, lr=0.1, eval_every=20))
    assert hist.steps == [0, 20, 40, 60, 80, 100, 120]
    assert hist.train_error[0] > 0.3 and hist.train_error[-1] < 0.1
    assert hist.diverged_at is None and hist.steps_run == 120
    # steps_to_target read off the stored curve, by a plain scan
    target = 0.25
    expected = next(s for s, e in zip(hist.steps, hist.train_error) if e <= target)
    assert steps_to_target(hist.steps, hist.train_error, target) == expected
    assert steps_to_target(hist.steps, hist.train_error, -1.0) is None


def test_training_is_deterministic():
    data = blobs()
    cfg = TrainConfig(steps=50, batch_size=16, lr=0.1, eval_every=10, seed=3)
    a = train(build_mlp(20, 16, 2, 3, "elu", seed=2), data, cfg)
    b = train(build_mlp(20, 16, 2, 3, "elu", seed=2), data, cfg)
    assert a.as_dict() == b.as_dict()


def test_divergence_is_recorded_not_raised():
    data = blobs()
    data = Tensors(data.x_train * 1e3, data.y_train, data.x_test * 1e3, data.y_test)
    hist = train(build_mlp(20, 64, 3, 3, "relu", seed=0), data, TrainConfig(steps=200, batch_size=16, lr=50.0, eval_every=5))
    assert hist.diverged_at is not None and hist.diverged_at < 200
    assert math.isnan(hist.train_error[-1]) and hist.steps[-1] == hist.diverged_at
    assert steps_to_target(hist.steps, hist.train_error, 0.0) is None or hist.train_error[0] == 0.0


def test_stop_at_error_stops_early():
    hist = train(build_mlp(20, 32, 1, 3, "relu", seed=0), blobs(),
                 TrainConfig(steps=1000, batch_size=32, lr=0.1, eval_every=10, stop_at_error=0.2))
    assert hist.steps_run < 1000 and hist.train_error[-1] <= 0.2


@pytest.mark.parametrize("bad", [dict(steps=0), dict(lr=-1.0), dict(batch_size=0), dict(momentum=1.5), dict(stop_at_error=2.0)])
def test_bad_train_config(bad):
    with pytest.raises(ValueError):
        TrainConfig(**bad)


def test_batch_larger_than_data_is_an_error():
    with pytest.raises(ValueError, match="larger than"):
        train(build_mlp(20, 8, 1, 3, "relu"), blobs(n=50), TrainConfig(batch_size=100))


def _one_run(seed: int) -> list[float]:
    hist = train(build_mlp(20, 16, 1, 3, "tanh", seed=seed), blobs(), TrainConfig(steps=30, batch_size=16, eval_every=10, seed=seed))
    return hist.train_error


def test_parallel_runs_equal_serial_runs():
    tasks = [(s,) for s in range(3)]
    assert run_tasks(_one_run, tasks, workers=2) == run_tasks(_one_run, tasks, workers=1)


@pytest.mark.parametrize("init", INITS)
def test_init_schemes_have_the_documented_scale(init):
    torch.manual_seed(0)
    model = build_mlp(1000, 1000, 1, 10, "relu", init=init, seed=0)
    w = model[0].weight.detach()
    fan_in, fan_out = 1000, 1000
    expected_std = {"default": 1 / math.sqrt(3 * fan_in), "xavier": math.sqrt(2 / (fan_in + fan_out)),
                    "he": math.sqrt(2 / fan_in), "lecun": math.sqrt(1 / fan_in)}[init]
    assert float(w.std()) == pytest.approx(expected_std, rel=0.01)
    if init != "default":
        assert float(model[0].bias.detach().abs().max()) == 0.0


def test_bias_init_and_maxout_width():
    model = build_mlp(10, 8, 2, 3, "maxout", init="he", bias_init=0.01, seed=0)
    assert model[0].out_features == 16 and model[2].in_features == 8  # k=2 pieces per unit
    assert torch.equal(model[0].bias, torch.full((16,), 0.01))
    assert model(torch.randn(4, 10)).shape == (4, 3)
    with pytest.raises(ValueError, match="init 'bogus'"):
        init_weights(model, "bogus")
    with pytest.raises(ValueError, match="width"):
        build_mlp(10, -1, 2, 3, "relu")


def test_cnn_shapes():
    model = build_cnn(1, 28, 10, "relu", seed=0)
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)
