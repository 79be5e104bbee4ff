"""Names and labels of engine resources (Ray jobs, services, workspaces).

Every engine object is named ``{namespace}-{project}-{name}`` and labelled with who owns it,
so that the engine's own tools show which project and user a resource belongs to.
"""

from __future__ import annotations

import hashlib
import re

MAX_NAME = 63
_UNSAFE = re.compile(r"[^a-z0-9-]+")


def _dns_label(text: str) -> str:
    return _UNSAFE.sub("-", text.lower()).strip("-")


def engine_name(namespace: str, project: str, name: str) -> str:
    """A DNS-label-safe name of at most 63 characters; when cut, a hash of the full name is
    appended so that two long names never collide."""
    full = "-".join(part for part in (_dns_label(namespace), _dns_label(project), _dns_label(name)) if part)
    if len(full) <= MAX_NAME:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return f"{full[: MAX_NAME - len(digest) - 1].rstrip('-')}-{digest}"


def engine_labels(namespace: str, project: str, kind: str, name: str, user: str) -> dict[str, str]:
    return {
        "assay.namespace": namespace,
        "assay.project": project,
        "assay.kind": kind,
        "assay.name": name,
        "assay.user": user,
    }
