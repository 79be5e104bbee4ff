"""An in-memory ``ComputeEngine`` for the service tier: the Ray engine's contract, no cluster.

It records what the reconciler submits and lets a test decide what happens next, as a cluster
would: ``start`` (running), ``run`` (the job's real work: the same document, read from the
same store, through the same ``assay.jobs.run.execute`` the engine's entrypoint calls; its
summary, failure reason and outputs are what the reconciler then reads), ``fail`` (the engine
reports a failure of its own), ``forget`` (the cluster restarted and lost every job) and
``reachable`` (the engine cannot be reached). Only the credential exchange with the job API is
skipped: that boundary is covered by the integration tier.

Not shipped: services are tested with it, never run on it.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass, field

from assay.compute import ComputeEngine, EngineJob, EngineStatus, EngineUnavailableError, JobSpec
from assay.jobs.run import execute, read_document
from assay.storage import ObjectStore

FINISHED = (EngineStatus.SUCCEEDED, EngineStatus.FAILED, EngineStatus.STOPPED)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Submission:
    spec: JobSpec
    state: EngineJob = field(default_factory=lambda: EngineJob(EngineStatus.PENDING))
    logs: str = ""
    stop_asked: bool = False


class MemoryCompute(ComputeEngine):
    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.submissions: dict[str, Submission] = {}
        self.submitted: list[str] = []  # every submit call, repeats included
        self.reachable = True

    def check(self) -> None:
        if not self.reachable:
            raise EngineUnavailableError("the in-memory engine is marked unreachable")

    def submit(self, spec: JobSpec) -> None:
        self.check()
        self.submitted.append(spec.submission_id)
        self.submissions.setdefault(spec.submission_id, Submission(spec))

    def info(self, submission_id: str) -> EngineJob | None:
        self.check()
        found = self.submissions.get(submission_id)
        return found.state if found else None

    def logs(self, submission_id: str) -> str:
        self.check()
        found = self.submissions.get(submission_id)
        return found.logs if found else ""

    def stop(self, submission_id: str) -> None:
        self.check()
        found = self.submissions.get(submission_id)
        if found is not None and found.state.status not in FINISHED:
            found.stop_asked = True
            self._end(found, EngineStatus.STOPPED, "stopped on request")

    def python(self) -> str:
        return sys.executable

    # What a test does in the cluster's place.

    def start(self, submission_id: str) -> None:
        found = self.submissions[submission_id]
        found.state = EngineJob(EngineStatus.RUNNING, started_at=_now())
        found.logs += "started\n"

    def run(self, submission_id: str) -> None:
        """Run the job's work now, in this process, as ``python -m assay.jobs.run KEY`` would."""
        self.start(submission_id)
        found = self.submissions[submission_id]
        document = read_document(self.store, found.spec.argv[-1])
        try:
            execute(self.store, document, lambda: None)
        except Exception as exc:
            self._end(found, EngineStatus.FAILED, f"Job entrypoint command failed with exit code 1: {exc}")
        else:
            self._end(found, EngineStatus.SUCCEEDED, "")

    def fail(self, submission_id: str, message: str) -> None:
        self._end(self.submissions[submission_id], EngineStatus.FAILED, message)

    def forget(self) -> None:
        self.submissions.clear()

    def _end(self, found: Submission, status: EngineStatus, message: str) -> None:
        found.state = EngineJob(status, message, started_at=found.state.started_at, ended_at=_now())
        found.logs += f"{status}\n"
