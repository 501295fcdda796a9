"""Statements run on the driver itself give what SQLAlchemy's execution gives."""

from __future__ import annotations

from typing import cast

import pytest
from sqlalchemy import Table, bindparam, literal, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from civdesk.agency import service as agency_service
from civdesk.agency.models import Agency
from civdesk.db import direct, writes
from civdesk.db.session import connection_of, create_sessionmaker

_agency = cast(Table, Agency.__table__)
# A literal (its value travels with the statement), a bound parameter, and an aware datetime column.
_READ = select(_agency.c.id, _agency.c.slug, _agency.c.created_at, literal(7).label("seven")).where(
    _agency.c.slug == bindparam("slug")
)


async def test_a_read_on_psycopg_gives_the_rows_sqlalchemy_gives(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("reads run on the driver on PostgreSQL only")
    async with create_sessionmaker(engine)() as session:
        await agency_service.create(session=session, slug="direct-read", name="Відомство")
        await session.commit()
    compiled = direct.compile_for(_READ, engine.dialect, {"slug"}, reads=True)
    assert compiled is not None and compiled.constants == {"param_1": 7}
    async with engine.connect() as conn:
        driver = direct.psycopg_driver(conn)
        assert driver is not None
        straight = await direct.rows_on_psycopg(conn, driver, compiled, {"slug": "direct-read"})
        usual = (await conn.execute(_READ, {"slug": "direct-read"})).all()
    assert [tuple(r) for r in straight] == [tuple(r) for r in usual]
    assert straight[0].seven == 7 and straight[0].created_at.tzinfo is not None


async def test_a_direct_statement_is_prepared_once_whatever_the_size_of_its_integers(engine: AsyncEngine) -> None:
    """Prepared at its first execution, and one prepared statement for small and large ids alike: psycopg
    would otherwise type 5 as smallint and 70,000 as integer, and keep a statement (and its five unprepared
    executions) for each."""
    if engine.dialect.name != "postgresql":
        pytest.skip("prepared statements are psycopg's (PostgreSQL)")
    by_id = select(_agency.c.slug).where(_agency.c.id == bindparam("agency_id"))
    async with engine.connect() as conn:
        for agency_id in (5, 70_000, 5_000_000_000):
            assert await direct.read(conn, by_id, {"agency_id": agency_id}) == []
        prepared = (
            await conn.execute(
                text("SELECT parameter_types::text FROM pg_prepared_statements WHERE statement LIKE :pattern"),
                {"pattern": "%FROM agency%"},
            )
        ).all()
        await conn.commit()
    assert [row[0] for row in prepared] == ["{bigint}"]


def test_a_statement_that_expands_a_list_keeps_sqlalchemys_execution(engine: AsyncEngine) -> None:
    expanding = select(_agency.c.id).where(_agency.c.id.in_(bindparam("ids", expanding=True)))
    assert direct.compile_for(expanding, engine.dialect, {"ids"}, reads=True) is None


async def test_a_read_sees_the_writes_pending_on_its_connection(engine: AsyncEngine) -> None:
    """A write left to go with the next statement (`writes.later`, PostgreSQL) is sent before a direct read."""
    async with create_sessionmaker(engine)() as session:
        agency = await agency_service.create(session=session, slug="pending-read", name="Відомство")
        await session.commit()
    async with create_sessionmaker(engine)() as session:
        conn = await connection_of(session)
        await writes.later(conn, writes.updating(_agency, agency.id, {"slug": "renamed-before-read"}))
        rows = await direct.read(conn, _READ, {"slug": "renamed-before-read"})
        await session.rollback()
    assert [r.id for r in rows] == [agency.id]


async def test_a_sessions_connection_is_remembered_for_its_transaction_only(engine: AsyncEngine) -> None:
    async with create_sessionmaker(engine)() as session:
        first = await connection_of(session)
        assert await connection_of(session) is first is await session.connection()
        async with session.begin_nested():  # a savepoint: the same connection
            assert await connection_of(session) is first
        await session.commit()
        after_commit = await connection_of(session)
        assert after_commit is await session.connection()
        await session.rollback()
        assert await connection_of(session) is await session.connection()
