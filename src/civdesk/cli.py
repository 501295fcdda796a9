"""The `civdesk` command: migrate, serve, worker, demo, and agency/agent/channel administration."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.agency import service as agency_service
from civdesk.agent import service as agent_service
from civdesk.channel import service as channel_service
from civdesk.channels import registry
from civdesk.config import Settings, load_settings
from civdesk.core.errors import CivdeskError, InvalidInput
from civdesk.db import migrate as db_migrate
from civdesk.db.session import create_engine_for, create_sessionmaker

app = typer.Typer(help="civdesk: citizens' messengers in, civil servants' answers out.", no_args_is_help=True)
agency_app = typer.Typer(help="Agencies.", no_args_is_help=True)
agent_app = typer.Typer(help="Agents (civil servants).", no_args_is_help=True)
channel_app = typer.Typer(help="Messenger channels.", no_args_is_help=True)
channel_add_app = typer.Typer(help="Connect a messenger account.", no_args_is_help=True)
app.add_typer(agency_app, name="agency")
app.add_typer(agent_app, name="agent")
app.add_typer(channel_app, name="channel")
channel_app.add_typer(channel_add_app, name="add")

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return load_settings()
    except CivdeskError as exc:
        _fail(exc.message_en)


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _with_session(settings: Settings, action: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Runs one use case in one transaction and turns domain errors into one clear line."""

    async def run() -> T:
        engine = create_engine_for(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                result = await action(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except CivdeskError as exc:
        _fail(exc.message_en)
    except Exception as exc:  # a database that is down or not migrated: one line, not a traceback
        _fail(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    settings = _settings()
    try:
        db_migrate.upgrade(settings.database_url)
    except Exception as exc:
        _fail(f"migration failed: {str(exc).splitlines()[0]}")
    typer.echo("database is up to date")


@agency_app.command("add")
def agency_add(slug: str, name: Annotated[str, typer.Option("--name")]) -> None:
    """Add an agency."""

    async def action(session: AsyncSession) -> int:
        return (await agency_service.create(session=session, slug=slug, name=name)).id

    typer.echo(f"agency {slug} created (id {_with_session(_settings(), action)})")


@agency_app.command("topic")
def agency_topic(slug: str, topic: str, name: Annotated[str, typer.Option("--name")]) -> None:
    """Add a topic (queue) to an agency."""

    async def action(session: AsyncSession) -> int:
        agency = await agency_service.require_by_slug(session=session, slug=slug)
        return (await agency_service.add_topic(session=session, agency=agency, slug=topic, name=name)).id

    typer.echo(f"topic {topic} created (id {_with_session(_settings(), action)})")


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

    typer.echo(f"agent {email} created (id {_with_session(_settings(), action)})")


def _print_channel(channel: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(channel, ensure_ascii=False, default=str))
    else:
        typer.echo(f"channel {channel['id']} ({channel['type']}) created; webhook path {channel['webhook_path']}")


@channel_add_app.command("telegram")
def channel_add_telegram(
    agency: Annotated[str, typer.Option("--agency")],
    token: Annotated[str, typer.Option("--token", help="the bot token from @BotFather")],
    secret: Annotated[str | None, typer.Option("--secret", help="webhook secret; generated if omitted")] = None,
    api_base: Annotated[str | None, typer.Option("--api-base", help="instead of https://api.telegram.org")] = None,
    name: Annotated[str | None, typer.Option("--name")] = None,
    polling: Annotated[bool, typer.Option("--polling", help="receive by getUpdates instead of a webhook")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Connect a Telegram bot."""
    if ":" not in token:
        _fail("a Telegram token looks like 123456:ABC-DEF…")

    async def action(session: AsyncSession) -> dict[str, Any]:
        found = await agency_service.require_by_slug(session=session, slug=agency)
        config: dict[str, Any] = {"receive_mode": "polling" if polling else "webhook"}
        if api_base:
            config["api_base"] = api_base.rstrip("/")
        channel = await channel_service.add(
            session=session,
            agency=found,
            type="telegram",
            name=name or f"Telegram {token.split(':')[0]}",
            config=config,
            secrets={"token": token, "secret": secret or channel_service.new_webhook_secret()},
        )
        return channel_service.to_read(channel).model_dump(mode="json")

    _print_channel(_with_session(_settings(), action), as_json)


@channel_add_app.command("webchat")
def channel_add_webchat(
    agency: Annotated[str, typer.Option("--agency")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Switch on the web chat at /chat/{agency}."""

    async def action(session: AsyncSession) -> dict[str, Any]:
        found = await agency_service.require_by_slug(session=session, slug=agency)
        channel = await channel_service.add(session=session, agency=found, type="webchat", name="Веб-чат")
        return channel_service.to_read(channel).model_dump(mode="json")

    _print_channel(_with_session(_settings(), action), as_json)


@channel_app.command("register-webhook")
def channel_register_webhook(
    channel_id: int,
    public_url: Annotated[str | None, typer.Option("--public-url", help="default: CIVDESK_PUBLIC_URL")] = None,
) -> None:
    """Tell the platform to send this channel's updates to civdesk (with the channel's secret)."""
    settings = _settings()
    base = (public_url or settings.public_url).rstrip("/")

    async def action(session: AsyncSession) -> str:
        channel = await channel_service.get(session=session, channel_id=channel_id)
        url = f"{base}{channel_service.webhook_path(channel)}"
        adapter = channel_service.adapter(channel)
        try:
            await adapter.register_webhook(account=channel_service.account(channel), url=url)
        except NotImplementedError:
            raise InvalidInput(f"{channel.type} channels need no webhook registration") from None
        except Exception as exc:
            raise InvalidInput(f"the platform refused the webhook: {exc}") from None
        finally:
            await registry.close_all()
        return url

    typer.echo(f"webhook registered: {_with_session(settings, action)}")


@channel_app.command("list")
def channel_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List channels (secrets are never shown)."""

    async def action(session: AsyncSession) -> list[dict[str, Any]]:
        return [
            channel_service.to_read(c).model_dump(mode="json") for c in await channel_service.list_for(session=session)
        ]

    rows = _with_session(_settings(), action)
    for row in rows:
        typer.echo(
            json.dumps(row, ensure_ascii=False)
            if as_json
            else f"{row['id']:>4}  {row['type']:<9} agency {row['agency_id']:<4} {row['name']}  {row['webhook_path']}"
        )


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    workers_here: Annotated[bool, typer.Option("--embedded-worker/--no-embedded-worker")] = True,
) -> None:
    """Run the web server (with an in-process delivery worker unless told otherwise)."""
    import uvicorn

    from civdesk.app import create_app

    settings = _settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(settings, run_workers=workers_here), host=host, port=port, log_level="info")


@app.command()
def worker() -> None:
    """Run a delivery worker and the long-polling receivers (distributed mode)."""
    from civdesk.runtime import run_worker

    settings = _settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(run_worker(settings))


@app.command()
def demo(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    sandbox_port: Annotated[int, typer.Option("--sandbox-port")] = 8081,
) -> None:
    """Migrate, seed demo agencies, and run the server with the messenger sandbox."""
    from civdesk.runtime import run_demo

    settings = _settings()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    db_migrate.upgrade(settings.database_url)
    asyncio.run(run_demo(settings, host=host, port=port, sandbox_port=sandbox_port))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
