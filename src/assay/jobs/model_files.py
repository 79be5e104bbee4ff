"""The model of a model service whose weights are a project file (``file:FOLDER/NAME``), made a
model folder on the node by the service's entrypoint (``assay.jobs.serve``) before the model
server starts: downloaded over the signed link its claim returned, checked against the SHA-256
pinned when the service was created, then unpacked.

A GGUF file is the folder's one file (the ``hf`` provider loads a folder's single GGUF). An
archive (``.tar``, ``.tar.gz``, ``.tgz``, ``.zip``) holds a Hugging Face model folder, at its
top or inside its one top folder. An archive is the tenant's input, unpacked by the
entrypoint before the sandbox: every member is checked first (no absolute path, no ``..``, no
link, device or other special file, at most ``MAX_MEMBERS``, all of them fitting on the disk)
and nothing is written unless all pass; tar members are then extracted with the standard
library's ``data`` filter too.
"""

from __future__ import annotations

import hashlib
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import httpx

CHUNK = 1024 * 1024
MAX_MEMBERS = 100_000
TIMEOUT = httpx.Timeout(300.0, connect=10.0)
MODEL_FOLDER = "model"
MARKERS = ("config.json",)


class ModelFileError(RuntimeError):
    """The file cannot become a model folder, and would not on another try either."""


def download(url: str, destination: Path, sha256: str, size: int) -> None:
    """The file at ``url`` into ``destination``, which must be exactly ``size`` bytes whose
    SHA-256 is ``sha256``. No message names the link: its signature is a credential."""
    free = shutil.disk_usage(destination.parent).free
    if size > free:
        raise ModelFileError(f"the model file ({size} bytes) does not fit in the {free} bytes free here")
    digest = hashlib.sha256()
    received = 0
    transport = httpx.HTTPTransport(retries=3)
    try:
        with (
            httpx.Client(timeout=TIMEOUT, transport=transport) as client,
            client.stream("GET", url) as response,
        ):
            if response.is_client_error:  # the server's own words: "the linked object no longer exists"
                response.read()
                json = response.headers.get("content-type") == "application/json"
                detail = response.json().get("detail", "") if json else ""
                status = response.status_code
                raise ModelFileError(f"the model file's download was refused ({status}) {detail}")
            if response.status_code != 200:  # the server's trouble: another try may do better
                raise RuntimeError(f"the model file's download was answered {response.status_code}")
            with destination.open("wb") as out:
                for chunk in response.iter_bytes(CHUNK):
                    received += len(chunk)
                    if received > size:
                        raise ModelFileError(f"the model file is longer than the {size} bytes recorded")
                    digest.update(chunk)
                    out.write(chunk)
    except httpx.HTTPError as exc:
        raise RuntimeError(f"the model file's download failed ({type(exc).__name__})") from None
    if received != size or digest.hexdigest() != sha256:
        raise ModelFileError(
            f"the model file's bytes ({received} bytes, SHA-256 {digest.hexdigest()}) are not those "
            f"pinned when the service was created ({size} bytes, SHA-256 {sha256})"
        )


def checked_name(name: str) -> str:
    """A member's name, when it lands inside the folder it is unpacked into."""
    path = PurePosixPath(name.replace("\\", "/"))
    if not name or path.is_absolute() or ".." in path.parts or (len(name) > 1 and name[1] == ":"):
        raise ModelFileError(f"archive member {name!r} would land outside the model folder")
    return name


def check_budget(sizes: Iterable[int], target: Path) -> None:
    """Refuse what would fill the disk (a small archive may hold huge or countless members)."""
    sizes = list(sizes)
    if len(sizes) > MAX_MEMBERS:
        raise ModelFileError(f"the archive holds {len(sizes)} members, more than {MAX_MEMBERS}")
    free, total = shutil.disk_usage(target).free, sum(sizes)
    if total > free:
        raise ModelFileError(f"the archive unpacks to {total} bytes, more than the {free} bytes free here")


def untar(archive: Path, target: Path) -> None:
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                checked_name(member.name)
                if not (member.isfile() or member.isdir()):
                    raise ModelFileError(
                        f"archive member {member.name!r} is a link or a special file; a model folder "
                        "holds files and folders only"
                    )
            check_budget((member.size for member in members), target)
            tar.extractall(target, filter="data")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:  # a damaged or crafted archive
        raise ModelFileError(f"the model file could not be unpacked as a tar archive: {exc}") from None


def unzip(archive: Path, target: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = zipped.infolist()
            for member in members:
                checked_name(member.filename)
                # Unix file type bits, when the archive has them (none: a plain file or folder).
                if stat.S_IFMT(member.external_attr >> 16) not in (0, stat.S_IFREG, stat.S_IFDIR):
                    raise ModelFileError(
                        f"archive member {member.filename!r} is a link or a special file; a model "
                        "folder holds files and folders only"
                    )
            check_budget((member.file_size for member in members), target)
            zipped.extractall(target)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise ModelFileError(f"the model file could not be unpacked as a zip archive: {exc}") from None


def model_root(folder: Path) -> Path:
    """Where the model's files are: ``folder`` itself, or its one folder (an archive of the
    folder rather than of its contents)."""
    entries = list(folder.iterdir())
    if any(entry.name in MARKERS or entry.suffix == ".gguf" for entry in entries):
        return folder
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        inner = entries[0]
        if any(entry.name in MARKERS or entry.suffix == ".gguf" for entry in inner.iterdir()):
            return inner
    raise ModelFileError(
        "the archive holds no model folder: config.json (or a .gguf file) at its top or in its one folder"
    )


def build(url: str, pinned: Mapping[str, Any], target: Path) -> None:
    """The pinned file's model folder at ``target / MODEL_FOLDER``, from nothing (what an
    interrupted earlier try left is removed first)."""
    shutil.rmtree(target, ignore_errors=True)
    folder = target / MODEL_FOLDER
    folder.mkdir(parents=True, mode=0o700)
    name = str(pinned["name"])
    size, sha256 = int(pinned["size"]), str(pinned["sha256"])
    print(f"assay: fetching the model file {pinned['folder']}/{name} v{pinned['version']}", flush=True)
    if name.lower().endswith(".gguf"):
        download(url, folder / name, sha256, size)
        return
    archive = target / "archive"
    download(url, archive, sha256, size)
    (unzip if name.lower().endswith(".zip") else untar)(archive, folder)
    archive.unlink()
    model_root(folder)
