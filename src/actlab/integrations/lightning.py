"""A PyTorch Lightning ``Callback`` that runs :class:`actlab.Monitor` during ``Trainer.fit``.

Usage (``pip install -e ".[integrations]"``)::

    import lightning as L
    from actlab.integrations.lightning import MonitorCallback

    monitor = MonitorCallback(every=100)
    trainer = L.Trainer(max_epochs=3, callbacks=[monitor])
    trainer.fit(model, train_loader)
    for finding in monitor.findings():   # also printed at the end of fit (rank 0)
        print(finding)

The monitor attaches to the ``LightningModule`` when fit starts and detaches when it
ends (or fails). It steps after each optimizer step (a step post-hook on the one
optimizer: gradient accumulation and skipped AMP steps are counted right), or after
each training batch with manual optimization or several optimizers. A training
batch is recorded from ``on_train_batch_start`` to ``on_before_backward``, so a
``training_step`` that calls submodules directly (not ``self(x)``) is seen too.
Scalars go to the trainer's logger (``monitor/<statistic>/<layer>``) when it has
one, and histograms too where the logger takes them (``TensorBoardLogger``:
``monitor/histogram/<layer>``, ``WandbLogger``: ``wandb.Histogram``); ``jsonl=``,
``tensorboard=`` and every other argument go to :class:`Monitor`. The loss of each
training step (what ``training_step`` returned) goes to the monitor, for its loss
findings.

Under DDP (``strategy="ddp"``) every rank runs the callback: each rank's records carry
its rank, rank k > 0 writes ``jsonl=`` to ``<stem>.rank<k><suffix>``, the gradient
statistics are those of the all-reduced gradients, and the findings are printed on
rank 0 only (see ``actlab.probes._distributed``).
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl

from ..probes import Findings, Monitor
from .scalars import logger_sinks

__all__ = ["MonitorCallback"]


class MonitorCallback(pl.Callback):
    """Runs an :class:`actlab.Monitor` on the ``LightningModule`` during ``fit``.

    Args:
        every: record every ``every``-th optimizer step (default: the monitor's, 100).
        log: log the scalars through ``trainer.logger`` when the trainer has one.
        print_findings: print the findings when fit ends.
        **monitor_kwargs: any other :class:`actlab.Monitor` argument (``jsonl=``,
            ``stats=``, ``layers=``, ...), except ``optimizer=``, which the callback sets.

    Attributes:
        monitor: the :class:`Monitor` (None before fit starts).
        findings: the findings at the end of the last fit: a list that can also be
            called, ``callback.findings()``, as ``Monitor.findings``.
    """

    def __init__(self, every: int | None = None, *, log: bool = True, print_findings: bool = True,
                 **monitor_kwargs: Any) -> None:
        if "optimizer" in monitor_kwargs:
            raise TypeError("MonitorCallback steps the monitor itself; do not pass optimizer=")
        self.every, self.log, self.print_findings = every, log, print_findings
        self.monitor_kwargs = monitor_kwargs
        self.monitor: Monitor | None = None
        self.findings: Findings = Findings()
        self._step_per_batch = False

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        optimizers = list(trainer.optimizers)
        one = len(optimizers) == 1 and pl_module.automatic_optimization
        self._step_per_batch = not one
        kwargs = dict(self.monitor_kwargs)
        sinks = list(kwargs.pop("sinks", ()))
        if self.log:
            for logger in trainer.loggers:
                sinks += logger_sinks(logger)
        self.monitor = Monitor(pl_module, every=self.every, optimizer=optimizers[0] if one else None,
                               sinks=sinks, start_step=trainer.global_step, **kwargs).attach()

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        if self.monitor is not None:
            self.monitor._enter_forward(pl_module)

    def on_before_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: Any) -> None:
        if self.monitor is not None:
            self.monitor._exit_forward()
            # read (without a sync) only if the step is sampled; with accumulate_grad_batches each
            # micro-batch's loss comes already divided by it: their sum is the optimizer step's loss
            share = loss.detach() if hasattr(loss, "detach") else loss
            previous = self.monitor._next_loss
            self.monitor._next_loss = share if previous is None else previous + share

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self.monitor is None:
            return
        self.monitor._exit_forward()  # a step that skipped backward
        if self._step_per_batch:
            self.monitor.step(loss=self.monitor._next_loss)
            self.monitor._next_loss = None

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._finish(trainer)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if self.monitor is not None:
            self.monitor.detach()

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self.monitor is not None:
            self.monitor.detach()  # no hook left behind, whatever ended the run

    def _finish(self, trainer: pl.Trainer) -> None:
        if self.monitor is None or not self.monitor.attached:
            return
        self.findings = self.monitor.findings
        self.monitor.detach()
        if self.print_findings and trainer.is_global_zero:
            print(self.findings.report())
