"""The Ray implementation of ``ComputeEngine``, on Ray's Jobs API."""

from __future__ import annotations

import datetime as dt
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from assay.compute.base import ComputeEngine, EngineJob, EngineStatus, EngineUnavailableError, JobSpec
from assay.compute.local_ray import LocalRayHead

STATUS_BY_RAY = {
    "PENDING": EngineStatus.PENDING,
    "RUNNING": EngineStatus.RUNNING,
    "SUCCEEDED": EngineStatus.SUCCEEDED,
    "FAILED": EngineStatus.FAILED,
    "STOPPED": EngineStatus.STOPPED,
}


def _from_millis(value: int | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(value / 1000, dt.UTC) if value else None


LOCAL_LOST_REASON = (
    "the local Ray head no longer knows this job: the server restarted its local Ray head "
    "(after a crash or a stop) and stopped the job's processes"
)
SHARED_HEAD_REFUSAL = (
    "this server cannot run user code apart from its own files: it runs its local Ray head as its "
    "own OS user (run the server as root so that it starts the head as ASSAY_RAY_USER, or set "
    "ASSAY_RAY_ADDRESS to a separate Ray cluster)"
)


NO_SANDBOX_REFUSAL = (
    "this server runs user code only in a bubblewrap sandbox, and bwrap is not installed: install "
    "Debian's 'bubblewrap' (scripts/install_sandbox.sh), or set ASSAY_RAY_ADDRESS to a separate "
    "Ray cluster"
)


class RayCompute(ComputeEngine):
    """Talks to an existing cluster (``address``) or to a local head it starts on first use.

    In multi-user mode the local head runs as ``ray_user`` when the server can arrange it (as
    root); otherwise user code would run as the server's own user, and ``code_refusal`` says so.
    """

    def __init__(
        self,
        address: str | None,
        home: Path,
        python: str | None = None,
        *,
        multi_user: bool = False,
        ray_user: str = "assay-ray",
        token_file: Path | None = None,
    ) -> None:
        self._address = address
        self._separate_user = multi_user and os.geteuid() == 0
        shared_user = multi_user and not address and not self._separate_user
        no_sandbox = self._separate_user and shutil.which("bwrap") is None
        self._refusal = SHARED_HEAD_REFUSAL if shared_user else NO_SANDBOX_REFUSAL if no_sandbox else None
        user = ray_user if self._separate_user else None
        self._local = None if address else LocalRayHead(home / "ray", user=user)
        self._python = python or (sys.executable if self._local else "python")
        self._token_file = token_file
        self._client: Any = None
        self._client_url = ""

    @property
    def owns_cluster(self) -> bool:
        return self._local is not None and self._local.running

    def code_refusal(self) -> str | None:
        return self._refusal

    def lost_reason(self) -> str | None:
        return LOCAL_LOST_REASON if self._local is not None else None

    def _headers(self) -> dict[str, str]:
        """Our token, given explicitly: never Ray's ``~/.ray/auth_token`` of the server's user."""
        if self._local is not None:
            return self._local.auth_headers()
        if self._token_file is None:
            return {}
        try:
            token = self._token_file.read_text().strip()
        except OSError as exc:
            # Not yet written (a head that is still starting) or a wrong path: the cluster is
            # unavailable to us until it can be read, which callers retry.
            raise EngineUnavailableError(
                f"cannot read the Ray token file {self._token_file} (ASSAY_RAY_AUTH_TOKEN_FILE, or "
                f"ASSAY_RAY_CLUSTER_TOKEN_FILES for a project's own cluster): {exc.strerror}"
            ) from exc
        return {"Authorization": f"Bearer {token}"}

    def _jobs(self) -> Any:
        from ray.exceptions import AuthenticationError
        from ray.job_submission import JobSubmissionClient

        url = self._local.ensure_started() if self._local else str(self._address)
        if self._client is None or url != self._client_url:
            try:
                self._client = JobSubmissionClient(url, headers=self._headers())
            except AuthenticationError as exc:
                raise EngineUnavailableError(
                    f"Ray at {url} refused our token (ASSAY_RAY_AUTH_TOKEN_FILE, or "
                    f"ASSAY_RAY_CLUSTER_TOKEN_FILES for a project's own cluster): {exc}"
                ) from exc
            except (ConnectionError, RuntimeError) as exc:
                raise EngineUnavailableError(f"Ray at {url} is unreachable: {exc}") from exc
            self._client_url = url
        return self._client

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        client = self._jobs()
        try:
            return getattr(client, method)(*args, **kwargs)
        except RuntimeError as exc:
            if "status code 404" in str(exc) or "does not exist" in str(exc):
                raise KeyError(args[0] if args else "") from exc
            raise EngineUnavailableError(f"Ray refused {method}: {exc}") from exc
        except (ConnectionError, OSError) as exc:
            self._client = None
            raise EngineUnavailableError(f"Ray is unreachable: {exc}") from exc

    def submit(self, spec: JobSpec) -> None:
        try:
            self._call(
                "submit_job",
                entrypoint=shlex.join(spec.argv),
                submission_id=spec.submission_id,
                runtime_env={"env_vars": spec.env},
                metadata=spec.labels,
                entrypoint_num_cpus=spec.num_cpus,
                entrypoint_num_gpus=spec.num_gpus or None,
            )
        except EngineUnavailableError as exc:
            if "already exists" not in str(exc):
                raise

    def info(self, submission_id: str) -> EngineJob | None:
        try:
            details = self._call("get_job_info", submission_id)
        except KeyError:
            return None
        return EngineJob(
            status=STATUS_BY_RAY[str(details.status.value)],
            message=details.message or "",
            started_at=_from_millis(details.start_time),
            ended_at=_from_millis(details.end_time),
        )

    def logs(self, submission_id: str) -> str:
        try:
            return str(self._call("get_job_logs", submission_id))
        except KeyError:
            return ""

    def stop(self, submission_id: str) -> None:
        try:
            self._call("stop_job", submission_id)
        except KeyError:
            return

    def python(self) -> str:
        return self._python

    def check(self) -> None:
        if self._local is not None and not self._local.running:
            return
        self._call("list_jobs")

    def close(self) -> None:
        """Stop the local head and every job process, if we started it; a later call starts a
        fresh one. An existing cluster is left alone: its jobs go on and a server resumes them."""
        if self._local is not None:
            self._local.stop()
            self._client = None
