"""``Client`` and ``AsyncClient``: the same resources on a sync or an async httpx client."""

from __future__ import annotations

import copy
from collections.abc import Generator
from types import TracebackType
from typing import Generic, Self
from urllib.parse import urlsplit

import httpx

from assay.client.config import Connection, resolve
from assay.client.resources import (
    Account,
    Datasets,
    Experiments,
    Files,
    Jobs,
    Projects,
    Secrets,
    Services,
    Tokens,
    Workflows,
)
from assay.client.transport import Async, AsyncRunner, ModeT, RetryPolicy, Runner, Sync, SyncRunner

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


class BearerToken(httpx.Auth):
    """The token goes to the server's own origin only: signed download links may point at S3,
    which must never see it (and would refuse a request carrying a foreign Authorization)."""

    def __init__(self, token: str | None, base_url: str) -> None:
        self._token = token
        self._origin = _origin(base_url)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._token and _origin(str(request.url)) == self._origin:
            request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port or {"http": 80, "https": 443}.get(parts.scheme)


class _Resources(Generic[ModeT]):
    def __init__(self, runner: Runner, connection: Connection) -> None:
        self._runner = runner
        self.connection = connection
        self.projects: Projects[ModeT] = Projects(runner)
        self.datasets: Datasets[ModeT] = Datasets(runner)
        self.files: Files[ModeT] = Files(runner)
        self.jobs: Jobs[ModeT] = Jobs(runner)
        self.experiments: Experiments[ModeT] = Experiments(runner)
        self.workflows: Workflows[ModeT] = Workflows(runner)
        self.secrets: Secrets[ModeT] = Secrets(runner)
        self.services: Services[ModeT] = Services(runner)
        self.tokens: Tokens[ModeT] = Tokens(runner)
        self.account: Account[ModeT] = Account(runner)

    @property
    def url(self) -> str:
        return self.connection.url

    @property
    def project(self) -> str:
        return self._runner.project

    def for_project(self, project: str) -> Self:
        """The same client (and connection pool) acting on another project."""
        clone = copy.copy(self)
        _Resources.__init__(clone, self._runner.in_project(project), self.connection)
        return clone


class Client(_Resources[Sync]):
    """The Assay API from synchronous code.

    ``url``, ``token`` and ``project`` default to ``ASSAY_URL``, ``ASSAY_TOKEN`` and
    ``ASSAY_PROJECT``, then to what ``assay login`` stored; ``retries`` bounds the attempts of
    idempotent calls after a lost connection or a 503.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        project: str | None = None,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retries: int = 4,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        connection = resolve(url, token, project)
        self.http = httpx.Client(
            base_url=connection.url,
            auth=BearerToken(connection.token, connection.url),
            timeout=timeout,
            transport=transport,
        )
        super().__init__(SyncRunner(self.http, connection.project, RetryPolicy(max(1, retries))), connection)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


class AsyncClient(_Resources[Async]):
    """The Assay API from asyncio code: the same resources as ``Client``, awaited."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        project: str | None = None,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retries: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        connection = resolve(url, token, project)
        self.http = httpx.AsyncClient(
            base_url=connection.url,
            auth=BearerToken(connection.token, connection.url),
            timeout=timeout,
            transport=transport,
        )
        super().__init__(AsyncRunner(self.http, connection.project, RetryPolicy(max(1, retries))), connection)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.aclose()
