"""``python -m assay.jobs.serve``: the entrypoint of a service on the compute engine.

It picks a free port on a private address of the node it landed on, says where it will listen
on its first log line (``ADDRESS_MARK``; the reconciler reads the first such line only, so the
user's command cannot redirect the gateway), and becomes the user's command: in the sandbox
where script jobs run, from the same scrubbed environment (``script_env``), plus ``HOST`` and
``PORT``. The service gets no job credential and no server setting: its spec (command and its
own variables) arrives in ``SPEC_ENV``, which ``script_env`` drops with every ``ASSAY_*`` name.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import sys
from collections.abc import Mapping

from assay.jobs.environment import script_env
from assay.jobs.sandbox import sandboxed

SPEC_ENV = "ASSAY_SERVICE_SPEC"
ADDRESS_MARK = "assay-service-address:"


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


def main() -> int:
    spec = json.loads(os.environ[SPEC_ENV])
    host = private_host(os.environ)
    port = free_port(host)
    own = {**{str(k): str(v) for k, v in spec.get("env", {}).items()}, "HOST": host, "PORT": str(port)}
    env = script_env(os.environ, spec.get("env_names", ()), own)
    argv = sandboxed([str(arg) for arg in spec["command"]], env, required=bool(spec.get("sandbox_required")))
    print(f"{ADDRESS_MARK} http://{host}:{port}", flush=True)
    os.execvpe(argv[0], argv, env)


if __name__ == "__main__":
    sys.exit(main())
