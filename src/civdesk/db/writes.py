"""Write combining on PostgreSQL: a transaction's INSERTs and UPDATEs reach the server as one statement.

Each statement is a network round trip, and on the webhook path the round trips cost more CPU than
the work (a continuing chat wrote the message, touched the conversation and logged the event in three
of them). A caller with a single-row INSERT or an UPDATE by id whose result it does not need (ids are
drawn from the sequences beforehand, see `next_id_of`) hands it to `later`; the pending writes are sent
as data-modifying CTEs of the next statement the connection runs, or of the event INSERT at commit
(realtime.service.commit calls `insert_with_pending`), so a stored webhook costs the lookup and one
write, each its own transaction (`db/direct` leaves out BEGIN and COMMIT where they add nothing).

Order is kept where it matters: any other statement first sends the pending writes on their own, so
reads see them. Inside one combined statement PostgreSQL runs the parts on one snapshot, so `later`
first sends what is pending when a write touches a row (table and id) a pending write touches; rows
may refer to each other through foreign keys (checked at the end of the statement), and rows inserted
without an id get theirs in no particular order.

SQLite has no data-modifying CTEs and no round trips to save (sqlite_inline): `later` runs the statement
at once there, and `insert_now` gives the new row's id. Both go straight to the inline driver's sqlite3
connection (`db/direct`): SQLAlchemy's execution layer cost about 37 µs per INSERT beside SQLite's own 7 µs,
several times per stored webhook and per routing decision.

Statements are built once per shape (which parts, which columns) with bind parameters and kept, so
SQLAlchemy neither builds nor compiles them again: building `insert().values(row)` per call cost more CPU
than the round trips it saved. The combined statements then run on the psycopg connection itself
(`db/direct`, compiled once per shape too): SQLAlchemy still keys a statement on every execution, walking
all of it, and for these big ones that cost about 0.28 ms of CPU per statement (a combined write of two
timers and two events: 0.49-0.53 ms per transaction through SQLAlchemy, 0.22-0.24 ms direct).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Table, bindparam, event, func, insert, select, update
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.dml import UpdateBase

from civdesk.db import direct
from civdesk.db.direct import Direct

_PENDING = direct.PENDING_WRITES


@dataclass(frozen=True)
class Part:
    """A single-row INSERT into `table`, or an UPDATE of the row whose id is given, setting `columns`."""

    table: Table
    kind: Literal["insert", "update"]
    columns: tuple[str, ...]

    def statement(self, slot: str) -> UpdateBase:
        """The statement with its values as bind parameters named `<slot>_<column>`."""
        values = {c: bindparam(f"{slot}_{c}", type_=self.table.c[c].type) for c in self.columns if c != "id"}
        if self.kind == "update":
            key = bindparam(f"{slot}_id", type_=self.table.c.id.type)
            return update(self.table).where(self.table.c.id == key).values(values)
        if "id" in self.columns:
            values["id"] = bindparam(f"{slot}_id", type_=self.table.c.id.type)
        return insert(self.table).values(values)


@dataclass(frozen=True)
class Write:
    part: Part
    values: Mapping[str, Any]


def inserting(table: Table, row: Mapping[str, Any]) -> Write:
    part = Part(table, "insert", tuple(sorted(row)))
    _every_default_given(part)
    return Write(part, row)


@functools.cache
def _every_default_given(part: Part) -> None:
    """A write that travels as a CTE (PostgreSQL) gets no Python-side column defaults, so the row must
    name those columns itself; checked once per shape, failing on any database alike."""
    defaulted = (c for c in part.table.c if c.default is not None and not c.primary_key)
    missing = [c.name for c in defaulted if c.name not in part.columns]
    if missing:
        raise ValueError(f"an INSERT into {part.table.name} must give {', '.join(missing)} (no defaults apply)")


def updating(table: Table, row_id: int, changes: Mapping[str, Any]) -> Write:
    return Write(Part(table, "update", (*sorted(changes), "id")), {**changes, "id": row_id})


def combines(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


async def later(conn: AsyncConnection, write: Write) -> None:
    """Sends `write` with the next statement on PostgreSQL; runs it now elsewhere."""
    if not combines(conn):
        await insert_now(conn, write)
        return
    info = conn.sync_connection.info  # type: ignore[union-attr]
    pending: list[Write] = info.setdefault(_PENDING, [])
    # One statement sees one snapshot: an UPDATE would miss a row INSERTed beside it, and two UPDATEs
    # of a row would not both apply. So what is pending goes first; so it does when it is already big.
    if _touches_a_pending_row(write, pending) or not _fits(*(w.part for w in pending), write.part):
        await _send_pending(conn)
        pending = info.setdefault(_PENDING, [])
    pending.append(write)


# A bound on one combined statement's parameters, far above any single use case's writes (a first
# message: about 90) and below the protocol's limit of 65,535: a loop of writes in one transaction goes
# in statements of bounded size, and so of a bounded number of shapes.
_MAX_PARAMS = 1000


def _fits(*parts: Part) -> bool:
    return sum(len(part.columns) for part in parts) <= _MAX_PARAMS


def _touches_a_pending_row(write: Write, pending: list[Write]) -> bool:
    row_id = write.values.get("id")
    return row_id is not None and any(
        w.part.table is write.part.table and w.values.get("id") == row_id for w in pending
    )


async def insert_now(conn: AsyncConnection, write: Write) -> int:
    """Runs `write` at once (nothing pending goes with it: SQLite, or an id not drawn ahead); the id of
    the row it inserted (for an UPDATE, the row's own)."""
    inline = direct.inline_driver(conn)
    compiled = _direct(write.part, conn.dialect) if inline is not None else None
    if inline is None or compiled is None:
        if write.part.kind == "update":
            await conn.execute(_just_pending((write.part,)), _params("w0", write))
            return int(write.values["id"])
        return int((await conn.execute(_returning_id(write.part), _params("w0", write))).scalar_one())
    row_id = direct.run_inline(conn, inline, compiled, _params("w0", write))
    return int(write.values["id"]) if write.part.kind == "update" else row_id


async def insert_with_pending(conn: AsyncConnection, inserts: list[Write], *, then_commit: bool = False) -> list[int]:
    """Runs single-row INSERTs of tables with an `id` together with the connection's pending writes, in
    one statement; their new ids, in order. `then_commit`: the caller commits next, with nothing else to
    send, so a statement that is its transaction's first is the whole of it (`db/direct`: no BEGIN), and
    one that is not takes the COMMIT along (`db/direct`: one round trip)."""
    if not combines(conn):
        return [await insert_now(conn, write) for write in inserts]
    pending: list[Write] = conn.sync_connection.info.get(_PENDING, [])  # type: ignore[union-attr]
    if not _fits(*(w.part for w in pending), *(w.part for w in inserts)):
        await _send_pending(conn)
    pending = conn.sync_connection.info.pop(_PENDING, [])  # type: ignore[union-attr]
    shape = (tuple(w.part for w in pending), tuple(w.part for w in inserts))
    params = _all_params(pending, "w") | _all_params(inserts, "r")
    driver = direct.psycopg_driver(conn)
    compiled = _direct_returning_ids(*shape, conn.dialect) if driver is not None else None
    if driver is None or compiled is None:
        return [int(value) for value in (await conn.execute(_returning_ids(*shape), params)).one()]
    row = await direct.run_on_psycopg(conn, driver, compiled, params, returns_row=True, then_commit=then_commit)
    return [int(value) for value in row]


def next_id_of(table: Table) -> Any:
    """A fresh primary key from the table's sequence (PostgreSQL), as an expression: callers draw ids
    within a statement they send anyway (the webhook's lookup)."""
    return func.nextval(func.pg_get_serial_sequence(table.name, "id"))


def _params(slot: str, write: Write) -> dict[str, Any]:
    return {f"{slot}_{column}": value for column, value in write.values.items()}


def _all_params(writes: list[Write], prefix: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for n, write in enumerate(writes):
        params |= _params(f"{prefix}{n}", write)
    return params


def _pending_ctes(parts: tuple[Part, ...]) -> list[Any]:
    return [part.statement(f"w{n}").cte(f"pending_write_{n}") for n, part in enumerate(parts)]


@functools.lru_cache(maxsize=256)
def _returning_ids(pending: tuple[Part, ...], inserts: tuple[Part, ...]) -> Any:
    returning = [
        part.statement(f"r{n}").returning(part.table.c.id).cte(f"inserted_{n}") for n, part in enumerate(inserts)
    ]
    ids = select(*(select(cte.c.id).scalar_subquery() for cte in returning))
    return ids.add_cte(*_pending_ctes(pending), *returning)


@functools.lru_cache(maxsize=256)
def _just_pending(pending: tuple[Part, ...]) -> Any:
    *before, last = pending
    statement = last.statement(f"w{len(before)}")
    return statement.add_cte(*_pending_ctes(tuple(before))) if before else statement


@functools.lru_cache(maxsize=256)
def _returning_id(part: Part) -> Any:
    return part.statement("w0").returning(part.table.c.id)


def _slots(prefix: str, parts: tuple[Part, ...]) -> set[str]:
    return {f"{prefix}{n}_{column}" for n, part in enumerate(parts) for column in part.columns}


@functools.lru_cache(maxsize=256)
def _direct(part: Part, dialect: Dialect) -> Direct | None:
    return direct.compile_for(part.statement("w0"), dialect, _slots("w", (part,)))


@functools.lru_cache(maxsize=256)
def _direct_returning_ids(pending: tuple[Part, ...], inserts: tuple[Part, ...], dialect: Dialect) -> Direct | None:
    return direct.compile_for(_returning_ids(pending, inserts), dialect, _slots("w", pending) | _slots("r", inserts))


@functools.lru_cache(maxsize=256)
def _direct_pending(pending: tuple[Part, ...], dialect: Dialect) -> Direct | None:
    return direct.compile_for(_just_pending(pending), dialect, _slots("w", pending))


async def _send_pending(conn: AsyncConnection) -> None:
    """What `_send_pending_first` does, from async code: straight on psycopg."""
    if conn.sync_connection is None or conn.sync_connection.invalidated:
        return
    pending: list[Write] | None = conn.sync_connection.info.pop(_PENDING, None)
    if not pending:
        return
    parts, params = tuple(w.part for w in pending), _all_params(pending, "w")
    driver = direct.psycopg_driver(conn)
    compiled = _direct_pending(parts, conn.dialect) if driver is not None else None
    if driver is None or compiled is None:
        await conn.execute(_just_pending(parts), params)
        return
    await direct.run_on_psycopg(conn, driver, compiled, params, returns_row=False)


def _send_pending_first(conn: Connection, *_: Any) -> None:
    """Sends what is pending on its own (before another statement, or a commit that did not carry it
    with events). Taken out of the connection's list before it runs, or this hook would send it again."""
    if conn.invalidated:  # the statement is about to fail anyway; `info` would raise
        return
    pending: list[Write] | None = conn.info.pop(_PENDING, None)
    if pending:
        conn.execute(_just_pending(tuple(w.part for w in pending)), _all_params(pending, "w"))


def _forget_pending(conn: Connection) -> None:
    # A connection the server dropped has no `info` until rolled back; the pool's checkin clears it then.
    if not conn.invalidated:
        conn.info.pop(_PENDING, None)


def _forget_pending_at_checkin(_dbapi_connection: Any, record: Any) -> None:
    # A session closed without commit or rollback leaves nothing behind for the connection's next user.
    record.info.pop(_PENDING, None)


def install(engine: AsyncEngine) -> None:
    """Keeps pending writes in order on a PostgreSQL engine (create_engine_for calls this)."""
    sync_engine = engine.sync_engine
    event.listen(sync_engine, "before_execute", _send_pending_first)
    event.listen(sync_engine, "commit", _send_pending_first)
    event.listen(sync_engine, "rollback", _forget_pending)
    event.listen(sync_engine.pool, "checkin", _forget_pending_at_checkin)
