"""The API's resources, each operation described once for the sync and the async client (see
``transport``). Responses are parsed into the server's own schemas from ``assay.schemas``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import httpx
from pydantic import TypeAdapter

from assay.client.tables import Progress, TableSource, to_frame, upload_part
from assay.client.transport import (
    Call,
    Flow,
    ModeT,
    Pages,
    Resource,
    Sleep,
    Stream,
    endpoint,
    listing,
    model,
    models,
    nothing,
    segment,
)
from assay.enums import ExportFormat, FileFolder, Role
from assay.schemas.datasets import DatasetDetail, DatasetDownloadResponse, DatasetRows
from assay.schemas.experiments import (
    ComparisonResponse,
    ExperimentCreate,
    GetExperimentResponse,
    WorkflowCreateRequest,
    WorkflowDetail,
    WorkflowResponse,
)
from assay.schemas.files import FileDeleteResponse, FileVersionResponse
from assay.schemas.jobs import (
    GenerationConfig,
    JobCreate,
    JobDetail,
    JobLogsResponse,
    JobResultDownloadResponse,
)
from assay.schemas.projects import MemberResponse, ProjectResponse
from assay.schemas.secrets import SecretDetail
from assay.schemas.services import ServiceResponse, ServiceStatusResponse
from assay.schemas.users import TokenCreated, TokenResponse, UserResponse
from assay.tasks import (
    QuestionAnsweringTask,
    SummarizationTask,
    TaskDefinition,
    TextGenerationTask,
    TranslationTask,
)

if TYPE_CHECKING:
    import pandas

# Named here: inside a resource class, ``list`` is the listing method.
Links = list[str]
Versions = list[FileVersionResponse]
Hosts = list[str]
Members = list[MemberResponse]
FINISHED = frozenset({"succeeded", "failed", "stopped"})
# Where a service's status stays until someone acts: running, or at rest.
SETTLED = frozenset({"running", "failed", "stopped"})
TaskModel = SummarizationTask | TranslationTask | TextGenerationTask | QuestionAnsweringTask
TASKS: TypeAdapter[TaskModel] = TypeAdapter(TaskDefinition)


def _text(response: Any) -> str:
    return str(response.text)


def _content(response: Any) -> bytes:
    return bytes(response.content)


def _logs(response: Any) -> str:
    return JobLogsResponse.model_validate(response.json()).logs or ""


def _response(response: httpx.Response) -> httpx.Response:
    return response


def _poll(
    get: Call[Any],
    state: Callable[[Any], str],
    progress: Callable[[Any], None] | None,
    interval: float,
    timeout: float | None,
    until: frozenset[str] = FINISHED,
) -> Flow[Any]:
    """Read ``get`` until ``state`` of the answer is one of ``until``, telling ``progress``
    each time."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        current = yield get
        if progress is not None:
            progress(current)
        if state(current) in until:
            return current
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"still {state(current)} after {timeout} s")
        yield Sleep(interval)


def _download(links: Call[Links], dest: Path) -> Flow[Path]:
    """Fetch the first signed link that ``links`` answers into ``dest``. The token is sent to
    the API's own origin only, so a presigned S3 link gets no header it would reject."""
    urls = yield links
    if not urls:
        raise FileNotFoundError("the server offered no download link")
    dest.write_bytes((yield Call("GET", urls[0], _content)))
    return dest


class Projects(Resource[ModeT]):
    """Projects the caller belongs to, and their members."""

    @listing
    def list(self) -> Pages[ProjectResponse]:
        return Pages("/api/v1/projects", ProjectResponse.model_validate, paged=False)

    @endpoint
    def get(self, project_id: str) -> Call[ProjectResponse]:
        return Call("GET", f"/api/v1/projects/{segment(project_id)}", model(ProjectResponse))

    @endpoint
    def create(self, name: str, description: str = "") -> Call[ProjectResponse]:
        body = {"name": name, "description": description}
        return Call("POST", "/api/v1/projects", model(ProjectResponse), json=body)

    @endpoint
    def update(
        self, project_id: str, *, name: str | None = None, description: str | None = None
    ) -> Call[ProjectResponse]:
        body = {
            key: value for key, value in (("name", name), ("description", description)) if value is not None
        }
        return Call("PATCH", f"/api/v1/projects/{segment(project_id)}", model(ProjectResponse), json=body)

    @endpoint
    def delete(self, project_id: str, *, force: bool = False) -> Call[None]:
        return Call("DELETE", f"/api/v1/projects/{segment(project_id)}", nothing, params={"force": force})

    @endpoint
    def members(self, project_id: str) -> Call[Members]:
        return Call("GET", f"/api/v1/projects/{segment(project_id)}/members", models(MemberResponse))

    @endpoint
    def set_member(self, project_id: str, username: str, role: Role | str) -> Call[MemberResponse]:
        path = f"/api/v1/projects/{segment(project_id)}/members/{segment(username)}"
        return Call("PUT", path, model(MemberResponse), json={"role": str(role)})

    @endpoint
    def remove_member(self, project_id: str, username: str) -> Call[None]:
        return Call("DELETE", f"/api/v1/projects/{segment(project_id)}/members/{segment(username)}", nothing)


class Datasets(Resource[ModeT]):
    """Tables with an ``examples`` column (and ``ground_truth`` to score against)."""

    @endpoint
    def upload(
        self, source: TableSource, *, name: str | None = None, progress: Progress | None = None
    ) -> Flow[DatasetDetail]:
        """Upload a CSV, JSONL or Parquet file (a path, streamed), bytes, a pyarrow or pandas
        table or a list of rows (sent as Parquet, named ``name`` or ``table.parquet``)."""
        with upload_part(source, name, "table.parquet", progress) as part:
            created: DatasetDetail = yield Call(
                "POST", self._in_project("/datasets"), model(DatasetDetail), files={"dataset": part}
            )
        return created

    @listing
    def list(self, *, sha256: str | None = None, page_size: int = 100) -> Pages[DatasetDetail]:
        """Newest first; ``sha256``: only datasets uploaded with exactly these bytes (see
        ``content_hash``), to reuse one instead of sending it again."""
        params = {"sha256": sha256} if sha256 is not None else {}
        return Pages(
            self._in_project("/datasets"), DatasetDetail.model_validate, params=params, page_size=page_size
        )

    @endpoint
    def get(self, dataset_id: uuid.UUID | str) -> Call[DatasetDetail]:
        return Call("GET", self._in_project(f"/datasets/{segment(dataset_id)}"), model(DatasetDetail))

    @endpoint
    def delete(self, dataset_id: uuid.UUID | str) -> Call[None]:
        return Call("DELETE", self._in_project(f"/datasets/{segment(dataset_id)}"), nothing)

    def _rows(self, dataset_id: uuid.UUID | str, offset: int, limit: int) -> Call[DatasetRows]:
        path = self._in_project(f"/datasets/{segment(dataset_id)}/rows")
        return Call("GET", path, model(DatasetRows), params={"offset": offset, "limit": limit})

    @endpoint
    def rows(self, dataset_id: uuid.UUID | str, *, offset: int = 0, limit: int = 50) -> Call[DatasetRows]:
        return self._rows(dataset_id, offset, limit)

    @endpoint
    def preview(self, dataset_id: uuid.UUID | str, *, limit: int = 20) -> Call[pandas.DataFrame]:
        """The first rows as a pandas DataFrame (needs pandas; ``rows`` does not)."""
        page = self._rows(dataset_id, 0, limit)

        def frame(response: Any) -> pandas.DataFrame:
            rows = page.parse(response)
            return to_frame(rows.columns, rows.rows)

        return Call(page.method, page.path, frame, params=page.params)

    def _links(self, dataset_id: uuid.UUID | str, extension: str | None) -> Call[Links]:
        path = self._in_project(f"/datasets/{segment(dataset_id)}/download")
        params = {"extension": extension} if extension else None
        read = model(DatasetDownloadResponse)
        return Call("GET", path, lambda response: read(response).download_urls, params=params)

    @endpoint
    def download_urls(self, dataset_id: uuid.UUID | str, *, extension: str | None = None) -> Call[Links]:
        """Signed links to the dataset's files (``extension="csv"``: the CSV rendering only)."""
        return self._links(dataset_id, extension)

    @endpoint
    def download(
        self, dataset_id: uuid.UUID | str, dest: str | Path, *, extension: str | None = None
    ) -> Flow[Path]:
        """Save the file as uploaded to ``dest`` (``extension="parquet"``: the Parquet copy)."""
        return _download(self._links(dataset_id, extension), Path(dest))


class Files(Resource[ModeT]):
    """Versioned files in the folders ``datasets``, ``models`` and ``other``."""

    def _file(self, folder: FileFolder | str, name: str, suffix: str = "") -> str:
        return self._in_project(f"/files/{segment(folder)}/{segment(name)}{suffix}")

    @endpoint
    def upload(
        self,
        source: str | Path | bytes,
        *,
        folder: FileFolder | str = FileFolder.OTHER,
        name: str | None = None,
        progress: Progress | None = None,
    ) -> Flow[FileVersionResponse]:
        """Upload a file; a name that exists in the folder gets its next version."""
        with upload_part(source, name, "file", progress) as part:
            form = {"file": part, "folder": (None, str(folder)), "name": (None, part[0])}
            created: FileVersionResponse = yield Call(
                "POST", self._in_project("/files"), model(FileVersionResponse), files=form
            )
        return created

    @listing
    def list(
        self, *, folder: FileFolder | str | None = None, all_versions: bool = False, page_size: int = 100
    ) -> Pages[FileVersionResponse]:
        params: dict[str, Any] = {"all_versions": all_versions} | ({"folder": str(folder)} if folder else {})
        return Pages(
            self._in_project("/files"), FileVersionResponse.model_validate, params, page_size=page_size
        )

    @endpoint
    def get(
        self, folder: FileFolder | str, name: str, *, version: int | None = None
    ) -> Call[FileVersionResponse]:
        params = {"version": version} if version else None
        return Call("GET", self._file(folder, name), model(FileVersionResponse), params=params)

    @endpoint
    def versions(self, folder: FileFolder | str, name: str) -> Call[Versions]:
        return Call("GET", self._file(folder, name, "/versions"), models(FileVersionResponse))

    def _content(self, folder: FileFolder | str, name: str, version: int | None) -> Call[bytes]:
        params = {"version": version} if version else None
        return Call("GET", self._file(folder, name, "/content"), _content, params=params)

    @endpoint
    def read(self, folder: FileFolder | str, name: str, *, version: int | None = None) -> Call[bytes]:
        return self._content(folder, name, version)

    @endpoint
    def download(
        self, folder: FileFolder | str, name: str, dest: str | Path, *, version: int | None = None
    ) -> Flow[Path]:
        content = yield self._content(folder, name, version)
        Path(dest).write_bytes(content)
        return Path(dest)

    @endpoint
    def delete(self, folder: FileFolder | str, name: str, *, keep: int = 0) -> Call[FileDeleteResponse]:
        return Call("DELETE", self._file(folder, name), model(FileDeleteResponse), params={"keep": keep})


class Jobs(Resource[ModeT]):
    """Inference, annotation, evaluation and script jobs."""

    def _job(self, job_id: uuid.UUID | str, suffix: str = "") -> str:
        return self._in_project(f"/jobs/{segment(job_id)}{suffix}")

    @endpoint
    def create(
        self, kind: Literal["inference", "annotate", "evaluator", "script"], job: JobCreate
    ) -> Call[JobDetail]:
        body = job.model_dump(mode="json")
        return Call("POST", self._in_project(f"/jobs/{segment(kind)}"), model(JobDetail), json=body)

    @listing
    def list(self, *, job_types: list[str] | None = None, page_size: int = 100) -> Pages[JobDetail]:
        params = {"job_types": job_types} if job_types else {}
        return Pages(self._in_project("/jobs"), JobDetail.model_validate, params, page_size=page_size)

    @endpoint
    def get(self, job_id: uuid.UUID | str) -> Call[JobDetail]:
        return Call("GET", self._job(job_id), model(JobDetail))

    @endpoint
    def logs(self, job_id: uuid.UUID | str) -> Call[str]:
        return Call("GET", self._job(job_id, "/logs"), _logs)

    @endpoint
    def stop(self, job_id: uuid.UUID | str) -> Call[JobDetail]:
        return Call("PUT", self._job(job_id, "/stop"), model(JobDetail))

    @endpoint
    def result_url(self, job_id: uuid.UUID | str) -> Call[str]:
        read = model(JobResultDownloadResponse)
        return Call(
            "GET", self._job(job_id, "/result/download"), lambda response: read(response).download_url
        )

    @endpoint
    def wait(
        self,
        job_id: uuid.UUID | str,
        *,
        progress: Callable[[JobDetail], None] | None = None,
        interval: float = 1.0,
        timeout: float | None = None,
    ) -> Flow[JobDetail]:
        """Poll until the job has succeeded, failed or stopped; ``progress`` sees each reading."""
        get = Call("GET", self._job(job_id), model(JobDetail))
        return _poll(get, lambda job: str(job.status), progress, interval, timeout)


class Experiments(Resource[ModeT]):
    """Experiments: one dataset and task, several workflows (models) compared."""

    def _experiment(self, experiment_id: uuid.UUID | str, suffix: str = "") -> str:
        return self._in_project(f"/experiments/{segment(experiment_id)}{suffix}")

    @endpoint
    def create(
        self,
        name: str,
        dataset: uuid.UUID | str,
        *,
        task: str | TaskModel = "summarization",
        description: str = "",
        max_samples: int = -1,
    ) -> Call[GetExperimentResponse]:
        definition = TASKS.validate_python({"task": task} if isinstance(task, str) else task)
        body = ExperimentCreate(
            name=name,
            description=description,
            dataset=uuid.UUID(str(dataset)),
            max_samples=max_samples,
            task_definition=definition,
        )
        path = self._in_project("/experiments")
        return Call("POST", path, model(GetExperimentResponse), json=body.model_dump(mode="json"))

    @listing
    def list(self, *, page_size: int = 100) -> Pages[GetExperimentResponse]:
        return Pages(
            self._in_project("/experiments"), GetExperimentResponse.model_validate, page_size=page_size
        )

    @endpoint
    def get(self, experiment_id: uuid.UUID | str) -> Call[GetExperimentResponse]:
        return Call("GET", self._experiment(experiment_id), model(GetExperimentResponse))

    @endpoint
    def delete(self, experiment_id: uuid.UUID | str, *, force: bool = False) -> Call[None]:
        return Call("DELETE", self._experiment(experiment_id), nothing, params={"force": force})

    @endpoint
    def compare(self, experiment_id: uuid.UUID | str) -> Call[ComparisonResponse]:
        """Each workflow's means with 95% CIs; ``best`` only where one is strictly best."""
        return Call("GET", self._experiment(experiment_id, "/comparison"), model(ComparisonResponse))

    @endpoint
    def examples(
        self,
        experiment_id: uuid.UUID | str,
        *,
        offset: int = 0,
        limit: int = 50,
        disagreement: str | None = None,
    ) -> Call[dict[str, Any]]:
        params: dict[str, Any] = {"offset": offset, "limit": limit}
        if disagreement:
            params["disagreement"] = disagreement
        return Call(
            "GET", self._experiment(experiment_id, "/examples"), lambda r: dict(r.json()), params=params
        )

    @endpoint
    def export(
        self,
        experiment_id: uuid.UUID | str,
        *,
        format: ExportFormat | Literal["csv", "json", "html"] = ExportFormat.HTML,
    ) -> Call[bytes]:
        """The comparison as CSV, JSON or a self-contained HTML report."""
        return Call(
            "GET", self._experiment(experiment_id, "/export"), _content, params={"format": str(format)}
        )


class Workflows(Resource[ModeT]):
    """One model's inference and evaluation within an experiment."""

    def _workflow(self, workflow_id: uuid.UUID | str, suffix: str = "") -> str:
        return self._in_project(f"/workflows/{segment(workflow_id)}{suffix}")

    @endpoint
    def create(
        self,
        experiment_id: uuid.UUID | str,
        *,
        model: str,
        provider: str,
        name: str | None = None,
        metrics: list[str] | None = None,
        base_url: str | None = None,
        secret_key_name: str | None = None,
        system_prompt: str = "",
        generation_config: GenerationConfig | None = None,
        description: str = "",
    ) -> Call[WorkflowResponse]:
        body = WorkflowCreateRequest(
            name=name or f"{provider}:{model}"[:255],
            description=description,
            experiment_id=str(experiment_id),
            model=model,
            provider=provider,
            metrics=metrics,
            base_url=base_url,
            secret_key_name=secret_key_name,
            system_prompt=system_prompt,
            generation_config=generation_config or GenerationConfig(),
        )
        return Call(
            "POST", self._in_project("/workflows"), _parse_workflow, json=body.model_dump(mode="json")
        )

    @endpoint
    def get(self, workflow_id: uuid.UUID | str) -> Call[WorkflowDetail]:
        return Call("GET", self._workflow(workflow_id), model(WorkflowDetail))

    @endpoint
    def logs(self, workflow_id: uuid.UUID | str) -> Call[str]:
        return Call("GET", self._workflow(workflow_id, "/logs"), _logs)

    @endpoint
    def stop(self, workflow_id: uuid.UUID | str) -> Call[WorkflowDetail]:
        return Call("PUT", self._workflow(workflow_id, "/stop"), model(WorkflowDetail))

    @endpoint
    def retry(self, workflow_id: uuid.UUID | str) -> Call[WorkflowDetail]:
        """Run a failed or stopped workflow again from the step that did not finish."""
        return Call("POST", self._workflow(workflow_id, "/retry"), model(WorkflowDetail))

    @endpoint
    def delete(self, workflow_id: uuid.UUID | str, *, force: bool = False) -> Call[None]:
        return Call("DELETE", self._workflow(workflow_id), nothing, params={"force": force})

    @endpoint
    def wait(
        self,
        workflow_id: uuid.UUID | str,
        *,
        progress: Callable[[WorkflowDetail], None] | None = None,
        interval: float = 1.0,
        timeout: float | None = None,
    ) -> Flow[WorkflowDetail]:
        """Poll until the workflow has succeeded, failed or stopped (its precise ``state``)."""
        get = Call("GET", self._workflow(workflow_id), model(WorkflowDetail))
        return _poll(get, lambda workflow: str(workflow.state), progress, interval, timeout)


def _parse_workflow(response: Any) -> WorkflowResponse:
    return WorkflowResponse.model_validate(response.json())


class Services(Resource[ModeT]):
    """Long-running apps of the project, reached through Assay's gateway with the client's
    credentials (``request``, ``url``)."""

    def _service(self, name: str, suffix: str = "") -> str:
        return self._in_project(f"/services/{segment(name)}{suffix}")

    def _proxy(self, name: str, path: str) -> str:
        return self._service(name, f"/proxy/{path.lstrip('/')}")

    @endpoint
    def create(
        self,
        /,
        name: str,
        command: Sequence[str] | None = None,
        *,
        kind: str = "app",
        env: Mapping[str, str] | None = None,
        health_path: str | None = None,
        num_cpus: float | None = None,
        num_gpus: float | None = None,
        requirements: Sequence[str] | None = None,
        secrets: Sequence[str] | None = None,
        replicas: int | None = None,
        **options: Any,
    ) -> Call[ServiceResponse]:
        """Record a service; the server starts it (``wait_running``). An ``app``'s ``command``
        must serve HTTP on ``$HOST:$PORT``. What is left out takes the server's default; other
        keywords (a ``model`` service's ``provider`` and ``model``...) are sent as they are,
        for the server to check."""
        chosen = {
            "command": list(command) if command is not None else None,
            "env": dict(env) if env is not None else None,
            "health_path": health_path,
            "num_cpus": num_cpus,
            "num_gpus": num_gpus,
            "requirements": list(requirements) if requirements is not None else None,
            "secrets": list(secrets) if secrets is not None else None,
            "replicas": replicas,
        }
        body = {"name": name, "kind": kind} | {k: v for k, v in chosen.items() if v is not None} | options
        return Call("POST", self._in_project("/services"), model(ServiceResponse), json=body)

    @listing
    def list(self, *, page_size: int = 100) -> Pages[ServiceResponse]:
        return Pages(self._in_project("/services"), ServiceResponse.model_validate, page_size=page_size)

    @endpoint
    def get(self, name: str) -> Call[ServiceResponse]:
        return Call("GET", self._service(name), model(ServiceResponse))

    @endpoint
    def status(self, name: str) -> Call[ServiceStatusResponse]:
        return Call("GET", self._service(name, "/status"), model(ServiceStatusResponse))

    @endpoint
    def stop(self, name: str) -> Call[ServiceResponse]:
        return Call("PUT", self._service(name, "/stop"), model(ServiceResponse))

    @endpoint
    def start(self, name: str) -> Call[ServiceResponse]:
        """Start a stopped or failed service again (a running one is left as it is)."""
        return Call("PUT", self._service(name, "/start"), model(ServiceResponse))

    @endpoint
    def restart(self, name: str) -> Call[ServiceResponse]:
        return Call("PUT", self._service(name, "/restart"), model(ServiceResponse))

    @endpoint
    def scale(self, name: str, replicas: int) -> Call[ServiceResponse]:
        """Run ``replicas`` copies: new ones start, the surplus stop, the others go on."""
        return Call("PUT", self._service(name, "/scale"), model(ServiceResponse), json={"replicas": replicas})

    @endpoint
    def delete(self, name: str) -> Call[None]:
        """Stop it and forget it; the name is free once it has stopped."""
        return Call("DELETE", self._service(name), nothing)

    @endpoint
    def logs(self, name: str) -> Call[str]:
        """What the current process printed so far."""
        return Call("GET", self._service(name, "/logs"), _logs)

    @listing
    def follow_logs(self, name: str) -> Stream[str]:
        """The logs as text chunks as they are printed; it ends when the service stops."""
        return Stream(self._service(name, "/logs"), str, params={"follow": True})

    @endpoint
    def wait_running(
        self,
        name: str,
        timeout: float | None = None,
        *,
        progress: Callable[[ServiceResponse], None] | None = None,
        interval: float = 1.0,
    ) -> Flow[ServiceResponse]:
        """Poll until the service runs (its health check passed), or rests: failed (see
        ``status_reason``) or stopped. Returns the last reading; ``TimeoutError`` after
        ``timeout`` seconds."""
        get = Call("GET", self._service(name), model(ServiceResponse))
        return _poll(get, lambda service: str(service.status), progress, interval, timeout, SETTLED)

    def url(self, name: str, path: str = "/") -> str:
        """The service's address through the gateway: for a browser (signed in), or for
        ``client.http`` (which adds the token): ``client.http.stream("GET", url)``."""
        return self._runner.base_url + self._proxy(name, path)

    @endpoint
    def request(
        self,
        name: str,
        method: str,
        path: str = "/",
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Call[httpx.Response]:
        """Call the service through the gateway, as the client's user (the service never sees
        the token). The answer is read whole; an error status raises ``APIError`` like any
        call (a service that is not running: ``UnavailableError``)."""
        return Call(
            method.upper(),
            self._proxy(name, path),
            _response,
            params=params,
            json=json,
            content=content,
            headers=headers,
        )


class Secrets(Resource[ModeT]):
    """Write-only values (API keys) that jobs may use; listings never show values."""

    @listing
    def list(self) -> Pages[SecretDetail]:
        return Pages(self._in_project("/secrets"), SecretDetail.model_validate, paged=False)

    @endpoint
    def set(
        self, name: str, value: str, *, description: str = "", allowed_hosts: Hosts | None = None
    ) -> Call[bool]:
        """Create or replace a secret; True when it was created."""
        body: dict[str, Any] = {"value": value, "description": description}
        if allowed_hosts is not None:
            body["allowed_hosts"] = allowed_hosts
        path = self._in_project(f"/secrets/{segment(name)}")
        return Call("PUT", path, lambda response: response.status_code == 201, json=body)

    @endpoint
    def delete(self, name: str) -> Call[None]:
        return Call("DELETE", self._in_project(f"/secrets/{segment(name)}"), nothing)


class Tokens(Resource[ModeT]):
    """The caller's own API tokens."""

    @listing
    def list(self) -> Pages[TokenResponse]:
        return Pages("/api/v1/users/me/tokens", TokenResponse.model_validate, paged=False)

    @endpoint
    def create(self, name: str, *, expires_in_days: int | None = None) -> Call[TokenCreated]:
        body = {"name": name, "expires_in_days": expires_in_days}
        return Call("POST", "/api/v1/users/me/tokens", model(TokenCreated), json=body)

    @endpoint
    def revoke(self, token_id: uuid.UUID | str) -> Call[None]:
        return Call("DELETE", f"/api/v1/users/me/tokens/{segment(token_id)}", nothing)


class Account(Resource[ModeT]):
    """Who the client is, and a password login for tools that then create a token."""

    @endpoint
    def me(self) -> Call[UserResponse]:
        return Call("GET", "/api/v1/users/me", model(UserResponse))

    @endpoint
    def login(self, username: str, password: str) -> Call[UserResponse]:
        """Open a session (a cookie the client keeps): enough to create a token, nothing more."""
        body = {"username": username, "password": password}
        return Call("POST", "/api/v1/auth/login", model(UserResponse), json=body)
