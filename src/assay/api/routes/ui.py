"""The web UI: server-rendered pages (Jinja2 templates, htmx for the parts that refresh) that
read through the same services as the API. The pages only read; every write is a same-origin
``fetch`` of the JSON API from ``static/app.js``, so the API's checks (roles, the edge's Origin
and JSON-only guards) are the only write path there is and the UI needs no form routes of its
own to protect against CSRF. See docs/ui.md."""

from __future__ import annotations

import math
import shlex
import uuid
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from assay import __version__
from assay.api.credentials import read_credentials
from assay.api.deps import (
    AuditTrailDep,
    CatalogDep,
    ComparisonServiceDep,
    DatasetServiceDep,
    ExperimentServiceDep,
    FileServiceDep,
    JobServiceDep,
    ProjectAccessDep,
    ProjectServiceDep,
    RuntimeDep,
    SecretServiceDep,
    ServiceManagerDep,
    SessionDep,
    UserServiceDep,
)
from assay.api.errors import status_for
from assay.errors import AssayError, AuthenticationError
from assay.inference.registry import provider_names
from assay.metrics.registry import available_metrics, default_metrics
from assay.records import FileFolder, ProjectRecord, Role, UserRecord, WorkflowStatus
from assay.schemas.projects import ProjectResponse
from assay.services.app_services import ServiceManager
from assay.services.auth import Authenticator
from assay.services.code_policy import may_run_code
from assay.services.comparison import Comparison, ComparisonService, lower_is_better
from assay.services.jobs import JobService
from assay.services.reports import HEADLINE_PREFERENCE
from assay.services.users import describe, require_admin
from assay.tasks import TASK_NAMES
from assay.web import STATIC_DIR, TEMPLATE_DIR, assets_installed

PAGE = 25
EXAMPLES_PAGE = 20
# A service's page shows the end of its output: a long-running process prints without end.
LOG_TAIL = 20_000
SETTING_LABELS = {
    "env": "environment",
    "num_cpus": "CPUs",
    "num_gpus": "GPUs",
    "health_path": "health check path",
}
FINISHED = frozenset({WorkflowStatus.SUCCEEDED, WorkflowStatus.FAILED, WorkflowStatus.STOPPED})
# No inline script or style anywhere: the pages load this server's own files only. Chart.js
# sizes its canvas through the CSSOM, which style-src does not govern.
UI_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# The endpoint most people bring first; every registered provider (plug-ins too) after it.
FIRST_PROVIDER = "openai-compatible"

templates = Jinja2Templates(directory=TEMPLATE_DIR)
router = APIRouter(include_in_schema=False)


class SignInRequired(Exception):
    """Raised by a page whose caller has no valid credentials: the answer is the sign-in page."""


class PageError(Exception):
    """A domain error met while rendering a page, shown as an HTML page with its status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Caller:
    user: UserRecord
    auth_required: bool


@dataclass(frozen=True)
class ProjectPage:
    caller: Caller
    project: ProjectRecord
    role: Role
    projects: list[ProjectResponse]

    @property
    def can_edit(self) -> bool:
        return self.role.allows(Role.EDITOR)

    @property
    def is_owner(self) -> bool:
        return self.role.allows(Role.OWNER)


def get_caller(request: Request, session: SessionDep, runtime: RuntimeDep) -> Caller:
    try:
        user = Authenticator(session, runtime.settings).authenticate(read_credentials(request))
    except AuthenticationError:
        raise SignInRequired() from None
    return Caller(user, runtime.settings.auth_required)


CallerDep = Annotated[Caller, Depends(get_caller)]


def get_project_page(
    project: str, caller: CallerDep, access: ProjectAccessDep, projects: ProjectServiceDep
) -> ProjectPage:
    """The project of the page's path with the caller's role in it, and the caller's projects
    for the switcher."""
    record = _guard(access.require, caller.user, project, Role.VIEWER)
    role = access.role_of(caller.user, record.id)
    assert role is not None
    return ProjectPage(caller, record, role, projects.list_visible(caller.user))


ProjectPageDep = Annotated[ProjectPage, Depends(get_project_page)]
PageNumber = Annotated[int, Query(ge=1, le=1_000_000)]


def pages(total: int, size: int) -> int:
    return max(1, math.ceil(total / size))


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("caller", None)
    context.setdefault("page_of", None)
    return templates.TemplateResponse(
        request,
        template,
        {"assets_installed": assets_installed(), "version": __version__, **context},
        status_code=status,
        headers={"Content-Security-Policy": UI_POLICY, "Cache-Control": "no-store"},
    )


def render_project(request: Request, template: str, page: ProjectPageDep, **context: Any) -> HTMLResponse:
    return render(request, template, caller=page.caller, page_of=page, **context)


def _guard(call: Any, *args: Any) -> Any:
    """Call a service; a domain error becomes an error page instead of the API's JSON."""
    try:
        return call(*args)
    except AssayError as exc:
        raise PageError(status_for(exc), exc.message) from None


@router.get("/login")
def login_page(request: Request, runtime: RuntimeDep, next: str = "/") -> Response:
    if not runtime.settings.auth_required:
        return RedirectResponse("/", status_code=303)
    # Only a path of this server: never an address elsewhere (an open redirect). Browsers read
    # "//host" and "/\\host" as another host.
    target = next if next.startswith("/") and not next.startswith(("//", "/\\")) else "/"
    return render(request, "login.html", next=target)


@router.get("/")
def home(request: Request, caller: CallerDep, projects: ProjectServiceDep) -> HTMLResponse:
    return render(request, "projects.html", caller=caller, projects=projects.list_visible(caller.user))


@router.get("/account")
def account(request: Request, caller: CallerDep, users: UserServiceDep) -> HTMLResponse:
    tokens = users.list_tokens(caller.user)
    return render(request, "account.html", caller=caller, tokens=tokens)


ProjectId = Annotated[str, Query(max_length=64, pattern=r"^[a-z0-9-]+$")]


@router.get("/switch")
def switch_project(project: ProjectId) -> RedirectResponse:
    """The project switcher's target (a plain GET form, so it works without scripts too)."""
    return RedirectResponse(f"/p/{project}", status_code=303)


@router.get("/users")
def users_page(request: Request, caller: CallerDep, users: UserServiceDep) -> HTMLResponse:
    """Accounts, for administrators (as the API's ``/users`` is)."""
    _guard(require_admin, caller.user)
    return render(request, "users.html", caller=caller, users=[describe(user) for user in users.list_all()])


@router.get("/p/{project}")
def project_home(page: ProjectPageDep) -> RedirectResponse:
    return RedirectResponse(f"/p/{page.project.id}/experiments", status_code=303)


@router.get("/p/{project}/datasets")
def datasets_page(
    request: Request, page: ProjectPageDep, service: DatasetServiceDep, p: PageNumber = 1
) -> HTMLResponse:
    items, total = service.list_page(page.project.id, (p - 1) * PAGE, PAGE)
    return render_project(
        request, "datasets.html", page, datasets=items, total=total, p=p, pages=pages(total, PAGE)
    )


@router.get("/p/{project}/datasets/{dataset_id}")
def dataset_page(
    request: Request,
    dataset_id: uuid.UUID,
    page: ProjectPageDep,
    service: DatasetServiceDep,
    p: PageNumber = 1,
) -> HTMLResponse:
    dataset = _guard(service.get, page.project.id, dataset_id)
    rows = _guard(service.rows, page.project.id, dataset_id, (p - 1) * PAGE, PAGE)
    return render_project(
        request,
        "dataset.html",
        page,
        dataset=dataset,
        rows=rows,
        p=p,
        pages=pages(dataset.row_count, PAGE),
    )


@router.get("/p/{project}/experiments")
def experiments_page(
    request: Request,
    page: ProjectPageDep,
    service: ExperimentServiceDep,
    datasets: DatasetServiceDep,
    p: PageNumber = 1,
    dataset: uuid.UUID | None = None,
) -> HTMLResponse:
    """``dataset`` preselects one in the form (the dataset page links here with it), which
    otherwise offers the newest ones."""
    views, total = service.list_page(page.project.id, (p - 1) * PAGE, PAGE)
    choices: list[Any] = list(datasets.list_page(page.project.id, 0, PAGE)[0]) if page.can_edit else []
    if page.can_edit and dataset is not None and all(choice.id != dataset for choice in choices):
        choices.insert(0, _guard(datasets.get, page.project.id, dataset))
    return render_project(
        request,
        "experiments.html",
        page,
        experiments=views,
        total=total,
        p=p,
        pages=pages(total, PAGE),
        datasets=choices,
        chosen_dataset=dataset,
        tasks=TASK_NAMES,
    )


def _scored(summary: Comparison) -> list[str]:
    """Scores some workflow has a value for (a score that failed everywhere has none)."""
    return [score for score in summary.score_names if any(score in w.metrics for w in summary.workflows)]


def _experiment_context(
    page: ProjectPage, experiment_id: uuid.UUID, comparison: ComparisonService
) -> dict[str, Any]:
    summary = _guard(comparison.compare, page.project.id, experiment_id)
    view = comparison.experiments.get(page.project.id, experiment_id)
    finished = all(WorkflowStatus(w.status) in FINISHED for w in summary.workflows)
    scores = _scored(summary)
    headline = next((name for name in HEADLINE_PREFERENCE if name in scores), scores[0] if scores else "")
    job_links = {
        str(w.id): [
            (label, job_id)
            for label, job_id in (("inference", w.inference_job_id), ("evaluation", w.evaluation_job_id))
            if job_id
        ]
        for w in view.workflows
    }
    chart = {
        "scores": scores,
        "headline": headline,
        "workflows": [
            {"name": w.name, "metrics": w.metrics, "usage": w.usage} for w in summary.workflows if w.metrics
        ],
    }
    return {
        "summary": summary,
        "finished": finished,
        "chart": chart,
        "job_links": job_links,
        "lower_is_better": lower_is_better,
    }


@router.get("/p/{project}/experiments/{experiment_id}")
def experiment_page(
    request: Request,
    experiment_id: uuid.UUID,
    page: ProjectPageDep,
    comparison: ComparisonServiceDep,
    experiments: ExperimentServiceDep,
    catalog: CatalogDep,
) -> HTMLResponse:
    context = _experiment_context(page, experiment_id, comparison)
    task = str(experiments.require(page.project.id, experiment_id).task_definition.get("task"))
    return render_project(
        request,
        "experiment.html",
        page,
        catalog=catalog.for_tasks([task]),
        providers=sorted(provider_names(), key=lambda name: name != FIRST_PROVIDER),
        metrics=available_metrics(),
        default_metrics=default_metrics(task),
        **context,
    )


@router.get("/p/{project}/experiments/{experiment_id}/live")
def experiment_live(
    request: Request, experiment_id: uuid.UUID, page: ProjectPageDep, comparison: ComparisonServiceDep
) -> HTMLResponse:
    """The workflows and comparison alone: what the experiment page polls while work runs."""
    context = _experiment_context(page, experiment_id, comparison)
    return render_project(request, "experiment_live.html", page, **context)


@router.get("/p/{project}/experiments/{experiment_id}/examples")
def examples_page(
    request: Request,
    experiment_id: uuid.UUID,
    page: ProjectPageDep,
    comparison: ComparisonServiceDep,
    p: PageNumber = 1,
    disagreement: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    summary = _guard(comparison.compare, page.project.id, experiment_id)
    scores = _scored(summary)
    chosen = disagreement or (scores[0] if scores else None)
    examples = _guard(
        comparison.examples, page.project.id, experiment_id, (p - 1) * EXAMPLES_PAGE, EXAMPLES_PAGE, chosen
    )
    return render_project(
        request,
        "examples.html",
        page,
        summary=summary,
        examples=examples,
        scores=scores,
        chosen=chosen,
        p=p,
        pages=pages(examples["total"], EXAMPLES_PAGE),
    )


@router.get("/p/{project}/jobs")
def jobs_page(
    request: Request,
    page: ProjectPageDep,
    service: JobServiceDep,
    p: PageNumber = 1,
    kind: Annotated[str | None, Query(max_length=32)] = None,
) -> HTMLResponse:
    items, total = _guard(service.list_page, page.project.id, [kind] if kind else None, (p - 1) * PAGE, PAGE)
    return render_project(
        request,
        "jobs.html",
        page,
        jobs=items,
        total=total,
        p=p,
        pages=pages(total, PAGE),
        kind=kind or "",
        runs_code=may_run_code(page.caller.user),
    )


@router.get("/p/{project}/jobs/{job_id}")
def job_page(
    request: Request, job_id: uuid.UUID, page: ProjectPageDep, service: JobServiceDep
) -> HTMLResponse:
    return _job(request, "job.html", job_id, page, service)


@router.get("/p/{project}/jobs/{job_id}/live")
def job_live(
    request: Request, job_id: uuid.UUID, page: ProjectPageDep, service: JobServiceDep
) -> HTMLResponse:
    """The job's status, actions and logs so far, polled while it runs."""
    return _job(request, "job_live.html", job_id, page, service)


def _job(
    request: Request, template: str, job_id: uuid.UUID, page: ProjectPage, service: JobService
) -> HTMLResponse:
    job = _guard(service.get, page.project.id, job_id)
    logs = _guard(service.logs, page.project.id, job_id)
    return render_project(request, template, page, job=job, logs=logs)


@router.get("/p/{project}/services")
def services_page(
    request: Request, page: ProjectPageDep, manager: ServiceManagerDep, p: PageNumber = 1
) -> HTMLResponse:
    items, total = manager.list_page(page.project.id, (p - 1) * PAGE, PAGE)
    return render_project(
        request,
        "services.html",
        page,
        services=items,
        total=total,
        p=p,
        pages=pages(total, PAGE),
        runs_code=may_run_code(page.caller.user),
    )


@router.get("/p/{project}/services/{name}")
def service_page(
    request: Request, name: str, page: ProjectPageDep, manager: ServiceManagerDep
) -> HTMLResponse:
    return _service(request, "service.html", name, page, manager)


@router.get("/p/{project}/services/{name}/live")
def service_live(
    request: Request, name: str, page: ProjectPageDep, manager: ServiceManagerDep
) -> HTMLResponse:
    """The service's status, actions and last logs, polled until it rests."""
    return _service(request, "service_live.html", name, page, manager)


def _service(
    request: Request, template: str, name: str, page: ProjectPage, manager: ServiceManager
) -> HTMLResponse:
    service = _guard(manager.get, page.project.id, name)
    logs = _guard(manager.logs, page.project.id, name)
    return render_project(
        request, template, page, service=service, settings=_settings(service.config), logs=_tail(logs)
    )


def _settings(config: dict[str, object]) -> list[tuple[str, str]]:
    """A service's request as label and text; what the server itself keeps there (the
    process a restart replaces) is not the user's."""
    shown = []
    for key, value in config.items():
        if key == "previous":
            continue
        if isinstance(value, dict):
            text = ", ".join(f"{name}={item}" for name, item in value.items())
        elif isinstance(value, list):
            text = shlex.join(str(item) for item in value)
        else:
            text = str(value)
        shown.append((SETTING_LABELS.get(key, key.replace("_", " ")), text))
    return shown


def _tail(logs: str) -> str:
    """The last ``LOG_TAIL`` characters, from the start of a line."""
    if len(logs) <= LOG_TAIL:
        return logs
    end = logs[-LOG_TAIL:]
    return end[end.find("\n") + 1 :]


@router.get("/p/{project}/members")
def members_page(
    request: Request,
    page: ProjectPageDep,
    projects: ProjectServiceDep,
    audit: AuditTrailDep,
    p: PageNumber = 1,
) -> HTMLResponse:
    # The audit log is for owners, as its API route is.
    events, total = audit.list_page(page.project.id, (p - 1) * PAGE, PAGE) if page.is_owner else ([], 0)
    return render_project(
        request,
        "members.html",
        page,
        members=projects.list_members(page.project),
        roles=[role.value for role in Role],
        events=events,
        p=p,
        pages=pages(total, PAGE),
    )


@router.get("/p/{project}/secrets")
def secrets_page(request: Request, page: ProjectPageDep, service: SecretServiceDep) -> HTMLResponse:
    """Names, descriptions and allowed hosts only: a value never leaves the server."""
    return render_project(request, "secrets.html", page, secrets=service.list(page.project.id))


@router.get("/p/{project}/files")
def files_page(
    request: Request,
    page: ProjectPageDep,
    service: FileServiceDep,
    p: PageNumber = 1,
    folder: FileFolder | None = None,
) -> HTMLResponse:
    """The newest version of each file, optionally of one folder."""
    items, total = service.list_page(page.project.id, folder, False, (p - 1) * PAGE, PAGE)
    return render_project(
        request,
        "files.html",
        page,
        files=items,
        total=total,
        p=p,
        pages=pages(total, PAGE),
        folder=folder.value if folder else "",
        folders=[choice.value for choice in FileFolder],
    )


@router.get("/p/{project}/files/{folder}/{name}")
def file_page(
    request: Request, folder: FileFolder, name: str, page: ProjectPageDep, service: FileServiceDep
) -> HTMLResponse:
    """Every version of one file, newest first, each one downloadable."""
    versions = _guard(service.versions, page.project.id, folder, name)
    return render_project(request, "file.html", page, versions=versions, folder=folder.value, name=name)


def install_ui(app: FastAPI) -> None:
    """The pages, their static files, and the two answers a page gives instead of JSON."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="ui-static")
    app.include_router(router)

    async def sign_in(request: Request, _: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    async def page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        return render(request, "error.html", status=exc.status, message=exc.message)

    app.add_exception_handler(SignInRequired, sign_in)
    app.add_exception_handler(PageError, page_error)
