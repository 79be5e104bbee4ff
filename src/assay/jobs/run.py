"""``python -m assay.jobs.run CONFIG_KEY``: the entrypoint of every job kind.

Reads the job document from object storage (settings come from ``ASSAY_*`` variables in the
job's environment), runs the kind's work, and writes results back to storage. It never
touches the database: the reconciler reads what it wrote.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable

from assay.config import Settings
from assay.jobs.document import JobDocument
from assay.jobs.sandbox import sandboxed
from assay.storage import ObjectStore, open_store

log = logging.getLogger("assay.job")

Runner = Callable[[JobDocument, ObjectStore], dict[str, object]]


def _runners() -> dict[str, Runner]:
    """Imported on demand: an evaluation job must not need torch installed for inference."""

    def inference(document: JobDocument, store: ObjectStore) -> dict[str, object]:
        from assay.jobs.inference import run

        return run(document, store)

    def evaluation(document: JobDocument, store: ObjectStore) -> dict[str, object]:
        from assay.jobs.evaluation import run

        return run(document, store)

    return {"inference": inference, "annotate": inference, "evaluator": evaluation}


def read_document(store: ObjectStore, key: str) -> JobDocument:
    with store.open_reader(key) as reader:
        return JobDocument.model_validate_json(reader.read())


def write_json(store: ObjectStore, key: str, payload: dict[str, object]) -> None:
    writer = store.open_writer(key, "application/json")
    writer.write(json.dumps(payload, default=str).encode())
    writer.commit()


def _exec_script(document: JobDocument) -> None:
    """Become the user's command (in a sandbox, ``assay.jobs.sandbox``), with its environment
    taken verbatim from the document."""
    argv = [str(arg) for arg in document.config["argv"]]
    env = {**os.environ, **{str(k): str(v) for k, v in document.config.get("env", {}).items()}}
    argv = sandboxed(argv, env)
    sys.stdout.flush()
    os.execvpe(argv[0], argv, env)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print("usage: python -m assay.jobs.run CONFIG_KEY", file=sys.stderr)
        return 2
    store = open_store(Settings())
    document = read_document(store, args[0])
    log.info("job %s (%s) %r starting", document.job_id, document.kind, document.name)
    if document.kind == "script":
        _exec_script(document)
    summary = _runners()[document.kind](document, store)
    write_json(store, document.summary_key, summary)
    log.info("job %s finished: %s", document.job_id, json.dumps(summary, default=str)[:2000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
