"""actlab's monitor against the tools people use for the same job, side by side.

    python benchmarks/monitor_peers.py                      # MLP, CNN, resnet18; every step and every 100th
    python benchmarks/monitor_peers.py --models mlp --rounds 5
    python benchmarks/monitor_peers.py --models cnn,cnn_bn --fixed-heap   # no allocator page-fault noise

Peers (each where it installs and runs; the table lists the others with the reason):

* ``tensorboard``: ``SummaryWriter.add_histogram`` of every parameter and its gradient
  on the recorded steps (what the PyTorch docs show), plus ``flush``;
* ``wandb``: ``wandb.watch(model, log="all", log_freq=N)`` in an offline run, with
  the ``wandb.log`` per step that commits it;
* ``delve``: ``SaturationTracker`` on every layer (its hooks see every forward pass),
  ``add_saturations()`` on the recorded steps;
* ``cockpit``: ``Cockpit`` with the "economy" quantities on the recorded steps (BackPACK
  extends the model and the loss);
* ``actlab``: ``Monitor(model, every=N)``, every statistic.

Method, as in ``monitor_overhead.py``: one torch thread; the training thread's CPU time
and the wall time (to the end of the tool's tear-down, so that TensorBoard's writer
thread and wandb's process count); per model,
configuration and round, a turn of ``--steps`` training steps with the tool (after 3
untimed ones: a tool's first record builds its buffers) is paired
with a turn of the plain loop (alternately before and after it), each on a fresh copy
of the same model and optimizer, on the same batches; a tool's set-up and tear-down
are outside the timed loop. The ratio is the median over rounds of the pair's time
ratio. Install the peers with ``pip install tensorboard wandb delve cockpit-for-pytorch
"setuptools<81"`` (cockpit 1.0.2 imports ``pkg_resources``); pin ``torch`` so that pip
keeps yours. resnet18 needs a torchvision that loads with your torch.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import logging
import os
import statistics
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from actlab.probes import Monitor  # noqa: E402
from monitor_overhead import cnn, mlp, rerun_with_fixed_heap  # noqa: E402

PEERS = ("actlab", "tensorboard", "wandb", "delve", "cockpit")
WARMUP = 3  # untimed steps at the start of every turn, plain or not


def resnet18() -> nn.Module:
    import torchvision  # raises where its compiled ops do not load

    return torchvision.models.resnet18(num_classes=10)


def cnn_bn() -> nn.Module:
    """3 convolutions (32-64-64) with BatchNorm and non-in-place ReLU (issue 22's model)."""
    layers: list[nn.Module] = []
    for c_in, c_out in ((1, 32), (32, 64), (64, 64)):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(64 * 3 * 3, 10))


MODELS: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...], int]] = {
    "mlp": (mlp, (784,), 128),
    "cnn": (cnn, (1, 28, 28), 64),
    "cnn_bn": (cnn_bn, (1, 28, 28), 64),
    "resnet18": (resnet18, (3, 64, 64), 16),
}


class Tool:
    """A peer's life cycle around the timed loop: ``setup``, ``step`` (after the
    optimizer's), ``backward`` (how the loss's backward is called), ``teardown``."""

    def __init__(self, model: nn.Module, every: int, tmp: Path) -> None:
        self.model, self.every, self.tmp, self.step_index = model, every, tmp, 0
        self.last_logits: torch.Tensor | None = None

    def setup(self) -> None: ...

    def backward(self, loss: torch.Tensor, x: torch.Tensor, y: torch.Tensor, opt: Any) -> None:
        loss.backward()

    def step(self) -> None:
        self.step_index += 1

    def teardown(self) -> None: ...

    def loss_fn(self) -> Callable:
        return F.cross_entropy


class Actlab(Tool):
    def setup(self) -> None:
        self.monitor = Monitor(self.model, every=self.every).attach()

    def step(self) -> None:
        self.monitor.step()

    def teardown(self) -> None:
        self.monitor.detach()


class TensorBoard(Tool):
    def setup(self) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(self.tmp / "tb"))

    def step(self) -> None:
        if self.step_index % self.every == 0:
            for name, p in self.model.named_parameters():
                self.writer.add_histogram(name, p, self.step_index)
                if p.grad is not None:
                    self.writer.add_histogram(f"{name}.grad", p.grad, self.step_index)
            self.writer.flush()
        self.step_index += 1

    def teardown(self) -> None:
        self.writer.close()


class Wandb(Tool):
    def setup(self) -> None:
        import wandb

        os.environ["WANDB_SILENT"] = "true"
        self.wandb = wandb
        self.run = wandb.init(mode="offline", dir=str(self.tmp), project="actlab-peers")
        wandb.watch(self.model, log="all", log_freq=self.every)

    def step(self) -> None:
        self.wandb.log({"step": self.step_index})
        self.step_index += 1

    def teardown(self) -> None:
        self.wandb.unwatch(self.model)
        self.run.finish()


class Delve(Tool):
    def setup(self) -> None:
        from delve import SaturationTracker

        self.tracker = SaturationTracker(str(self.tmp / "delve"), save_to="csv", modules=self.model, device="cpu")

    def step(self) -> None:
        if self.step_index % self.every == 0:
            self.tracker.add_saturations()
        self.step_index += 1

    def teardown(self) -> None:
        self.tracker.close()


class Cockpit(Tool):
    def setup(self) -> None:
        from backpack import extend
        from cockpit import Cockpit as CockpitClass
        from cockpit.utils import schedules
        from cockpit.utils.configuration import configuration

        self.model = extend(self.model)
        self._loss = extend(nn.CrossEntropyLoss())
        self.cockpit = CockpitClass(self.model.parameters(), quantities=configuration(
            "economy", track_schedule=schedules.linear(self.every)))

    def loss_fn(self) -> Callable:
        return self._loss

    def backward(self, loss: torch.Tensor, x: torch.Tensor, y: torch.Tensor, opt: Any) -> None:
        individual = F.cross_entropy(self.last_logits, y, reduction="none")
        with self.cockpit(self.step_index, info={"batch_size": x.shape[0], "individual_losses": individual,
                                                 "loss": loss, "optimizer": opt}):
            loss.backward(create_graph=self.cockpit.create_graph(self.step_index))

    # teardown: nothing; BackPACK's hooks stay on this turn's copy of the model, which is dropped


TOOLS = {"actlab": Actlab, "tensorboard": TensorBoard, "wandb": Wandb, "delve": Delve, "cockpit": Cockpit}


def turn(tool_cls: type[Tool] | None, base: nn.Module, batches: list, steps: int, every: int,
         tmp: Path) -> tuple[float, float]:
    """Train a fresh copy of ``base`` for ``steps`` steps (with the tool): (thread CPU seconds,
    wall seconds). The wall time runs until the tool's tear-down has returned (TensorBoard's
    writer thread flushed and closed, wandb's run finished), so the work a tool moves off
    the training thread counts there."""
    model = copy.deepcopy(base)
    tool = tool_cls(model, every, tmp) if tool_cls else None
    if tool:
        tool.setup()
        model = tool.model
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = tool.loss_fn() if tool else F.cross_entropy
    try:
        for i in range(WARMUP + steps):
            if i == WARMUP:  # the first steps (a tool's first record, caches) are not timed
                start, wall = time.thread_time(), time.perf_counter()
            x, y = batches[i % len(batches)]
            opt.zero_grad()
            logits = model(x)
            loss = loss_fn(logits, y)
            if tool:
                tool.last_logits = logits
                tool.backward(loss, x, y, opt)
            else:
                loss.backward()
            opt.step()
            if tool:
                tool.step()
        cpu = time.thread_time() - start
        if tool:
            tool.teardown()
            tool = None
        return cpu, time.perf_counter() - wall
    finally:
        if tool:
            tool.teardown()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="mlp,cnn,cnn_bn,resnet18")
    p.add_argument("--peers", default=",".join(PEERS))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=20, help="steps per turn when every step is recorded")
    p.add_argument("--steps-sparse", type=int, default=200, help="steps per turn at every 100th step")
    p.add_argument("--fixed-heap", action="store_true",
                   help="rerun under glibc settings that keep freed memory (no mmap/munmap per large tensor)")
    args = p.parse_args(argv)
    if args.fixed_heap:
        rerun_with_fixed_heap(__file__, argv)  # glibc reads its settings only at start
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    logging.disable(logging.INFO)  # delve logs every layer it adds
    rows, failures = [], {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for kind in args.models.split(","):
            build, shape, batch = MODELS[kind]
            try:
                torch.manual_seed(0)
                base = build()
            except Exception as exc:  # noqa: BLE001 (reported in the table)
                failures[f"{kind} (model)"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
                continue
            gen = torch.Generator().manual_seed(1)
            batches = [(torch.randn(batch, *shape, generator=gen), torch.randint(0, 10, (batch,), generator=gen))
                       for _ in range(4)]
            for peer in args.peers.split(","):
                for every, steps in ((1, args.steps), (100, args.steps_sparse)):
                    ratios, walls = [], []
                    try:
                        turn(TOOLS[peer], base, batches, 2, every, tmp)  # warm-up (and a failing peer fails here)
                        for r in range(args.rounds):
                            with contextlib.redirect_stdout(sys.stderr):
                                if r % 2:
                                    t_tool = turn(TOOLS[peer], base, batches, steps, every, tmp)
                                    t_plain = turn(None, base, batches, steps, every, tmp)
                                else:
                                    t_plain = turn(None, base, batches, steps, every, tmp)
                                    t_tool = turn(TOOLS[peer], base, batches, steps, every, tmp)
                            ratios.append(t_tool[0] / t_plain[0])
                            walls.append(t_tool[1] / t_plain[1])
                    except Exception as exc:  # noqa: BLE001 (reported in the table)
                        last = traceback.extract_tb(exc.__traceback__)[-1]
                        failures[f"{peer} on {kind}"] = (f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]} "
                                                         f"({Path(last.filename).name}:{last.lineno})")
                        break
                    rows.append((kind, peer, every, statistics.median(ratios), min(ratios), max(ratios),
                                 statistics.median(walls), min(walls), max(walls)))
                    print(f"  {kind:9} {peer:12} every {every:3}: {statistics.median(ratios):6.2f}x CPU, "
                          f"{statistics.median(walls):6.2f}x wall", file=sys.stderr)
    print(f"\ntorch {torch.__version__}, 1 torch thread; training thread's CPU time and wall time (to the end of "
          f"the tool's tear-down: writer threads and processes included); median of {args.rounds} interleaved pairs "
          f"(min-max); every step: {args.steps} steps per turn, every 100th: {args.steps_sparse}"
          + ("; glibc heap fixed (--fixed-heap)" if os.environ.get("MALLOC_MMAP_THRESHOLD_") else "") + "\n")
    print("| model | tool | every step, CPU | every step, wall | every 100th, CPU | every 100th, wall |")
    print("| --- | --- | --- | --- | --- | --- |")
    table: dict[tuple[str, str], dict[int, tuple[str, str]]] = {}
    for kind, peer, every, med, lo, hi, wmed, wlo, whi in rows:
        table.setdefault((kind, peer), {})[every] = (f"{med:.2f}x ({lo:.2f}-{hi:.2f})", f"{wmed:.2f}x ({wlo:.2f}-{whi:.2f})")
    for (kind, peer), cells in table.items():
        one, hundred = cells.get(1, ("-", "-")), cells.get(100, ("-", "-"))
        print(f"| {kind} | {peer} | {one[0]} | {one[1]} | {hundred[0]} | {hundred[1]} |")
    if failures:
        print("\nDid not run:")
        for what, why in failures.items():
            print(f"- {what}: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
