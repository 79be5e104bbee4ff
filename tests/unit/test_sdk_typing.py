"""``mypy --strict`` on a user's script that uses the SDK: results are typed (sync values,
async awaitables and iterators), and the check does catch a misuse."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import assay

SCRIPT = Path(__file__).parents[1] / "typing" / "sdk_user_script.py"
MISUSE = """
from assay.client import AsyncClient, Client


async def misuse() -> None:
    count: str = Client().datasets.get("x").row_count
    pending = AsyncClient().datasets.get("x")
    print(count, pending.row_count)
"""


def test_user_script_passes_strict_mypy_and_a_misuse_does_not(tmp_path: Path) -> None:
    """One run, as a user runs it: no project config, the installed (here: this tree's)
    package. Every error it reports must be in the misuse file."""
    misuse = tmp_path / "misuse.py"
    misuse.write_text(MISUSE)
    env = {**os.environ, "MYPYPATH": str(Path(assay.__file__).parents[1])}
    command = [sys.executable, "-m", "mypy", "--strict", "--config-file", os.devnull]
    command += ["--cache-dir", str(tmp_path / "cache"), str(SCRIPT), str(misuse)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert errors and all(line.startswith(str(misuse)) for line in errors), result.stdout + result.stderr
    assert any('variable has type "str"' in line for line in errors)
    assert any('"Awaitable[DatasetDetail]" has no attribute "row_count"' in line for line in errors)
