"""Claim 1, ``sign-coherence``: the weight gradients of a layer fed by non-negative
activations have one sign per row, for one example.

The claim (CS231n lecture 6 and notes): sigmoid outputs are not zero-centred, so a
layer whose inputs x are all positive gets, for one example, weight gradients
dL/dw_ij = (dL/dh_i) * x_j that all share the sign of dL/dh_i, row by row: the
weights of one unit can only all increase or all decrease together. A batch only
partly helps.

What is measured. An MLP (``build_mlp``: ``depth`` hidden layers of ``width``
units, so ``depth + 1`` Linear layers) gets zero-mean inputs x ~ N(0, 1) and a
real loss (cross-entropy to random labels, or MSE to a random N(0, 1) target), so
the upstream gradient dL/dh has both signs. For each Linear layer and batch size B
(the first B examples of one drawn batch, mean-reduced loss) the weight gradient
G (out, in) is read, and per row i (output unit):

* ``P_i`` = #{j: G_ij > 0}, ``N_i`` = #{j: G_ij < 0}; exact zeros (an input that is
  0, e.g. an inactive relu unit below) are neither;
* a row is a *zero row* when P_i + N_i = 0 (its unit passed back no gradient, e.g.
  a relu unit that was inactive for every example of the batch). Zero rows are
  excluded from the coherence and counted in ``zero_rows``;
* a non-zero row is *coherent* when P_i = 0 or N_i = 0;
* ``coherence`` of a layer = coherent rows / non-zero rows, pooled over ``trials``
  (new weights, inputs and targets per trial, all seeded from ``seed``); NaN when
  no row was non-zero in any trial.

Metrics (lists run over the Linear layers, input layer first; batch keys are strings):

* ``coherence[activation][batch]``: the claim's number, above;
* ``zero_rows[activation][batch]``: excluded all-zero rows, summed over trials,
  out of ``rows[activation]`` (rows per layer x trials);
* ``sign_agreement[activation][batch]``: mean over non-zero rows of
  max(P_i, N_i) / (P_i + N_i): 1 for a coherent row, about 0.5 for random signs;
  it shows how much a batch helps short of breaking coherence outright;
* ``weighted_coherence[activation][batch]``: mean over non-zero rows of
  |sum_j G_ij| / sum_j |G_ij|: 1 for a coherent row, near 0 when the two signs
  carry equal mass. Strict coherence is a knife edge: leaky_relu's outputs
  0.01 x < 0 make its rows mixed, yet almost all of each row's mass has one sign;
  this number shows it;
* ``positive_fraction[activation][batch]``: share of the layer's non-zero
  gradient entries that are positive: the whole-layer histogram's balance, which
  can be near 0.5 while every row is coherent;
* ``input_mean_to_std[activation]``: per layer, mean / standard deviation of the layer's
  inputs (all entries of the largest batch), averaged over trials: what sets how far a
  batch mixes the signs of a row (row i of the gradient is sum_b delta_bi h_b; the
  inputs' common mean contributes mean * sum_b delta_bi, one-signed along the row);
* ``weighted_coherence_per_trial[activation][batch]``: per trial, the mean weighted
  coherence of the activation-fed layers (the replicates of the verdict's interval).

Verdict. Batch 1 is an identity check, not a test: with non-negative inputs a row
delta_i h^T has one sign by algebra, so coherence 1.0 there shows the harness is
right (a failure makes the verdict inconclusive). The tested claim is the batch
effect ("a batch only partly helps", :func:`batch_rule`): at the largest batch, the
weighted coherence of the layers fed by sigmoid (else the first activation without
negative outputs) minus that of tanh's (else the first zero-centred one), paired per
trial; holds if its 95% t interval over >= 5 trials lies above 0, does not hold if
below. Weighted coherence, not strict: a batch breaks strict coherence with a single
entry of the other sign, and leaky_relu's rows are 0.000 strictly coherent at batch 1
yet ~0.98 one-signed by mass.

``data`` (for the figures; one draw, trial 0, at the smallest and the largest batch):
``histograms[activation][batch]``, per layer, the whole-layer histogram of the
non-zero entries (``max_abs``, ``counts`` over HIST_BINS bins evenly in
[-max_abs, max_abs], ``zeros``); ``sign_maps[activation][batch]``, per layer, the
signs of the top-left SIGN_MAP_SIZE square as strings of '+', '-', '0', each shown
row's status over its whole row, and the layer's coherent / non-zero row counts.

Expected: with batch 1, every layer fed by an activation without negative outputs
(sigmoid, relu, softplus, ...: ``Properties.negative_outputs`` is False) has
coherence exactly 1.0; with negative outputs (tanh, elu, leaky_relu, ...) it is
near 0; the first layer (zero-mean inputs) is near 0 for every activation.

    actlab run sign-coherence [--quick] [--activations sigmoid,tanh,relu] [--set batches=1,8,64]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..activations import get
from ..probes import stats as probe_stats
from ..training.fields import check_fields
from ..training.models import build_mlp, linear_layers
from ..training.settings import (
    MAX_BATCH,
    MAX_THREADS,
    MAX_WIDTH,
    Progress,
    Stopwatch,
    check_choice,
    check_int,
    no_progress,
    resolve_device,
    torch_threads,
)
from ..verdicts.result import KeyNumber, Result, Rule, Source, Verdict, environment
from ..verdicts.stats import decide, interval95

__all__ = [
    "NAME",
    "CLAIM",
    "SOURCE",
    "COMMAND",
    "Config",
    "QUICK",
    "LOSSES",
    "DTYPES",
    "NEAR_ZERO",
    "SIGN_MAP_SIZE",
    "HIST_BINS",
    "Trial",
    "draw_trials",
    "weight_gradients",
    "row_sign_counts",
    "row_coherence",
    "expects_coherent_rows",
    "batch_rule",
    "batch_verdict",
    "run",
]

NAME = "sign-coherence"
CLAIM = (
    "Sigmoid outputs are not zero-centred. A layer whose inputs are all positive gets, for one "
    "example, weight gradients dL/dw_i = (dL/df) * x_i that all share the sign of dL/df, row by "
    "row: its weights can only all increase or all decrease together, so the path to the optimum "
    "zig-zags. A batch only partly helps."
)
SOURCE = "Stanford CS231n lecture 6 and notes (Activation functions: sigmoid, not zero-centred)"
COMMAND = "actlab run sign-coherence"

LOSSES = ("cross_entropy", "mse")
DTYPES = ("float32", "float64")

#: Coherence at or below this counts as "near 0" (rows of a layer with mixed-sign inputs
#: are one-signed only by chance, about 2**(1 - fan_in) per row).
NEAR_ZERO = 0.05
#: Sign maps kept in ``data`` are cropped to this many rows and columns (the JSON stays small).
SIGN_MAP_SIZE = 64
#: Bins of the whole-layer histograms in ``data`` (even, so that 0 is a bin edge).
HIST_BINS = 40


@dataclass(frozen=True)
class Config:
    """Every setting of the sign-coherence measurement (the defaults are the full run).

    Args:
        seed: seeds every draw (weights, inputs, targets).
        device: ``cpu`` or ``cuda[:N]``; every tensor of the run stays there.
        activations: registry names (aliases allowed; stored canonical).
        depth: hidden layers; the MLP has ``depth + 1`` Linear layers.
        width: units per hidden layer.
        in_features: input dimension; inputs are N(0, 1) (zero-mean).
        out_features: classes (cross-entropy) or target dimension (MSE).
        batches: batch sizes; each is the first B examples of one batch per trial.
        trials: independent draws of weights, inputs and targets; counts are pooled.
        init: weight init, one of ``models.INITS``.
        loss: ``cross_entropy`` (random labels) or ``mse`` (random N(0, 1) targets).
        dtype: ``float32`` or ``float64`` for weights, inputs and gradients.
        threads: PyTorch CPU threads during the run (set, then restored); 0 keeps the
            current setting. 1 is the default because these matrices are small: on a busy
            2-core machine, 2 threads measured 10-20x slower (OpenMP threads waiting on
            each other), and never faster.
    """

    seed: int = 0
    device: str = "cpu"
    activations: tuple[str, ...] = ("sigmoid", "tanh", "relu", "leaky_relu", "elu")
    depth: int = 6
    width: int = 256
    in_features: int = 256
    out_features: int = 10
    batches: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128)
    trials: int = 20
    init: str = "default"
    loss: str = "cross_entropy"
    dtype: str = "float32"
    threads: int = 1

    def __post_init__(self) -> None:
        check_int("seed", self.seed, min_value=0)
        check_fields(self, "device", "activations", "depth", "width")
        check_int("in_features", self.in_features, min_value=1, max_value=MAX_WIDTH)
        check_choice("loss", self.loss, LOSSES)
        # one class makes cross-entropy constant (softmax = 1): no gradient at all
        check_int("out_features", self.out_features, min_value=2 if self.loss == "cross_entropy" else 1, max_value=MAX_WIDTH)
        batches = (self.batches,) if isinstance(self.batches, int) else tuple(self.batches)
        if not batches:
            raise ValueError("batches: the list is empty; give batch sizes such as 1,8,64")
        for b in batches:
            check_int("batch size", b, min_value=1, max_value=MAX_BATCH)
        if len(set(batches)) != len(batches):
            raise ValueError(f"batches={batches} lists a batch size twice")
        object.__setattr__(self, "batches", tuple(sorted(batches)))
        check_int("trials", self.trials, min_value=1)
        check_fields(self, "init")
        check_choice("dtype", self.dtype, DTYPES)
        check_int("threads", self.threads, min_value=0, max_value=MAX_THREADS)


#: ``--quick``: seconds on a 2-core CPU, still wide enough that mixed rows are never one-signed by chance.
QUICK = {"depth": 3, "width": 64, "in_features": 64, "trials": 10, "batches": (1, 8, 64)}


# --- the measurement ------------------------------------------------------------------


@dataclass(frozen=True)
class Trial:
    """One draw: the model's weight seed, inputs (max batch, in) and targets."""

    model_seed: int
    inputs: Tensor   # (max(batches), in_features), N(0, 1)
    targets: Tensor  # (max(batches),) labels for cross-entropy; (max(batches), out) for MSE


def draw_trials(config: Config) -> list[Trial]:
    """The seeded draws of every trial, on the CPU (the same numbers whatever the device).

    Every activation sees the same weights (same seed), inputs and targets in a trial,
    so that activations are compared on paired draws.
    """
    gen = torch.Generator().manual_seed(config.seed)
    dtype = getattr(torch, config.dtype)
    n = max(config.batches)
    trials = []
    for _ in range(config.trials):
        model_seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
        inputs = torch.randn(n, config.in_features, generator=gen, dtype=dtype)
        if config.loss == "cross_entropy":
            targets = torch.randint(0, config.out_features, (n,), generator=gen)
        else:
            targets = torch.randn(n, config.out_features, generator=gen, dtype=dtype)
        trials.append(Trial(model_seed, inputs, targets))
    return trials


def _loss(loss: str, output: Tensor, targets: Tensor) -> Tensor:
    if loss == "cross_entropy":
        return F.cross_entropy(output, targets)
    return F.mse_loss(output, targets)


def weight_gradients(model: nn.Module, inputs: Tensor, targets: Tensor, loss: str = "cross_entropy") -> list[Tensor]:
    """dL/dW of every Linear layer of ``model`` for one batch (mean-reduced ``loss``).

    Returns the gradients, detached, input layer first, each (out_features, in_features).
    """
    model.zero_grad(set_to_none=True)
    _loss(loss, model(inputs), targets).backward()
    # set_to_none above makes backward allocate fresh tensors: these stay valid after the next call
    return [layer.weight.grad.detach() for layer in linear_layers(model)]


def row_sign_counts(grad: Tensor) -> tuple[Tensor, Tensor]:
    """(P, N): per row of a 2-D ``grad``, how many entries are > 0 and < 0 (zeros are neither)."""
    if grad.dim() != 2:
        raise ValueError(f"row_sign_counts takes a 2-D weight gradient, not shape {tuple(grad.shape)}")
    return (grad > 0).sum(dim=1), (grad < 0).sum(dim=1)


def row_coherence(grad: Tensor) -> tuple[int, int]:
    """(coherent rows, non-zero rows) of a 2-D ``grad``; all-zero rows count in neither.

    The monitor's definition (``actlab.probes.stats.row_sign_counts``), so the claim
    and the monitor count the same rows.
    """
    if grad.dim() != 2:
        raise ValueError(f"row_coherence takes a 2-D weight gradient, not shape {tuple(grad.shape)}")
    positive, negative, both = probe_stats.row_sign_counts(grad).tolist()
    nonzero = positive + negative - both
    return nonzero - both, nonzero


def expects_coherent_rows(activation: str) -> bool:
    """True if the claim predicts coherence 1.0 at batch 1 for layers this activation feeds
    (its outputs are never negative, so every input of such a layer is >= 0)."""
    return not get(activation).properties.negative_outputs


def _sign_map(grad: Tensor) -> dict:
    """One layer's gradient signs for the figures: ``rows``, the top-left SIGN_MAP_SIZE square
    as strings of '+', '-', '0'; ``status``, each shown row judged on its *whole* row
    ('c' coherent, 'm' mixed, 'z' all zero); ``coherent`` / ``nonzero`` rows of the whole layer."""
    pos, neg = row_sign_counts(grad)
    status = "".join("z" if p + n == 0 else ("c" if p == 0 or n == 0 else "m")
                     for p, n in zip(pos[:SIGN_MAP_SIZE].tolist(), neg[:SIGN_MAP_SIZE].tolist(), strict=True))
    signs = torch.sign(grad[:SIGN_MAP_SIZE, :SIGN_MAP_SIZE]).to(torch.int8).cpu().numpy()
    rows = ["".join("+" if s > 0 else ("-" if s < 0 else "0") for s in row) for row in signs]
    coherent, nonzero = row_coherence(grad)
    return {"rows": rows, "status": status, "shape": list(grad.shape), "coherent": coherent, "nonzero": nonzero}


def _histogram(grad: Tensor) -> dict:
    """Whole-layer histogram of the non-zero entries: HIST_BINS bins evenly over
    [-max_abs, max_abs], so 0 is a bin edge and each bin holds one sign."""
    values = grad[grad != 0].double().cpu().numpy()  # host copy: one draw per figure only
    zeros = int(grad.numel() - values.size)
    top = float(np.abs(values).max()) if values.size else 1.0
    counts, _ = np.histogram(values, bins=HIST_BINS, range=(-top, top))
    return {"max_abs": top, "counts": counts.tolist(), "zeros": zeros}


def _layer_names(config: Config) -> list[str]:
    # the widths units see; maxout's hidden Linear layers have width * k outputs (see the sign maps' shape)
    dims = [config.in_features] + [config.width] * config.depth + [config.out_features]
    return [f"Linear {i + 1} ({dims[i]} -> {dims[i + 1]})" for i in range(config.depth + 1)]


def run(config: Config, progress: Progress = no_progress) -> Result:
    """Measure row sign coherence per activation, batch size and Linear layer (see the module docstring)."""
    with torch_threads(config.threads):
        return _run(config, progress)


def _run(config: Config, progress: Progress) -> Result:
    watch = Stopwatch()
    device = resolve_device(config.device)
    dtype = getattr(torch, config.dtype)
    trials = draw_trials(config)
    n_layers = config.depth + 1
    batch_keys = [str(b) for b in config.batches]
    total = len(config.activations) * config.trials

    coherence: dict = {}
    zero_rows: dict = {}
    sign_agreement: dict = {}
    positive_fraction: dict = {}
    weighted_coherence: dict = {}
    rows: dict = {}
    input_mean_to_std: dict = {}
    weighted_per_trial: dict = {}
    histograms: dict = {}
    sign_maps: dict = {}
    shown_batches = sorted({config.batches[0], config.batches[-1]})  # figures: smallest and largest batch
    for a, name in enumerate(config.activations):
        # counts per (batch, layer), kept on the device and summed over trials:
        # [coherent rows, non-zero rows, zero rows, sum of agreement, positive entries,
        #  non-zero entries, sum of weighted coherence]
        counts = torch.zeros(config.trials, len(config.batches), n_layers, 7, dtype=torch.float64, device=device)
        ratio_sums = torch.zeros(n_layers, 2, dtype=torch.float64, device=device)  # sum of mean/std, trials
        rows_per_layer = [0] * n_layers
        histograms[name] = {}
        sign_maps[name] = {}
        for t, trial in enumerate(trials):
            progress(a * config.trials + t, total, f"{name}, trial {t + 1}/{config.trials}")
            model = build_mlp(config.in_features, config.width, config.depth, config.out_features, name,
                              init=config.init, seed=trial.model_seed).to(device=device, dtype=dtype)
            inputs, targets = trial.inputs.to(device), trial.targets.to(device)
            for li, layer in enumerate(linear_layers(model)):
                rows_per_layer[li] += layer.out_features  # width * k for maxout's hidden layers
            for bi, batch in enumerate(config.batches):
                layer_inputs: list[Tensor] = []
                hooks = ([layer.register_forward_pre_hook(lambda _m, args, keep=layer_inputs: keep.append(args[0]))
                          for layer in linear_layers(model)] if batch == config.batches[-1] else [])
                try:
                    grads = weight_gradients(model, inputs[:batch], targets[:batch], config.loss)
                finally:
                    for h in hooks:
                        h.remove()
                # layers of one shape as one stack (G, out, in): a few large ops, not many small ones
                for start, stop in _same_shape_runs([tuple(g.shape) for g in grads]):
                    counts[t, bi, start:stop] += _layer_sums(torch.stack(grads[start:stop]))
                for li, h_in in enumerate(layer_inputs):  # (B, in): the layer's inputs at the largest batch
                    h_in = h_in.detach().double()
                    ratio_sums[li, 0] += h_in.mean() / h_in.std().clamp(min=torch.finfo(torch.float64).tiny)
                    ratio_sums[li, 1] += 1
                if t == 0 and batch in shown_batches:  # figures show one draw, as one would plot it
                    histograms[name][str(batch)] = [_histogram(g) for g in grads]
                    sign_maps[name][str(batch)] = [_sign_map(g) for g in grads]
        per_trial = counts.cpu().numpy()  # (trials, batches, layers, 7): one transfer per activation
        c = per_trial.sum(axis=0)
        r = ratio_sums.cpu().numpy()
        input_mean_to_std[name] = [_ratio(r[li, 0], r[li, 1]) for li in range(n_layers)]
        # per trial: mean weighted coherence of the activation-fed layers (1..), for the batch rule
        weighted_per_trial[name] = {
            k: [_mean_defined([_ratio(per_trial[t, bi, li, 6], per_trial[t, bi, li, 1]) for li in range(1, n_layers)])
                for t in range(config.trials)] for bi, k in enumerate(batch_keys)}
        coherence[name] = {k: [_ratio(c[bi, li, 0], c[bi, li, 1]) for li in range(n_layers)]
                           for bi, k in enumerate(batch_keys)}
        zero_rows[name] = {k: [int(c[bi, li, 2]) for li in range(n_layers)] for bi, k in enumerate(batch_keys)}
        sign_agreement[name] = {k: [_ratio(c[bi, li, 3], c[bi, li, 1]) for li in range(n_layers)]
                                for bi, k in enumerate(batch_keys)}
        positive_fraction[name] = {k: [_ratio(c[bi, li, 4], c[bi, li, 5]) for li in range(n_layers)]
                                   for bi, k in enumerate(batch_keys)}
        weighted_coherence[name] = {k: [_ratio(c[bi, li, 6], c[bi, li, 1]) for li in range(n_layers)]
                                    for bi, k in enumerate(batch_keys)}
        rows[name] = rows_per_layer
    progress(total, total, "done")

    metrics = {
        "coherence": coherence,
        "zero_rows": zero_rows,
        "rows": rows,
        "sign_agreement": sign_agreement,
        "weighted_coherence": weighted_coherence,
        "positive_fraction": positive_fraction,
        "input_mean_to_std": input_mean_to_std,
        "weighted_coherence_per_trial": weighted_per_trial,
    }
    verdict = _verdict(config, metrics)
    data = {
        "layers": _layer_names(config),
        "expects_coherent": {name: expects_coherent_rows(name) for name in config.activations},
        "near_zero": NEAR_ZERO,
        "histograms": histograms,
        "sign_maps": sign_maps,
        "sign_map_size": SIGN_MAP_SIZE,
    }
    # env is read inside the thread setting, so it records the threads the run used
    return Result(experiment=NAME, config=asdict(config), metrics=metrics, verdict=verdict,
                  env=environment(device), elapsed_s=watch.elapsed(), data=data)


def _same_shape_runs(shapes: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """[(start, stop)] of runs of consecutive layers with equal weight shapes."""
    runs, start = [], 0
    for i in range(1, len(shapes) + 1):
        if i == len(shapes) or shapes[i] != shapes[start]:
            runs.append((start, i))
            start = i
    return runs


def _layer_sums(grads: Tensor) -> Tensor:
    """(G, out, in) weight gradients of G layers -> (G, 7) float64 sums over their rows:
    coherent rows, non-zero rows, zero rows, sign agreement, positive entries, non-zero
    entries, weighted coherence (the last three numerators of the module docstring's ratios)."""
    pos = (grads > 0).sum(-1)  # (G, out)
    neg = (grads < 0).sum(-1)
    nz = pos + neg
    live = nz > 0
    coherent = live & ((pos == 0) | (neg == 0))
    agreement = torch.where(live, torch.maximum(pos, neg).double() / nz.clamp(min=1).double(), 0.0)
    g = grads.double()
    # a live row has a non-zero entry, so its mass sum |g| is > 0
    weighted = torch.where(live, g.sum(-1).abs() / g.abs().sum(-1).clamp(min=torch.finfo(g.dtype).tiny), 0.0)
    return torch.stack([coherent.sum(-1), live.sum(-1), (~live).sum(-1), agreement.sum(-1),
                        pos.sum(-1), nz.sum(-1), weighted.sum(-1)], dim=-1).double()


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else math.nan


def _mean_defined(values: Sequence[float]) -> float:
    """Mean of the non-NaN values; NaN (and no warning) when there are none."""
    defined = [v for v in values if not math.isnan(v)]
    return sum(defined) / len(defined) if defined else math.nan


def _fmt_names(names: Sequence[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


SOURCE_CITATION = "CS231n notes, 'Neural Networks Part 1: Setting up the Architecture', Commonly used activation functions"
SOURCE_VALUE = ("if the data coming into a neuron is always positive, the gradient on its weights 'will during "
                "backpropagation become either all be positive, or all negative'; 'once these gradients are added up "
                "across a batch of data the final update for the weights can have variable signs, somewhat mitigating "
                "this issue' (no number given)")


def _pick(names: Sequence[str], preferred: str, keep) -> str | None:
    chosen = [a for a in names if keep(a)]
    return preferred if preferred in chosen else (chosen[0] if chosen else None)


def batch_rule(config: Config, positive: str, centred: str) -> Rule:
    """The tested claim, "a batch only partly helps", as a rule on paired per-trial differences."""
    largest = config.batches[-1]
    statistic = (f"mass-weighted row coherence at batch {largest}, {positive}-fed minus {centred}-fed layers "
                 f"(paired per trial)")
    return Rule(statistic=statistic, threshold=0.0, holds_if="above", seeds=config.trials, text=(
        f"holds if the 95% t interval over at least 5 trials of the {statistic} lies wholly above 0 (a batch mixes "
        f"the signs of a {positive}-fed neuron's gradient row, but less than for zero-centred inputs: it only partly "
        f"helps); does not hold if wholly below 0; otherwise inconclusive (this run: {config.trials} trials). "
        f"Batch 1 is an identity check, not a test: non-negative inputs give one-signed rows by algebra."))


def batch_verdict(differences: Sequence[float], rule: Rule) -> tuple[str, str, Any]:
    """(status, reason, interval) of the batch rule from per-trial differences."""
    interval = interval95(differences)
    status, reason = decide(interval, rule)
    return status, reason, interval


def _verdict(config: Config, m: dict) -> Verdict:
    """The tested claim is the batch effect (:func:`batch_rule`); batch 1 is an identity check
    (coherence exactly 1.0 for layers fed by non-negative outputs) that must pass first."""
    coherence, weighted = m["coherence"], m["weighted_coherence"]
    positive = _pick(config.activations, "sigmoid", expects_coherent_rows)
    centred = _pick(config.activations, "tanh", lambda a: not expects_coherent_rows(a))
    largest, scale = config.batches[-1], _scale_words(config)
    missing = []
    if positive is None:
        missing.append("an activation with only non-negative outputs (sigmoid or relu)")
    if centred is None:
        missing.append("a zero-centred activation (tanh) to compare with")
    if largest == 1:
        missing.append("a batch size above 1")
    rule = batch_rule(config, positive or "sigmoid", centred or "tanh")
    if missing:
        text = "; ".join(missing)
        return Verdict("inconclusive", f"The run did not measure {text} (activations {_fmt_names(config.activations)}, "
                       f"batches {list(config.batches)}), so the batch effect was not tested.", rule=rule,
                       source=Source(SOURCE_CITATION, SOURCE_VALUE, "not measured", "see the evidence"),
                       meaning=(f"This {scale} run could not test the claim: it needs {text}. Rerun with the defaults: "
                                "actlab run sign-coherence --quick."),
                       key_number=KeyNumber(None, "n/a", "not measured"))
    n_layers = config.depth + 1
    fed = range(1, n_layers)
    identity = [a for a in config.activations if expects_coherent_rows(a)]
    ident_ok = 1 in config.batches and all(coherence[a]["1"][li] == 1.0 for a in identity for li in fed)
    ident_text = (f"identity check at batch 1: every activation-fed layer of {_fmt_names(identity)} has row coherence "
                  f"1.000, as algebra says it must" if ident_ok else
                  ("identity check at batch 1 not run (batch 1 not measured)" if 1 not in config.batches else
                   "identity check at batch 1 FAILED: a layer fed by non-negative outputs had a mixed row, which "
                   "algebra rules out; the measurement is broken"))
    diffs = [p - c for p, c in zip(m["weighted_coherence_per_trial"][positive][str(largest)],
                                   m["weighted_coherence_per_trial"][centred][str(largest)], strict=True)]
    status, reason, iv = batch_verdict(diffs, rule)
    if 1 in config.batches and not ident_ok:
        status, reason = "inconclusive", "the batch-1 identity check failed, so no number of this run can be trusted"
    wc = {a: _mean_defined(weighted[a][str(largest)][1:]) for a in (positive, centred)}
    strict = {a: _mean_defined(coherence[a][str(largest)][1:]) for a in (positive, centred)}
    ratio = {a: _mean_defined(m["input_mean_to_std"][a][1:]) for a in (positive, centred)}
    leaky = ""
    if "leaky_relu" in config.activations and 1 in config.batches:
        leaky = (f" At batch 1 leaky_relu's rows are strictly coherent in "
                 f"{_mean_defined(coherence['leaky_relu']['1'][1:]):.3f} of cases (one tiny negative input "
                 f"breaks it) yet {_mean_defined(weighted['leaky_relu']['1'][1:]):.3f} one-signed by mass.")
    evidence = (
        f"{ident_text[0].upper() + ident_text[1:]}. The tested claim is the batch effect, judged on the "
        f"mass-weighted measure (strict coherence breaks on one tiny entry of the other sign): at batch {largest} the "
        f"mass-weighted row coherence of the activation-fed layers is {wc[positive]:.3f} for {positive} against "
        f"{wc[centred]:.3f} for {centred} (difference {iv.text('{:.3f}')}; {reason}), while strict coherence is "
        f"{strict[positive]:.3f} vs {strict[centred]:.3f}; the inputs' mean-to-std ratio is {ratio[positive]:.2f} "
        f"for {positive} vs {ratio[centred]:.2f} for {centred}.{leaky}")
    ours = (f"batch 1: coherence 1.000 for {_fmt_names(identity)} (identity); batch {largest}: mass-weighted "
            f"coherence {wc[positive]:.3f} ({positive}) vs {wc[centred]:.3f} ({centred})")
    differences = (f"an untrained MLP (depth {config.depth}, width {config.width}) at initialisation, random "
                   f"{config.loss.replace('_', '-')} targets, {config.trials} trials; the notes argue from algebra "
                   "and measure nothing")
    key = KeyNumber(iv.estimate, f"{iv.estimate:+.3f}" if iv.estimate is not None else "n/a",
                    f"{positive} minus {centred} mass-weighted row coherence at batch {largest}")
    meaning = _meaning(config, positive, centred, wc, strict, ratio, status, ident_ok)
    return Verdict(status, evidence, rule=rule, source=Source(SOURCE_CITATION, SOURCE_VALUE, ours, differences),
                   meaning=meaning, key_number=key)


def _scale_words(config: Config) -> str:
    """"quick" or "full-scale" when the sizes are those of --quick or of the defaults, else "custom-size"."""
    def matches(values: dict) -> bool:
        return all(getattr(config, k) == (tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in values.items())
    if matches(QUICK):
        return "quick"
    return "full-scale" if matches({k: getattr(Config, k) for k in QUICK}) else "custom-size"


def _meaning(config: Config, positive: str, centred: str, wc: dict, strict: dict, ratio: dict, status: str,
             ident_ok: bool) -> str:
    largest, scale = config.batches[-1], _scale_words(config)
    word = {"holds": "holds", "does_not_hold": "does not hold", "inconclusive": "is not settled"}[status]
    return (
        f"A neuron's weight gradient for one example is its upstream gradient (one number) times its inputs, so when "
        f"every input is positive, as after {positive}, all the weights of that neuron get gradients of one sign: "
        f"this {scale} run confirms it at batch 1 ({'every' if ident_ok else 'not every'} such neuron's gradient row "
        f"had one sign, which is algebra, not a finding). Row coherence is the share of neurons whose whole row of "
        f"weight gradients has one sign; weighted coherence is a row's positive gradient mass minus its negative "
        f"mass, as a share of its total mass, |P - N| / (P + N) (1 = all one sign, 0 = balanced; random signs give "
        f"about 1/sqrt(inputs per neuron), the level the zero-centred activation sits at). "
        f"Averaging over a batch of {largest} examples mixes the signs: strict row coherence drops to "
        f"{strict[positive]:.2f} for {positive}, yet {wc[positive]:.2f} of the mass-weighted measure remains, against "
        f"{wc[centred]:.2f} for zero-centred {centred}, because {positive}'s inputs have a large mean compared "
        f"to their spread (mean/std {ratio[positive]:.1f} vs {abs(ratio[centred]):.1f}). "
        f"So the claim that a batch only partly helps {word} here. A whole-layer histogram still looks mixed "
        f"because each neuron's sign comes from its own upstream gradient: the layer mixes neurons, the batch "
        f"mixes examples.")
