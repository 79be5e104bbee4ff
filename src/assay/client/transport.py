"""Each API operation is described once, without I/O, and run by a sync or an async driver.

A resource method returns a *description*: a ``Call`` (one request and how to read its answer),
a ``Flow`` (a generator that yields calls and pauses and gets their results back, for
operations of several requests such as ``wait``), ``Pages`` (a listing) or a ``Stream`` (an
answer read as it arrives, such as followed logs). The ``endpoint`` and ``listing`` decorators
turn such a method into a real method whose type follows the client:
``Datasets[Sync].get`` returns a ``DatasetDetail``, ``Datasets[Async].get`` an awaitable of
one. So ``Client`` and ``AsyncClient`` share every resource definition, and the
only code that differs between them is the two small drivers at the end of this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeAlias, TypeVar, overload
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from assay.client.errors import ConnectionFailed, error_from

T = TypeVar("T")
P = ParamSpec("P")
ModelT = TypeVar("ModelT", bound=BaseModel)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRIED_STATUSES = frozenset({503})


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request and how to read a successful answer. ``path`` is relative to the server's
    URL, or absolute for a signed download link."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, Any] | None = None
    json: Any = None
    files: Mapping[str, Any] | None = None
    content: bytes | str | None = None
    headers: Mapping[str, str] | None = None

    def arguments(self) -> dict[str, Any]:
        """What httpx's ``request`` takes besides the method and the URL."""
        return {
            "params": self.params,
            "json": self.json,
            "files": self.files,
            "content": self.content,
            "headers": self.headers,
        }

    @property
    def idempotent(self) -> bool:
        """Only these are sent again after a lost connection or a 503: a POST may have been
        carried out before the answer was lost."""
        return self.method in IDEMPOTENT_METHODS


@dataclass(frozen=True)
class Sleep:
    seconds: float


Step: TypeAlias = Call[Any] | Sleep
Flow: TypeAlias = Generator[Step, Any, T]


@dataclass(frozen=True)
class Pages(Generic[T]):
    """A listing. Paged routes answer ``{"total", "items"}`` and take ``skip``/``limit``; the
    others answer a plain list, which is then the only page."""

    path: str
    item: Callable[[Any], T]
    params: Mapping[str, Any] = field(default_factory=dict)
    paged: bool = True
    page_size: int = 100

    def page(self, skip: int) -> Call[tuple[list[T], int | None]]:
        params = {**self.params, "skip": skip, "limit": self.page_size} if self.paged else self.params
        return Call("GET", self.path, self._read, params=params)

    def _read(self, response: httpx.Response) -> tuple[list[T], int | None]:
        body = response.json()
        if self.paged:
            return [self.item(entry) for entry in body["items"]], int(body["total"])
        return [self.item(entry) for entry in body], None

    def more(self, items: list[T], seen: int, total: int | None) -> bool:
        return self.paged and bool(items) and total is not None and seen < total


@dataclass(frozen=True)
class Stream(Generic[T]):
    """A GET whose answer is read as it arrives, each text chunk read by ``item``. It has no
    read timeout (a followed log may stay quiet for long) and is never sent again: what was
    already read would come twice."""

    path: str
    item: Callable[[str], T]
    params: Mapping[str, Any] = field(default_factory=dict)


def open_ended(timeout: httpx.Timeout) -> httpx.Timeout:
    return httpx.Timeout(connect=timeout.connect, read=None, write=timeout.write, pool=timeout.pool)


def model(cls: type[ModelT]) -> Callable[[httpx.Response], ModelT]:
    return lambda response: cls.model_validate(response.json())


def models(cls: type[ModelT]) -> Callable[[httpx.Response], list[ModelT]]:
    adapter = TypeAdapter(list[cls])  # type: ignore[valid-type]
    return lambda response: adapter.validate_python(response.json())


def nothing(_: httpx.Response) -> None:
    return None


def segment(value: object) -> str:
    """A path segment: names may hold spaces, slashes or ``..``."""
    return quote(str(value), safe="")


class Mode:
    """How a resource's methods run: ``Sync`` returns results, ``Async`` awaitables."""


class Sync(Mode):
    pass


class Async(Mode):
    pass


ModeT = TypeVar("ModeT", bound=Mode)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter for idempotent calls, on lost connections and 503."""

    attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 5.0

    def delay(self, call: Call[Any], attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before sending ``call`` again, or None to stop here."""
        if not call.idempotent or attempt + 1 >= self.attempts:
            return None
        if response is not None and response.status_code not in RETRIED_STATUSES:
            return None
        after = response.headers.get("Retry-After", "") if response is not None else ""
        if after.isdigit():
            return min(float(after), self.max_delay)
        backoff: float = min(self.base_delay * 2**attempt, self.max_delay)
        return backoff * (0.5 + random.random() / 2)


def finish(call: Call[T], response: httpx.Response) -> T:
    if response.is_error:
        raise error_from(response)
    return call.parse(response)


def lost(method: str, path: str, error: httpx.TransportError) -> ConnectionFailed:
    return ConnectionFailed(f"{method} {path}: {type(error).__name__}: {error}")


class Runner:
    """What resources need from a driver: the server's URL, the project of project-scoped
    paths, and running."""

    def __init__(self, base_url: httpx.URL, project: str, retry: RetryPolicy) -> None:
        # httpx ends a base URL with "/"; paths start with one.
        self.base_url = str(base_url).rstrip("/")
        self.project = project
        self.retry = retry

    def in_project(self, project: str) -> Self:
        clone = self.__class__.__new__(self.__class__)
        clone.__dict__.update(self.__dict__, project=project)
        return clone

    def run(self, operation: Call[Any] | Flow[Any]) -> Any:
        raise NotImplementedError

    def iterate(self, pages: Pages[Any]) -> Any:
        raise NotImplementedError

    def stream(self, stream: Stream[Any]) -> Any:
        raise NotImplementedError


class Resource(Generic[ModeT]):
    """A group of API operations; the mode type parameter types its methods' results."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    def _in_project(self, suffix: str) -> str:
        return f"/api/v1/projects/{segment(self._runner.project)}{suffix}"


class endpoint(Generic[P, T]):
    """Decorates a method that describes an operation (a ``Call`` or a ``Flow``)."""

    def __init__(self, describe: Callable[Concatenate[Any, P], Call[T] | Flow[T]]) -> None:
        self._describe = describe
        self.__doc__ = describe.__doc__

    @overload
    def __get__(self, resource: None, owner: type[Any] | None = None) -> Self: ...
    @overload
    def __get__(self, resource: Resource[Sync], owner: type[Any] | None = None) -> Callable[P, T]: ...
    @overload
    def __get__(
        self, resource: Resource[Async], owner: type[Any] | None = None
    ) -> Callable[P, Awaitable[T]]: ...
    def __get__(self, resource: Resource[Any] | None, owner: type[Any] | None = None) -> Any:
        if resource is None:
            return self
        describe = self._describe

        @functools.wraps(describe)
        def bound(*args: Any, **kwargs: Any) -> Any:
            return resource._runner.run(describe(resource, *args, **kwargs))

        return bound


class listing(Generic[P, T]):
    """Decorates a method that describes a listing or a stream: an iterator (sync or async)
    that pages, or that yields the chunks of an answer as they arrive."""

    def __init__(self, describe: Callable[Concatenate[Any, P], Pages[T] | Stream[T]]) -> None:
        self._describe = describe
        self.__doc__ = describe.__doc__

    @overload
    def __get__(self, resource: None, owner: type[Any] | None = None) -> Self: ...
    @overload
    def __get__(
        self, resource: Resource[Sync], owner: type[Any] | None = None
    ) -> Callable[P, Iterator[T]]: ...
    @overload
    def __get__(
        self, resource: Resource[Async], owner: type[Any] | None = None
    ) -> Callable[P, AsyncIterator[T]]: ...
    def __get__(self, resource: Resource[Any] | None, owner: type[Any] | None = None) -> Any:
        if resource is None:
            return self
        describe = self._describe

        @functools.wraps(describe)
        def bound(*args: Any, **kwargs: Any) -> Any:
            described = describe(resource, *args, **kwargs)
            runner = resource._runner
            return runner.iterate(described) if isinstance(described, Pages) else runner.stream(described)

        return bound


class SyncRunner(Runner):
    def __init__(self, http: httpx.Client, project: str, retry: RetryPolicy) -> None:
        super().__init__(http.base_url, project, retry)
        self.http = http

    def send(self, call: Call[T]) -> T:
        for attempt in range(self.retry.attempts):
            try:
                response = self.http.request(call.method, call.path, **call.arguments())
            except httpx.TransportError as error:
                if (delay := self.retry.delay(call, attempt, None)) is None:
                    raise lost(call.method, call.path, error) from error
            else:
                if (delay := self.retry.delay(call, attempt, response)) is None:
                    return finish(call, response)
            time.sleep(delay)
        raise AssertionError("the retry policy stops before its last attempt")

    def run(self, operation: Call[T] | Flow[T]) -> T:
        if isinstance(operation, Call):
            return self.send(operation)
        result: Any = None
        # A call that fails ends the flow: closing it runs its cleanup (an open upload file).
        with contextlib.closing(operation):
            while True:
                try:
                    step = operation.send(result)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]
                if isinstance(step, Sleep):
                    time.sleep(step.seconds)
                result = self.send(step) if isinstance(step, Call) else None

    def iterate(self, pages: Pages[T]) -> Iterator[T]:
        seen = 0
        while True:
            items, total = self.send(pages.page(seen))
            yield from items
            seen += len(items)
            if not pages.more(items, seen, total):
                return

    def stream(self, stream: Stream[T]) -> Iterator[T]:
        answer = self.http.stream(
            "GET", stream.path, params=stream.params, timeout=open_ended(self.http.timeout)
        )
        try:
            with answer as response:
                if response.is_error:  # the reason is in the body
                    response.read()
                    raise error_from(response)
                for chunk in response.iter_text():
                    yield stream.item(chunk)
        except httpx.TransportError as error:
            raise lost("GET", stream.path, error) from error


class AsyncRunner(Runner):
    def __init__(self, http: httpx.AsyncClient, project: str, retry: RetryPolicy) -> None:
        super().__init__(http.base_url, project, retry)
        self.http = http

    async def send(self, call: Call[T]) -> T:
        for attempt in range(self.retry.attempts):
            try:
                response = await self.http.request(call.method, call.path, **call.arguments())
            except httpx.TransportError as error:
                if (delay := self.retry.delay(call, attempt, None)) is None:
                    raise lost(call.method, call.path, error) from error
            else:
                if (delay := self.retry.delay(call, attempt, response)) is None:
                    return finish(call, response)
            await asyncio.sleep(delay)
        raise AssertionError("the retry policy stops before its last attempt")

    async def run(self, operation: Call[T] | Flow[T]) -> T:
        if isinstance(operation, Call):
            return await self.send(operation)
        result: Any = None
        # A call that fails ends the flow: closing it runs its cleanup (an open upload file).
        with contextlib.closing(operation):
            while True:
                try:
                    step = operation.send(result)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]
                if isinstance(step, Sleep):
                    await asyncio.sleep(step.seconds)
                result = await self.send(step) if isinstance(step, Call) else None

    async def iterate(self, pages: Pages[T]) -> AsyncIterator[T]:
        seen = 0
        while True:
            items, total = await self.send(pages.page(seen))
            for item in items:
                yield item
            seen += len(items)
            if not pages.more(items, seen, total):
                return

    async def stream(self, stream: Stream[T]) -> AsyncIterator[T]:
        answer = self.http.stream(
            "GET", stream.path, params=stream.params, timeout=open_ended(self.http.timeout)
        )
        try:
            async with answer as response:
                if response.is_error:  # the reason is in the body
                    await response.aread()
                    raise error_from(response)
                async for chunk in response.aiter_text():
                    yield stream.item(chunk)
        except httpx.TransportError as error:
            raise lost("GET", stream.path, error) from error
