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
from assay.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from assay.jobs.environment import API_URL_ENV, SERVICE_CLAIM_ENV
from assay.jobs.serve import ADDRESS_MARK, SETUP_FAILED_MARK, SPEC_ENV
from assay.records import ServiceRecord, UserRecord
from assay.records.base import utcnow
from assay.schemas.secrets import SecretUploadRequest
from assay.schemas.services import AppServiceCreate
from assay.security.job_tokens import REDACTED
from assay.services.app_services import ServiceManager
from assay.services.secrets import SecretService
from assay.services.service_reconciler import MAX_RESTARTS
from assay.services.service_secrets import ServiceSecrets
from tests.service.conftest import World

COMMAND = ["python", "-m", "http.server"]
TOKEN = "hf-service-secret-value-0123456789"


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
        yield ServiceManager(session, world.clusters, world.settings, world.box), world.admin(session)


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
        world.session_factory, world.clusters, world.settings, world.box, project, "web", poll=0.01
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


def put_secret(world: World, name: str, value: str, allowed_hosts: list[str] | None) -> None:
    with manager(world) as (services, admin):
        upload = SecretUploadRequest(value=value, description="", allowed_hosts=allowed_hosts)
        SecretService(services.session, world.box).put(world.settings.default_project, name, upload, admin)


def claim(world: World, token: str) -> dict[str, str]:
    with world.session() as session:
        return ServiceSecrets(session, world.box).claim(token)


def current_spec_env(world: World) -> dict[str, str]:
    return world.compute.submissions[state(world).submission_id].spec.env


def test_secrets_reach_the_process_through_a_one_time_claim_only(world: World) -> None:
    put_secret(world, "hf_token", TOKEN, ["*"])
    put_secret(world, "bound", "bound-secret-value", [])
    for names, reason in ((["HF_TOKEN", "NOPE"], "does not exist"), (["BOUND"], "'*'")):
        with pytest.raises(InvalidInputError) as refused:
            create(world, secrets=names)
        assert refused.value.field == f"secrets[{len(names) - 1}]" and reason in refused.value.message
    create(world, secrets=["HF_TOKEN"], env={"MODE": "demo"}, requirements=["packaging>=20"])
    world.tick()

    # The engine sees the secret's name and a claim token, never its value.
    submission = world.compute.submissions[state(world).submission_id]
    spec = json.loads(submission.spec.env[SPEC_ENV])
    assert spec["secrets"] == ["HF_TOKEN"] and spec["requirements"] == ["packaging>=20"]
    assert TOKEN not in json.dumps([submission.spec.env, submission.spec.argv, submission.spec.labels])
    first = submission.spec.env[SERVICE_CLAIM_ENV]
    assert submission.spec.env[API_URL_ENV] == world.settings.resolved_job_api_url
    assert claim(world, first) == {"HF_TOKEN": TOKEN}
    with pytest.raises(AuthenticationError):
        claim(world, first)  # once

    # What the process prints of it is redacted, in its logs and in the reason of a crash.
    world.compute.start(state(world).submission_id)
    world.compute.submissions[state(world).submission_id].logs += f"HF_TOKEN={TOKEN} {first}\n"
    project = world.settings.default_project
    with manager(world) as (services, _):
        shown = services.logs(project, "web")
    assert TOKEN not in shown and first not in shown and f"HF_TOKEN={REDACTED}" in shown
    world.compute.fail(state(world).submission_id, "exit code 1")
    world.tick()
    assert TOKEN not in (state(world).status_reason or "") and REDACTED in (state(world).status_reason or "")

    # Each generation gets its own claim; a newer generation's submission ends the older ones.
    with world.session() as session:
        session.execute(update(ServiceRecord).values(retry_at=None))
        session.commit()
    world.tick()
    second = current_spec_env(world)[SERVICE_CLAIM_ENV]
    world.compute.fail(state(world).submission_id, "exit code 1")
    world.tick()
    with world.session() as session:
        session.execute(update(ServiceRecord).values(retry_at=None))
        session.commit()
    world.tick()
    with pytest.raises(AuthenticationError):
        claim(world, second)
    third = current_spec_env(world)[SERVICE_CLAIM_ENV]

    # A secret deleted since creation: the claim names it, and is spent.
    with manager(world) as (services, admin):
        SecretService(services.session, world.box).delete(project, "hf_token", admin)
    with pytest.raises(InvalidInputError) as refused:
        claim(world, third)
    assert refused.value.field == "secrets[0]"
    with pytest.raises(AuthenticationError):
        claim(world, third)


def test_a_service_without_secrets_gets_no_credential(world: World) -> None:
    create(world)
    world.tick()
    assert SERVICE_CLAIM_ENV not in current_spec_env(world) and API_URL_ENV not in current_spec_env(world)


def test_a_failed_setup_fails_the_service_at_once(world: World) -> None:
    """A requirement that does not install fails the same way on every try: no restart."""
    create(world, requirements=["no-such-package==9"])
    world.tick()
    submission = state(world).submission_id
    world.compute.start(submission)
    reason = "pip could not install the requirements (exit code 1); its output is above"
    world.compute.submissions[submission].logs += (
        f"{ADDRESS_MARK} http://127.0.0.1:1\nERROR: No matching distribution found for no-such-package==9\n"
        f"{SETUP_FAILED_MARK} {reason}\n"
    )
    world.compute.fail(submission, "Job entrypoint command failed with exit code 1")
    world.tick()
    world.tick()
    service = state(world)
    assert service.status == "failed" and service.generation == 1
    assert (service.status_reason or "").startswith(reason)
    assert "No matching distribution found for no-such-package==9" in (service.status_reason or "")
    assert list(world.compute.submissions) == [submission]
