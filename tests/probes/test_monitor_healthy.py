"""No false alarms: healthy models of the kinds issue 22 measured (ReLU MLP with SGD,
SiLU/GELU/Mish MLPs, a mixture of experts, an LSTM language model, a tiny GPT-2), at their
usual learning rates, get no warning in their first 60 steps (every=5); and the same
monitor does warn where the learning rate is far too high."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from actlab.probes import Monitor


def mlp(act: type[nn.Module]) -> nn.Module:
    return nn.Sequential(nn.Linear(20, 64), act(), nn.Linear(64, 64), act(), nn.Linear(64, 4))


class MoE(nn.Module):
    def __init__(self, experts: int = 4):
        super().__init__()
        self.gate = nn.Linear(20, experts)
        self.experts = nn.ModuleList(nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 4))
                                     for _ in range(experts))

    def forward(self, x):
        weights = torch.softmax(self.gate(x), dim=-1)
        return sum(weights[:, i:i + 1] * e(x) for i, e in enumerate(self.experts))


class LstmLM(nn.Module):
    def __init__(self, vocab: int = 32):
        super().__init__()
        self.emb, self.lstm, self.out = nn.Embedding(vocab, 32), nn.LSTM(32, 64, batch_first=True), nn.Linear(64, vocab)

    def forward(self, x):
        return self.out(self.lstm(self.emb(x))[0])


def gpt2():
    transformers = pytest.importorskip("transformers", reason="needs the integrations extra")
    config = transformers.GPT2Config(n_layer=2, n_head=2, n_embd=32, vocab_size=32, n_positions=16)
    return transformers.GPT2LMHeadModel(config)


def classification(model, opt, steps, gen):
    w = torch.randn(20, 4, generator=gen)
    for _ in range(steps):
        x = torch.randn(32, 20, generator=gen)
        yield F.cross_entropy(model(x), (x @ w).argmax(1))


def language(model, opt, steps, gen, hf=False):
    for _ in range(steps):
        start = torch.randint(0, 32, (16, 1), generator=gen)
        seq = (start + torch.arange(12)) % 32  # counting: learnable
        if hf:
            yield model(seq, labels=seq).loss
        else:
            logits = model(seq[:, :-1])
            yield F.cross_entropy(logits.reshape(-1, 32), seq[:, 1:].reshape(-1))


CASES = {
    "relu-mlp-sgd": (lambda: mlp(nn.ReLU), lambda p: torch.optim.SGD(p, lr=0.1), classification),
    "silu-mlp-adam": (lambda: mlp(nn.SiLU), lambda p: torch.optim.Adam(p, lr=1e-3), classification),
    "gelu-mlp-adam": (lambda: mlp(nn.GELU), lambda p: torch.optim.Adam(p, lr=1e-3), classification),
    "mish-mlp-adamw": (lambda: mlp(nn.Mish), lambda p: torch.optim.AdamW(p, lr=1e-3), classification),
    "moe-adam": (MoE, lambda p: torch.optim.Adam(p, lr=1e-3), classification),
    "lstm-lm-adam": (LstmLM, lambda p: torch.optim.Adam(p, lr=3e-3), language),
    "gpt2-adamw": (gpt2, lambda p: torch.optim.AdamW(p, lr=1e-3), lambda m, o, s, g: language(m, o, s, g, hf=True)),
}


def train(name: str, steps: int = 60, lr_scale: float = 1.0):
    build, make_opt, batches = CASES[name]
    torch.manual_seed(0)
    model = build()
    opt = make_opt(model.parameters())
    for group in opt.param_groups:
        group["lr"] *= lr_scale
    gen = torch.Generator().manual_seed(1)
    with Monitor(model, every=5) as mon:
        for loss in batches(model, opt, steps, gen):
            opt.zero_grad()
            loss.backward()
            opt.step()
            mon.step(loss=loss)
    return mon


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning")  # the LSTM's fused gates are said to be unseen
@pytest.mark.parametrize("name", list(CASES))
def test_healthy_models_get_no_warning_at_60_steps(name):
    mon = train(name)
    last = mon.history[-1]
    assert last["step"] == 55 and last["optimizer"]["family"] in ("sgd", "adaptive")
    assert last["loss"] < mon.history[0]["loss"]  # it learns
    loud = [str(f) for f in mon.findings() if f.severity != "info"]
    assert not loud, loud


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name, scale", [("relu-mlp-sgd", 100.0), ("gelu-mlp-adam", 1000.0)])
def test_a_far_too_high_learning_rate_is_still_found_in_warm_up(name, scale):
    found = train(name, steps=30, lr_scale=scale).findings()
    assert {"update_ratio_high", "loss_diverged", "non_finite", "dead_units"} & {f.kind for f in found}, \
        [str(f) for f in found]
