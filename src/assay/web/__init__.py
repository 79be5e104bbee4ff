"""The web UI's templates and static files; the pages themselves are served by
``assay.api.routes.ui``. Third-party browser files live in ``static/vendor/``, built by
``scripts/build_web_assets.sh`` from ``web/package-lock.json`` and never committed."""

from __future__ import annotations

from pathlib import Path

WEB_DIR = Path(__file__).parent
TEMPLATE_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
VENDOR_FILES = ("htmx.min.js", "chart.umd.js")


def assets_installed() -> bool:
    """Whether the vendored scripts are there; the pages say how to get them when not."""
    return all((STATIC_DIR / "vendor" / name).is_file() for name in VENDOR_FILES)
