"""The shared trainer against a hand-written PyTorch loop doing the same steps.

Budget (DESIGN.md): the trainer is within 5% of the plain loop. Both train the
same MLP (784-256-256-10, relu, batch 64) on MNIST-sized synthetic data in memory,
with the trainer's evaluation switched to once at the end, alternating
trainer / plain runs and taking medians.

    python benchmarks/trainer_overhead.py [--steps 600] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from actlab.training.models import build_mlp
from actlab.training.trainer import Tensors, TrainConfig, train


def make_data(n: int = 10_000) -> Tensors:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 784, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return Tensors(x, y, x[:1000], y[:1000])


def plain_loop(model: nn.Module, data: Tensors, steps: int, batch_size: int, lr: float, seed: int) -> None:
    """What a person writes by hand: seeded permutation per epoch, SGD, cross-entropy."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    n, step = len(data.x_train), 0
    while step < steps:
        perm = torch.randperm(n, generator=g)
        for i in range(0, n - batch_size + 1, batch_size):
            idx = perm[i : i + batch_size]
            loss = loss_fn(model(data.x_train[idx]), data.y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if step == steps:
                break


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = make_data()
    cfg = TrainConfig(steps=args.steps, batch_size=64, lr=0.05, eval_every=args.steps, eval_examples=1000, threads=args.threads)
    times: dict[str, list[float]] = {"plain": [], "trainer": []}
    for r in range(args.repeats + 1):
        for which in ("plain", "trainer") if r % 2 else ("trainer", "plain"):
            model = build_mlp(784, 256, 2, 10, "relu", seed=0)
            t0 = time.perf_counter()
            if which == "plain":
                plain_loop(model, data, args.steps, 64, 0.05, seed=0)
            else:
                train(model, data, cfg)
            if r > 0:  # the first round is warm-up
                times[which].append(time.perf_counter() - t0)
    # the trainer also evaluates at step 0 and at the end (2 x 2000 examples); time that separately
    model = build_mlp(784, 256, 2, 10, "relu", seed=0)
    from actlab.training.trainer import evaluate_error

    t0 = time.perf_counter()
    for _ in range(2):
        evaluate_error(model, data.x_train[:1000], data.y_train[:1000])
        evaluate_error(model, data.x_test, data.y_test)
    eval_s = time.perf_counter() - t0
    plain, trainer = statistics.median(times["plain"]), statistics.median(times["trainer"])
    print(f"steps={args.steps} repeats={args.repeats} threads={args.threads}")
    print(f"plain loop      {1e3 * plain / args.steps:7.3f} ms/step  (median of {args.repeats})")
    print(f"actlab trainer  {1e3 * trainer / args.steps:7.3f} ms/step  (includes 2 evaluations, {1e3 * eval_s:.0f} ms in all)")
    ratio = trainer / plain
    ratio_train_only = (trainer - eval_s) / plain
    print(f"ratio trainer/plain: {ratio:.3f}  (training steps only: {ratio_train_only:.3f}); budget 1.05: "
          f"{'OK' if ratio_train_only <= 1.05 else 'OVER'}")


if __name__ == "__main__":
    main()
