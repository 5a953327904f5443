"""One self-contained HTML page from a :class:`~actlab.report.folder.ResultsFolder`.

Figures are embedded as base64 ``data:`` URIs and the CSS is inline, so the page needs
no network (its Content-Security-Policy forbids any) and no JavaScript to read. One
small inline script only records, on ``<body>``, whether every image decoded
(``data-images-ok``); the browser test reads it.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import importlib
import json
import math
import re
import shlex
import struct
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from types import ModuleType
from typing import Any

from .._version import __version__
from ..experiments import CLAIMS
from .folder import ClaimResult, MonitorLog, ResultsFolder

__all__ = ["render_html", "render_metrics", "rerun_command", "problems", "png_info", "figure_caption",
           "short_evidence", "format_value"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
STATUS_LABEL = {"holds": "holds", "does_not_hold": "does not hold", "inconclusive": "inconclusive"}
# A mark as well as a colour, so that the verdict reads in black and white too.
STATUS_MARK = {"holds": "\u2713", "does_not_hold": "\u2717", "inconclusive": "?"}
# The options `actlab run` maps onto config fields of the same name; others go through --set.
CLI_OPTIONS = {"seed": "--seed", "device": "--device", "activations": "--activations",
               "dataset": "--dataset", "seeds": "--seeds", "data_dir": "--data-dir"}
SHORT_LIST = 8       # lists up to this long print inline; longer ones fold away
TABLE_CELLS = 160    # a metric table with more cells than this folds away
TABLE_COLUMNS = 12   # a metric table wider than this becomes one row per entry
SUMMARY_CHARS = 240  # evidence longer than this is shortened in the summary table

_esc = html.escape


# --- values ---------------------------------------------------------------------------


def _is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, (bool, int, float, str))


def _is_short_list(v: Any) -> bool:
    return isinstance(v, list) and len(v) <= SHORT_LIST and all(_is_scalar(x) for x in v)


def _is_long_list(v: Any) -> bool:
    return isinstance(v, list) and len(v) > SHORT_LIST and all(_is_scalar(x) for x in v)


def _number_text(v: Any) -> str:
    if v is None:
        return "\u2014"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return "0" if v == 0 else f"{v:.4g}"
    return str(v)


def _item(v: Any) -> str:
    text = _esc(_number_text(v))
    return f'<span class="nb">{text}</span>' if "-" in text else text  # no line break inside 1e-06


def format_value(v: Any) -> str:
    """A metric value as HTML: numbers to 4 significant digits, None as a dash, lists inline."""
    if isinstance(v, list):
        return '<span class="list">' + ", ".join(_item(x) for x in v) + "</span>"
    if v is None:
        return '<span class="none" title="null: not reached or not measured">\u2014</span>'
    return _esc(_number_text(v))


def _numeric(v: Any) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) or v in ("nan", "inf", "-inf")


def _config_text(v: Any) -> str:
    """A config value as the command line writes it."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, (list, tuple)):
        return ",".join(_config_text(x) for x in v)
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
        return "unknown"
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s:02d} s" if m < 60 else f"{m // 60} h {m % 60:02d} min"


def short_evidence(text: str, limit: int = SUMMARY_CHARS) -> str:
    """``text`` cut to about ``limit`` characters at a clause boundary, outside brackets."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    depth, cut = 0, -1
    for i, ch in enumerate(text[:limit]):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0 and ch in ";:," and i > limit // 3:
            cut = i
    if cut < 0:
        cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > 0 else limit].rstrip(" ,;:") + "\u2009\u2026"


def _first_sentence(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    m = re.search(r"(?<=\.)\s+(?=[A-Z])", text)
    first = text[: m.start()] if m else text
    return first if len(first) <= limit else short_evidence(first, limit)


def _short_source(source: str, limit: int = 70) -> str:
    """The first reference of a source line, bare: 'Glorot & Bengio 2010, Fig. 2-4' (the full
    line is in the claim's section)."""
    first = source.split(";")[0]
    first = re.sub(r",?\s*(?<!\w)'[^']+'(?!\w)", "", first)  # quoted titles, not apostrophes
    first = re.sub(r"\s*\([^()]*\)", "", first)  # parentheticals
    first = " ".join(first.split(":")[0].split()).strip(" ,")
    return first if len(first) <= limit else short_evidence(first, limit)


# --- figures --------------------------------------------------------------------------


def png_info(data: bytes) -> tuple[int, int, str | None] | None:
    """(width, height, title) of a PNG, or None if ``data`` is not a PNG.

    The title is a ``Title`` text chunk, if the figure has one (matplotlib writes it from
    ``savefig(metadata={"Title": ...})``).
    """
    if len(data) < 33 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    if width == 0 or height == 0:
        return None
    title, pos = None, 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IDAT" or kind == b"IEND":
            break
        try:
            if kind == b"tEXt":
                key, _, value = body.partition(b"\0")
                if key == b"Title":
                    title = value.decode("latin-1")
            elif kind == b"iTXt" and body.startswith(b"Title\0"):
                flag, rest = body[6], body[8:]
                value = rest.split(b"\0", 2)[2]
                title = (zlib.decompress(value) if flag else value).decode("utf-8")
        except (IndexError, zlib.error, UnicodeDecodeError):
            pass
        pos += 12 + length
    return width, height, title


def figure_caption(path: Path, claim: str) -> str:
    """A caption from the file name: ``zigzag_loss_curves.png`` -> ``Loss curves``."""
    stem = path.stem
    for prefix in (CLAIMS.get(claim, ""), claim, claim.replace("-", "_")):
        if prefix and stem.lower().startswith(prefix.lower() + "_"):
            stem = stem[len(prefix) + 1:]
            break
    words = re.sub(r"[_\-]+", " ", stem).strip() or path.stem
    return words[0].upper() + words[1:]


# --- claim modules --------------------------------------------------------------------


def _claim_module(name: str) -> tuple[ModuleType | None, str | None]:
    """The claim's module, or (None, why not)."""
    if name not in CLAIMS:
        return None, None
    try:
        return importlib.import_module(f"actlab.experiments.{CLAIMS[name]}"), None
    except ModuleNotFoundError as exc:
        if exc.name == f"actlab.experiments.{CLAIMS[name]}":
            return None, "this version of actlab has no module for this claim"
        return None, f"its module cannot be imported ({exc})"
    except Exception as exc:  # a claim module that is mid-change must not sink the whole report
        return None, f"its module cannot be imported ({type(exc).__name__}: {exc})"


def _jsonable(v: Any) -> Any:
    from ..experiments.result import to_jsonable

    return to_jsonable(v)


def _config_from(build: Callable[[], Any]) -> dict[str, Any] | None:
    try:
        return _jsonable(build())
    except Exception:  # a Config that cannot be built here: no baseline to compare with
        return None


def rerun_command(module: ModuleType | None, name: str, config: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The ``actlab run`` command that reproduces ``config``, and notes on what it cannot say.

    The command is ``--quick`` or not, whichever needs fewer options, plus one option per
    setting that differs (``--seed`` and the other common options where the claim has
    them, ``--set key=value`` for the rest).
    """
    config = dict(config)
    notes: list[str] = []
    names: list[str] = list(config)
    bases: list[tuple[bool, dict[str, Any]]] = []
    if module is not None and hasattr(module, "Config"):
        from ..experiments.base import make_config

        names = [f.name for f in fields(module.Config)]
        unknown = [k for k in config if k not in names]
        if unknown:
            notes.append(f"settings unknown to this actlab, left out: {', '.join(unknown)}")
        absent = [k for k in names if k not in config]
        if absent:
            notes.append(f"settings not recorded in this result (today's defaults apply): {', '.join(absent)}")
        quick = getattr(module, "QUICK", None)
        for is_quick, build in ((True, lambda: make_config(module.Config, quick)),
                                (False, lambda: make_config(module.Config))):
            if is_quick and quick is None:
                continue
            base = _config_from(build)
            if base is not None:
                bases.append((is_quick, base))
    else:
        notes.append("the claim's module is not available, so every recorded setting is spelled out")
    recorded = _jsonable(config)
    best_quick, best_diff = False, [k for k in names if k in recorded]
    for is_quick, base in bases:
        diff = [k for k in names if k in recorded and recorded[k] != base.get(k)]
        if len(diff) < len(best_diff) or (len(diff) == len(best_diff) and is_quick):
            best_quick, best_diff = is_quick, diff
    args = ["actlab", "run", name] + (["--quick"] if best_quick else [])
    for key in best_diff:
        value = recorded[key]
        if isinstance(value, dict) or (isinstance(value, list) and any(isinstance(x, (dict, list)) for x in value)):
            notes.append(f"setting {key} cannot be given on the command line")
            continue
        if key in CLI_OPTIONS:
            args += [CLI_OPTIONS[key], _config_text(value)]
        else:
            args += ["--set", f"{key}={_config_text(value)}"]
    return shlex.join(args), notes


def _matches_quick(module: ModuleType | None, config: Mapping[str, Any]) -> bool:
    if module is None:
        return False
    command, _ = rerun_command(module, getattr(module, "NAME", ""), config)
    return " --quick" in command


def _headline(module: ModuleType | None, metrics: Any) -> str | None:
    fn = getattr(module, "headline", None)
    if not callable(fn):
        return None
    try:
        text = fn(metrics)
    except Exception:  # an old result the headline code no longer understands: use the evidence
        return None
    return text.strip() if isinstance(text, str) and text.strip() else None


# --- tables ---------------------------------------------------------------------------

KeyPath = tuple[str, ...]


def _cell(v: Any) -> str:
    cls = ' class="num"' if _numeric(v) else (' class="lst"' if isinstance(v, list) else "")
    return f"<td{cls}>{format_value(v)}</td>"


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
    if _is_scalar(v) or (isinstance(v, list) and all(_is_scalar(x) for x in v)):
        return [(prefix, v)]
    return None


def _unique(items: Sequence[Any]) -> list[Any]:
    return list(dict.fromkeys(items))


def _table(rows: Sequence[str | None], cols: Sequence[str | None], cells: Mapping[tuple[int, int], Any],
           cls: str) -> str:
    """An HTML table: row labels when ``rows`` has names, a header when ``cols`` has."""
    has_labels, has_head = any(r is not None for r in rows), any(c is not None for c in cols)
    col_numeric = [all(_numeric(cells.get((i, j))) for i in range(len(rows))) for j in range(len(cols))]
    parts = [f'<table class="{cls}">']
    if has_head:
        ths = "".join(f'<th scope="col" class="{"r" if num else "l"}">{_esc(c or "")}</th>'
                      for c, num in zip(cols, col_numeric))
        parts.append(f"<thead><tr>{'<th></th>' if has_labels else ''}{ths}</tr></thead>")
    parts.append("<tbody>")
    for i, r in enumerate(rows):
        label = f'<th scope="row">{_esc(r or "")}</th>' if has_labels else ""
        tds = "".join(_cell(cells[(i, j)]) if (i, j) in cells else "<td></td>" for j in range(len(cols)))
        parts.append(f"<tr>{label}{tds}</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def _kv_table(pairs: Sequence[tuple[str, Any]]) -> str:
    return _table([k for k, _ in pairs], [None], {(i, 0): v for i, (_, v) in enumerate(pairs)}, "metric kv")


def _grid_table(paths: list[tuple[KeyPath, Any]]) -> str:
    """Rows: all but the last key (joined by /); columns: the last key."""
    rows = _unique([p[:-1] for p, _ in paths])
    cols = _unique([p[-1] for p, _ in paths])
    r_index, c_index = {r: i for i, r in enumerate(rows)}, {c: j for j, c in enumerate(cols)}
    cells = {(r_index[p[:-1]], c_index[p[-1]]): v for p, v in paths}
    labels = [" / ".join(r) or None for r in rows]
    return _table(labels, cols, cells, "metric grid")


def _row_table(paths: list[tuple[KeyPath, Any]]) -> str:
    """One row per entry: for long lists and wide tables."""
    return _table([" / ".join(p) for p, _ in paths], [None], {(i, 0): v for i, (_, v) in enumerate(paths)},
                  "metric rows")


def _fold(title: str, note: str, body: str) -> str:
    return (f'<details class="metric-fold"><summary><code>{_esc(title)}</code> '
            f'<span class="dim">{_esc(note)}</span></summary>{body}</details>')


def _json_block(v: Any) -> str:
    return f"<pre class=\"json\">{_esc(json.dumps(v, indent=1, default=str))}</pre>"


def _card(title: str | None, table: str) -> str:
    """A metric as a card of its natural width; cards flow side by side."""
    head = (f'<h4 class="metric-name"><code>{_esc(title)}</code></h4>' if title
            else '<h4 class="metric-name"><code class="dim">values</code></h4>')
    return f'<div class="metric-card">{head}{table}</div>'


def _metric_blocks(name: str, value: Any) -> list[str]:
    """One named metric: small tables in view, big ones folded into <details>."""
    if isinstance(value, list) and value and all(isinstance(x, Mapping) for x in value):
        keys = _unique([str(k) for x in value for k in x])
        if all(_is_scalar(x.get(k)) or _is_short_list(x.get(k)) for x in value for k in keys):
            cells = {(i, j): x.get(k) for i, x in enumerate(value) for j, k in enumerate(keys)}
            table = _table([None] * len(value), keys, cells, "metric grid")
            if len(value) * len(keys) > TABLE_CELLS:
                return [_fold(name, f"{len(value)} rows", table)]
            return [_card(name, table)]
        return [_fold(name, f"{len(value)} entries (JSON)", _json_block(value))]
    if _is_long_list(value):
        return [_fold(name, f"{len(value)} values", f'<p class="longlist">{format_value(value)}</p>')]
    paths = _leaf_paths(value) if isinstance(value, Mapping) else None
    if paths is None:
        return [_fold(name, "JSON", _json_block(value))]
    if not paths:
        return [_card(name, '<p class="dim">(empty)</p>')]
    if len({len(p) for p, _ in paths}) > 1:  # ragged: each child on its own, flat ones together
        flat = [(str(k), v) for k, v in value.items() if _is_scalar(v) or _is_short_list(v)]
        out = [_card(name, _kv_table(flat))] if flat else []
        for k, v in value.items():
            if not (_is_scalar(v) or _is_short_list(v)):
                out += _metric_blocks(f"{name}.{k}", v)
        return out
    n_numbers = sum(len(v) if isinstance(v, list) else 1 for _, v in paths)
    has_long = any(_is_long_list(v) for _, v in paths)
    depth = len(paths[0][0])
    if depth == 1:
        wide = has_long or len(paths) > TABLE_COLUMNS
        table = _row_table(paths) if wide else _grid_table([(("",) + p, v) for p, v in paths])
        big = has_long or len(paths) > TABLE_CELLS
    else:
        cols = _unique([p[-1] for p, _ in paths])
        rows = _unique([p[:-1] for p, _ in paths])
        table = _row_table(paths) if (has_long or len(cols) > TABLE_COLUMNS) else _grid_table(paths)
        big = has_long or len(rows) * len(cols) > TABLE_CELLS
    return [_fold(name, f"{n_numbers} numbers", table)] if big else [_card(name, table)]


def render_metrics(metrics: Any) -> str:
    """Metrics as small tables in a grid (plain numbers first), big arrays folded into ``<details>``."""
    if not isinstance(metrics, Mapping):
        return _fold("metrics", "JSON", _json_block(metrics))
    if not metrics:
        return '<p class="dim">No metrics recorded.</p>'
    flat = [(str(k), v) for k, v in metrics.items() if _is_scalar(v) or _is_short_list(v)]
    blocks = [_card(None, _kv_table(flat))] if flat else []
    for k, v in metrics.items():
        if not (_is_scalar(v) or _is_short_list(v)):
            blocks += _metric_blocks(str(k), v)
    return '<div class="metrics">' + "\n".join(blocks) + "</div>"


def _command_html(command: str) -> str:
    """A shell command whose lines break between arguments only."""
    try:
        args = shlex.split(command)
    except ValueError:  # unbalanced quotes: show it as written
        return _esc(command)
    return " ".join(f'<span class="arg">{_esc(shlex.quote(a))}</span>' for a in args)


def _config_grid(config: Mapping[str, Any]) -> str:
    # <wbr> after commas: long lists wrap between items, not inside names
    items = "".join(f'<div><dt>{_esc(str(k))}</dt><dd>{_esc(_config_text(v)).replace(",", ",<wbr>")}</dd></div>'
                    for k, v in config.items())
    return f'<dl class="config">{items}</dl>'


# --- page pieces ----------------------------------------------------------------------


def _badge(status: str) -> str:
    if status in STATUS_LABEL:
        return f'<span class="badge {status}">{STATUS_MARK[status]} {STATUS_LABEL[status]}</span>'
    label = {"missing": "not run", "unreadable": "unreadable"}.get(status, status)
    return f'<span class="badge {_esc(status)}">{_esc(label)}</span>'


def _anchor(name: str) -> str:
    return "claim-" + re.sub(r"[^a-z0-9-]+", "-", name.lower())


def _number(name: str) -> str:
    return str(list(CLAIMS).index(name) + 1) if name in CLAIMS else ""


def _figures(claim: ClaimResult, number: str) -> tuple[str, list[str]]:
    """The claim's figures as <figure> elements, and the files that are not PNG images."""
    out, bad = [], []
    for i, path in enumerate(claim.figures, 1):
        try:
            data = path.read_bytes()
        except OSError as exc:
            bad.append(f"{path.name}: cannot read ({exc.strerror or exc})")
            continue
        info = png_info(data)
        if info is None:
            bad.append(f"{path.name}: not a PNG image")
            continue
        width, height, title = info
        caption = title or figure_caption(path, claim.name)
        label = f"Figure {number}.{i}" if number else f"Figure {i}"
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        out.append(
            f'<figure><img src="{uri}" width="{width}" height="{height}" alt="{_esc(caption)}">'
            f'<figcaption><strong>{label}.</strong> {_esc(caption)} '
            f'<span class="file">{_esc(path.name)}</span></figcaption></figure>')
    return "\n".join(out), bad


def _env_line(env: Any, version: str, elapsed: Any) -> str:
    parts = [f"actlab {version}"]
    if isinstance(env, Mapping):
        env = dict(env)
        for key, label in (("torch", "torch "), ("python", "Python "), ("cuda", "CUDA ")):
            if key in env:
                parts.append(f"{label}{env.pop(key)}")
        for key in ("device", "gpu"):
            if key in env:
                parts.append(str(env.pop(key)))
        for key, label in (("threads", " threads"), ("cpu_count", " CPUs")):
            if key in env:
                parts.append(f"{env.pop(key)}{label}")
        parts += [f"{k} {_config_text(v)}" for k, v in env.items()]
    return (f'<p class="env">Ran in <strong>{_esc(_duration(elapsed))}</strong> \u00b7 '
            + " \u00b7 ".join(_esc(p) for p in parts) + "</p>")


def _claim_section(claim: ClaimResult, module: ModuleType | None, module_note: str | None) -> str:
    r = claim.result
    name, number = claim.name, _number(claim.name)
    text = getattr(module, "CLAIM", None)
    source = getattr(module, "SOURCE", None)
    course_command = getattr(module, "COMMAND", None)
    config = r.config if isinstance(r.config, Mapping) else {}
    command, notes = rerun_command(module, name, config)
    figures, bad_figures = _figures(claim, number)
    out = [f'<section class="claim" id="{_anchor(name)}">',
           '<div class="claim-head">'
           f'<h2>{f"<span class=num>{number}</span>" if number else ""}{_esc(name)}</h2>'
           f'{_badge(r.verdict.status)}</div>']
    if str(r.experiment) != name:
        out.append(f'<p class="warn">This folder holds a result of <code>{_esc(str(r.experiment))}</code>.</p>')
    if text:
        out.append(f'<blockquote class="claim-text"><p>{_esc(text)}</p>'
                   f'{f"<footer>{_esc(source)}</footer>" if source else ""}</blockquote>')
    elif module_note:
        out.append(f'<p class="dim">The claim text is not available: {_esc(module_note)}.</p>')
    out.append(f'<div class="verdict {r.verdict.status}"><p><strong>Verdict: the claim '
               f'{"holds" if r.verdict.status == "holds" else "does not hold" if r.verdict.status == "does_not_hold" else "is inconclusive"}'
               f' here.</strong> {_esc(r.verdict.evidence)}</p></div>')
    out.append("<h3>What was run</h3>")
    out.append(f'<p class="cmd-label">Rerun exactly this:</p><pre class="cmd"><code>{_command_html(command)}</code></pre>')
    if course_command and course_command.strip() != command:
        out.append(f'<p class="cmd-label">At full scale:</p>'
                   f'<pre class="cmd"><code>{_command_html(course_command)}</code></pre>')
    out += [f'<p class="note">{_esc(n)}.</p>' for n in notes]
    if config:
        out.append(_config_grid(config))
    out.append("<h3>Figures</h3>")
    if figures:
        out.append(figures)
    else:
        out.append('<p class="dim">No figures in this folder (run without <code>--no-plots</code> to draw them).</p>')
    if bad_figures:
        out.append('<p class="warn">Not shown: ' + "; ".join(_esc(b) for b in bad_figures) + ".</p>")
    out.append("<h3>Metrics</h3>")
    out.append(render_metrics(r.metrics))
    out.append(_env_line(r.env, r.actlab_version, r.elapsed_s))
    out.append('<p class="toplink"><a href="#summary">\u2191 back to the summary</a></p></section>')
    return "\n".join(out)


def _summary(folder: ResultsFolder, modules: Mapping[str, tuple[ModuleType | None, str | None]],
             quick: bool) -> str:
    rows = []
    by_name = {c.name: c for c in folder.results}
    bad = {u.name: u for u in folder.unreadable}
    names = _unique([*CLAIMS, *by_name, *bad])
    for name in names:
        module, _ = modules.get(name, (None, None))
        gist = _first_sentence(getattr(module, "CLAIM", "") or "")
        source = _short_source(getattr(module, "SOURCE", "") or "")
        number = _number(name)
        if name in by_name:
            r = by_name[name].result
            key = _headline(module, r.metrics) or short_evidence(r.verdict.evidence)
            link = f'<a href="#{_anchor(name)}">{_esc(name)}</a>'
            verdict, key_html = _badge(r.verdict.status), _esc(key)
            cls = r.verdict.status
        elif name in bad:
            link, verdict, cls = _esc(name), _badge("unreadable"), "unreadable"
            key_html = f'result.json is unreadable: {_esc(bad[name].reason)}'
        else:
            link, verdict, cls = _esc(name), _badge("missing"), "missing"
            key_html = f'Not in this folder. Run <code>{_command_html(folder.run_command(name, quick))}</code>'
        rows.append(
            f'<tr class="{cls}"><td class="n">{number}</td>'
            f'<td class="claim-cell"><span class="name">{link}</span>'
            f'{f"<span class=gist>{_esc(gist)}</span>" if gist else ""}</td>'
            f'<td class="src">{_esc(source)}</td><td class="v">{verdict}</td><td class="key">{key_html}</td></tr>')
    return ('<table class="summary"><thead><tr><th class="n">#</th><th>Claim</th><th>Source</th>'
            '<th>Verdict</th><th>Key number</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>")


def _tally(folder: ResultsFolder) -> str:
    counts = {s: 0 for s in STATUS_LABEL}
    for c in folder.results:
        counts[c.result.verdict.status] += 1
    parts = [f'<span class="t {s}">{counts[s]} {STATUS_LABEL[s]}</span>' for s in STATUS_LABEL]
    if folder.missing:
        parts.append(f'<span class="t missing">{len(folder.missing)} not run</span>')
    if folder.unreadable:
        parts.append(f'<span class="t unreadable">{len(folder.unreadable)} unreadable</span>')
    return '<p class="tally">' + "".join(parts) + "</p>"


def _missing_block(folder: ResultsFolder, modules: Mapping[str, tuple[ModuleType | None, str | None]],
                   quick: bool) -> str:
    items = []
    for name in folder.missing:
        module, note = modules.get(name, (None, None))
        extra = f" <span class=\"dim\">({_esc(note)})</span>" if module is None and note else ""
        items.append(f"<li><strong>{_esc(name)}</strong>: <code>{_command_html(folder.run_command(name, quick))}</code>{extra}</li>")
    for u in folder.unreadable:
        items.append(f'<li><strong>{_esc(u.name)}</strong>: unreadable, {_esc(u.reason)}. '
                     f'Rerun: <code>{_command_html(folder.run_command(u.name, quick))}</code></li>')
    if not items:
        return ""
    head = "Not in this report" if folder.missing else "Unreadable results"
    return (f'<div class="missing-list"><h3>{head}</h3><p>These claims have no readable result in '
            f'<code>{_esc(str(folder.root))}</code>; each command below produces one, then run '
            f'<code>{_command_html("actlab report " + shlex.quote(str(folder.root)))}</code> again.</p>'
            f'<ul>{"".join(items)}</ul></div>')


def _monitor_section(log: MonitorLog) -> str:
    out = ['<section class="claim monitor" id="monitor"><div class="claim-head"><h2>Monitor findings</h2></div>',
           f'<p class="dim">From <code>{_esc(str(log.path))}</code>'
           f'{f", {log.steps} sampled steps" if log.steps is not None else ""}.</p>']
    if log.findings is None:
        out.append(f'<p class="warn">The monitor log could not be read: {_esc(log.error or "unknown error")}.</p>')
    elif not log.findings:
        out.append("<p>No findings: no statistic crossed its threshold.</p>")
    else:
        rows = []
        for f in log.findings:
            sev = str(f.get("severity", "info"))
            rows.append(f'<tr><td><span class="sev {_esc(sev)}">{_esc(sev)}</span></td>'
                        f'<td><code>{_esc(str(f.get("layer", "")))}</code></td>'
                        f'<td>{_esc(str(f.get("evidence", "")))}'
                        f'<div class="suggest">{_esc(str(f.get("suggestion", "")))}</div></td>'
                        f'<td class="dim small">{_esc(str(f.get("source", "")))}</td></tr>')
        out.append('<table class="findings"><thead><tr><th>Severity</th><th>Layer</th>'
                   '<th>Evidence and suggestion</th><th>Threshold source</th></tr></thead><tbody>'
                   + "".join(rows) + "</tbody></table>")
    out.append("</section>")
    return "\n".join(out)


def _monitor_note(log: MonitorLog | None) -> str:
    if log is None:
        return ""
    if log.findings is None:
        what = "unreadable"
    elif not log.findings:
        what = "no findings"
    else:
        counts = {}
        for f in log.findings:
            counts[str(f.get("severity", "info"))] = counts.get(str(f.get("severity", "info")), 0) + 1
        what = f"{len(log.findings)} finding(s): " + ", ".join(f"{n} {sev}" for sev, n in counts.items())
    return f'<p class="monitor-note">Monitor log: <a href="#monitor">{_esc(what)}</a></p>'


def _common_env(folder: ResultsFolder) -> str:
    envs = [c.result.env for c in folder.results if isinstance(c.result.env, Mapping)]
    parts = []
    for key, label in (("torch", "torch"), ("device", "device"), ("threads", "threads")):
        values = _unique([str(e.get(key)) for e in envs if key in e])
        if len(values) == 1:
            parts.append(f"{label} {values[0]}")
    return " \u00b7 ".join(parts)


def render_html(folder: ResultsFolder, generated: _dt.datetime | None = None) -> str:
    """The whole report as one HTML document (a string)."""
    generated = generated or _dt.datetime.now().astimezone()
    names = _unique([*CLAIMS, *(c.name for c in folder.results)])
    modules = {n: _claim_module(n) for n in names}
    present = [c for c in folder.results if c.name in CLAIMS]
    quick = bool(present) and 2 * sum(_matches_quick(modules[c.name][0], c.result.config)
                                      for c in present if isinstance(c.result.config, Mapping)) >= len(present)
    sections = [_claim_section(c, *modules[c.name]) for c in folder.results]
    if folder.monitor is not None:
        sections.append(_monitor_section(folder.monitor))
    env = _common_env(folder)
    meta = [f"Results folder <code>{_esc(str(folder.root))}</code>",
            f"generated {_esc(generated.strftime('%Y-%m-%d %H:%M %Z').strip())}",
            f"actlab {_esc(__version__)}"] + ([_esc(env)] if env else [])
    meta_line = " \u00b7 ".join(meta)
    body = f"""<main>
<header class="top" id="summary">
<h1>actlab report</h1>
<p class="lede">Textbook claims about activation functions, measured. Each section quotes a claim as the
course material states it, shows what was run and what came out, and says whether the claim holds here.</p>
<p class="meta">{meta_line}</p>
{_tally(folder)}
</header>
<section class="summary-section">
<h2 class="visually-plain">Summary</h2>
{_summary(folder, modules, quick)}
{_missing_block(folder, modules, quick)}
{_monitor_note(folder.monitor)}
</section>
{"".join(sections)}
<footer class="page-foot">Made by <code>actlab report</code> from the <code>result.json</code> files and figures in
<code>{_esc(str(folder.root))}</code>. Everything is in this one file: it reads offline and prints.</footer>
</main>"""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="generator" content="actlab {_esc(__version__)}">
<title>actlab report: {_esc(folder.root.resolve().name or str(folder.root))}</title>
<style>{CSS}</style>
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
table.summary tr.missing td, table.summary tr.unreadable td { background: #fbfcfd; }
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
figcaption .file { color: var(--faint); font-size: .75rem; margin-left: .3rem; }

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
  figure, .verdict, blockquote, table.metric, dl.config, pre.cmd { break-inside: avoid; page-break-inside: avoid; }
  figure img { max-height: 22cm; width: auto; }
  details.metric-fold > summary::after { content: " (open in a browser to see)"; color: var(--faint); }
}
"""
