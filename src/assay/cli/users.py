"""``assay users``: accounts and tokens from the server's machine, for the first admin of a
deployment with login required and for scripts that need a token without a browser."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from pydantic import SecretStr, TypeAdapter, ValidationError

from assay.config import Settings
from assay.errors import AssayError, InvalidInputError
from assay.schemas.users import NewPassword, TokenCreate, UserCreate
from assay.services.users import UserService

users_app = typer.Typer(help="User accounts and API tokens.", no_args_is_help=True)


@contextmanager
def _users() -> Iterator[UserService]:
    """The user service on the configured database, migrated and bootstrapped; domain and
    validation errors become a message and exit status 1."""
    from assay.db.engine import build_engine, build_session_factory
    from assay.db.migrate import upgrade
    from assay.services.bootstrap import ensure_defaults

    settings = Settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = build_engine(settings.resolved_database_url)
    try:
        upgrade(engine)
        with build_session_factory(engine)() as session:
            ensure_defaults(session, settings)
            yield UserService(session, settings)
    except AssayError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        typer.echo(f"error: {problems}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


def _ask_password() -> SecretStr:
    """Asked, never an argument: arguments show in ``ps`` and in shell histories."""
    entered = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        return TypeAdapter(NewPassword).validate_python(entered)
    except ValidationError:
        raise InvalidInputError("a password has 8 to 1024 characters", field="password") from None


@users_app.command("create")
def create(
    username: str,
    admin: Annotated[bool, typer.Option("--admin", help="make the user an administrator")] = False,
    password: Annotated[bool, typer.Option(help="ask for a password (else: API tokens only)")] = True,
) -> None:
    """Create a user and ask for their password."""
    with _users() as service:
        body = UserCreate(username=username, is_admin=admin, password=_ask_password() if password else None)
        service.create(None, body)
    typer.echo(f"created {'administrator' if admin else 'user'} {username}")


@users_app.command("set-password")
def set_password(username: str) -> None:
    """Set a user's password (ends their web sessions)."""
    with _users() as service:
        service.set_password(service.get(username), _ask_password().get_secret_value())
    typer.echo(f"password of {username} changed")


@users_app.command("grant-code")
def grant_code(
    username: str,
    revoke: Annotated[bool, typer.Option("--revoke", help="take the permission away")] = False,
) -> None:
    """Allow a user to run code on the compute cluster (script jobs), or revoke it."""
    with _users() as service:
        service.set_code_permission(service.get(username), not revoke)
    typer.echo(f"{username} {'may no longer' if revoke else 'may now'} run code")


@users_app.command("token")
def token(
    username: str,
    name: Annotated[str, typer.Option(help="what the token is for")],
    expires_in_days: Annotated[int | None, typer.Option(help="default: never expires")] = None,
) -> None:
    """Issue an API token and print it (only the token, so that scripts can capture it)."""
    with _users() as service:
        _, value = service.issue_token(
            None, service.get(username), TokenCreate(name=name, expires_in_days=expires_in_days)
        )
    typer.echo(value)


@users_app.command("list")
def list_users() -> None:
    with _users() as service:
        for user in service.list_all():
            flags = ["admin"] if user.is_admin else ["runs code"] if user.can_run_code else []
            flags += [] if user.password_hash else ["no password"]
            typer.echo(f"{user.username}\t{', '.join(flags)}")
