"""Experiment and workflow routes: Lumigator's ``/experiments`` and ``/workflows`` (default
project) and the native ``/projects/{project}/experiments`` and ``…/workflows``."""

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from assay.api.bodies import json_body_doc, lenient_json
from assay.api.deps import (
    ComparisonServiceDep,
    CurrentUser,
    DownloadLinksDep,
    ExperimentServiceDep,
    JobServiceDep,
    ProjectResolver,
    WorkflowServiceDep,
    default_project,
    path_project,
)
from assay.api.paging import ExamplesLimit, Limit, Offset, Skip
from assay.records import ProjectRecord, Role, WorkflowRecord, WorkflowStatus
from assay.schemas.common import ListingResponse
from assay.schemas.experiments import (
    ComparisonResponse,
    ExperimentCreate,
    GetExperimentResponse,
    JobResults,
    WorkflowCreateRequest,
    WorkflowDetail,
    WorkflowDetailsResponse,
    WorkflowResponse,
)
from assay.schemas.jobs import JobLogsResponse
from assay.services import reports
from assay.services.experiments import ExperimentView
from assay.services.links import DownloadLinks
from assay.services.workflow_results import compiled_results_key, require_compiled_results_key
from assay.storage.layout import COMPILED_FILE

EXPORTS = {
    "csv": (reports.to_csv, "text/csv; charset=utf-8"),
    "json": (reports.to_json, "application/json"),
    "html": (reports.to_html, "text/html; charset=utf-8"),
}

LUMIGATOR_STATUS = {
    WorkflowStatus.CREATED: "created",
    WorkflowStatus.RUNNING_INFERENCE: "running",
    WorkflowStatus.RUNNING_EVALUATION: "running",
    WorkflowStatus.SUCCEEDED: "succeeded",
    WorkflowStatus.FAILED: "failed",
    WorkflowStatus.STOPPED: "failed",
}


def lumigator_metrics(metrics: dict[str, float] | None) -> dict[str, float] | None:
    """Lumigator's workflow metrics: each score's mean, rounded to three places as it rounds
    them (``rouge1_mean``, ``bleu_mean``, ``meteor_mean``, ``bertscore_f1_mean``…)."""
    if metrics is None:
        return None
    return {name: round(value, 3) for name, value in metrics.items() if name.endswith("_mean")}


def workflow_response(workflow: WorkflowRecord, links: DownloadLinks, model: type[WorkflowResponse]) -> Any:
    """Lumigator's shape; the native ``WorkflowDetail`` keeps every flat score (CIs, corpus)."""
    api = links.api(f"/api/v1/projects/{workflow.project_id}/jobs")
    native = issubclass(model, WorkflowDetail)
    jobs = [
        JobResults(
            id=job_id,
            metrics=[{"name": name, "value": value} for name, value in (workflow.metrics or {}).items()]
            if job_id == workflow.evaluation_job_id
            else [],
            parameters=[],
            metric_url=f"{api}/{job_id}/result/download",
            artifact_url=f"{api}/{job_id}/result/download",
        )
        for job_id in (workflow.inference_job_id, workflow.evaluation_job_id)
        if job_id
    ]
    compiled = compiled_results_key(workflow)
    return model.model_validate(
        {
            "id": str(workflow.id),
            "experiment_id": str(workflow.experiment_id),
            "model": workflow.model,
            "name": workflow.name,
            "description": workflow.description,
            "system_prompt": workflow.system_prompt,
            "status": LUMIGATOR_STATUS[WorkflowStatus(workflow.status)],
            "created_at": workflow.created_at,
            "updated_at": workflow.updated_at,
            "jobs": jobs,
            "metrics": workflow.metrics if native else lumigator_metrics(workflow.metrics),
            "parameters": {
                "model": workflow.model,
                "provider": workflow.provider,
                "base_url": workflow.base_url,
                "generation_config": workflow.generation_config,
                "metrics": workflow.metric_names,
            },
            "artifacts_download_url": links.object_url(compiled, COMPILED_FILE) if compiled else None,
            "state": workflow.status,
            "status_reason": workflow.status_reason,
            "warnings": [workflow.status_reason]
            if workflow.status == WorkflowStatus.SUCCEEDED and workflow.status_reason
            else [],
            "failed_step": workflow.failed_step,
            "provider": workflow.provider,
            "base_url": workflow.base_url,
            "provider_options": workflow.provider_options,
            "inference_job_id": workflow.inference_job_id,
            "evaluation_job_id": workflow.evaluation_job_id,
        }
    )


def experiment_response(view: ExperimentView, links: DownloadLinks) -> GetExperimentResponse:
    experiment = view.experiment
    return GetExperimentResponse.model_validate(
        {
            "id": str(experiment.id),
            "name": experiment.name,
            "description": experiment.description,
            "created_at": experiment.created_at,
            "updated_at": experiment.updated_at,
            "max_samples": experiment.max_samples,
            "task_definition": experiment.task_definition,
            "dataset": experiment.dataset_id,
            "workflows": [workflow_response(w, links, WorkflowDetailsResponse) for w in view.workflows],
        }
    )


def build_experiment_router(resolve_project: ProjectResolver) -> APIRouter:
    """Viewers read and compare; editors create and delete."""
    router = APIRouter()
    in_project = Depends(resolve_project(Role.VIEWER))
    as_editor = Depends(resolve_project(Role.EDITOR))
    read_body = Depends(lenient_json(ExperimentCreate))

    @router.post(
        "",
        status_code=201,
        response_model=GetExperimentResponse,
        openapi_extra=json_body_doc(ExperimentCreate),
    )
    def create_experiment(
        links: DownloadLinksDep,
        user: CurrentUser,
        service: ExperimentServiceDep,
        project: ProjectRecord = as_editor,
        body: ExperimentCreate = read_body,
    ) -> GetExperimentResponse:
        return experiment_response(service.create(project.id, user, body), links)

    def list_experiments(
        links: DownloadLinksDep,
        service: ExperimentServiceDep,
        skip: Skip = 0,
        limit: Limit = 100,
        project: ProjectRecord = in_project,
    ) -> ListingResponse[GetExperimentResponse]:
        views, total = service.list_page(project.id, skip, limit)
        items = [experiment_response(view, links) for view in views]
        return ListingResponse[GetExperimentResponse](total=total, items=items)

    router.add_api_route(
        "", list_experiments, methods=["GET"], response_model=ListingResponse[GetExperimentResponse]
    )
    router.add_api_route(
        "/all", list_experiments, methods=["GET"], response_model=ListingResponse[GetExperimentResponse]
    )

    @router.get("/{experiment_id}", response_model=GetExperimentResponse)
    def get_experiment(
        experiment_id: uuid.UUID,
        links: DownloadLinksDep,
        service: ExperimentServiceDep,
        project: ProjectRecord = in_project,
    ) -> GetExperimentResponse:
        return experiment_response(service.get(project.id, experiment_id), links)

    @router.get("/{experiment_id}/comparison", response_model=ComparisonResponse)
    def compare_workflows(
        experiment_id: uuid.UUID, comparison: ComparisonServiceDep, project: ProjectRecord = in_project
    ) -> dict[str, Any]:
        """Every workflow's aggregate scores with 95% CIs, latency, cost, and the best per metric."""
        return comparison.compare(project.id, experiment_id).to_dict()

    @router.get("/{experiment_id}/examples")
    def compare_examples(
        experiment_id: uuid.UUID,
        comparison: ComparisonServiceDep,
        offset: Offset = 0,
        limit: ExamplesLimit = 50,
        disagreement: Annotated[
            str | None, Query(description="a score: examples where models differ most first")
        ] = None,
        project: ProjectRecord = in_project,
    ) -> dict[str, Any]:
        """Input, reference and every model's output and scores, side by side."""
        return comparison.examples(project.id, experiment_id, offset, limit, disagreement)

    @router.get("/{experiment_id}/export")
    def export_comparison(
        experiment_id: uuid.UUID,
        comparison: ComparisonServiceDep,
        format: Annotated[Literal["csv", "json", "html"], Query()] = "html",
        project: ProjectRecord = in_project,
    ) -> Response:
        """The comparison as CSV (one row per example), JSON, or a self-contained HTML report."""
        summary = comparison.compare(project.id, experiment_id)
        rows = comparison.examples(project.id, experiment_id, 0, 1_000_000)
        render, media_type = EXPORTS[format]
        filename = f"experiment-{experiment_id}.{format}"
        return Response(
            render(summary, rows),
            media_type=media_type,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @router.delete("/{experiment_id}", status_code=204)
    def delete_experiment(
        experiment_id: uuid.UUID,
        user: CurrentUser,
        service: ExperimentServiceDep,
        force: bool = False,
        project: ProjectRecord = as_editor,
    ) -> Response:
        """Delete the experiment and its workflows; running ones need ``force=true``."""
        service.delete(project.id, experiment_id, force, user)
        return Response(status_code=204)

    return router


def build_workflow_router(
    resolve_project: ProjectResolver, detail: type[WorkflowDetailsResponse], created: type[WorkflowResponse]
) -> APIRouter:
    """Viewers read; editors create, stop, retry and delete. ``created`` is the creation's
    answer: Lumigator's ``WorkflowResponse`` (its SDK validates it), the native detail."""
    router = APIRouter()
    in_project = Depends(resolve_project(Role.VIEWER))
    as_editor = Depends(resolve_project(Role.EDITOR))
    read_body = Depends(lenient_json(WorkflowCreateRequest))

    @router.post(
        "",
        status_code=201,
        response_model=created,
        openapi_extra=json_body_doc(WorkflowCreateRequest),
    )
    def create_workflow(
        links: DownloadLinksDep,
        user: CurrentUser,
        service: WorkflowServiceDep,
        project: ProjectRecord = as_editor,
        body: WorkflowCreateRequest = read_body,
    ) -> Any:
        return workflow_response(service.create(project.id, user, body), links, created)

    @router.get("/{workflow_id}", response_model=detail)
    def get_workflow(
        workflow_id: uuid.UUID,
        links: DownloadLinksDep,
        service: WorkflowServiceDep,
        project: ProjectRecord = in_project,
    ) -> Any:
        return workflow_response(service.require(project.id, workflow_id), links, detail)

    @router.get("/{workflow_id}/logs", response_model=JobLogsResponse)
    def get_workflow_logs(
        workflow_id: uuid.UUID,
        service: WorkflowServiceDep,
        jobs: JobServiceDep,
        project: ProjectRecord = in_project,
    ) -> JobLogsResponse:
        workflow = service.require(project.id, workflow_id)
        logs = [jobs.logs(project.id, job_id) for job_id in service.job_ids(workflow)]
        return JobLogsResponse(logs="\n".join(logs))

    @router.get("/{workflow_id}/result/download", response_model=str)
    def get_workflow_result_download(
        workflow_id: uuid.UUID,
        links: DownloadLinksDep,
        service: WorkflowServiceDep,
        project: ProjectRecord = in_project,
    ) -> str:
        """The link to the compiled results file, as a JSON string (Lumigator's answer); 409
        until the workflow has succeeded."""
        key = require_compiled_results_key(service.require(project.id, workflow_id))
        return links.object_url(key, COMPILED_FILE)

    @router.put("/{workflow_id}/stop", response_model=detail)
    def stop_workflow(
        workflow_id: uuid.UUID,
        links: DownloadLinksDep,
        service: WorkflowServiceDep,
        project: ProjectRecord = as_editor,
    ) -> Any:
        return workflow_response(service.stop(project.id, workflow_id), links, detail)

    @router.post("/{workflow_id}/retry", response_model=detail)
    def retry_workflow(
        workflow_id: uuid.UUID,
        links: DownloadLinksDep,
        service: WorkflowServiceDep,
        project: ProjectRecord = as_editor,
    ) -> Any:
        """Run a failed or stopped workflow again from the step that did not finish."""
        return workflow_response(service.retry(project.id, workflow_id), links, detail)

    @router.delete("/{workflow_id}", status_code=204)
    def delete_workflow(
        workflow_id: uuid.UUID,
        user: CurrentUser,
        service: WorkflowServiceDep,
        force: bool = False,
        project: ProjectRecord = as_editor,
    ) -> Response:
        service.delete(project.id, workflow_id, force, user)
        return Response(status_code=204)

    return router


lumigator_experiments = build_experiment_router(default_project)
project_experiments = build_experiment_router(path_project)
lumigator_workflows = build_workflow_router(default_project, WorkflowDetailsResponse, WorkflowResponse)
project_workflows = build_workflow_router(path_project, WorkflowDetail, WorkflowDetail)
