from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{1,63}$"
PASSWORD_LENGTH = (8, 1024)


def _check_password(value: SecretStr) -> SecretStr:
    """pydantic's own length message counts "items"; people count characters."""
    low, high = PASSWORD_LENGTH
    if not low <= len(value.get_secret_value()) <= high:
        raise ValueError(f"a password needs at least {low} and at most {high} characters")
    return value


NewPassword = Annotated[
    SecretStr,
    AfterValidator(_check_password),
    Field(json_schema_extra={"minLength": PASSWORD_LENGTH[0], "maxLength": PASSWORD_LENGTH[1]}),
]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=USERNAME_PATTERN, description="2-64 of a-z 0-9 _ . - (lowercase)")
    password: NewPassword | None = Field(None, description="none: the user signs in with API tokens only")
    is_admin: bool = False
    can_run_code: bool = Field(False, description="may run code on the cluster (script jobs); see README")


class UserUpdate(BaseModel):
    """Fields left out are unchanged; ``default_project: null`` clears it."""

    model_config = ConfigDict(extra="forbid")

    default_project: str | None = Field(None, max_length=64)
    password: NewPassword | None = None
    current_password: SecretStr | None = Field(
        None, max_length=1024, description="required to change your own password"
    )
    is_admin: bool | None = Field(None, description="administrators only")
    can_run_code: bool | None = Field(
        None, description="administrators only: grant or revoke the permission to run code"
    )


class UserResponse(BaseModel):
    id: uuid.UUID
    username: str
    is_admin: bool
    can_run_code: bool = Field(description="may submit jobs that run user code (always for administrators)")
    has_password: bool
    default_project: str | None
    created_at: dt.datetime


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: SecretStr = Field(min_length=1, max_length=1024)


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, description="what the token is for, e.g. 'ci'")
    expires_in_days: int | None = Field(None, ge=1, le=3650, description="none: never expires")


class TokenResponse(BaseModel):
    """A token as listed: never its value, which only its creation returns."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None


class TokenCreated(TokenResponse):
    token: str = Field(description="shown once: store it now, Assay keeps only its hash")
