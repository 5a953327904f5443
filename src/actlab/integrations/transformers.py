"""A Hugging Face ``TrainerCallback`` that runs :class:`actlab.Monitor` during ``Trainer.train``.

Usage (``pip install -e ".[integrations]"``)::

    from transformers import Trainer
    from actlab.integrations.transformers import MonitorCallback

    monitor = MonitorCallback(every=100)
    trainer = Trainer(model=model, args=args, train_dataset=data, callbacks=[monitor])
    trainer.train()
    for finding in monitor.findings():   # also printed at the end of training (rank 0)
        print(finding)

The monitor attaches to the model when training begins and detaches when it ends;
it steps at ``on_optimizer_step``, once per optimizer step (after gradient accumulation,
before the gradients are zeroed, so that their histograms can be taken), with the
step's loss (what ``Trainer.training_step`` returned), for its loss findings.
With ``report_to`` including ``"tensorboard"``, its statistics are written to the
run's ``logging_dir`` as well (scalars and histograms), and with ``"wandb"`` to the
run's wandb run; ``jsonl=`` and every other argument go to :class:`Monitor`.

The ``Trainer`` has no callback for an exception. So the callback wraps the running
trainer's ``training_step`` (found on the call stack at ``on_train_begin``, restored at
the end): when a step raises, the monitor detaches (hooks removed, files closed) before
the exception goes on. Whatever else ends a run, the next ``train()`` (with this
callback or a new one) detaches a monitor that an earlier run of a Hugging Face
callback left attached to the same model, with a warning, instead of failing.

Under distributed training (``torchrun`` / ``accelerate launch``) every rank runs the
callback; records carry the rank, files never collide, gradient statistics are of the
all-reduced gradients and the findings are printed on the main process only. Tested
with 2 gloo CPU processes under ``torchrun --nproc_per_node 2`` and under ``accelerate
launch --multi_gpu --num_processes 2`` with ``use_cpu=True``
(tests/integrations/test_monitor_hf_distributed.py).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from ..probes import Findings, Monitor

__all__ = ["MonitorCallback"]


def _running_trainer() -> Any:
    """The ``transformers.Trainer`` whose ``train()`` is on the call stack, or None."""
    from transformers import Trainer

    frame = sys._getframe(1)
    while frame is not None:
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, Trainer):
            return candidate
        frame = frame.f_back
    return None


class MonitorCallback(TrainerCallback):
    """Runs an :class:`actlab.Monitor` on the ``Trainer``'s model during ``train``.

    Args:
        every: record every ``every``-th optimizer step (default: the monitor's, 100).
        log: write to the run's TensorBoard folder (``args.logging_dir``) when
            ``report_to`` includes ``"tensorboard"``, and to the wandb run when it
            includes ``"wandb"``.
        print_findings: print the findings when training ends.
        **monitor_kwargs: any other :class:`actlab.Monitor` argument.

    Attributes:
        monitor: the :class:`Monitor` (None before training begins).
        findings: the findings at the end of the last ``train()``: a list that can also
            be called, ``callback.findings()``, as ``Monitor.findings``.
    """

    def __init__(self, every: int | None = None, *, log: bool = True, print_findings: bool = True,
                 **monitor_kwargs: Any) -> None:
        if "optimizer" in monitor_kwargs:
            raise TypeError("MonitorCallback steps the monitor at on_optimizer_step; do not pass optimizer=")
        self.every, self.log, self.print_findings = every, log, print_findings
        self.monitor_kwargs = monitor_kwargs
        self.monitor: Monitor | None = None
        self.findings: Findings = Findings()
        self._trainer: Any = None
        self._loss: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if model is None:
            raise ValueError("MonitorCallback needs the model: the Trainer passes it to on_train_begin")
        self._cleanup()
        stale = Monitor.attached_to(model)
        if stale is not None and getattr(stale, "_hf_callback", False):
            warnings.warn(f"actlab MonitorCallback: {stale!r} was left attached by an earlier train() that ended with "
                          "an exception; it is detached now", stacklevel=2)
            stale.detach()
        monitor_kwargs = dict(self.monitor_kwargs)
        report_to = args.report_to if isinstance(args.report_to, (list, tuple)) else [args.report_to]
        if self.log and "tensorboard" in report_to and "tensorboard" not in monitor_kwargs and args.logging_dir:
            monitor_kwargs["tensorboard"] = str(Path(args.logging_dir) / "actlab-monitor")
        if self.log and "wandb" in report_to:
            wandb = sys.modules.get("wandb")
            if wandb is not None and getattr(wandb, "run", None) is not None:
                from ..probes import WandbSink

                monitor_kwargs["sinks"] = [*monitor_kwargs.get("sinks", ()), WandbSink(wandb.run)]
        self.monitor = Monitor(model, every=self.every, start_step=state.global_step, **monitor_kwargs)
        self.monitor._hf_callback = True
        self.monitor.attach()
        self._wrap_training_step()

    def _wrap_training_step(self) -> None:
        trainer = _running_trainer()
        if trainer is None or "training_step" in vars(trainer):
            return
        original = trainer.training_step
        callback = self

        def training_step(*args: Any, **kwargs: Any) -> Any:
            try:
                loss = original(*args, **kwargs)
            except BaseException:
                callback._cleanup()
                raise
            # With gradient accumulation the Trainer returns each micro-batch's share (its loss
            # divided by the accumulation steps): their sum is the step's loss, as the Trainer logs it.
            callback._loss = loss if callback._loss is None else callback._loss + loss
            return loss

        trainer.training_step = training_step
        self._trainer = trainer

    def _cleanup(self) -> None:
        """Detach the monitor and give the trainer its own training_step back."""
        if self._trainer is not None:
            vars(self._trainer).pop("training_step", None)
            self._trainer = None
        if self.monitor is not None and self.monitor.attached:
            self.monitor.detach()

    def on_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.monitor is not None and self.monitor.attached:
            loss, self._loss = self._loss, None
            self.monitor.step(loss=loss)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.monitor is None or not self.monitor.attached:
            self._cleanup()
            return
        self.findings = self.monitor.findings
        self._cleanup()
        if self.print_findings and state.is_world_process_zero:
            print(self.findings.report())
