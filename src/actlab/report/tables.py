"""Metric tables: the claim's own labelled tables (``plots/<claim>.tables``), else a generic
rendering of ``metrics`` that is labelled too (a header on every table, the row keys
named) and never shows a table of only dashes (an all-empty metric becomes one line
saying it was not measured; all-empty columns are left out and named)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .values import (
    DASH,
    esc,
    format_value,
    is_long_list,
    is_scalar,
    is_short_list,
    numeric,
    unique,
)

__all__ = ["render_metrics", "render_tables", "humanize", "TABLE_CELLS", "TABLE_COLUMNS"]

TABLE_CELLS = 160    # a metric table with more cells than this folds away
TABLE_COLUMNS = 12   # a metric table wider than this becomes one row per entry

KeyPath = tuple[str, ...]


def humanize(key: str) -> str:
    """``steps_to_target`` -> ``steps to target``."""
    return " ".join(key.replace("_", " ").replace("-", " ").split()) or key


def _empty(v: Any) -> bool:
    """None, "", or a list of them: nothing to show."""
    if isinstance(v, list):
        return all(_empty(x) for x in v)
    return v is None or v == ""


def _axis_name(keys: Sequence[str]) -> str:
    """What a level of metric keys is: activation names, numbers (a setting), or plain keys."""
    try:
        from ..activations import REGISTRY

        if keys and all(REGISTRY.resolve(k) for k in keys):
            return "activation"
    except Exception:  # not all activation names (resolve raises for the others)
        pass
    try:
        [float(k) for k in keys]
        return "setting value"
    except ValueError:
        return "entry"


def _cell(v: Any) -> str:
    cls = ' class="num"' if numeric(v) else (' class="lst"' if isinstance(v, list) else "")
    return f"<td{cls}>{format_value(v)}</td>"


def _table(row_head: str | None, rows: Sequence[str | None], cols: Sequence[str],
           cells: Mapping[tuple[int, int], Any], cls: str, caption: str | None = None) -> str:
    """An HTML table with a header row; a first column of row labels when ``row_head`` is given."""
    col_numeric = [all(numeric(cells.get((i, j))) for i in range(len(rows))) for j in range(len(cols))]
    parts = [f'<table class="{cls}">']
    if caption:
        parts.append(f'<caption class="{"axes" if "grid" in cls else "title"}">{esc(caption)}</caption>')
    ths = "".join(f'<th scope="col" class="{"r" if num else "l"}">{esc(c)}</th>' for c, num in zip(cols, col_numeric))
    lead = f'<th scope="col" class="l">{esc(row_head)}</th>' if row_head is not None else ""
    parts.append(f"<thead><tr>{lead}{ths}</tr></thead><tbody>")
    for i, r in enumerate(rows):
        label = f'<th scope="row">{esc(r or "")}</th>' if row_head is not None else ""
        tds = "".join(_cell(cells[(i, j)]) if (i, j) in cells else "<td></td>" for j in range(len(cols)))
        parts.append(f"<tr>{label}{tds}</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def _leaf_paths(v: Any, prefix: KeyPath = ()) -> list[tuple[KeyPath, Any]] | None:
    """Every (key path, leaf) under a nested mapping; None if a leaf is not a scalar or a flat list."""
    if isinstance(v, Mapping):
        if not v:
            return [(prefix, None)] if prefix else []
        out: list[tuple[KeyPath, Any]] = []
        for k, child in v.items():
            sub = _leaf_paths(child, (*prefix, str(k)))
            if sub is None:
                return None
            out += sub
        return out
    if is_scalar(v) or (isinstance(v, list) and all(is_scalar(x) for x in v)):
        return [(prefix, v)]
    return None


def _list_note(values: Sequence[Any]) -> str:
    if any(isinstance(v, list) for v in values):
        return '<p class="table-note">A list gives one value per index (per layer, per step, ...), in order.</p>'
    return ""


def _kv_table(pairs: Sequence[tuple[str, Any]]) -> str:
    cells = {(i, 0): v for i, (_, v) in enumerate(pairs)}
    return _table("metric", [k for k, _ in pairs], ["value"], cells, "metric kv") + _list_note([v for _, v in pairs])


def _grid_table(paths: list[tuple[KeyPath, Any]]) -> tuple[str, list[str]]:
    """Rows: all but the last key (joined by /); columns: the last key. All-empty columns left out."""
    rows = unique([p[:-1] for p, _ in paths])
    cols = unique([p[-1] for p, _ in paths])
    dropped = [c for c in cols if all(_empty(v) for p, v in paths if p[-1] == c)]
    cols = [c for c in cols if c not in dropped]
    r_index, c_index = {r: i for i, r in enumerate(rows)}, {c: j for j, c in enumerate(cols)}
    cells = {(r_index[p[:-1]], c_index[p[-1]]): v for p, v in paths if p[-1] in c_index}
    depth = len(rows[0]) if rows else 0
    head = " / ".join(_axis_name(unique([r[i] for r in rows])) for i in range(depth)) or None
    labels = [" / ".join(r) or None for r in rows]
    if head is None:
        labels = [None] * len(rows)
    col_axis = _axis_name(cols)
    caption = f"columns: {col_axis}" + (" (one column per value)" if col_axis == "setting value" else "") \
        if col_axis != "entry" else None
    return (_table(head, labels, cols, cells, "metric grid", caption=caption) + _list_note([v for _, v in paths]),
            dropped)


def _row_table(paths: list[tuple[KeyPath, Any]]) -> str:
    """One row per entry: for long lists and wide tables."""
    paths = [(p, v) for p, v in paths if not _empty(v)]
    cells = {(i, 0): v for i, (_, v) in enumerate(paths)}
    return (_table("entry", [" / ".join(p) for p, _ in paths], ["value"], cells, "metric rows")
            + _list_note([v for _, v in paths]))


def _fold(title: str, note: str, body: str) -> str:
    return (f'<details class="metric-fold"><summary><code>{esc(title)}</code> '
            f'<span class="dim">{esc(note)}</span></summary>{body}</details>')


def _json_block(v: Any) -> str:
    return f"<pre class=\"json\">{esc(json.dumps(v, indent=1, default=str))}</pre>"


def _card(title: str | None, table: str) -> str:
    """A metric as a card of its natural width; cards flow side by side."""
    head = (f'<h4 class="metric-name">{esc(humanize(title))} <code class="dim">{esc(title)}</code></h4>' if title
            else '<h4 class="metric-name">Single numbers</h4>')
    return f'<div class="metric-card">{head}{table}</div>'


def _not_measured(name: str) -> str:
    return (f'<p class="not-measured"><code>{esc(name)}</code>: not measured in this run '
            f'(every value is empty, shown as {DASH} elsewhere).</p>')


def _metric_blocks(name: str, value: Any) -> list[str]:
    """One named metric: small tables in view, big ones folded into <details>."""
    if _empty(value) or (isinstance(value, Mapping) and value and all(_empty(v) for _, v in (_leaf_paths(value) or [(0, 1)]))):
        return [_not_measured(name)]
    if isinstance(value, list) and value and all(isinstance(x, Mapping) for x in value):
        keys = unique([str(k) for x in value for k in x])
        keys = [k for k in keys if not all(_empty(x.get(k)) for x in value)]
        if all(is_scalar(x.get(k)) or is_short_list(x.get(k)) for x in value for k in keys):
            cells = {(i, j): x.get(k) for i, x in enumerate(value) for j, k in enumerate(keys)}
            table = _table("#", [str(i + 1) for i in range(len(value))], keys, cells, "metric grid")
            if len(value) * len(keys) > TABLE_CELLS:
                return [_fold(name, f"{len(value)} rows", table)]
            return [_card(name, table)]
        return [_fold(name, f"{len(value)} entries (JSON)", _json_block(value))]
    if is_long_list(value):
        return [_fold(name, f"{len(value)} values", f'<p class="longlist">{format_value(value)}</p>')]
    paths = _leaf_paths(value) if isinstance(value, Mapping) else None
    if paths is None:
        return [_fold(name, "JSON", _json_block(value))]
    if not paths:
        return [_not_measured(name)]
    if len({len(p) for p, _ in paths}) > 1:  # ragged: each child on its own, flat ones together
        flat = [(str(k), v) for k, v in value.items() if (is_scalar(v) or is_short_list(v)) and not _empty(v)]
        out = [_card(name, _kv_table(flat))] if flat else []
        for k, v in value.items():
            if not (is_scalar(v) or is_short_list(v)):
                out += _metric_blocks(f"{name}.{k}", v)
        return out
    n_numbers = sum(len(v) if isinstance(v, list) else 1 for _, v in paths)
    has_long = any(is_long_list(v) for _, v in paths)
    depth = len(paths[0][0])
    dropped: list[str] = []
    if depth == 1:
        wide = has_long or len(paths) > TABLE_COLUMNS
        if wide:
            table = _row_table(paths)
        else:
            table, dropped = _grid_table([(("",) + p, v) for p, v in paths])
        big = has_long or len(paths) > TABLE_CELLS
    else:
        cols = unique([p[-1] for p, _ in paths])
        rows = unique([p[:-1] for p, _ in paths])
        if has_long or len(cols) > TABLE_COLUMNS:
            table = _row_table(paths)
        else:
            table, dropped = _grid_table(paths)
        big = has_long or len(rows) * len(cols) > TABLE_CELLS
    if dropped:
        table += f'<p class="table-note">Not measured, left out: {esc(", ".join(dropped))}.</p>'
    return [_fold(name, f"{n_numbers} numbers", table)] if big else [_card(name, table)]


def render_metrics(metrics: Any) -> str:
    """Metrics as labelled tables in a grid (single numbers first), big arrays folded into ``<details>``."""
    if not isinstance(metrics, Mapping):
        return _fold("metrics", "JSON", _json_block(metrics))
    if not metrics:
        return '<p class="dim">No metrics recorded.</p>'
    flat = [(str(k), v) for k, v in metrics.items() if (is_scalar(v) or is_short_list(v)) and not _empty(v)]
    blocks = [_card(None, _kv_table(flat))] if flat else []
    for k, v in metrics.items():
        if _empty(v) and (is_scalar(v) or is_short_list(v)):
            blocks.append(_not_measured(str(k)))
        elif not (is_scalar(v) or is_short_list(v)):
            blocks += _metric_blocks(str(k), v)
    return '<div class="metrics">' + "\n".join(blocks) + "</div>"


def render_tables(tables: Sequence[Mapping[str, Any]]) -> str:
    """A claim's own tables (``plots/<claim>.tables``): title as caption, its columns as the
    header, its note below. All-empty columns (but the first) are left out; a table with
    nothing left is one line saying so."""
    out = []
    for t in tables:
        columns, rows = list(t["columns"]), [list(r) for r in t["rows"]]
        keep = [j for j in range(len(columns)) if j == 0 or not all(_empty(r[j]) for r in rows)]
        dropped = [columns[j] for j in range(len(columns)) if j not in keep]
        if not rows or len(keep) <= 1 and len(columns) > 1:
            out.append(f'<p class="not-measured"><strong>{esc(t["title"])}</strong>: nothing measured in this run.</p>')
            continue
        cols = [columns[j] for j in keep]
        cells = {(i, jj): r[j] for i, r in enumerate(rows) for jj, j in enumerate(keep)}
        note = t.get("note") or ""
        if dropped:
            note = (note + " " if note else "") + f"Not measured, left out: {', '.join(dropped)}."
        table = _table(None, [None] * len(rows), cols, cells, "metric labelled", caption=t["title"])
        note_html = f'<p class="table-note">{esc(note)}</p>' if note else ""
        out.append(f'<div class="metric-card labelled-card">{table}{note_html}</div>')
    return '<div class="metrics">' + "\n".join(out) + "</div>"
