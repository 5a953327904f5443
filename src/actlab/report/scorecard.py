"""The scorecard section at the top of ``report.html`` and the README's scorecard block, from
``DIR/compare/scorecard.json`` (written by ``actlab compare``) and its figure.

The section: the figure, the table (one row per activation, one column per property, units in
the header, the best estimate marked), what was not measured, and the rule of thumb checked
line by line with each line's word, numbers, rule and limits.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..compare.folder import COMPARE_FOLDER, read_scorecard
from ..compare.rules import refresh_scorecard
from ..compare.scorecard import cell_text, ran_without_estimate
from ..compare.table import (
    BEST_MARK,
    STATUS_WORD,
    column_header,
    column_legend,
    limit_line_text,
    not_measured_notes,
    render_scorecard_markdown,
    rule_groups,
)
from .figures import png_info
from .values import esc

__all__ = ["scorecard_section", "scorecard_markdown", "SCORECARD_CSS", "scorecard_key", "README_PLACEHOLDER"]

#: What the README's compare blocks hold until docs/results/compare/ is committed (no numbers).
README_PLACEHOLDER = ('_Not generated yet: `docs/results/compare/` is committed after a real `actlab compare --quick` on a '
                      'quiet machine; `actlab report docs/results/compare --markdown README.md` then fills this block from its files._')

STATUS_MARK = {"holds": "\u2713", "does_not_hold": "\u2717", "inconclusive": "?"}

SCORECARD_CSS = """
/* the scorecard (actlab compare) */
section.scorecard { margin-top: 2rem; }
section.scorecard .table-wrap { max-width: 100%; overflow-x: auto; }  /* ten columns: scroll the table, not the page */
table.scorecard { border-collapse: collapse; font-size: .82rem; margin: .8rem 0; }
table.scorecard th, table.scorecard td { border: 1px solid var(--line); padding: .35rem .5rem; vertical-align: top; }
table.scorecard th { font-size: .75rem; text-align: left; background: var(--soft); }
table.scorecard td.best { font-weight: 700; background: var(--holds-bg); }
table.scorecard td.none { color: var(--faint); font-style: italic; }
table.scorecard td.no-estimate { color: var(--muted); font-style: italic; }
table.scorecard thead th { min-width: 7rem; max-width: 11rem; }
ul.rule-of-thumb { list-style: none; padding-left: 0; }
ul.rule-of-thumb li { margin: .5rem 0; line-height: 1.45; }
ul.rule-of-thumb .rule { color: var(--muted); font-size: .82rem; display: block; }
"""


def _figure(root: Path) -> str:
    path = root / COMPARE_FOLDER / "scorecard.png"
    if not path.is_file() or path.is_symlink():
        return ""
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    info = png_info(data)
    if info is None:
        return ""
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    alt = ("The scorecard: activations by measured property, each cell coloured from its column's best (green) to "
           "worst (red), with the rule of thumb's verdicts")
    return (f'<figure data-file="scorecard.png"><img src="{uri}" width="{info[0]}" height="{info[1]}" '
            f'alt="{esc(alt)}"><figcaption><strong>Scorecard.</strong> {esc(alt)}.</figcaption></figure>')


def _table(card: Mapping[str, Any]) -> str:
    cols = card.get("columns", [])
    if not cols:
        return "<p>No claim gave per-activation numbers.</p>"
    head = "".join(f'<th title="{esc(column_legend(c))}">{esc(column_header(c))}</th>' for c in cols)
    body = []
    for row in card.get("rows", []):
        act = row["activation"]
        tds = []
        for c in cols:
            cell = row.get("cells", {}).get(c["id"], {"measured": False})
            text = cell_text(cell, resolution=c.get("resolution"))
            if not cell.get("measured"):
                cls = "no-estimate" if ran_without_estimate(cell) else "none"
                tds.append(f'<td class="{cls}" title="{esc(cell.get("note", ""))}">{esc(text)}</td>')
            elif c.get("best") == act:
                tds.append(f'<td class="best">{esc(text)} {BEST_MARK}</td>')
            else:
                tds.append(f"<td>{esc(text)}</td>")
        base = " (baseline)" if act == card.get("baseline") else ""
        body.append(f"<tr><th>{esc(act + base)}</th>{''.join(tds)}</tr>")
    legend = "".join(f"<li>{esc(column_legend(c))}</li>" for c in cols)
    return (f'<div class="table-wrap"><table class="scorecard"><thead><tr><th>activation</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>"
            f'<details class="columns"><summary>What each column is</summary><ul class="small">{legend}</ul></details>')


def _rule_items(lines: Any) -> str:
    items = []
    for line in lines:
        st = line["status"]
        limits = "".join(f'<span class="rule">{esc(limit_line_text(lim))}.</span>' for lim in line.get("limits", []))
        items.append(f'<li><strong>{esc(line["sentence"])}</strong> {esc(line.get("why", ""))}'
                     f'<br>Found: <span class="badge {st}">{STATUS_MARK[st]} {esc(STATUS_WORD[st])}</span> '
                     f'{esc(str(line["evidence"]).rstrip("."))}.'
                     f'<span class="rule">Rule: {esc(line.get("rule", {}).get("text", ""))}</span>{limits}</li>')
    return f'<ul class="rule-of-thumb">{"".join(items)}</ul>' if items else ""


def _rules(card: Mapping[str, Any]) -> str:
    return "\n".join(f"<h3>{esc(heading)}</h3>\n{_rule_items(lines)}" for heading, lines in rule_groups(card))


def _command(card: Mapping[str, Any]) -> str:
    """The rerun command with its output folder as DIR: the folder the run wrote to need not be
    the one this page is in (a developer's /tmp folder, say)."""
    words = str(card.get("command", "")).split()
    for i, w in enumerate(words[:-1]):
        if w == "--out":
            words[i + 1] = "DIR"
    return " ".join(w for w in words if not w.startswith("--out=")) + (
        " --out DIR" if any(w.startswith("--out=") for w in words) else "")


def _read(root: Path) -> dict[str, Any] | None:
    card = read_scorecard(root)
    if card is None:
        return None
    try:  # the best marks and the rule of thumb with this version's rules, from the stored cells
        refresh_scorecard(card)
    except (KeyError, TypeError, ValueError, AttributeError):
        pass
    return card


def scorecard_section(root: str | Path) -> str:
    """The section for ``root/compare/scorecard.json``; empty when there is none."""
    root = Path(root)
    card = _read(root)
    if card is None:
        return ""
    missing = not_measured_notes(card)
    notes = (f"<p class=\"meta\">Not measured: {esc('; '.join(missing))}.</p>" if missing else "")
    command = _command(card)
    rerun = f'<p class="meta">Rerun: <code>{esc(command)}</code> (DIR: the folder this page is in)</p>' if command else ""
    return f"""<section class="scorecard" id="scorecard">
<h2>Which activation should I use?</h2>
<p>Each claim below measured every activation it was given; here are their numbers side by side: one row per
activation, one column per measured property, each an estimate with its 95% interval over seeds (the range that would
catch the true value in 95 of 100 repeats of the run). {BEST_MARK}: a clear best in its column, its interval clear of
every other's; a column without {BEST_MARK} has no clear best. A cell in grey italics names why there is no number:
either the claim did not measure that activation, or it did and every seed was censored (e.g. never reached the
target). Ratios to {esc(str(card.get('baseline', 'relu')))}, paired by seed, are in the rule-of-thumb lines below and in
<code>{COMPARE_FOLDER}/scorecard.json</code>.</p>
{_figure(root)}
{_table(card)}
{notes}
{_rules(card)}
{rerun}
</section>"""


def scorecard_key(folder_key: str) -> str:
    """The README marker name of a results folder's scorecard block: "NAME scorecard"."""
    return f"{folder_key} scorecard"


def scorecard_markdown(root: str | Path) -> str | None:
    """The README's scorecard block for ``root`` (None when it has no scorecard)."""
    card = _read(Path(root))
    if card is None:
        return None
    header = ("<!-- Generated by `actlab report DIR --markdown FILE` from DIR/compare/scorecard.json; "
              "edit the results, not this block. -->")
    return header + "\n\n" + render_scorecard_markdown(card, _command(card))
