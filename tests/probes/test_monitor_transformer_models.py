"""Transformer-shaped models: Hugging Face's activation modules are sites labelled by what
they compute (GPT-2's NewGELU, not its inner tanh), and an embedding table's update ratio
is measured on the rows that received gradient (checked against a hand computation)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from actlab.probes import Monitor

transformers = pytest.importorskip("transformers", reason="needs the integrations extra: pip install -e '.[integrations]'")


def test_gpt2_gelu_is_a_site_and_its_tanh_is_not():
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=2, n_head=2, n_embd=32, vocab_size=64, n_positions=32,
                                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    model = transformers.GPT2LMHeadModel(config)
    assert type(model.transformer.h[0].mlp.act).__name__ == "NewGELUActivation"
    x = torch.randint(0, 64, (4, 16))
    with Monitor(model, every=1) as mon:
        model(x, labels=x).loss.backward()
        mon.step()
    acts = mon.history[-1]["activations"]
    assert sorted(acts) == ["transformer.h.0.mlp.act", "transformer.h.1.mlp.act"]
    site = acts["transformer.h.0.mlp.act"]
    assert site["activation"] == "gelu_tanh"
    # the statistics are of the GELU's output, computed here from the same input
    captured = {}
    model.transformer.h[0].mlp.act.register_forward_hook(lambda m, a, out: captured.setdefault("y", out.detach()))
    model(x)
    y = captured["y"]
    assert math.isclose(site["mean"], y.mean().item(), rel_tol=1e-4, abs_tol=1e-6)
    assert math.isclose(site["std"], y.std(unbiased=False).item(), rel_tol=1e-4)
    assert site["saturated_fraction"] == 0.0 and site["two_sided"] is False  # GELU from the registry, not tanh


@pytest.mark.parametrize("cls, label", [("GELUActivation", "gelu"), ("FastGELUActivation", "gelu_tanh"),
                                        ("QuickGELUActivation", "quick_gelu"), ("MishActivation", "mish")])
def test_hugging_face_activation_modules_are_sites(cls, label):
    act = getattr(transformers.activations, cls)()
    model = nn.Sequential(nn.Linear(4, 8), act, nn.Linear(8, 2))
    with Monitor(model, every=1) as mon:
        model(torch.randn(3, 4)).sum().backward()
        mon.step()
    acts = mon.history[-1]["activations"]
    assert list(acts) == ["1"] and acts["1"]["activation"] == label


def test_embedding_update_ratio_is_over_the_rows_that_received_gradient():
    torch.manual_seed(0)
    emb = nn.Embedding(512, 8)
    head = nn.Linear(8, 2)
    model = nn.ModuleDict({"emb": emb, "head": head})
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    ids = torch.arange(16)  # 16 of 512 rows, as a 16-token batch's positions
    mon = Monitor(model, every=1, stats="parameters").attach()
    before = emb.weight.detach().clone()
    opt.zero_grad()
    F.cross_entropy(head(emb(ids)), torch.zeros(16, dtype=torch.long)).backward()
    rows = emb.weight.grad.ne(0).any(dim=1)
    opt.step()
    mon.step()
    mon.detach()
    after = emb.weight.detach()
    expected = ((after - before)[rows].norm() / before[rows].norm()).item()
    whole = ((after - before).norm() / before.norm()).item()
    got = mon.history[-1]["parameters"]["emb.weight"]
    assert got["updated_rows"] == 16
    assert math.isclose(got["update_ratio"], expected, rel_tol=1e-5)
    assert whole < expected / 5  # over the whole table it would look 5.7x smaller
