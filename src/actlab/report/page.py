"""The page shell: one self-contained HTML document from a results folder.

Figures are embedded as base64 ``data:`` URIs and the CSS is inline, so the page needs
no network (its Content-Security-Policy forbids any) and no JavaScript to read. One
small inline script only records, on ``<body>``, whether every image decoded
(``data-images-ok``); the browser test reads it.

The pieces: :mod:`.summary` (tally, summary table, missing claims, monitor),
:mod:`.section` (one claim), :mod:`.figures`, :mod:`.tables`, :mod:`.claims` (what the
report asks of a claim's code), :mod:`.values` (formatting).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping

from .._version import __version__
from ..claims import CLAIMS
from .claims import claim_module, run_scale
from .folder import ResultsFolder
from .scorecard import SCORECARD_CSS, scorecard_section
from .section import claim_section
from .summary import (
    missing_block,
    monitor_note,
    monitor_section,
    runs_section,
    summary_table,
    tally,
)
from .values import esc, plural, unique

__all__ = ["render_html", "page", "problems", "CSS", "SCRIPT"]


def _common_env(folder: ResultsFolder) -> str:
    envs = [c.result.env for c in folder.results if isinstance(c.result.env, Mapping)]
    parts = []
    for key in ("torch", "device", "threads"):
        values = unique([str(e.get(key)) for e in envs if key in e])
        if len(values) == 1:
            parts.append(plural(values[0], "thread") if key == "threads" else f"{key} {values[0]}")
    return " \u00b7 ".join(parts)


def _scale_line(folder: ResultsFolder, modules) -> str:
    kinds = [run_scale(modules[c.name][0], c.name, c.result.config if isinstance(c.result.config, Mapping) else {}).kind
             for c in folder.results]
    if not kinds:
        return ""
    if all(k == "quick" for k in kinds):
        text = ("Every result here is a <strong>quick</strong> run (<code>--quick</code>): small sizes that show each "
                "effect in minutes on a CPU. The numbers to quote come from full-scale runs; each section gives "
                "the command.")
    elif all(k == "full" for k in kinds):
        text = "Every result here ran at <strong>full (paper) scale</strong>."
    else:
        counts = {k: kinds.count(k) for k in ("quick", "full", "custom", "unknown") if k in kinds}
        text = "Scales in this folder: " + ", ".join(f"{n} {k}" for k, n in counts.items()) + \
               ". Each section says at what size it ran and gives the full-scale command."
    return f'<p class="scale-line">{text}</p>'


def render_html(folder: ResultsFolder, generated: _dt.datetime | None = None) -> str:
    """The whole report as one HTML document (a string)."""
    generated = generated or _dt.datetime.now().astimezone()
    names = unique([*CLAIMS, *(c.name for c in folder.results)])
    modules = {n: claim_module(n) for n in names}
    present = [c for c in folder.results if c.name in CLAIMS]
    quick = bool(present) and 2 * sum(
        run_scale(modules[c.name][0], c.name, c.result.config).kind == "quick"
        for c in present if isinstance(c.result.config, Mapping)) >= len(present)
    sections = [claim_section(c, *modules[c.name]) for c in folder.results]
    sections.append(runs_section(folder))
    if folder.monitor is not None:
        sections.append(monitor_section(folder.monitor))
    env = _common_env(folder)
    meta = [f"Results folder <code>{esc(str(folder.root))}</code>",
            f"generated {esc(generated.strftime('%Y-%m-%d %H:%M %Z').strip())}",
            f"actlab {esc(__version__)}"] + ([esc(env)] if env else [])
    meta_line = " \u00b7 ".join(meta)
    body = f"""<main>
<header class="top" id="summary">
<h1>actlab report</h1>
<p class="lede">Textbook claims about activation functions, measured. Each section starts with what the result
means in plain words, quotes the claim as the course material states it, shows what was run and what came out,
and says whether the claim holds here.</p>
{HOW_TO_READ}
<p class="meta">{meta_line}</p>
{_scale_line(folder, modules)}
{tally(folder)}
</header>
{scorecard_section(folder.root)}
<section class="summary-section">
<h2 class="visually-plain">Summary</h2>
{summary_table(folder, modules, quick)}
{missing_block(folder, modules, quick)}
{"".join(f'<p class="warn">{esc(line)}</p>' for line in folder.notes)}
{monitor_note(folder.monitor)}
</section>
{"".join(sections)}
<footer class="page-foot">Made by <code>actlab report</code> from the <code>result.json</code> files and figures in
<code>{esc(str(folder.root))}</code>. Everything is in this one file: it reads offline and prints.</footer>
</main>"""
    return page(f"actlab report: {folder.root.resolve().name or str(folder.root)}", body)


#: one line near the top: the marks and brackets every section uses
HOW_TO_READ = ('<p class="how-to-read"><strong>How to read this page.</strong> '
               '\u2713 holds / \u2717 does not hold / ? inconclusive: the verdict on the claim as the course states it, '
               'under the conditions its section names. A <em>limit</em> ("limit found", "limit not found", "limit not '
               'settled") is a separate measured finding about where the claim stops, never a verdict on the course. '
               'A number with a range in brackets, "0.63 (0.36\u20131.11)", is an estimate with its 95% interval: the '
               'range that would catch the true value in 95 of 100 repeats of the run; two overlapping ranges mean no '
               'clear difference. \u2605 marks a clear best in a table column (its interval clear of every other\'s); '
               'no \u2605 means no clear best.</p>')


def page(title: str, body: str) -> str:
    """A whole HTML document around ``body``: inline CSS, the image-check script, a strict CSP."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="generator" content="actlab {esc(__version__)}">
<title>{esc(title)}</title>
<style>{CSS}{SCORECARD_CSS}</style>
<script>{SCRIPT}</script>
</head>
<body>
{body}
</body>
</html>
"""


def problems(folder: ResultsFolder) -> list[str]:
    """One line per thing the report shows as unreadable (for the command to print)."""
    lines = [u.reason for u in folder.unreadable]
    if folder.monitor is not None and folder.monitor.error:
        lines.append(folder.monitor.error)
    return lines


# Only records, on <body>, whether every image decoded and whether any script error
# happened; the page reads the same without it.
SCRIPT = """
(function () {
  var errors = 0;
  function mark() {
    var b = document.body; if (!b) return;
    var imgs = document.images, broken = 0;
    for (var i = 0; i < imgs.length; i++) { if (!imgs[i].complete || imgs[i].naturalWidth === 0) broken++; }
    b.setAttribute("data-images", String(imgs.length));
    b.setAttribute("data-images-broken", String(broken));
    b.setAttribute("data-images-ok", broken === 0 ? "true" : "false");
    b.setAttribute("data-script-errors", String(errors));
  }
  // script errors only: a broken image's error event does not bubble to window
  window.addEventListener("error", function () { errors++; mark(); });
  window.addEventListener("load", mark);
})();
"""

CSS = """
:root {
  --fg: #1f2328; --muted: #59636e; --faint: #818b98; --line: #d1d9e0; --soft: #f6f8fa; --link: #0a5bc4;
  --holds: #116329; --holds-bg: #dafbe1; --holds-line: #4ac26b;
  --no: #a40e26; --no-bg: #ffebe9; --no-line: #ff8182;
  --inc: #7d4e00; --inc-bg: #fff8c5; --inc-line: #d4a72c;
  --na: #59636e; --na-bg: #eff2f5; --na-line: #c8d1da;
  --mono: "DejaVu Sans Mono", ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--fg); background: #fff;
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Liberation Sans", Arial, sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 2.5rem 1.5rem 4rem; }
a { color: var(--link); text-decoration: none; }
a:hover { text-decoration: underline; }
code, pre, .list, .file { font-family: var(--mono); font-size: 0.86em; }
h1 { font-size: 2rem; line-height: 1.2; margin: 0 0 .4rem; letter-spacing: -0.01em; }
h2 { font-size: 1.45rem; line-height: 1.25; margin: 0; }
h3 { font-size: 1.05rem; margin: 2rem 0 .6rem; padding-bottom: .25rem; border-bottom: 1px solid var(--line); }
h4.metric-name { font-size: .9rem; font-weight: 600; margin: 1.1rem 0 .35rem; }
.how-to-read { font-size: .88rem; max-width: 60rem; margin: 0 0 .6rem; padding: .4rem .6rem; background: var(--soft); border-left: 3px solid var(--line); }
.lede { font-size: 1.05rem; color: var(--muted); max-width: 52rem; margin: 0 0 .6rem; }
.meta { color: var(--muted); font-size: .85rem; margin: 0 0 .8rem; }
.dim { color: var(--muted); }
.small { font-size: .8rem; }
.tally { display: flex; flex-wrap: wrap; gap: .5rem; margin: 0 0 1.5rem; }
.tally .t { font-size: .85rem; font-weight: 600; padding: .2rem .7rem; border-radius: 999px; border: 1px solid; }
.visually-plain { font-size: 1.1rem; margin: 0 0 .6rem; }

/* verdict badges: colour, a mark and a word, so they read in print and in black and white */
.badge { display: inline-block; white-space: nowrap; font-size: .8rem; font-weight: 700; line-height: 1.3;
  padding: .2rem .6rem; border-radius: 999px; border: 1px solid; }
.badge.holds, .t.holds { color: var(--holds); background: var(--holds-bg); border-color: var(--holds-line); }
.badge.does_not_hold, .t.does_not_hold { color: var(--no); background: var(--no-bg); border-color: var(--no-line); }
.badge.inconclusive, .t.inconclusive { color: var(--inc); background: var(--inc-bg); border-color: var(--inc-line); }
.badge.missing, .t.missing { color: var(--na); background: var(--na-bg); border-color: var(--na-line); font-weight: 600; }
.badge.failed, .t.failed { color: #fff; background: var(--no); border-color: var(--no); font-weight: 600; }
.badge.unreadable, .t.unreadable { color: var(--no); background: #fff; border-color: var(--no); border-style: dashed; }

/* summary table */
table { border-collapse: collapse; }
table.summary { width: 100%; font-size: .9rem; border: 1px solid var(--line); border-radius: 8px; }
table.summary th { text-align: left; font-size: .75rem; text-transform: uppercase; letter-spacing: .04em;
  color: var(--muted); background: var(--soft); padding: .55rem .7rem; border-bottom: 1px solid var(--line); }
table.summary td { padding: .7rem; vertical-align: top; border-bottom: 1px solid var(--line); }
table.summary tr:last-child td { border-bottom: 0; }
table.summary td.n, table.summary th.n { width: 2rem; color: var(--faint); text-align: right; padding-right: .2rem; }
table.summary .claim-cell { width: 25%; }
table.summary .name { display: block; font-weight: 700; font-size: 1rem; }
table.summary .gist { display: block; color: var(--muted); font-size: .82rem; line-height: 1.4; margin-top: .15rem; }
table.summary td.src { width: 17%; color: var(--muted); font-size: .82rem; line-height: 1.4; }
table.summary td.v { width: 9.5rem; }
table.summary td.key { line-height: 1.45; }
table.summary tr.missing td, table.summary tr.unreadable td, table.summary tr.failed td { background: #fbfcfd; }
table.summary tr.missing .name, table.summary tr.unreadable .name { color: var(--muted); }
table.summary td code { font-size: .8rem; background: var(--soft); padding: .05rem .3rem; border-radius: 4px; }
.missing-list { margin: 1rem 0 0; padding: .8rem 1rem; background: var(--soft); border-radius: 8px; font-size: .9rem; }
.monitor-note { margin: .8rem 0 0; font-size: .9rem; }
.missing-list h3 { margin: 0 0 .3rem; border: 0; padding: 0; font-size: .95rem; }
.missing-list p { margin: 0 0 .4rem; color: var(--muted); }
.missing-list ul { margin: 0; padding-left: 1.2rem; }
.missing-list code { font-size: .82rem; }
.arg, .nb { white-space: nowrap; }

/* claim sections */
section.claim { margin-top: 3.5rem; padding-top: 1.8rem; border-top: 3px solid var(--fg); }
.claim-head { display: flex; align-items: center; justify-content: space-between; gap: 1rem; flex-wrap: wrap; }
.claim-head .badge { font-size: .9rem; padding: .3rem .8rem; }
h2 .num { display: inline-block; min-width: 2.1rem; height: 2.1rem; line-height: 2.1rem; margin-right: .6rem;
  text-align: center; border-radius: 50%; background: var(--fg); color: #fff; font-size: 1.05rem; vertical-align: 2px; }
blockquote.claim-text { margin: 1.2rem 0; padding: .2rem 0 .2rem 1.1rem; border-left: 4px solid var(--line);
  font-size: 1.07rem; }
blockquote.claim-text p { margin: 0 0 .4rem; }
blockquote.claim-text footer { color: var(--muted); font-size: .85rem; }
blockquote.claim-text footer::before { content: "\\2014\\00a0"; }
.verdict { margin: 1.2rem 0; padding: .8rem 1rem; border-radius: 8px; border: 1px solid; border-left-width: 6px; }
.verdict p { margin: 0; }
.verdict.holds { background: var(--holds-bg); border-color: var(--holds-line); }
.verdict.does_not_hold { background: var(--no-bg); border-color: var(--no-line); }
.verdict.inconclusive { background: var(--inc-bg); border-color: var(--inc-line); }
.cmd-label { margin: .4rem 0 .2rem; font-size: .85rem; color: var(--muted); }
pre { margin: 0 0 .6rem; padding: .6rem .8rem; background: var(--soft); border: 1px solid var(--line);
  border-radius: 6px; white-space: pre-wrap; word-break: break-word; }
pre.json { max-height: 28rem; overflow: auto; font-size: .78rem; }
.note, .warn { font-size: .85rem; margin: .3rem 0; }
.note { color: var(--muted); }
.warn { color: var(--no); }
dl.config { display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: 0 1.2rem;
  margin: .8rem 0 0; font-size: .85rem; }
dl.config div { display: flex; justify-content: space-between; gap: .8rem; padding: .22rem 0;
  border-bottom: 1px dotted var(--line); }
dl.config dt { color: var(--muted); }
dl.config dd { margin: 0; font-family: var(--mono); font-size: .8rem; text-align: right; word-break: break-word; }

figure { margin: 1.4rem 0; break-inside: avoid; page-break-inside: avoid; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; border: 1px solid var(--line);
  border-radius: 6px; background: #fff; }
figcaption { margin-top: .45rem; font-size: .86rem; color: var(--muted); text-align: center; }
figcaption { text-align: left; max-width: 52rem; margin-left: auto; margin-right: auto; color: var(--fg); }

/* what this means, the key number, the rule and the source, the scale */
.meaning { margin: 1.2rem 0 1rem; padding: .9rem 1.1rem; background: #f3f7ff; border-left: 5px solid var(--link);
  border-radius: 6px; font-size: 1.04rem; }
.meaning h3 { margin: 0 0 .35rem; padding: 0; border: 0; font-size: 1rem; text-transform: uppercase;
  letter-spacing: .04em; color: var(--link); }
.meaning p { margin: 0 0 .5rem; max-width: 52rem; }
.meaning p:last-child { margin-bottom: 0; }
.meaning.fallback { background: var(--soft); border-left-color: var(--faint); }
.key-number { margin: 0 0 .45rem !important; }
.kn { font-weight: 700; font-size: 1.15em; font-variant-numeric: tabular-nums; }
.kl { color: var(--fg); }
.limits { display: block; margin-top: .3em; }
/* a limit is a finding about where the claim stops: one neutral style whatever its word */
.limits .limit { display: block; font-size: .9em; padding-left: .6em; border-left: 3px solid #d0d7de; color: var(--muted); }
.limit-word { font-weight: 700; font-style: italic; color: var(--muted); }
.limits-block ul { padding-left: 1.2em; } .limits-block li { margin: .4em 0; }
.verdict .rule, .verdict .differences { margin-top: .55rem; font-size: .9rem; }
table.source-vs-ours { margin: .6rem 0 0; font-size: .88rem; background: rgba(255,255,255,.65); }
table.source-vs-ours caption { text-align: left; font-weight: 600; padding-bottom: .2rem; }
table.source-vs-ours th, table.source-vs-ours td { padding: .3rem .6rem; border-bottom: 1px solid var(--line);
  text-align: left; vertical-align: top; }
table.source-vs-ours thead th { font-size: .75rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
table.source-vs-ours td.val { font-weight: 600; }
.scale { margin: 1rem 0; padding: .6rem .9rem; border: 1px dashed var(--line); border-radius: 8px; font-size: .92rem; }
.scale p { margin: 0 0 .4rem; }
.scale.quick { border-color: var(--inc-line); }
table.sizes caption { text-align: left; font-size: .8rem; color: var(--muted); padding-bottom: .15rem; }
.scale-line { font-size: .92rem; max-width: 52rem; margin: 0 0 .8rem; padding: .5rem .8rem; background: var(--inc-bg);
  border-radius: 6px; }
.scale-tag { display: block; margin-top: .35rem; font-size: .72rem; color: var(--muted); white-space: nowrap; }
.scale-tag.quick::before { content: "\\25F7\\00a0"; }

/* the call-out beside its figure */
.with-callout { display: flex; gap: 1.2rem; align-items: flex-start; flex-wrap: wrap; margin: 1.4rem 0; }
.with-callout figure { flex: 3 1 28rem; margin: 0; }
aside.callout { flex: 1 1 16rem; padding: .9rem 1rem; background: #fff8e6; border: 1px solid var(--inc-line);
  border-left: 5px solid var(--inc-line); border-radius: 8px; font-size: .93rem; }
aside.callout h4 { margin: 0 0 .4rem; font-size: 1rem; }
aside.callout p { margin: 0 0 .5rem; }
details.config-fold, details.all-metrics { margin: .6rem 0; }
details.config-fold > summary, details.all-metrics > summary { cursor: pointer; font-size: .88rem; color: var(--muted); }
table.metric caption { text-align: left; font-weight: 600; font-size: .88rem; padding: .2rem 0 .3rem; }
table.metric caption.axes { font-weight: 400; font-size: .78rem; color: var(--muted); padding: 0 0 .15rem; }
.table-note { font-size: .8rem; color: var(--muted); margin: 0 0 .6rem; max-width: 40rem; }
.not-measured { font-size: .85rem; color: var(--muted); flex: 1 1 100%; margin: .3rem 0; }

/* metric tables, in a grid of cards: small tables side by side, big ones folded */
.metrics { display: flex; flex-wrap: wrap; gap: .2rem 2.75rem; align-items: flex-start; }
.metric-card { flex: 0 1 auto; max-width: 100%; overflow-x: auto; }
.metrics > details { flex: 1 1 100%; }
table.metric { font-size: .84rem; margin: .2rem 0 .6rem; }
table.metric th, table.metric td { padding: .26rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
table.metric th:first-child, table.metric td:first-child { padding-left: 0; }
table.metric thead th { font-weight: 600; color: var(--muted); border-bottom: 2px solid var(--line); }
table.metric thead th.r { text-align: right; }
table.metric thead th.l { text-align: left; }
table.metric tbody th { text-align: left; font-weight: 600; white-space: nowrap; }
table.metric td.num { text-align: right; font-variant-numeric: tabular-nums; font-family: var(--mono); font-size: .8rem;
  white-space: nowrap; }
table.metric td.lst .list { font-size: .78rem; }
table.metric.kv tbody th { font-family: var(--mono); font-size: .8rem; font-weight: 400; white-space: normal;
  word-break: break-word; }
table.metric.rows td .list { display: block; line-height: 1.5; }
.none { color: var(--faint); }
details.metric-fold { margin: .4rem 0; border: 1px solid var(--line); border-radius: 6px; padding: .35rem .8rem; }
details.metric-fold > summary { cursor: pointer; font-size: .88rem; }
details.metric-fold > summary code { font-weight: 600; }
details.metric-fold[open] > summary { margin-bottom: .4rem; }
.longlist { font-size: .8rem; line-height: 1.6; }
p.env { margin: 2rem 0 0; font-size: .8rem; color: var(--muted); }
.toplink { margin: .4rem 0 0; font-size: .8rem; }

table.findings { width: 100%; font-size: .86rem; margin-top: .8rem; }
table.findings th { text-align: left; color: var(--muted); font-size: .75rem; text-transform: uppercase;
  letter-spacing: .04em; border-bottom: 2px solid var(--line); padding: .4rem .6rem; }
table.findings td { padding: .5rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
.sev { font-size: .75rem; font-weight: 700; padding: .1rem .5rem; border-radius: 999px; border: 1px solid; }
.sev.critical { color: var(--no); background: var(--no-bg); border-color: var(--no-line); }
.sev.warning { color: var(--inc); background: var(--inc-bg); border-color: var(--inc-line); }
.sev.info { color: var(--na); background: var(--na-bg); border-color: var(--na-line); }
.suggest { color: var(--muted); margin-top: .25rem; }
.suggest::before { content: "Try: "; font-weight: 600; }
.page-foot { margin-top: 4rem; padding-top: 1rem; border-top: 1px solid var(--line); font-size: .8rem; color: var(--muted); }

@media screen and (max-width: 760px) {
  main { padding: 1.2rem .8rem 3rem; }
  table.summary td.src, table.summary th:nth-child(3) { display: none; }
}
@page { size: A4; margin: 14mm 12mm; }
@media print {
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  html { font-size: 11.5px; }  /* every rem below scales with it */
  body { font-size: 1rem; line-height: 1.45; }
  main { max-width: none; padding: 0; }
  a { color: inherit; }
  .toplink { display: none; }
  /* the header and the whole summary fit on the first page */
  h1 { font-size: 1.8rem; }
  .lede { font-size: 1rem; margin-bottom: .3rem; }
  .meta, .tally { margin-bottom: .5rem; }
  table.summary { font-size: .9rem; }
  table.summary td { padding: .35rem .45rem; }
  table.summary th { padding: .3rem .45rem; }
  .missing-list { padding: .5rem .7rem; margin-top: .6rem; }
  table.summary tr { break-inside: avoid; page-break-inside: avoid; }
  section.claim { break-before: page; page-break-before: always; margin-top: 0; padding-top: .5rem; }
  h2, h3, h4, .claim-head { break-after: avoid; page-break-after: avoid; }
  details.config-fold, details.all-metrics { display: none; }
  figure, .verdict, blockquote, table.metric, dl.config, pre.cmd, .meaning, aside.callout { break-inside: avoid; page-break-inside: avoid; }
  figure img { max-height: 22cm; width: auto; }
  details.metric-fold > summary::after { content: " (open in a browser to see)"; color: var(--faint); }
}
"""
