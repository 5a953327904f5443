"""The scorecard as text: the Markdown table (one row per activation, one column per property,
units in the header, the best per column marked) and the rule of thumb, line by line.

Pure functions of ``scorecard.json`` (no dates, no paths): the README block is this text, so a
test can regenerate it from the committed file and compare.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..verdicts.result import LIMIT_FINDING
from .scorecard import cell_text

__all__ = ["column_header", "render_table", "render_rule_lines", "render_scorecard_markdown", "STATUS_WORD", "not_measured_notes",
           "BEST_MARK", "column_legend", "rule_groups", "limit_line_text"]

STATUS_WORD = {"holds": "holds", "does_not_hold": "does not hold", "inconclusive": "inconclusive"}
BEST_MARK = "\u2605"  # ★


def column_header(col: Mapping[str, Any]) -> str:
    """"convergence: steps to target (steps, read every 20; lower is better)": short, the claim
    and the property's key; the full quantity is in :func:`column_legend`."""
    better = {"higher": "higher is better", "lower": "lower is better"}.get(col.get("better"), "")
    unit = str(col.get("unit", "")).strip()
    if unit and col.get("resolution"):
        unit += f", read every {col['resolution']}"
    parts = "; ".join(p for p in (unit, better) if p)
    name = str(col.get("key") or col.get("quantity", "")).replace("_", " ")
    return f"{col['claim']}: {name}" + (f" ({parts})" if parts else "")


def column_legend(col: Mapping[str, Any]) -> str:
    """What a column is, in full: the quantity, its grid, and why it has no ★ when it has none."""
    text = f"{col['claim']}: {col['key'].replace('_', ' ')}: {col.get('quantity', '')}" if col.get("key") else \
        f"{col['claim']}: {col.get('quantity', '')}"
    if col.get("resolution"):
        text += (f"; step counts are read every {col['resolution']} steps, so two activations within "
                 f"{col['resolution']} steps of each other can show the same number")
    if col.get("best_note"):
        text += f"; {col['best_note']}"
    return text


def _md(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def render_table(scorecard: Mapping[str, Any]) -> str:
    """The Markdown table: estimate (95% interval) per cell, the best marked."""
    cols = scorecard.get("columns", [])
    if not cols:
        return "_No claim gave per-activation numbers._\n"
    head = "| activation | " + " | ".join(_md(column_header(c)) for c in cols) + " |"
    lines = [head, "|---|" + "---|" * len(cols)]
    for row in scorecard.get("rows", []):
        act = row["activation"]
        cells = []
        for c in cols:
            cell = row.get("cells", {}).get(c["id"], {"measured": False})
            text = cell_text(cell, resolution=c.get("resolution"))
            if c.get("best") == act:
                text = f"**{text}** {BEST_MARK}"
            cells.append(_md(text))
        base = " (baseline)" if act == scorecard.get("baseline") else ""
        lines.append(f"| {act}{base} | " + " | ".join(cells) + " |")
    lines += ["", "Columns: " + "; ".join(_md(column_legend(c)).rstrip(".") for c in cols) + "."]
    return "\n".join(lines) + "\n"


def rule_groups(scorecard: Mapping[str, Any]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """The rule-of-thumb lines under their headings: [(heading, lines)], empty groups left out."""
    from .rules import GROUPS

    lines = list(scorecard.get("rule_of_thumb", []))
    known = {g for g, _ in GROUPS}
    out = []
    for group, heading in GROUPS:
        members = [x for x in lines if x.get("group", "cs231n") == group
                   or (group == "cs231n" and x.get("group") not in known)]
        if members:
            out.append((heading, members))
    return out


def limit_line_text(lim: Mapping[str, Any]) -> str:
    """A rule line's limit as a finding, never a tick: "limit found: ... — evidence"."""
    return f"{LIMIT_FINDING[lim['status']]}: {lim['statement']} — {str(lim['evidence']).rstrip('.')}"


def render_rule_lines(scorecard: Mapping[str, Any], lines: Any = None) -> str:
    """One Markdown list item per sentence: the sentence, what was tested, what was found (word
    and numbers), the rule, limits."""
    out = []
    for line in scorecard.get("rule_of_thumb", []) if lines is None else lines:
        out.append(f"- **{_md(line['sentence'])}** {_md(line.get('why', ''))} Found: "
                   f"**{STATUS_WORD[line['status']]}**. {_md(str(line['evidence']).rstrip('.'))}. "
                   f"_Rule: {_md(line.get('rule', {}).get('text', ''))}_")
        for lim in line.get("limits", []):
            out.append(f"  - {_md(limit_line_text(lim))}.")
    return "\n".join(out) + ("\n" if out else "")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(float(seconds))), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def not_measured_notes(scorecard: Mapping[str, Any]) -> list[str]:
    notes = []
    for claim, info in scorecard.get("claims", {}).items():
        if info.get("status") == "no_per_activation":
            notes.append(f"{claim}: gave no per-activation numbers (not measured by this claim)")
        elif info.get("status") == "not_run":
            notes.append(f"{claim}: not run")
        for act, why in sorted(info.get("refused", {}).items()):
            notes.append(f"{act} not measured by {claim}: {str(why).rstrip('.')}")
    return notes


def render_scorecard_markdown(scorecard: Mapping[str, Any], command: str = "") -> str:
    """The whole block: the table, what was not measured, the rule of thumb, the command."""
    parts = [f"Rows: activations; columns: each claim's own number per activation, estimate (95% interval) over "
             f"seeds (over trials for sign-coherence, independent processes for cost); {BEST_MARK}: a clear best in "
             f"its column (its 95% interval clear of every other's; no {BEST_MARK}: no clear best). Ratios are to "
             f"{scorecard.get('baseline', 'relu')}, paired the same way, in scorecard.json.", "",
             render_table(scorecard).rstrip()]
    missing = not_measured_notes(scorecard)
    if missing:
        parts += ["", "Not measured: " + "; ".join(_md(m) for m in missing) + "."]
    for heading, lines in rule_groups(scorecard):
        parts += ["", f"**{heading}:**", "", render_rule_lines(scorecard, lines).rstrip()]
    run = scorecard.get("run") or {}
    if run.get("wall_s") is not None:
        machine = run.get("machine") or {}
        where = f" on {machine['cpu_count']} CPU core(s)" if machine.get("cpu_count") else ""
        reused = run.get("claims_reused") or 0
        text = f"This `actlab compare` took {_duration(run['wall_s'])} wall{where}"
        if reused:
            text += (f", reusing {reused} claim result(s) from earlier runs (the claims' own run times add up to "
                     f"{_duration(run.get('claims_elapsed_s') or 0)})")
        parts += ["", text + "."]
    if command:
        parts += ["", f"Rerun: `{command}`"]
    return "\n".join(parts) + "\n"
