"""A project's services go with it, but only at rest: deleting a project whose service still
runs (or starts, or stops) is refused even with ``force``, since its processes would live on
with no row to stop them; once stopped, ``force`` takes the service and replica rows with the
project. Moving a project to another cluster waits for its services to rest, for the same reason."""

from __future__ import annotations

import pytest

from assay.errors import ConflictError
from assay.records import ServiceRecord, ServiceReplicaRecord, ServiceStatus
from assay.repositories.projects import ProjectRepository
from assay.schemas.projects import ProjectCreate, ProjectUpdate
from assay.schemas.services import AppServiceCreate
from assay.services.app_services import ServiceManager
from assay.services.projects import ProjectService
from tests.service.conftest import World


def project_with_a_service(world: World) -> str:
    with world.session() as session:
        admin = world.admin(session)
        projects = ProjectService(session, world.store, world.settings)
        project = projects.create(admin, ProjectCreate(name="team"))
        body = AppServiceCreate(name="web", command=["python", "-m", "http.server"], replicas=2)
        ServiceManager(session, world.clusters, world.settings, world.box).create(project.id, admin, body)
        return project.id


def delete_project(world: World, project_id: str) -> None:
    with world.session() as session:
        project = ProjectRepository(session).get(project_id)
        assert project is not None
        ProjectService(session, world.store, world.settings).delete(world.admin(session), project, force=True)


def test_a_project_goes_with_its_services_only_once_they_are_stopped(world: World) -> None:
    project_id = project_with_a_service(world)
    world.tick()  # submitted: starting
    with pytest.raises(ConflictError) as refused:
        delete_project(world, project_id)
    assert refused.value.field == "project"
    assert "1 service(s) not stopped" in refused.value.message

    with world.session() as session:
        ServiceManager(session, world.clusters, world.settings, world.box).stop(
            project_id, "web", world.admin(session)
        )
    for _ in range(3):
        world.tick()
    with world.session() as session:
        service = session.query(ServiceRecord).filter_by(project_id=project_id).one()
        assert service.status == ServiceStatus.STOPPED

    delete_project(world, project_id)
    with world.session() as session:
        assert ProjectRepository(session).get(project_id) is None
        assert session.query(ServiceRecord).filter_by(project_id=project_id).count() == 0
        assert session.query(ServiceReplicaRecord).count() == 0


def bind(world: World, project_id: str, address: str | None) -> None:
    with world.session() as session:
        project = ProjectRepository(session).get(project_id)
        assert project is not None
        update = ProjectUpdate(ray_address=address)
        ProjectService(session, world.store, world.settings).update(world.admin(session), project, update)


def test_a_project_moves_to_another_cluster_with_its_services_at_rest(world: World) -> None:
    """A service left running on the cluster a project was moved off would go on sharing it
    with the teams the move meant to keep apart: the move waits until they rest, and takes
    them along (their next start is on the new cluster)."""
    project_id = project_with_a_service(world)
    world.tick()
    with pytest.raises(ConflictError) as refused:
        bind(world, project_id, "http://team-head:8265")
    assert refused.value.field == "ray_address"
    assert "1 service(s) running on its cluster" in refused.value.message
    with world.session() as session:
        assert ProjectRepository(session).get(project_id).ray_address is None  # type: ignore[union-attr]
        manager = ServiceManager(session, world.clusters, world.settings, world.box)
        manager.stop(project_id, "web", world.admin(session))
    for _ in range(3):
        world.tick()

    bind(world, project_id, "http://team-head:8265")
    with world.session() as session:
        service = session.query(ServiceRecord).filter_by(project_id=project_id).one()
        assert (service.status, service.ray_address) == (ServiceStatus.STOPPED, "http://team-head:8265")
        ServiceManager(session, world.clusters, world.settings, world.box).start(
            project_id, "web", world.admin(session)
        )
    world.tick()
    with world.session() as session:
        service = session.query(ServiceRecord).filter_by(project_id=project_id).one()
        assert service.ray_address == "http://team-head:8265" and service.status == ServiceStatus.STARTING
