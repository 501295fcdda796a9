"""Statements run on the driver's own connection, without SQLAlchemy's execution layer.

For each execution SQLAlchemy builds an execution context, keys the statement by walking all of it,
processes the parameters and wraps the cursor in a result. For the small writes of `db/writes` on SQLite
that cost several times SQLite's own work, and for PostgreSQL's combined writes the walk alone cost more
than the round trip (see docs/performance.md). A `Direct` is a statement compiled once for its dialect,
with the bind processors SQLAlchemy would apply (datetimes as text on SQLite, JSON serialised). It runs
in the transaction SQLAlchemy began on that connection (on PostgreSQL sometimes before its BEGIN, see the
last paragraph), and its errors are raised as SQLAlchemy's, so
callers handle them as ever (an IntegrityError's retry, a dropped connection's `connection_invalidated`).

On PostgreSQL a `Direct` is compiled with `$1` placeholders and run on a raw cursor, which sends the SQL as
it is. psycopg's ordinary cursor turns `%(name)s` into `$n` on every execution (a regex over the SQL, cached
only for statements of up to 50 parameters and 4 kB) and maps each dict of parameters to a list. Its
integers go as bigint whatever their size: psycopg would type 5 as smallint and 70,000 as integer, and it
prepares a statement per SQL text *and* parameter types (a NULL has a type of its own too), each after five
executions on a connection. With sizes varying (and ids growing past 32,767 in a running system) one
statement became several, and each connection of the pool sent the full SQL text and had the server parse
and plan it again until every variant had been seen five times. The SQL casts each parameter to its
column's type, so bigint in is what it was.

A transaction's BEGIN waits for its first statement that needs one (PostgreSQL). Under READ COMMITTED each
statement sees its own snapshot anyway, so a plain read that takes no lock sees the same outside a
transaction as inside one; and one statement is atomic on its own. So a read that comes first in its
transaction runs in autocommit mode, and so does a transaction's last write when nothing ran in a
transaction before it and COMMIT follows at once (`realtime.service.commit` says so): a stored webhook
(the lookup, then its one combined write) costs two round trips, not four with BEGIN and COMMIT, and the
COMMIT that follows finds nothing to commit. Whatever comes between them (a lock, an ORM write) begins the
transaction as ever, and the last write then goes inside it.

Where a transaction is needed, its BEGIN and COMMIT need not be round trips of their own either: a `Direct`
that is its transaction's first statement (a routing decision's lock) goes in pipeline mode with the BEGIN,
and a transaction's last write with its COMMIT, each pair answered at once. A routing decision, which
locks, decides and writes, so costs two round trips instead of four.
"""

from __future__ import annotations

import copy
import functools
import logging
import re
import sqlite3
from collections import namedtuple
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg import IsolationLevel, pq
from psycopg.pq import TransactionStatus
from psycopg.types.numeric import Int8
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from civdesk.db.sqlite_inline import InlineConnection

_T = TypeVar("_T")
log = logging.getLogger(__name__)


_INT8_MIN, _INT8_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class Direct:
    """A compiled statement: its SQL, and each bind parameter's name and processor, in the order of the
    SQL's positional placeholders (`?` on SQLite, `$n` on PostgreSQL)."""

    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    constants: Mapping[str, Any]  # the values of literals a read carries (`literal(0)`)
    row: type[tuple[Any, ...]] | None = None  # a read's rows, by column name
    converters: tuple[Callable[[Any], Any] | None, ...] = ()  # a read's result processors
    bigint: bool = False  # integers go as bigint (PostgreSQL: one parameter type, so one prepared statement)
    # A plain SELECT that locks nothing: it may run before its transaction's BEGIN. (It is not checked for
    # side effects: a read that calls a function which writes, notifies or sets a setting would take effect
    # at once. The reads run this way call nothing of the kind; nextval is outside transactions anyway.)
    lock_free: bool = False

    def rows_of(self, fetched: list[tuple[Any, ...]]) -> list[Any]:
        assert self.row is not None
        make = self.row._make  # type: ignore[attr-defined]
        if not any(self.converters):
            return [make(values) for values in fetched]
        return [
            make([v if convert is None else convert(v) for v, convert in zip(values, self.converters, strict=True)])
            for values in fetched
        ]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        given = {**self.constants, **params} if self.constants else params
        values = [
            given[name] if process is None else process(given[name])
            for name, process in zip(self.names, self.processors, strict=True)
        ]
        if self.bigint:
            return [_as_bigint(v) if type(v) in _INTEGERS else v for v in values]
        return values


_INTEGERS = (int, list)  # (a list is looked into)


def _as_bigint(value: Any) -> Any:
    """An integer as bigint, and a list of integers as bigint[] (see the module's docstring)."""
    if type(value) is int and _INT8_MIN <= value <= _INT8_MAX:
        return Int8(value)
    if type(value) is list and value and all(type(v) is int for v in value):
        return [Int8(v) for v in value]
    return value


# Row locks (FOR UPDATE and its kin, NOWAIT or SKIP LOCKED) and advisory locks last to the end of their
# transaction: a statement taking one must run inside it.
_LOCKS = re.compile(r"\bFOR\s+(NO\s+KEY\s+UPDATE|UPDATE|KEY\s+SHARE|SHARE)\b|advisory", re.IGNORECASE)


def _dollar_placeholders(dialect: Dialect) -> Dialect:
    """The PostgreSQL dialect as it is, but rendering `$n` placeholders (SQLAlchemy's numeric_dollar), for
    psycopg's raw cursor. Made anew for each compilation, which callers cache: a copy kept aside would
    miss what the dialect learns when its engine first connects."""
    dollar = copy.copy(dialect)
    dollar.paramstyle = "numeric_dollar"
    dollar.positional = True
    dollar.identifier_preparer = dialect.preparer(dollar)
    return dollar


def compile_for(statement: Any, dialect: Dialect, expected: set[str], *, reads: bool = False) -> Direct | None:
    """None when running it takes more than the `expected` parameters (SQLAlchemy would add a column's
    Python-side default, expand a list, or escape a name): that statement keeps SQLAlchemy's execution.
    A write must use every expected parameter; a read may leave some unused, and its rows come with the
    statement's column names and SQLAlchemy's result processors (timezone-aware datetimes)."""
    compiled = statement.compile(dialect=_dollar_placeholders(dialect) if dialect.name == "postgresql" else dialect)
    if compiled.positiontup is None:
        return None
    sql = str(compiled)
    binds = {name: bind for bind, name in compiled.bind_names.items()}  # as rendered in the SQL
    names = tuple(compiled.positiontup)
    # A read's literals carry their values; a write's parameters all come from the caller (a bind with a
    # value there would be a default SQLAlchemy fills in at run time).
    constants = {n: binds[n].effective_value for n in names if n not in expected and not binds[n].required}
    if (set(names) - expected - set(constants)) if reads else (set(names) != expected):
        return None
    if compiled.escaped_bind_names or "POSTCOMPILE" in sql or any(b.callable for b in binds.values()):
        return None
    columns = list(statement.selected_columns) if reads else []
    return Direct(
        sql=sql,
        names=names,
        processors=tuple(binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names),
        constants=constants,
        row=namedtuple("Row", [c.key for c in columns]) if reads else None,
        converters=tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns),
        bigint=dialect.name == "postgresql",
        lock_free=reads and sql.lstrip().startswith("SELECT") and not _LOCKS.search(sql),
    )


# Where `db/writes` keeps a connection's writes that go with its next statement (on PostgreSQL).
PENDING_WRITES = "civdesk_pending_writes"


def _has_pending_writes(conn: AsyncConnection) -> bool:
    sync = conn.sync_connection
    return sync is not None and not sync.invalidated and bool(sync.info.get(PENDING_WRITES))


@functools.lru_cache(maxsize=256)
def _for_reading(statement: Any, dialect: Dialect, expected: frozenset[str]) -> Direct | None:
    return compile_for(statement, dialect, set(expected), reads=True)


async def read(conn: AsyncConnection, statement: Any, params: Mapping[str, Any]) -> Sequence[Any]:
    """The rows of a read built once (a module's constant, a cached shape): on PostgreSQL straight on
    psycopg, compiled once; elsewhere, or when it cannot run that way, through SQLAlchemy. With writes
    pending on the connection it goes through SQLAlchemy too, whose execution sends them first
    (`db/writes`), so the read sees them."""
    driver = psycopg_driver(conn)
    compiled = _for_reading(statement, conn.dialect, frozenset(params)) if driver is not None else None
    if driver is None or compiled is None or _has_pending_writes(conn):
        return (await conn.execute(statement, params)).all()
    outside = compiled.lock_free and before_begin(conn, driver)
    return await rows_on_psycopg(conn, driver, compiled, params, outside_transaction=outside)


def _driver(conn: AsyncConnection) -> Any:
    return conn.sync_connection.connection.driver_connection  # type: ignore[union-attr]


def inline_driver(conn: AsyncConnection) -> InlineConnection | None:
    """The embedded SQLite connection under `conn` (sqlite_inline), if that is what it is."""
    driver = _driver(conn)
    return driver if isinstance(driver, InlineConnection) else None


def psycopg_driver(conn: AsyncConnection) -> psycopg.AsyncConnection[Any] | None:
    """The psycopg connection under `conn`, if that is what it is."""
    driver = _driver(conn)
    return driver if isinstance(driver, psycopg.AsyncConnection) else None


def run_inline(conn: AsyncConnection, inline: InlineConnection, direct: Direct, params: Mapping[str, Any]) -> int:
    """Runs a write on the embedded SQLite connection; the id of the row it inserted."""
    args = direct.arguments(params)
    try:
        return inline.run(direct.sql, args)
    except sqlite3.Error as error:
        raise DBAPIError.instance(direct.sql, args, error, sqlite3.Error, dialect=conn.dialect) from error


async def rows_on_psycopg(
    conn: AsyncConnection,
    driver: psycopg.AsyncConnection[Any],
    direct: Direct,
    params: Mapping[str, Any],
    *,
    outside_transaction: bool = False,
) -> list[Any]:
    """Runs a read (compiled with `reads=True`) on the psycopg connection: its rows, by column name."""
    fetched = await _on_psycopg(conn, driver, direct, params, _all_rows, outside_transaction=outside_transaction)
    return direct.rows_of(fetched)


def before_begin(conn: AsyncConnection, driver: psycopg.AsyncConnection[Any]) -> bool:
    """The connection's transaction has sent nothing yet (psycopg sends BEGIN, a round trip of its own, just
    before the first statement), and it is READ COMMITTED: a statement may run there in autocommit mode
    instead (see above). Not on a connection in autocommit mode already: switching it back afterwards would
    end that."""
    level = driver.isolation_level
    # No level set on the connection: the server's default, which SQLAlchemy read when it first connected.
    read_committed = (
        level == IsolationLevel.READ_COMMITTED
        if level is not None
        else conn.dialect.default_isolation_level == "READ COMMITTED"
    )
    return read_committed and not driver.autocommit and driver.pgconn.transaction_status == TransactionStatus.IDLE


async def _raised(
    conn: AsyncConnection, driver: psycopg.AsyncConnection[Any], direct: Direct, args: Any, error: psycopg.Error
) -> BaseException:
    """SQLAlchemy's exception for a driver's error; a dropped connection is invalidated first, as
    SQLAlchemy does with its own statements."""
    gone = bool(driver.closed or driver.broken)
    if gone:
        await conn.invalidate(error)
    return DBAPIError.instance(
        direct.sql, args, error, psycopg.Error, connection_invalidated=gone, dialect=conn.dialect
    )


async def run_on_psycopg(
    conn: AsyncConnection,
    driver: psycopg.AsyncConnection[Any],
    direct: Direct,
    params: Mapping[str, Any],
    *,
    returns_row: bool,
    then_commit: bool = False,
) -> Any:
    """Runs a statement on the psycopg connection; its one row if it `returns_row`. `then_commit`: the
    caller commits next, with nothing else to send. Then a statement that is its transaction's first runs
    in autocommit mode as the whole of it (see above), and one that is not takes the COMMIT along; either
    way the caller's own commit finds nothing left to commit."""
    fetch = _one_row if returns_row else _nothing
    outside = then_commit and before_begin(conn, driver)
    return await _on_psycopg(
        conn, driver, direct, params, fetch, outside_transaction=outside, commit=then_commit and not outside
    )


async def _all_rows(cursor: psycopg.AsyncCursor[Any]) -> list[Any]:
    return await cursor.fetchall()


async def _one_row(cursor: psycopg.AsyncCursor[Any]) -> Any:
    return await cursor.fetchone()


async def _nothing(_cursor: psycopg.AsyncCursor[Any]) -> None:
    return None


async def _on_psycopg(
    conn: AsyncConnection,
    driver: psycopg.AsyncConnection[Any],
    direct: Direct,
    params: Mapping[str, Any],
    fetch: Callable[[psycopg.AsyncCursor[Any]], Awaitable[_T]],
    *,
    outside_transaction: bool = False,
    commit: bool = False,
) -> _T:
    """Executes `direct` on a cursor of the psycopg connection and fetches what the caller wants; the
    driver's errors come back as SQLAlchemy's (`_raised`). The transaction's BEGIN, when this statement
    is its first, and its COMMIT, when the caller says so, travel with it (`_in_one_round_trip`)."""
    args = direct.arguments(params)
    # Each statement is prepared at its first execution on a connection, not its fifth: these are the hot
    # statements, of a few shapes each, and until prepared each one sends its whole SQL (kilobytes for a
    # combined write) for the server to parse and plan, on every connection of the pool.
    in_autocommit = driver.autocommit
    try:
        async with psycopg.AsyncRawCursor(driver) as cursor:
            if outside_transaction:
                try:
                    await driver.set_autocommit(True)
                    await cursor.execute(direct.sql, args, prepare=True)
                finally:
                    await _back_to_transactions(conn, driver)
            else:
                begin = _begins_here(driver)
                if begin or (commit and not driver.autocommit):
                    await _in_one_round_trip(driver, cursor, direct.sql, args, begin=begin, commit=commit)
                else:
                    await cursor.execute(direct.sql, args, prepare=True)
            return await fetch(cursor)
    except psycopg.Error as error:
        raise await _raised(conn, driver, direct, args, error) from error
    except BaseException:
        # Cancelled at an await where psycopg had switched the connection into pipeline mode and not yet
        # out (its pipeline's __aenter__ can yield to the loop after the switch), or left in autocommit
        # mode: such a connection must not go back to the pool, where it would serve others that way.
        if driver.pgconn.pipeline_status != pq.PipelineStatus.OFF or (driver.autocommit and not in_autocommit):
            await conn.invalidate()
        raise


def _begins_here(driver: psycopg.AsyncConnection[Any]) -> bool:
    """psycopg would send BEGIN before this statement, and it would be a plain BEGIN (no isolation level,
    read-only or deferrable setting of psycopg's own: SQLAlchemy sets none)."""
    return (
        not driver.autocommit
        and driver.pgconn.transaction_status == TransactionStatus.IDLE
        and driver.isolation_level is None
        and driver.read_only is None
        and driver.deferrable is None
    )


async def _in_one_round_trip(
    driver: psycopg.AsyncConnection[Any],
    cursor: psycopg.AsyncRawCursor[Any],
    sql: str,
    args: list[Any],
    *,
    begin: bool,
    commit: bool,
) -> None:
    """The statement with the transaction's BEGIN before it and/or its COMMIT after it, sent together in
    pipeline mode and answered together: one round trip where there were two or three. psycopg, in pipeline
    mode too, sends its own BEGIN and waits for the answer before the statement, so that BEGIN is ours: the
    connection is in autocommit mode while the pipeline is built, and back out of it once the server is in
    the transaction. (`set_autocommit` refuses inside a transaction, so psycopg's flag is set as it sets it:
    the connection is then as psycopg leaves it after its own BEGIN.) On an error the server skips what
    follows in the pipeline, a COMMIT included, and the transaction is left for the caller to roll back."""
    try:
        if begin:
            await driver.set_autocommit(True)
        async with driver.pipeline():
            if begin:
                await driver.execute("BEGIN", prepare=False)
            await cursor.execute(sql, args, prepare=True)
            if commit:
                await driver.execute("COMMIT", prepare=False)
    finally:
        if begin:
            driver._autocommit = False


async def _back_to_transactions(conn: AsyncConnection, driver: psycopg.AsyncConnection[Any]) -> None:
    """Autocommit off again. A connection left in it would run every later transaction's statements one by
    one, so one that cannot be switched back (the statement was interrupted, the server went) is discarded."""
    if driver.pgconn.transaction_status == TransactionStatus.IDLE and not driver.closed:
        await driver.set_autocommit(False)
    else:
        log.warning("a database connection that could not leave autocommit mode is discarded")
        await conn.invalidate()
