"""A report for a sweep folder (what ``actlab sweep`` writes, see docs/SWEEPS.md).

``actlab report DIR`` where ``DIR`` is a sweep's output folder (``DIR/CLAIM/sweep.json``)
or one sweep's folder (``DIR/sweep.json``) writes ``DIR/report.html``: per sweep, per grid
point, how many runs gave each verdict, the key number's mean and 95% CI (from each run's
``verdict.key_number``), each key metric's mean and 95% CI (the sweep's own aggregate,
recomputed from the run files), and two figures: the verdict counts and the key number
against the grid.

Sweeps are read, never written: the aggregate comes from
:func:`actlab.runs.sweep.aggregate_sweep`, or from ``aggregate.json`` when that
cannot run.
"""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._version import __version__
from ..verdicts.result import (
    MAX_RESULT_BYTES,
    ResultFileError,
    load_result,
    read_bounded,
    write_text_atomic,
)
from ..verdicts.stats import mean_ci95
from .claims import claim_module
from .folder import ReportError
from .section import STATUS_LABEL, STATUS_MARK, count_label
from .values import DASH, command_html, config_text, esc, number_text, plural, unique, user_text

__all__ = ["find_sweeps", "is_sweep_folder", "render_sweep_html", "build_sweep_report", "sweep_summary",
           "KEY_METRICS"]

MANIFEST, AGGREGATE = "sweep.json", "aggregate.json"
KEY_METRICS = 24  # at most this many metrics in view per sweep; the others fold away


def find_sweeps(root: str | os.PathLike[str]) -> list[Path]:
    """Sweep folders at ``root``: ``root`` itself if it holds ``sweep.json``, else its children that do."""
    root = Path(root)
    if (root / MANIFEST).is_file():
        return [root]
    if not root.is_dir():
        return []
    try:
        return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST).is_file())
    except OSError:
        return []


def is_sweep_folder(root: str | os.PathLike[str]) -> bool:
    return bool(find_sweeps(root))


def _aggregate(folder: Path) -> dict[str, Any]:
    try:
        from ..runs.sweep import aggregate_sweep

        return aggregate_sweep(folder)
    except Exception as exc:  # sweep.py mid-change, or a damaged manifest: the saved aggregate, if any
        path = folder / AGGREGATE
        try:
            data = json.loads(read_bounded(path, MAX_RESULT_BYTES, "sweep aggregate").decode("utf-8"))
            if isinstance(data, Mapping) and isinstance(data.get("points"), list):
                return dict(data)
        except (OSError, ValueError):
            pass
        raise ReportError(f"{folder}: cannot read the sweep ({exc})") from None


def _missing_runs(agg: Mapping[str, Any]) -> str:
    n = int(agg.get("runs_expected", 0) or 0) - int(agg.get("runs_found", 0) or 0)
    return f"{n} planned run has" if n == 1 else f"{n} planned runs have"


def _point_label(point: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={config_text(v)}" for k, v in point.items()) or "all runs"


def _key_numbers(folder: Path, agg: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """(the key number's label, per point: mean/CI/n of the runs' key_number.value)."""
    label, out = "", []
    for point in agg["points"]:
        values: list[float] = []
        for rid in point.get("runs", []):
            try:
                result = load_result(folder / "runs" / rid / "result.json")
            except ResultFileError:
                continue
            key = result.verdict.key_number
            if key is not None and isinstance(key.value, (int, float)):
                values.append(float(key.value))
                label = label or key.label
        out.append(mean_ci95(values) if values else {"mean": None, "ci95_low": None, "ci95_high": None, "n": 0})
    return label, out


def _ci_text(stats: Mapping[str, Any]) -> str:
    mean = stats.get("mean")
    if mean is None:
        return DASH
    lo, hi = stats.get("ci95_low"), stats.get("ci95_high")
    bad = stats.get("n_nonfinite") or 0
    left_out = f" ({bad} NaN/inf left out)" if bad else ""
    if lo is None or hi is None:
        return f"{number_text(mean)} (one run: no interval){left_out}"
    return f"{number_text(mean)} [{number_text(lo)}, {number_text(hi)}]{left_out}"


def _key_metric_names(points: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """(metrics in view, the rest): whole-number metrics first (no list elements), at most KEY_METRICS."""
    names = unique([k for p in points for k in p.get("metrics", {})])
    plain = [k for k in names if "[" not in k]
    rest = [k for k in names if "[" in k]
    return plain[:KEY_METRICS], plain[KEY_METRICS:] + rest


def _png_uri(fig) -> tuple[str, int, int]:
    from ..plots.style import plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
    width, height = (int(v) for v in fig.get_size_inches() * fig.dpi)
    plt.close(fig)
    data = buf.getvalue()
    from .figures import png_info

    info = png_info(data)
    if info:
        width, height = info[0], info[1]
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii"), width, height


def _figures(claim: str, agg: Mapping[str, Any], key_label: str, keys: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """[(figure HTML without caption number, caption)]: verdict counts; key number against the grid."""
    from ..plots.style import RC, plt

    points = agg["points"]
    labels = [_point_label(p.get("point", {})) for p in points]
    out = []
    colours = {"holds": "#2da44e", "does_not_hold": "#cf222e", "inconclusive": "#d4a72c"}
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(max(4.5, 0.9 * len(points) + 2.5), 3.2))
        bottom = [0] * len(points)
        for status in STATUS_LABEL:
            counts = [p.get("verdicts", {}).get(status, 0) for p in points]
            ax.bar(range(len(points)), counts, bottom=bottom, color=colours[status], label=STATUS_LABEL[status],
                   edgecolor="white", hatch={"holds": "", "does_not_hold": "xx", "inconclusive": ".."}[status])
            bottom = [b + c for b, c in zip(bottom, counts)]
        ax.set_xticks(range(len(points)), labels, rotation=20 if len(points) > 3 else 0, ha="right" if len(points) > 3 else "center")
        from matplotlib.ticker import MaxNLocator

        ax.set_ylim(0, max(max(bottom, default=1), 1) * 1.12)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(axis="x", visible=False)
        ax.set_xlabel("grid point")
        ax.set_ylabel("runs (one per seed)")
        ax.set_title(f"{claim}: verdict of each run, per grid point")
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        uri, w, h = _png_uri(fig)
    total = sum(sum(p.get("verdicts", {}).values()) for p in points)
    holds = sum(p.get("verdicts", {}).get("holds", 0) for p in points)
    out.append((f'<img src="{uri}" width="{w}" height="{h}" alt="verdict counts per grid point">',
                f"How many runs (seeds) gave each verdict at each grid point: {holds} of {total} runs hold overall. "
                "A point where the bar is one colour gives the same answer for every seed."))
    if any(k.get("mean") is not None for k in keys):
        grid = agg.get("grid", {})
        axis = None
        if len(grid) == 1:
            (name, values), = grid.items()
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                axis = name
        with plt.rc_context(RC):
            fig, ax = plt.subplots(figsize=(max(4.5, 0.9 * len(points) + 2.5), 3.2))
            xs = [p["point"][axis] for p in points] if axis else list(range(len(points)))
            for x, k in zip(xs, keys):
                if k.get("mean") is None:
                    continue
                lo, hi = k.get("ci95_low"), k.get("ci95_high")
                err = [[k["mean"] - lo], [hi - k["mean"]]] if lo is not None and hi is not None else None
                ax.errorbar([x], [k["mean"]], yerr=err, fmt="o", color="#1f77b4", capsize=4, ms=6)
            if axis:
                ax.set_xlabel(axis)
                ax.set_xticks(xs)
                if all(x > 0 for x in xs) and max(xs) / min(xs) > 20:
                    ax.set_xscale("log")
            else:
                ax.set_xticks(range(len(points)), labels, rotation=20 if len(points) > 3 else 0,
                              ha="right" if len(points) > 3 else "center")
            ax.set_ylabel("key number (mean, 95% CI)")
            ax.set_title(user_text(key_label) or "key number", fontsize=10)
            uri, w, h = _png_uri(fig)
        best = max((k for k in keys if k.get("mean") is not None), key=lambda k: k["mean"])
        where = labels[keys.index(best)]
        out.append((f'<img src="{uri}" width="{w}" height="{h}" alt="key number per grid point">',
                    f"The key number ({user_text(key_label) or 'as each run reports it'}) at each grid point: mean "
                    f"over the seeds with its 95% interval (no bar: a single run). Highest at {where}: "
                    f"{number_text(best['mean'])}."))
    return out


def _sweep_section(folder: Path, index: int) -> str:
    agg = _aggregate(folder)
    claim = str(agg.get("experiment") or folder.name)
    module, _ = claim_module(claim)
    points = agg["points"]
    grid = agg.get("grid", {})
    key_label, keys = _key_numbers(folder, agg)
    shown, rest = _key_metric_names(points)
    out = [f'<section class="claim sweep" id="sweep-{index}"><div class="claim-head"><h2>'
           f'<span class="num">{index}</span>sweep of {esc(claim)}</h2></div>']
    text = getattr(module, "CLAIM", None)
    counts = {s: sum(p.get("verdicts", {}).get(s, 0) for p in points) for s in STATUS_LABEL}
    total = sum(counts.values())
    grid_text = "; ".join(f"{k} in {', '.join(config_text(v) for v in vs)}" for k, vs in grid.items()) or "no grid"
    meaning = (f"This sweep ran the {claim} measurement {plural(agg.get('runs_found', total), 'time')} "
               f"({plural(agg.get('seeds'), 'seed')} per grid point; {grid_text}). "
               + ", ".join(count_label(s, n) for s, n in counts.items()) + ". "
               + ("Every planned run finished." if agg.get("complete") else
                  f"{_missing_runs(agg)} no result yet: "
                  "rerun the same `actlab sweep` command to finish them.")
               + " Each number below is a mean over seeds with its 95% confidence interval (Student t), "
                 "so a narrow interval means the seeds agree.")
    out.append(f'<div class="meaning"><h3>What this means</h3><p>{esc(meaning)}</p></div>')
    if text:
        out.append(f'<blockquote class="claim-text"><p>{esc(user_text(text))}</p></blockquote>')
    out.append(f'<p class="note">From <code>{esc(str(folder))}</code>.</p>')
    # verdicts per point
    head = "".join(f'<th scope="col" class="l">{esc(k)}</th>' for k in grid) or '<th scope="col" class="l">grid point</th>'
    rows = []
    for p, k in zip(points, keys):
        cells = "".join(f"<td>{esc(config_text(p['point'].get(g)))}</td>" for g in grid) or "<td>all runs</td>"
        v = p.get("verdicts", {})
        n_runs = len(p.get("runs", [])) + len(p.get("missing", []))
        rows.append(f"<tr>{cells}<td class=\"num\">{len(p.get('runs', []))} of {n_runs}</td>"
                    + "".join(f'<td class="num">{v.get(s, 0)}</td>' for s in STATUS_LABEL)
                    + f'<td class="num">{len(p.get("nonfinite", {}))}</td>'
                    + f'<td class="num">{esc(_ci_text(k))}</td></tr>')
    status_heads = "".join(f'<th scope="col" class="r">{STATUS_MARK[s]} {STATUS_LABEL[s]}</th>' for s in STATUS_LABEL)
    out.append("<h3>Per grid point</h3>")
    out.append(f'<table class="metric sweep-points"><caption>Verdicts and key number per grid point</caption><thead><tr>'
               f'{head}<th scope="col" class="r">runs finished</th>{status_heads}'
               f'<th scope="col" class="r">runs with NaN/inf</th>'
               f'<th scope="col" class="r">key number: mean [95% CI]</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')
    out.append(f'<p class="table-note">Key number: {esc(user_text(key_label) or "none recorded in these runs")}.</p>')
    # figures
    out.append("<h3>Figures</h3>")
    for i, (img, caption) in enumerate(_figures(claim, agg, key_label, keys), 1):
        out.append(f'<figure data-caption="sweep">{img}<figcaption><strong>Figure S{index}.{i}.</strong> '
                   f'{esc(caption)}</figcaption></figure>')
    # key metrics
    labels = [_point_label(p.get("point", {})) for p in points]

    def metric_table(names: Sequence[str], caption: str) -> str:
        body = []
        for name in names:
            cells = "".join(f'<td class="num">{esc(_ci_text(p.get("metrics", {}).get(name, {})))}</td>' for p in points)
            body.append(f'<tr><th scope="row"><code>{esc(name)}</code></th>{cells}</tr>')
        heads = "".join(f'<th scope="col" class="r">{esc(lb)}</th>' for lb in labels)
        return (f'<table class="metric sweep-metrics"><caption>{esc(caption)}</caption><thead><tr>'
                f'<th scope="col" class="l">metric</th>{heads}</tr></thead><tbody>{"".join(body)}</tbody></table>')

    out.append("<h3>Key metrics</h3>")
    if shown:
        out.append('<div class="metric-card">' + metric_table(shown, "Mean [95% CI] over seeds, per grid point")
                   + '<p class="table-note">A dash: no finite value at that point. Metric names are the keys of '
                     'result.json\'s metrics, nested keys joined by dots.</p></div>')
    else:
        out.append('<p class="not-measured">No numeric metric in the finished runs.</p>')
    if rest:
        out.append(f'<details class="all-metrics"><summary>{plural(len(rest), "more metric")} '
                   f'(per-layer and per-step values)</summary>{metric_table(rest, "Mean [95% CI] over seeds")}</details>')
    if module is not None:
        out.append(f'<p class="cmd-label">One run of this claim at full scale:</p><pre class="cmd"><code>'
                   f'{command_html(getattr(module, "COMMAND", f"actlab run {claim}"))}</code></pre>')
    out.append("</section>")
    return "\n".join(out)


def sweep_summary(root: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Per sweep at ``root``: claim, runs found/expected, verdict counts (for the command to print)."""
    out = []
    for folder in find_sweeps(root):
        agg = _aggregate(folder)
        counts = {s: sum(p.get("verdicts", {}).get(s, 0) for p in agg["points"]) for s in STATUS_LABEL}
        out.append({"claim": agg.get("experiment"), "folder": folder, "runs_found": agg.get("runs_found"),
                    "runs_expected": agg.get("runs_expected"), "verdicts": counts, "points": len(agg["points"])})
    return out


def render_sweep_html(root: str | os.PathLike[str]) -> str:
    """The sweep report of ``root`` as one HTML document."""
    from .page import page

    sweeps = find_sweeps(root)
    if not sweeps:
        raise ReportError(f"{root}: no sweep.json here or in a folder below it (see docs/SWEEPS.md)")
    sections = [_sweep_section(folder, i) for i, folder in enumerate(sweeps, 1)]
    toc = "".join(f'<li><a href="#sweep-{i}">{esc(f.name)}</a></li>' for i, f in enumerate(sweeps, 1))
    body = f"""<main>
<header class="top" id="summary">
<h1>actlab sweep report</h1>
<p class="lede">Independent runs of a claim over a grid of settings and several seeds. Per grid point: how many
runs gave each verdict, and each key number's mean with its 95% confidence interval over the seeds.</p>
<p class="meta">Sweep folder <code>{esc(str(root))}</code> \u00b7 actlab {esc(__version__)}</p>
<ul class="toc">{toc}</ul>
</header>
{"".join(sections)}
<footer class="page-foot">Made by <code>actlab report</code> from <code>sweep.json</code> and the runs'
<code>result.json</code> files. Everything is in this one file: it reads offline and prints.</footer>
</main>"""
    return page(f"actlab sweep report: {Path(root).resolve().name}", body)


def build_sweep_report(root: str | os.PathLike[str], name: str = "report.html") -> Path:
    """Write ``root/report.html`` for a sweep folder; return its path."""
    root = Path(root)
    text = render_sweep_html(root).encode("utf-8", "backslashreplace").decode("utf-8")
    path = root / name
    return write_text_atomic(text, path)


