"""saturation's verdict: the onset rule, its limits and sentences, from classified runs (constructed runs drive
it in the tests)."""

from __future__ import annotations

import math
from typing import Any

from ...verdicts.result import KeyNumber, Limit, Rule, Source, Verdict
from ...verdicts.stats import Interval, decide, interval95
from .config import EARLY_STEPS, NEAR, PAPER_TEST_ERROR, PINNED, QUICK, STAY_STEPS, Config

__all__ = ["decide_claim", "onset_interval"]


def _pct(v: float | None, digits: int = 0) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{100 * v:.{digits}f}%"


def _t(values: list[float], side: str) -> float | None:
    iv = interval95(values)
    return iv.low if side == "low" else iv.high


def onset_interval(used: list[dict[str, Any]]) -> Interval:
    """The top layer's onset over seeds: from the t interval's lower end of the probes before the onsets to its
    upper end of the onset probes (the probe spacing is the resolution; never a zero-width interval). A seed whose
    top layer was not pinned at the end is censored: the upper end is then infinite."""
    after = [float(r["onset_after"]) for r in used]
    by = [r["onset_by"] for r in used]
    if not used:
        return Interval(None, None, None, 0, "probe bounds, t")
    censored = any(b is None for b in by)
    est = None if censored else sum(by) / len(by)
    low = _t(after, "low") if len(used) > 1 else None
    high = math.inf if censored else (_t([float(b) for b in by], "high") if len(used) > 1 else None)
    return Interval(est if est is not None else math.inf, low, high, len(used), "probe bounds, t")


def decide_claim(runs: list[dict[str, Any]], *, config: dict[str, Any], steps: list[int]) -> Verdict:
    """The verdict from classified runs (:func:`classify_runs`); constructed runs drive it in the tests."""
    total = int(config["steps"])
    scale = ("quick" if all(config.get(k) == v for k, v in QUICK.items()) else
             "full-scale" if int(config["width"]) >= Config.width and total >= Config.steps else "reduced-size")
    where = (f"{scale} run: {config['depth']} hidden layers of {config['width']} units, {total} SGD steps "
             f"(batch {config['batch_size']}, lr {config['lr']:g}), {config['seeds']} seeds")
    sig = [r for r in runs if r["activation"] == "sigmoid"]
    rule = Rule(
        statistic="onset step (top sigmoid layer pinned near 0 from there to the end)",
        threshold=EARLY_STEPS, holds_if="below", seeds=len(sig),
        text=(f"'Early' is fixed in steps: within the first {EARLY_STEPS} steps ({EARLY_STEPS * config['batch_size']:,} "
              f"examples at batch {config['batch_size']}). A layer is pinned near 0 when more than half of its outputs "
              f"on {config.get('probe_examples', 300)} fixed test images are below {NEAR}; its onset is the first probe "
              "from which it stays pinned to the end, known to lie between that probe and the one before. Holds if, "
              f"over at least 5 seeds, the 95% interval of the onset (from the t interval's lower end of the earlier "
              f"probes to its upper end of the onset probes) lies wholly below step {EARLY_STEPS}, the run goes on at "
              f"least {STAY_STEPS} steps past it (stays there), and in most seeds no lower layer is pinned at the end; "
              f"does not hold if the interval lies wholly above step {EARLY_STEPS} (a seed never pinned counts as "
              "later than the run), or if the lower layers are pinned too; diverged runs, and sigmoid runs stuck at "
              "chance level when no tanh/softsign run at the same settings trains, are left out; otherwise "
              f"inconclusive (this run: {len(sig)} sigmoid seeds)."))
    acts = sorted({r["activation"] for r in runs}, key=lambda a: (a != "sigmoid", a))
    test_err = {a: interval95([r["test_error"] for r in runs if r["activation"] == a]) for a in acts}
    ours_err = ", ".join(f"{a} {_ci_pct(iv)}" for a, iv in test_err.items())
    top_end = _mean([r["top_mean_end"] for r in sig if r["status"] != "diverged"])
    paper = ", ".join(f"{a} {v}%" for a, v in PAPER_TEST_ERROR.items())
    source = Source(
        citation="Glorot & Bengio 2010, Fig. 2 and Table 1 (MNIST)",
        value=(f"Fig. 2: the top sigmoid layer's mean activation drops to about 0 early in training and stays there "
               f"for a long time (until about epoch 100); Table 1 test errors after full training: {paper}"),
        ours=(f"top sigmoid layer's mean {top_end:.3f} at step {total}" if top_end is not None else "no sigmoid run")
        + f"; test errors on the whole test set after only {total} steps (95% CI over seeds): {ours_err}",
        differences=(f"we train {total} steps of batch {config['batch_size']} ({total * config['batch_size']:,} "
                     "examples, under 1 epoch of MNIST) at one learning rate for every activation; the paper trains "
                     "to convergence with the learning rate tuned per network, so its test errors are far lower and "
                     f"not comparable with ours; {config['depth']} hidden layers of {config['width']} units "
                     f"({'the paper: 1000' if int(config['width']) != 1000 else 'as in the paper'}); init "
                     f"'{config['init']}' (default: U(-1/sqrt(n), 1/sqrt(n)), the paper's standard init); "
                     f"{config['dataset']} with {config['train_examples'] or 'all'} training examples."))

    def verdict(status: str, evidence: str, iv: Interval | None, meaning: str, limits: tuple = ()) -> Verdict:
        value = iv.estimate if iv is not None and iv.estimate is not None and math.isfinite(iv.estimate) else None
        return Verdict(status, evidence, rule=rule, source=source, meaning=meaning, limits=limits,
                       key_number=KeyNumber(value, _onset_text(iv), "step from which the top sigmoid layer stays "
                                                                    "pinned near 0 (probe bounds over seeds)"))

    if not sig:
        return verdict("inconclusive", "the claim is about sigmoid's top hidden layer; this run did not train sigmoid "
                       "(add --activations sigmoid,tanh).", None,
                       "This run trained no sigmoid network, so it cannot say anything about the claim, which is about "
                       "the top hidden layer of a sigmoid network. Rerun with --activations sigmoid,tanh,softsign.")
    diverged = [r for r in sig if r["status"] == "diverged"]
    excluded = [r for r in sig if r["status"] == "stuck at chance" and not r["counts"]]
    used = [r for r in sig if r["counts"] or r["status"] == "trained"]
    controls = [r for r in runs if r["activation"] != "sigmoid"]
    notes = []
    if diverged:
        notes.append(f"{len(diverged)} sigmoid run(s) diverged (seed {', '.join(str(r['seed']) for r in diverged)}), "
                     "left out")
    if excluded:
        why = ("no tanh or softsign network at the same settings left chance level either, so these settings did not "
               "train (too few steps, or a learning rate far too large)" if controls else "and no tanh or softsign run at the same settings shows that they can "
               "train (add --activations sigmoid,tanh)")
        notes.append(f"{len(excluded)} sigmoid run(s) never left chance level ({_pct(excluded[0]['chance_error'])} "
                     f"training error) and were left out: {why}")
    iv = onset_interval(used)
    status, reason = decide(iv, rule) if used else ("inconclusive", "no sigmoid run could be used")
    lower = [r for r in used if r["lower_pinned_end"]]
    pinned = [r for r in used if r["onset_by"] is not None]
    if used and len(lower) * 2 > len(used):
        status, reason = "does_not_hold", (f"in {len(lower)} of {len(used)} seeds a lower layer was pinned at the end "
                                           "too, so the top layer is not singled out")
    elif status == "holds" and total - EARLY_STEPS < STAY_STEPS:
        status, reason = "inconclusive", (f"the run ends {total - EARLY_STEPS} steps after step {EARLY_STEPS}, fewer than "
                                          f"{STAY_STEPS}: too short to show the layer stays there; rerun with --set "
                                          f"steps={EARLY_STEPS + STAY_STEPS}")
    # a top layer still sliding towards 0 at the end: the run was too short to show where it settles
    sliding = [r for r in used if r["top_near_low_end"] <= PINNED and r["top_mean_three_quarters"] is not None
               and r["top_mean_end"] < 0.9 * r["top_mean_three_quarters"]]
    if status != "holds" and used and len(sliding) * 2 > len(used):
        status = "inconclusive"
        s0 = sliding[0]
        reason = (f"the top layer's mean was still falling when the run ended ({s0['top_mean_three_quarters']:.2f} at "
                  f"three quarters, {s0['top_mean_end']:.2f} at the end, seed {s0['seed']}): the run is too short to "
                  f"show where it settles; rerun with --set steps={2 * total}")
    err = _mean([r["train_error"] for r in used])
    ctrl_err = {a: _mean([r["train_error"] for r in controls if r["activation"] == a]) for a in acts if a != "sigmoid"}
    ctrl_text = ", ".join(f"{a} {_pct(e)}" for a, e in ctrl_err.items() if e is not None)
    if used:
        evidence = (f"{where}: the top sigmoid layer was pinned near 0 to the end in {len(pinned)} of {len(used)} "
                    f"seeds, onset at {_onset_text(iv)}; a lower layer was pinned at the end in {len(lower)}; sigmoid "
                    f"training error {_pct(err)} (chance {_pct(sig[0]['chance_error'])})"
                    + (f", {ctrl_text} at the same settings" if ctrl_text else "") + f"; {reason}")
    else:
        evidence = f"{where}: no sigmoid run could be used; {reason}"
    if notes:
        evidence += "; " + "; ".join(notes)
    evidence += ". Per seed in the tables below."
    meaning = _meaning(status, where, scale, used, pinned, iv, len(lower), err, sig[0]["chance_error"],
                       ctrl_err, notes, reason, top_end)
    return verdict(status, evidence, iv, meaning, _limits(runs, total))


def _limits(runs: list[dict[str, Any]], total: int) -> tuple[Limit, ...]:
    """tanh and softsign: is their top layer pinned at its lower end too?"""
    out = []
    for a in [a for a in ("tanh", "softsign") if any(r["activation"] == a for r in runs)]:
        used = [r for r in runs if r["activation"] == a and r["status"] != "diverged"]
        if not used:
            continue
        pinned = [r for r in used if r.get("onset_by") is not None]
        st = ("holds" if len(used) >= 5 and not pinned else "does_not_hold" if len(pinned) * 2 > len(used)
              else "inconclusive")
        sat = _mean([r.get("top_saturated_end") for r in used])
        low = _mean([r.get("top_near_low_end") for r in used])
        share = (f"{_pct(sat)} of its top layer's outputs were saturated at the end (slope below 5% of its "
                 f"maximum, at either end of the range; {_pct(low)} of all of them near the lower end)")
        both = ("" if sat is None or low is None else f" It does saturate, at both ends: {share}." if sat >= 0.05
                else f" It hardly saturates here: {share}.")
        out.append(Limit(a, f"{a}'s top layer is not pinned at its lower end the way sigmoid's is", st,
                         f"{a}: the top layer was pinned near its lower end (over half its outputs there) at the end "
                         f"of the run in {len(pinned)} of {len(used)} seeds ({total} steps).{both}"))
    return tuple(out)


def _onset_text(iv: Interval | None) -> str:
    if iv is None or iv.estimate is None:
        return "n/a"
    if iv.high is not None and not math.isfinite(iv.high):
        return "not pinned by the end in every seed"
    if iv.low is None or iv.high is None:
        return f"step {iv.estimate:.0f} ({iv.n} seed{'s' if iv.n != 1 else ''}, no interval)"
    return (f"step {max(0.0, iv.low):.0f} to {iv.high:.0f} (95% interval over seeds, from the probe before each "
            "seed's onset to its onset probe)")


def _ci_pct(iv: Interval) -> str:
    if iv.estimate is None:
        return "n/a"
    if iv.low is None or iv.high is None:
        return _pct(iv.estimate, 1)
    return f"{_pct(iv.estimate, 1)} ({_pct(iv.low, 1)}-{_pct(iv.high, 1)})"


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return sum(vals) / len(vals) if vals else None


def _meaning(status: str, where: str, scale: str, used: list, pinned: list, iv: Interval, n_lower: int,
             err: float | None, chance: float, ctrl_err: dict, notes: list, reason: str, top_end: float | None) -> str:
    s = ["Glorot & Bengio found that a deep sigmoid network pushes its last hidden layer to output almost exactly 0 "
         "at the very start of training and leaves it there, while the layers below stay near 0.5."]
    if not used:
        s.append(f"This {where} could not test that: {'; '.join(notes) or reason}.")
        s.append("A network that never learns anything says nothing about how saturation slows learning, so there is "
                 "no verdict; rerun with the default settings.")
        return " ".join(s)
    s.append(f"In this {where}, more than half of the top layer's outputs fell below {NEAR} and stayed there to the "
             f"end in {len(pinned)} of {len(used)} seeds"
             + (f", onset at {_onset_text(iv)}; its mean output ended at {top_end:.3f}" if pinned and top_end is not None
                else "") + f". A lower layer was pinned at the end in {n_lower} of {len(used)} seeds.")
    s.append("Near 0 the sigmoid is saturated: its slope, at most 0.25 at the middle, is almost 0 there, so almost no "
             "gradient flows back through that layer and the layers below hardly learn.")
    ctrl = ", ".join(f"{a} {_pct(e)}" for a, e in ctrl_err.items() if e is not None)
    stuck = [r for r in used if r.get("status") == "stuck at chance"]
    s.append(f"The sigmoid network's training error was {_pct(err)} (always guessing the most common digit gives "
             f"{_pct(chance)})" + (f", against {ctrl} for the same network with the other activations" if ctrl else "")
             + (f"; so in this run's steps the sigmoid network never left chance level ({len(stuck)} of {len(used)} "
                "seeds), while in Glorot & Bengio the top layer leaves 0 only slowly, around epoch 100 of their "
                f"Fig. 2, much later than this run, and their sigmoid network ends at {PAPER_TEST_ERROR['sigmoid']}% "
                "test error: this run shows the plateau, not the recovery." if stuck and len(stuck) * 2 > len(used)
                else "."))
    verdict_word = {"holds": "So the claim holds here.", "does_not_hold": f"So the claim does not hold here: {reason}.",
                    "inconclusive": f"This is not enough for a verdict: {reason}."}[status]
    s.append(verdict_word + (f" This was a {scale} run; `actlab run saturation` is the full-scale one (1000 units)."
                if scale != "full-scale" else ""))
    return " ".join(s)

