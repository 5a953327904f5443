"""The Lightning and Hugging Face callbacks, against the real libraries (the
``integrations`` extra): a few steps of ``Trainer.fit`` / ``Trainer.train`` on tiny
models give findings, train bit-identically to the same run without the callback,
and leave no hook behind."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from integration_helpers import hook_count, tiny_bert
from torch import nn

from actlab.probes import Monitor

EXTRA = "needs the integrations extra: pip install -e '.[integrations]'"


# --- Lightning ------------------------------------------------------------------------------


def _lightning_run(tmp_path, callback, direct: bool):
    pl = pytest.importorskip("lightning.pytorch", reason=EXTRA)

    class Tiny(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(6, 16), nn.Sigmoid(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, batch_idx):
            x, y = batch
            logits = self.net(x) if direct else self(x)  # direct: the root's forward never runs
            return F.cross_entropy(logits, y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    pl.seed_everything(0, verbose=False)
    model = Tiny()
    gen = torch.Generator().manual_seed(1)
    data = torch.utils.data.TensorDataset(torch.randn(48, 6, generator=gen), torch.randint(0, 3, (48,), generator=gen))
    loader = torch.utils.data.DataLoader(data, batch_size=8)
    trainer = pl.Trainer(max_steps=6, callbacks=[callback] if callback else [], logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         accelerator="cpu", devices=1, default_root_dir=str(tmp_path))
    trainer.fit(model, loader)
    return model


@pytest.mark.parametrize("direct", [False, True])
def test_lightning_callback_records_finds_and_trains_bit_identically(tmp_path, direct, capsys):
    pytest.importorskip("lightning.pytorch", reason=EXTRA)
    from actlab.integrations.lightning import MonitorCallback

    plain = _lightning_run(tmp_path, None, direct)
    callback = MonitorCallback(every=1, jsonl=tmp_path / "m.jsonl")
    watched = _lightning_run(tmp_path, callback, direct)
    for (name, a), (_, b) in zip(plain.state_dict().items(), watched.state_dict().items()):
        assert torch.equal(a, b), name
    mon = callback.monitor
    assert not mon.attached and hook_count(watched) == 0
    assert [r["step"] for r in mon.history] == list(range(6))  # one record per optimizer step
    assert mon.sites == ["net.1", "net.3"]
    rec = mon.history[-1]
    assert rec["forwards"] == 1 and rec["parameters"]["net.0.weight"]["update_ratio"] > 0
    assert isinstance(callback.findings, list)
    assert "actlab monitor:" in capsys.readouterr().out


def test_lightning_callback_logs_through_the_trainers_logger(tmp_path):
    pl = pytest.importorskip("lightning.pytorch", reason=EXTRA)
    from lightning.pytorch.loggers import CSVLogger

    from actlab.integrations.lightning import MonitorCallback

    class Tiny(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.fc, self.act, self.out = nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)

        def forward(self, x):
            return self.out(self.act(self.fc(x)))

        def training_step(self, batch, batch_idx):
            return F.cross_entropy(self(batch[0]), batch[1])

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    data = torch.utils.data.TensorDataset(torch.randn(16, 4), torch.randint(0, 2, (16,)))
    logger = CSVLogger(str(tmp_path), name="run")
    callback = MonitorCallback(every=1, print_findings=False)
    trainer = pl.Trainer(max_steps=3, callbacks=[callback], logger=logger, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", devices=1)
    trainer.fit(Tiny(), torch.utils.data.DataLoader(data, batch_size=4))
    metrics = (tmp_path / "run" / "version_0" / "metrics.csv").read_text()
    assert "monitor/std/act" in metrics and "monitor/grad_norm/fc.weight" in metrics


# --- Hugging Face ---------------------------------------------------------------------------


def _bert_run(tmp_path, callback, report_to=(), logging_steps=None):
    transformers = pytest.importorskip("transformers", reason=EXTRA)
    pytest.importorskip("accelerate", reason=EXTRA)
    model, data = tiny_bert(layers=2)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "hf"), max_steps=4, per_device_train_batch_size=4, gradient_accumulation_steps=2,
        learning_rate=1e-3, report_to=list(report_to), save_strategy="no",
        logging_strategy="steps" if logging_steps else "no", logging_steps=logging_steps or 500, use_cpu=True, seed=0,
        dataloader_num_workers=0, disable_tqdm=True)
    trainer = transformers.Trainer(model=model, args=args, train_dataset=data,
                                   callbacks=[callback] if callback else [])
    trainer.train()
    model.log_history = trainer.state.log_history
    return model


def test_hugging_face_callback_records_finds_and_trains_bit_identically(tmp_path, capsys):
    pytest.importorskip("transformers", reason=EXTRA)
    from actlab.integrations.transformers import MonitorCallback

    plain = _bert_run(tmp_path, None)
    callback = MonitorCallback(every=1)
    watched = _bert_run(tmp_path, callback)
    for (name, a), (_, b) in zip(plain.state_dict().items(), watched.state_dict().items()):
        assert torch.equal(a, b), name
    mon = callback.monitor
    assert not mon.attached and hook_count(watched) == 0
    assert [r["step"] for r in mon.history] == [0, 1, 2, 3]  # optimizer steps, not micro-batches
    assert mon.history[-1]["forwards"] == 2  # two micro-batches per step, pooled
    # stepped before the Trainer zeroes the gradients: their histograms are there
    dense = mon.history[-1]["parameters"]["bert.encoder.layer.0.intermediate.dense.weight"]
    assert sum(dense["grad_histogram"]) > 0 and 0 < dense["positive_grad_fraction"] < 1
    # BERT's GELU (a module in its intermediate layers) and its pooler's tanh
    sites = mon.sites
    assert any("intermediate" in s for s in sites) and any("pooler" in s for s in sites)
    assert isinstance(callback.findings, list)
    assert "actlab monitor:" in capsys.readouterr().out


def test_the_recorded_loss_is_the_optimizer_steps_loss_under_gradient_accumulation(tmp_path):
    # Two micro-batches per step: each returns half its loss; the record holds their sum, the
    # loss the Trainer itself logs for the step (rounded there to 4 decimals), not the last half.
    pytest.importorskip("transformers", reason=EXTRA)
    from actlab.integrations.transformers import MonitorCallback

    callback = MonitorCallback(every=1, print_findings=False)
    model = _bert_run(tmp_path, callback, logging_steps=1)
    logged = [entry["loss"] for entry in model.log_history if "loss" in entry]
    recorded = [r["loss"] for r in callback.monitor.history]
    assert len(logged) == len(recorded) == 4
    assert recorded == pytest.approx(logged, abs=1e-4), (recorded, logged)
    assert all(0.5 < v < 1.0 for v in recorded)  # about ln 2 for two classes, not half of it


def test_lightning_records_the_steps_loss_under_accumulate_grad_batches(tmp_path):
    pl = pytest.importorskip("lightning.pytorch", reason=EXTRA)
    from actlab.integrations.lightning import MonitorCallback

    seen: list[float] = []

    class Tiny(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = F.cross_entropy(self.net(x), y)
            seen.append(loss.item())
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    pl.seed_everything(0, verbose=False)
    gen = torch.Generator().manual_seed(1)
    data = torch.utils.data.TensorDataset(torch.randn(48, 6, generator=gen), torch.randint(0, 3, (48,), generator=gen))
    callback = MonitorCallback(every=1, print_findings=False)
    trainer = pl.Trainer(max_steps=3, accumulate_grad_batches=2, callbacks=[callback], logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         accelerator="cpu", devices=1, default_root_dir=str(tmp_path))
    trainer.fit(Tiny(), torch.utils.data.DataLoader(data, batch_size=8))
    recorded = [r["loss"] for r in callback.monitor.history]
    means = [(seen[2 * i] + seen[2 * i + 1]) / 2 for i in range(3)]  # the mean over each step's micro-batches
    assert recorded == pytest.approx(means, rel=1e-5), (recorded, seen)


def test_a_monitor_cannot_be_attached_twice_through_a_callback_and_by_hand(tmp_path):
    pytest.importorskip("transformers", reason=EXTRA)
    from actlab.integrations.transformers import MonitorCallback

    model = nn.Sequential(nn.Linear(2, 2))
    with Monitor(model, every=1):
        callback = MonitorCallback(every=1)

        class Args:
            report_to, logging_dir = [], None

        class State:
            global_step = 0

        with pytest.raises(RuntimeError, match="already attached"):
            callback.on_train_begin(Args(), State(), None, model=model)


def test_hugging_face_callback_writes_into_the_runs_tensorboard_folder(tmp_path):
    pytest.importorskip("transformers", reason=EXTRA)
    pytest.importorskip("tensorboard", reason="needs the tensorboard extra: pip install -e '.[tensorboard]'")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from actlab.integrations.transformers import MonitorCallback

    callback = MonitorCallback(every=2, print_findings=False)
    _bert_run(tmp_path, callback, report_to=["tensorboard"])
    folders = list((tmp_path / "hf").rglob("actlab-monitor"))
    assert len(folders) == 1
    acc = EventAccumulator(str(folders[0]))
    acc.Reload()
    assert any(tag.startswith("grad_norm/bert.encoder") for tag in acc.Tags()["scalars"])
    assert [e.step for e in acc.Scalars("grad_norm/classifier.weight")] == [0, 2]


# --- issue 22: findings API, loss, logger histograms, exceptions ------------------------------


def test_findings_are_one_api_on_the_monitor_and_the_callbacks(tmp_path):
    pytest.importorskip("lightning.pytorch", reason=EXTRA)
    from actlab.integrations.lightning import MonitorCallback
    from actlab.probes import Findings

    callback = MonitorCallback(every=1, print_findings=False)
    _lightning_run(tmp_path, callback, direct=False)
    mon = callback.monitor
    for found in (callback.findings, callback.findings(), mon.findings, mon.findings()):
        assert isinstance(found, Findings) and isinstance(found, list)
    assert list(callback.findings) == list(callback.findings()) == list(mon.findings())
    # the loss that training_step returned reached the records
    losses = [r["loss"] for r in mon.history]
    assert len(losses) == 6 and all(isinstance(v, float) and 0.5 < v < 2.0 for v in losses)
    assert mon.history[0]["optimizer"] == {"name": "SGD", "family": "sgd", "lr": 0.1}


def test_lightning_callback_sends_histograms_to_a_tensorboard_logger(tmp_path):
    pl = pytest.importorskip("lightning.pytorch", reason=EXTRA)
    pytest.importorskip("tensorboard", reason="needs the tensorboard extra: pip install -e '.[tensorboard]'")
    from lightning.pytorch.loggers import TensorBoardLogger
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from actlab.integrations.lightning import MonitorCallback

    callback = MonitorCallback(every=2, print_findings=False)
    model = _tiny_lightning(pl)
    data = torch.utils.data.TensorDataset(torch.randn(32, 6), torch.randint(0, 3, (32,)))
    trainer = pl.Trainer(max_steps=4, callbacks=[callback], logger=TensorBoardLogger(str(tmp_path), name="tb"),
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         accelerator="cpu", devices=1)
    trainer.fit(model, torch.utils.data.DataLoader(data, batch_size=8))
    events = list((tmp_path / "tb").rglob("events.out.tfevents.*"))
    acc = EventAccumulator(str(events[0].parent), size_guidance={"histograms": 0})
    acc.Reload()
    hists = acc.Tags()["histograms"]
    assert {"monitor/histogram/net.1", "monitor/weight_histogram/net.0.weight",
            "monitor/grad_histogram/net.0.weight"} <= set(hists)
    assert [e.step for e in acc.Histograms("monitor/histogram/net.1")] == [0, 2]
    assert "monitor/grad_norm/net.0.weight" in acc.Tags()["scalars"]


def _tiny_lightning(pl):
    class Tiny(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(6, 16), nn.Sigmoid(), nn.Linear(16, 3))

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, batch_idx):
            return F.cross_entropy(self(batch[0]), batch[1])

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    torch.manual_seed(0)
    return Tiny()


def test_hugging_face_callback_cleans_up_when_train_raises(tmp_path):
    transformers = pytest.importorskip("transformers", reason=EXTRA)
    pytest.importorskip("accelerate", reason=EXTRA)
    from actlab.integrations.transformers import MonitorCallback

    class Failing(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
            self.calls, self.fail_at = 0, 3

        def forward(self, x, labels=None):
            self.calls += 1
            if self.calls == self.fail_at:
                raise RuntimeError("a bad batch")
            return {"loss": F.cross_entropy(self.net(x), labels)}

    model = Failing()
    data = [{"x": torch.randn(4), "labels": torch.tensor(i % 2)} for i in range(32)]

    def train(callback):
        args = transformers.TrainingArguments(
            output_dir=str(tmp_path / "hf"), max_steps=5, per_device_train_batch_size=4, report_to=[],
            save_strategy="no", logging_strategy="no", use_cpu=True, dataloader_num_workers=0, disable_tqdm=True)
        transformers.Trainer(model=model, args=args, train_dataset=data, callbacks=[callback]).train()

    first = MonitorCallback(every=1, jsonl=tmp_path / "m.jsonl", print_findings=False)
    with pytest.raises(RuntimeError, match="a bad batch"):
        train(first)
    assert not first.monitor.attached and hook_count(model) == 0
    assert first.monitor.sinks[0]._file is None  # the JSONL file is closed
    assert Monitor.attached_to(model) is None
    model.fail_at = 10**9
    second = MonitorCallback(every=1, print_findings=False)
    train(second)  # no "already attached"
    assert [r["step"] for r in second.monitor.history] == [0, 1, 2, 3, 4]
    assert all(isinstance(r["loss"], float) for r in second.monitor.history)
    assert second.findings() == list(second.findings)


@pytest.mark.slow
def test_lightning_callback_under_lightnings_ddp_launcher(tmp_path):
    """strategy="ddp" with 2 CPU processes: one file per rank, rank in every record, the
    same (all-reduced) gradient norms on both ranks, the findings printed once."""
    pytest.importorskip("lightning.pytorch", reason=EXTRA)
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    here = Path(__file__).parent
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(
        [str(here.parents[1] / "src")] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run([sys.executable, str(here / "lightning_ddp.py"), str(tmp_path)], capture_output=True,
                          text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("actlab monitor:") == 1, proc.stdout
    logs = {}
    for rank, name in enumerate(["monitor.jsonl", "monitor.rank1.jsonl"]):
        records = [json.loads(line) for line in (tmp_path / name).read_text().splitlines()]
        steps = [r for r in records if r["type"] == "step"]
        assert [r["step"] for r in steps] == [0, 1, 2]
        assert all(r["rank"] == rank and r["world_size"] == 2 for r in steps)
        logs[rank] = steps
    for a, b in zip(logs[0], logs[1]):
        assert abs(a["parameters"]["net.0.weight"]["grad_norm"] - b["parameters"]["net.0.weight"]["grad_norm"]) < 1e-6
        assert a["loss"] != b["loss"]  # each rank's own batch
