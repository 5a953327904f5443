"""Watch an MLP train with actlab's monitor: per-layer statistics, findings, logs, figures.

    python examples/monitor_mlp.py                       # 600 steps, outputs in ./monitor-example
    python examples/monitor_mlp.py --steps 100 --out /tmp/mon --every 10
    tensorboard --logdir ./monitor-example/tensorboard   # then open the printed URL

It needs only ``pip install -e .``: the JSONL log and the figures always; TensorBoard
logs too when the tensorboard package is there (``pip install -e ".[tensorboard]"``,
included in ``[dev]``). The outputs are written into a temporary folder beside
``--out`` and moved into place at the end, so a failed run leaves nothing half-written.

The model mixes the three kinds of activation the monitor sees: modules (nn.Sigmoid),
an in-place module (nn.ReLU(inplace=True)), and a function called inside forward
(torch.tanh). The data are synthetic, MNIST-shaped (784 inputs, 10 classes), labelled
by a fixed random teacher network, so the script needs no download.

The training loop is an ordinary PyTorch loop with one extra line, ``monitor.step()``
after ``optimizer.step()``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from actlab.plots.monitor import plot_monitor
from actlab.probes import Monitor


class MLP(nn.Module):
    """784 -> 256 (sigmoid) -> 128 (in-place ReLU) -> 64 (tanh, functional) -> 10."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.sigmoid = nn.Sigmoid()
        self.fc2 = nn.Linear(256, 128)
        self.relu = nn.ReLU(inplace=True)
        self.fc3 = nn.Linear(128, 64)
        self.out = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, 784)
        h = self.sigmoid(self.fc1(x))  # (B, 256), all positive: fc2's inputs are not zero-centred
        h = self.relu(self.fc2(h))  # (B, 128)
        h = torch.tanh(self.fc3(h))  # (B, 64): a functional site, named "tanh()"
        return self.out(h)  # (B, 10) logits


def synthetic_batches(steps: int, batch: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``steps`` batches of (x, label): x ~ N(0, 1) in 784-D, labels from a random teacher."""
    gen = torch.Generator().manual_seed(seed)
    teacher = torch.randn(784, 10, generator=gen) / 28.0
    out = []
    for _ in range(steps):
        x = torch.randn(batch, 784, generator=gen)
        out.append((x, (x @ teacher).argmax(dim=1)))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--every", type=int, default=20, help="record every this many steps")
    p.add_argument("--out", type=Path, default=Path("monitor-example"))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    torch.manual_seed(args.seed)
    model = MLP()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    batches = synthetic_batches(args.steps, args.batch, args.seed)

    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        findings, figures, tensorboard = run(model, optimizer, batches, args, work)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)  # a failed run leaves nothing half-written
        raise
    if out.exists():  # replace the outputs of an earlier run, only now that the new ones are complete
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    work.rename(out)

    print(f"\n{len(findings)} finding(s):")
    for finding in findings:
        print(f"- {finding}")
    print(f"\nlog: {out / 'monitor.jsonl'}")
    if tensorboard:
        print(f"TensorBoard: tensorboard --logdir {out / 'tensorboard'}")
    else:
        print('TensorBoard: not installed, so not written (pip install -e ".[tensorboard]"); the log and the figures '
              "hold the same statistics")
    print("figures: " + ", ".join(str(out / f.name) for f in figures))
    return 0


def has_tensorboard() -> bool:
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        return False
    return True


def run(model: nn.Module, optimizer: torch.optim.Optimizer, batches: list, args: argparse.Namespace, work: Path):
    """Train with the monitor, writing its log and figures into ``work``."""
    log = work / "monitor.jsonl"
    tensorboard = work / "tensorboard" if has_tensorboard() else None
    with Monitor(model, every=args.every, jsonl=log, tensorboard=tensorboard) as monitor:
        for step, (x, y) in enumerate(batches):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            monitor.step(loss=loss)  # once per training step, after optimizer.step(); the loss is optional
            if step % (args.steps // 4 or 1) == 0:
                print(f"step {step:5d}  loss {loss.item():.3f}")
        print()
        print(monitor.summary())
        findings = monitor.findings()
    figures = plot_monitor(log, work)
    return findings, figures, tensorboard is not None


if __name__ == "__main__":
    sys.exit(main())
