"""Projects, their members and roles: the one place that decides who may act on a project.

Every route that touches a project resolves it through ``ProjectAccess.require`` with the role
the action needs. A project the caller is not a member of answers 404, exactly like one that
does not exist, so that project ids cannot be probed; a member whose role is too low gets 403.
"""

from __future__ import annotations

import re

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assay.config import Settings
from assay.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from assay.records import MemberRecord, ProjectRecord, Role, UserRecord
from assay.repositories.cleanups import CleanupRepository
from assay.repositories.projects import MemberRepository, ProjectRepository
from assay.repositories.users import UserRepository
from assay.schemas.projects import MemberResponse, ProjectCreate, ProjectResponse, ProjectUpdate
from assay.services.audit import AuditTrail
from assay.services.cleanup import ObjectCleanupService
from assay.storage import ObjectStore
from assay.storage.layout import project_prefix

NAME_PATTERN = re.compile(r"[A-Za-z0-9 -]{3,35}")
# Ids that would read as something else in URLs, the web UI or engine resource names.
RESERVED_IDS = frozenset(
    {"admin", "api", "assay", "default", "docs", "new", "projects", "services", "settings", "system", "users"}
)


def check_name(name: str) -> str:
    name = name.strip()
    if not NAME_PATTERN.fullmatch(name) or not any(ch.isalnum() for ch in name):
        raise InvalidInputError("project names are 3-35 letters, digits, spaces or dashes", field="name")
    return name


def project_slug(name: str) -> str:
    """The id of a project named ``name``: lowercase, runs of spaces and dashes as one dash."""
    return re.sub(r"[\s-]+", "-", check_name(name).lower()).strip("-")


class ProjectAccess:
    def __init__(self, session: Session, default_project: str) -> None:
        self.projects = ProjectRepository(session)
        self.members = MemberRepository(session)
        self.default_project = default_project

    def role_of(self, user: UserRecord, project_id: str) -> Role | None:
        """The caller's role; administrators act as owners of every project."""
        if user.is_admin:
            return Role.OWNER
        member = self.members.get(project_id, user.id)
        return Role(member.role) if member is not None else None

    def require(self, user: UserRecord, project_id: str, role: Role) -> ProjectRecord:
        """The project, if ``user`` holds at least ``role`` in it."""
        project = self.projects.get(project_id)
        held = self.role_of(user, project_id) if project is not None else None
        if project is None or held is None:
            raise NotFoundError(f"project {project_id!r} not found", field="project")
        if not held.allows(role):
            raise PermissionDeniedError(
                f"this needs the {role} role in project {project_id!r}; you are {held}", field="project"
            )
        return project

    def resolve(self, user: UserRecord, requested: str | None, role: Role = Role.VIEWER) -> ProjectRecord:
        """For Lumigator-compatible routes: the requested project (``X-Assay-Project``), else
        the caller's default project, else the server's."""
        return self.require(user, requested or user.default_project_id or self.default_project, role)


class ProjectService:
    def __init__(self, session: Session, store: ObjectStore, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.projects = ProjectRepository(session)
        self.members = MemberRepository(session)
        self.users = UserRepository(session)
        self.cleanups = CleanupRepository(session)
        self.cleanup = ObjectCleanupService(session, store)
        self.access = ProjectAccess(session, settings.default_project)
        self.audit = AuditTrail(session)

    def describe(self, user: UserRecord, project: ProjectRecord) -> ProjectResponse:
        role = self.access.role_of(user, project.id)
        assert role is not None, "describe only projects the caller was given access to"
        return _response(project, role)

    def list_visible(self, user: UserRecord) -> list[ProjectResponse]:
        if user.is_admin:
            return [_response(project, Role.OWNER) for project in self.projects.list_all()]
        return [_response(project, Role(role)) for project, role in self.projects.list_for_member(user.id)]

    def create(self, actor: UserRecord, body: ProjectCreate) -> ProjectResponse:
        """A new project owned by ``actor``; it becomes their default project if they had none."""
        name = check_name(body.name)
        project_id = project_slug(name)
        if project_id in RESERVED_IDS:
            raise ConflictError(
                f"the project id {project_id!r} is reserved; choose another name", field="name"
            )
        if self.projects.get(project_id) is not None:
            raise ConflictError(f"a project with the id {project_id!r} already exists", field="name")
        if self.cleanups.pending(project_prefix(project_id)):
            raise ConflictError(
                f"the objects of a deleted project {project_id!r} are still being removed; try again later",
                field="name",
            )
        try:
            project = self.projects.add(ProjectRecord(id=project_id, name=name, description=body.description))
            self.members.add(MemberRecord(project_id=project_id, user_id=actor.id, role=Role.OWNER))
            if actor.default_project_id is None:
                actor.default_project_id = project_id
            self.audit.record(actor, "create", "project", project_id, project_id=project_id, name=name)
            self.session.commit()
        except IntegrityError as exc:  # the same id, created at the same moment elsewhere
            self.session.rollback()
            raise ConflictError(f"a project with the id {project_id!r} already exists", field="name") from exc
        return _response(project, Role.OWNER)

    def update(self, actor: UserRecord, project: ProjectRecord, body: ProjectUpdate) -> ProjectResponse:
        """Change the display name or description; the id stays (see ``ProjectUpdate``). The
        cluster binding is the administrators': it decides who shares a cluster with whom."""
        if "ray_address" in body.model_fields_set and body.ray_address != project.ray_address:
            if not actor.is_admin:
                raise PermissionDeniedError(
                    "only administrators may bind a project to a Ray cluster", field="ray_address"
                )
            live = self.projects.count_live_services(project.id)
            if live:
                raise ConflictError(
                    f"project {project.id!r} has {live} service(s) running on its cluster: stop them "
                    "(or let their deletion finish) first; they start on the new cluster",
                    field="ray_address",
                )
            project.ray_address = body.ray_address
            self.projects.rebind_services(project.id, body.ray_address)
            self.audit.record(
                actor,
                "bind",
                "project_cluster",
                project.id,
                project_id=project.id,
                ray_address=body.ray_address,
            )
        if body.name is not None:
            project.name = check_name(body.name)
        if body.description is not None:
            project.description = body.description
        fields = sorted(key for key in body.model_fields_set if getattr(body, key) is not None)
        self.audit.record(actor, "update", "project", project.id, project_id=project.id, fields=fields)
        self.session.commit()
        return self.describe(actor, project)

    def delete(self, actor: UserRecord, project: ProjectRecord, force: bool) -> None:
        """Delete a project. With resources in it, only when ``force``: then its rows go in one
        transaction with a scheduled removal of every object under the project's prefix."""
        if project.id == self.settings.default_project:
            raise ConflictError("the server's default project cannot be deleted", field="project")
        counts = {kind: count for kind, count in self.projects.count_resources(project.id).items() if count}
        if counts and not force:
            listed = ", ".join(f"{count} {kind}" for kind, count in counts.items())
            raise ConflictError(
                f"project {project.id!r} still has {listed}; delete with force=true", field="force"
            )
        running = self.projects.count_unfinished_jobs(project.id)
        if running:
            raise ConflictError(
                f"project {project.id!r} has {running} unfinished job(s); stop them first", field="project"
            )
        live = self.projects.count_live_services(project.id)
        if live:
            raise ConflictError(
                f"project {project.id!r} has {live} service(s) not stopped; stop them first", field="project"
            )
        cleanup_id = self.cleanup.schedule(project_prefix(project.id))
        self.projects.delete_with_resources(project)
        self.audit.record(actor, "delete", "project", project.id, resources=counts)
        self.session.commit()
        self.cleanup.run_one(cleanup_id)

    def list_members(self, project: ProjectRecord) -> list[MemberResponse]:
        return [_member(member) for member in self.members.list_for(project.id)]

    def put_member(
        self, actor: UserRecord, project: ProjectRecord, username: str, role: Role
    ) -> tuple[MemberResponse, bool]:
        """Add ``username`` with ``role`` or change their role; True when added. A new member
        without a default project gets this one, so Lumigator-compatible clients just work."""
        user = self._user(username)
        member = self.members.get(project.id, user.id)
        created = member is None
        if member is None:
            member = self.members.add(MemberRecord(project_id=project.id, user_id=user.id, role=role))
            if user.default_project_id is None:
                user.default_project_id = project.id
        else:
            if member.role == Role.OWNER and role != Role.OWNER:
                self._keep_an_owner(project)
            member.role = role
        action = "add" if created else "change"
        self.audit.record(actor, action, "member", user.username, project_id=project.id, role=str(role))
        self.session.commit()
        return _member(member), created

    def remove_member(self, actor: UserRecord, project: ProjectRecord, username: str) -> None:
        user = self._user(username)
        member = self.members.get(project.id, user.id)
        if member is None:
            raise NotFoundError(f"{username!r} is not a member of project {project.id!r}", field="username")
        if member.role == Role.OWNER:
            self._keep_an_owner(project)
        self.members.delete(member)
        if user.default_project_id == project.id:
            user.default_project_id = None
        self.audit.record(actor, "remove", "member", user.username, project_id=project.id)
        self.session.commit()

    def _user(self, username: str) -> UserRecord:
        user = self.users.get_by_username(username)
        if user is None:
            raise NotFoundError(f"user {username!r} not found", field="username")
        return user

    def _keep_an_owner(self, project: ProjectRecord) -> None:
        if self.members.count_owners(project.id) <= 1:
            raise ConflictError(f"project {project.id!r} needs at least one owner", field="role")


def _response(project: ProjectRecord, role: Role) -> ProjectResponse:
    return ProjectResponse(
        id=project.id,
        name=project.name,
        description=project.description,
        created_at=project.created_at,
        role=role,
        ray_address=project.ray_address,
    )


def _member(member: MemberRecord) -> MemberResponse:
    return MemberResponse(username=member.user.username, role=Role(member.role), created_at=member.created_at)
