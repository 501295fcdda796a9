"""Administration: the schema, agencies, topics, agents."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.agency import service as agency_service
from civdesk.agent import service as agent_service
from civdesk.cli.support import current_settings, fail, with_session
from civdesk.db import migrate as db_migrate

app = typer.Typer()
agency_app = typer.Typer(help="Agencies.", no_args_is_help=True)
agent_app = typer.Typer(help="Agents (civil servants).", no_args_is_help=True)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    settings = current_settings()
    try:
        db_migrate.upgrade(settings.database_url)
    except Exception as exc:
        fail(f"migration failed: {str(exc).splitlines()[0]}")
    typer.echo("database is up to date")


@agency_app.command("add")
def agency_add(slug: str, name: Annotated[str, typer.Option("--name")]) -> None:
    """Add an agency."""

    async def action(session: AsyncSession) -> int:
        return (await agency_service.create(session=session, slug=slug, name=name)).id

    typer.echo(f"agency {slug} created (id {with_session(current_settings(), action)})")


@agency_app.command("topic")
def agency_topic(slug: str, topic: str, name: Annotated[str, typer.Option("--name")]) -> None:
    """Add a topic (queue) to an agency."""

    async def action(session: AsyncSession) -> int:
        agency = await agency_service.require_by_slug(session=session, slug=slug)
        return (await agency_service.add_topic(session=session, agency=agency, slug=topic, name=name)).id

    typer.echo(f"topic {topic} created (id {with_session(current_settings(), action)})")


@agent_app.command("add")
def agent_add(
    agency: Annotated[str, typer.Option("--agency")],
    email: Annotated[str, typer.Option("--email")],
    password: Annotated[str, typer.Option("--password")],
    name: Annotated[str, typer.Option("--name")],
    role: Annotated[str, typer.Option("--role")] = "agent",
    region: Annotated[str | None, typer.Option("--region")] = None,
    capacity: Annotated[int, typer.Option("--capacity")] = 5,
) -> None:
    """Add an agent to an agency."""

    async def action(session: AsyncSession) -> int:
        found = await agency_service.require_by_slug(session=session, slug=agency)
        created = await agent_service.create(
            session=session,
            agency=found,
            email=email,
            password=password,
            name=name,
            role=role,
            region=region,
            capacity=capacity,
        )
        return created.id

    typer.echo(f"agent {email} created (id {with_session(current_settings(), action)})")
