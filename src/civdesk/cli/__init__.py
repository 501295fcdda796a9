"""The `civdesk` command: migrate, serve, worker, demo, and agency/agent/channel administration."""

from __future__ import annotations

import sys

import typer

from civdesk.cli import admin, run
from civdesk.cli.channels import channel_app
from civdesk.cli.routing import routing_app

app = typer.Typer(help="civdesk: citizens' messengers in, civil servants' answers out.", no_args_is_help=True)
app.registered_commands += admin.app.registered_commands + run.app.registered_commands
app.add_typer(admin.agency_app, name="agency")
app.add_typer(admin.agent_app, name="agent")
app.add_typer(channel_app, name="channel")
app.add_typer(routing_app, name="routing")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
