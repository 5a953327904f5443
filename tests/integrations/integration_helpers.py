"""Helpers shared by the integration tests and ``hf_ddp.py``, which a distributed launcher runs
as a script (its folder is on sys.path there, as the test folder is under pytest)."""

import torch


def hook_count(model: torch.nn.Module) -> int:
    """Every hook actlab could leave behind: module forward (pre-)hooks, parameter grad hooks, and
    torch-function modes."""
    n = 0
    for m in model.modules():
        n += len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._forward_hooks_always_called)
    for p in model.parameters():
        n += len(p._post_accumulate_grad_hooks or {})
    return n + torch._C._len_torch_function_stack()


def tiny_bert(layers: int) -> tuple[torch.nn.Module, list[dict[str, torch.Tensor]]]:
    """A BertForSequenceClassification of ``layers`` layers (hidden 16, 2 heads; no download) and 32
    examples of 12 tokens with random labels, the same on every call and every rank."""
    import transformers  # the integrations extra; callers skip without it

    transformers.set_seed(0)
    config = transformers.BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=layers, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=32, num_labels=2)
    model = transformers.BertForSequenceClassification(config)
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 64, (32, 12), generator=gen)
    labels = torch.randint(0, 2, (32,), generator=gen)
    data = [{"input_ids": ids[i], "attention_mask": torch.ones(12, dtype=torch.long), "labels": labels[i]}
            for i in range(32)]
    return model, data
