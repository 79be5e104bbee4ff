"""What the script sandbox hides: every Ray head's temp dir, this head's and the Ray token's
folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from assay.compute.processes import MARKER, head_processes
from assay.jobs.sandbox import SandboxUnavailableError, hidden_paths, sandboxed


def test_it_hides_every_ray_temp_dir_this_head_and_the_token_folder(tmp_path: Path) -> None:
    (tmp_path / "head").mkdir()
    (tmp_path / "keys").mkdir()
    env = {MARKER: str(tmp_path / "head"), "RAY_AUTH_TOKEN_PATH": str(tmp_path / "keys" / "token")}
    hidden = hidden_paths(env)
    assert {str(tmp_path / "head"), str(tmp_path / "keys")} <= set(hidden)
    # Not the temp folder whole: a checkout (and its interpreter) may live there.
    assert "/tmp" not in hidden and str(tmp_path) not in hidden
    with tempfile.TemporaryDirectory(prefix="assay-ray-", dir="/tmp") as other_head:
        assert other_head in hidden_paths({})
    assert str(tmp_path / "missing") not in hidden_paths({MARKER: str(tmp_path / "missing")})


def test_stopping_one_head_leaves_the_sandboxes_that_hide_it(tmp_path: Path) -> None:
    """A sandbox names every head's temp dir (to hide it): that does not make it a process of
    each head, which a head's stop would end."""
    (tmp_path / "head").mkdir()
    sleep = [sys.executable, "-c", "import time; time.sleep(30)"]
    hides = subprocess.Popen([*sleep, "--tmpfs", str(tmp_path / "head")])
    names = subprocess.Popen([*sleep, f"--temp-dir={tmp_path / 'head'}"])
    try:
        found = {proc.pid for proc in head_processes(tmp_path / "head")}
        assert names.pid in found and hides.pid not in found
    finally:
        for process in (hides, names):
            process.kill()
            process.wait()


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_the_command_sees_neither_the_token_nor_other_processes(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "token").write_text("secret-token")
    env = {"RAY_AUTH_TOKEN_PATH": str(tmp_path / "keys" / "token"), "HOME": str(tmp_path)}
    script = "import os; print(os.listdir(os.environ['D']), sum(p.isdigit() for p in os.listdir('/proc')))"
    argv = sandboxed(["python3", "-c", script], env, source=env)
    result = subprocess.run(
        argv,
        env={**env, "D": str(tmp_path / "keys"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    listing, count = result.stdout.rsplit(" ", 1)
    assert listing == "[]" and int(count) < 4


def test_without_bubblewrap_the_command_runs_plain_unless_the_server_requires_the_sandbox(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert sandboxed(["true"], {}, source={}) == ["true"]
    with pytest.raises(SandboxUnavailableError, match="install Debian's 'bubblewrap'"):
        sandboxed(["true"], {}, source={}, required=True)


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_stopping_a_head_spares_the_sandboxed_jobs_of_other_heads(tmp_path: Path) -> None:
    """Every sandbox names every head's temp dir (as ``--tmpfs``); a head that stops must not
    take that for one of its own processes, or it stops the services of every other head."""
    with tempfile.TemporaryDirectory(prefix="assay-ray-", dir="/tmp") as other_head:
        argv = sandboxed(["sleep", "30"], {"HOME": str(tmp_path)}, source={})
        assert other_head in argv
        process = subprocess.Popen(argv)
        try:
            assert process.pid not in {proc.pid for proc in head_processes(Path(other_head))}
        finally:
            process.kill()
            process.wait()
