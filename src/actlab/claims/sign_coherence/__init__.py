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

Verdict. Batch 1 is a demonstration of algebra, not a test: with non-negative inputs a row
delta_i h^T has one sign by algebra, so coherence 1.0 there shows the harness is right (a
failure makes the verdict inconclusive). The measured part is the batch effect ("a batch
only partly helps", :func:`batch_rule`): at the largest batch, the mass-weighted row
coherence of the layers fed by sigmoid (else the first activation without negative outputs)
minus that of the zero-centred control (tanh, else the first activation whose registry
property ``zero_centred`` is true), paired per trial; it holds if its 95% t interval over
>= 5 trials lies wholly above ``BATCH_MARGIN`` (0.5: more than half of a row's gradient mass
keeps one sign beyond the control's chance level, so the batch helped only partly), does
not hold if wholly below (the batch removed most of it). The notes give no number; 0.5 is
actlab's, fixed before the run (until issue 20 the threshold was 0, which sigmoid's inputs,
mean/std ~6, could not realistically fail). Weighted coherence, not strict: a batch breaks
strict coherence with a single entry of the other sign, and leaky_relu's rows are 0.000
strictly coherent at batch 1 yet ~0.98 one-signed by mass.

Per activation (``Result.per_activation``): the mass-weighted row coherence, at the largest
batch, of the layers the activation feeds, per trial, against the baseline's (``--baseline``,
default relu), paired by trial.

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

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...probes import stats as probe_stats
from ...training.models import build_mlp, linear_layers
from ...training.settings import Progress, Stopwatch, no_progress, resolve_device, torch_threads
from ...verdicts.result import Result, environment
from .config import (
    CLAIM,
    COMMAND,
    DTYPES,
    HIST_BINS,
    LOSSES,
    NAME,
    NEAR_ZERO,
    QUICK,
    SIGN_MAP_SIZE,
    SOURCE,
    Config,
    _mean_defined,
    expects_coherent_rows,
    zero_centred,
)
from .verdict import BATCH_MARGIN, batch_rule, batch_verdict, per_activation, pick_pair, verdict

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
    "zero_centred",
    "pick_pair",
    "per_activation",
    "verdict",
    "BATCH_MARGIN",
    "batch_rule",
    "batch_verdict",
    "run",
]


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
    data = {
        "layers": _layer_names(config),
        "expects_coherent": {name: expects_coherent_rows(name) for name in config.activations},
        "zero_centred": {name: zero_centred(name) for name in config.activations},
        "near_zero": NEAR_ZERO,
        "histograms": histograms,
        "sign_maps": sign_maps,
        "sign_map_size": SIGN_MAP_SIZE,
    }
    # env is read inside the thread setting, so it records the threads the run used
    return Result(experiment=NAME, config=asdict(config), metrics=metrics, verdict=verdict(config, metrics),
                  per_activation=per_activation(config, metrics),
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


