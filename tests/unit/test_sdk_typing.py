"""``mypy --strict`` on a user's script that uses the SDK: results are typed (sync values,
async awaitables and iterators), and the check does catch a misuse."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import assay

TYPING = Path(__file__).parents[1] / "typing"
SCRIPT = TYPING / "sdk_user_script.py"
MISUSE = TYPING / "sdk_misuse.py"
# mypy's own cache, kept between runs (it revalidates what changed): a first run reads pydantic
# and httpx, later ones take a second.
CACHE = Path(__file__).parents[2] / ".mypy_cache" / "sdk-user-script"


def test_user_script_passes_strict_mypy_and_a_misuse_does_not() -> None:
    """One run, as a user runs it: no project config, the package as installed (here this
    tree's, through MYPYPATH; ``silent``: errors inside the package are not the user's, as
    with an installed package, while its types are read and checked against)."""
    env = {**os.environ, "MYPYPATH": str(Path(assay.__file__).parents[1])}
    command = [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent"]
    command += ["--config-file", os.devnull, "--cache-dir", str(CACHE), SCRIPT.name, MISUSE.name]
    result = subprocess.run(
        command, cwd=TYPING, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 2 and all(line.startswith(f"{MISUSE.name}:") for line in errors), result.stdout
    assert 'variable has type "str"' in errors[0]
    assert '"Awaitable[DatasetDetail]" has no attribute "row_count"' in errors[1]
