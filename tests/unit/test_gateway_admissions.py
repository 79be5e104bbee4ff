"""The gateway's admissions: callers with the same credential who arrive together wait for one
lookup (when an entry expires under load, not one thread each), share its refusal, and one
that goes away does not cancel it for the others. Replicas are taken in turn, and one that
refuses the connection passes the request to the next."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

from assay.api.gateway import Admissions, new_client, send_to_replicas
from assay.errors import NotFoundError

KEY = (b"digest", "project", "service")


def test_callers_together_share_one_lookup() -> None:
    calls = []
    release = threading.Event()

    def authorize() -> tuple[str, ...]:
        calls.append(1)
        release.wait(5)
        return ("http://127.0.0.1:9",)

    async def scenario() -> None:
        admissions = Admissions()
        waiting = [asyncio.create_task(admissions.lookup(KEY, authorize)) for _ in range(20)]
        await asyncio.sleep(0.05)
        waiting[0].cancel()  # a caller that went away
        release.set()
        answers = await asyncio.gather(*waiting[1:])
        assert answers == [("http://127.0.0.1:9",)] * 19
        assert admissions.get(KEY) == ("http://127.0.0.1:9",)

    asyncio.run(scenario())
    assert len(calls) == 1


def test_a_refusal_reaches_every_caller_and_is_not_kept() -> None:
    def refuse() -> tuple[str, ...]:
        raise NotFoundError("project 'project' not found", field="project")

    async def scenario() -> None:
        admissions = Admissions()
        outcomes = await asyncio.gather(
            *(admissions.lookup(KEY, refuse) for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(outcome, NotFoundError) for outcome in outcomes)
        assert admissions.get(KEY) is None
        with pytest.raises(NotFoundError):
            await admissions.lookup(KEY, refuse)

    asyncio.run(scenario())


def test_each_turn_starts_at_the_next_replica_and_keeps_the_others_behind() -> None:
    admissions = Admissions()
    replicas = ("a", "b", "c")
    turns = [admissions.pick("project", "service", replicas) for _ in range(4)]
    assert turns == [("a", "b", "c"), ("b", "c", "a"), ("c", "a", "b"), ("a", "b", "c")]
    assert admissions.pick("project", "other", replicas)[0] == "a"  # a counter per service


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def echo_at(address: str) -> URL:
    return URL(f"{address}/echo")


def test_a_replica_that_refuses_the_connection_passes_the_request_on() -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"whole ", b"body"):
            yield part

    async def scenario() -> None:
        app = web.Application()
        app.router.add_post("/echo", echo)
        async with TestServer(app, host="127.0.0.1") as live, new_client() as client:
            dead = f"http://127.0.0.1:{closed_port()}"
            alive = f"http://127.0.0.1:{live.port}"
            sent = await send_to_replicas(client, "POST", (dead, alive), echo_at, [], chunks)
            assert (sent.status, await sent.read()) == (200, b"whole body")
            with pytest.raises(aiohttp.ClientConnectorError):  # when every replica refuses
                await send_to_replicas(client, "POST", (dead, dead), echo_at, [], chunks)

    asyncio.run(scenario())
