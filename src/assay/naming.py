"""Names and labels of engine resources (Ray jobs, services, workspaces).

Every engine object is named ``{namespace}-{project}-{name}`` and labelled with who owns it
(``assay.namespace``, ``assay.project``, ``assay.kind``, ``assay.name``, ``assay.user``), so
that the engine's own tools show which project and user a resource belongs to.

Names are DNS labels (RFC 1123: at most 63 of ``a-z 0-9 -``) and label values follow the
Kubernetes rules (at most 63 of ``A-Z a-z 0-9 - _ .``, alphanumeric at both ends), so the same
strings work on Ray and on Kubernetes. Whenever a value had to be changed to fit, whether cut
or cleaned, a hash of the original is appended: two different originals never end up with
the same name (``job_1`` and ``job-1`` stay apart), and an unchanged value stays readable.
Project ids are immutable slugs, so a renamed project never leaves names that point elsewhere.
"""

from __future__ import annotations

import hashlib
import re

MAX_LENGTH = 63
HASH_LENGTH = 8
_NOT_DNS = re.compile(r"[^a-z0-9-]+")
_NOT_LABEL = re.compile(r"[^A-Za-z0-9_.-]+")
_LABEL_EDGES = "-_."


def _fit(cleaned: str, original: str, edges: str) -> str:
    """``cleaned`` itself when nothing was changed, else cut to leave room for a hash of
    ``original`` (and still starting and ending with an alphanumeric character)."""
    if cleaned == original and len(cleaned) <= MAX_LENGTH:
        return cleaned
    digest = hashlib.sha256(original.encode()).hexdigest()[:HASH_LENGTH]
    head = cleaned[: MAX_LENGTH - HASH_LENGTH - 1].strip(edges)
    return f"{head}-{digest}" if head else digest


def _dns_part(text: str) -> str:
    return _NOT_DNS.sub("-", text.lower()).strip("-")


def engine_name(namespace: str, project: str, name: str) -> str:
    """``{namespace}-{project}-{name}`` as a DNS label of at most 63 characters."""
    original = f"{namespace}-{project}-{name}"
    cleaned = "-".join(part for part in map(_dns_part, (namespace, project, name)) if part)
    return _fit(cleaned, original, "-")


def label_value(value: str) -> str:
    """``value`` as a valid label value (empty stays empty)."""
    return _fit(_NOT_LABEL.sub("-", value).strip(_LABEL_EDGES), value, _LABEL_EDGES)


def engine_labels(namespace: str, project: str, kind: str, name: str, user: str) -> dict[str, str]:
    """The labels every engine object carries; ``user`` is who created it (empty: Assay)."""
    values = {"namespace": namespace, "project": project, "kind": kind, "name": name, "user": user}
    return {f"assay.{key}": label_value(value) for key, value in values.items()}
