"""``assay serve`` runs the API; ``assay db upgrade`` applies migrations; ``assay users``
manages accounts on the server's machine. The client commands (``assay login``, ``assay
datasets``..., ``assay eval``) talk to a server through the Python SDK."""

from __future__ import annotations

from typing import Annotated

import typer

from assay.cli.evaluate import eval_command
from assay.cli.remote import register
from assay.cli.users import users_app
from assay.config import Settings

app = typer.Typer(help="Assay: evaluate, compare and serve ML models.", no_args_is_help=True)


def _print_version(value: bool) -> None:
    if value:
        from assay import __version__

        typer.echo(f"assay {__version__}")
        raise typer.Exit


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Assay: evaluate, compare and serve ML models."""


db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
register(app)
app.command("eval")(eval_command)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [ASSAY_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [ASSAY_PORT]")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Start the API (embedded mode by default: SQLite and local storage under ASSAY_HOME)."""
    import uvicorn

    from assay.api.app import create_app
    from assay.api.edge import WILDCARD_ADDRESSES
    from assay.api.http_protocol import bounded
    from assay.memory import keep_large_blocks_out_of_arenas

    keep_large_blocks_out_of_arenas()
    settings = Settings()
    overrides = {key: value for key, value in {"host": host, "port": port}.items() if value is not None}
    settings = settings.model_copy(update=overrides)
    typer.echo(f"Assay on http://{settings.host}:{settings.port}  (docs: /docs, data: {settings.home})")
    if settings.host.strip("[]") in WILDCARD_ADDRESSES and not settings.allowed_hosts:
        typer.echo("Only loopback host names are answered: list the names clients use in ASSAY_ALLOWED_HOSTS")
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        # httptools, with the request head it buffers bounded (api/http_protocol.py): heads
        # between the limit and twice it get the app's 431, larger ones a 400.
        http=bounded(2 * settings.max_header_bytes),
        # The app applies X-Forwarded-* itself, from ASSAY_TRUSTED_PROXIES only
        # (api/public_url.py): uvicorn's own handling would trust any loopback peer.
        proxy_headers=False,
    )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from assay.db.engine import build_engine
    from assay.db.migrate import upgrade

    settings = Settings()
    engine = build_engine(settings.resolved_database_url)
    settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(engine, revision)
    engine.dispose()
    typer.echo(f"database at revision {revision}")


if __name__ == "__main__":
    app()
