"""The small shared trainer: minibatch SGD on tensors held in memory.

Kept close to a hand-written PyTorch loop (``benchmarks/trainer_overhead.py``
measures the difference): batches are slices of one seeded permutation per
epoch, the loss is accumulated on the device, and the host looks at numbers only
on evaluation steps.

Determinism: the same model init, data, config and seed give the same weights,
curves and metrics. Training runs with ``torch.set_num_threads(threads)``
(default 1) so that results do not depend on how many runs share the machine
(matrix-product reduction order changes with the thread count).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from .settings import MAX_BATCH, MAX_THREADS, check_choice, check_float, check_int, torch_threads

__all__ = ["TrainConfig", "TrainHistory", "Tensors", "train", "evaluate_error", "steps_to_target", "load_tensors", "DATASETS",
           "OPTIMIZERS"]


@dataclass(frozen=True)
class Tensors:
    """A dataset split into train and test tensors (x float, y int64 class labels)."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor

    @property
    def num_classes(self) -> int:
        return int(self.y_train.max()) + 1

    def to(self, device: torch.device | str) -> Tensors:
        return Tensors(*(t.to(device) for t in (self.x_train, self.y_train, self.x_test, self.y_test)))


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run.

    Attributes:
        steps: optimizer steps.
        batch_size: examples per step.
        lr: learning rate.
        momentum: SGD momentum (0 = plain SGD).
        optimizer: "sgd" (default) or "adam" (Adam's default betas; ``momentum`` must stay 0).
        seed: seeds the batch order.
        eval_every: measure training error (on ``eval_examples`` fixed training
            examples) every this many steps, and at step 0 and the end.
        eval_examples: how many training examples the training error is measured on.
        stop_at_error: stop early once the training error is at or below this (None: never).
        threads: torch threads while training (1 keeps results independent of parallelism).
        track_test: also measure the test error at every evaluation (else only at the end).
    """

    steps: int = 1000
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.0
    seed: int = 0
    eval_every: int = 50
    eval_examples: int = 2000
    stop_at_error: float | None = None
    threads: int = 1
    track_test: bool = False
    optimizer: str = "sgd"

    def __post_init__(self) -> None:
        check_int("steps", self.steps, min_value=1)
        check_int("batch_size", self.batch_size, min_value=1, max_value=MAX_BATCH)
        check_float("lr", self.lr, positive=True)
        check_float("momentum", self.momentum, min_value=0.0, max_value=0.999)
        check_int("eval_every", self.eval_every, min_value=1)
        check_int("eval_examples", self.eval_examples, min_value=1)
        check_int("threads", self.threads, min_value=1, max_value=MAX_THREADS)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        if self.optimizer == "adam" and self.momentum:
            raise ValueError(f"momentum={self.momentum} applies to sgd; adam keeps its own moments (set momentum=0)")
        if self.stop_at_error is not None:
            check_float("stop_at_error", self.stop_at_error, min_value=0.0, max_value=1.0)


@dataclass
class TrainHistory:
    """What a run produced. Curves are sampled at ``steps`` (evaluation steps).

    ``test_error`` is a curve when ``track_test`` is set, else empty; ``final_test_error``
    is measured after the last step (NaN after a divergence). ``diverged_at`` is the
    first evaluation step whose accumulated training loss was NaN or infinite (the
    run stops there), else None.
    """

    steps: list[int] = field(default_factory=list)
    train_error: list[float] = field(default_factory=list)
    test_error: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)  # mean minibatch loss since the last evaluation
    final_test_error: float = math.nan
    diverged_at: int | None = None
    steps_run: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "train_error": self.train_error,
            "test_error": self.test_error,
            "train_loss": self.train_loss,
            "final_test_error": self.final_test_error,
            "diverged_at": self.diverged_at,
            "steps_run": self.steps_run,
        }


#: The optimizers ``train`` knows (``TrainConfig.optimizer``).
OPTIMIZERS = ("sgd", "adam")

#: The datasets the training claims accept (``load_tensors`` loads them).
DATASETS = ("mnist", "fashion-mnist", "mnist1d")


@functools.lru_cache(maxsize=4)
def load_tensors(dataset: str, data_dir: str | None = None, train_examples: int = 0, test_examples: int = 0,
                 image: bool = False) -> Tensors:
    """A dataset of ``actlab.data`` as :class:`Tensors`, loaded once per process.

    ``train_examples`` / ``test_examples``: keep only the first N (0: all). ``image``:
    (N, 1, 28, 28) instead of flat rows. ``data_dir`` applies to the image datasets.
    A missing or damaged file raises ``actlab.data.DataError``.
    """
    from ..data import load_dataset

    kw = {"data_dir": data_dir} if dataset in ("mnist", "fashion-mnist") else {}
    ds = load_dataset(dataset, flatten=not image, max_train=train_examples or None, max_test=test_examples or None, **kw)
    return Tensors(ds.x_train, ds.y_train, ds.x_test, ds.y_test)


@torch.no_grad()
def evaluate_error(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 4096) -> float:
    """Classification error (fraction wrong) of ``model`` on (x, y); one host sync."""
    wrong = torch.zeros((), dtype=torch.long, device=x.device)
    for i in range(0, len(x), batch_size):
        wrong += (model(x[i : i + batch_size]).argmax(dim=1) != y[i : i + batch_size]).sum()
    return float(wrong) / len(x)  # sync point: one per evaluation


def _batches(n: int, batch_size: int, steps: int, generator: torch.Generator, device: torch.device) -> Iterator[Tensor]:
    """Index tensors for ``steps`` minibatches: a fresh seeded permutation each epoch."""
    done = 0
    while done < steps:
        perm = torch.randperm(n, generator=generator).to(device)
        for i in range(0, n - batch_size + 1, batch_size):  # drop the last partial batch
            yield perm[i : i + batch_size]
            done += 1
            if done == steps:
                return


def train(
    model: nn.Module,
    data: Tensors,
    config: TrainConfig,
    *,
    on_step: Callable[[int, nn.Module], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> TrainHistory:
    """Train ``model`` with (momentum) SGD or Adam and cross-entropy; returns the curves.

    Args:
        model: maps x (N, ...) to logits (N, C). Trained in place.
        data: tensors, already on the model's device.
        config: steps, batch size, learning rate, evaluation schedule.
        on_step: called as ``on_step(step, model)`` after every optimizer step
            (step counts from 1), e.g. to let a monitor record the step.
        progress: called with the number of steps done at each evaluation.
    """
    device = data.x_train.device
    if config.batch_size > len(data.x_train):
        raise ValueError(f"batch_size={config.batch_size} is larger than the {len(data.x_train)} training examples")
    history = TrainHistory()
    generator = torch.Generator().manual_seed(config.seed)
    eval_n = min(config.eval_examples, len(data.x_train))
    x_eval, y_eval = data.x_train[:eval_n], data.y_train[:eval_n]
    optimizer: torch.optim.Optimizer = (torch.optim.Adam(model.parameters(), lr=config.lr) if config.optimizer == "adam"
                                        else torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum))
    loss_fn = nn.CrossEntropyLoss()
    loss_sum = torch.zeros((), device=device)
    since = 0

    def evaluate(step: int) -> bool:
        """Record the curves at ``step``; False if training should stop."""
        nonlocal loss_sum, since
        model.eval()
        mean_loss = float(loss_sum) / since if since else math.nan  # sync point: once per evaluation
        history.steps.append(step)
        history.train_loss.append(mean_loss)
        if since and not math.isfinite(mean_loss):
            history.diverged_at = step
            history.train_error.append(math.nan)
            if config.track_test:
                history.test_error.append(math.nan)
            model.train()
            return False
        history.train_error.append(evaluate_error(model, x_eval, y_eval))
        if config.track_test:
            history.test_error.append(evaluate_error(model, data.x_test, data.y_test))
        loss_sum = torch.zeros((), device=device)
        since = 0
        model.train()
        if progress is not None:
            progress(step)
        stop = config.stop_at_error is not None and history.train_error[-1] <= config.stop_at_error
        return not stop

    with torch_threads(config.threads):
        model.train()
        keep_going = evaluate(0)
        step = 0
        for idx in _batches(len(data.x_train), config.batch_size, config.steps, generator, device) if keep_going else ():
            logits = model(data.x_train[idx])
            loss = loss_fn(logits, data.y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            loss_sum += loss.detach()
            since += 1
            if on_step is not None:
                on_step(step, model)
            if (step % config.eval_every == 0 or step == config.steps) and not evaluate(step):
                break
        history.steps_run = step
        if history.diverged_at is None:
            model.eval()
            history.final_test_error = evaluate_error(model, data.x_test, data.y_test)
            model.train()
    return history


def steps_to_target(steps: Sequence[int], errors: Sequence[float], target: float) -> int | None:
    """First evaluation step whose error is at or below ``target``; None if never."""
    for s, e in zip(steps, errors):
        if e <= target:  # NaN compares False: a diverged point never counts
            return int(s)
    return None
