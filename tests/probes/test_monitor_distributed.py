"""The monitor under DDP: torchrun starts 2 gloo processes on the CPU (tests/probes/ddp_train.py).
No file collides, every record carries its rank, the gradient norms are those of the
all-reduced gradient (checked against the average of the two ranks' gradients computed
here by hand), and the findings are printed once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

HERE = Path(__file__).parent


def test_ddp_two_gloo_processes(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(
        [str(HERE.parents[1] / "src")] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "0",
         "--rdzv_backend", "c10d", "--rdzv_endpoint", "localhost:0", str(HERE / "ddp_train.py"), str(tmp_path)],
        capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("actlab monitor:") == 1, proc.stdout  # printed by rank 0 only

    files = sorted(p.name for p in tmp_path.glob("monitor*.jsonl"))
    assert files == ["monitor.jsonl", "monitor.rank1.jsonl"]
    logs = {}
    for rank, name in enumerate(files):
        lines = (tmp_path / name).read_text().splitlines()
        records = [json.loads(line) for line in lines]  # every line valid JSON
        assert records[0]["type"] == "header" and records[0]["rank"] == rank and records[0]["world_size"] == 2
        steps = [r for r in records if r["type"] == "step"]
        assert [r["step"] for r in steps] == [0, 1, 2, 3]
        assert all(r["rank"] == rank and r["world_size"] == 2 for r in steps)
        logs[rank] = steps

    # the reference: both ranks' gradients at step 0, computed here without DDP, averaged
    net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    net.load_state_dict(torch.load(tmp_path / "init.pt"))
    grads = []
    for rank in (0, 1):
        x, y = torch.load(tmp_path / f"batches{rank}.pt")[0]
        net.zero_grad()
        F.cross_entropy(net(x), y).backward()
        grads.append({n: p.grad.clone() for n, p in net.named_parameters()})
    for name in ("0.weight", "0.bias", "2.weight"):
        averaged = (grads[0][name] + grads[1][name]) / 2
        local = [torch.linalg.vector_norm(g[name]).item() for g in grads]
        for rank in (0, 1):
            got = logs[rank][0]["parameters"][f"module.{name}"]["grad_norm"]
            assert abs(got - torch.linalg.vector_norm(averaged).item()) < 1e-5, (name, rank, got, local)
    for step in range(4):  # the same synchronised gradient on both ranks, every step
        a, b = (logs[r][step]["parameters"]["module.0.weight"] for r in (0, 1))
        assert abs(a["grad_norm"] - b["grad_norm"]) < 1e-6 and abs(a["update_ratio"] - b["update_ratio"]) < 1e-6
    # activations and the loss are each rank's own batch
    assert logs[0][0]["loss"] != logs[1][0]["loss"]
    assert logs[0][0]["activations"]["module.1"]["mean"] != logs[1][0]["activations"]["module.1"]["mean"]
