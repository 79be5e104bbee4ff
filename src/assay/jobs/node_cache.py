"""What services keep on a node between their starts (a service's requirements installed in a
virtual environment, its model file unpacked into a folder), and when that goes.

Each entry is a folder under a root private to the OS user, named by a digest of what it was
built from. It is built once under an exclusive *build* lock, then used under a shared *use*
lock that the service holds for its whole life: the lock's file descriptor is inheritable, so
it survives the entrypoint's ``exec`` into the sandbox (whose outer ``bwrap`` keeps it until
the command ends) or into the command itself. Each start also marks its entry as used now.

Without a limit these would stay for ever: a deleted service's environment, the weights of
every model a node ever served (often gigabytes each). So each service start removes the
entries that no process holds and that no start has used for ``UNUSED``: a pruner takes both
locks without waiting and passes over an entry whose lock is held, and a start that finds its
entry gone builds it again.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

UNUSED = dt.timedelta(days=7)
READY = ".assay-ready"
# The use locks of this process, open until it ends: after ``exec`` they belong to the service.
_HELD: list[int] = []


class PrivateFolderError(RuntimeError):
    """The root folder exists but is not this user's alone."""


def private_folder(name: str) -> Path:
    """``name`` in the temp folder, made by and for this OS user alone."""
    root = Path(tempfile.gettempdir()) / f"{name}-{os.getuid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    found = root.lstat()
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid() or found.st_mode & 0o077:
        # Another user of the machine made it first: what it holds would run as the service.
        raise PrivateFolderError(f"{root} is not a private folder of this user; remove it")
    return root


def built_once(root: Path, identity: object, build: Callable[[Path], None]) -> Path:
    """The folder of ``identity`` under ``root``, built unless an earlier start (of this
    replica or another on this node, maybe at this moment) built it; held in use by this
    process, and what it becomes, from now on. What an interrupted build left is removed first."""
    key = hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:32]
    target = root / key
    with open(root / f"{key}.lock", "a") as building:
        fcntl.flock(building, fcntl.LOCK_EX)
        if not (target / READY).exists():
            shutil.rmtree(target, ignore_errors=True)
            build(target)
            (target / READY).touch()
        _hold(root / f"{key}.use")
    return target


def _hold(path: Path) -> None:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(descriptor, fcntl.LOCK_SH)
    os.utime(descriptor)
    os.set_inheritable(descriptor, True)
    _HELD.append(descriptor)


def prune(root: Path, unused: dt.timedelta = UNUSED) -> list[str]:
    """Remove the entries of ``root`` that no process holds and no start has used for
    ``unused``; the names of those removed. Never waits for a lock."""
    cutoff = time.time() - unused.total_seconds()
    removed = []
    for target in sorted(path for path in root.iterdir() if path.is_dir() and not path.is_symlink()):
        if _last_use(root, target.name) <= cutoff and _remove_if_idle(root, target):
            removed.append(target.name)
    return removed


def _last_use(root: Path, key: str) -> float:
    """When a start last used the entry (its use lock's time), else when it was built."""
    for path in (root / f"{key}.use", root / key):
        try:
            return path.stat().st_mtime
        except FileNotFoundError:
            continue
    return time.time()


def _remove_if_idle(root: Path, target: Path) -> bool:
    with open(root / f"{target.name}.lock", "a") as building:
        if not _try_exclusive(building.fileno()):
            return False  # being built or checked by a start now
        use = os.open(root / f"{target.name}.use", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if not _try_exclusive(use):
                return False  # a service runs on it
            (target / READY).unlink(missing_ok=True)
            shutil.rmtree(target, ignore_errors=True)
            return True
        finally:
            os.close(use)


def _try_exclusive(descriptor: int) -> bool:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
