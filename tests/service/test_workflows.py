"""A workflow's steps chained by ``Reconciler`` and ``WorkflowRunner`` (no HTTP, no Ray): each
step is a real job run by the in-memory engine, and the next step is created and submitted in
the same pass that saw the previous one end."""

from __future__ import annotations

import uuid

from assay.records import JobStatus, WorkflowStatus
from assay.schemas.experiments import ExperimentCreate, WorkflowCreateRequest
from assay.services.experiments import ExperimentService, WorkflowService
from tests.service.conftest import World


def create_workflow(world: World) -> uuid.UUID:
    dataset = world.upload()
    project = world.settings.default_project
    with world.session() as session:
        user = world.admin(session)
        experiment = ExperimentService(session, world.store, world.clusters).create(
            project, user, ExperimentCreate(name="e", dataset=dataset)
        )
        request = WorkflowCreateRequest(
            name="w",
            experiment_id=str(experiment.experiment.id),
            provider="mock",
            model="{prompt}",
            metrics=["rouge"],
        )
        return WorkflowService(session, world.store, world.clusters).create(project, user, request).id


def test_steps_chain_in_one_pass_and_the_workflow_succeeds(world: World) -> None:
    workflow_id = create_workflow(world)
    world.tick()
    workflow = world.workflow(workflow_id)
    assert workflow.status == WorkflowStatus.RUNNING_INFERENCE
    assert workflow.inference_job_id is not None
    assert world.compute.submitted == [str(workflow.inference_job_id)]

    world.compute.run(str(workflow.inference_job_id))
    world.tick()
    workflow = world.workflow(workflow_id)
    assert workflow.status == WorkflowStatus.RUNNING_EVALUATION
    assert workflow.evaluation_job_id is not None
    assert world.job(workflow.evaluation_job_id).status == JobStatus.PENDING, "submitted in the same pass"

    world.compute.run(str(workflow.evaluation_job_id))
    assert world.tick() is False
    workflow = world.workflow(workflow_id)
    assert workflow.status == WorkflowStatus.SUCCEEDED, workflow.status_reason
    # The mock echoes the example, so ROUGE compares each example with its reference.
    assert 0.0 < workflow.metrics["rouge1_mean"] <= 1.0


def test_a_failed_step_fails_the_workflow_and_a_retry_runs_it_again(world: World) -> None:
    workflow_id = create_workflow(world)
    world.tick()
    first = world.workflow(workflow_id).inference_job_id
    assert first is not None
    world.compute.run(str(first))
    world.tick()
    evaluation = world.workflow(workflow_id).evaluation_job_id
    assert evaluation is not None
    world.compute.fail(str(evaluation), "the worker node died")
    world.tick()
    workflow = world.workflow(workflow_id)
    assert workflow.status == WorkflowStatus.FAILED and workflow.failed_step == "evaluation"
    assert "the worker node died" in (workflow.status_reason or "")

    with world.session() as session:
        WorkflowService(session, world.store, world.clusters).retry(
            world.settings.default_project, workflow_id
        )
    world.tick()
    workflow = world.workflow(workflow_id)
    assert workflow.inference_job_id == first, "the inference that succeeded is kept"
    assert workflow.evaluation_job_id not in (None, evaluation)
    world.compute.run(str(workflow.evaluation_job_id))
    world.tick()
    assert world.workflow(workflow_id).status == WorkflowStatus.SUCCEEDED


def test_a_stopped_workflow_stops_its_running_step(world: World) -> None:
    workflow_id = create_workflow(world)
    world.tick()
    job_id = world.workflow(workflow_id).inference_job_id
    assert job_id is not None
    world.compute.start(str(job_id))
    with world.session() as session:
        WorkflowService(session, world.store, world.clusters).stop(
            world.settings.default_project, workflow_id
        )
    world.tick()
    world.tick()
    assert world.job(job_id).status == JobStatus.STOPPED
    workflow = world.workflow(workflow_id)
    assert workflow.status == WorkflowStatus.STOPPED and workflow.failed_step == "inference"
