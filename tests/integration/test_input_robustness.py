"""Hostile or broken input gets a 4xx that names the problem, and the server stays up.

Multipart, health and JSONL cases run against a real server (uvicorn on loopback), since a
connection reset or a crashed process does not show through an in-process client.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import h11
import httpx
import pytest
from fastapi.testclient import TestClient

from assay.api.paging import MAX_COUNT
from assay.datasets.streams import MAX_JSON_DEPTH
from tests.backends import Backend, make_settings
from tests.helpers import jsonl_bytes
from tests.integration.accounts import API
from tests.serving import live_server

SQLITE_LOCAL = Backend("sqlite", "local")


def paged_routes(client: TestClient) -> list[tuple[str, str]]:
    """Every (path, parameter) of the app where a query parameter skips items."""
    found = []
    for path, operations in client.app.openapi()["paths"].items():  # type: ignore[attr-defined]
        for parameter in operations.get("get", {}).get("parameters", []):
            if parameter["in"] == "query" and parameter["name"] in ("skip", "offset"):
                found.append((path, parameter["name"]))
    return found


def concrete(path: str) -> str:
    """The path with its parameters filled in: the bound is checked before any lookup."""
    return path.format(project="default", dataset_id=uuid.uuid4(), experiment_id=uuid.uuid4())


def test_skip_beyond_a_64_bit_offset_is_refused_on_every_paged_route(client: TestClient) -> None:
    routes = paged_routes(client)
    assert len(routes) >= 8  # datasets, jobs, experiments (both mounts), files, audit, rows
    for path, name in routes:
        response = client.get(concrete(path), params={name: 2**63})
        assert response.status_code == 422, (path, response.text)
        assert response.json()["detail"][0]["loc"] == ["query", name]


def test_the_largest_accepted_skip_reaches_the_database(client: TestClient) -> None:
    for path in ("/datasets", "/jobs", "/experiments", "/projects/default/files", "/audit"):
        response = client.get(f"{API}{path}", params={"skip": MAX_COUNT})
        assert response.status_code == 200, (path, response.text)
        assert response.json()["items"] == []


def test_file_versions_beyond_the_bound_are_refused(client: TestClient) -> None:
    response = client.get(f"{API}/projects/default/files/other/notes.txt", params={"version": 2**63})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "version"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[str]:
    settings = make_settings(SQLITE_LOCAL, tmp_path_factory.mktemp("robust"), request)
    with live_server(settings) as (_, base_url):
        yield base_url


def multipart(boundary: str, disposition: str, content: bytes = b"examples\nhello\n") -> bytes:
    return (
        f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )


MALFORMED = {
    "5000-character filename": (
        "b0undary",
        multipart("b0undary", f'form-data; name="dataset"; filename="{"a" * 5000}.csv"'),
        "Maximum header size exceeded",
    ),
    "5000-character boundary": (
        "b" * 5000,
        multipart("b" * 5000, 'form-data; name="dataset"; filename="rows.csv"'),
        "Boundary length 5000 exceeds maximum of 256",
    ),
    "CR inside a part header": (
        "b0undary",
        multipart("b0undary", 'form-data; name="dataset";\r filename="rows.csv"'),
        "Did not find LF character at end of header",
    ),
    "CR inside a part header, 10 MB after it": (
        "b0undary",
        multipart("b0undary", 'form-data; name="dataset";\r filename="rows.csv"', b"x,y\n" * 2_500_000),
        "Did not find LF character at end of header",
    ),
}


def exchange(
    connection: h11.Connection, sock: socket.socket, request: h11.Request, body: bytes
) -> tuple[int, bytes]:
    """One request and its whole response on a connection that must stay open."""
    sock.sendall(
        connection.send(request) + connection.send(h11.Data(data=body)) + connection.send(h11.EndOfMessage())
    )
    status, content = 0, b""
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            connection.receive_data(sock.recv(65536))
        elif isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.Data):
            content += event.data
        elif isinstance(event, h11.EndOfMessage):
            connection.start_next_cycle()
            return status, content
        elif isinstance(event, h11.ConnectionClosed):
            raise AssertionError("the server closed the connection")


def test_malformed_multipart_is_a_400_on_a_connection_kept_alive(server: str) -> None:
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        connection = h11.Connection(h11.CLIENT)
        for case, (boundary, body, reason) in MALFORMED.items():
            headers = [
                ("Host", host),
                ("Content-Type", f"multipart/form-data; boundary={boundary}"),
                ("Content-Length", str(len(body))),
            ]
            request = h11.Request(method="POST", target=f"{API}/datasets", headers=headers)
            status, content = exchange(connection, sock, request, body)
            assert status == 400, (case, content)
            error = json.loads(content)
            assert error["field"] == "dataset" and reason in error["detail"], (case, error)
        # The same connection still serves the next request.
        request = h11.Request(method="GET", target=f"{API}/health", headers=[("Host", host)])
        assert exchange(connection, sock, request, b"")[0] == 200


def test_concurrent_health_checks_all_answer_200(server: str) -> None:
    limits = httpx.Limits(max_connections=200)
    with httpx.Client(base_url=server, timeout=60, limits=limits) as client, ThreadPoolExecutor(200) as pool:
        statuses = list(pool.map(lambda _: client.get(f"{API}/health").status_code, range(200)))
    assert statuses == [200] * 200


def nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def test_a_deeply_nested_jsonl_line_is_refused_and_the_server_survives(server: str) -> None:
    deep = json.dumps({"examples": "deep", "ground_truth": "x"})[:-1] + f', "tree": {nested(10_000)}}}\n'
    content = jsonl_bytes() + deep.encode()
    assert len(deep) == pytest.approx(20_000, rel=0.1)
    response = httpx.post(f"{server}{API}/datasets", files={"dataset": ("deep.jsonl", content)}, timeout=60)
    assert response.status_code == 422, response.text
    assert response.json() == {
        "detail": f"line 4 nests arrays or objects deeper than {MAX_JSON_DEPTH} levels",
        "field": "dataset",
    }
    assert httpx.get(f"{server}{API}/health").status_code == 200


def test_nested_but_shallow_jsonl_uploads(server: str) -> None:
    rows = [
        {
            "examples": "[[[[ {{{{ not structure",
            "ground_truth": "x",
            "tree": json.loads(nested(MAX_JSON_DEPTH - 1)),
        }
    ]
    response = httpx.post(
        f"{server}{API}/datasets",
        files={"dataset": ("shallow.jsonl", jsonl_bytes(rows))},
        timeout=60,  # type: ignore[arg-type]
    )
    assert response.status_code == 201, response.text
