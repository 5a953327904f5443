"""Run by tests/integrations/test_monitor_hf_distributed.py under a distributed launcher
(torchrun, or accelerate launch): the Hugging Face ``Trainer`` on 2 CPU processes (gloo)
with actlab's MonitorCallback, as a user copying the README would. Each rank builds the
same tiny BERT (no download) and trains on its own shard of a synthetic data set; it
writes ``after<rank>.json`` (hooks left on the model, the monitor's state, the process
group it ran in) for the test. The findings are printed by the callback (rank 0)."""

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist
import transformers

from actlab.integrations.transformers import MonitorCallback


def hook_count(model: torch.nn.Module) -> int:
    n = 0
    for m in model.modules():
        n += len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._forward_hooks_always_called)
    for p in model.parameters():
        n += len(p._post_accumulate_grad_hooks or {})
    return n + torch._C._len_torch_function_stack()


if __name__ == "__main__":
    torch.set_num_threads(1)
    out = Path(sys.argv[1])
    transformers.set_seed(0)
    config = transformers.BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=32, num_labels=2)
    model = transformers.BertForSequenceClassification(config)
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 64, (32, 12), generator=gen)
    labels = torch.randint(0, 2, (32,), generator=gen)
    data = [{"input_ids": ids[i], "attention_mask": torch.ones(12, dtype=torch.long), "labels": labels[i]}
            for i in range(32)]
    args = transformers.TrainingArguments(
        output_dir=str(out / "hf"), max_steps=3, per_device_train_batch_size=4, gradient_accumulation_steps=2,
        learning_rate=1e-3, report_to=[], save_strategy="no", logging_strategy="no", use_cpu=True,
        ddp_backend="gloo", seed=0, dataloader_num_workers=0, disable_tqdm=True)
    callback = MonitorCallback(every=1, jsonl=out / "monitor.jsonl")
    trainer = transformers.Trainer(model=model, args=args, train_dataset=data, callbacks=[callback])
    trainer.train()
    rank = dist.get_rank() if dist.is_initialized() else 0
    after = {"rank": rank, "world_size": dist.get_world_size() if dist.is_initialized() else 1,
             "hooks": hook_count(model), "attached": callback.monitor.attached,
             "weight": model.bert.encoder.layer[0].intermediate.dense.weight.detach().flatten().tolist()}
    (out / f"after{rank}.json").write_text(json.dumps(after))
