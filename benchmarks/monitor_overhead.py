"""Monitor overhead per training step, side by side with the plain loop.

    python benchmarks/monitor_overhead.py                  # MLP and CNN, about 4 minutes
    python benchmarks/monitor_overhead.py --model mlp --rounds 30
    python benchmarks/monitor_overhead.py --threads 0 --clock wall   # torch's threads, wall clock
    python benchmarks/monitor_overhead.py --model deep                # 10,000 Linear(4,4)+Tanh layers
    python benchmarks/monitor_overhead.py --model cnn --fixed-heap   # no allocator page-fault noise

``--model deep`` (issue 14, item 17: memory and time must grow linearly with the model)
runs ``--layers`` (10,000) ``Linear(4, 4) + Tanh`` layers, batch 8, every step sampled
with every statistic, in child processes (one per configuration, so that each peak
resident memory is its own) and prints the peak memory and the CPU time of a sampled
step as ratios to the plain loop's.

Budgets (DESIGN.md, "Performance budgets"): at most 1.02x per step at the default
schedule and at most 1.3x with every statistic on every step, on an MNIST-sized MLP
(784-256-256-10, batch 128) on the CPU; a small CNN (two 3x3 convolutions with
in-place ReLU, batch 64) is measured too.

Method. One model, optimizer and batch stream per model kind, shared by every
configuration: the configurations take turns on it, ``--steps`` training steps each
(a monitor is attached for its turn and detached after it), for ``--rounds`` rounds,
in alternating order, and each turn is paired with a turn of the plain loop right
before or after it (alternately). So all configurations run the same computation on
the same tensors (the monitor does not change the training), and load drifts of a
shared machine hit each pair alike. The ratio reported is the median over rounds of
the pair's time ratio (q1 and q3 beside it). The default schedule's 1% or so
is within that noise; "default, from every-2nd" estimates it from the cost of a
sampled step measured where it is large (every other step sampled, hooks put in and
taken out each time) divided by the schedule's period.

Clock. By default one torch thread and the CPU time of this thread (``--clock cpu``):
on a small shared machine, wall-clock time with several threads mostly measures
how often other processes preempt this one (one of our runs: 15.8 ms per plain MLP
step with two threads against 2.5 ms with one). ``--clock wall`` measures wall time.

The default schedule records every 100th step, so ``--steps`` should be a multiple
of 100 for it to pay its fair share of sampled steps.

"inline minimum" is not the monitor: it is a floor for any eager-PyTorch monitor of
these statistics. Hooks written for these two models only (``nn.ReLU`` outputs and
all parameters), with the fewest tensor ops we found: per ReLU output its unit sums,
sum, centred norm, positive count and a 4096-value histogram; per parameter the
gradient norm, the weights' row max and min (sign coherence) and the update ratio
(snapshot, difference, two norms); one transfer per step. No site discovery, no
functional-call detection, no dead-unit window, no record keeping. The monitor's
every-step ratio minus this one is what its generality costs.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from actlab.probes import DEFAULT_EVERY, Monitor
from actlab.probes import stats as S


def mlp(width: int = 256) -> nn.Module:
    return nn.Sequential(nn.Linear(784, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 10))


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),  # (N, 16, 14, 14)
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),  # (N, 32, 7, 7)
        nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(inplace=True), nn.Linear(64, 10),
    )


MODELS: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...], int]] = {
    "mlp": (mlp, (784,), 128),  # MNIST-sized MLP, batch 128
    "cnn": (cnn, (1, 28, 28), 64),  # small CNN with in-place ReLU, batch 64
}

#: name -> Monitor keyword arguments (None: the plain loop). The budgets are on
#: "default" and "every-step"; the others show where the cost goes.
CONFIGS: dict[str, dict | None] = {
    "plain": None,
    "default": {},
    "default+jsonl": {"jsonl": True},
    "every-2nd": {"every": 2, "stats": "all"},
    "every-step": {"every": 1, "stats": "all"},
    "every-step+jsonl": {"every": 1, "stats": "all", "jsonl": True},
    "every-step activations": {"every": 1, "stats": "activations"},
    "every-step parameters": {"every": 1, "stats": "parameters"},
}
BUDGETS = {"default": 1.02, "every-step": 1.3}
INLINE = "inline minimum"  # a reference floor, not a Monitor configuration (see the docstring)
CONFIGS[INLINE] = None
# glibc's allocator returns a large freed block to the system (munmap) and maps it again on the
# next step; on a CNN that page-fault cost differs between two turns of the same loop by 5-20%,
# depending on what else is on the heap (a monitor's few small tensors shift it), which can make
# a monitored turn look faster than a plain one. With these the heap keeps what it has:
# --fixed-heap (also used by monitor_peers.py).
FIXED_HEAP = {"MALLOC_MMAP_THRESHOLD_": "4294967296", "MALLOC_TRIM_THRESHOLD_": "4294967296",
              "MALLOC_TOP_PAD_": "536870912"}


def rerun_with_fixed_heap(script: str, argv: list[str] | None) -> None:
    """Run ``script`` again under :data:`FIXED_HEAP` (glibc reads these only at start); returns
    only when they are already set."""
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") != FIXED_HEAP["MALLOC_MMAP_THRESHOLD_"]:
        argv_now = sys.argv[1:] if argv is None else argv
        os.execve(sys.executable, [sys.executable, script, *argv_now], {**os.environ, **FIXED_HEAP})



class InlineMinimum:
    """The same per-step statistics as ``Monitor(model, every=1)`` on these models,
    hard-coded with the fewest ops: a floor for the monitor's every-step cost."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.weights = [p for p in self.params if p.ndim >= 2]

    def attach(self) -> None:
        self.handles = [m.register_forward_hook(self._forward) for m in self.model.modules() if isinstance(m, nn.ReLU)]
        self.handles += [p.register_post_accumulate_grad_hook(self._grad) for p in self.params]
        self.arrived = 0
        self.snapshots = [p.detach().clone() for p in self.params]
        self.scalars: list[torch.Tensor] = []  # 0-d float32 results
        self.vectors: list[torch.Tensor] = []  # 1-d float32 results
        self._begin()

    def _forward(self, module: nn.Module, args: tuple, y: torch.Tensor) -> None:
        with torch.no_grad():
            sums = S.unit_sums(y, S.default_unit_dim(y.ndim))
            total = sums.sum()
            centred = torch.sub(y, total, alpha=1 / y.numel())
            stride = max(1, y.numel() // 4096)
            sample = y.as_strided(((y.numel() - 1) // stride + 1,), (stride,))
            self.scalars += [total, torch.linalg.vector_norm(centred), torch.sign(y).sum()]
            self.vectors += [sums, torch.histc(sample.clamp(0, 5), 32, 0, 5)]

    def _grad(self, param: torch.Tensor) -> None:
        self.arrived += 1
        if self.arrived < len(self.params):  # reduce once all gradients are in
            return
        self.arrived = 0
        with torch.no_grad():
            self.scalars += torch._foreach_norm([p.grad for p in self.params])
            for w in self.weights:
                rows = w.grad if w.ndim == 2 else w.grad.reshape(w.shape[0], -1)
                self.vectors += [rows.amax(dim=1), rows.amin(dim=1)]

    def _begin(self) -> None:
        with torch.no_grad():
            torch._foreach_copy_(self.snapshots, self.params)
            self.norms = torch._foreach_norm(self.snapshots)

    def step(self) -> None:
        with torch.no_grad():
            torch._foreach_sub_(self.snapshots, self.params)
            self.scalars += torch._foreach_norm(self.snapshots) + self.norms
            torch.cat([torch.stack(self.scalars), *self.vectors]).tolist()  # the one transfer
        self.scalars, self.vectors = [], []
        self._begin()

    def flush(self) -> None:
        pass

    def detach(self) -> None:
        for h in self.handles:
            h.remove()


class Bench:
    """One model kind: its model, optimizer, batches, and one monitor per configuration."""

    def __init__(self, kind: str, configs: list[str], log_dir: Path, batch: int | None = None,
                 width: int | None = None) -> None:
        build, shape, default_batch = MODELS[kind]
        batch = batch or default_batch
        if width is not None and kind == "mlp":
            build = functools.partial(mlp, width)
        gen = torch.Generator().manual_seed(0)
        self.xs = torch.randn(8, batch, *shape, generator=gen)
        self.ys = torch.randint(0, 10, (8, batch), generator=gen)
        torch.manual_seed(0)
        self.model = build()
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.monitors: dict[str, Monitor | None] = {}
        for name in configs:
            kw = CONFIGS[name]
            if name == INLINE:
                self.monitors[name] = InlineMinimum(self.model)  # type: ignore[assignment]
                continue
            if kw is None:
                self.monitors[name] = None
                continue
            kw = dict(kw)
            if kw.pop("jsonl", False):
                kw["jsonl"] = log_dir / f"{kind}-{name.replace(' ', '-')}.jsonl"
            self.monitors[name] = Monitor(self.model, **kw)
        self.i = 0

    def run(self, name: str, steps: int, clock: Callable[[], float]) -> float:
        """Seconds (of ``clock``) per step over ``steps`` training steps of configuration ``name``."""
        model, opt, xs, ys = self.model, self.opt, self.xs, self.ys
        mon = self.monitors[name]
        if mon is not None:
            mon.attach()
        t0 = clock()
        for _ in range(steps):
            k = self.i % len(xs)
            self.i += 1
            opt.zero_grad()
            F.cross_entropy(model(xs[k]), ys[k]).backward()
            opt.step()
            if mon is not None:
                mon.step()
        if mon is not None:
            mon.flush()  # the transfer and the sinks belong to the measured time
        elapsed = clock() - t0
        if mon is not None:
            mon.detach()
        return elapsed / steps


def measure(kind: str, configs: list[str], rounds: int, steps: int, warmup: int, clock: Callable[[], float],
            batch: int | None = None, width: int | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(kind, configs, Path(tmp), batch, width)
        for name in configs:
            bench.run(name, warmup, clock)
        times: dict[str, list[float]] = {name: [] for name in configs}
        ratios: dict[str, list[float]] = {name: [] for name in configs}
        others = [name for name in configs if name != "plain"]
        for r in range(rounds):
            for k, name in enumerate(others if r % 2 == 0 else others[::-1]):  # alternate who goes first
                pair = ("plain", name) if (r + k) % 2 == 0 else (name, "plain")
                t = {n: bench.run(n, steps, clock) for n in pair}
                for n in pair:
                    times[n].append(t[n])
                ratios[name].append(t[name] / t["plain"])
            ratios["plain"].append(1.0)
    out = {}
    for name, ts in times.items():
        rs = ratios[name]
        q1, _, q3 = statistics.quantiles(rs, n=4) if len(rs) > 1 else (rs[0],) * 3
        out[name] = {"ms_per_step": 1e3 * statistics.median(ts), "ratio": statistics.median(rs),
                     "q1": q1, "q3": q3, "rounds": len(rs)}
    return out


def deep_child(mode: str, layers: int, steps: int) -> dict[str, float]:
    """One configuration of the deep case, in this (child) process."""
    import resource

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = nn.Sequential(*[m for _ in range(layers) for m in (nn.Linear(4, 4), nn.Tanh())])
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    x = torch.randn(8, 4)
    mon = Monitor(model, every=1, keep=steps).attach() if mode == "monitor" else None
    times = []
    for _ in range(steps + 1):  # the first step warms up
        t0 = time.process_time()
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
        if mon is not None:
            mon.step()
        times.append(time.process_time() - t0)
    if mon is not None:
        mon.detach()
    return {"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "s_per_step": statistics.median(times[1:])}


def deep(layers: int, steps: int) -> dict[str, dict[str, float]]:
    import subprocess

    out = {}
    for mode in ("plain", "monitor"):
        import actlab

        # the child imports the same actlab as this process (PYTHONPATH=src is relative)
        paths = [str(Path(__file__).resolve().parent), str(Path(actlab.__file__).resolve().parents[1])]
        code = (f"import json, sys; sys.path[:0] = {paths!r}; import monitor_overhead as m; "
                f"print(json.dumps(m.deep_child({mode!r}, {layers}, {steps})))")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              cwd=Path(__file__).parent, check=True)
        out[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
    plain, mon = out["plain"], out["monitor"]
    print(f"deep: {layers:,} Linear(4,4)+Tanh layers, batch 8, every step sampled, every statistic "
          f"(median of {steps} steps, 1 thread, CPU time)")
    print(f"  plain loop   peak {plain['peak_mb']:8.0f} MB   {1e3 * plain['s_per_step']:9.1f} ms per step")
    print(f"  monitor      peak {mon['peak_mb']:8.0f} MB   {1e3 * mon['s_per_step']:9.1f} ms per step")
    print(f"  ratio        peak {mon['peak_mb'] / plain['peak_mb']:8.2f}x      "
          f"{mon['s_per_step'] / plain['s_per_step']:9.2f}x per sampled step")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=["mlp", "cnn", "all", "deep"], default="all")
    p.add_argument("--layers", type=int, default=10_000, help="layers of the deep case (--model deep)")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--steps", type=int, default=100, help="steps per configuration per round (a multiple of the default schedule's 100)")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--threads", type=int, default=1, help="torch threads (0: leave torch's default)")
    p.add_argument("--batch", type=int, help="batch size instead of the model's default (MLP 128, CNN 64)")
    p.add_argument("--width", type=int, help="the MLP's hidden width instead of 256")
    p.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    p.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated, from: " + ", ".join(CONFIGS))
    p.add_argument("--json", type=Path, help="also write the numbers here")
    p.add_argument("--fixed-heap", action="store_true",
                   help="rerun under glibc settings that keep freed memory (no mmap/munmap per large tensor)")
    args = p.parse_args(argv)
    if args.fixed_heap:
        rerun_with_fixed_heap(__file__, argv)
    if args.rounds < 1 or args.steps < 1:
        p.error("--rounds and --steps must be >= 1")
    if (args.batch is not None and args.batch < 1) or (args.width is not None and args.width < 1):
        p.error("--batch and --width must be >= 1")
    if args.model == "deep":
        result = deep(args.layers, min(args.steps, 5))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        p.error(f"unknown configuration(s) {unknown}; choose from {', '.join(CONFIGS)}")
    if "plain" not in configs:
        configs.insert(0, "plain")
    if args.clock == "wall":
        clock = time.perf_counter
    else:
        clock = time.thread_time if torch.get_num_threads() == 1 else time.process_time
    kinds = ["mlp", "cnn"] if args.model == "all" else [args.model]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), clock: {args.clock} "
          f"({clock.__name__}); default schedule: every {DEFAULT_EVERY} steps, all statistics; "
          f"{args.rounds} rounds x {args.steps} steps per configuration, interleaved"
          + ("; glibc heap fixed (--fixed-heap)" if os.environ.get("MALLOC_MMAP_THRESHOLD_") else ""))
    results = {}
    for kind in kinds:
        res = measure(kind, configs, args.rounds, args.steps, args.warmup, clock, args.batch, args.width)
        results[kind] = res
        batch = args.batch or MODELS[kind][2]
        shape = f"784-{args.width or 256}-{args.width or 256}-10" if kind == "mlp" else "2 convs, in-place ReLU"
        print(f"\n{kind} ({shape}, batch {batch}): time per training step, and ratio to the plain loop "
              "(median over rounds, q1-q3)")
        for name, r in res.items():
            budget = BUDGETS.get(name)
            verdict = "" if budget is None else f"  budget {budget:.2f}x: {'ok' if r['ratio'] <= budget else 'OVER'}"
            print(f"  {name:24} {r['ms_per_step']:8.3f} ms  {r['ratio']:6.3f}x  ({r['q1']:.3f}-{r['q3']:.3f}){verdict}")
        if "every-2nd" in res:
            # A sampled step (with its hooks put in and taken out) costs 2 (r2 - 1) plain steps;
            # the default schedule pays that once per DEFAULT_EVERY steps. Far less noisy than
            # measuring a 1% difference directly on a shared machine.
            estimate = 1 + 2 * (res["every-2nd"]["ratio"] - 1) / DEFAULT_EVERY
            res["default (estimate)"] = {"ratio": estimate}
            verdict = "ok" if estimate <= BUDGETS["default"] else "OVER"
            print(f"  {'default, from every-2nd':24} {'':8}     {estimate:6.3f}x  "
                  f"(= 1 + 2 x ({res['every-2nd']['ratio']:.3f} - 1) / {DEFAULT_EVERY})  "
                  f"budget {BUDGETS['default']:.2f}x: {verdict}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
