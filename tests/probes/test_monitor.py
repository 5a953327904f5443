"""actlab.probes.Monitor: life cycle (attach, detach, re-attach, a second monitor refused),
hooks only on sampled steps, and clear errors or warnings for bad input."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from actlab.probes import Monitor, at


def mlp(act: nn.Module | None = None) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), act or nn.ReLU(), nn.Linear(8, 3))


def train(model, monitor=None, steps=3, opt=None, auto=False):
    opt = opt or torch.optim.SGD(model.parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x, y = torch.randn(5, 6, generator=gen), torch.randint(0, 3, (5,), generator=gen)
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        if monitor is not None and not auto:
            monitor.step()
    return opt


def hook_count(model: nn.Module, opt=None) -> int:
    """Every hook PyTorch keeps on the model, its parameters and the optimizer."""
    n = 0
    for m in model.modules():
        n += len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
        n += len(m._forward_hooks_always_called) + len(m._forward_hooks_with_kwargs)
        n += len(getattr(m, "_backward_pre_hooks", {}))
    for p in model.parameters():
        n += len(p._post_accumulate_grad_hooks or {}) + len(p._backward_hooks or {})
    if opt is not None:
        n += len(opt._optimizer_step_post_hooks) + len(opt._optimizer_step_pre_hooks)
    return n


def mode_depth() -> int:
    return torch._C._len_torch_function_stack()


def test_context_manager_records_and_leaves_no_hook():
    model = mlp()
    with Monitor(model, every=1) as mon:
        train(model, mon, steps=2)
        assert hook_count(model) > 0  # step 2 is sampled: its hooks are in place
    assert hook_count(model) == 0 and mode_depth() == 0
    assert [r["step"] for r in mon.history] == [0, 1]
    assert mon.sites == ["1"] and not mon.attached


def test_unsampled_steps_have_no_hook_at_all():
    model = mlp()
    mon = Monitor(model, schedule=at(0, 3)).attach()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    seen = []
    for _ in range(5):
        seen.append(hook_count(model))
        train(model, mon, steps=1, opt=opt)
    mon.detach()
    assert [c > 0 for c in seen] == [True, False, False, True, False]
    assert [r["step"] for r in mon.history] == [0, 3]


def test_attach_twice_detach_twice_and_reattach_do_not_pile_up():
    model = mlp()
    mon = Monitor(model, every=1)
    mon.attach()
    one = hook_count(model)
    mon.attach()
    assert hook_count(model) == one
    mon.detach()
    mon.detach()
    assert hook_count(model) == 0
    with mon:
        train(model, mon, steps=2)
        assert hook_count(model) == one
    assert hook_count(model) == 0


def test_a_second_monitor_on_the_same_model_is_refused_and_names_the_first():
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    first = Monitor(model, every=1, optimizer=opt).attach()
    one = hook_count(model, opt)
    with pytest.raises(RuntimeError, match=r"already attached to this model.*refused.*attached_to\(model\)\.detach"):
        Monitor(model, every=1, optimizer=opt).attach()
    # a monitor on a submodule overlaps too, and the message says which module
    with pytest.raises(RuntimeError, match="Sequential .a module around this Linear"):
        Monitor(model[0], every=1, stats="parameters").attach()
    assert first.attached and hook_count(model, opt) == one  # the first one goes on working
    train(model, first, steps=2, opt=opt, auto=True)
    assert [r["step"] for r in first.history] == [0, 1]
    assert Monitor.attached_to(model) is first and Monitor.attached_to(model[0]) is first
    Monitor.attached_to(model).detach()
    second = Monitor(model, every=1).attach()  # now it may
    second.detach()
    assert hook_count(model, opt) == 0 and Monitor.attached_to(model) is None


def test_monitors_on_separate_models_coexist():
    a, b = mlp(), mlp()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with Monitor(a, every=1) as ma, Monitor(b, every=1) as mb:
            train(a, ma, steps=1)
            train(b, mb, steps=1)
    assert len(ma.history) == len(mb.history) == 1


def test_an_exception_in_forward_leaves_no_mode_and_detach_cleans_up():
    class Boom(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, x):
            torch.relu(self.lin(x))  # a functional site before the failure
            raise RuntimeError("boom")

    model = Boom()
    with pytest.raises(RuntimeError, match="boom"), Monitor(model, every=1):
        model(torch.randn(2, 3))
    assert mode_depth() == 0 and hook_count(model) == 0


def test_optimizer_hook_steps_the_monitor_and_forbids_a_manual_step():
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with Monitor(model, every=2, optimizer=opt) as mon:
        train(model, mon, steps=5, opt=opt, auto=True)
        assert mon.current_step == 5
        with pytest.raises(RuntimeError, match="optimizer="):
            mon.step()
    assert [r["step"] for r in mon.history] == [0, 2, 4]
    assert hook_count(model, opt) == 0


def test_step_without_attach_is_an_error():
    with pytest.raises(RuntimeError, match="not attached"):
        Monitor(mlp()).step()


def test_paused_and_eval_passes_are_not_recorded():
    model = mlp()
    with Monitor(model, every=1, stats=["mean"]) as mon:
        with mon.paused():
            model(torch.randn(4, 6))
        model.eval()
        model(torch.randn(4, 6))
        model.train()
        model(torch.randn(7, 6))
        mon.step()
    assert mon.history[0]["activations"]["1"]["numel"] == 7 * 8


def test_training_only_false_records_eval_passes():
    model = mlp().eval()
    with Monitor(model, every=1, stats=["mean"], training_only=False) as mon:
        model(torch.randn(4, 6))
        mon.step()
    assert mon.history[0]["activations"]["1"]["numel"] == 4 * 8


@pytest.mark.parametrize("kwargs, match", [
    ({"stats": ["mean", "sturation"]}, "unknown statistic 'sturation'.*saturated_fraction"),
    ({"stats": []}, "empty"),
    ({"every": 0}, "every=0"),
    ({"every": -3}, "every"),
    ({"every": 2.0}, "every"),
    ({"every": 2, "schedule": at(1)}, "not both"),
    ({"layers": ["encoder.*"]}, "matches no module or parameter"),
    ({"layers": lambda name: False}, "matches no module"),
    ({"window": 0}, "window"),
    ({"bins": 0}, "bins"),
    ({"histogram_range": (1.0, -1.0)}, "histogram_range"),
    ({"saturation_slope": 2.0}, "saturation_slope"),
    ({"histogram_sample": 0}, "histogram_sample"),
    ({"flush_every": 0}, "flush_every"),
])
def test_bad_arguments_are_value_errors_with_the_reason(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Monitor(mlp(), **kwargs)


def test_bad_types_are_type_errors():
    with pytest.raises(TypeError, match="nn.Module"):
        Monitor(lambda x: x)
    with pytest.raises(TypeError, match="bool"):
        Monitor(mlp(), schedule=lambda s: s % 2)
    with pytest.raises(TypeError, match="SummaryWriter"):
        Monitor(mlp(), tensorboard=42)
    with pytest.raises(TypeError, match="optimizer"):
        Monitor(mlp(), optimizer="sgd")


def test_a_model_without_activations_warns_clearly():
    model = nn.Sequential(nn.Linear(6, 8), nn.Linear(8, 3))
    with pytest.warns(UserWarning, match="saw no activation"), Monitor(model, every=1) as mon:
        train(model, mon, steps=1)
    # parameter statistics still work
    assert mon.history[0]["parameters"]["0.weight"]["grad_norm"] > 0


def test_parameter_stats_on_a_model_without_parameters_is_an_error():
    with pytest.raises(ValueError, match="no trainable parameter"):
        Monitor(nn.ReLU(), stats="parameters").attach()


def test_a_sampled_step_without_forward_or_backward_warns():
    model = mlp()
    with pytest.warns(UserWarning, match="no forward pass"), Monitor(model, every=1) as mon:
        mon.step()
    with pytest.warns(UserWarning, match="no gradient reached"), Monitor(model, every=1) as mon:
        model(torch.randn(2, 6))
        mon.step()


def test_eval_only_sampled_step_says_why_nothing_was_recorded():
    model = mlp().eval()
    with pytest.warns(UserWarning, match="eval mode were skipped"), Monitor(model, every=1) as mon:
        model(torch.randn(2, 6))
        mon.step()


def test_layer_filter_selects_sites_and_parameters():
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 3))
    with Monitor(model, every=1, layers=["2", "3"]) as mon:
        train(model, mon, steps=1)
    rec = mon.history[0]
    assert list(rec["activations"]) == ["3"]
    assert sorted(rec["parameters"]) == ["2.bias", "2.weight"]


def test_start_step_and_repr():
    model = mlp()
    with Monitor(model, every=10, start_step=20) as mon:
        train(model, mon, steps=1)
        assert "attached" in repr(mon) and mon.current_step == 21
    assert mon.history[0]["step"] == 20


@pytest.mark.parametrize("functional", [True, False])
def test_hooks_never_read_a_tensor_back_to_the_host(monkeypatch, functional):
    """Everything the hooks do stays on the device: reading a tensor's value on the host
    (``.item()``, ``.tolist()``, ``.cpu()``, ``bool(t)``, ...) during the forward and
    backward passes of a sampled step would be a host sync. ``step()`` flushes (the one
    allowed transfer) outside the patched region. With ``functional=True`` the
    TorchFunctionMode records the modules too; with False their hooks do (a pre-hook for
    the in-place ELU)."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.fc3 = nn.Linear(6, 8), nn.Linear(8, 8), nn.Linear(8, 3)
            self.elu = nn.ELU(inplace=True)  # in-place, with a derivative from the input
            self.sig = nn.Sigmoid()

        def forward(self, x):
            h = self.elu(self.fc1(x))
            h = F.relu(self.fc2(h), inplace=True)
            return self.fc3(torch.tanh(self.sig(h)))

    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def forbidden(*args, **kwargs):
        raise AssertionError("host sync inside a monitor hook")

    with Monitor(model, every=1, functional=functional) as mon:
        for _ in range(2):
            opt.zero_grad()
            with monkeypatch.context() as patch:
                for name in ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__"):
                    patch.setattr(torch.Tensor, name, forbidden)
                F.cross_entropy(model(torch.randn(5, 6)), torch.tensor([0, 1, 2, 0, 1])).backward()
            opt.step()
            mon.step()
    sites = ["elu", "relu()", "sig", "tanh()"] if functional else ["elu", "sig"]
    assert list(mon.history[-1]["activations"]) == sites
    assert mon.history[-1]["parameters"]["fc1.weight"]["grad_norm"] > 0


def test_the_function_mode_is_on_only_inside_modules_that_may_call_activations():
    """The TorchFunctionMode costs a Python call per torch function, so it is entered only
    inside modules whose forward is not a known torch.nn layer. Activation modules there
    are recorded by the mode (no hooks of their own); elsewhere by their hooks."""

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin, self.act = nn.Linear(8, 8), nn.ReLU()

        def forward(self, x):
            return F.silu(self.act(self.lin(x)))

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), Block(), nn.Linear(8, 3))
    depths: dict[str, int] = {}
    for name in ("0", "2.lin", "3"):
        model.get_submodule(name).register_forward_hook(lambda m, a, o, name=name: depths.__setitem__(name, mode_depth()))
    base = hook_count(model)
    with Monitor(model, every=1) as mon:
        assert len(model[1]._forward_hooks) == 1 and not model[2].act._forward_hooks  # hook vs mode
        train(model, mon, steps=1)
        assert hook_count(model) > base
    assert depths == {"0": 0, "2.lin": 1, "3": 0}
    assert list(mon.history[0]["activations"]) == ["1", "2.act", "2.silu()"]
    assert hook_count(model) == base and mode_depth() == 0
    plain = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    plain[0].register_forward_hook(lambda m, a, o: depths.__setitem__("plain", mode_depth()))
    with Monitor(plain, every=1) as mon:
        train(plain, mon, steps=1)
    assert depths["plain"] == 0 and list(mon.history[0]["activations"]) == ["1"]


def test_an_activation_module_shared_inside_and_outside_a_custom_block_is_seen_twice():
    act = nn.Tanh()

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin, self.act = nn.Linear(8, 8), act

        def forward(self, x):
            return self.act(self.lin(x))  # inside the mode's region; also called outside it

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), act, Block(), nn.Linear(8, 3))
    with Monitor(model, every=1) as mon:
        train(model, mon, steps=1)
    sites = mon.history[0]["activations"]
    assert {k: (v["calls"], v["numel"]) for k, v in sites.items()} == {"1": (1, 40), "1#1": (1, 40)}
