"""User accounts and API tokens. ``{user}`` may be ``me``; other people's accounts are
reachable by administrators only (404 for everybody else)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from assay.api.deps import AdminUser, CurrentUser, UserServiceDep
from assay.records import UserRecord
from assay.schemas.users import TokenCreate, TokenCreated, TokenResponse, UserCreate, UserResponse, UserUpdate
from assay.services.users import describe

router = APIRouter()


def get_target_user(user: str, caller: CurrentUser, service: UserServiceDep) -> UserRecord:
    return service.resolve(caller, user)


TargetUser = Annotated[UserRecord, Depends(get_target_user)]


@router.get("", response_model=list[UserResponse])
def list_users(_: AdminUser, service: UserServiceDep) -> list[UserResponse]:
    return [describe(user) for user in service.list_all()]


@router.post("", status_code=201, response_model=UserResponse)
def create_user(body: UserCreate, admin: AdminUser, service: UserServiceDep) -> UserResponse:
    """Create an account (administrators only). Without a password it uses API tokens only."""
    return describe(service.create(admin, body))


@router.get("/{user}", response_model=UserResponse)
def get_user(target: TargetUser) -> UserResponse:
    return describe(target)


@router.patch("/{user}", response_model=UserResponse)
def update_user(
    body: UserUpdate, target: TargetUser, caller: CurrentUser, service: UserServiceDep
) -> UserResponse:
    """Set the default project (the one Lumigator-compatible routes act on), the password (your
    own needs ``current_password``; every web session of the user ends) or, for
    administrators, the admin flag and the permission to run code (``can_run_code``)."""
    return describe(service.update(caller, target, body))


@router.delete("/{user}", status_code=204)
def delete_user(admin: AdminUser, target: TargetUser, service: UserServiceDep) -> Response:
    service.delete(admin, target)
    return Response(status_code=204)


@router.get("/{user}/tokens", response_model=list[TokenResponse])
def list_tokens(target: TargetUser, service: UserServiceDep) -> list[TokenResponse]:
    return [TokenResponse.model_validate(token) for token in service.list_tokens(target)]


@router.post("/{user}/tokens", status_code=201, response_model=TokenCreated)
def create_token(
    body: TokenCreate, target: TargetUser, caller: CurrentUser, service: UserServiceDep
) -> TokenCreated:
    """A new API token. Its value is in this response only: Assay keeps a hash. Send it as
    ``Authorization: Bearer <token>`` or as the password of HTTP Basic."""
    record, value = service.issue_token(caller, target, body)
    return TokenCreated(**TokenResponse.model_validate(record).model_dump(), token=value)


@router.delete("/{user}/tokens/{token_id}", status_code=204)
def revoke_token(
    token_id: uuid.UUID, target: TargetUser, caller: CurrentUser, service: UserServiceDep
) -> Response:
    """Revoke a token: every later request with it is refused, on every replica."""
    service.revoke_token(caller, target, token_id)
    return Response(status_code=204)
