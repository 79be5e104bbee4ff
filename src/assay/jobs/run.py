"""``python -m assay.jobs.run CONFIG_KEY``: the entrypoint of every job kind.

Its first act is to claim the job's credential at Assay's internal job API (``connection``);
from then on it reads the job document, its inputs and its provider key, and writes its
results, through that API only: it holds no storage credential. It never touches the
database: the reconciler reads what it wrote. Without a job credential in its environment
(started by hand) it opens the store from ``ASSAY_*`` storage settings instead.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterable

from assay.config import Settings
from assay.jobs.connection import connect
from assay.jobs.document import JobDocument
from assay.jobs.environment import script_env
from assay.jobs.failure import recorded
from assay.jobs.sandbox import sandboxed
from assay.storage import ObjectStore, open_store

log = logging.getLogger("assay.job")

Runner = Callable[[JobDocument, ObjectStore, str | None], dict[str, object]]


def _runners() -> dict[str, Runner]:
    """Imported on demand: an evaluation job must not need torch installed for inference."""

    def inference(document: JobDocument, store: ObjectStore, api_key: str | None) -> dict[str, object]:
        from assay.jobs.inference import run

        return run(document, store, api_key)

    def evaluation(document: JobDocument, store: ObjectStore, api_key: str | None) -> dict[str, object]:
        from assay.jobs.evaluation import run

        return run(document, store, api_key)

    return {"inference": inference, "annotate": inference, "evaluator": evaluation}


def read_document(store: ObjectStore, key: str) -> JobDocument:
    with store.open_reader(key) as reader:
        return JobDocument.model_validate_json(reader.read())


def write_json(store: ObjectStore, key: str, payload: dict[str, object]) -> None:
    writer = store.open_writer(key, "application/json")
    writer.write(json.dumps(payload, default=str).encode())
    writer.commit()


def _exec_script(document: JobDocument, env_names: Iterable[str]) -> None:
    """Become the user's command, in a sandbox (``assay.jobs.sandbox``) and in an environment
    built from a clean base (``script_env``) plus the job's own variables from its document:
    no job credential, no server setting."""
    own = {str(k): str(v) for k, v in document.config.get("env", {}).items()}
    env = script_env(os.environ, env_names, own)
    argv = sandboxed([str(arg) for arg in document.config["argv"]], env, required=document.sandbox_required)
    sys.stdout.flush()
    os.execvpe(argv[0], argv, env)


def main(argv: list[str] | None = None, *, warm: bool = False) -> int:
    """``warm``: run by a warm worker (``assay.jobs.pool``), which runs built-in jobs only."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print("usage: python -m assay.jobs.run CONFIG_KEY", file=sys.stderr)
        return 2
    connection = connect()
    store: ObjectStore = connection.store if connection else open_store(Settings())
    document = read_document(store, args[0])
    log.info("job %s (%s) %r starting", document.job_id, document.kind, document.name)
    if document.kind == "script":
        if warm:
            raise PermissionError("a warm worker runs built-in jobs only, never user code")
        _exec_script(document, connection.env_names if connection else ())
    execute(store, document, connection.api_key if connection else lambda: None)
    return 0


def execute(
    store: ObjectStore, document: JobDocument, api_key: Callable[[], str | None]
) -> dict[str, object]:
    """Run a built-in job's work and write its summary (or, on failure, its reason): what every
    way of running a job shares, the engine's entrypoint above and the in-memory engine of the
    service tests alike. ``api_key`` is asked only once the work starts."""
    with recorded(store, document.kind, document.config, document.results_prefix):
        summary = _runners()[document.kind](document, store, api_key())
    write_json(store, document.summary_key, summary)
    log.info("job %s finished: %s", document.job_id, json.dumps(summary, default=str)[:2000])
    return summary


if __name__ == "__main__":
    sys.exit(main())
