"""Every object key is built by ``assay.storage.layout``: no other module under ``src/assay``
spells a key prefix or a layout file name in a string literal (docstrings aside), so the layout
can change in one place. A check a reviewer can repeat; it names each literal it finds."""

from __future__ import annotations

import ast
import re
import uuid
from pathlib import Path

import assay
from assay.storage import layout

ROOT = Path(assay.__file__).parent
LAYOUT = ROOT / "storage" / "layout.py"
# A key segment (``projects/``, ``{id}/results/``...) or one of the layout's file names. URL
# paths start with "/" and are routes, not keys.
KEY_PART = re.compile(
    r"(^|[^/]/|^[^/].*/)(projects|datasets|files|jobs|results|inference-cache|checkpoint|original|scratch)/"
    r"|^projects/"
    r"|(^|/)(summary\.json|failure\.json|scores\.parquet|compiled\.json|dataset\.parquet"
    r"|logs\.txt|worker-output\.txt)$"
)


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def key_literals(path: Path) -> list[str]:
    """``path:line: literal`` for every string constant (f-string parts included) that looks
    like a piece of an object key."""
    tree = ast.parse(path.read_text())
    skip = _docstrings(tree)
    hits = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in skip:
            continue
        if not node.value.startswith("/") and KEY_PART.search(node.value):
            hits.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    return hits


def test_no_key_literal_outside_the_layout_module() -> None:
    hits = [hit for path in sorted(ROOT.rglob("*.py")) if path != LAYOUT for hit in key_literals(path)]
    assert hits == [], "object keys spelled outside assay/storage/layout.py:\n" + "\n".join(hits)


def test_the_check_sees_a_key_literal() -> None:
    """The check is not blind: the literals the layout module itself uses are flagged."""
    assert key_literals(LAYOUT)


def test_keys_nest_under_their_project() -> None:
    """Deleting a project's prefix deletes everything of it; a job's results and an output
    dataset sit where the job's scope and the cleanup outbox expect them."""
    job, dataset = uuid.uuid4(), uuid.uuid4()
    project = layout.project_prefix("p1")
    for key in (
        layout.dataset_prefix("p1", dataset),
        layout.file_prefix("p1", dataset),
        layout.job_document_key("p1", job),
        layout.job_logs_key("p1", job),
        layout.worker_output_key("p1", job),
        layout.inference_cache_prefix("p1"),
    ):
        assert key.startswith(project)
    results = layout.job_results_prefix("p1", job)
    assert results.startswith(layout.job_prefix("p1", job)) and results.endswith("/")
    assert layout.result_key(results, layout.SUMMARY_FILE) == f"{results}summary.json"
    prompts, answers, checkpoint = layout.judge_attempt_keys(layout.scratch_prefix(results), "a")
    assert all(key.startswith(f"{results}scratch/a/") for key in (prompts, answers, checkpoint))
