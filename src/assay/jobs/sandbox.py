"""The user command of a script job runs in a bubblewrap sandbox.

All jobs of a Ray cluster share an OS user, so a plain process of one job could read the
cluster's token (and with it drive the dashboard: other jobs' logs and environments) and see
every other process. In the sandbox the command gets its own PID namespace (a fresh ``/proc``:
no other process, no ``/proc/<pid>/environ`` of anybody) and empty tmpfs over the head's temp dir
and the token's folder. Everything else of the file system stays as it is; the environment is
the caller's business (it must already be scrubbed).

Without ``bwrap``, or where user namespaces are not allowed (some containers), the command runs
unsandboxed and says so on its first log line, unless the server requires the sandbox (in
multi-user mode): then the job fails, saying what to install.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from assay.compute.local_ray import TEMP_DIR_PREFIX
from assay.compute.processes import MARKER

RAY_TEMP_PATTERN = f"{TEMP_DIR_PREFIX}*"


def hidden_paths(env: Mapping[str, str]) -> list[str]:
    """Every Ray head's temp dir on the machine (sockets, session logs, token copies: other
    servers' heads too), Ray's default one, this head's wherever it is, and the folder of the
    token the head was given; none inside another. Not the temp folders whole: the interpreter
    and the code a job runs may live there (a checkout under ``/tmp``)."""
    roots = sorted({"/tmp", tempfile.gettempdir()})
    paths = [
        *(path for root in roots for path in glob.glob(os.path.join(root, RAY_TEMP_PATTERN))),
        *(os.path.join(root, "ray") for root in roots),
        env.get(MARKER, ""),
        os.path.dirname(env.get("RAY_AUTH_TOKEN_PATH", "")),
    ]
    found = sorted({path for path in paths if path and os.path.isdir(path)})
    return [
        path
        for path in found
        if not any(Path(path).is_relative_to(other) for other in found if other != path)
    ]


def _usable(bwrap: str) -> bool:
    probe = [bwrap, "--unshare-user", "--unshare-pid", "--dev-bind", "/", "/", "true"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


class SandboxUnavailableError(RuntimeError):
    """The server requires the sandbox and this node cannot provide it."""


def sandboxed(
    argv: list[str], env: Mapping[str, str], source: Mapping[str, str] = os.environ, required: bool = False
) -> list[str]:
    """``argv`` wrapped in ``bwrap``, hiding what ``source`` (the job driver's environment) says
    the head keeps; the command's ``HOME`` and working directory are recreated empty when they
    lie in a hidden folder."""
    bwrap = shutil.which("bwrap")
    if bwrap is None or not _usable(bwrap):
        if required:
            raise SandboxUnavailableError(
                "this server runs script jobs only in a bubblewrap sandbox, and this Ray node has no "
                "usable bwrap: install Debian's 'bubblewrap' (scripts/install_sandbox.sh) and allow "
                "unprivileged user namespaces"
            )
        print("assay: no bubblewrap sandbox here; the command runs unsandboxed", file=sys.stderr, flush=True)
        return argv
    hidden = hidden_paths(source)
    command = [bwrap, "--unshare-user", "--unshare-pid", "--die-with-parent", "--dev-bind", "/", "/"]
    command += ["--proc", "/proc"]
    for path in hidden:
        command += ["--tmpfs", path]
    home = env.get("HOME", "/tmp")
    if any(Path(home).is_relative_to(path) for path in hidden):
        command += ["--dir", home]
    if any(Path(os.getcwd()).is_relative_to(path) for path in hidden):
        command += ["--chdir", home]
    return [*command, "--", *argv]
