"""A model service's model file on the node (``assay.jobs.model_files``): archives are unpacked
only when every member stays inside the model folder as a plain file or folder and all of them
fit on the disk; the download must be the pinned bytes; no message names the signed link."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assay.inference.config import GenerationParams
from assay.inference.providers.hf import HFOptions
from assay.jobs import model_files
from assay.jobs.model_files import (
    ModelFileError,
    build,
    check_budget,
    download,
    model_root,
    untar,
    unzip,
)
from assay.jobs.model_server import vllm_command
from assay.jobs.serve import MODELS_FOLDER, SetupError, model_folder
from assay.security.links import redact_link_signatures

CONFIG = b'{"model_type": "gpt2"}'
PAYLOAD = b"weights" * 1000
SIGNED = "?key=k&signature=0123456789abcdef0123456789abcdef"


def tar_of(path: Path, members: list[tarfile.TarInfo], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tar:
        for member in members:
            data = b"x" * member.size if member.isfile() else None
            tar.addfile(member, io.BytesIO(data) if data is not None else None)
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, size: int = 1, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size if kind == tarfile.REGTYPE else 0
    info.linkname = target
    return info


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (member("../escape.txt"), "outside the model folder"),
        (member("model/../../escape.txt"), "outside the model folder"),
        (member("/etc/cron.d/escape"), "outside the model folder"),
        (member("link", tarfile.SYMTYPE, target="/etc/passwd"), "a link or a special file"),
        (member("inner", tarfile.SYMTYPE, target="config.json"), "a link or a special file"),
        (member("hard", tarfile.LNKTYPE, target="config.json"), "a link or a special file"),
        (member("dev", tarfile.CHRTYPE), "a link or a special file"),
        (member("fifo", tarfile.FIFOTYPE), "a link or a special file"),
    ],
)
def test_a_tar_member_outside_the_folder_or_not_a_plain_file_refuses_the_whole_archive(
    tmp_path: Path, bad: tarfile.TarInfo, reason: str
) -> None:
    archive = tar_of(tmp_path / "m.tar.gz", [member("config.json"), bad])
    target = tmp_path / "out"
    target.mkdir()
    with pytest.raises(ModelFileError, match=reason):
        untar(archive, target)
    assert list(target.iterdir()) == [] and not (tmp_path / "escape.txt").exists()


def test_a_zip_member_outside_the_folder_or_a_link_refuses_the_whole_archive(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    for name in ("../escape.txt", "/abs/escape.txt", "C:/escape.txt", "a/../../escape.txt"):
        archive = tmp_path / "m.zip"
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("config.json", CONFIG)
            zipped.writestr(zipfile.ZipInfo(name), b"x")
        with pytest.raises(ModelFileError, match="outside the model folder"):
            unzip(archive, target)
    link = zipfile.ZipInfo("weights.bin")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("config.json", CONFIG)
        zipped.writestr(link, "/etc/passwd")
    with pytest.raises(ModelFileError, match="a link or a special file"):
        unzip(archive, target)
    assert list(target.iterdir()) == []


def test_an_archive_too_big_for_the_disk_or_with_too_many_members_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sizes are the members' declared ones, which bound what extraction writes: checked first."""
    target = tmp_path / "out"
    target.mkdir()
    free = shutil.disk_usage(target).free
    with pytest.raises(ModelFileError, match=r"more than the \d+ bytes free"):
        check_budget([free // 2, free // 2 + 1], target)
    monkeypatch.setattr(model_files, "MAX_MEMBERS", 2)
    many = tar_of(tmp_path / "many.tar", [member(f"f{i}") for i in range(3)], mode="w")
    with pytest.raises(ModelFileError, match="3 members, more than 2"):
        untar(many, target)
    assert list(target.iterdir()) == []


def test_a_damaged_or_lying_archive_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    archive = tar_of(tmp_path / "m.tar.gz", [member("config.json", size=100_000)])
    whole = archive.read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ModelFileError, match="could not be unpacked as a tar archive"):
        untar(tmp_path / "cut.tar.gz", target)
    liar = tarfile.TarInfo("weights.bin")
    liar.size = 1 << 60  # a header promising more than follows
    with tarfile.open(tmp_path / "liar.tar", "w") as tar:
        tar.addfile(member("config.json"), io.BytesIO(b"x"))
    with open(tmp_path / "liar.tar", "r+b") as raw:
        raw.seek(1024)  # past the first member: its header and its one block of data
        raw.write(liar.tobuf(format=tarfile.GNU_FORMAT) + b"\0" * 1024)
    with pytest.raises(ModelFileError, match="could not be unpacked as a tar archive"):
        untar(tmp_path / "liar.tar", target)
    (tmp_path / "m.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ModelFileError, match="could not be unpacked as a zip archive"):
        unzip(tmp_path / "m.zip", target)
    assert list(target.iterdir()) == []


def test_the_model_is_at_the_archives_top_or_in_its_one_folder(tmp_path: Path) -> None:
    top, nested, empty = (tmp_path / name for name in ("top", "nested", "empty"))
    for folder in (top, nested, empty):
        folder.mkdir()
    untar(tar_of(tmp_path / "a.tar.gz", [member("config.json"), member("model.safetensors")]), top)
    assert model_root(top) == top
    with zipfile.ZipFile(tmp_path / "b.zip", "w") as zipped:
        zipped.writestr("tiny/", b"")
        zipped.writestr("tiny/config.json", CONFIG)
    unzip(tmp_path / "b.zip", nested)
    assert model_root(nested) == nested / "tiny"
    untar(tar_of(tmp_path / "c.tar", [member("README.md")], mode="w"), empty)
    with pytest.raises(ModelFileError, match="no model folder"):
        model_root(empty)


class Files(ThreadingHTTPServer):
    body = PAYLOAD
    status = 200


class Handler(BaseHTTPRequestHandler):
    server: Files

    def do_GET(self) -> None:
        refused = self.server.status != 200
        detail = {"detail": "the linked object no longer exists"}
        body = json.dumps(detail).encode() if refused else self.server.body
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json" if refused else "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def files() -> Iterator[Files]:
    server = Files(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def test_the_download_must_be_the_pinned_bytes_and_no_message_names_the_link(
    files: Files, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{files.server_address[1]}/api/v1/objects{SIGNED}"
    sha256 = hashlib.sha256(PAYLOAD).hexdigest()
    download(url, tmp_path / "ok.gguf", sha256, len(PAYLOAD))
    assert (tmp_path / "ok.gguf").read_bytes() == PAYLOAD

    failures = []
    for size, digest in ((len(PAYLOAD), "0" * 64), (len(PAYLOAD) - 1, sha256), (len(PAYLOAD) + 1, sha256)):
        with pytest.raises(ModelFileError) as caught:
            download(url, tmp_path / "bad.gguf", digest, size)
        failures.append(str(caught.value))
    files.status = 404
    with pytest.raises(ModelFileError, match=r"refused \(404\) the linked object no longer") as caught:
        download(url, tmp_path / "gone.gguf", sha256, len(PAYLOAD))
    failures.append(str(caught.value))
    files.shutdown()
    files.server_close()  # refused from now on
    with pytest.raises(RuntimeError) as lost:  # not a ModelFileError: another start may reach it
        download(url, tmp_path / "lost.gguf", sha256, len(PAYLOAD))
    assert not isinstance(lost.value, ModelFileError)
    failures.append(str(lost.value))
    assert all("signature" not in failure and "127.0.0.1" not in failure for failure in failures), failures


def test_a_gguf_file_is_the_model_folders_one_file(files: Files, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{files.server_address[1]}/x{SIGNED}"
    pinned = {"folder": "models", "name": "tiny.gguf", "version": 1}
    pinned |= {"size": len(PAYLOAD), "sha256": hashlib.sha256(PAYLOAD).hexdigest()}
    (tmp_path / "left-over").mkdir(parents=True)
    build(url, pinned, tmp_path)
    assert [path.name for path in tmp_path.rglob("*")] == ["model", "tiny.gguf"]
    assert model_root(tmp_path / "model") == tmp_path / "model"


def test_link_signatures_are_redacted() -> None:
    assert redact_link_signatures(f"GET /api/v1/objects{SIGNED} 200") == (
        "GET /api/v1/objects?key=k&signature=<REDACTED> 200"
    )


def test_a_services_model_folder_is_built_once_per_node_in_a_private_folder(
    files: Files, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restart claims again but downloads nothing: the folder its first start built is kept."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    url = f"http://127.0.0.1:{files.server_address[1]}/x{SIGNED}"
    pinned = {"folder": "models", "name": "tiny.gguf", "version": 1}
    pinned |= {"size": len(PAYLOAD), "sha256": hashlib.sha256(PAYLOAD).hexdigest()}
    first = model_folder("service-id", pinned, url)
    files.shutdown()
    files.server_close()  # refused from now on
    assert model_folder("service-id", pinned, url) == first
    assert (first / "tiny.gguf").read_bytes() == PAYLOAD
    root = tmp_path / f"{MODELS_FOLDER}-{os.getuid()}"
    assert first.is_relative_to(root) and stat.S_IMODE(root.stat().st_mode) == 0o700
    with pytest.raises(SetupError, match="no link"):
        model_folder("another-service", pinned, None)


def test_the_model_server_loads_the_weights_folder_and_serves_the_name_as_given(tmp_path: Path) -> None:
    (tmp_path / "tiny.gguf").write_bytes(b"GGUF")
    served, options, generation = "file:models/tiny.gguf", HFOptions(), GenerationParams()
    argv = vllm_command("/opt/python", served, options, generation, "10.0.0.5", 1, str(tmp_path))
    assert argv[argv.index("--model") + 1] == str(tmp_path / "tiny.gguf")
    assert argv[argv.index("--served-model-name") + 1] == "file:models/tiny.gguf"
