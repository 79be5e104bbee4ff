"""Exports of a comparison: JSON, CSV (one row per example) and a self-contained HTML report.

The report is meant to be sent: it opens anywhere with no network and no script (inline CSS
and SVG only), its summary table wraps instead of scrolling (metrics down, workflows across,
fixed layout), every chart has axes, values and 95% CI whiskers, the quality/latency/cost
scatters carry a legend with the full names, failed scores and ties are said in words, and the
examples where the models disagree most come first, with each output's scores beside it.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from assay.services.comparison import Comparison, WorkflowScores, lower_is_better, spread

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b8860b", "#b07aa1", "#9c755f")
HEADLINE_PREFERENCE = ("llm_judge", "rougeL", "rouge1", "bertscore_f1", "meteor", "bleu", "f1", "exact_match")
EXAMPLES_SHOWN = 50
TEXT_SHOWN = 4000
CHAR_PX = 6.2  # average width of a 11 px system-ui character, to size label gutters
CHART_WIDTH = 560


def to_json(comparison: Comparison, examples: dict[str, Any]) -> str:
    return json.dumps({**comparison.to_dict(), "examples": examples["rows"]}, default=str, indent=2)


def to_csv(comparison: Comparison, examples: dict[str, Any]) -> str:
    names = {workflow.workflow_id: workflow.name for workflow in comparison.workflows}
    score_names = comparison.score_names
    header = ["index", "example", "ground_truth"]
    for workflow_id in examples["workflows"]:
        header.append(f"{names[workflow_id]}: prediction")
        header.extend(f"{names[workflow_id]}: {score}" for score in score_names)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in examples["rows"]:
        line = [row["index"], row["example"], row["ground_truth"]]
        for workflow_id in examples["workflows"]:
            output = row["outputs"][workflow_id]
            line.append(output["prediction"])
            line.extend(output["scores"].get(score) for score in score_names)
        writer.writerow(line)
    return buffer.getvalue()


def _e(value: object) -> str:
    return html.escape(str(value))


def _number(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3f}" if value == 0 or abs(value) >= 0.001 else f"{value:.2e}"


def _tick(value: float) -> str:
    return f"{value:.6g}"


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten that is at least ``value``."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= value * (1 - 1e-12))


def _ticks(top: float, count: int = 5) -> list[float]:
    return [top * index / count for index in range(count + 1)]


def _wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap at ``width`` characters; long words are cut."""
    lines: list[str] = []
    current = ""
    for word in text.split() or [""]:
        while len(word) > width:
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:width])
            word = word[width:]
        candidate = f"{current} {word}".strip()
        if len(candidate) > width and current:
            lines.append(current)
            current = word
        else:
            current = candidate
    lines.append(current)
    return lines


def _x_grid(ticks: Sequence[float], x_of: Callable[[float], float], top_pad: float, plot_h: float) -> str:
    """Vertical grid lines with the x axis' tick labels under the plot."""
    bottom = top_pad + plot_h
    return "".join(
        f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{top_pad}" y2="{bottom}"/>'
        f'<text class="tick" x="{x:.1f}" y="{bottom + 14}" text-anchor="middle">{_tick(tick)}</text>'
        for tick, x in ((tick, x_of(tick)) for tick in ticks)
    )


def _axes(left: float, top_pad: float, plot_w: float, plot_h: float, height: float, x: str, y: str) -> str:
    """Both axis lines and their labels (classes ``axis-label x`` and ``axis-label y``)."""
    bottom = top_pad + plot_h
    return (
        f'<line class="axis" x1="{left}" x2="{left + plot_w}" y1="{bottom}" y2="{bottom}"/>'
        f'<line class="axis" x1="{left}" x2="{left}" y1="{top_pad}" y2="{bottom}"/>'
        f'<text class="axis-label x" x="{left + plot_w / 2:.1f}" y="{height - 7}" text-anchor="middle">'
        f"{_e(x)}</text>"
        f'<text class="axis-label y" transform="translate(13 {top_pad + plot_h / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle">{_e(y)}</text>'
    )


@dataclass(frozen=True)
class _Series:
    """One workflow as the charts draw it: its colour and number in the legend."""

    number: int
    color: str
    workflow: WorkflowScores


def _series(comparison: Comparison) -> list[_Series]:
    return [
        _Series(index + 1, PALETTE[index % len(PALETTE)], workflow)
        for index, workflow in enumerate(comparison.workflows)
    ]


def _rank_label(comparison: Comparison, score: str, workflow_id: str) -> str:
    if comparison.best.get(score) == workflow_id:
        return "best"
    if workflow_id in comparison.ties.get(score, ()):
        return "tie"
    return ""


def _bar_chart(comparison: Comparison, series: Sequence[_Series], score: str) -> str:
    """Horizontal bars (one per workflow) with the mean written beside each, 95% CI whiskers,
    an x axis with ticks and a label, and the workflow names on the y axis."""
    direction = "lower is better" if lower_is_better(score) else "higher is better"
    gutter_chars = 26
    rows = []
    for item in series:
        lines = _wrap(f"{item.number}. {item.workflow.name}", gutter_chars)[:3]
        rows.append((item, lines, max(26, 13 * len(lines) + 8)))
    left, right, top_pad, axis_h = int(gutter_chars * CHAR_PX) + 12, 86, 10, 44
    plot_w = CHART_WIDTH - left - right
    plot_h = sum(height for _, _, height in rows)
    present = [s.workflow.metrics[score] for s in series if score in s.workflow.metrics]
    top = _nice_ceiling(max((max(stats["ci_high"], stats["mean"]) for stats in present), default=1.0))
    height = top_pad + plot_h + axis_h

    def x_of(value: float) -> float:
        return left + plot_w * max(0.0, min(value, top)) / top

    parts = [
        f'<svg class="chart bars" viewBox="0 0 {CHART_WIDTH} {height}" width="{CHART_WIDTH}" '
        f'height="{height}" role="img" aria-label="{_e(score)} per workflow">'
    ]
    parts.append(_x_grid(_ticks(top), x_of, top_pad, plot_h))
    parts.append(
        _axes(left, top_pad, plot_w, plot_h, height, f"{score}: mean with 95% CI ({direction})", "workflow")
    )
    y = top_pad
    for item, lines, row_h in rows:
        workflow = item.workflow
        middle = y + row_h / 2
        first = middle - 6.5 * (len(lines) - 1) + 4
        label = "".join(
            f'<tspan x="{left - 8}" y="{first + 13 * index:.1f}">{_e(line)}</tspan>'
            for index, line in enumerate(lines)
        )
        parts.append(f'<text class="name" text-anchor="end"><title>{_e(workflow.name)}</title>{label}</text>')
        stats = workflow.metrics.get(score)
        failure = workflow.failures.get(score)
        if stats is None:
            note = f"failed on {failure['failed']}/{failure['examples']} examples" if failure else "no result"
            parts.append(
                f'<text class="{"failed" if failure else "missing"}" x="{left + 6}" y="{middle + 4:.1f}">'
                f"{_e(note)}</text>"
            )
            y += row_h
            continue
        bar_end = x_of(stats["mean"])
        low, high = x_of(stats["ci_low"]), x_of(stats["ci_high"])
        rank = _rank_label(comparison, score, workflow.workflow_id)
        value = _number(stats["mean"]) + (f" ({rank})" if rank else "")
        if failure:
            value += f" · failed on {failure['failed']}"
        parts.append(
            f'<rect x="{left}" y="{middle - 8:.1f}" width="{max(bar_end - left, 1):.1f}" height="16" '
            f'fill="{item.color}"><title>{_e(workflow.name)}: {_number(stats["mean"])} '
            f"[{_number(stats['ci_low'])}, {_number(stats['ci_high'])}]</title></rect>"
            f'<path class="whisker" d="M{low:.1f} {middle:.1f}H{high:.1f}M{low:.1f} {middle - 5:.1f}'
            f'V{middle + 5:.1f}M{high:.1f} {middle - 5:.1f}V{middle + 5:.1f}"/>'
            f'<text class="value" x="{max(bar_end, high) + 5:.1f}" y="{middle + 4:.1f}">{_e(value)}</text>'
        )
        y += row_h
    parts.append("</svg>")
    return "".join(parts)


def _scatter(
    comparison: Comparison, series: Sequence[_Series], usage: str, stat: str, score: str, unit: str
) -> str | None:
    """Quality (y, with its 95% CI) against a usage figure (x): numbered points, axes with
    ticks and labels; the legend with full names sits beside the charts. ``None`` when no
    workflow recorded ``usage``."""
    points = [
        (item, item.workflow.usage[usage][stat], item.workflow.metrics[score])
        for item in series
        if usage in item.workflow.usage and score in item.workflow.metrics
    ]
    if not points:
        return None
    width, height = CHART_WIDTH, 340
    left, right, top_pad, bottom = 62, 24, 14, 48
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    x_top = _nice_ceiling(max(x for _, x, _ in points) * 1.1)
    y_top = _nice_ceiling(max(stats["ci_high"] for _, _, stats in points))

    def x_of(value: float) -> float:
        return left + plot_w * value / x_top

    def y_of(value: float) -> float:
        return top_pad + plot_h - plot_h * max(0.0, min(value, y_top)) / y_top

    parts = [
        f'<svg class="chart scatter" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{_e(score)} against {_e(usage)}">'
    ]
    parts.append(_x_grid(_ticks(x_top), x_of, top_pad, plot_h))
    for tick in _ticks(y_top, 4):
        y = y_of(tick)
        parts.append(
            f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_tick(tick)}</text>'
        )
    parts.append(
        _axes(left, top_pad, plot_w, plot_h, height, f"{usage} ({stat}, {unit})", f"{score} (mean, 95% CI)")
    )
    for item, x_value, stats in points:
        x, y = x_of(x_value), y_of(stats["mean"])
        parts.append(
            f'<path class="whisker" d="M{x:.1f} {y_of(stats["ci_low"]):.1f}V{y_of(stats["ci_high"]):.1f}"/>'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="9" fill="{item.color}"><title>{_e(item.workflow.name)}: '
            f"{_e(usage)} {_number(x_value)} {_e(unit)}, "
            f"{_e(score)} {_number(stats['mean'])}</title></circle>"
            f'<text class="marker" x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle">{item.number}</text>'
        )
    parts.append("</svg>")
    plotted = {item.number for item, _, _ in points}
    left_out = [item.workflow.name for item in series if item.number not in plotted]
    if left_out:
        parts.append(
            f'<p class="note">Not plotted (no {_e(usage)} or {_e(score)}): {_e(", ".join(left_out))}</p>'
        )
    return "".join(parts)


def _legend(series: Sequence[_Series]) -> str:
    items = "".join(
        f'<li><span class="swatch" style="background:{item.color}">{item.number}</span>'
        f"<span><b>{_e(item.workflow.name)}</b><br><small>{_e(item.workflow.provider)} · "
        f"{_e(item.workflow.model)}</small></span></li>"
        for item in series
    )
    return f'<ul class="legend">{items}</ul>'


def _headline(comparison: Comparison) -> str | None:
    scored = [
        score for score in comparison.score_names if any(score in w.metrics for w in comparison.workflows)
    ]
    preferred = [score for score in HEADLINE_PREFERENCE if score in scored]
    choices = preferred or scored
    return choices[0] if choices else None


def _summary_table(comparison: Comparison, series: Sequence[_Series]) -> str:
    head = "".join(
        f'<th><span class="swatch" style="background:{item.color}">{item.number}</span> '
        f"{_e(item.workflow.name)}<br><small>{_e(item.workflow.model)}</small><br>"
        f'<span class="status {_e(item.workflow.status)}">{_e(item.workflow.status)}</span></th>'
        for item in series
    )
    body = []
    for score in comparison.score_names:
        cells = []
        for item in series:
            workflow = item.workflow
            stats, failure = workflow.metrics.get(score), workflow.failures.get(score)
            rank = _rank_label(comparison, score, workflow.workflow_id)
            content = (
                f'<span class="mean">{_number(stats["mean"])}</span>'
                f"{f' <span class=tag>{rank}</span>' if rank else ''}"
                f"<br><small>[{_number(stats['ci_low'])}, {_number(stats['ci_high'])}]</small>"
                if stats
                else ""
            )
            if failure:
                content += f'<div class="failed">failed on {failure["failed"]} of {failure["examples"]}</div>'
            cells.append(f'<td class="{rank}">{content or "-"}</td>')
        arrow = "↓" if lower_is_better(score) else "↑"
        body.append(f"<tr><th scope=row>{_e(score)} {arrow}</th>{''.join(cells)}</tr>")
    for label, usage, stat, template in (
        ("latency, mean", "latency_ms", "mean", "{:,.1f} ms"),
        ("latency, p95", "latency_ms", "p95", "{:,.1f} ms"),
        ("cost, total", "cost", "total", "${:,.4f}"),
    ):
        if any(usage in item.workflow.usage for item in series):
            figures = "".join(
                f"<td>{template.format(item.workflow.usage[usage][stat])}</td>"
                if usage in item.workflow.usage
                else "<td>-</td>"
                for item in series
            )
            body.append(f"<tr><th scope=row>{label}</th>{figures}</tr>")
    return (
        '<div class="fit"><table class="summary"><colgroup><col class="label">'
        f"{'<col>' * len(series)}</colgroup><thead><tr><th>metric</th>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _clip(text: object) -> str:
    value = "" if text is None else str(text)
    return value if len(value) <= TEXT_SHOWN else value[:TEXT_SHOWN] + "…"


def _examples_section(
    comparison: Comparison, series: Sequence[_Series], examples: dict[str, Any], headline: str | None
) -> str:
    shown = [item for item in series if item.workflow.workflow_id in examples["workflows"]]
    if not shown or not examples["rows"]:
        return "<p>No scored examples yet.</p>"
    rows = list(examples["rows"])
    if headline:
        rows.sort(key=lambda row: -spread(row, headline))
    scores = comparison.score_names
    lines = []
    for row in rows[:EXAMPLES_SHOWN]:
        outputs = []
        for item in shown:
            output = row["outputs"][item.workflow.workflow_id]
            chips = "".join(
                f"<span class=chip>{_e(score)} {_number(output['scores'][score])}</span>"
                for score in scores
                if output["scores"].get(score) is not None
            )
            errors = "".join(
                f'<div class="failed">{_e(score)} failed: {_e(error)}</div>'
                for score, error in output.get("errors", {}).items()
            )
            outputs.append(
                f'<td><div class="text">{_e(_clip(output["prediction"]))}</div>'
                f'<div class="chips">{chips}</div>{errors}</td>'
            )
        lines.append(
            f'<tr><td class="index">{row["index"]}</td>'
            f'<td><div class="text">{_e(_clip(row["example"]))}</div></td>'
            f'<td><div class="text">{_e(_clip(row["ground_truth"]))}</div></td>{"".join(outputs)}</tr>'
        )
    head = "".join(
        f'<th><span class="swatch" style="background:{item.color}">{item.number}</span> '
        f"{_e(item.workflow.name)}</th>"
        for item in shown
    )
    order = (
        f"sorted by how much the models disagree on {_e(headline)} (largest spread first)"
        if headline
        else "in dataset order"
    )
    return (
        f"<p>{min(len(rows), EXAMPLES_SHOWN)} of {len(rows)} examples, {order}; "
        "each output with its scores below it.</p>"
        f'<table class="examples"><colgroup><col class="index"><col><col>{"<col>" * len(shown)}</colgroup>'
        f"<thead><tr><th>#</th><th>input</th><th>reference</th>{head}</tr></thead>"
        f"<tbody>{''.join(lines)}</tbody></table>"
    )


STYLE = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1d1f;margin:0 auto;
max-width:1400px;padding:24px 32px}
h1{margin:0 0 4px;font-size:24px}h2{margin:28px 0 10px;font-size:18px;border-bottom:1px solid #ddd}
.meta{color:#555;margin:0 0 12px}
.warnings{background:#fff4e5;border:1px solid #f0b35b;border-radius:6px;padding:8px 14px}
.warnings li{margin:2px 0}
.fit{width:100%;overflow-x:auto}
table{border-collapse:collapse;width:100%;table-layout:fixed}
td,th{border:1px solid #d8d8d8;padding:6px 8px;vertical-align:top;text-align:left;overflow-wrap:anywhere}
thead th{background:#f5f6f8}
.summary col.label{width:170px}.summary td{font-variant-numeric:tabular-nums}
.summary .mean{font-weight:600}
td.best{background:#e1f3e1}td.tie{background:#eef1f7}
.tag{font-size:11px;padding:0 5px;border-radius:8px;background:#fff;border:1px solid #999}
.failed{color:#b3261e;font-size:12px}
.status{font-size:11px;padding:0 6px;border-radius:8px;background:#e8e8e8}
.status.succeeded{background:#e1f3e1}.status.failed,.status.stopped{background:#fbe3e1;color:#b3261e}
.swatch{display:inline-block;min-width:18px;height:18px;border-radius:9px;color:#fff;font-size:11px;
font-weight:700;text-align:center;line-height:18px;vertical-align:middle}
.charts{display:flex;flex-wrap:wrap;gap:16px 24px;align-items:flex-start}
figure{margin:0;max-width:100%}figcaption{font-weight:600;margin-bottom:4px}
svg.chart{max-width:100%;height:auto;font:11px system-ui,sans-serif}
svg .grid{stroke:#eee}svg .axis{stroke:#555}svg .tick{fill:#555}
svg .axis-label{fill:#222;font-weight:600}svg .value{fill:#222}
svg .whisker{stroke:#222;stroke-width:1.5;fill:none}
svg .failed{fill:#b3261e}svg .missing{fill:#777}
svg .marker{fill:#fff;font-weight:700}
.legend{list-style:none;padding:0;margin:0 0 12px;display:flex;flex-wrap:wrap;gap:8px 24px}
.legend li{display:flex;gap:8px;align-items:flex-start;max-width:360px}
.note{color:#555;font-size:12px;margin:4px 0 0}
.examples col.index{width:44px}.examples td.index{color:#777}
.text{white-space:pre-wrap}
.chips{margin-top:6px;display:flex;flex-wrap:wrap;gap:4px}
.chip{font-size:11px;background:#f0f2f5;border-radius:4px;padding:0 5px;font-variant-numeric:tabular-nums}
@media print{body{padding:0}.fit{overflow:visible}}
"""


def to_html(comparison: Comparison, examples: dict[str, Any]) -> str:
    series = _series(comparison)
    headline = _headline(comparison)
    warnings = comparison.warnings
    warning_block = (
        '<section class="warnings"><b>Read this first</b><ul>'
        + "".join(f"<li>{_e(note)}</li>" for note in warnings)
        + "</ul></section>"
        if warnings
        else ""
    )
    scored = [
        s
        for s in comparison.score_names
        if any(s in w.metrics or s in w.failures for w in comparison.workflows)
    ]
    bars = "".join(
        f"<figure><figcaption>{_e(score)}</figcaption>{_bar_chart(comparison, series, score)}</figure>"
        for score in scored
    )
    scatters = []
    if headline:
        for title, usage, stat, unit in (
            ("Quality against latency", "latency_ms", "mean", "ms per example"),
            ("Quality against cost", "cost", "total", "USD, whole run"),
        ):
            chart = _scatter(comparison, series, usage, stat, headline, unit)
            if chart:
                scatters.append(f"<figure><figcaption>{title}</figcaption>{chart}</figure>")
    trade_offs = (
        f'{_legend(series)}<div class="charts">{"".join(scatters)}</div>'
        if scatters
        else "<p>No latency or cost was recorded.</p>"
    )
    names = {workflow.workflow_id: workflow.name for workflow in comparison.workflows}
    ranking = "; ".join(
        f"{_e(score)}: tie between {', '.join(_e(names[workflow_id]) for workflow_id in ids)}"
        for score, ids in comparison.ties.items()
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(comparison.experiment_name)} — Assay comparison</title><style>{STYLE}</style></head><body>
<h1>{_e(comparison.experiment_name)}</h1>
<p class="meta">Task: {_e(comparison.task or "-")} · {len(comparison.workflows)} workflow(s).
Means with bootstrap 95% confidence intervals; "best" marks a mean strictly better than every
other, "tie" a best mean shared by several workflows.{f" Ties: {ranking}." if ranking else ""}</p>
{warning_block}
<h2>Summary</h2>{_summary_table(comparison, series)}
<h2>Metrics</h2><div class="charts">{bars or "<p>No scores yet.</p>"}</div>
<h2>Quality{f" ({_e(headline)})" if headline else ""} against latency and cost</h2>{trade_offs}
<h2>Examples</h2>{_examples_section(comparison, series, examples, headline)}
</body></html>"""
