"""The monitor on compiled models: every way of compiling is detected, said in one
warning, and Dynamo compiles nothing more after warm-up (frames counted through
``torch._dynamo.utils.counters``). The parameter statistics go on."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from actlab.probes import Monitor

dynamo = pytest.importorskip("torch._dynamo")
from torch._dynamo.utils import counters  # noqa: E402


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(8, 16), nn.Linear(16, 3)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


def frames() -> int:
    return counters["frames"]["total"]


@pytest.mark.parametrize("how", ["compiled-before", "compile-in-place-after", "wrapped-after"])
def test_no_recompiles_after_warm_up(how):
    torch._dynamo.reset()
    counters.clear()
    torch.manual_seed(0)
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(1)
    batches = [(torch.randn(4, 8, generator=gen), torch.randint(0, 3, (4,), generator=gen)) for _ in range(12)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if how == "compiled-before":
            run = torch.compile(model)
            mon = Monitor(run, every=2).attach()
        else:
            mon = Monitor(model, every=2).attach()  # step 0 is sampled: its hooks are in place
            if how == "compile-in-place-after":
                model.compile()
                run = model
            else:
                run = torch.compile(model)
        seen = []
        for x, y in batches:
            opt.zero_grad()
            F.cross_entropy(run(x), y).backward()
            opt.step()
            mon.step()
            seen.append(frames())
        mon.detach()
    said = [str(w.message) for w in caught if "actlab" in str(w.message)]
    assert len(said) == 1 and "compiled with torch.compile" in said[0] and "no recompiles" in said[0], said
    # warm-up: the first two steps (a sampled and an unsampled one); nothing compiled after them
    assert seen[1] == seen[-1], seen
    assert seen[-1] <= 6, seen  # forward, backward, optimizer frames, not a recompile per step
    history = list(mon.history)
    assert [r["step"] for r in history] == [0, 2, 4, 6, 8, 10]
    assert all(r["activations"] == {} for r in history[1:])  # parameters only once compiled
    for r in history:
        grad = next(v for k, v in r["parameters"].items() if k.endswith("a.weight"))
        assert grad["grad_norm"] > 0 and grad["update_ratio"] > 0


def test_compile_in_place_before_attach_is_detected():
    model = Net()
    model.compile()
    with pytest.warns(UserWarning, match="compiled with torch.compile"):
        mon = Monitor(model, every=1).attach()
    assert mon._compiled is not None and not mon._handles
    mon.detach()
