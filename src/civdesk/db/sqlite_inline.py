"""SQLite driven on the event loop's own thread, for SQLAlchemy's aiosqlite dialect.

aiosqlite runs every call (cursor, execute, fetchall, close, commit) on a helper thread and wakes the
event loop for each answer: about four thread hand-offs per statement, some 45 per stored webhook,
which cost more CPU than SQLite's own work. The embedded mode holds a single connection (see
`create_engine_for`), so nothing is gained from the thread: these objects give SQLAlchemy's dialect the
awaitable interface it expects and call `sqlite3` directly. A statement blocks the loop for as long as
SQLite takes, microseconds for the indexed statements civdesk runs; the distributed mode uses PostgreSQL.
The one slow thing SQLite does in a commit, copying the write-ahead log back (a checkpoint), moves to a
thread of its own (Checkpointer).

Only what SQLAlchemy's adapter (`sqlalchemy.connectors.asyncio`, `dialects.sqlite.aiosqlite`) calls is
here; errors are sqlite3's own, which aiosqlite re-exports and the dialect expects.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

log = logging.getLogger(__name__)


class InlineCursor:
    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> InlineCursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any] | dict[str, Any]]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


# How often the log is copied back. After a complete checkpoint the next commit starts the log over
# and syncs its header (SQLite does that in the writer, here on the loop: about 40 ms on this project's
# VM), so not too often; but the longer the log, the longer that sync and the checkpoint's own. Measured
# with bench/ingest.py (p99 at half the maximum, 3 runs each): 0.5 s 17–105 ms, 2 s 15–46 ms, 10 s
# 49–377 ms, SQLite's own (every 1,000 pages, inside a commit) 16–349 ms.
CHECKPOINT_SECONDS = 2.0


class Checkpointer:
    """Copies the write-ahead log back into the database file from a thread of its own.

    SQLite does this itself inside a commit once the log passes 1,000 pages, and that commit then
    waits for the copy and its fsync: inline, the whole event loop would wait (a routing decision's
    p99 went from 4.6 to 8.2 ms). A PASSIVE checkpoint waits for no reader or writer, so running one
    every `interval` seconds beside the loop keeps the log short at little cost to it."""

    def __init__(self, path: str, *, interval: float) -> None:
        self._path = path
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        connection = sqlite3.connect(self._path, check_same_thread=False)
        try:
            while not self._stop.wait(self._interval):
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    log.warning("SQLite checkpoint failed; trying again shortly", exc_info=True)
        finally:
            connection.close()

    def stop(self) -> None:
        self._stop.set()


class InlineConnection:
    """The subset of `aiosqlite.Connection` SQLAlchemy uses; `_connection` is None once closed, as there."""

    def __init__(self, connection: sqlite3.Connection, checkpointer: Checkpointer) -> None:
        self._connection: sqlite3.Connection | None = connection
        self._checkpointer = checkpointer

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("no active connection")
        return self._connection

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    def run(self, sql: str, args: Sequence[Any]) -> int:
        """One write straight on sqlite3, without SQLAlchemy's execution layer (`writes.insert_now`):
        the id of the row it inserted."""
        cursor = self._conn.execute(sql, args)
        try:
            return cursor.lastrowid or 0
        finally:
            cursor.close()

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        self._checkpointer.stop()
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def create_function(self, name: str, num_params: int, func: Callable[..., Any], **kw: Any) -> None:
        self._conn.create_function(name, num_params, func, **kw)

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level


def creator(path: str) -> Callable[[], Any]:
    """`async_creator` for `create_async_engine`: opens the database file on the calling thread."""

    async def connect() -> InlineConnection:
        # check_same_thread off: the pool may close a connection from the garbage collector's thread.
        connection = sqlite3.connect(path, check_same_thread=False)
        connection.execute("PRAGMA wal_autocheckpoint=0")  # the Checkpointer's thread does it
        return InlineConnection(connection, Checkpointer(path, interval=CHECKPOINT_SECONDS))

    return connect
