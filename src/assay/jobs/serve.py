"""``python -m assay.jobs.serve``: the entrypoint of a service on the compute engine.

It picks a free port on a private address of the node it landed on and says where it will
listen on its first log line (``ADDRESS_MARK``; the reconciler reads the first such line only,
so nothing printed later, by pip or by the user's command, can redirect the gateway). Then:

- when the service names secrets or its model is a project file, it trades its claim token
  (``SERVICE_CLAIM_ENV``, removed from its environment at once) for them at the internal job
  API: the secrets' values and a short-lived link to the file;
- when its model is a project file, it makes it a model folder of the service's own
  (``assay.jobs.model_files``: downloaded, checked, unpacked; kept for the service's next
  starts on this node) and names it to the model server (``--weights``);
- when it has requirements, it installs them with pip into a virtual environment of the
  service's own that sees the base environment's packages (the server's venv is never
  written), pip running in the sandbox with the scrubbed environment, without the service's
  variables or secrets;
- it becomes the user's command, in the sandbox where script jobs run, from the same scrubbed
  environment (``script_env``), plus the service's variables, its secrets, ``HOST`` and
  ``PORT``, and that virtual environment first on ``PATH``; just before, it removes what
  services of this node keep and no one has used for a week (``assay.jobs.node_cache``).

The command gets no credential and no server setting: the spec arrives in ``SPEC_ENV``, which
``script_env`` drops with every ``ASSAY_*`` name. A setup that fails for a reason that a new
try would meet again ends with a ``SETUP_FAILED_MARK`` line, and the reconciler fails the
service at once with it.
"""

from __future__ import annotations

import ipaddress
import json
import os
import site
import socket
import subprocess
import sys
import sysconfig
import venv
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from assay.jobs import model_files
from assay.jobs.environment import API_URL_ENV, SERVICE_CLAIM_ENV, script_env
from assay.jobs.model_files import ModelFileError
from assay.jobs.node_cache import PrivateFolderError, built_once, private_folder, prune
from assay.jobs.sandbox import SandboxUnavailableError, sandboxed

SPEC_ENV = "ASSAY_SERVICE_SPEC"
ADDRESS_MARK = "assay-service-address:"
SETUP_FAILED_MARK = "assay-service-setup-failed:"
SECRETS_ROUTE = "/api/v1/job/service/secrets"
# Requirements are installed once per service and set of requirements on a node, and kept
# for its next generations (a restart does not install them again), in a folder per OS user,
# until no start has used them for a week (``node_cache``); so are model folders.
ENVS_FOLDER = "assay-service-envs"
MODELS_FOLDER = "assay-service-models"
WEIGHTS_OPTION = "--weights"
TIMEOUT = httpx.Timeout(60.0, connect=10.0)
PIP_INSTALL = ("-m", "pip", "install", "--no-input", "--disable-pip-version-check", "--")


class SetupError(RuntimeError):
    """The service cannot start, and would not on another try either."""


def private_host(environ: Mapping[str, str]) -> str:
    """Loopback where the cluster itself lives on loopback (a local head: the gateway runs on
    the same machine); else this node's address inside the cluster, never a wildcard."""
    head = environ.get("RAY_ADDRESS", "127.0.0.1").split("://")[-1].rsplit(":", 1)[0].strip("[]")
    try:
        if ipaddress.ip_address(head).is_loopback:
            return "127.0.0.1"
    except ValueError:
        if head == "localhost":
            return "127.0.0.1"
    import ray.util

    return str(ray.util.get_node_ip_address())  # type: ignore[no-untyped-call]


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Claimed:
    secrets: dict[str, str]
    model_url: str | None


def claim(environ: MutableMapping[str, str]) -> Claimed:
    """The service's secrets by variable name, and the link to its model file, for its claim
    token, which works once."""
    token = environ.pop(SERVICE_CLAIM_ENV, "")
    url = environ.get(API_URL_ENV, "").rstrip("/") + SECRETS_ROUTE
    with httpx.Client(timeout=TIMEOUT, transport=httpx.HTTPTransport(retries=3)) as client:
        response = client.post(url, headers={"Authorization": f"Bearer {token}"})
    if response.is_client_error:
        body = response.json() if "json" in response.headers.get("content-type", "") else {}
        where = f"{body['field']}: " if body.get("field") else ""
        detail = body.get("detail", response.text[:300])
        raise SetupError(f"the service's claim was refused: {where}{detail}")
    response.raise_for_status()  # the server's trouble: another try may do better
    body = response.json()
    secrets = {str(name): str(value) for name, value in body["env"].items()}
    return Claimed(secrets, body.get("model_url"))


def install(service_id: str, requirements: Sequence[str], env: Mapping[str, str], required: bool) -> Path:
    """A virtual environment with the requirements, inheriting the packages of this one (as
    Ray's ``pip`` runtime environments do). Not Ray's own ``pip`` field: Ray installs there
    outside the sandbox, in its agent, and a package's build runs code of the tenant's choice."""
    return built_once(
        private_folder(ENVS_FOLDER),
        [service_id, list(requirements)],
        lambda target: _build(target, requirements, env, required),
    )


def model_folder(service_id: str, pinned: Mapping[str, Any], url: str | None) -> Path:
    """The service's model file as a model folder; the link is followed only to build it."""
    if url is None:
        raise SetupError("the claim gave no link to the model file")
    identity = [service_id, pinned["sha256"], pinned["name"]]
    target = built_once(
        private_folder(MODELS_FOLDER), identity, lambda folder: model_files.build(url, pinned, folder)
    )
    return model_files.model_root(target / model_files.MODEL_FOLDER)


def _build(target: Path, requirements: Sequence[str], env: Mapping[str, str], required: bool) -> None:
    venv.EnvBuilder(clear=True, symlinks=True).create(target)
    own = Path(sysconfig.get_path("purelib", "venv", {"base": str(target), "platbase": str(target)}))
    base = [path for path in site.getsitepackages() if Path(path).is_dir()]
    inherited = "".join(f"site.addsitedir({path!r}); " for path in base)
    (own / "_assay_base.pth").write_text(f"import site; {inherited}\n")
    argv = sandboxed([str(target / "bin" / "python"), *PIP_INSTALL, *requirements], env, required=required)
    print(f"assay: installing {', '.join(requirements)}", flush=True)
    code = subprocess.run(argv, env=dict(env), check=False).returncode
    if code < 0:  # killed (out of memory, a stop): not the requirements' fault
        raise RuntimeError(f"pip was ended by signal {-code}; the next start tries again")
    if code > 0:
        raise SetupError(f"pip could not install the requirements (exit code {code}); its output is above")


def prune_node_caches() -> None:
    """What services of this node left and nobody used for a while goes (``node_cache``);
    a failure here never keeps the service from starting."""
    for name in (ENVS_FOLDER, MODELS_FOLDER):
        try:
            removed = prune(private_folder(name))
        except (OSError, PrivateFolderError) as exc:
            print(f"assay: could not clean {name}: {exc}", flush=True)
            continue
        if removed:
            print(f"assay: removed {len(removed)} unused entries of {name} from this node", flush=True)


def activated(env: Mapping[str, str], target: Path) -> dict[str, str]:
    """``env`` with the service's virtual environment first on ``PATH`` (``python`` is its)."""
    path = env.get("PATH", os.defpath)
    return {**env, "PATH": f"{target / 'bin'}{os.pathsep}{path}", "VIRTUAL_ENV": str(target)}


def main() -> int:
    spec = json.loads(os.environ[SPEC_ENV])
    host = private_host(os.environ)
    port = free_port(host)
    print(f"{ADDRESS_MARK} http://{host}:{port}", flush=True)
    names = spec.get("env_names", ())
    required = bool(spec.get("sandbox_required"))
    own = {str(k): str(v) for k, v in spec.get("env", {}).items()}
    pinned = spec.get("model_file")
    command = [str(arg) for arg in spec["command"]]
    try:
        claimed = claim(os.environ) if spec.get("secrets") or pinned else Claimed({}, None)
        env = script_env(os.environ, names, {**own, **claimed.secrets, "HOST": host, "PORT": str(port)})
        if pinned:
            command += [WEIGHTS_OPTION, str(model_folder(str(spec["id"]), pinned, claimed.model_url))]
        if spec.get("requirements"):
            bare = script_env(os.environ, names, {})
            env = activated(env, install(str(spec["id"]), spec["requirements"], bare, required))
        argv = sandboxed(command, env, required=required)
    except (SetupError, ModelFileError, SandboxUnavailableError, PrivateFolderError) as exc:
        print(f"{SETUP_FAILED_MARK} {exc}", flush=True)
        return 1
    prune_node_caches()
    sys.stdout.flush()
    os.execvpe(argv[0], argv, env)


if __name__ == "__main__":
    sys.exit(main())
