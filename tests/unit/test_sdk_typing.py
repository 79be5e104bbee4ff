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


def strict_mypy(path: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """As a user runs it: no project config, the installed (here: this tree's) package."""
    env = {**os.environ, "MYPYPATH": str(Path(assay.__file__).parents[1])}
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--strict",
        "--config-file",
        os.devnull,
        "--cache-dir",
        str(cache),
    ]
    return subprocess.run(
        [*command, str(path)], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_user_script_passes_strict_mypy(tmp_path: Path) -> None:
    result = strict_mypy(SCRIPT, tmp_path / "cache")
    assert result.returncode == 0, result.stdout + result.stderr


def test_strict_mypy_catches_misuse(tmp_path: Path) -> None:
    script = tmp_path / "misuse.py"
    script.write_text(MISUSE)
    result = strict_mypy(script, tmp_path / "cache")
    assert result.returncode == 1
    assert 'variable has type "str"' in result.stdout
    assert '"Awaitable[DatasetDetail]" has no attribute "row_count"' in result.stdout
