"""The monitor's sinks (JSONL, TensorBoard), the plot from a saved JSONL, and the
runnable example."""

from __future__ import annotations

import json
import math
import runpy
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from actlab.plots.monitor import plot_monitor
from actlab.probes import JsonlSink, Monitor, read_jsonl

REPO = Path(__file__).resolve().parents[2]


def train(model, mon, steps):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        x = torch.randn(16, 6, generator=gen)
        opt.zero_grad()
        F.cross_entropy(model(x), (x[:, 0] > 0).long()).backward()
        opt.step()
        mon.step()


def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.Sigmoid(), nn.Linear(8, 8), nn.ReLU(inplace=True), nn.Linear(8, 2))


def test_jsonl_round_trip(tmp_path):
    path = tmp_path / "runs" / "monitor.jsonl"
    m = model()
    with Monitor(m, every=2, jsonl=path) as mon:
        train(m, mon, 5)
    lines = path.read_text().splitlines()
    assert all(json.loads(line) for line in lines)  # strict JSON, one object a line
    records = read_jsonl(path)
    assert records[0]["type"] == "header" and records[0]["stats"] and records[0]["schedule"].startswith("every(2")
    steps = [r for r in records if r["type"] == "step"]
    assert [r["step"] for r in steps] == [0, 2, 4]
    assert steps == [json.loads(json.dumps(r)) for r in mon.history]  # the file holds exactly the records
    # re-attaching the monitor appends a second header instead of truncating
    with mon:
        train(m, mon, 2)
    again = read_jsonl(path)
    assert [r["type"] for r in again].count("header") == 2 and again[-1]["step"] == 6
    # a new monitor starts a new log
    with Monitor(m, every=2, jsonl=path) as other:
        train(m, other, 1)
    assert [r["type"] for r in read_jsonl(path)] == ["header", "step"]


def test_jsonl_writes_nan_as_null_and_reads_it_back_as_nan(tmp_path):
    sink = JsonlSink(tmp_path / "x.jsonl")
    sink.start({"type": "header"})
    sink.write({"type": "step", "step": 0, "activations": {"a": {"mean": math.nan, "std": math.inf}}, "parameters": {}})
    sink.close()
    assert '"mean":null' in (tmp_path / "x.jsonl").read_text()
    rec = read_jsonl(tmp_path / "x.jsonl")[1]
    assert math.isnan(rec["activations"]["a"]["mean"])


def test_read_jsonl_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no monitor log"):
        read_jsonl(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "header"}\nnot json\n')
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        read_jsonl(bad)
    with pytest.raises(ValueError, match="folder"):
        JsonlSink(tmp_path)


def test_tensorboard_sink_writes_scalars_and_histograms(tmp_path):
    pytest.importorskip("tensorboard", reason="needs the tensorboard extra: pip install -e '.[tensorboard]'")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    m = model()
    with Monitor(m, every=1, tensorboard=tmp_path / "tb") as mon:
        train(m, mon, 3)
    acc = EventAccumulator(str(tmp_path / "tb"), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    tags = acc.Tags()
    assert {"mean/1", "dead_fraction/3", "grad_norm/0.weight", "update_ratio/2.weight"} <= set(tags["scalars"])
    assert {"histogram/1", "weight_histogram/0.weight", "grad_histogram/2.weight"} <= set(tags["histograms"])
    assert "positive_grad_fraction/0.weight" in tags["scalars"]
    (last,) = [e for e in acc.Histograms("grad_histogram/2.weight") if e.step == 2]
    rec = mon.history[-1]["parameters"]["2.weight"]
    assert list(last.histogram_value.bucket) == rec["grad_histogram"]
    assert last.histogram_value.max == pytest.approx(rec["grad_range"][1], rel=1e-6)
    means = [e.value for e in acc.Scalars("mean/1")]
    assert means == pytest.approx([r["activations"]["1"]["mean"] for r in mon.history], rel=1e-6)
    assert [e.step for e in acc.Scalars("grad_norm/0.weight")] == [0, 1, 2]


def test_tensorboard_sink_leaves_a_users_writer_open(tmp_path):
    pytest.importorskip("tensorboard", reason="needs the tensorboard extra: pip install -e '.[tensorboard]'")
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(tmp_path / "tb"))
    m = model()
    with Monitor(m, every=1, tensorboard=writer) as mon:
        train(m, mon, 1)
    writer.add_scalar("still/open", 1.0, 0)  # would fail on a closed writer
    writer.close()


def test_plot_from_a_saved_jsonl(tmp_path):
    path = tmp_path / "monitor.jsonl"
    m = model()
    with Monitor(m, every=1, jsonl=path) as mon:
        train(m, mon, 4)
    paths = plot_monitor(path, tmp_path / "fig")
    assert sorted(p.name for p in paths) == ["monitor_activations.png", "monitor_histograms.png",
                                             "monitor_parameters.png", "monitor_weight_histograms.png"]
    assert all(p.stat().st_size > 10_000 for p in paths)


def test_plot_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        plot_monitor(tmp_path / "none.jsonl", tmp_path)
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"type": "header"}\n')
    with pytest.raises(ValueError, match="no sampled step"):
        plot_monitor(empty, tmp_path)


def test_the_example_runs(tmp_path, capsys):
    pytest.importorskip("tensorboard", reason="needs the tensorboard extra: pip install -e '.[tensorboard]'")
    example = runpy.run_path(str(REPO / "examples" / "monitor_mlp.py"), run_name="example")
    out_dir = tmp_path / "out"
    assert example["main"](["--steps", "40", "--every", "5", "--batch", "32", "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert "finding(s)" in out and "activation site" in out and "tensorboard --logdir" in out
    steps = [r for r in read_jsonl(out_dir / "monitor.jsonl") if r["type"] == "step"]
    assert [r["step"] for r in steps] == list(range(0, 40, 5))
    assert set(steps[0]["activations"]) == {"sigmoid", "relu", "tanh()"}
    assert (out_dir / "monitor_activations.png").is_file()
    assert any((out_dir / "tensorboard").iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folder left


def test_the_example_runs_without_tensorboard_and_says_how_to_get_it(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard raises ImportError
    monkeypatch.delitem(sys.modules, "torch.utils.tensorboard", raising=False)
    example = runpy.run_path(str(REPO / "examples" / "monitor_mlp.py"), run_name="example")
    assert example["main"](["--steps", "10", "--every", "5", "--batch", "16", "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert 'pip install -e ".[tensorboard]"' in out
    assert (tmp_path / "o" / "monitor.jsonl").is_file() and not (tmp_path / "o" / "tensorboard").exists()
    assert (tmp_path / "o" / "monitor_activations.png").is_file()


def test_a_failed_example_run_leaves_no_half_written_output(tmp_path):
    example = runpy.run_path(str(REPO / "examples" / "monitor_mlp.py"), run_name="example")
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "monitor.jsonl").write_text("an earlier run's log\n")

    def broken(*args, **kwargs):
        raise RuntimeError("figures failed")

    example["main"].__globals__["plot_monitor"] = broken
    with pytest.raises(RuntimeError, match="figures failed"):
        example["main"](["--steps", "10", "--every", "5", "--batch", "16", "--out", str(tmp_path / "o")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]  # no partial folder
    assert (tmp_path / "o" / "monitor.jsonl").read_text() == "an earlier run's log\n"  # untouched


def test_the_weights_figure_keeps_its_legend_when_every_update_ratio_is_0(tmp_path, monkeypatch):
    import actlab.plots.monitor as pm

    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 2))
    path = tmp_path / "m.jsonl"
    with Monitor(model, every=1, jsonl=path) as mon:
        for _ in range(3):  # no optimizer step: every update ratio is 0
            model(torch.randn(4, 6)).sum().backward()
            mon.step()
    assert all(p["update_ratio"] == 0 for p in mon.history[-1]["parameters"].values())
    legends = {}

    def capture(fig, out):
        legends[Path(out).name] = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
        return Path(out)

    monkeypatch.setattr(pm, "save_figure", capture)
    plot_monitor(path, tmp_path)
    texts = legends["monitor_parameters.png"]
    assert "0.weight" in texts and "2.weight" in texts


def test_wandb_sink_offline(tmp_path, monkeypatch):
    wandb = pytest.importorskip("wandb", reason="needs the wandb extra: pip install -e '.[wandb]'")
    from actlab.probes import WandbSink

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run = wandb.init(project="actlab-test", dir=str(tmp_path), mode="offline")
    try:
        net = model()
        with Monitor(net, every=2, sinks=[WandbSink(run)]) as mon:
            train(net, mon, 5)
        run.log({}, commit=True)  # the sink logs with commit=False, to join the step's other metrics
        logged = dict(run.summary)
        last = mon.history[-1]
        assert last["step"] == 4
        assert math.isclose(logged["monitor/grad_norm/0.weight"], last["parameters"]["0.weight"]["grad_norm"])
        assert math.isclose(logged["monitor/mean/1"], last["activations"]["1"]["mean"])
        hist = logged["monitor/histogram/1"]
        assert sum(hist["values"]) == sum(last["activations"]["1"]["histogram"])
        assert "monitor/weight_histogram/0.weight" in logged
    finally:
        run.finish()
    assert list(Path(tmp_path, "wandb").glob("offline-run-*"))
