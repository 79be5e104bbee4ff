"""The object-store contract on both implementations: streamed writes of many pieces (several
S3 parts, mixed buffer types), commit and abort, and the zstd layer on top of either."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.storage import ObjectStore
from assay.storage.local import LocalObjectStore
from assay.storage.s3 import PART_SIZE, S3ObjectStore
from assay.storage.zstd import ZstdObjectWriter, compressed_key, iter_decompressed
from tests.servers import SeaweedS3


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalObjectStore(tmp_path)
    seaweed: SeaweedS3 = request.getfixturevalue("seaweed")
    return S3ObjectStore(
        seaweed.create_bucket(),
        endpoint_url=seaweed.endpoint_url,
        access_key_id=seaweed.access_key,
        secret_access_key=seaweed.secret_key,
    )


def pieces() -> Iterator[bytes | bytearray | memoryview]:
    """About 2.5 parts of text in pieces of odd sizes, some of them not ``bytes``."""
    line = b"a line of text that compresses well, number %08d\n"
    for i in range(4_000):
        piece = b"".join(line % (i * 100 + j) for j in range(100)) + random.Random(i).randbytes(i % 7)
        yield bytearray(piece) if i % 3 == 0 else memoryview(piece) if i % 3 == 1 else piece


def read_all(store: ObjectStore, key: str) -> bytes:
    return b"".join(store.iter_chunks(key))


def test_streamed_write_commits_the_exact_bytes(store: ObjectStore) -> None:
    expected = b"".join(bytes(piece) for piece in pieces())
    assert len(expected) > 2 * PART_SIZE
    writer = store.open_writer("objects/big.bin")
    for piece in pieces():
        writer.write(piece)
    assert writer.bytes_written == len(expected)
    assert writer.commit().size == len(expected)
    assert store.stat("objects/big.bin").size == len(expected)
    assert read_all(store, "objects/big.bin") == expected
    with store.open_reader("objects/big.bin") as reader:
        reader.seek(PART_SIZE - 3)
        assert reader.read(10) == expected[PART_SIZE - 3 : PART_SIZE + 7]


def test_abort_after_several_parts_leaves_nothing(store: ObjectStore) -> None:
    writer = store.open_writer("objects/dropped.bin")
    for piece in pieces():
        writer.write(piece)
    writer.abort()
    assert store.list("objects/") == []
    with pytest.raises(KeyError):
        store.stat("objects/dropped.bin")


def test_zstd_objects_read_back_as_written(store: ObjectStore) -> None:
    expected = b"".join(bytes(piece) for piece in pieces())
    key = compressed_key("objects/text.csv")
    writer = ZstdObjectWriter(store.open_writer(key))
    for piece in pieces():
        writer.write(piece)
    assert writer.bytes_written == len(expected)
    stored = writer.commit().size
    assert stored == store.stat(key).size < len(expected) / 3
    assert b"".join(iter_decompressed(store, key, chunk_size=100_000)) == expected
