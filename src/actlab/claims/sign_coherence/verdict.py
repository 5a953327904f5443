"""The ``sign-coherence`` verdict (the batch effect, with batch 1 as a demonstration of algebra)
and the per-activation coherence; every sentence written from the run's numbers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ...verdicts.result import KeyNumber, PerActivation, Rule, Source, Verdict
from ...verdicts.stats import activation_number, decide, interval95
from .config import QUICK, Config, _fmt_names, _mean_defined, expects_coherent_rows, zero_centred

__all__ = ["BATCH_MARGIN", "batch_rule", "batch_verdict", "pick_pair", "verdict", "per_activation", "mean_words",
           "WEIGHTED_DEFINED"]

#: The batch rule's threshold: at the largest batch, the positive-fed layers' mass-weighted row
#: coherence must exceed the zero-centred control's by more than this for "a batch only partly
#: helps" to hold. The notes give no number: actlab's, fixed before any run (issue 20).
BATCH_MARGIN = 0.5

WEIGHTED_DEFINED = ("mass-weighted row coherence: per neuron, |positive minus negative gradient mass| / total "
                    "mass over its row of weight gradients, averaged over neurons; 1 = every row all one sign, "
                    "about 0.1 = random signs")

SOURCE_CITATION = "CS231n notes, 'Neural Networks Part 1: Setting up the Architecture', Commonly used activation functions"
SOURCE_VALUE = ("if the data coming into a neuron is always positive, the gradient on its weights 'will during "
                "backpropagation become either all be positive, or all negative'; 'once these gradients are added up "
                "across a batch of data the final update for the weights can have variable signs, somewhat mitigating "
                "this issue' (no number given)")


def _pick(names: Sequence[str], preferred: str, keep: Callable[[str], bool]) -> str | None:
    chosen = [a for a in names if keep(a)]
    return preferred if preferred in chosen else (chosen[0] if chosen else None)


def pick_pair(activations: Sequence[str]) -> tuple[str | None, str | None]:
    """(subject, control): the first activation without negative outputs (sigmoid preferred) and the
    first whose registry property ``zero_centred`` is true (tanh preferred); None where there is none."""
    return (_pick(activations, "sigmoid", expects_coherent_rows),
            _pick(activations, "tanh", lambda a: zero_centred(a) and a != "sigmoid"))


def mean_words(ratio: float) -> str:
    """How a layer input's mean compares with its spread, in words that match the number."""
    r = abs(ratio)
    if r >= 2:
        return f"a mean several times their spread (mean/std {ratio:.1f})"
    if r >= 0.5:
        return f"a mean comparable to their spread (mean/std {ratio:.1f})"
    return f"a mean small against their spread (mean/std {ratio:.2f})"


def batch_rule(config: Config, positive: str, centred: str) -> Rule:
    """The measured claim, "a batch only partly helps", as a rule on paired per-trial differences."""
    largest = config.batches[-1]
    statistic = (f"mass-weighted row coherence at batch {largest}, {positive}-fed minus {centred}-fed layers "
                 f"(paired per trial)")
    return Rule(statistic=statistic, threshold=BATCH_MARGIN, holds_if="above", seeds=config.trials, text=(
        f"holds if the 95% t interval over at least 5 trials of the {statistic} lies wholly above {BATCH_MARGIN:g}: "
        f"after averaging over {largest} examples, more than half of a {positive}-fed neuron's gradient mass still "
        f"has one sign beyond the zero-centred control's chance level, so the batch helped only partly; does not "
        f"hold if wholly below {BATCH_MARGIN:g} (the batch removed most of it); otherwise inconclusive (this run: "
        f"{config.trials} trials). The notes give no number; {BATCH_MARGIN:g} is actlab's, fixed before the run. "
        f"Batch 1 is a demonstration of algebra, not a test: non-negative inputs give one-signed rows."))


def batch_verdict(differences: Sequence[float], rule: Rule) -> tuple[str, str, Any]:
    """(status, reason, interval) of the batch rule from per-trial differences."""
    interval = interval95(differences)
    status, reason = decide(interval, rule)
    return status, reason, interval


def _scale_words(config: Config) -> str:
    """"quick" or "full-scale" when the sizes are those of --quick or of the defaults, else "custom-size"."""
    def matches(values: dict) -> bool:
        return all(getattr(config, k) == (tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in values.items())
    if matches(QUICK):
        return "quick"
    return "full-scale" if matches({k: getattr(Config, k) for k in QUICK}) else "custom-size"


def verdict(config: Config, m: Mapping[str, Any]) -> Verdict:
    """The measured part is the batch effect (:func:`batch_rule`); batch 1 is a demonstration of
    algebra (coherence exactly 1.0 for layers fed by non-negative outputs) that must pass first."""
    coherence, weighted = m["coherence"], m["weighted_coherence"]
    positive, centred = pick_pair(config.activations)
    largest, scale = config.batches[-1], _scale_words(config)
    missing = []
    if positive is None:
        missing.append("an activation with only non-negative outputs (sigmoid or relu)")
    if centred is None:
        missing.append("a zero-centred activation (registry property zero_centred, e.g. tanh) to compare with")
    if largest == 1:
        missing.append("a batch size above 1")
    rule = batch_rule(config, positive or "sigmoid", centred or "tanh")
    if missing:
        text = "; ".join(missing)
        return Verdict("inconclusive", f"The run did not measure {text} (activations {_fmt_names(config.activations)}, "
                       f"batches {list(config.batches)}), so the batch effect was not tested; the per-activation "
                       "coherences are in their table.", rule=rule,
                       source=Source(SOURCE_CITATION, SOURCE_VALUE, "not measured", "see the evidence"),
                       meaning=(f"This {scale} run could not test the claim: it needs {text}. Rerun with the defaults: "
                                "actlab run sign-coherence --quick."),
                       key_number=KeyNumber(None, "n/a", "not measured"))
    fed = range(1, config.depth + 1)
    identity = [a for a in config.activations if expects_coherent_rows(a)]
    ident_ok = 1 in config.batches and all(coherence[a]["1"][li] == 1.0 for a in identity for li in fed)
    ident_text = (f"Demonstration of algebra at batch 1: every activation-fed layer of {_fmt_names(identity)} has "
                  f"row coherence 1.000, as it must" if ident_ok else
                  ("Batch 1 not measured (the demonstration of algebra was not run)" if 1 not in config.batches else
                   "The batch-1 check FAILED: a layer fed by non-negative outputs had a mixed row, which algebra "
                   "rules out; the measurement is broken"))
    diffs = [p - c for p, c in zip(m["weighted_coherence_per_trial"][positive][str(largest)],
                                   m["weighted_coherence_per_trial"][centred][str(largest)], strict=True)]
    status, reason, iv = batch_verdict(diffs, rule)
    if 1 in config.batches and not ident_ok:
        status, reason = "inconclusive", "the batch-1 check failed, so no number of this run can be trusted"
    wc = {a: _mean_defined(weighted[a][str(largest)][1:]) for a in (positive, centred)}
    strict = {a: _mean_defined(coherence[a][str(largest)][1:]) for a in (positive, centred)}
    ratio = {a: _mean_defined(m["input_mean_to_std"][a][1:]) for a in (positive, centred)}
    evidence = (
        f"{ident_text}. Measured: the batch effect at batch {largest}, on the {WEIGHTED_DEFINED}. Difference "
        f"{positive} minus {centred} (zero-centred control): {iv.text('{:.3f}')}; {reason}.")
    ours = (f"batch 1: coherence 1.000 for {_fmt_names(identity)} (algebra); batch {largest}: mass-weighted "
            f"coherence {wc[positive]:.3f} ({positive}) vs {wc[centred]:.3f} ({centred}, zero-centred)")
    differences = (f"an untrained MLP ({config.depth} hidden layers, so layers 1-{config.depth + 1} with layer "
                   f"{config.depth + 1} the logits; width {config.width}) at initialisation, random "
                   f"{config.loss.replace('_', '-')} targets, {config.trials} trials; the notes argue from algebra "
                   "and measure nothing")
    key = KeyNumber(iv.estimate, f"{iv.estimate:+.3f}" if iv.estimate is not None else "n/a",
                    f"{positive} minus {centred} mass-weighted row coherence at batch {largest} (threshold "
                    f"{BATCH_MARGIN:g})")
    meaning = _meaning(config, positive, centred, wc, strict, ratio, status, ident_ok)
    return Verdict(status, evidence, rule=rule, source=Source(SOURCE_CITATION, SOURCE_VALUE, ours, differences),
                   meaning=meaning, key_number=key)


def _meaning(config: Config, positive: str, centred: str, wc: dict, strict: dict, ratio: dict, status: str,
             ident_ok: bool) -> str:
    largest, scale = config.batches[-1], _scale_words(config)
    word = {"holds": "holds", "does_not_hold": "does not hold", "inconclusive": "is not settled"}[status]
    # from the decided interval, not the point estimate: the words never outrun the rule
    share = {"holds": "more than", "does_not_hold": "less than"}.get(status, "about")
    return (
        f"A neuron's weight gradient for one example is its upstream gradient (one number) times its inputs, so when "
        f"every input is positive, as after {positive}, all the weights of that neuron get gradients of one sign: "
        f"this {scale} run shows it at batch 1 ({'every' if ident_ok else 'not every'} such neuron's gradient row "
        f"had one sign), which is a demonstration of algebra, not a finding. Row coherence is the share of neurons "
        f"whose whole row of weight gradients has one sign; the {WEIGHTED_DEFINED}. "
        f"Averaging over a batch of {largest} examples mixes the signs: strict row coherence is "
        f"{strict[positive]:.2f} for {positive}, and {wc[positive]:.2f} by mass against {wc[centred]:.2f} for the "
        f"zero-centred {centred}, a difference of {share} {BATCH_MARGIN:g} (the rule asks for a difference, "
        f"{positive} minus {centred}, above {BATCH_MARGIN:g} on this 0-1 scale). {positive}'s inputs have {mean_words(ratio[positive])}, "
        f"{centred}'s {mean_words(ratio[centred])}; the larger the mean against the spread, the more of each row "
        f"keeps one sign. So the claim that a batch only partly helps {word} here. A whole-layer histogram still "
        f"looks mixed because each neuron's sign comes from its own upstream gradient: the layer mixes neurons, the "
        f"batch mixes examples.")


def per_activation(config: Config, m: Mapping[str, Any]) -> tuple[PerActivation, ...]:
    """Each activation's mass-weighted coherence of the layers it feeds, at the largest batch, per trial."""
    largest = str(config.batches[-1])
    per = m["weighted_coherence_per_trial"]
    base = per[config.baseline][largest]
    values = [activation_number(name, per[name][largest], base) for name in config.activations]
    return (PerActivation(
        key="row_coherence", quantity=(f"mass-weighted row coherence of the layers the activation feeds, at batch "
                                       f"{largest} (untrained MLP)"),
        unit="", better="lower", baseline=config.baseline, values=tuple(values),
        ratio_label=f"coherence / {config.baseline}'s, paired by trial", replicates="trials",
        note=(f"{WEIGHTED_DEFINED[0].upper()}{WEIGHTED_DEFINED[1:]}. Lower: fewer one-signed rows; whether that "
              "slows training is zigzag's question (its part (a) finds the slowdown is conditioning, not same-sign "
              "steps). By this measure an activation with small negative outputs (leaky_relu) is relu-like, although "
              f"the strict test (every entry one sign) calls its rows mixed. Interval over {config.trials} trials.")),)
