"""A Hugging Face ``TrainerCallback`` that runs :class:`actlab.Monitor` during ``Trainer.train``.

Usage (``pip install -e ".[integrations]"``)::

    from transformers import Trainer
    from actlab.integrations.transformers import MonitorCallback

    monitor = MonitorCallback(every=100)
    trainer = Trainer(model=model, args=args, train_dataset=data, callbacks=[monitor])
    trainer.train()
    for finding in monitor.findings:     # also printed at the end of training
        print(finding)

The monitor attaches to the model when training begins and detaches when it ends;
it steps at ``on_optimizer_step``, once per optimizer step (after gradient accumulation,
before the gradients are zeroed, so that their histograms can be taken).
With ``report_to`` including ``"tensorboard"``, its statistics are written to the
run's ``logging_dir`` as well (scalars and histograms); ``jsonl=`` and every other
argument go to :class:`Monitor`. The ``Trainer`` has no callback for an exception: if
``train()`` raises, call ``callback.monitor.detach()`` to remove the monitor's hooks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from ..probes import Finding, Monitor

__all__ = ["MonitorCallback"]


class MonitorCallback(TrainerCallback):
    """Runs an :class:`actlab.Monitor` on the ``Trainer``'s model during ``train``.

    Args:
        every: record every ``every``-th optimizer step (default: the monitor's, 100).
        log: write to the run's TensorBoard folder (``args.logging_dir``) when
            ``report_to`` includes ``"tensorboard"``.
        print_findings: print the findings when training ends.
        **monitor_kwargs: any other :class:`actlab.Monitor` argument.

    Attributes:
        monitor: the :class:`Monitor` (None before training begins).
        findings: the findings at the end of the last ``train()``.
    """

    def __init__(self, every: int | None = None, *, log: bool = True, print_findings: bool = True,
                 **monitor_kwargs: Any) -> None:
        if "optimizer" in monitor_kwargs:
            raise TypeError("MonitorCallback steps the monitor at on_optimizer_step; do not pass optimizer=")
        self.every, self.log, self.print_findings = every, log, print_findings
        self.monitor_kwargs = monitor_kwargs
        self.monitor: Monitor | None = None
        self.findings: list[Finding] = []

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if model is None:
            raise ValueError("MonitorCallback needs the model: the Trainer passes it to on_train_begin")
        monitor_kwargs = dict(self.monitor_kwargs)
        report_to = args.report_to if isinstance(args.report_to, (list, tuple)) else [args.report_to]
        if self.log and "tensorboard" in report_to and "tensorboard" not in monitor_kwargs and args.logging_dir:
            monitor_kwargs["tensorboard"] = str(Path(args.logging_dir) / "actlab-monitor")
        self.monitor = Monitor(model, every=self.every, start_step=state.global_step, **monitor_kwargs).attach()

    def on_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.monitor is not None and self.monitor.attached:
            self.monitor.step()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.monitor is None or not self.monitor.attached:
            return
        self.findings = self.monitor.findings()
        self.monitor.detach()
        if self.print_findings and state.is_world_process_zero:
            print(f"actlab monitor: {len(self.findings)} finding(s)")
            for finding in self.findings:
                print(f"- {finding}")
