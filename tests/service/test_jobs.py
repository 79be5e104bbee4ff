"""A job's state machine, driven through ``JobService`` and ``Reconciler`` (no HTTP, no Ray)."""

from __future__ import annotations

import uuid

import pytest

from assay.api.errors import detail_for, status_for
from assay.compute import EngineUnavailableError
from assay.records import JobStatus
from assay.schemas.jobs import JobCreate, JobInferenceConfig
from assay.services.jobs import JobService
from assay.services.reconciler import LOST_REASON
from assay.storage import layout
from tests.service.conftest import World

MOCK = {"provider": "mock", "model": "{prompt}"}


def create_job(world: World, dataset: uuid.UUID, **config: object) -> uuid.UUID:
    request = JobCreate(name="j", dataset=dataset, job_config=JobInferenceConfig(**{**MOCK, **config}))
    with world.session() as session:
        service = JobService(session, world.store, world.clusters, world.settings, world.signer)
        return service.create(world.settings.default_project, world.admin(session), request).id


def test_a_job_runs_for_real_and_its_output_becomes_a_dataset(world: World) -> None:
    job_id = create_job(world, world.upload())
    assert world.job(job_id).status == JobStatus.CREATED

    world.tick()
    assert world.job(job_id).status == JobStatus.PENDING
    assert world.compute.submitted == [str(job_id)]
    spec = world.compute.submissions[str(job_id)].spec
    assert spec.argv[-1] == layout.job_document_key(world.settings.default_project, job_id)

    world.compute.start(str(job_id))
    world.tick()
    assert world.job(job_id).status == JobStatus.RUNNING

    world.compute.run(str(job_id))
    world.tick()
    job = world.job(job_id)
    assert job.status == JobStatus.SUCCEEDED, job.status_reason
    assert job.output_dataset_id is not None
    output = world.dataset(job.output_dataset_id)
    assert output.row_count == 3 and output.run_id == job_id
    assert {column["name"] for column in output.columns} >= {"examples", "predictions"}
    with world.session() as session:
        service = JobService(session, world.store, world.clusters, world.settings, world.signer)
        assert "started" in service.logs(world.settings.default_project, job_id)
    assert world.compute.submitted == [str(job_id)], "a job is submitted once"


def test_a_failure_in_the_work_is_recorded_with_its_reason(world: World) -> None:
    dataset = world.upload()
    job_id = create_job(world, dataset)
    prefix = layout.dataset_prefix(world.settings.default_project, dataset)
    world.store.delete_prefix(prefix)
    world.tick()
    world.compute.run(str(job_id))
    world.tick()
    job = world.job(job_id)
    assert job.status == JobStatus.FAILED
    # The sentence the job wrote (failure.json), not the engine's exit code.
    assert job.status_reason == f"the dataset {layout.dataset_table_key(prefix)!r} is not in the object store"


def test_a_failure_the_engine_reports_is_recorded_with_its_message(world: World) -> None:
    job_id = create_job(world, world.upload())
    world.tick()
    world.compute.fail(str(job_id), "the worker node died")
    world.tick()
    job = world.job(job_id)
    assert job.status == JobStatus.FAILED and "the worker node died" in (job.status_reason or "")


def test_a_stop_reaches_the_engine_and_is_recorded(world: World) -> None:
    job_id = create_job(world, world.upload())
    world.tick()
    world.compute.start(str(job_id))
    with world.session() as session:
        service = JobService(session, world.store, world.clusters, world.settings, world.signer)
        service.stop(world.settings.default_project, job_id, world.admin(session))
    world.tick()  # asks the engine to stop
    world.tick()  # sees it stopped
    job = world.job(job_id)
    assert world.compute.submissions[str(job_id)].stop_asked
    assert job.status == JobStatus.STOPPED and job.status_reason == "stopped on request"


def test_a_job_stopped_before_it_started_is_never_submitted(world: World) -> None:
    job_id = create_job(world, world.upload())
    with world.session() as session:
        service = JobService(session, world.store, world.clusters, world.settings, world.signer)
        service.stop(world.settings.default_project, job_id, world.admin(session))
    world.tick()
    assert world.job(job_id).status == JobStatus.STOPPED
    assert world.compute.submitted == []


def test_a_job_the_engine_lost_in_a_restart_fails_as_lost(world: World) -> None:
    job_id = create_job(world, world.upload())
    world.tick()
    world.compute.start(str(job_id))
    world.tick()
    world.compute.forget()  # the cluster restarted
    assert world.tick() is False
    job = world.job(job_id)
    assert job.status == JobStatus.FAILED and job.status_reason == LOST_REASON


def test_an_unreachable_engine_delays_jobs_and_is_reported_as_the_engine(world: World) -> None:
    """Not as a storage outage: the 503 names the compute engine."""
    job_id = create_job(world, world.upload())
    world.compute.reachable = False
    assert world.tick() is True
    assert world.job(job_id).status == JobStatus.CREATED

    world.compute.reachable = True
    world.tick()
    world.compute.start(str(job_id))
    world.tick()
    world.compute.reachable = False
    with world.session() as session:
        service = JobService(session, world.store, world.clusters, world.settings, world.signer)
        with pytest.raises(EngineUnavailableError) as raised:
            service.logs(world.settings.default_project, job_id)
    assert status_for(raised.value) == 503
    assert detail_for(raised.value).startswith("the compute engine is unreachable: ")
    assert world.job(job_id).status == JobStatus.RUNNING, "state unknown, not lost"
