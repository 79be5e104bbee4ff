"""Where the client connects, as whom, and in which project: the arguments given, else the
environment (``ASSAY_URL``, ``ASSAY_TOKEN``, ``ASSAY_PROJECT``, so that a workspace or a CI
job needs no code to connect), else what ``assay login`` stored in the user's config folder."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_PROJECT = "default"
LOGIN_FILE = "login.json"


@dataclass(frozen=True)
class Connection:
    url: str
    token: str | None
    project: str


def login_path() -> Path:
    """``$XDG_CONFIG_HOME/assay/login.json`` on Linux (the platform's config folder elsewhere)."""
    return platformdirs.user_config_path("assay") / LOGIN_FILE


def stored_login() -> dict[str, str]:
    try:
        data = json.loads(login_path().read_text())
    except (OSError, ValueError):
        return {}
    return (
        {key: str(value) for key, value in data.items() if isinstance(value, str)}
        if isinstance(data, dict)
        else {}
    )


def save_login(url: str, token: str, project: str | None = None) -> Path:
    """Store the token readable by its owner only (0600), created so from the start: a file
    written first and restricted after would be readable in between."""
    path = login_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    content = {"url": url.rstrip("/"), "token": token} | ({"project": project} if project else {})
    with os.fdopen(fd, "w") as file:
        json.dump(content, file)
    return path


def forget_login() -> bool:
    try:
        login_path().unlink()
    except FileNotFoundError:
        return False
    return True


def resolve(
    url: str | None = None,
    token: str | None = None,
    project: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Connection:
    """The stored token is sent only to the server it was issued by; ``token=""`` sends none."""
    env = os.environ if environ is None else environ
    stored = stored_login()
    chosen_url = (url or env.get("ASSAY_URL") or stored.get("url") or DEFAULT_URL).rstrip("/")
    if token is None:
        token = env.get("ASSAY_TOKEN") or (stored.get("token") if stored.get("url") == chosen_url else None)
    chosen_project = project or env.get("ASSAY_PROJECT") or stored.get("project") or DEFAULT_PROJECT
    return Connection(chosen_url, token or None, chosen_project)
