"""Shared by the CLI's commands: settings, one transaction per command, one clear line per error."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.config import Settings, load_settings
from civdesk.core.errors import CivdeskError
from civdesk.db.session import create_engine_for, create_sessionmaker

T = TypeVar("T")


def current_settings() -> Settings:
    try:
        return load_settings()
    except CivdeskError as exc:
        fail(exc.message_en)


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def with_session(settings: Settings, action: Callable[[AsyncSession], Awaitable[T]]) -> T:
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
        fail(exc.message_en)
    except Exception as exc:  # a database that is down or not migrated: one line, not a traceback
        fail(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
