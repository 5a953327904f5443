"""Run by tests/integrations/test_monitor_integrations.py: Lightning's own DDP launcher
(strategy="ddp", 2 CPU processes, gloo) with the MonitorCallback. Lightning starts the
second process by running this script again."""

import sys
from pathlib import Path

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import nn

from actlab.integrations.lightning import MonitorCallback


class Tiny(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        return F.cross_entropy(self(batch[0]), batch[1])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


if __name__ == "__main__":
    out = Path(sys.argv[1])
    pl.seed_everything(0, verbose=False)
    gen = torch.Generator().manual_seed(1)
    data = torch.utils.data.TensorDataset(torch.randn(64, 6, generator=gen), torch.randint(0, 3, (64,), generator=gen))
    callback = MonitorCallback(every=1, jsonl=out / "monitor.jsonl")
    trainer = pl.Trainer(max_steps=3, callbacks=[callback], logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", devices=2,
                         strategy="ddp", num_nodes=1)
    trainer.fit(Tiny(), torch.utils.data.DataLoader(data, batch_size=8))
    # see hf_ddp.py: a process group left up can abort the process at exit (gloo)
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
