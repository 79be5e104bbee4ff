"""Finding and stopping every process of a local Ray head, including the job drivers that Ray
starts in process groups of their own and that outlive a killed parent."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import psutil

STOP_GRACE = 2.0
MARKER = "ASSAY_RAY_HEAD_DIR"


def _points_at(cmdline: list[str], marker: str) -> bool:
    """Whether a command line names the head's temp dir other than as a sandbox's ``--tmpfs``:
    every sandbox on the machine hides every head's temp dir (``jobs.sandbox``), so that mention
    says nothing about whose job it is."""
    hidden = {cmdline[index + 1] for index, arg in enumerate(cmdline[:-1]) if arg == "--tmpfs"}
    return any(marker in arg for arg in cmdline if arg not in hidden)


def head_processes(temp_dir: Path, pid: int | None = None, uid: int | None = None) -> list[psutil.Process]:
    """Every process of a head: its group and descendants, and whatever still points at its
    temp dir (job drivers run in process groups of their own and outlive a killed parent) with
    its descendants (a sandboxed command, whose scrubbed environment does not say its head),
    and in multi-user mode every process of its dedicated user."""
    marker = str(temp_dir)
    found: dict[int, psutil.Process] = {}
    if pid is not None:
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(pid)
            found.update({proc.pid: proc for proc in [root, *root.children(recursive=True)]})
    for proc in psutil.process_iter(["cmdline", "environ", "cwd", "uids"], ad_value=None):
        info = proc.info
        if proc.pid == os.getpid():
            continue
        with contextlib.suppress(psutil.Error, OSError):
            if (
                (pid is not None and os.getpgid(proc.pid) == pid)
                or (info["environ"] or {}).get(MARKER) == marker
                or _points_at(info["cmdline"] or [], marker)
                or (info["cwd"] or "").startswith(marker)
                or (uid is not None and info["uids"] is not None and info["uids"].real == uid)
            ):
                found[proc.pid] = proc
                found.update({child.pid: child for child in proc.children(recursive=True)})
    found.pop(os.getpid(), None)
    return list(found.values())


def terminate(processes: list[psutil.Process], grace: float = STOP_GRACE) -> None:
    """SIGTERM, then SIGKILL whatever is still there after ``grace`` seconds."""
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(processes, timeout=grace)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)
