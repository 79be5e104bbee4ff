"""The contract between Assay and whatever runs its jobs.

The engine executes; it is never the source of truth. SQL records what was asked and what
happened, and the reconciler asks the engine through this interface.
"""

from __future__ import annotations

import datetime as dt
import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from assay.errors import EngineUnavailableError

__all__ = ["ComputeEngine", "EngineJob", "EngineStatus", "EngineUnavailableError", "JobSpec"]


class EngineStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass(frozen=True)
class JobSpec:
    """What to run: an argument vector (never a shell string built from user input)."""

    submission_id: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    num_cpus: float = 1.0
    num_gpus: float = 0.0


@dataclass(frozen=True)
class EngineJob:
    status: EngineStatus
    message: str = ""
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None


class ComputeEngine(ABC):
    @abstractmethod
    def submit(self, spec: JobSpec) -> None:
        """Start a job; submitting an id the engine already knows is not an error."""

    @abstractmethod
    def info(self, submission_id: str) -> EngineJob | None:
        """The job's state, or ``None`` when the engine does not know the id (it forgot it)."""

    @abstractmethod
    def logs(self, submission_id: str) -> str:
        """Everything the job printed so far."""

    @abstractmethod
    def stop(self, submission_id: str) -> None:
        """Ask the engine to stop the job; returns at once."""

    @abstractmethod
    def python(self) -> str:
        """The interpreter that job entrypoints should be started with."""

    @abstractmethod
    def check(self) -> None:
        """Raise ``EngineUnavailableError`` if the engine cannot be reached."""

    def close(self) -> None:  # noqa: B027 - most engines hold nothing
        """Release what the engine holds (a local cluster started for us)."""

    @property
    def owns_cluster(self) -> bool:
        """Whether a cluster that lives and dies with this server (embedded mode) runs now: its
        jobs cannot outlive a shutdown, so the server stops them and says so."""
        return False

    def code_refusal(self) -> str | None:
        """Why user code (script jobs, services, workspaces) must not run on this engine, or
        ``None`` when it may: code that users control must never run as the server's OS user in
        multi-user mode."""
        return None

    @property
    def runs_untrusted_code_safely(self) -> bool:
        return self.code_refusal() is None

    def lost_reason(self) -> str | None:
        """What to tell when the engine no longer knows a job, if it knows better than "lost"."""
        return None
