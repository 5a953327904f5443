"""ReLU-class activations against a same-size copy: DESIGN.md's 1.2x budget.

Budget (DESIGN.md, "Performance budgets"): ReLU-class activations within 1.2x of a
same-size copy in the ``cost`` claim. For each piecewise-linear activation and a few
tensor sizes, this times the forward pass (the activation's ``nn.Module``, out of
place) and the baseline, an out-of-place copy (``x.clone()`` in an ``nn.Module``,
so that both sides pay the same allocation and call overhead), with the ``cost``
claim's own timing code (``actlab.claims.cost.measure``: warm-up, interleaved
rounds, medians over blocks; the thread's CPU time with one thread). It prints the
ratio of medians with its quartile range and marks each one against the budget.

    python benchmarks/activation_cost.py [--sizes 10000,100000,1000000,4000000]
        [--threads 1] [--min-run-time 0.5] [--rounds 5] [--device cpu] [--strict]

The budget is a throughput target for sizes where the kernel, not the call, is
what is timed; at the smallest sizes the per-call overhead (~1-4 us, Python and the
dispatcher) dominates both sides. On a shared machine, rerun before believing a
miss: the quartile range says how much the ratio moved during the run. With
``--strict`` the exit code is 1 when an activation misses the budget at the
largest size.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import torch

from actlab.claims.cost import (
    COPY,
    COPY_INTO,
    DTYPES,
    RELU_CLASS,
    choose_clock,
    elementwise_tasks,
    measure,
)
from actlab.training.settings import check_activations, resolve_device

BUDGET = 1.2


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} must be comma-separated integers") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: sizes must be positive integers")
    return tuple(sorted(set(values)))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activations", default=",".join(RELU_CLASS),
                        help=f"comma-separated (default: {','.join(RELU_CLASS)})")
    parser.add_argument("--sizes", type=_ints, default=(10_000, 100_000, 1_000_000, 4_000_000),
                        help="tensor sizes in elements (default: 10000,100000,1000000,4000000)")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    parser.add_argument("--min-run-time", type=float, default=0.5,
                        help="timed seconds per activation and size, over all rounds (default: 0.5)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default: 5)")
    parser.add_argument("--block-time", type=float, default=0.002, help="seconds per timed block (default: 0.002)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--budget", type=float, default=BUDGET, help=f"the budget (default: {BUDGET})")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any activation misses the budget at the largest size")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads < 1:
        raise SystemExit(f"--threads {args.threads}: must be >= 1")
    try:
        device = resolve_device(args.device)
        acts = list(check_activations(args.activations))
        tasks = elementwise_tasks(acts, args.sizes, device=device, dtype=DTYPES[args.dtype], passes=("forward",))
    except ValueError as exc:
        raise SystemExit(f"activation_cost: {exc}") from None
    tasks = {k: fn for k, fn in tasks.items() if k[0] != COPY_INTO}  # the clone is the baseline here
    previous = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    try:
        timings = measure(tasks, device=device, min_run_time=args.min_run_time, rounds=args.rounds,
                          block_time=args.block_time)
        clock = choose_clock(device)
    finally:
        torch.set_num_threads(previous)
    elapsed = time.perf_counter() - start

    print(f"ReLU-class forward vs a same-size copy (clone); budget {args.budget:g}x")
    print(f"device {device}, {args.threads} thread(s), {args.dtype}, clock {clock}, "
          f"torch {torch.__version__}, CPU kernels {torch.backends.cpu.get_cpu_capability()}")
    header = f"{'activation':<14}{'size':>12}{'ns/elem':>10}{'copy ns/elem':>14}{'ratio':>8}{'quartile range':>17}  budget"
    print(header)
    print("-" * len(header))
    misses = []
    for a in acts:
        for n in args.sizes:
            t, c = timings[(a, "forward", n)], timings[(COPY, "forward", n)]
            ratio = t.median / c.median
            low, high = t.q1 / c.q3, t.q3 / c.q1
            ok = ratio <= args.budget
            if not ok and n == args.sizes[-1]:
                misses.append(a)
            mark = "ok" if ok else "OVER"
            print(f"{a:<14}{n:>12,}{t.median / n * 1e9:>10.3f}{c.median / n * 1e9:>14.3f}"
                  f"{ratio:>7.2f}x{f'{low:.2f}-{high:.2f}':>17}  {mark}")
    largest = args.sizes[-1]
    verdict = "all within budget" if not misses else f"over budget: {', '.join(misses)}"
    print(f"\nat the largest size ({largest:,} elements): {verdict}. ({elapsed:.1f}s)")
    return 1 if (args.strict and misses) else 0


if __name__ == "__main__":
    sys.exit(main())
