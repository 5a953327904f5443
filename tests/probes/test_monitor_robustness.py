"""The monitor never hurts the training it watches (issue 14, items 16-19): a failing
sink is disabled with one warning, nesting is counted, float32 outputs near 3e38 are
summed in float64, and memory stays linear in the number of layers."""

from __future__ import annotations

import copy
import errno
import math
import os
import warnings

import pytest
import torch
from test_monitor import train  # the same seeded training loop
from torch import nn

from actlab.probes import Monitor, stats


def mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.Sigmoid(), nn.Linear(8, 3))




class FullDiskSink:
    """Writes the header, then fails as a full disk does."""

    path = "/mnt/full/monitor.jsonl"

    def __init__(self) -> None:
        self.writes, self.closed = 0, False

    def start(self, header):
        pass

    def write(self, record):
        self.writes += 1
        raise OSError(errno.ENOSPC, "No space left on device")

    def close(self):
        self.closed = True


def test_a_sink_that_fails_mid_run_is_disabled_with_one_warning_and_training_goes_on():
    model, sink = mlp(), FullDiskSink()
    with pytest.warns(UserWarning) as caught:
        with Monitor(model, every=1, sinks=[sink]) as mon:
            train(model, mon, steps=4)
    failures = [w for w in caught if "failed" in str(w.message)]
    assert len(failures) == 1
    message = str(failures[0].message)
    assert "/mnt/full/monitor.jsonl" in message and "No space left on device" in message
    assert sink.writes == 1 and sink.closed  # disabled after the first failure
    assert [r["step"] for r in mon.history] == [0, 1, 2, 3]  # still recorded in memory
    assert isinstance(mon.findings(), list)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux) to simulate a full disk")
def test_a_jsonl_log_on_a_full_disk_does_not_stop_training():
    model = mlp()
    with pytest.warns(UserWarning, match=r"/dev/full failed \(OSError: .*No space left on device"):
        with Monitor(model, every=1, jsonl="/dev/full") as mon:
            train(model, mon, steps=3)
    assert len(mon.history) == 3 and mon.findings() is not None


def test_nested_with_blocks_are_counted_and_only_the_outer_exit_detaches():
    model = mlp()
    mon = Monitor(model, every=1)
    with mon:
        with mon:
            train(model, mon, steps=1)
        assert mon.attached  # the inner exit does not detach
        train(model, mon, steps=1)
    assert not mon.attached
    assert [r["step"] for r in mon.history] == [0, 1]


def test_step_after_detach_says_it_was_detached():
    model = mlp()
    with Monitor(model, every=1) as mon:
        train(model, mon, steps=1)
    with pytest.raises(RuntimeError, match="detached at step 1"):
        mon.step()


@pytest.mark.parametrize("act", [nn.ReLU, nn.ELU, nn.LeakyReLU])
def test_float32_outputs_near_3e38_give_finite_moments_and_no_false_non_finite_finding(act):
    torch.manual_seed(0)
    # every value finite in float32 (x = output for x > 0), their float32 sum is not
    x = (torch.rand(64, 32) * 0.5 + 0.5) * 3e38
    assert torch.isfinite(x).all() and not torch.isfinite(x.sum())
    model = nn.Sequential(act())
    with Monitor(model, every=1, stats="activations") as mon:
        model(x.requires_grad_()).sum().backward()
        mon.step()
    a = mon.history[-1]["activations"]["0"]
    ref = x.detach().double()
    assert math.isclose(a["mean"], ref.mean().item(), rel_tol=1e-6)
    assert math.isclose(a["std"], ref.std(unbiased=False).item(), rel_tol=1e-4)
    assert a["nan_count"] == 0
    assert not [f for f in mon.findings() if f.kind == "non_finite"]


def test_real_inf_and_nan_outputs_are_reported_with_their_kind():
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU())
    with torch.no_grad():
        model[0].bias.fill_(math.inf)
    with Monitor(model, every=1, stats="activations") as mon:
        model(torch.zeros(3, 2)).sum().backward()
        mon.step()
    found = [f for f in mon.findings() if f.kind == "non_finite"]
    assert len(found) == 1 and "infinite outputs" in found[0].evidence
    with torch.no_grad():
        model[0].bias.fill_(math.nan)
    with Monitor(model, every=1, stats="activations") as mon:
        model(torch.zeros(3, 2)).sum().backward()
        mon.step()
    found = [f for f in mon.findings() if f.kind == "non_finite"]
    assert len(found) == 1 and "12 NaN output(s)" in found[0].evidence


def test_sign_counts_of_many_weights_need_memory_linear_in_their_rows():
    # 2,000 weights of 4 rows: a dense (weights x rows) matrix would be 2,000 x 8,000
    grads = [torch.randn(4, 4) for _ in range(2000)]
    counter = stats.RowSignCounter([g.shape[0] for g in grads], grads[0])
    held = sum(t.numel() for t in vars(counter).values() if isinstance(t, torch.Tensor))
    assert held <= 10 * 8000
    for k, g in enumerate(grads):
        counter.write(k, g)
    counts = counter.counts()
    ref = torch.stack([stats.row_sign_counts(g).to(counts.dtype) for g in grads])
    torch.testing.assert_close(counts, ref, rtol=0, atol=0)


def test_no_warning_leaks_from_a_healthy_run():
    model = mlp()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with Monitor(model, every=1) as mon:
            train(model, mon, steps=2)


@pytest.mark.parametrize("step_inside", [True, False])
def test_a_step_after_an_inference_mode_forward_never_breaks_training(step_inside):
    """Issue 22: mon.step() after a forward under torch.inference_mode(), then normal
    training, raised 'Inplace update to inference tensor outside InferenceMode'."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    reference = copy.deepcopy(model)
    opt, ref_opt = (torch.optim.SGD(m.parameters(), lr=0.1) for m in (model, reference))
    mon = Monitor(model, every=1).attach()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no forward pass was recorded" for the inference step
        with torch.inference_mode():
            model(torch.randn(4, 8))
            if step_inside:
                mon.step()
        if not step_inside:
            mon.step()
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):
        x = torch.randn(4, 8, generator=gen)
        for m, o in ((model, opt), (reference, ref_opt)):
            o.zero_grad()
            m(x).sum().backward()
            o.step()
        mon.step()
    mon.detach()
    for a, b in zip(model.parameters(), reference.parameters()):
        assert torch.equal(a, b)
    history = list(mon.history)
    assert history[0]["activations"] == {}  # the inference forward is not recorded
    assert [r["step"] for r in history] == [0, 1, 2, 3] and history[-1]["activations"]["1"]["mean"] > 0
