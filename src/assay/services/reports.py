"""Exports of a comparison: JSON, CSV (one row per example) and a self-contained HTML report
with inline SVG charts, so the report opens anywhere with no network and no script."""

from __future__ import annotations

import csv
import html
import io
import json
from typing import Any

from assay.services.comparison import Comparison

BAR_WIDTH = 36
CHART_HEIGHT = 160
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7")


def to_json(comparison: Comparison, examples: dict[str, Any]) -> str:
    return json.dumps({**comparison.to_dict(), "examples": examples["rows"]}, default=str, indent=2)


def to_csv(comparison: Comparison, examples: dict[str, Any]) -> str:
    names = {workflow.workflow_id: workflow.name for workflow in comparison.workflows}
    score_names = sorted({score for w in comparison.workflows for score in w.metrics})
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


def _interval(stats: dict[str, float]) -> str:
    return f"{stats['mean']:.4f} [{stats['ci_low']:.4f}, {stats['ci_high']:.4f}]"


def _optional(value: float | None, template: str) -> str:
    return "-" if value is None else template.format(value)


def _bar_chart(comparison: Comparison, score: str) -> str:
    """One bar per workflow with its 95% CI as a whisker."""
    rows = [(w.name, w.metrics[score]) for w in comparison.workflows if score in w.metrics]
    top = max([stats["ci_high"] for _, stats in rows] + [1e-9])
    width = 40 + len(rows) * (BAR_WIDTH + 24)
    parts = [
        f'<svg width="{width}" height="{CHART_HEIGHT + 40}" role="img" aria-label="{html.escape(score)}">'
    ]
    for index, (name, stats) in enumerate(rows):
        x = 30 + index * (BAR_WIDTH + 24)
        height = CHART_HEIGHT * stats["mean"] / top
        low = CHART_HEIGHT - CHART_HEIGHT * stats["ci_low"] / top
        high = CHART_HEIGHT - CHART_HEIGHT * stats["ci_high"] / top
        color = PALETTE[index % len(PALETTE)]
        middle = x + BAR_WIDTH / 2
        parts.append(
            f'<rect x="{x}" y="{CHART_HEIGHT - height:.1f}" width="{BAR_WIDTH}" height="{height:.1f}" '
            f'fill="{color}"><title>{html.escape(name)}: {_interval(stats)}</title></rect>'
            f'<line x1="{middle}" x2="{middle}" y1="{low:.1f}" y2="{high:.1f}" stroke="#222"/>'
            f'<text x="{x}" y="{CHART_HEIGHT + 14}" font-size="10">{html.escape(name[:12])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _scatter(comparison: Comparison, usage: str, score: str) -> str:
    """Quality (y) against latency or cost (x), one point per workflow."""
    points = [
        (w.name, w.usage[usage]["mean"], w.metrics[score]["mean"])
        for w in comparison.workflows
        if usage in w.usage and score in w.metrics
    ]
    if not points:
        return f"<p>No {html.escape(usage)} recorded.</p>"
    max_x = max(x for _, x, _ in points) or 1.0
    max_y = max(y for _, _, y in points) or 1.0
    parts = [f'<svg width="360" height="{CHART_HEIGHT + 40}" role="img" aria-label="{usage} vs {score}">']
    parts.append(f'<line x1="30" y1="{CHART_HEIGHT}" x2="350" y2="{CHART_HEIGHT}" stroke="#999"/>')
    for index, (name, x_value, y_value) in enumerate(points):
        x = 30 + 300 * x_value / max_x
        y = CHART_HEIGHT - (CHART_HEIGHT - 10) * y_value / max_y
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{PALETTE[index % len(PALETTE)]}">'
            f"<title>{html.escape(name)}: {usage} {x_value:.4g}, {score} {y_value:.4f}</title></circle>"
            f'<text x="{x + 8:.1f}" y="{y:.1f}" font-size="10">{html.escape(name[:16])}</text>'
        )
    parts.append(
        f'<text x="150" y="{CHART_HEIGHT + 30}" font-size="11">{html.escape(usage)} (mean)</text></svg>'
    )
    return "".join(parts)


def to_html(comparison: Comparison, examples: dict[str, Any]) -> str:
    scores = sorted({score for w in comparison.workflows for score in w.metrics})
    head = "".join(f"<th>{html.escape(score)}</th>" for score in scores)
    body = []
    for workflow in comparison.workflows:
        cells = []
        for score in scores:
            stats = workflow.metrics.get(score)
            if stats is None:
                cells.append("<td>-</td>")
                continue
            best = ' class="best"' if comparison.best.get(score) == workflow.workflow_id else ""
            cells.append(f"<td{best}>{_interval(stats)}</td>")
        latency = workflow.usage.get("latency_ms", {}).get("mean")
        cost = workflow.usage.get("cost", {}).get("total")
        body.append(
            f"<tr><td>{html.escape(workflow.name)}<br><small>{html.escape(workflow.model)}</small></td>"
            f"<td>{html.escape(workflow.status)}</td>{''.join(cells)}"
            f"<td>{_optional(latency, '{:.0f} ms')}</td><td>{_optional(cost, '{:.4f}')}</td></tr>"
        )
    charts = "".join(
        f"<figure><figcaption>{html.escape(s)}</figcaption>{_bar_chart(comparison, s)}</figure>"
        for s in scores
    )
    headline = scores[0] if scores else ""
    scatters = (
        f"<figure>{_scatter(comparison, 'latency_ms', headline)}</figure>"
        f"<figure>{_scatter(comparison, 'cost', headline)}</figure>"
        if headline
        else ""
    )
    names = {w.workflow_id: w.name for w in comparison.workflows}
    example_rows = "".join(
        "<tr><td>{}</td><td>{}</td>{}</tr>".format(
            html.escape(str(row["example"])[:500]),
            html.escape(str(row["ground_truth"])[:500]),
            "".join(
                f"<td>{html.escape(str(row['outputs'][wid]['prediction'])[:500])}</td>"
                for wid in examples["workflows"]
            ),
        )
        for row in examples["rows"][:50]
    )
    example_head = "".join(f"<th>{html.escape(names[wid])}</th>" for wid in examples["workflows"])
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{html.escape(comparison.experiment_name)} — Assay comparison</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top}}.best{{background:#d9f2d9;font-weight:bold}}
figure{{display:inline-block;margin:1rem}}</style></head><body>
<h1>{html.escape(comparison.experiment_name)}</h1><p>Task: {html.escape(comparison.task)}.
Means with bootstrap 95% confidence intervals; the best per metric is highlighted.</p>
<table><tr><th>workflow</th><th>status</th>{head}<th>latency</th><th>cost</th></tr>{"".join(body)}</table>
<h2>Metrics</h2>{charts}<h2>Quality against latency and cost</h2>{scatters}
<h2>Examples</h2><table><tr><th>input</th><th>reference</th>{example_head}</tr>{example_rows}</table>
</body></html>"""
