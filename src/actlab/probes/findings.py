"""Plain-language diagnoses from the monitor's records.

``diagnose(records, thresholds)`` reads the last ``thresholds.recent`` records (one
per sampled step, as the :class:`~actlab.probes.Monitor` keeps them and writes them
to JSONL) and returns :class:`Finding` objects, most severe first. Each finding
names the layer, gives the evidence with its number, a suggestion, and where its
threshold comes from. Statistics that move from step to step (saturation, centring,
gradient norms, update ratios) are taken as the median over those recent steps.

Every threshold is a field of :class:`Thresholds` (pass your own to
``Monitor(thresholds=...)`` or ``monitor.findings(thresholds)``); ``THRESHOLD_SOURCES``
says where each number comes from. Where the literature names the phenomenon but
no number, the number is actlab's and is labelled a heuristic.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from types import MappingProxyType
from typing import Any

__all__ = ["Thresholds", "Finding", "THRESHOLD_SOURCES", "SEVERITIES", "diagnose"]

#: Severities, most severe first.
SEVERITIES = ("critical", "warning", "info")


@dataclass(frozen=True)
class Thresholds:
    """The numbers behind :func:`diagnose` (sources in ``THRESHOLD_SOURCES``).

    Attributes:
        vanishing_ratio: gradient norm of the weight layer nearest the input over that
            of the layer nearest the output; below this, gradients vanish across depth.
        exploding_ratio: the same ratio above this: gradients explode across depth.
        saturated_fraction: share of a layer's activations in the saturated band
            (|f'| < 5% of max |f'|) from which a two-sided saturating activation
            (sigmoid, tanh, softsign, ...) is reported; ``saturated_critical`` makes
            it critical.
        dead_fraction: share of a layer's units dead over the whole window (no
            gradient for any example of the last ``window`` sampled steps);
            ``dead_critical`` makes it critical.
        zero_centring: |mean| / std of a layer's outputs (the next layer's inputs)
            from which they are reported as not zero-centred.
        update_ratio_low, update_ratio_high: the band around the target
            ``update_ratio_target`` for ||delta w|| / ||w|| per optimizer step.
        recent: how many of the latest sampled steps the medians are taken over.
    """

    vanishing_ratio: float = 1e-2
    exploding_ratio: float = 1e2
    saturated_fraction: float = 0.5
    saturated_critical: float = 0.9
    dead_fraction: float = 0.1
    dead_critical: float = 0.4
    zero_centring: float = 1.0
    update_ratio_target: float = 1e-3
    update_ratio_low: float = 1e-4
    update_ratio_high: float = 1e-2
    recent: int = 5

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"threshold {f.name}={value!r} must be a positive finite number")
        if not isinstance(self.recent, int):
            raise ValueError(f"threshold recent={self.recent!r} must be an integer >= 1")
        pairs = (("vanishing_ratio", "exploding_ratio"), ("saturated_fraction", "saturated_critical"),
                 ("dead_fraction", "dead_critical"), ("update_ratio_low", "update_ratio_target"),
                 ("update_ratio_target", "update_ratio_high"))
        for lo, hi in pairs:
            if not getattr(self, lo) < getattr(self, hi):
                raise ValueError(f"threshold {lo}={getattr(self, lo)} must be below {hi}={getattr(self, hi)}")
        for name in ("saturated_fraction", "saturated_critical", "dead_fraction", "dead_critical"):
            if getattr(self, name) > 1:
                raise ValueError(f"threshold {name}={getattr(self, name)} is a fraction and must be <= 1")


#: Where each threshold comes from.
THRESHOLD_SOURCES: Mapping[str, str] = MappingProxyType({
    "vanishing_ratio": "heuristic (100x over the net's depth); the phenomenon: Bengio, Simard, Frasconi 1994; "
                       "Glorot & Bengio 2010, sec. 4.3 and Fig. 7; CS231n lecture 6 (sigmoid' <= 0.25)",
    "exploding_ratio": "heuristic (100x over the net's depth); Pascanu, Mikolov, Bengio 2013, "
                       "'On the difficulty of training recurrent neural networks'",
    "saturated_fraction": "heuristic ('most neurons saturated', CS231n notes on weight init); saturation band "
                          "|f'| < 5% of max |f'| as in `actlab show`; Glorot & Bengio 2010, Fig. 2-4",
    "saturated_critical": "heuristic: nearly the whole layer saturated, as the top sigmoid layer of "
                          "Glorot & Bengio 2010, Fig. 2",
    "dead_fraction": "heuristic (10% of a layer's units); the phenomenon: CS231n notes, 'Dying ReLU'",
    "dead_critical": "CS231n notes: 'as much as 40% of your network can be dead' with too high a learning rate",
    "zero_centring": "heuristic (mean larger than the spread: inputs nearly all of one sign); "
                     "LeCun, Bottou, Orr, Mueller 1998, 'Efficient BackProp', sec. 4.3; CS231n lecture 6 (zig-zag)",
    "update_ratio_target": "CS231n notes, 'Ratio of weights:updates': 'somewhere around 1e-3'",
    "update_ratio_low": "CS231n notes: lower than ~1e-3 'the learning rate might be too low' (10x band: heuristic)",
    "update_ratio_high": "CS231n notes: higher than ~1e-3 'the learning rate is likely too high' (10x band: heuristic)",
    "recent": "heuristic: medians over the last 5 sampled steps smooth step-to-step noise",
})


@dataclass(frozen=True)
class Finding:
    """One diagnosis.

    Attributes:
        severity: ``"critical"``, ``"warning"`` or ``"info"``.
        kind: a stable code, e.g. ``"dead_units"``, ``"vanishing_gradients"``.
        layer: the activation site or parameter (or ``"a -> b"`` across depth).
        evidence: one sentence with the measured number.
        suggestion: what to try.
        value: the measured number; threshold: the threshold it crossed.
        source: where the threshold comes from.
        step: the last sampled step the evidence covers.
    """

    severity: str
    kind: str
    layer: str
    evidence: str
    suggestion: str
    value: float
    threshold: float
    source: str
    step: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"[{self.severity}] {self.layer}: {self.evidence} Suggestion: {self.suggestion}"


def _finite(values: Iterable[Any]) -> list[float]:
    return [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]


def _last(recent: list[Any]) -> str:
    return "the last sampled step" if len(recent) == 1 else f"the last {len(recent)} sampled steps"


def _median(values: Iterable[Any]) -> float | None:
    vals = _finite(values)
    return statistics.median(vals) if vals else None


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%" if x >= 0.01 else f"{100 * x:.2g}%"


def diagnose(records: Sequence[Mapping[str, Any]], thresholds: Thresholds | None = None) -> list[Finding]:
    """Findings from the monitor's records (oldest first), most severe first."""
    th = thresholds or Thresholds()
    steps = [r for r in records if r.get("type", "step") == "step"]
    if not steps:
        return []
    recent = steps[-th.recent:]
    last = recent[-1]
    step = int(last["step"])
    out: list[Finding] = []
    out += _activation_findings(recent, th, step)
    out += _gradient_findings(recent, th, step)
    out += _update_findings(recent, th, step)
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(out, key=lambda f: rank[f.severity])


def _series(recent: Sequence[Mapping[str, Any]], section: str, name: str, key: str) -> list[Any]:
    return [r.get(section, {}).get(name, {}).get(key) for r in recent]


def _activation_findings(recent: Sequence[Mapping[str, Any]], th: Thresholds, step: int) -> list[Finding]:
    out: list[Finding] = []
    last = recent[-1]
    window = last.get("window")
    for name, site in last.get("activations", {}).items():
        label = f"{name} ({site.get('activation', '?')})"
        mean, std = site.get("mean"), site.get("std")
        # the monitor sums in float64: a non-finite mean means a non-finite output exists (a
        # finite float32 output cannot overflow it); a non-finite std alone does not
        nans = site.get("nan_count") or 0
        if (isinstance(mean, float) and not math.isfinite(mean)) or nans:
            what = (f"{nans} NaN output(s)" if nans else
                    "NaN or infinite outputs of both signs" if math.isnan(mean) else "infinite outputs")
            out.append(Finding(
                "critical", "non_finite", label,
                f"{what} at step {step} (mean {mean}, std {std}).",
                "lower the learning rate, clip gradients (torch.nn.utils.clip_grad_norm_), check the inputs and the loss.",
                math.nan, math.nan, "any non-finite value is an error", step))
            continue
        sat = _median(_series(recent, "activations", name, "saturated_fraction"))
        if sat is not None and site.get("two_sided") and sat >= th.saturated_fraction:
            severity = "critical" if sat >= th.saturated_critical else "warning"
            key = "saturated_critical" if severity == "critical" else "saturated_fraction"
            out.append(Finding(
                severity, "saturation", label,
                f"{_pct(sat)} of its activations are saturated (|f'| < 5% of max |f'|: almost no gradient passes), "
                f"median over the last {len(recent)} sampled steps.",
                "scale the init to the activation (Xavier/LeCun for tanh and sigmoid), normalise the inputs or add "
                "normalisation layers, or use a non-saturating activation (ReLU family).",
                sat, getattr(th, key), THRESHOLD_SOURCES[key], step))
        dead, covered = site.get("dead_fraction"), site.get("dead_window")
        if isinstance(dead, (int, float)) and window and covered == window and dead >= th.dead_fraction:
            severity = "critical" if dead >= th.dead_critical else "warning"
            key = "dead_critical" if severity == "critical" else "dead_fraction"
            units = site.get("units")
            count = f" ({round(dead * units)} of {units})" if units else ""
            out.append(Finding(
                severity, "dead_units", label,
                f"{_pct(dead)} of its units{count} passed no gradient for any example of the last {covered} sampled steps.",
                "lower the learning rate, initialise biases to a small positive value (0.01), or use leaky_relu / elu.",
                dead, getattr(th, key), THRESHOLD_SOURCES[key], step))
        centring = _median(_series(recent, "activations", name, "zero_centring"))
        feeds = site.get("feeds")  # None in logs written before the monitor tracked it
        if centring is None or centring < th.zero_centring or feeds == []:
            continue  # centred, or it feeds no weight layer (a gate, the final activation)
        where, target, coherence = label, "the next layer", None
        if feeds:
            more = f" and {len(feeds) - 1} more" if len(feeds) > 1 else ""
            where = f"{label} feeds {feeds[0]}{more}"
            target = feeds[0].split(" (")[0]
            coherence = _median(_series(recent, "parameters", f"{target}.weight", "sign_coherence"))
        if coherence is None or coherence >= _COHERENT:
            measured = (f" in {_pct(coherence)} of its rows (measured row sign coherence {coherence:.2f}, "
                        f"median over {_last(recent)})" if coherence is not None else "")
            consequence = (f"nearly all of one sign, so {target}'s weight gradients share a sign row by row{measured} "
                           "and updates zig-zag.")
            severity = "warning"
        else:
            consequence = (f"nearly all of one sign, so {target}'s weight gradients can share a sign row by row, but "
                           f"they do not here (measured row sign coherence {coherence:.2f}, median over {_last(recent)}: "
                           "the batch mixes the signs), so the zig-zag is weak.")
            severity = "info"
        out.append(Finding(
            severity, "not_zero_centred", where,
            f"its outputs, {target}'s inputs, have |mean|/std = {centring:.2f} (median over {_last(recent)}; "
            f"now mean {mean:.3g}, std {std:.3g}): "
            + consequence,
            "use a zero-centred activation (tanh, or the centred variant) or normalise the layer's inputs "
            "(BatchNorm / LayerNorm).",
            centring, th.zero_centring, THRESHOLD_SOURCES["zero_centring"], step))
    return out


# the not-zero-centred finding says the fed layer's gradients "share a sign row by row"
# only where the measured coherence agrees (at least half the rows of one sign)
_COHERENT = 0.5


def _weights(last: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The weights of layers: parameters named ``*weight`` of >= 2 dimensions, or other 2-D
    matrices of more than one row (a hand-written cell's ``W_ih``). Not a ViT's ``cls_token``
    (1, 1, D) or ``pos_embed`` (1, N, D): tokens that start near zero, whose update ratio
    says nothing about the learning rate."""
    out = []
    for n, p in last.get("parameters", {}).items():
        shape = p.get("shape", ())
        if len(shape) >= 2 and (n.rsplit(".", 1)[-1].endswith("weight") or (len(shape) == 2 and shape[0] > 1)):
            out.append((n, p))
    return out


def _gradient_findings(recent: Sequence[Mapping[str, Any]], th: Thresholds, step: int) -> list[Finding]:
    out: list[Finding] = []
    last = recent[-1]
    for name, p in last.get("parameters", {}).items():
        g = p.get("grad_norm")
        if isinstance(g, float) and not math.isfinite(g):
            out.append(Finding(
                "critical", "non_finite", name, f"its gradient norm is {g} at step {step}.",
                "lower the learning rate, clip gradients (torch.nn.utils.clip_grad_norm_), check the loss for log(0) or overflow.",
                g, math.nan, "any non-finite value is an error", step))
    layers = [(p["depth"], n) for n, p in _weights(last) if isinstance(p.get("depth"), int)]
    if len(layers) < 2:
        return out
    layers.sort()
    first, last_name = layers[0][1], layers[-1][1]
    g_first = _median(_series(recent, "parameters", first, "grad_norm"))
    g_last = _median(_series(recent, "parameters", last_name, "grad_norm"))
    if g_first is None or g_last is None or g_last == 0:
        return out
    ratio = g_first / g_last
    per_layer = ratio ** (1 / (len(layers) - 1)) if ratio > 0 else 0.0
    where = f"{first} -> {last_name}"
    evidence = (f"the gradient norm of {first} (nearest the input) is {ratio:.3g} times that of {last_name} "
                f"(nearest the output) over {len(layers)} weight layers, {per_layer:.3g} per layer "
                f"({g_first:.3g} vs {g_last:.3g}).")
    if ratio < th.vanishing_ratio:
        out.append(Finding(
            "warning", "vanishing_gradients", where, "Gradients vanish with depth: " + evidence,
            "use a non-saturating activation (ReLU family), an init matched to it (He for ReLU, Xavier/LeCun "
            "for tanh), normalisation layers or residual connections.",
            ratio, th.vanishing_ratio, THRESHOLD_SOURCES["vanishing_ratio"], step))
    elif ratio > th.exploding_ratio:
        out.append(Finding(
            "warning", "exploding_gradients", where, "Gradients explode with depth: " + evidence,
            "scale the init down, lower the learning rate, clip gradients, or add normalisation layers.",
            ratio, th.exploding_ratio, THRESHOLD_SOURCES["exploding_ratio"], step))
    return out


def _update_findings(recent: Sequence[Mapping[str, Any]], th: Thresholds, step: int) -> list[Finding]:
    out: list[Finding] = []
    for name, _ in _weights(recent[-1]):
        ratio = _median(_series(recent, "parameters", name, "update_ratio"))
        if ratio is None:
            continue
        if ratio == 0:
            out.append(Finding(
                "warning", "not_updated", name,
                f"its weights did not change between consecutive optimizer steps (update/weight ratio 0, median over "
                f"the last {len(recent)} sampled steps) although it requires grad.",
                "check that the parameter is in the optimizer, that optimizer.step() runs before monitor.step(), "
                "and that its gradient is not zero.",
                ratio, th.update_ratio_low, THRESHOLD_SOURCES["update_ratio_low"], step))
        elif ratio > th.update_ratio_high:
            out.append(Finding(
                "warning", "update_ratio_high", name,
                f"each optimizer step changes its weights by {ratio:.2g} of their norm (||dw||/||w||, median over the "
                f"last {len(recent)} sampled steps); about {th.update_ratio_target:g} is healthy.",
                "the learning rate is likely too high: lower it (or warm it up).",
                ratio, th.update_ratio_high, THRESHOLD_SOURCES["update_ratio_high"], step))
        elif ratio < th.update_ratio_low:
            out.append(Finding(
                "info", "update_ratio_low", name,
                f"each optimizer step changes its weights by only {ratio:.2g} of their norm (||dw||/||w||, median over "
                f"the last {len(recent)} sampled steps); about {th.update_ratio_target:g} is healthy.",
                "the learning rate might be too low: raise it (unless this layer is meant to move slowly).",
                ratio, th.update_ratio_low, THRESHOLD_SOURCES["update_ratio_low"], step))
    return out
