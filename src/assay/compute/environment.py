"""The environment the embedded Ray head starts with.

Every job driver inherits the head's environment, so the head must not inherit the server's:
``ASSAY_ADMIN_PASSWORD``, ``ASSAY_SECRET_KEY``, the database URL and the storage keys would
reach user code. The head gets only what a process needs to run (``PATH``, locale, temp dir),
what jobs need on purpose (model caches, offline switches, GPUs, proxies and CA bundles), and
the Ray variables its caller sets. ``ALLOWED`` is also what a job's runtime environment may
take from the server's (``assay.jobs.environment``): one allow-list for both.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

BASE = ("PATH", "LANG", "LANGUAGE", "TMPDIR", "TZ")
ALLOWED = (
    "HF_HOME",
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "NLTK_DATA",
    "CUDA_VISIBLE_DEVICES",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    # Jobs import the same Assay code as the server (a source checkout run with PYTHONPATH).
    "PYTHONPATH",
)


def head_environment(
    home: str, extra: Mapping[str, str], source: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """The base, the allow-list and ``LC_*`` from ``source``, then ``HOME`` and ``extra``."""
    env = {name: value for name, value in source.items() if name in BASE or name in ALLOWED}
    env.update({name: value for name, value in source.items() if name.startswith("LC_")})
    env["HOME"] = home
    env.update(extra)
    return env
