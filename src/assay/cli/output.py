"""What the client commands share: the options every command takes, the connection (server
errors become a message and an exit status), and how results are printed: a table for
people, ``--json`` for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

from assay.client import APIError, Client, ConnectionFailed
from assay.schemas.experiments import ComparisonResponse
from assay.tasks import TASK_NAMES

ProjectOption = Annotated[
    str | None,
    typer.Option("--project", "-p", help="project id [default: ASSAY_PROJECT, the login's, or 'default']"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON, for scripts")]
TASKS_HELP = ", ".join(TASK_NAMES)
EXIT_REFUSED = 1
EXIT_UNREACHABLE = 2

# Piped output (scripts, tests) is not wrapped at 80 columns: a table row stays one line.
WIDTH = None if sys.stdout.isatty() else 240
console = Console(highlight=False, width=WIDTH)
errors = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 240)


@contextmanager
def failures_as_exit() -> Iterator[None]:
    """The server's refusal as ``error: STATUS: message (field)`` and exit status 1; a server
    that cannot be reached, exit status 2."""
    try:
        yield
    except APIError as exc:
        errors.print(Text(f"error: {exc}"))
        raise typer.Exit(EXIT_REFUSED) from None
    except ConnectionFailed as exc:
        errors.print(Text(f"error: cannot reach the server: {exc}"))
        raise typer.Exit(EXIT_UNREACHABLE) from None


@contextmanager
def connect(project: str | None, url: str | None = None) -> Iterator[Client]:
    with failures_as_exit(), Client(url, project=project) as client:
        yield client


def _cell(value: Any) -> Text:
    if value is None:
        return Text("")
    if isinstance(value, dict | list):
        return Text(json.dumps(value))
    return Text(str(value))


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def show_list(items: Iterable[BaseModel], columns: list[str], as_json: bool) -> None:
    """A listing: every field as JSON with ``--json``, else the chosen columns as a table."""
    rows = [item.model_dump(mode="json") for item in items]
    if as_json:
        print_json(rows)
        return
    table = Table(*(Column(Text(c)) for c in columns), show_edge=False)
    for row in rows:
        table.add_row(*(_cell(row.get(column)) for column in columns))
    console.print(table)


def show_one(item: BaseModel, as_json: bool) -> None:
    data = item.model_dump(mode="json")
    if as_json:
        print_json(data)
        return
    table = Table("field", "value", show_header=False, show_edge=False)
    for key, value in data.items():
        table.add_row(Text(key, style="bold"), _cell(value))
    console.print(table)


def ci_cell(stats: dict[str, float]) -> str:
    """A mean with its 95% CI, as the comparison table and its test read it."""
    return f"{stats['mean']:.4f} [{stats['ci_low']:.4f}, {stats['ci_high']:.4f}]"


def comparison_table(comparison: ComparisonResponse) -> Table:
    """Scores down, workflows across; ``*`` marks the workflow strictly best on a score (none
    is marked where several share the best mean)."""
    workflows = comparison.workflows
    table = Table("score", title=Text(comparison.experiment_name), show_edge=False)
    for workflow in workflows:
        table.add_column(Text(workflow.name))
    table.add_row("status", *(w.status for w in workflows))
    scores = sorted({score for w in workflows for score in w.metrics})
    for score in scores:
        cells = []
        for workflow in workflows:
            stats = workflow.metrics.get(score)
            mark = " *" if comparison.best.get(score) == workflow.workflow_id else ""
            cells.append(
                Text(ci_cell(stats) + mark, style="bold green" if mark else "") if stats else Text("-")
            )
        table.add_row(score, *cells)
    return table


def print_comparison(comparison: ComparisonResponse, as_json: bool) -> None:
    if as_json:
        print_json(comparison.model_dump(mode="json"))
        return
    console.print(comparison_table(comparison))
    console.print("mean [95% CI]; * strictly best", style="dim")
    for warning in comparison.warnings:
        errors.print(Text(f"warning: {warning}"))
