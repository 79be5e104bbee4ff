"""``/docs`` (Swagger UI) and ``/redoc``, served with their assets by Assay itself.

The assets come from the ``fastapi-offline`` package, so the pages work offline and load no
third-party script; the pages have no inline script, so they run under a policy that allows
this server's own files only.
"""

from __future__ import annotations

import functools
import html
import importlib.resources

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
REDOC_SCRIPT = "redoc.standalone.js"
# ReDoc's menu always shows its vendor's logo from the vendor's CDN; served without it, the page
# asks no other host for anything (an empty src fetches nothing, and ReDoc then drops the image).
VENDOR_LOGO = b'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"'

# Beyond 'self': inline styles, which Swagger UI and ReDoc set from their scripts; data:
# images, the icons in Swagger UI's stylesheet; blob: workers, which ReDoc's search builds
# from its own script.
DOCS_POLICY = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SWAGGER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="icon" href="{assets}/favicon.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head><body><div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/swagger-init.js"></script>
</body></html>
"""
REDOC_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="icon" href="{assets}/favicon.png">
</head><body><redoc spec-url="{openapi}"></redoc>
<script src="{assets}/redoc.standalone.js"></script>
</body></html>
"""


@functools.cache
def _redoc_script() -> bytes:
    source = importlib.resources.files("fastapi_offline").joinpath("static", REDOC_SCRIPT).read_bytes()
    return source.replace(VENDOR_LOGO, b'src:""')


def install_docs(app: FastAPI) -> None:
    """Needs ``FastAPI(docs_url=None, redoc_url=None)``: these replace FastAPI's CDN pages."""

    @app.get(f"{ASSETS}/{REDOC_SCRIPT}", include_in_schema=False)
    def redoc_script() -> Response:
        return Response(_redoc_script(), media_type="text/javascript")

    app.mount(
        ASSETS,
        StaticFiles(packages=[("fastapi_offline", "static"), ("assay.api", "static")]),
        name="docs-assets",
    )

    def page(template: str, title: str, request: Request) -> HTMLResponse:
        root = html.escape(request.scope.get("root_path", "").rstrip("/"))
        openapi = f"{root}{app.openapi_url}"
        body = template.format(title=html.escape(title), assets=root + ASSETS, openapi=openapi)
        return HTMLResponse(body, headers={"Content-Security-Policy": DOCS_POLICY})

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        return page(SWAGGER_PAGE, f"{app.title} API", request)

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        return page(REDOC_PAGE, f"{app.title} API reference", request)
