"""The ``cost`` claim: timing code, metrics, CLI, figures, benchmark script.

No test asserts a speed ratio between activations (timings on a shared machine are
noisy); speed targets live in ``benchmarks/activation_cost.py``. The one timing
assertion is that ten times the work is measured as clearly more than once.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats as scipy_stats

from actlab.activations import REGISTRY, get
from actlab.claims.cost import (
    ALLOC_THRESHOLD_BYTES,
    COPY,
    COPY_INTO,
    ELEMENTWISE_ZOO,
    PASSES,
    QUICK,
    RELU_CLASS,
    Config,
    Copy,
    CopyInto,
    Timing,
    choose_clock,
    elementwise_tasks,
    measure,
    regime_of,
    run,
    train_step_task,
)
from actlab.claims.cost.processes import aggregate, cache_level
from actlab.claims.cost.verdict import verdict
from actlab.cli.main import main
from actlab.plots.cost import captions, plot, tables
from actlab.verdicts.result import load_result

REPO = Path(__file__).resolve().parents[2]
CONTRACT_KEYS = {"experiment", "actlab_version", "config", "metrics", "verdict", "env", "elapsed_s"}
STATS_KEYS = {"median", "q1", "q3", "iqr", "blocks", "per_process"}

# Small enough for a whole-zoo run in about a second: two sizes, short blocks, a tiny MLP.
TINY = dict(sizes=(1000, 3000), min_run_time=0.004, rounds=2, block_time=0.0005, warmup=1,
            train_widths=(16,), train_batch=8, train_min_run_time=0.004, processes=2)
TINY_SET = [f"{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in TINY.items()]


@pytest.fixture(scope="module")
def tiny_result():
    return run(Config(**TINY))


# --- timing ---------------------------------------------------------------------------


@pytest.mark.parametrize("clock", ["thread_time", "perf_counter"])
def test_ten_calls_are_measured_as_clearly_more_than_one(clock):
    # 10x the work; measured >= 4x leaves room for heavy noise, and the test can still
    # fail: a timer that measured nothing (or only the Python loop) would give ~1x.
    x = torch.randn(200_000)

    def once():
        return torch.sigmoid(x)

    def ten():
        for _ in range(10):
            torch.sigmoid(x)

    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # thread_time counts the calling thread only
    try:
        t = measure({"once": once, "ten": ten}, min_run_time=0.06, rounds=3, block_time=0.003, warmup=1, clock=clock)
    finally:
        torch.set_num_threads(previous)
    assert t["ten"].median > 4 * t["once"].median
    for timing in t.values():
        assert 0 < timing.q1 <= timing.median <= timing.q3
        assert timing.blocks >= 2 * 3  # at least two blocks per round
        assert timing.calls >= timing.blocks


def test_measure_calls_each_task_and_checks_its_arguments():
    calls = {"a": 0, "b": 0}

    def make(key):
        def fn():
            calls[key] += 1
        return fn

    t = measure({"a": make("a"), "b": make("b")}, min_run_time=0.002, rounds=2, block_time=0.0002, warmup=3)
    assert list(t) == ["a", "b"]
    for key in calls:  # warm-up + calibration + timed calls, and the timed ones are counted
        assert calls[key] >= 3 + t[key].calls
    with pytest.raises(ValueError, match="rounds"):
        measure({"a": make("a")}, rounds=0)
    with pytest.raises(ValueError, match="clock"):
        measure({"a": make("a")}, clock="sundial")
    with pytest.raises(ValueError, match="min_run_time"):
        measure({"a": make("a")}, min_run_time=-1.0)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with pytest.raises(ValueError, match="thread_time"):
            measure({"a": make("a")}, clock="thread_time")
    finally:
        torch.set_num_threads(previous)


def test_timing_quartiles_match_numpy():
    np = pytest.importorskip("numpy")
    samples = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
    t = Timing.from_samples(samples, calls=80)
    q1, med, q3 = np.percentile(samples, [25, 50, 75])  # numpy's default is the inclusive method
    assert (t.q1, t.median, t.q3) == pytest.approx((q1, med, q3), rel=1e-12)
    assert t.iqr == pytest.approx(q3 - q1, rel=1e-12)
    with pytest.raises(ValueError):
        Timing.from_samples([1.0], calls=1)


def test_clock_choice_follows_threads():
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert choose_clock("cpu") == "thread_time"
        torch.set_num_threads(2)
        assert choose_clock("cpu") == "perf_counter"
    finally:
        torch.set_num_threads(previous)


# --- what is timed ------------------------------------------------------------------


def test_copy_baseline_moves_the_bytes_of_its_input():
    x = torch.randn(4096)
    y = Copy()(x)
    assert y.data_ptr() != x.data_ptr()  # a new tensor: allocated, then written
    assert y.nbytes == x.nbytes == 4096 * 4 and y.dtype == x.dtype and y.shape == x.shape
    assert torch.equal(y, x)
    # Backward: the gradient is copied too (torch.clone's own backward would pass it through).
    xg = x.clone().requires_grad_(True)
    g = torch.randn(4096)
    (grad,) = torch.autograd.grad(Copy()(xg), xg, g)
    assert torch.equal(grad, g) and grad.data_ptr() != g.data_ptr() and grad.nbytes == g.nbytes
    # copy_ into a preallocated buffer writes that buffer, every call.
    buf = torch.empty(4096)
    into = CopyInto(buf)
    assert into(x).data_ptr() == buf.data_ptr() and torch.equal(buf, x)


def test_tasks_compute_the_activation_and_its_gradients():
    sizes = (10, 1000)
    tasks = elementwise_tasks(["sigmoid", "prelu"], sizes, seed=3)
    assert set(tasks) == ({(a, p, n) for a in ("sigmoid", "prelu", COPY) for p in PASSES for n in sizes}
                          | {(COPY_INTO, "forward", n) for n in sizes})
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(10, generator=gen)  # the first size's input, drawn first from the seed
    torch.testing.assert_close(tasks[("sigmoid", "forward", 10)](), torch.sigmoid(x), rtol=0, atol=0)
    y = tasks[("sigmoid", "forward", 1000)]()
    assert y.shape == (1000,) and not y.requires_grad  # forward: no autograd graph
    assert not tasks[("prelu", "forward", 1000)]().requires_grad  # PReLU's slope frozen for the forward
    grads = tasks[("prelu", "forward_backward", 1000)]()
    assert len(grads) == 2 and grads[0].shape == (1000,) and grads[1].shape == (1,)  # dx and d(slope)
    (gx,) = tasks[("sigmoid", "forward_backward", 1000)]()
    assert gx.shape == (1000,) and torch.isfinite(gx).all()
    with pytest.raises(ValueError, match="elementwise"):
        elementwise_tasks(["maxout"], (10,))


def test_train_step_trains():
    step = train_step_task("relu", widths=(32,), batch=16, lr=0.1, seed=0)
    losses = [float(step()) for _ in range(30)]
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0]  # a fixed batch: SGD must bring its loss down


# --- config -------------------------------------------------------------------------


def test_default_activations_are_the_whole_elementwise_zoo():
    builtin_elementwise = {s.name for s in REGISTRY if s.kind == "elementwise"} & set(_builtin_names())
    assert set(ELEMENTWISE_ZOO) == builtin_elementwise
    assert "maxout" not in ELEMENTWISE_ZOO and set(RELU_CLASS) <= set(ELEMENTWISE_ZOO)
    assert Config().activations == ELEMENTWISE_ZOO


def _builtin_names():
    from actlab.activations.zoo import builtin_specs

    return [s.name for s in builtin_specs()]


def test_config_normalises_and_checks():
    c = Config(activations=("Swish", "sigmoid"), sizes=(300, 100, 300))
    assert c.activations == ("relu", "silu", "sigmoid")  # relu, the reference, put first
    assert c.sizes == (100, 300)
    for bad, match in [
        (dict(sizes=(100, -5)), "sizes"),
        (dict(sizes=()), "empty"),
        (dict(sizes=(0,)), "sizes"),
        (dict(activations=("nosuch",)), "nosuch"),
        (dict(activations=("maxout",)), "maxout"),
        (dict(threads=0), "threads"),
        (dict(dtype="int8"), "dtype"),
        (dict(min_run_time=0.0), "min_run_time"),
        (dict(rounds=0), "rounds"),
        (dict(block_time=-1.0), "block_time"),
        (dict(train_widths=(256, 0)), "train_widths"),
        (dict(train_lr=float("nan")), "train_lr"),
        (dict(copy_budget=0.5), "copy_budget"),
        (dict(seed=-1), "seed"),
    ]:
        with pytest.raises(ValueError, match=match):
            Config(**bad)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="cuda"):
            Config(device="cuda")


# --- the claim ----------------------------------------------------------------------


def test_metrics_complete_for_every_activation_pass_and_size(tiny_result):
    m, cfg = tiny_result.metrics, Config(**TINY)
    sizes = [str(n) for n in cfg.sizes]
    assert m["sizes"] == list(cfg.sizes) and m["largest_size"] == cfg.sizes[-1]
    assert m["devices"] == ["cpu"] and "cuda" not in m and m["bytes_per_element"] == 4
    assert m["replicates"] == 2 and m["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert set(m["ns_per_element"]) == set(ELEMENTWISE_ZOO)
    for table in (m["ns_per_element"], m["ratio_vs_relu"], m["ratio_vs_copy"]):
        assert set(table) == set(ELEMENTWISE_ZOO)
        for per_pass in table.values():
            assert set(per_pass) == set(PASSES)
            for per_size in per_pass.values():
                assert list(per_size) == sizes
    for a in ELEMENTWISE_ZOO:
        for p in PASSES:
            for n in sizes:
                s = m["ns_per_element"][a][p][n]
                assert set(s) == STATS_KEYS and s["blocks"] == 2 and len(s["per_process"]) == 2
                assert min(s["per_process"]) <= s["median"] <= max(s["per_process"])
    assert set(m["train_step_ms"]) == set(ELEMENTWISE_ZOO) == set(m["train_step_ratio_vs_relu"])
    budget = m["relu_class_vs_copy"]
    assert set(budget["ratio"]) == set(RELU_CLASS) == set(budget["within_budget"])
    assert m["clock"] == "thread_time"  # one thread, the default
    assert len(m["load_average_1min"]["per_process"]) == 2


def test_ratios_are_geometric_means_of_the_per_process_ratios(tiny_result):
    m = tiny_result.metrics
    ns = m["ns_per_element"]
    for a in ns:
        for p in PASSES:
            for n in ns[a][p]:
                per = np.array(ns[a][p][n]["per_process"]) / np.array(ns["relu"][p][n]["per_process"])
                assert m["ratio_vs_relu"][a][p][n] == pytest.approx(math.exp(np.log(per).mean()), rel=1e-9)
                assert m["ratio_vs_relu_ci"][a][p][n]["estimate"] == m["ratio_vs_relu"][a][p][n]  # one estimator
        # the sweep: per process the geometric mean over sizes
        sweep = [math.exp(np.mean([math.log(ns[a]["forward"][n]["per_process"][i]
                                            / ns["relu"]["forward"][n]["per_process"][i]) for n in ns[a]["forward"]]))
                 for i in range(2)]
        assert m["sweep_ratio_processes"][a]["forward"] == pytest.approx(sweep, rel=1e-9)
    fwd = tiny_result.per_activation[0]
    assert fwd.key == "forward_time" and fwd.baseline == "relu"
    assert fwd.get("sigmoid").ratio == pytest.approx(m["sweep_ratio_ci"]["sigmoid"]["forward"]["estimate"], rel=1e-9)


def test_result_contract_env_and_verdict(tiny_result):
    d = tiny_result.to_dict()
    assert CONTRACT_KEYS <= set(d) and d["experiment"] == "cost"
    json.dumps(d, allow_nan=False)  # every value is plain JSON
    assert d["config"]["sizes"] == [1000, 3000] and d["config"]["processes"] == 2
    env = d["env"]
    assert env["threads"] == 1 and env["devices_measured"] == ["cpu"] and env["torch"] == torch.__version__
    assert env["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    v = d["verdict"]
    assert v["status"] == "inconclusive"  # 2 processes: too few for a verdict (or a disturbed run)
    assert {"rule", "source", "meaning", "key_number", "limits"} <= set(v)
    assert v["rule"]["threshold"] == pytest.approx(1.1) and v["rule"]["seeds"] == 2
    assert [x["name"] for x in v["limits"]] == ["training step", "memory-bound forward+backward"]
    # the evidence always states the disturbance check: passed, or why the run could not decide
    assert "Disturbance check" in v["evidence"] or "too disturbed to decide" in v["evidence"], v["evidence"]


def test_aggregate_against_numpy_on_constructed_replicates():
    acts, sizes = ("relu", "sigmoid"), (10, 20)
    rng = np.random.default_rng(0)
    reps = []
    for _ in range(5):
        ns = {a: {p: {str(n): float(rng.uniform(1, 2) * (2 if a == "sigmoid" else 1)) for n in sizes} for p in PASSES}
              for a in acts}
        reps.append({"ns": ns, "copy_ns": {p: {str(n): 1.0 for n in sizes} for p in PASSES},
                     "copy_into_ns": {str(n): 0.5 for n in sizes}, "train_ms": {a: float(rng.uniform(1, 2)) for a in acts}})
    m = aggregate(reps, acts, sizes)
    per = np.array([r["ns"]["sigmoid"]["forward"]["10"] / r["ns"]["relu"]["forward"]["10"] for r in reps])
    logs = np.log(per)
    half = scipy_stats.t.ppf(0.975, 4) * logs.std(ddof=1) / math.sqrt(5)
    ci = m["ratio_vs_relu_ci"]["sigmoid"]["forward"]["10"]
    assert ci["estimate"] == pytest.approx(math.exp(logs.mean()), rel=1e-12)
    assert ci["ci95_low"] == pytest.approx(math.exp(logs.mean() - half), rel=1e-9) and ci["n"] == 5
    relu = [r["ns"]["relu"]["forward"]["20"] for r in reps]
    assert m["relu_spread"]["forward"]["20"] == pytest.approx(max(relu) / min(relu), rel=1e-12)
    steps = np.array([r["train_ms"]["sigmoid"] / r["train_ms"]["relu"] for r in reps])
    assert m["train_step_ratio_vs_relu"]["sigmoid"] == pytest.approx(math.exp(np.log(steps).mean()), rel=1e-12)


def test_regimes_and_cache_levels():
    assert regime_of(ALLOC_THRESHOLD_BYTES // 4 - 1, 4) == "cached_heap"
    assert regime_of(ALLOC_THRESHOLD_BYTES // 4, 4) == "fresh_pages"
    caches = {"L1d": 32 * 1024, "L2": 1 << 20, "L3": 32 << 20}
    assert cache_level(10_000, 4, caches) == "L2"  # 80 KB of input and output
    assert cache_level(1_000_000, 4, caches) == "L3"
    assert cache_level(10_000_000, 4, caches) == "beyond cache"
    assert cache_level(10, 4, {}) == "unknown"
    # quick and full both span the cache regimes, from in-cache to beyond every cache
    for cfg in (Config(), Config(**QUICK)):
        assert cache_level(cfg.sizes[0], 4, caches) in ("L1d", "L2")
        assert cache_level(cfg.sizes[-1], 4, caches) == "beyond cache" and regime_of(cfg.sizes[-1], 4) == "fresh_pages"
    assert Config(**QUICK).processes >= 5 and Config().processes >= 5


def _metrics(sweep: tuple[float, float, float], step: tuple[float, float, float], fb: tuple[float, float, float],
             spread: float = 1.1, n: int = 5) -> dict:
    iv = lambda t: {"estimate": t[0], "ci95_low": t[1], "ci95_high": t[2], "n": n}  # noqa: E731
    sizes = ("10000", "10000000")
    return {
        "replicates": n, "cpu_capability": "AVX2", "load_average_1min": {"max": 1.0, "cpu_count": 2},
        "relu_spread": {"forward": {k: spread for k in sizes}},
        "sweep_ratio_ci": {"sigmoid": {"forward": iv(sweep)}},
        "train_step_ratio_ci": {"sigmoid": iv(step)},
        "ratio_vs_relu_ci": {"sigmoid": {"forward_backward": {"10000000": iv(fb)}}},
        "ratio_vs_relu": {"sigmoid": {"forward": {k: sweep[0] for k in sizes}}},
    }


CFG = Config(activations=("relu", "sigmoid"), sizes=(10_000, 10_000_000))


@pytest.mark.parametrize("sweep, status", [((1.8, 1.6, 2.1), "holds"), ((1.11, 1.101, 1.12), "holds"),
                                           ((1.1, 1.05, 1.15), "inconclusive"), ((1.05, 1.0, 1.099), "does_not_hold"),
                                           ((0.9, 0.8, 1.0), "does_not_hold")])
def test_generated_text_never_contradicts_its_numbers(sweep, status):
    v = verdict(CFG, _metrics(sweep, (1.0, 0.95, 1.05), (1.05, 0.98, 1.12)))
    assert v.status == status
    step, fb = v.limits
    assert step.status == "does_not_hold" and fb.status == "inconclusive"
    side = "above 1.1" if sweep[1] > 1.1 else "below 1.1" if sweep[2] < 1.1 else "spanning 1.1"
    assert f"(interval {side})" in v.meaning
    assert "(below 1.1)" in step.evidence and "barely shows in practice" in v.meaning
    assert "(spanning 1.1)" in fb.evidence and "spans the threshold" in fb.evidence
    assert "--seeds" not in fb.evidence and "processes" in fb.evidence
    word = {"holds": "holds for the forward pass", "does_not_hold": "does not hold here",
            "inconclusive": "is not settled"}[status]
    assert word in v.meaning
    # the headline evidence carries the practitioner's number; "vanishes" only when the step interval is below 1.1
    assert "In a whole training step the ratio is 1.00x" in v.evidence and "the difference vanishes" in v.evidence
    v2 = verdict(CFG, _metrics(sweep, (1.1, 1.0, 1.2), (1.05, 0.98, 1.12)))
    assert "In a whole training step the ratio is 1.10x" in v2.evidence and "vanishes" not in v2.evidence


def test_tanh_dearer_than_sigmoid_is_said_without_a_guessed_reason():
    m = _metrics((1.8, 1.6, 2.1), (1.0, 0.95, 1.05), (1.05, 0.98, 1.12))
    cfg = Config(activations=("relu", "sigmoid", "tanh"), sizes=(10_000, 10_000_000))
    m["sweep_ratio_ci"]["tanh"] = {"forward": {"estimate": 8.0, "ci95_low": 7.0, "ci95_high": 9.0, "n": 5}}
    assert "tanh took 8.00 times relu's time, more than sigmoid's 1.80" in verdict(cfg, m).meaning
    m["sweep_ratio_ci"]["tanh"]["forward"]["estimate"] = 1.5
    assert "tanh took" not in verdict(cfg, m).meaning  # cheaper than sigmoid: nothing to explain


def test_a_disturbed_run_refuses_to_decide():
    v = verdict(CFG, _metrics((1.8, 1.6, 2.1), (1.0, 0.95, 1.05), (1.3, 1.2, 1.4), spread=1.6))
    assert v.status == "inconclusive" and "too disturbed" in v.evidence and v.evidence.count("1.60x") == 1
    assert all(limit.status == "inconclusive" for limit in v.limits)
    assert verdict(CFG, _metrics((1.8, 1.6, 2.1), (1.0, 0.95, 1.05), (1.3, 1.2, 1.4), spread=1.5)).status == "holds"


def test_run_restores_threads_and_verdict_without_exp_activation():
    previous = torch.get_num_threads()
    result = run(Config(**{**TINY, "activations": ("relu", "leaky_relu"), "threads": 2}))
    assert torch.get_num_threads() == previous
    assert result.env["threads"] == 2 and result.metrics["clock"] == "perf_counter"
    assert result.verdict.status == "inconclusive" and "exp-based" in result.verdict.evidence


# --- command line and figures ----------------------------------------------------------


def test_cli_quick_writes_result_and_figures(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["run", "cost", "--quick", "--out", str(out), "--no-progress"]
    for item in TINY_SET:
        argv += ["--set", item]
    assert main(argv) == 0
    folder = out / "cost"
    d = json.loads((folder / "result.json").read_text())
    assert CONTRACT_KEYS <= set(d)
    assert d["config"]["sizes"] == [1000, 3000] and d["config"]["rounds"] == 2 and d["config"]["processes"] == 2
    assert set(d["metrics"]["ns_per_element"]) == set(QUICK["activations"])
    pngs = sorted(p.name for p in folder.glob("*.png"))
    assert pngs == ["cost_ns_per_element.png", "cost_ratio.png", "cost_train_step.png"]
    assert all((folder / p).stat().st_size > 10_000 for p in pngs)
    assert "cost:" in capsys.readouterr().out
    result = load_result(folder)
    assert sorted(captions(result)) == pngs
    for table in tables(result):
        assert table["rows"] and all(len(r) == len(table["columns"]) for r in table["rows"])


def test_plot_draws_cuda_figures_from_a_result(tiny_result, tmp_path):
    # A saved result with GPU metrics (made from the CPU ones: no GPU needed to test the figures).
    # Three activations keep the six figures quick; the CLI test draws the whole zoo.
    d = copy.deepcopy(tiny_result.to_dict())
    m, keep = d["metrics"], ("relu", "sigmoid", "leaky_relu")
    for key in ("ns_per_element", "ratio_vs_relu", "ratio_vs_copy", "train_step_ms", "train_step_ratio_vs_relu",
                "ratio_vs_relu_processes", "ratio_vs_relu_ci", "train_step_ratio_processes", "train_step_ratio_ci"):
        m[key] = {a: m[key][a] for a in keep}
    for key in ("ratio", "within_budget"):
        m["relu_class_vs_copy"][key] = {a: v for a, v in m["relu_class_vs_copy"][key].items() if a in keep}
    device_keys = ["clock", "ns_per_element", "copy_ns_per_element", "copy_into_ns_per_element", "ratio_vs_relu",
                   "ratio_vs_copy", "train_step_ms", "train_step_ratio_vs_relu", "relu_class_vs_copy",
                   "ratio_vs_relu_processes", "ratio_vs_relu_ci", "train_step_ratio_processes", "train_step_ratio_ci"]
    m["cuda"] = {k: m[k] for k in device_keys}
    d["env"]["gpu"] = "Test GPU"
    (tmp_path / "result.json").write_text(json.dumps(d))
    paths = plot(load_result(tmp_path), tmp_path / "figs")
    assert sorted(p.name for p in paths) == sorted(
        f"cost_{kind}{suffix}.png" for kind in ("ns_per_element", "ratio", "train_step") for suffix in ("", "_cuda"))
    assert all(p.stat().st_size > 10_000 for p in paths)
    assert set(captions(load_result(tmp_path))) == {p.name for p in paths}


@pytest.mark.parametrize("bad", [
    ["--set", "sizes=1000,-5"],
    ["--activations", "nosuch"],
    ["--activations", "relu,maxout"],
    ["--set", "threads=0"],
    ["--set", "min_run_time=0"],
    ["--set", "no_such_setting=1"],
    ["--device", "cuda"],
])
def test_bad_input_exits_2_and_writes_nothing(bad, tmp_path, capsys):
    if "cuda" in bad and torch.cuda.is_available():
        pytest.skip("CUDA is present here, so --device cuda is valid")
    out = tmp_path / "out"
    assert main(["run", "cost", "--quick", "--out", str(out), "--no-progress", *bad]) == 2
    assert "actlab: error:" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())


# --- the benchmark script -------------------------------------------------------------


def test_benchmark_script_runs_and_marks_the_budget(capsys):
    spec = importlib.util.spec_from_file_location("activation_cost", REPO / "benchmarks" / "activation_cost.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    previous = torch.get_num_threads()
    rc = module.main(["--sizes", "1000,2000", "--min-run-time", "0.004", "--rounds", "2", "--block-time", "0.0005"])
    assert rc == 0 and torch.get_num_threads() == previous
    out = capsys.readouterr().out
    for a in RELU_CLASS:
        assert sum(line.split()[:1] == [a] for line in out.splitlines()) == 2  # one row per size
    assert "budget 1.2x" in out and "at the largest size (2,000 elements)" in out
    rows = [line for line in out.splitlines() if line.split()[:1] and line.split()[0] in RELU_CLASS]
    assert all(line.rstrip().endswith(("ok", "OVER")) for line in rows)
    with pytest.raises(SystemExit):
        module.main(["--activations", "maxout"])


def test_every_zoo_entry_builds_as_module():
    # The claim times each activation's module; every default one must build and run.
    x = torch.randn(8)
    for name in ELEMENTWISE_ZOO:
        assert get(name).module()(x).shape == (8,)


def test_ratio_figure_texts_do_not_run_into_each_other(tmp_path, monkeypatch):
    """A newcomer found cost_ratio.png's panel notes ("(in L2; below the 32 MB allocation
    threshold (from there every new tensor gets fresh memory ...))") printed over each other
    and over the next panel's title. Drawn from the committed quick result: no two texts above
    the panels overlap, and none leaves the figure."""
    import matplotlib.pyplot as plt

    from actlab.plots import cost as cost_plots
    from actlab.verdicts.result import load_result

    committed = Path(__file__).parents[2] / "docs" / "results" / "quick" / "cost" / "result.json"
    figures = {}
    monkeypatch.setattr(cost_plots, "save_figure", lambda fig, path: figures.setdefault(Path(path).name, fig) and path)
    cost_plots.plot(load_result(committed), tmp_path)
    fig = figures["cost_ratio.png"]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [t for ax in fig.axes for t in [ax.title, *ax.texts] if t.get_text().strip() and t.get_visible()
             and t.get_window_extent(renderer).y0 >= ax.get_window_extent(renderer).y1 - 1]  # above the panel
    boxes = [t.get_window_extent(renderer) for t in texts]
    assert len(texts) >= 4  # three titles and the notes
    width = fig.get_figwidth() * fig.dpi
    for i, a in enumerate(boxes):
        assert a.x0 >= -1 and a.x1 <= width + 1, texts[i].get_text()
        for j in range(i + 1, len(boxes)):
            assert not a.overlaps(boxes[j]), (texts[i].get_text(), texts[j].get_text())
    plt.close("all")
