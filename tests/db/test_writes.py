"""Write combining (PostgreSQL) and the inline SQLite driver: fewer round trips, the same results."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Table, event, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from civdesk.agency import service as agency_service
from civdesk.core.clock import now
from civdesk.db import sqlite_inline, writes
from civdesk.realtime import service as realtime_service
from civdesk.realtime.models import EventRecord
from civdesk.timer.models import Timer
from tests.support.psycopg_log import record_psycopg

_timer = cast(Table, Timer.__table__)
_event = cast(Table, EventRecord.__table__)


def _row(kind: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "due_at": now() + timedelta(hours=1),
        "agency_id": None,
        "conversation_id": None,
        "agent_id": None,
        "payload": {"k": kind},
        "dedupe_key": None,
        "status": "pending",
        "attempts": 0,
        "created_at": now(),
    }


@pytest.fixture
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL statements sent to the database (BEGIN and COMMIT are not statements here)."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine.sync_engine, "before_cursor_execute", record)


async def _kinds(sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(_timer.c.kind).order_by(_timer.c.id))).all())


async def _next_ids(conn: AsyncConnection, *tables: Table) -> list[int]:
    """Primary keys drawn ahead from the tables' sequences, as the webhook's lookup draws them."""
    return [int(value) for value in (await conn.execute(select(*map(writes.next_id_of, tables)))).one()]


async def _later_timers(conn: AsyncConnection, kinds: list[str], sent: list[str]) -> None:
    """A timer per kind left to go with the next statement (their ids drawn first where writes combine);
    `sent` then holds only what follows."""
    ids = await _next_ids(conn, *([_timer] * len(kinds))) if writes.combines(conn) else []
    sent.clear()
    for n, kind in enumerate(kinds):
        await writes.later(conn, writes.inserting(_timer, _row(kind) | ({"id": ids[n]} if ids else {})))


async def test_a_pending_write_is_seen_by_the_next_read(
    sessionmaker: async_sessionmaker[AsyncSession], statements: list[str]
) -> None:
    async with sessionmaker() as session:
        conn = await session.connection()
        await writes.later(conn, writes.inserting(_timer, _row("first")))
        await writes.later(conn, writes.inserting(_timer, _row("second")))
        assert await session.scalar(select(func.count()).select_from(_timer)) == 2
        await session.commit()
    # In one statement, rows inserted without an id take theirs in no particular order.
    assert sorted(await _kinds(sessionmaker)) == ["first", "second"]
    if writes.combines(conn):  # both writes went to the server as one statement, before the read
        [combined, read, _] = statements
        assert combined.startswith("WITH pending_write_0 AS") and "count(" in read


@pytest.fixture
def sent_to_psycopg(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements psycopg's cursors execute: SQLAlchemy's, and the combined writes that `writes`
    runs on the driver directly (BEGIN and COMMIT are the connection's, not a cursor's)."""
    return record_psycopg(monkeypatch, statements=True, commands=False)


async def test_writes_travel_with_the_events_in_one_statement(
    sessionmaker: async_sessionmaker[AsyncSession], sent_to_psycopg: list[str]
) -> None:
    async with sessionmaker() as session:
        agency = await agency_service.create(session=session, slug="writes", name="Відомство")
        await session.commit()
    async with sessionmaker() as session:
        conn = await session.connection()
        combined = writes.combines(conn)
        await _later_timers(conn, ["a", "b"], sent_to_psycopg)
        realtime_service.emit(session=session, agency_id=agency.id, type="test.one", payload={"n": 1})
        realtime_service.emit(session=session, agency_id=agency.id, type="test.two", payload={"n": 2})
        await realtime_service.commit(session)
    if combined:  # two writes, two events and the COMMIT: one round trip
        assert [s.split()[0] for s in sent_to_psycopg] == ["WITH", "COMMIT"], sent_to_psycopg
    async with sessionmaker() as session:
        events = (await session.execute(select(_event.c.type).order_by(_event.c.id))).scalars().all()
    assert events == ["test.one", "test.two"]
    assert await _kinds(sessionmaker) == ["a", "b"]


async def test_many_writes_travel_in_one_statement_sent_as_it_is(
    sessionmaker: async_sessionmaker[AsyncSession], sent_to_psycopg: list[str]
) -> None:
    """Eight timers and an event: 92 parameters. psycopg's ordinary cursor would parse such a statement
    anew on every execution (it caches the parse only below 50), so combined writes go on a raw cursor,
    with `$n` placeholders, however many parameters they have."""
    async with sessionmaker() as session:
        agency = await agency_service.create(session=session, slug="many-writes", name="Відомство")
        await session.commit()
    kinds = [f"t{n}" for n in range(8)]
    async with sessionmaker() as session:
        conn = await session.connection()
        combined = writes.combines(conn)
        await _later_timers(conn, kinds, sent_to_psycopg)
        realtime_service.emit(session=session, agency_id=agency.id, type="test.many", payload={"n": 8})
        await realtime_service.commit(session)
    if combined:
        [statement, _commit] = sent_to_psycopg
        assert max(int(n) for n in re.findall(r"\$(\d+)", statement)) == 92 and "%(" not in statement
    assert await _kinds(sessionmaker) == kinds


async def test_a_long_run_of_writes_goes_in_statements_of_bounded_size(
    sessionmaker: async_sessionmaker[AsyncSession], sent_to_psycopg: list[str]
) -> None:
    kinds = [f"t{n:03}" for n in range(150)]  # 1,650 parameters, over the bound of 1,000 per statement
    async with sessionmaker() as session:
        conn = await session.connection()
        combined = writes.combines(conn)
        await _later_timers(conn, kinds, sent_to_psycopg)
        await session.commit()
    if combined:
        assert len(sent_to_psycopg) == 2
    assert await _kinds(sessionmaker) == kinds


async def test_an_update_of_a_row_inserted_beside_it_is_not_lost(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        conn = await session.connection()
        [timer_id] = await _next_ids(conn, _timer) if writes.combines(conn) else [None]
        await writes.later(conn, writes.inserting(_timer, _row("x") | ({"id": timer_id} if timer_id else {})))
        timer_id = timer_id or await session.scalar(select(func.max(_timer.c.id)))
        await writes.later(conn, writes.updating(_timer, timer_id, {"attempts": 2}))
        await writes.later(conn, writes.updating(_timer, timer_id, {"attempts": 5}))
        await session.commit()
    async with sessionmaker() as session:
        assert await session.scalar(select(_timer.c.attempts)) == 5


async def test_a_rollback_forgets_the_pending_writes(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session:
        await writes.later(await session.connection(), writes.inserting(_timer, _row("dropped")))
        await session.rollback()
    async with sessionmaker() as session:
        await writes.later(await session.connection(), writes.inserting(_timer, _row("kept")))
        await session.commit()
    assert await _kinds(sessionmaker) == ["kept"]


async def test_a_session_closed_without_commit_leaves_nothing_for_the_next(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        await writes.later(await session.connection(), writes.inserting(_timer, _row("abandoned")))
    for _ in range(3):  # whichever pooled connection comes next
        async with sessionmaker() as session:
            await session.execute(select(1))
            await session.commit()
    assert await _kinds(sessionmaker) == []


async def test_sqlite_runs_concurrent_transactions_one_after_another(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("the inline driver is SQLite's")
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert isinstance(raw.driver_connection, sqlite_inline.InlineConnection)

    async def write(kind: str) -> None:
        async with sessionmaker() as session:
            await writes.later(await session.connection(), writes.inserting(_timer, _row(kind)))
            await asyncio.sleep(0.01)  # hold the transaction across a real await
            await session.commit()

    await asyncio.gather(*(write(f"t{n}") for n in range(10)))
    assert sorted(await _kinds(sessionmaker)) == sorted(f"t{n}" for n in range(10))


async def test_sqlite_keeps_its_write_ahead_log_short_from_another_thread(
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Commits never checkpoint on the loop (wal_autocheckpoint=0); the Checkpointer thread does, so
    the log is reused instead of growing with every write."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the inline driver is SQLite's")
    monkeypatch.setattr(sqlite_inline, "CHECKPOINT_SECONDS", 0.5)  # read when the connection opens
    wal = Path(database_url.removeprefix("sqlite:///") + "-wal")
    for _ in range(4):  # about 1 MB of log per round
        async with sessionmaker() as session:
            conn = await session.connection()
            assert (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar() == 0
            for n in range(250):
                await writes.later(conn, writes.inserting(_timer, _row("x" * 3000 + str(n))))
            await session.commit()
        await asyncio.sleep(1.2)  # more than the checkpoint interval
    assert wal.stat().st_size < 2_500_000, wal.stat().st_size


async def _drop_from_the_server(engine: AsyncEngine, conn: AsyncConnection) -> None:
    """Ends `conn`'s backend from another connection, as an admin or a restart would."""
    backend_pid = (await conn.exec_driver_sql("SELECT pg_backend_pid()")).scalar()
    async with engine.connect() as admin:
        await admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(backend_pid or 0)})")
        await admin.commit()
    await asyncio.sleep(0.2)  # the server's goodbye reaches the socket


async def test_a_connection_the_server_dropped_rolls_back_cleanly(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    """The server ends the connection under a session with writes pending: the statement fails as a
    dropped connection, the rollback succeeds (nothing pending is looked up on the dead connection),
    and the next session works on a fresh one."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server to drop connections")
    async with sessionmaker() as session:
        conn = await session.connection()
        await writes.later(conn, writes.inserting(_timer, _row("lost")))
        await _drop_from_the_server(engine, conn)
        with pytest.raises(DBAPIError) as failure:
            await session.execute(select(1))
        assert failure.value.connection_invalidated
        await session.rollback()
    async with sessionmaker() as session:
        await writes.later(await session.connection(), writes.inserting(_timer, _row("kept")))
        await session.commit()
    assert await _kinds(sessionmaker) == ["kept"]


async def test_a_write_run_at_once_is_stored_as_sqlalchemy_stores_it(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], statements: list[str]
) -> None:
    """On SQLite `insert_now` and `later` go straight to sqlite3 with the statement's bind processors;
    what lands in the file must be what SQLAlchemy's own execution writes, byte for byte."""
    async with sessionmaker() as session:
        agency = await agency_service.create(session=session, slug="direct", name="Відомство")
        await session.commit()
    moment = now().replace(microsecond=123456)
    row = _row("straight") | {
        "agency_id": agency.id,
        "due_at": moment,
        "payload": {"текст": "Привіт, світ", "n": [1, 2.5, None], "ok": True},
        "dedupe_key": None,
    }
    async with sessionmaker() as session:
        conn = await session.connection()
        statements.clear()
        straight = await writes.insert_now(conn, writes.inserting(_timer, row))
        if engine.dialect.name == "sqlite":
            assert statements == []  # nothing went through SQLAlchemy's execution
        updated = await writes.insert_now(conn, writes.updating(_timer, straight, {"attempts": 3, "status": "done"}))
        assert updated == straight
        usual = (
            await conn.execute(
                _timer.insert().returning(_timer.c.id), [row | {"kind": "usual", "attempts": 3, "status": "done"}]
            )
        ).scalar_one()
        await session.commit()
    columns = [c.name for c in _timer.c if c.name not in ("id", "kind")]
    async with engine.connect() as conn:
        stored = {
            r[0]: r[1:]
            for r in await conn.exec_driver_sql(
                f"SELECT id, {', '.join(columns)} FROM timer WHERE id IN ({straight}, {usual})"
            )
        }
    assert stored[straight] == stored[usual]


async def test_a_write_run_at_once_fails_as_sqlalchemy_fails(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Callers retry on SQLAlchemy's IntegrityError (two deliveries of one update): a write that breaks
    a constraint raises it, whichever way it ran."""
    async with sessionmaker() as session:
        conn = await session.connection()
        with pytest.raises(IntegrityError):
            await writes.insert_now(conn, writes.inserting(_timer, _row("orphan") | {"agency_id": 987_654}))
        await session.rollback()
    assert await _kinds(sessionmaker) == []


def test_an_insert_without_a_column_that_has_a_python_default_is_refused_on_every_database() -> None:
    row = _row("no created_at")
    del row["created_at"]
    with pytest.raises(ValueError, match="created_at"):
        writes.inserting(_timer, row)


async def test_a_connection_dropped_before_the_combined_write_rolls_back_cleanly(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The combined write at commit runs on psycopg directly: a dropped connection must still come back
    as SQLAlchemy's invalidated-connection error (the webhook retries on it), and nothing half-written."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server to drop connections")
    async with sessionmaker() as session:
        agency = await agency_service.create(session=session, slug="dropped", name="Відомство")
        await session.commit()
    async with sessionmaker() as session:
        conn = await session.connection()
        [timer_id] = await _next_ids(conn, _timer)
        await writes.later(conn, writes.inserting(_timer, _row("lost") | {"id": timer_id}))
        realtime_service.emit(session=session, agency_id=agency.id, type="test.lost", payload={})
        await _drop_from_the_server(engine, conn)
        with pytest.raises(DBAPIError) as failure:
            await realtime_service.commit(session)
        assert failure.value.connection_invalidated
        await realtime_service.discard(session)
    async with sessionmaker() as session:
        assert (await session.execute(select(func.count()).select_from(_event))).scalar() == 0
    assert await _kinds(sessionmaker) == []
