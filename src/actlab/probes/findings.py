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
from dataclasses import asdict, dataclass, fields, replace
from types import MappingProxyType
from typing import Any

__all__ = ["Thresholds", "Finding", "Findings", "THRESHOLD_SOURCES", "SEVERITIES", "diagnose"]

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
            ``update_ratio_target`` for ||delta w|| / ||w|| per optimizer step, for SGD
            (and when the optimizer is unknown).
        update_ratio_low_adaptive, update_ratio_high_adaptive: the band for adaptive
            optimizers (Adam, AdamW, RMSprop, ...), whose step is about lr per entry
            whatever the gradient, so that the ratio is about lr / rms(w): 1e-3 with
            weights of rms 0.02 gives 0.05, a usual transformer setting.
        warmup_steps: before this step the update ratios are still settling (momentum
            and Adam's moments filling, weights leaving their init): a ratio above the
            band is reported only beyond ``warmup_factor`` times it, and one below it not
            at all.
        loss_flat: relative fall of the loss (median of the recent sampled steps against
            the first sampled step) below which it "has not moved", once the records span
            ``loss_flat_steps`` steps.
        loss_diverged: the loss is "diverged" above this multiple of its start (or when it
            is not finite).
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
    update_ratio_low_adaptive: float = 1e-4
    update_ratio_high_adaptive: float = 1e-1
    warmup_steps: int = 100
    warmup_factor: float = 10.0
    loss_flat: float = 0.02
    loss_flat_steps: int = 100
    loss_diverged: float = 2.0
    recent: int = 5

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"threshold {f.name}={value!r} must be a positive finite number")
        for name in ("recent", "warmup_steps", "loss_flat_steps"):
            if not isinstance(getattr(self, name), int):
                raise ValueError(f"threshold {name}={getattr(self, name)!r} must be an integer >= 1")
        pairs = (("vanishing_ratio", "exploding_ratio"), ("saturated_fraction", "saturated_critical"),
                 ("dead_fraction", "dead_critical"), ("update_ratio_low", "update_ratio_target"),
                 ("update_ratio_target", "update_ratio_high"),
                 ("update_ratio_low_adaptive", "update_ratio_high_adaptive"))
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
    "update_ratio_low_adaptive": "heuristic: Adam-family steps are about lr per entry (Kingma & Ba 2015, sec. 2.1: "
                                 "|step| <= lr in the usual case), so the ratio is about lr / rms(w); 1e-4 is lr 2e-6 "
                                 "on weights of rms 0.02",
    "update_ratio_high_adaptive": "heuristic: lr / rms(w) for the usual Adam settings is 1e-3 to 5e-2 (lr 3e-4 to 1e-3 "
                                  "on weights of rms 0.02 to 0.3); 0.1 is a tenth of the weights per step",
    "warmup_steps": "heuristic: the CS231n ratio is for a run under way; at the start momentum and Adam's moments "
                    "fill and weights leave their init (healthy MLPs, an LSTM and GPT-2 crossed 1e-2 in their first "
                    "60 steps and were under it by step 400)",
    "warmup_factor": "heuristic: during warm-up only a ratio 10x beyond the band is reported",
    "loss_flat": "heuristic: a loss within 2% of its start after loss_flat_steps steps has not moved "
                 "(a tiny BERT at lr 5e-5 sat at ln 2 for 300 steps)",
    "loss_flat_steps": "heuristic: judged only after 100 steps",
    "loss_diverged": "heuristic: twice the starting loss, or a loss that is not finite",
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


class Findings(list):
    """The findings: a list of :class:`Finding`, most severe first, that can also be
    called. ``monitor.findings`` and ``monitor.findings()`` give the same list, on the
    :class:`~actlab.probes.Monitor` and on the Lightning and Hugging Face callbacks
    alike; ``findings(thresholds)`` diagnoses the same records with other thresholds."""

    def __init__(self, items: Iterable[Finding] = (), recompute: Any = None) -> None:
        super().__init__(items)
        self._recompute = recompute

    def __call__(self, thresholds: Thresholds | None = None) -> Findings:
        if self._recompute is None:
            if thresholds is not None:
                raise TypeError("these findings have no records to diagnose again with other thresholds")
            return self
        return Findings(self._recompute(thresholds), self._recompute)

    def report(self) -> str:
        """``actlab monitor: N finding(s)`` and one line per finding."""
        return "\n".join([f"actlab monitor: {len(self)} finding(s)"] + [f"- {f}" for f in self])


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
    out += _loss_findings(steps, th, step, out)
    out = _subsume(out)
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


def _update_band(last: Mapping[str, Any], th: Thresholds, step: int) -> tuple[float, float, str, str, str]:
    """(low, high, their THRESHOLD_SOURCES keys, a phrase for the evidence) for this
    record's optimizer family and step: adaptive optimizers have their own band, and
    during warm-up only a ratio ``warmup_factor`` beyond the band counts."""
    optimizer = last.get("optimizer") or {}
    if optimizer.get("family") == "adaptive":
        low, high = th.update_ratio_low_adaptive, th.update_ratio_high_adaptive
        keys = ("update_ratio_low_adaptive", "update_ratio_high_adaptive")
        what = f" for {optimizer.get('name', 'an adaptive optimizer')}"
    else:
        low, high, keys = th.update_ratio_low, th.update_ratio_high, ("update_ratio_low", "update_ratio_high")
        what = f" for {optimizer['name']}" if optimizer.get("name") else ""
    if step < th.warmup_steps:
        return 0.0, high * th.warmup_factor, keys[0], keys[1], what + f" in warm-up (step {step} < {th.warmup_steps})"
    return low, high, keys[0], keys[1], what


def _update_findings(recent: Sequence[Mapping[str, Any]], th: Thresholds, step: int) -> list[Finding]:
    out: list[Finding] = []
    low, high, low_key, high_key, what = _update_band(recent[-1], th, step)
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
        elif ratio > high:
            out.append(Finding(
                "warning", "update_ratio_high", name,
                f"each optimizer step changes its weights by {ratio:.2g} of their norm (||dw||/||w||, median over the "
                f"last {len(recent)} sampled steps); above {high:g} is too much{what}.",
                "the learning rate is likely too high: lower it (or warm it up).",
                ratio, high, THRESHOLD_SOURCES[high_key], step))
        elif ratio < low:
            out.append(Finding(
                "info", "update_ratio_low", name,
                f"each optimizer step changes its weights by only {ratio:.2g} of their norm (||dw||/||w||, median over "
                f"the last {len(recent)} sampled steps); below {low:g} is little{what}.",
                "the learning rate might be too low: raise it (unless this layer is meant to move slowly).",
                ratio, low, THRESHOLD_SOURCES[low_key], step))
    return out


def _loss_findings(steps: Sequence[Mapping[str, Any]], th: Thresholds, step: int,
                   found: Sequence[Finding]) -> list[Finding]:
    """The loss (``monitor.step(loss=...)``) against its start: diverged, or not moving."""
    losses = [(int(r["step"]), float(r["loss"])) for r in steps
              if isinstance(r.get("loss"), (int, float)) and not isinstance(r.get("loss"), bool)]
    if not losses:
        return []
    last_step, last = losses[-1]
    if not math.isfinite(last):
        return [Finding("critical", "loss_diverged", "loss", f"the loss is {last} at step {last_step}.",
                        "lower the learning rate, clip gradients (torch.nn.utils.clip_grad_norm_), check the inputs "
                        "and the loss for log(0) or overflow.", last, math.nan, "any non-finite value is an error", step)]
    if len(losses) < 2:
        return []
    start_step, start = losses[0]
    later = _finite(v for _, v in losses[1:][-th.recent:])
    if not later or not math.isfinite(start):
        return []
    now = statistics.median(later)
    evidence = (f"the loss was {start:.4g} at step {start_step} and is {now:.4g} now (median over the last {len(later)} "
                f"sampled steps, up to step {last_step})")
    if start > 0 and now > th.loss_diverged * start:
        return [Finding("critical", "loss_diverged", "loss", f"The loss diverged: {evidence}.",
                        "lower the learning rate (or warm it up), clip gradients, check for a bad batch.",
                        now / start, th.loss_diverged, THRESHOLD_SOURCES["loss_diverged"], step)]
    fall = (start - now) / abs(start) if start else (0.0 if now == 0 else -math.inf)
    if last_step - start_step < th.loss_flat_steps or len(losses) < 3 or fall >= th.loss_flat:
        return []
    kinds = {f.kind for f in found}
    if "update_ratio_high" in kinds:
        advice = "the updates are large (see the update ratios): lower the learning rate."
    elif "update_ratio_low" in kinds:
        advice = "the updates are small (see the update ratios): raise the learning rate."
    else:
        advice = ("compare the learning rate with the update ratios in the records (about 1e-3 is usual for SGD), and "
                  "check that the labels match the inputs, the loss fits the task and optimizer.step() runs.")
    return [Finding("warning", "loss_not_decreasing", "loss",
                    f"The loss has not moved from its start: {evidence}, a fall of {_pct(max(fall, 0.0))} over "
                    f"{last_step - start_step} steps.", advice,
                    fall, th.loss_flat, THRESHOLD_SOURCES["loss_flat"], step)]


# findings whose cause makes the gradients, and so the updates, small: where one of these
# is found, the tiny updates and the flat loss are its consequence, not a learning rate to raise
_EXPLAINS_SMALL_UPDATES = ("dead_units", "vanishing_gradients", "saturation", "non_finite")
_RAISE = ("raise the learning rate", "raise it")
_LOWER = ("lower the learning rate", "lower it")


def _subsume(found: list[Finding]) -> list[Finding]:
    """A finding that explains another subsumes it, and the list never gives opposite
    advice: "raise the learning rate" goes where another finding says to lower it, or
    where dead units, vanished or saturated gradients explain the small updates (the
    explaining finding names what it subsumes)."""
    causes = [f for f in found if f.kind in _EXPLAINS_SMALL_UPDATES and f.severity != "info"]
    lowers = [f for f in found if any(w in f.suggestion for w in _LOWER)]
    if not causes and not lowers:
        return found
    dropped = [f for f in found if (lowers and any(w in f.suggestion for w in _RAISE))
               or (causes and f.kind in ("update_ratio_low", "loss_not_decreasing"))]
    if not dropped:
        return found
    keep = [f for f in found if f not in dropped]
    host = (causes or lowers)[0]
    names = ", ".join(f"{f.layer} ({f.kind})" for f in dropped[:4])
    names += f" and {len(dropped) - 4} more" if len(dropped) > 4 else ""
    noted = replace(host, evidence=f"{host.evidence} It also explains {names}, not reported apart "
                                   "(their advice would contradict this one).")
    return [noted if f is host else f for f in keep]
