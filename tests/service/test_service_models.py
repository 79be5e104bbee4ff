"""Jobs and workflows whose model is a service of their project (the ``assay-service``
provider), on a real database with the in-memory engine: refused when created unless the
service is the project's own; given the address of the service's current generation when
dispatched, never before; waiting while it starts, failing when it rests; and the service sees
no credential. The model's endpoint is the scripted OpenAI-compatible server."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from assay.errors import InvalidInputError
from assay.jobs.run import read_document
from assay.records import JobRecord, JobStatus
from assay.records.base import utcnow
from assay.schemas.experiments import ExperimentCreate, WorkflowCreateRequest
from assay.schemas.jobs import JobCreate, JobInferenceConfig
from assay.schemas.projects import ProjectCreate
from assay.schemas.services import AppServiceCreate
from assay.services.app_services import ServiceManager
from assay.services.experiments import ExperimentService, WorkflowService
from assay.services.jobs import JobService
from assay.services.projects import ProjectService
from assay.services.service_endpoints import SERVICE_WAIT
from tests.openai_server import OpenAIServer
from tests.service.conftest import World
from tests.service.test_services import COMMAND, come_up, create, manager, state

SERVICE = {"provider": "assay-service", "model": "served-model", "provider_options": {"service": "web"}}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[OpenAIServer]:
    server = OpenAIServer(latency_s=0.0).start()
    yield server
    server.stop()


def create_job(world: World, dataset: uuid.UUID, **config: object) -> uuid.UUID:
    request = JobCreate(name="j", dataset=dataset, job_config=JobInferenceConfig(**{**SERVICE, **config}))
    with world.session() as session:
        jobs = JobService(session, world.store, world.clusters, world.settings, world.signer)
        return jobs.create(world.settings.default_project, world.admin(session), request).id


def refusal(world: World, dataset: uuid.UUID, **config: object) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        create_job(world, dataset, **config)
    return caught.value


def base_url(world: World, job_id: uuid.UUID) -> str | None:
    model = read_document(world.store, world.job(job_id).config_key).model
    assert model is not None
    return model["base_url"]


def running_service(world: World, address: str) -> None:
    create(world, health_path="/_stats")
    world.tick()
    come_up(world, address)
    world.tick()
    assert state(world).status == "running"


def test_a_job_calls_the_current_generation_of_its_service_without_credentials(
    world: World, endpoint: OpenAIServer
) -> None:
    dataset = world.upload()
    running_service(world, endpoint.url)
    endpoint.control()
    job_id = create_job(world, dataset)
    assert base_url(world, job_id) is None, "no address is written when the job is created"
    world.tick()
    assert world.job(job_id).status == JobStatus.PENDING
    assert base_url(world, job_id) == f"{endpoint.url}/v1"
    world.compute.run(str(job_id))
    world.tick()
    assert world.job(job_id).status == JobStatus.SUCCEEDED, world.job(job_id).status_reason
    stats = endpoint.stats()
    assert stats["requests"] == 3 and stats["authorization"] == {"": 3}

    # A restart is a new generation at a new address: a job waits for it, then gets that one.
    with manager(world) as (services, admin):
        services.restart(world.settings.default_project, "web", admin)
    waiting = create_job(world, dataset)
    world.tick()
    assert world.job(waiting).status == JobStatus.CREATED
    assert world.job(waiting).status_reason == "waiting for service 'web' to start"
    moved = f"http://localhost:{endpoint.port}"
    come_up(world, moved)
    world.tick()
    world.tick()
    assert world.job(waiting).status == JobStatus.PENDING and world.job(waiting).status_reason is None
    assert base_url(world, waiting) == f"{moved}/v1"


def test_a_service_that_rests_or_never_starts_fails_the_job_with_the_reason(world: World) -> None:
    dataset = world.upload()
    create(world)
    late = create_job(world, dataset)
    world.tick()
    assert world.job(late).status == JobStatus.CREATED
    with world.session() as session:
        session.execute(
            update(JobRecord)
            .where(JobRecord.id == late)
            .values(created_at=utcnow() - SERVICE_WAIT - dt.timedelta(seconds=1))
        )
        session.commit()
    world.tick()
    job = world.job(late)
    assert job.status == JobStatus.FAILED
    assert job.status_reason == "service 'web' did not start within 10 minutes (starting)"

    with manager(world) as (services, admin):
        services.stop(world.settings.default_project, "web", admin)
    world.tick()
    world.tick()
    assert state(world).status == "stopped"
    stopped = create_job(world, dataset)
    world.tick()
    job = world.job(stopped)
    assert job.status == JobStatus.FAILED and world.compute.submitted.count(str(stopped)) == 0
    assert job.status_reason == "service 'web' is stopped, not running: start it, then run the job again"


def test_only_a_service_of_the_jobs_own_project_is_accepted(world: World) -> None:
    dataset = world.upload()
    with world.session() as session:
        admin = world.admin(session)
        other = ProjectService(session, world.store, world.settings).create(
            admin, ProjectCreate(name="other")
        )
        body = AppServiceCreate(name="elsewhere", command=COMMAND)
        ServiceManager(session, world.clusters, world.settings, world.box).create(other.id, admin, body)

    unknown = refusal(world, dataset, provider_options={"service": "nowhere"})
    assert unknown.field == "job_config.provider_options.service"
    assert unknown.message == "service 'nowhere' does not exist in this project"
    foreign = refusal(world, dataset, provider_options={"service": "elsewhere"})
    assert (foreign.field, foreign.message) == (
        unknown.field,
        unknown.message.replace("nowhere", "elsewhere"),
    )
    assert refusal(world, dataset, provider_options={}).field == "job_config.provider_options.service"

    create(world)
    pointed = refusal(world, dataset, base_url="http://10.0.0.7:8000/v1")
    assert pointed.field == "job_config.base_url" and "leave base_url out" in pointed.message

    project = world.settings.default_project
    with world.session() as session:
        admin = world.admin(session)
        experiment = ExperimentService(session, world.store, world.clusters).create(
            project, admin, ExperimentCreate(name="e", dataset=dataset)
        )
        request = WorkflowCreateRequest(
            name="w", experiment_id=str(experiment.experiment.id), metrics=["rouge"], **SERVICE
        )
        workflows = WorkflowService(session, world.store, world.clusters)
        assert workflows.create(project, admin, request).provider == "assay-service"
        with pytest.raises(InvalidInputError) as caught:
            workflows.create(
                project, admin, request.model_copy(update={"provider_options": {"service": "elsewhere"}})
            )
    assert caught.value.field == "provider_options.service"
