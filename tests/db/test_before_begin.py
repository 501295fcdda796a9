"""BEGIN waits for the first statement that needs a transaction (PostgreSQL, `db/direct`): a plain read
that comes first, and a last write that is the whole transaction, run in autocommit mode; the first
statement that needs one takes BEGIN along, and a transaction's last write its COMMIT, in one round trip.
Everything else still runs in one transaction: locks are held to its end, and what fails rolls back
together."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

import psycopg
import pytest
from psycopg import errors
from sqlalchemy import Table, bindparam, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from civdesk.agency.models import Agency
from civdesk.db import direct
from civdesk.db.session import connection_of
from civdesk.realtime import service as realtime_service
from civdesk.realtime.models import EventRecord
from tests.support.psycopg_log import record_psycopg, traced

_agency = cast(Table, Agency.__table__)
_event = cast(Table, EventRecord.__table__)
_BY_SLUG = select(_agency.c.id, _agency.c.name).where(_agency.c.slug == bindparam("slug"))


@pytest.fixture(autouse=True)
def _postgresql_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("BEGIN and autocommit are PostgreSQL's here (SQLite runs in-process)")


@pytest.fixture
async def agency_id(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        agency = Agency(slug="before-begin", name="Відомство")
        session.add(agency)
        await session.commit()
        return agency.id


@pytest.fixture
def commands(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The transaction commands psycopg sends (BEGIN, COMMIT, ROLLBACK …), in order."""
    return record_psycopg(monkeypatch, statements=False, commands=True)


def _driver(conn: Any) -> psycopg.AsyncConnection[Any]:
    driver = direct.psycopg_driver(conn)
    assert driver is not None
    return driver


async def _row_is_locked(engine: AsyncEngine, agency_id: int) -> bool:
    """Whether another connection finds the agency's row locked."""
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as other:
        try:
            await other.execute("SELECT id FROM agency WHERE id = %s FOR UPDATE NOWAIT", (agency_id,))
        except errors.LockNotAvailable:
            return True
        return False


async def _events(sessionmaker: async_sessionmaker[AsyncSession], agency_id: int) -> list[str]:
    async with sessionmaker() as session:
        return list(await session.scalars(select(_event.c.type).where(_event.c.agency_id == agency_id)))


async def test_a_first_read_runs_alone_and_the_transaction_after_it_keeps_its_lock(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], agency_id: int, commands: list[str]
) -> None:
    async with sessionmaker() as session:
        conn = await connection_of(session)
        [found] = await direct.read(conn, _BY_SLUG, {"slug": "before-begin"})
        assert found.id == agency_id and commands == []  # no BEGIN: the read was its own transaction
        assert not _driver(conn).autocommit
        await session.execute(select(_agency.c.id).where(_agency.c.id == agency_id).with_for_update())
        assert commands == ["BEGIN"]
        assert await _row_is_locked(engine, agency_id)
        await session.commit()
    assert commands == ["BEGIN", "COMMIT"]
    assert not await _row_is_locked(engine, agency_id)


async def test_a_read_that_locks_begins_the_transaction_and_holds_its_lock(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], agency_id: int, commands: list[str]
) -> None:
    locking = select(_agency.c.id).where(_agency.c.id == bindparam("agency_id")).with_for_update()
    async with sessionmaker() as session:
        conn = await connection_of(session)
        assert [r.id for r in await direct.read(conn, locking, {"agency_id": agency_id})] == [agency_id]
        assert commands == ["BEGIN"]
        assert await _row_is_locked(engine, agency_id)
        await session.commit()


async def test_a_first_statement_that_locks_takes_its_begin_along(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], agency_id: int, commands: list[str]
) -> None:
    locking = select(_agency.c.id).where(_agency.c.id == bindparam("agency_id")).with_for_update()
    async with sessionmaker() as session:
        async with traced(session) as wire:
            conn = await connection_of(session)
            await direct.read(conn, locking, {"agency_id": agency_id})
        assert wire.round_trips == 1
        assert not _driver(conn).autocommit  # back out of the autocommit mode the BEGIN was sent in
        await session.execute(select(_agency.c.name).where(_agency.c.id == agency_id))
        assert commands == ["BEGIN"]  # the statement after it runs in the same transaction
        assert await _row_is_locked(engine, agency_id)
        await session.rollback()
    assert not await _row_is_locked(engine, agency_id)


async def test_a_first_statement_that_fails_leaves_the_transaction_to_roll_back(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], agency_id: int
) -> None:
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    at_once = select(_agency.c.id).where(_agency.c.id == bindparam("agency_id")).with_for_update(nowait=True)
    async with sessionmaker() as session:
        conn = await connection_of(session)
        async with await psycopg.AsyncConnection.connect(url) as other:
            await other.execute("SELECT id FROM agency WHERE id = %s FOR UPDATE", (agency_id,))
            with pytest.raises(DBAPIError):
                await direct.read(conn, at_once, {"agency_id": agency_id})
            assert not _driver(conn).autocommit
            await session.rollback()
        conn = await connection_of(session)  # the lock free again
        assert [r.id for r in await direct.read(conn, at_once, {"agency_id": agency_id})] == [agency_id]
        assert await _row_is_locked(engine, agency_id)
        await session.rollback()


async def test_a_connection_cancelled_on_its_way_into_pipeline_mode_is_not_pooled_again(
    sessionmaker: async_sessionmaker[AsyncSession], agency_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """psycopg's pipeline switches libpq into pipeline mode and may then yield to the loop: a cancellation
    there leaves the connection in that mode (and in the autocommit mode BEGIN was to be sent in)."""

    @contextlib.asynccontextmanager
    async def cancelled_on_entry(self: psycopg.AsyncConnection[Any]) -> AsyncIterator[None]:
        self.pgconn.enter_pipeline_mode()
        raise asyncio.CancelledError
        yield  # (a generator all the same)

    locking = select(_agency.c.id).where(_agency.c.id == bindparam("agency_id")).with_for_update()
    async with sessionmaker() as session:
        conn = await connection_of(session)
        driver = _driver(conn)
        with monkeypatch.context() as patched:
            patched.setattr(psycopg.AsyncConnection, "pipeline", cancelled_on_entry)
            with pytest.raises(asyncio.CancelledError):
                await direct.read(conn, locking, {"agency_id": agency_id})
        assert driver.closed  # invalidated: it does not go back to the pool
    async with sessionmaker() as session:
        conn = await connection_of(session)
        assert _driver(conn) is not driver and not _driver(conn).autocommit
        assert [r.id for r in await direct.read(conn, locking, {"agency_id": agency_id})] == [agency_id]
        await session.rollback()


async def test_a_read_on_a_connection_in_autocommit_mode_leaves_it_so(engine: AsyncEngine, agency_id: int) -> None:
    async with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
        assert [r.id for r in await direct.read(conn, _BY_SLUG, {"slug": "before-begin"})] == [agency_id]
        assert _driver(conn).autocommit


async def test_a_last_write_alone_is_its_own_transaction(
    sessionmaker: async_sessionmaker[AsyncSession], agency_id: int, commands: list[str]
) -> None:
    async with sessionmaker() as session:
        conn = await connection_of(session)
        await direct.read(conn, _BY_SLUG, {"slug": "before-begin"})
        realtime_service.emit(session=session, agency_id=agency_id, type="test.alone", payload={})
        await realtime_service.commit(session)
    assert commands == []
    assert await _events(sessionmaker, agency_id) == ["test.alone"]


async def test_the_last_write_waits_for_what_the_orm_has_to_flush(
    sessionmaker: async_sessionmaker[AsyncSession], agency_id: int, commands: list[str]
) -> None:
    """The event goes in one transaction with the ORM's INSERT that follows it, so the INSERT's failure
    (a slug taken) takes the event with it."""
    async with sessionmaker() as session:
        session.add(Agency(slug="before-begin", name="Двійник"))
        realtime_service.emit(session=session, agency_id=agency_id, type="test.with-orm", payload={})
        with pytest.raises(IntegrityError):
            await realtime_service.commit(session)
        await realtime_service.discard(session)
    assert commands[:2] == ["BEGIN", "ROLLBACK"]  # (psycopg then forgets its prepared statements)
    assert await _events(sessionmaker, agency_id) == []


async def test_a_failed_write_alone_leaves_the_connection_in_transactions(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], agency_id: int
) -> None:
    missing_agency = agency_id + 1000  # the event's foreign key fails
    async with sessionmaker() as session:
        conn = await connection_of(session)
        driver = _driver(conn)
        realtime_service.emit(session=session, agency_id=missing_agency, type="test.fails", payload={})
        with pytest.raises(IntegrityError):
            await realtime_service.commit(session)
        assert not driver.autocommit
        await realtime_service.discard(session)
    async with sessionmaker() as session:
        conn = await connection_of(session)
        assert _driver(conn) is driver  # the pool's one connection, used again
        await session.execute(select(_agency.c.id).where(_agency.c.id == agency_id).with_for_update())
        assert await _row_is_locked(engine, agency_id)
        await session.rollback()


async def test_the_last_write_of_a_transaction_takes_its_commit_along(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], agency_id: int, commands: list[str]
) -> None:
    async with sessionmaker() as session:
        await session.execute(select(_agency.c.id).where(_agency.c.id == agency_id).with_for_update())
        realtime_service.emit(session=session, agency_id=agency_id, type="test.last", payload={})
        async with traced(session) as wire:
            await realtime_service.commit(session)
    assert wire.round_trips == 1  # the events, and COMMIT
    assert commands == ["BEGIN", "COMMIT"]  # SQLAlchemy's own commit then finds nothing left to commit
    assert await _events(sessionmaker, agency_id) == ["test.last"]
    assert not await _row_is_locked(engine, agency_id)


async def test_a_last_write_that_fails_takes_the_transaction_with_it(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], agency_id: int
) -> None:
    async with sessionmaker() as session:
        await session.execute(select(_agency.c.id).where(_agency.c.id == agency_id).with_for_update())
        session.add(Agency(slug="second", name="Друге"))
        await session.flush()
        realtime_service.emit(session=session, agency_id=agency_id + 1000, type="test.fails", payload={})
        with pytest.raises(IntegrityError):
            await realtime_service.commit(session)  # the event's foreign key fails: no COMMIT
        await realtime_service.discard(session)
    async with sessionmaker() as session:
        slugs = list(await session.scalars(select(_agency.c.slug)))
    assert slugs == ["before-begin"]  # "second" went with the failed write
    assert await _events(sessionmaker, agency_id + 1000) == []
    assert not await _row_is_locked(engine, agency_id)


async def test_writes_after_a_first_read_still_roll_back_together(
    sessionmaker: async_sessionmaker[AsyncSession], agency_id: int
) -> None:
    async with sessionmaker() as session:
        conn = await connection_of(session)
        await direct.read(conn, _BY_SLUG, {"slug": "before-begin"})
        session.add(Agency(slug="second", name="Друге"))
        await session.flush()
        session.add(Agency(slug="before-begin", name="Двійник"))  # the slug is taken: this flush fails
        with pytest.raises(IntegrityError):
            await session.flush()
        await session.rollback()
    async with sessionmaker() as session:
        slugs = list(await session.scalars(select(_agency.c.slug)))
    assert slugs == ["before-begin"]  # "second" went with the failed INSERT


async def test_a_read_in_a_stricter_isolation_level_stays_in_its_transaction(
    engine: AsyncEngine, agency_id: int, commands: list[str]
) -> None:
    """Under REPEATABLE READ the transaction's reads share one snapshot: a first read is part of it."""
    async with engine.execution_options(isolation_level="REPEATABLE READ").connect() as conn:
        assert [r.id for r in await direct.read(conn, _BY_SLUG, {"slug": "before-begin"})] == [agency_id]
        assert commands == ["BEGIN ISOLATION LEVEL REPEATABLE READ"]
        await conn.commit()
