"""Run by tests/probes/test_monitor_distributed.py under torchrun (2 gloo processes on the
CPU): a DDP model watched by a Monitor that every rank builds the same way, as a user
copying the README would. Writes the init weights and each rank's batches for the test's
reference, and prints the findings (rank 0 only)."""

import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from actlab.probes import Monitor

out = Path(sys.argv[1])
dist.init_process_group("gloo")
rank = dist.get_rank()
torch.manual_seed(0)
net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
if rank == 0:
    torch.save(net.state_dict(), out / "init.pt")
model = DDP(net)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
gen = torch.Generator().manual_seed(100 + rank)  # each rank its own batches
batches = [(torch.randn(8, 6, generator=gen), torch.randint(0, 3, (8,), generator=gen)) for _ in range(4)]
torch.save(batches, out / f"batches{rank}.pt")
with Monitor(model, every=1, jsonl=out / "monitor.jsonl") as mon:
    for x, y in batches:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        mon.step(loss=loss)
mon.print_findings()
dist.destroy_process_group()
