"""The top of the page: the tally of verdicts, the summary table (claim, source, verdict,
key number), what is missing or unreadable, and the monitor's findings."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from types import ModuleType

from ..claims import CLAIMS
from .claims import headline, run_scale
from .folder import MonitorLog, ResultsFolder
from .limits import limits_inline_html
from .section import STATUS_LABEL, anchor, badge, claim_number, count_label
from .values import (
    DASH,
    command_html,
    duration,
    esc,
    first_sentence,
    number_text,
    short_source,
    unique,
    user_text,
)

__all__ = ["NO_KEY_NUMBER", "summary_table", "tally", "missing_block", "monitor_section", "monitor_note", "key_cell_text",
           "runs_section"]

Modules = Mapping[str, tuple[ModuleType | None, str | None]]


#: What the compact outputs (Markdown, summary picture) say for a result without a key number.
NO_KEY_NUMBER = "no key number in this result (made by an older actlab): see its evidence in the report"


def key_cell_text(result, module: ModuleType | None, compact: bool = False) -> tuple[str, str]:
    """(number, what it is) for the summary's key-number column: the verdict's key number;
    for older results the claim's ``headline``, else the evidence's first sentence, whole
    (or, when ``compact``, a note that there is no key number: never prose cut short)."""
    key = getattr(result.verdict, "key_number", None)
    if key is not None and key.text:
        return key.text, key.label
    own = headline(module, result.metrics)
    if own or not compact:
        return "", user_text(own or first_sentence(result.verdict.evidence, None))
    return "", NO_KEY_NUMBER


def summary_table(folder: ResultsFolder, modules: Modules, quick: bool) -> str:
    rows = []
    by_name = {c.name: c for c in folder.results}
    bad = {u.name: u for u in folder.unreadable}
    failed = {f.name: f for f in folder.failed}
    names = unique([*CLAIMS, *by_name, *bad, *failed])
    for name in names:
        module, _ = modules.get(name, (None, None))
        gist = first_sentence(getattr(module, "CLAIM", "") or "")
        source = short_source(user_text(getattr(module, "SOURCE", "") or ""))
        number = claim_number(name)
        if name in by_name:
            r = by_name[name].result
            value, label = key_cell_text(r, module, compact=True)
            link = f'<a href="#{anchor(name)}">{esc(name)}</a>'
            scale = run_scale(module, name, r.config if isinstance(r.config, Mapping) else {})
            verdict = badge(r.verdict.status) + f'<span class="scale-tag {scale.kind}">{esc(scale.label)}</span>'
            key_html = ((f'<span class="kn">{esc(value)}</span> ' if value else "") + f'<span class="kl">{esc(label)}</span>'
                        + limits_inline_html(r.verdict))
            cls = r.verdict.status
        elif name in failed:
            link, verdict, cls = esc(name), badge("failed"), "failed"
            key_html = (f'The run failed: {esc(failed[name].error)} Rerun: '
                        f'<code>{command_html(failed[name].command)}</code>')
        elif name in bad:
            link, verdict, cls = esc(name), badge("unreadable"), "unreadable"
            key_html = f'result.json is unreadable: {esc(bad[name].reason)}'
        else:
            link, verdict, cls = esc(name), badge("missing"), "missing"
            key_html = f'Not in this folder. Run <code>{command_html(folder.run_command(name, quick))}</code>'
        rows.append(
            f'<tr class="{cls}"><td class="n">{number}</td>'
            f'<td class="claim-cell"><span class="name">{link}</span>'
            f'{f"<span class=gist>{esc(gist)}</span>" if gist else ""}</td>'
            f'<td class="src">{esc(source)}</td><td class="v">{verdict}</td><td class="key">{key_html}</td></tr>')
    return ('<table class="summary"><thead><tr><th class="n">#</th><th>Claim</th><th>Source</th>'
            '<th>Verdict</th><th>Key number</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>")


def tally(folder: ResultsFolder) -> str:
    counts = {s: 0 for s in STATUS_LABEL}
    for c in folder.results:
        counts[c.result.verdict.status] += 1
    parts = [f'<span class="t {s}">{count_label(s, counts[s])}</span>' for s in STATUS_LABEL]
    if folder.failed:
        parts.append(f'<span class="t failed">{len(folder.failed)} failed</span>')
    if folder.missing:
        parts.append(f'<span class="t missing">{len(folder.missing)} not run</span>')
    if folder.unreadable:
        parts.append(f'<span class="t unreadable">{len(folder.unreadable)} unreadable</span>')
    return '<p class="tally">' + "".join(parts) + "</p>"


def missing_block(folder: ResultsFolder, modules: Modules, quick: bool) -> str:
    items = []
    for name in folder.missing:
        module, note = modules.get(name, (None, None))
        extra = f" <span class=\"dim\">({esc(note)})</span>" if module is None and note else ""
        items.append(f"<li><strong>{esc(name)}</strong>: <code>{command_html(folder.run_command(name, quick))}</code>{extra}</li>")
    for f in folder.failed:
        items.append(f'<li><strong>{esc(f.name)}</strong>: the run failed: {esc(f.error)} '
                     f'Rerun: <code>{command_html(f.command)}</code></li>')
    for u in folder.unreadable:
        items.append(f'<li><strong>{esc(u.name)}</strong>: unreadable, {esc(u.reason)}. '
                     f'Rerun: <code>{command_html(folder.run_command(u.name, quick))}</code></li>')
    if not items:
        return ""
    head = "Not in this report" if folder.missing or folder.failed else "Unreadable results"
    return (f'<div class="missing-list"><h3>{head}</h3><p>These claims have no readable result in '
            f'<code>{esc(str(folder.root))}</code>; each command below produces one, then run '
            f'<code>{command_html("actlab report " + shlex.quote(str(folder.root)))}</code> again.</p>'
            f'<ul>{"".join(items)}</ul></div>')


def monitor_section(log: MonitorLog) -> str:
    out = ['<section class="claim monitor" id="monitor"><div class="claim-head"><h2>Monitor findings</h2></div>',
           f'<p class="dim">From <code>{esc(str(log.path))}</code>'
           f'{f", {log.steps} sampled steps" if log.steps is not None else ""}'
           f'{f" (a large log: every {log.sampled}th step diagnosed)" if log.sampled else ""}.</p>']
    if log.findings is None:
        out.append(f'<p class="warn">The monitor log could not be read: {esc(log.error or "unknown error")}.</p>')
    elif not log.findings:
        out.append("<p>No findings: no statistic crossed its threshold.</p>")
    else:
        rows = []
        for f in log.findings:
            sev = str(f.get("severity", "info"))
            rows.append(f'<tr><td><span class="sev {esc(sev)}">{esc(sev)}</span></td>'
                        f'<td><code>{esc(str(f.get("layer", "")))}</code></td>'
                        f'<td>{esc(str(f.get("evidence", "")))}'
                        f'<div class="suggest">{esc(str(f.get("suggestion", "")))}</div></td>'
                        f'<td class="dim small">{esc(str(f.get("source", "")))}</td></tr>')
        out.append('<table class="findings"><thead><tr><th>Severity</th><th>Layer</th>'
                   '<th>Evidence and suggestion</th><th>Threshold source</th></tr></thead><tbody>'
                   + "".join(rows) + "</tbody></table>")
    out.append("</section>")
    return "\n".join(out)


def monitor_note(log: MonitorLog | None) -> str:
    if log is None:
        return ""
    if log.findings is None:
        what = "unreadable"
    elif not log.findings:
        what = "no findings"
    else:
        counts: dict[str, int] = {}
        for f in log.findings:
            counts[str(f.get("severity", "info"))] = counts.get(str(f.get("severity", "info")), 0) + 1
        what = f"{len(log.findings)} finding(s): " + ", ".join(f"{n} {sev}" for sev, n in counts.items())
    return f'<p class="monitor-note">Monitor log: <a href="#monitor">{esc(what)}</a></p>'


def runs_section(folder: ResultsFolder) -> str:
    """When the folder holds more results than claims (copies, many runs of one claim): one table
    of all runs (at most ``MAX_RUN_ROWS`` rows) and per claim the verdict counts and the key
    number's range, instead of a section each."""
    from .folder import MAX_RUN_ROWS

    if folder.runs_total <= len(folder.results):
        return ""
    rows = []
    for claim, st in folder.run_stats.items():
        n = st.get("key_n", 0)
        key = (f"mean {number_text(st['key_sum'] / n)}, from {number_text(st['key_min'])} to "
               f"{number_text(st['key_max'])} ({n} runs)") if n else DASH
        rows.append(f"<tr><td class=\"name\">{esc(claim)}</td><td>{st.get('runs', 0)}</td>"
                    + "".join(f"<td>{st.get(s, 0)}</td>" for s in STATUS_LABEL)
                    + f"<td>{esc(str(st.get('key_label') or ''))}: {esc(key)}</td></tr>")
    listed = "".join(
        f"<tr><td><code>{esc(r.folder)}</code></td><td>{esc(r.claim)}</td>"
        f"<td>{esc(STATUS_LABEL.get(r.status, str(r.status)))}</td><td>{esc(str(r.key))}</td>"
        f"<td>{esc(str(r.seed))}</td><td>{esc(duration(r.elapsed_s))}</td></tr>" for r in folder.runs)
    more = (f"<p class=\"dim\">The first {MAX_RUN_ROWS} of {folder.runs_total} runs are listed (by folder name); "
            f"the others are in <code>{esc(str(folder.root))}</code> and counted above.</p>"
            if folder.runs_total > len(folder.runs) else "")
    return (f'<section class="claim runs" id="all-runs"><div class="claim-head"><h2>All runs ({folder.runs_total})'
            '</h2></div><p>This folder holds more results than claims: each claim above shows one of them; '
            'every run is counted here.</p><table class="summary"><thead><tr><th>Claim</th><th>Runs</th>'
            + "".join(f"<th>{esc(label)}</th>" for label in STATUS_LABEL.values())
            + f"<th>Key number</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
            '<table class="summary"><thead><tr><th>Folder</th><th>Claim</th><th>Verdict</th><th>Key number</th>'
            f"<th>Seed</th><th>Time</th></tr></thead><tbody>{listed}</tbody></table>{more}</section>")
