"""One claim's section: what it means, the claim, the verdict with its rule and the source's
number beside ours, the scale it ran at, what was run, figures, tables, environment."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from ..claims import CLAIMS
from .claims import callout_of, captions_of, plot_module, rerun_command, run_scale, tables_of
from .figures import render_figures
from .folder import ClaimResult
from .limits import limits_html, per_activation_tables
from .tables import render_metrics, render_tables
from .values import command_html, config_text, duration, esc, first_sentence, plural, user_text

__all__ = ["claim_section", "meaning_text", "badge", "anchor", "claim_number", "STATUS_LABEL", "STATUS_MARK",
           "STATUS_PLURAL", "count_label",
           "env_text", "key_number_text"]

STATUS_LABEL = {"holds": "holds", "does_not_hold": "does not hold", "inconclusive": "inconclusive"}
# A mark as well as a colour, so that the verdict reads in black and white too.
STATUS_MARK = {"holds": "\u2713", "does_not_hold": "\u2717", "inconclusive": "?"}
VERDICT_PHRASE = {"holds": "holds", "does_not_hold": "does not hold", "inconclusive": "is inconclusive"}


#: The verdict word after a count: "1 does not hold", "2 do not hold".
STATUS_PLURAL = {"holds": "hold", "does_not_hold": "do not hold", "inconclusive": "inconclusive"}


def count_label(status: str, n: int) -> str:
    """``n`` claims and their verdict word, in agreement: "1 holds", "2 hold", "2 do not hold"."""
    return f"{n} {STATUS_LABEL[status] if n == 1 else STATUS_PLURAL[status]}"


def badge(status: str) -> str:
    if status in STATUS_LABEL:
        return f'<span class="badge {status}">{STATUS_MARK[status]} {STATUS_LABEL[status]}</span>'
    label = {"missing": "not run", "unreadable": "unreadable", "failed": "failed"}.get(status, status)
    return f'<span class="badge {esc(status)}">{esc(label)}</span>'


def anchor(name: str) -> str:
    return "claim-" + re.sub(r"[^a-z0-9-]+", "-", name.lower())


def claim_number(name: str) -> str:
    return str(list(CLAIMS).index(name) + 1) if name in CLAIMS else ""


def meaning_text(result: Any, module: ModuleType | None) -> tuple[str, bool]:
    """(the "What this means" prose, whether it is the claim's own): the verdict's
    ``meaning``, else a plain fallback made of the claim and the evidence."""
    meaning = getattr(result.verdict, "meaning", "") or ""
    if meaning.strip():
        return user_text(meaning.strip()), True
    claim = first_sentence(getattr(module, "CLAIM", "") or "", None)
    lead = f"The claim: {claim.rstrip('.')}. " if claim else ""
    return (f"{lead}This run found that it {VERDICT_PHRASE.get(result.verdict.status, 'is unclear')}: "
            f"{user_text(result.verdict.evidence.strip())}"), False


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{esc(' '.join(p.split()))}</p>" for p in re.split(r"\n\s*\n", text) if p.strip())


def _rule_and_source(verdict: Any) -> str:
    out = []
    rule = getattr(verdict, "rule", None)
    if rule is not None:
        short = (f" With {plural(rule.seeds, 'seed')}, fewer than the {rule.min_seeds} a firm verdict needs, "
                 "it can only be inconclusive: rerun with more seeds (--seeds) to decide."
                 if isinstance(rule.seeds, int) and isinstance(rule.min_seeds, int) and rule.seeds < rule.min_seeds
                 else "")
        out.append(f'<p class="rule"><strong>How it is decided.</strong> {esc(user_text(rule.text))}{esc(short)}</p>')
    source = getattr(verdict, "source", None)
    if source is not None:
        rows = [("The source", source.citation, source.value), ("This run", "actlab, this folder", source.ours)]
        body = "".join(f'<tr><th scope="row">{esc(who)}</th><td>{esc(user_text(cite))}</td>'
                       f'<td class="val">{esc(user_text(val))}</td></tr>' for who, cite, val in rows)
        out.append('<table class="source-vs-ours"><caption>The source\'s number beside ours</caption>'
                   '<thead><tr><th scope="col">Who</th><th scope="col">Where</th><th scope="col">Number</th></tr>'
                   f'</thead><tbody>{body}</tbody></table>')
        if source.differences.strip():
            out.append(f'<p class="differences"><strong>How our setup differs.</strong> '
                       f'{esc(user_text(source.differences))}</p>')
    return "\n".join(out)


def _scale_block(module: ModuleType | None, name: str, config: Mapping[str, Any], elapsed: Any) -> str:
    scale = run_scale(module, name, config)
    what = {"quick": "a <strong>quick</strong> run (the <code>--quick</code> sizes): small enough to finish in "
                     "minutes on a laptop CPU while still showing the effect, not the paper's scale",
            "full": "a <strong>full-scale</strong> run (the claim's default, paper-scale sizes)",
            "custom": "a run at <strong>custom sizes</strong> (neither the <code>--quick</code> sizes nor the "
                      "full-scale defaults)",
            "unknown": "a run whose scale cannot be told here (the claim's module is not available)"}[scale.kind]
    out = [f'<div class="scale {scale.kind}" data-scale="{scale.kind}"><p><strong>Scale.</strong> '
           f'This is {what}; it ran in {esc(duration(elapsed))}.</p>']
    differ = scale.differences
    if differ:
        rows = "".join(f'<tr><th scope="row"><code>{esc(k)}</code></th><td class="num">{esc(config_text(v))}</td>'
                       f'<td class="num">{esc(config_text(full))}</td></tr>' for k, v, full in differ)
        out.append('<table class="metric sizes"><caption>Sizes: this run against full scale</caption>'
                   '<thead><tr><th scope="col" class="l">setting</th><th scope="col" class="r">this run</th>'
                   f'<th scope="col" class="r">full scale</th></tr></thead><tbody>{rows}</tbody></table>')
    if scale.kind != "full":
        out.append(f'<p class="cmd-label">At full scale (slower; the numbers to quote):</p>'
                   f'<pre class="cmd full"><code>{command_html(scale.full_command)}</code></pre>')
    out.append("</div>")
    return "\n".join(out)


def env_text(env: Any, version: str) -> list[str]:
    """The environment as short phrases: versions, device, threads."""
    parts = [f"actlab {version}"]
    if isinstance(env, Mapping):
        env = dict(env)
        for key, label in (("torch", "torch "), ("python", "Python "), ("cuda", "CUDA ")):
            if key in env:
                parts.append(f"{label}{env.pop(key)}")
        for key in ("device", "gpu"):
            if key in env:
                parts.append(str(env.pop(key)))
        if "threads" in env:
            parts.append(plural(env.pop("threads"), "thread"))
        if "cpu_count" in env:
            parts.append(plural(env.pop("cpu_count"), "CPU"))
        if "commit" in env:
            dirty = env.pop("commit_dirty", None)
            parts.append(f"commit {str(env.pop('commit'))[:12]}" + (" with local changes" if dirty else ""))
        parts += [f"{k} {config_text(v)}" for k, v in env.items()]
    return parts


def claim_section(claim: ClaimResult, module: ModuleType | None, module_note: str | None) -> str:
    """The section of one readable claim result."""
    r = claim.result
    name, number = claim.name, claim_number(claim.name)
    plots = plot_module(name)
    text = getattr(module, "CLAIM", None)
    source = getattr(module, "SOURCE", None)
    config = r.config if isinstance(r.config, Mapping) else {}
    command, notes = rerun_command(module, name, config)
    meaning, own = meaning_text(r, module)
    callout = callout_of(plots, r) if name == "sign-coherence" else None
    figures, bad_figures = render_figures(claim.figures, name, number, captions_of(plots, r), callout)
    out = [f'<section class="claim" id="{anchor(name)}">',
           '<div class="claim-head">'
           f'<h2>{f"<span class=num>{number}</span>" if number else ""}{esc(name)}</h2>'
           f'{badge(r.verdict.status)}</div>']
    if str(r.experiment) != name:
        out.append(f'<p class="warn">This folder holds a result of <code>{esc(str(r.experiment))}</code>.</p>')
    out.append(f'<div class="meaning{"" if own else " fallback"}"><h3>What this means</h3>{_paragraphs(meaning)}</div>')
    if text:
        out.append(f'<blockquote class="claim-text"><p>{esc(user_text(text))}</p>'
                   f'{f"<footer>{esc(user_text(source))}</footer>" if source else ""}</blockquote>')
    elif module_note:
        out.append(f'<p class="dim">The claim text is not available: {esc(module_note)}.</p>')
    key = getattr(r.verdict, "key_number", None)
    key_html = (f'<p class="key-number"><span class="kn">{esc(key.text)}</span> {esc(key.label)}</p>'
                if key is not None and key.text else "")
    out.append(f'<div class="verdict {r.verdict.status}">{key_html}<p><strong>Verdict: the claim '
               f'{VERDICT_PHRASE[r.verdict.status]} here.</strong> {esc(user_text(r.verdict.evidence))}</p>'
               f'{_rule_and_source(r.verdict)}</div>')
    out.append(limits_html(r.verdict))
    out.append(_scale_block(module, name, config, r.elapsed_s))
    out.append("<h3>What was run</h3>")
    out.append(f'<p class="cmd-label">Rerun exactly this:</p><pre class="cmd rerun"><code>{command_html(command)}</code></pre>')
    out += [f'<p class="note">{esc(n)}.</p>' for n in notes]
    if config:
        items = "".join(f'<div><dt>{esc(str(k))}</dt><dd>{esc(config_text(v)).replace(",", ",<wbr>")}</dd></div>'
                        for k, v in config.items())
        out.append(f'<details class="config-fold"><summary>Every setting of this run ({len(config)})</summary>'
                   f'<dl class="config">{items}</dl></details>')
    out.append("<h3>Figures</h3>")
    if figures:
        out.append(figures)
    else:
        out.append('<p class="dim">No figures in this folder (run without <code>--no-plots</code> to draw them).</p>')
    if bad_figures:
        out.append('<p class="warn">Not shown: ' + "; ".join(esc(b) for b in bad_figures) + ".</p>")
    tables = [*(tables_of(plots, r) or []), *per_activation_tables(r)]
    out.append("<h3>Numbers</h3>")
    if tables:
        out.append(render_tables(tables))
        out.append('<details class="all-metrics"><summary>Every recorded metric, as stored in result.json</summary>'
                   f'{render_metrics(r.metrics)}</details>')
    else:
        out.append(render_metrics(r.metrics))
    parts = env_text(r.env, r.actlab_version)
    out.append(f'<p class="env">Ran in <strong>{esc(duration(r.elapsed_s))}</strong> \u00b7 '
               + " \u00b7 ".join(esc(p) for p in parts) + "</p>")
    out.append('<p class="toplink"><a href="#summary">\u2191 back to the summary</a></p></section>')
    return "\n".join(out)


def key_number_text(result: Any) -> str | None:
    """"46.6% dead units at lr 1" style: the key number's text and label, or None."""
    key = getattr(result.verdict, "key_number", None)
    if key is None or not key.text:
        return None
    return f"{key.text} {key.label}".strip()

