"""The rules behind access: when credentials are required, how they are read, roles, names."""

from __future__ import annotations

import base64

import pytest
from starlette.requests import Request

from assay.api.credentials import read_credentials
from assay.config import Settings
from assay.errors import AuthenticationError, InvalidInputError
from assay.records import Role, TokenKind
from assay.security.passwords import hash_password, verify_password
from assay.services.auth import Credentials
from assay.services.files import check_file_name
from assay.services.projects import project_slug


@pytest.mark.parametrize(
    ("host", "auth", "required"),
    [
        ("127.0.0.1", "auto", False),
        ("localhost", "auto", False),
        ("::1", "auto", False),
        ("127.0.0.2", "auto", False),
        ("0.0.0.0", "auto", True),
        ("::", "auto", True),
        ("10.0.0.5", "auto", True),
        ("assay.example.com", "auto", True),
        ("127.0.0.1", "required", True),
    ],
)
def test_credentials_are_required_off_loopback(host: str, auth: str, required: bool) -> None:
    assert Settings(host=host, auth=auth).auth_required is required  # type: ignore[arg-type]


def request_with(headers: dict[str, str]) -> Request:
    raw = [(key.lower().encode(), value.encode()) for key, value in headers.items()]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": raw})


def test_credentials_are_read_from_bearer_basic_or_the_session_cookie() -> None:
    assert read_credentials(request_with({})) is None
    assert read_credentials(request_with({"Authorization": "Bearer  tok "})) == Credentials(secret="tok")
    basic = base64.b64encode(b"alice:tok:with:colons").decode()
    assert read_credentials(request_with({"Authorization": f"basic {basic}"})) == Credentials(
        secret="tok:with:colons", username="alice"
    )
    both = {"Authorization": "Bearer tok", "Cookie": "assay_session=sid"}
    assert read_credentials(request_with(both)) == Credentials(secret="tok")
    cookie = read_credentials(request_with({"Cookie": "assay_session=sid"}))
    assert cookie == Credentials(secret="sid", kind=TokenKind.SESSION)


@pytest.mark.parametrize(
    "header", ["Bearer", "Digest x", "Basic ???", "Basic " + base64.b64encode(b":t").decode()]
)
def test_malformed_authorization_is_refused(header: str) -> None:
    with pytest.raises(AuthenticationError):
        read_credentials(request_with({"Authorization": header}))


def test_roles_include_the_ones_below() -> None:
    assert (
        Role.OWNER.allows(Role.EDITOR) and Role.EDITOR.allows(Role.VIEWER) and Role.VIEWER.allows(Role.VIEWER)
    )
    assert not Role.VIEWER.allows(Role.EDITOR) and not Role.EDITOR.allows(Role.OWNER)


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("My Lab", "my-lab"),
        ("  GPT 4 -- evals ", "gpt-4-evals"),
        ("abc", "abc"),
        ("a-b", "a-b"),
        ("x" * 35, "x" * 35),
    ],
)
def test_project_ids_derive_from_names(name: str, slug: str) -> None:
    assert project_slug(name) == slug


@pytest.mark.parametrize("name", ["ab", "x" * 36, "a_b", "naïve", "---", "   "])
def test_bad_project_names(name: str) -> None:
    with pytest.raises(InvalidInputError):
        project_slug(name)


@pytest.mark.parametrize("name", ["model.safetensors", "résumé (1).pdf", "a" * 255, ".hidden"])
def test_good_file_names(name: str) -> None:
    assert check_file_name(name) == name


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\\b", " x", "x ", "tab\t", "a" * 256])
def test_bad_file_names(name: str) -> None:
    with pytest.raises(InvalidInputError):
        check_file_name(name)


def test_passwords_are_argon2_hashes() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "wrong horse")
    assert not verify_password(None, "anything")
    assert not verify_password("not a hash", "anything")
