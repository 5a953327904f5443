"""The Lightning callback's overhead on ``Trainer.fit``, and the Hugging Face callback's on
``Trainer.train``, against the same fit without it.

    python benchmarks/monitor_lightning.py                 # Lightning, about 2 minutes
    python benchmarks/monitor_lightning.py --rounds 9 --steps 600
    python benchmarks/monitor_lightning.py --hf            # the Hugging Face Trainer too
    python benchmarks/monitor_lightning.py --rounds 0      # only the per-step timings (under a minute)

Budget (DESIGN.md): at most 1.02x at the default schedule (every 100th step), so that
an unsampled step costs nothing measurable.

Method. An MNIST-sized MLP (784-256-256-10, batch 128, random data), SGD, ``--steps``
optimizer steps per fit, one torch thread. Configurations: ``plain`` (no callback),
``every=100`` (the default schedule: 3 sampled steps of 300), ``never`` (only step 0
sampled: what unsampled steps cost). Each round runs every configuration once, in an
order that alternates, each paired with a plain fit right before or after it; the
ratio is the median over rounds of the pair's ratio, for the process's CPU time and
for the wall time of ``fit`` (Lightning's set-up included in both: it is the same in
both). Timings on a shared machine move by several percent between runs; the pairs
keep the ratios within one run comparable.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import statistics
import sys
import time
import warnings

import torch
import torch.nn.functional as F
from torch import nn


def mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))


def lightning_fit(config: str, steps: int, data: torch.utils.data.DataLoader) -> tuple[float, float]:
    import lightning.pytorch as pl

    from actlab.integrations.lightning import MonitorCallback

    class Module(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.net = mlp()

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, batch_idx):
            x, y = batch
            return F.cross_entropy(self(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    callbacks = []
    if config == "every=100":
        callbacks = [MonitorCallback(every=100, print_findings=False)]
    elif config == "never":
        callbacks = [MonitorCallback(schedule=lambda step: step == 0, print_findings=False)]
    trainer = pl.Trainer(max_steps=steps, callbacks=callbacks, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", devices=1)
    module = Module()
    cpu, wall = time.process_time(), time.perf_counter()
    trainer.fit(module, data)
    return time.process_time() - cpu, time.perf_counter() - wall


def hf_fit(config: str, steps: int, data: torch.utils.data.Dataset) -> tuple[float, float]:
    import tempfile

    from transformers import Trainer, TrainingArguments

    from actlab.integrations.transformers import MonitorCallback

    class Wrapped(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.net = mlp()

        def forward(self, x, labels=None):
            logits = self.net(x)
            return {"loss": F.cross_entropy(logits, labels), "logits": logits}

    callbacks = []
    if config == "every=100":
        callbacks = [MonitorCallback(every=100, print_findings=False)]
    elif config == "never":
        callbacks = [MonitorCallback(schedule=lambda step: step == 0, print_findings=False)]
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(output_dir=tmp, max_steps=steps, per_device_train_batch_size=128, report_to=[],
                                 save_strategy="no", logging_strategy="no", disable_tqdm=True, use_cpu=True,
                                 dataloader_num_workers=0, learning_rate=0.01, optim="sgd", lr_scheduler_type="constant")
        trainer = Trainer(model=Wrapped(), args=args, train_dataset=data, callbacks=callbacks)
        cpu, wall = time.process_time(), time.perf_counter()
        trainer.train()
        return time.process_time() - cpu, time.perf_counter() - wall


class Pairs(torch.utils.data.Dataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "labels": self.y[i]}


def measure(name: str, fit, data, configs: list[str], rounds: int, steps: int) -> None:
    cpu: dict[str, list[float]] = {c: [] for c in configs}
    wall: dict[str, list[float]] = {c: [] for c in configs}
    with contextlib.redirect_stdout(io.StringIO()):
        fit("plain", 20, data)  # imports, first-call caches
        for c in configs:
            fit(c, 20, data)
    for r in range(rounds):
        order = configs if r % 2 == 0 else configs[::-1]
        for c in order:
            with contextlib.redirect_stdout(io.StringIO()):
                if r % 2:
                    watched, plain = fit(c, steps, data), fit("plain", steps, data)
                else:
                    plain, watched = fit("plain", steps, data), fit(c, steps, data)
            cpu[c].append(watched[0] / plain[0])
            wall[c].append(watched[1] / plain[1])
        print(f"  round {r + 1}: " + ", ".join(f"{c} {cpu[c][-1]:.3f}x" for c in configs), file=sys.stderr)
    print(f"\n{name}: {steps} optimizer steps per fit, median of {rounds} paired fits (min-max)")
    print("| callback | CPU time | wall time |")
    print("| --- | --- | --- |")
    for c in configs:
        print(f"| {c} | {statistics.median(cpu[c]):.3f}x ({min(cpu[c]):.3f}-{max(cpu[c]):.3f}) | "
              f"{statistics.median(wall[c]):.3f}x ({min(wall[c]):.3f}-{max(wall[c]):.3f}) |")


def hook_time(steps: int, data: torch.utils.data.DataLoader) -> None:
    """What an unsampled step costs through the callback, measured directly: after a fit
    with the callback (only step 0 sampled), the hooks Lightning calls on each step (batch
    start, before backward, batch end) and the monitor's step from the optimizer hook are
    called 20,000 times in a loop on the attached monitor, against the plain fit's time per
    step. (A difference of two fits' times is within the machine's noise; timing each hook
    call inside the fit measures the clock's own system calls.)"""
    import lightning.pytorch as pl

    from actlab.integrations.lightning import MonitorCallback

    callback = MonitorCallback(schedule=lambda step: step == 0, print_findings=False)

    class Module(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.net = mlp()

        def training_step(self, batch, batch_idx):
            return F.cross_entropy(self.net(batch[0]), batch[1])

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    plain_cpu = lightning_fit("plain", steps, data)[0] / steps
    trainer = pl.Trainer(max_steps=steps, callbacks=[callback], logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", devices=1)
    module = Module()
    trainer.fit(module, data)
    mon = callback.monitor
    mon.attach()  # fit detached it; the same monitor, between two unsampled steps
    loss, batch, n = torch.tensor(1.0), next(iter(data)), 20_000
    start = time.thread_time()
    for i in range(n):
        callback.on_train_batch_start(trainer, module, batch, i)
        callback.on_before_backward(trainer, module, loss)
        mon._on_optimizer_step(None, (), {})
        callback.on_train_batch_end(trainer, module, loss, batch, i)
    per = (time.thread_time() - start) / n
    mon.detach()
    print(f"\nLightning, unsampled steps: {1e6 * per:.2f} us of CPU per step in the callback's hooks and "
          f"Monitor.step, {100 * per / plain_cpu:.3f}% of a plain fit's step ({1e3 * plain_cpu:.2f} ms of CPU)")


def step_costs(steps: int, data: torch.utils.data.DataLoader) -> None:
    """The default schedule's cost composed from per-step timings, which the paired fits above
    cannot resolve to 2% on a shared machine (two plain fits differ by several percent).

    Two copies of the MLP train side by side on the same batches, one step each in turn: a plain
    one, and one with ``Monitor(schedule=...)`` sampling every 10th step (every statistic). Each
    monitored step is one of three kinds: sampled; the step before a sampled one (its
    ``Monitor.step()`` installs the hooks and snapshots the weights for the next); and the rest,
    plainly unsampled. All are timed (thread CPU) within the same seconds as the plain steps,
    ``steps`` sampled steps in all, and from the medians the default schedule (1 sampled step
    in 100) costs (98 x unsampled + before + sampled) / (100 x plain)."""
    from actlab.probes import Monitor

    torch.manual_seed(0)
    plain_model = mlp()
    watched_model = mlp()
    watched_model.load_state_dict(plain_model.state_dict())
    opts = [torch.optim.SGD(m.parameters(), lr=0.01) for m in (plain_model, watched_model)]
    batches = list(data)
    times: dict[str, list[float]] = {"plain": [], "unsampled": [], "before": [], "sampled": []}
    with Monitor(watched_model, schedule=lambda step: step % 10 == 9) as mon:
        for i in range(20 + 10 * steps):
            x, y = batches[i % len(batches)]
            for which, (model, opt) in enumerate(zip((plain_model, watched_model), opts)):
                phase = mon.current_step % 10
                kind = ("plain" if not which else "sampled" if phase == 9 else "before" if phase == 8
                        else "unsampled")
                start = time.thread_time()
                opt.zero_grad()
                F.cross_entropy(model(x), y).backward()
                opt.step()
                if which:
                    mon.step()
                spent = time.thread_time() - start
                if i >= 20:  # the first steps build buffers
                    times[kind].append(spent)
    med = {k: statistics.median(v) for k, v in times.items()}
    composed = (98 * med["unsampled"] + med["before"] + med["sampled"]) / (100 * med["plain"])
    ratio = {k: med[k] / med["plain"] for k in med}
    print(f"\nPer step, interleaved with a plain twin ({steps} sampled steps, median thread CPU): plain "
          f"{1e3 * med['plain']:.3f} ms; unsampled {ratio['unsampled']:.4f}x, the step before a sampled one "
          f"{ratio['before']:.2f}x, sampled {ratio['sampled']:.2f}x; the default schedule (every=100) composed "
          f"from them: {composed:.4f}x (budget 1.02x)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--hf", action="store_true", help="the Hugging Face Trainer too")
    p.add_argument("--configs", default="every=100,never")
    p.add_argument("--direct-steps", type=int, default=300,
                   help="sampled steps timed side by side with plain ones (10x as many steps in all); 0: skip")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    for name in ("lightning.pytorch", "lightning.fabric", "lightning.pytorch.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("transformers").setLevel(logging.ERROR)
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(128 * 8, 784, generator=gen), torch.randint(0, 10, (128 * 8,), generator=gen)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=128)
    configs = args.configs.split(",")
    print(f"torch {torch.__version__}, 1 torch thread", file=sys.stderr)
    with contextlib.redirect_stdout(io.StringIO()) as out:
        hook_time(args.steps, loader)
    print(out.getvalue().strip().splitlines()[-1])
    if args.direct_steps:
        step_costs(args.direct_steps, loader)
    if args.rounds:
        measure("Lightning Trainer.fit", lightning_fit, loader, configs, args.rounds, args.steps)
    if args.hf and args.rounds:
        measure("Hugging Face Trainer.train", hf_fit, Pairs(x, y), configs, args.rounds, args.steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
