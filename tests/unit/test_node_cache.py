"""What services keep on a node: built once, held by the process that uses it (through
``exec`` into the sandbox), and removed once nobody holds it and no start has used it for a
while; an interrupted build or a removal leaves nothing that a start would take as built."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from assay.jobs.node_cache import READY, built_once, prune

WEEK = dt.timedelta(days=7)
# A start in miniature: the entry built (or found) in a process of its own, which then ends or,
# as the entrypoint does, becomes the service's command through the sandbox where this machine
# has one.
START = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from assay.jobs.node_cache import built_once
    from assay.jobs.sandbox import sandboxed
    print(built_once(Path(sys.argv[1]), sys.argv[2], lambda target: target.mkdir()), flush=True)
    if sys.argv[3] == "serve":
        command = [sys.executable, "-c", "import time; print('serving', flush=True); time.sleep(60)"]
        argv = sandboxed(command, dict(os.environ))
        os.execvpe(argv[0], argv, dict(os.environ))
    """
)


def start(root: Path, identity: str, then: str = "end") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", START, str(root), identity, then], stdout=subprocess.PIPE, text=True
    )


def built(root: Path, identity: str) -> Path:
    """The entry, built by a start that has ended."""
    process = start(root, identity)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    return Path(out.strip())


def age(root: Path, days: float) -> None:
    """Every entry of ``root`` last used ``days`` ago."""
    moment = time.time() - days * 86400
    for path in root.iterdir():
        os.utime(path, (moment, moment))


def test_an_entry_is_built_once_and_an_interrupted_build_is_redone(tmp_path: Path) -> None:
    builds: list[Path] = []

    def build(target: Path) -> None:
        target.mkdir()
        (target / "file").write_text(str(len(builds)))
        builds.append(target)

    first = built_once(tmp_path, ["service", ["packaging"]], build)
    assert built_once(tmp_path, ["service", ["packaging"]], build) == first and len(builds) == 1
    (first / READY).unlink()  # as a build cut short leaves it: half there, not marked built
    assert built_once(tmp_path, ["service", ["packaging"]], build) == first
    assert len(builds) == 2 and (first / "file").read_text() == "1"


def test_entries_unused_for_a_while_go_unless_a_service_holds_them(tmp_path: Path) -> None:
    idle, recent = built(tmp_path, "idle"), built(tmp_path, "recent")
    running = start(tmp_path, "held", "serve")
    try:
        assert running.stdout is not None
        held = Path(running.stdout.readline().strip())
        assert running.stdout.readline().strip() == "serving"  # the command, holding the entry
        age(tmp_path, 8)
        os.utime(tmp_path / f"{recent.name}.use")  # a start used it just now
        assert prune(tmp_path, WEEK) == [idle.name]
        assert not idle.exists() and held.is_dir() and recent.is_dir()
        assert prune(tmp_path, WEEK) == []
    finally:
        running.kill()
        running.wait()
    age(tmp_path, 8)
    removed = prune(tmp_path, WEEK)
    deadline = time.monotonic() + 10
    while held.exists() and time.monotonic() < deadline:  # the sandboxed command dies after bwrap
        time.sleep(0.1)
        removed += prune(tmp_path, WEEK)
    assert sorted(removed) == sorted([held.name, recent.name])
    again = built(tmp_path, "held")  # a later start builds it anew
    assert again == held and (again / READY).exists()
