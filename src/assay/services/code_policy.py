"""Who may run code on the compute cluster.

Ray is not a boundary between tenants: every job on a cluster shares its OS user and can read
what other jobs leave there. So running code a user supplies (a script job, a Hugging Face
model with ``trust_remote_code``) is a permission an administrator grants, like a JupyterHub
account; owning a project, which anybody signed in can create, is not enough.
"""

from __future__ import annotations

from assay.compute import ComputeEngine
from assay.errors import PermissionDeniedError
from assay.records import UserRecord
from assay.schemas.jobs import JobConfig, JobInferenceConfig, ScriptJobConfig


def runs_user_code(config: JobConfig) -> bool:
    if isinstance(config, ScriptJobConfig):
        return True
    return isinstance(config, JobInferenceConfig) and config.trust_remote_code


def may_run_code(user: UserRecord) -> bool:
    return user.is_admin or user.can_run_code


def _field(config: JobConfig) -> str:
    return "job_config.job_type" if isinstance(config, ScriptJobConfig) else "job_config.trust_remote_code"


def require_safe_engine(engine: ComputeEngine, config: JobConfig) -> None:
    """Refuse user code where the cluster cannot keep it away from the server (multi-user mode
    whose local Ray head cannot run as a separate OS user), whoever asks."""
    refusal = engine.code_refusal() if runs_user_code(config) else None
    if refusal is not None:
        raise PermissionDeniedError(refusal, field=_field(config))


def require_code_permission(user: UserRecord | None, config: JobConfig) -> None:
    """Refuse a job that runs user code unless its creator may run code; ``None`` is Assay
    itself (a workflow's next step), whose jobs never run user code."""
    if user is None or not runs_user_code(config) or may_run_code(user):
        return
    what = "script jobs" if isinstance(config, ScriptJobConfig) else "trust_remote_code"
    raise PermissionDeniedError(
        f"{what} run code on the compute cluster: an administrator must grant you the permission "
        f"to run code (PATCH /api/v1/users/{user.username} with can_run_code, or "
        f"'assay users grant-code {user.username}')",
        field=_field(config),
    )
