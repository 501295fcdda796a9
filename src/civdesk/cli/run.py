"""Long-running commands: serve, worker, demo."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from civdesk.cli.support import current_settings as load
from civdesk.db import migrate as db_migrate

app = typer.Typer()


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    workers_here: Annotated[bool, typer.Option("--embedded-worker/--no-embedded-worker")] = True,
) -> None:
    """Run the web server (with an in-process delivery worker unless told otherwise)."""
    import uvicorn

    from civdesk.runtime import serving_app

    settings = load()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(serving_app(settings, run_workers=workers_here), host=host, port=port, log_level="info")


@app.command()
def worker() -> None:
    """Run a delivery worker and the long-polling receivers (distributed mode)."""
    from civdesk.runtime import run, run_worker

    settings = load()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run(run_worker(settings))


@app.command()
def demo(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    sandbox_port: Annotated[int, typer.Option("--sandbox-port")] = 8081,
) -> None:
    """Migrate, seed demo agencies, and run the server with the messenger sandbox."""
    from civdesk.runtime import run, run_demo

    settings = load()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    db_migrate.upgrade(settings.database_url)
    run(run_demo(settings, host=host, port=port, sandbox_port=sandbox_port))
