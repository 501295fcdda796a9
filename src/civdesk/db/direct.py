"""Statements run on the driver's own connection, without SQLAlchemy's execution layer.

For each execution SQLAlchemy builds an execution context, keys the statement by walking all of it,
processes the parameters and wraps the cursor in a result. For the small writes of `db/writes` on SQLite
that cost several times SQLite's own work, and for PostgreSQL's combined writes the walk alone cost more
than the round trip (see docs/performance.md). A `Direct` is a statement compiled once for its dialect,
with the bind processors SQLAlchemy would apply (datetimes as text on SQLite, JSON serialised). It runs
in the transaction SQLAlchemy began on that connection, and its errors are raised as SQLAlchemy's, so
callers handle them as ever (an IntegrityError's retry, a dropped connection's `connection_invalidated`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from civdesk.db.sqlite_inline import InlineConnection


@dataclass(frozen=True)
class Direct:
    """A compiled statement: its SQL, and each bind parameter's name and processor. SQLite's parameters
    are positional, psycopg's named."""

    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    positional: bool

    def arguments(self, params: Mapping[str, Any]) -> list[Any] | dict[str, Any]:
        values = [
            params[name] if process is None else process(params[name])
            for name, process in zip(self.names, self.processors, strict=True)
        ]
        return values if self.positional else dict(zip(self.names, values, strict=True))


def compile_for(statement: Any, dialect: Dialect, expected: set[str]) -> Direct | None:
    """None when running it takes more than the `expected` parameters (SQLAlchemy would add a column's
    Python-side default, or escape a name): that statement keeps SQLAlchemy's execution."""
    compiled = statement.compile(dialect=dialect)
    positional = compiled.positiontup is not None
    names = tuple(compiled.positiontup if compiled.positiontup is not None else compiled.binds)
    if set(names) != expected or compiled.escaped_bind_names:
        return None
    return Direct(
        sql=str(compiled),
        names=names,
        processors=tuple(compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names),
        positional=positional,
    )


def inline_driver(conn: AsyncConnection) -> InlineConnection | None:
    """The embedded SQLite connection under `conn` (sqlite_inline), if that is what it is."""
    driver = conn.sync_connection.connection.driver_connection  # type: ignore[union-attr]
    return driver if isinstance(driver, InlineConnection) else None


def psycopg_driver(conn: AsyncConnection) -> psycopg.AsyncConnection[Any] | None:
    """The psycopg connection under `conn`, if that is what it is."""
    driver = conn.sync_connection.connection.driver_connection  # type: ignore[union-attr]
    return driver if isinstance(driver, psycopg.AsyncConnection) else None


def run_inline(conn: AsyncConnection, inline: InlineConnection, direct: Direct, params: Mapping[str, Any]) -> int:
    """Runs a write on the embedded SQLite connection; the id of the row it inserted."""
    args = direct.arguments(params)
    assert isinstance(args, list)  # SQLite's parameters are positional
    try:
        return inline.run(direct.sql, args)
    except sqlite3.Error as error:
        raise DBAPIError.instance(direct.sql, args, error, sqlite3.Error, dialect=conn.dialect) from error


async def run_on_psycopg(
    conn: AsyncConnection,
    driver: psycopg.AsyncConnection[Any],
    direct: Direct,
    params: Mapping[str, Any],
    *,
    returns_row: bool,
) -> Any:
    """Runs a statement on the psycopg connection; its one row if it `returns_row`. A dropped connection
    is invalidated, as SQLAlchemy does with its own statements."""
    args = direct.arguments(params)
    try:
        async with driver.cursor() as cursor:
            await cursor.execute(direct.sql, args)
            return await cursor.fetchone() if returns_row else None
    except psycopg.Error as error:
        gone = bool(driver.closed or driver.broken)
        if gone:
            await conn.invalidate(error)
        raise DBAPIError.instance(
            direct.sql, args, error, psycopg.Error, connection_invalidated=gone, dialect=conn.dialect
        ) from error
