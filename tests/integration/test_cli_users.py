"""Bootstrapping the first administrator: ``assay users`` and ``ASSAY_ADMIN_PASSWORD``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from assay.cli.main import app
from assay.config import Settings
from assay.db.engine import build_engine, build_session_factory
from assay.db.migrate import upgrade
from assay.errors import AuthenticationError
from assay.records import AuditEventRecord
from assay.repositories.users import UserRepository
from assay.services.auth import Authenticator, Credentials
from assay.services.bootstrap import ensure_defaults

PASSWORD = "first admin password"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("ASSAY_DATABASE_URL", "ASSAY_STORAGE_URL", "ASSAY_ADMIN_PASSWORD", "ASSAY_AUTH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path))
    return tmp_path


def session_on(settings: Settings) -> Iterator[Session]:
    engine = build_engine(settings.resolved_database_url)
    upgrade(engine)
    with build_session_factory(engine)() as session:
        yield session
    engine.dispose()


def test_cli_creates_users_and_prints_tokens_that_work(home: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(app, ["users", "create", "root", "--admin"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert created.exit_code == 0, created.output
    assert "created administrator root" in created.output and PASSWORD not in created.output

    issued = runner.invoke(app, ["users", "token", "root", "--name", "ci"])
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip()
    assert token.startswith("assay_")

    listed = runner.invoke(app, ["users", "list"])
    assert listed.stdout.splitlines() == ["admin\tadmin, no password", "root\tadmin"]

    settings = Settings(auth="required")
    for session in session_on(settings):
        authenticator = Authenticator(session, settings)
        assert authenticator.authenticate(Credentials(secret=token)).username == "root"
        assert authenticator.login("root", PASSWORD, "cli")[0].username == "root"


@pytest.mark.parametrize(
    ("args", "input_text", "message"),
    [
        (["users", "create", "admin", "--no-password"], "", "already exists"),
        (["users", "create", "bob"], "tiny7\ntiny7\n", "password has 8 to 1024 characters"),
        (["users", "create", "Bad Name", "--no-password"], "", "username"),
        (["users", "token", "ghost", "--name", "ci"], "", "not found"),
        (["users", "set-password", "ghost"], f"{PASSWORD}\n{PASSWORD}\n", "not found"),
    ],
)
def test_cli_refuses_bad_input_with_a_message(
    home: Path, args: list[str], input_text: str, message: str
) -> None:
    result = CliRunner().invoke(app, args, input=input_text)
    assert result.exit_code == 1
    assert message in result.stderr and "tiny7" not in result.stderr


def test_cli_set_password_replaces_the_old_one(home: Path) -> None:
    runner = CliRunner()
    runner.invoke(app, ["users", "create", "bob"], input=f"{PASSWORD}\n{PASSWORD}\n")
    changed = runner.invoke(app, ["users", "set-password", "bob"], input="second password\nsecond password\n")
    assert changed.exit_code == 0 and "password of bob changed" in changed.output
    settings = Settings()
    for session in session_on(settings):
        authenticator = Authenticator(session, settings)
        with pytest.raises(AuthenticationError):
            authenticator.login("bob", PASSWORD, "cli")
        assert authenticator.login("bob", "second password", "cli")[0].username == "bob"


def test_admin_password_setting_applies_once(home: Path) -> None:
    first = Settings(admin_password=SecretStr(PASSWORD))
    for session in session_on(first):
        ensure_defaults(session, first)
        ensure_defaults(session, Settings(admin_password=SecretStr("a later, different value")))
        user, _ = Authenticator(session, first).login("admin", PASSWORD, "test")
        assert user.is_admin


def test_cli_grants_and_revokes_the_permission_to_run_code(home: Path) -> None:
    runner = CliRunner()
    runner.invoke(app, ["users", "create", "carol", "--no-password"])
    granted = runner.invoke(app, ["users", "grant-code", "carol"])
    assert granted.exit_code == 0 and "carol may now run code" in granted.output
    assert "carol\truns code" in runner.invoke(app, ["users", "list"]).output
    revoked = runner.invoke(app, ["users", "grant-code", "carol", "--revoke"])
    assert revoked.exit_code == 0 and "may no longer" in revoked.output
    settings = Settings()
    for session in session_on(settings):
        user = UserRepository(session).get_by_username("carol")
        assert user is not None and user.can_run_code is False
        events = session.scalars(
            select(AuditEventRecord).where(AuditEventRecord.resource_id == "carol")
        ).all()
        assert [(e.action, e.resource_type) for e in events if e.resource_type == "code_permission"] == [
            ("grant", "code_permission"),
            ("revoke", "code_permission"),
        ]
    missing = runner.invoke(app, ["users", "grant-code", "ghost"])
    assert missing.exit_code == 1 and "not found" in missing.stderr
