"""What psycopg sends to PostgreSQL, recorded for tests that count round trips."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from psycopg import pq
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.db import direct
from civdesk.db.session import connection_of

_TRANSACTION_COMMANDS = {"BEGIN", "COMMIT"}


def record_psycopg(monkeypatch: pytest.MonkeyPatch, *, statements: bool, commands: bool) -> list[str]:
    """A list that fills, in order, with the `statements` psycopg's cursors execute (raw cursors included:
    SQLAlchemy's statements and `db/direct`'s) and the `commands` its connections send on their own
    (BEGIN, COMMIT, ROLLBACK, DEALLOCATE …)."""
    sent: list[str] = []
    if statements or commands:
        execute = psycopg.AsyncCursor.execute

        async def executing(self: psycopg.AsyncCursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
            # (`db/direct` sends BEGIN and COMMIT as statements of a pipeline: commands all the same.)
            if statements or str(query) in _TRANSACTION_COMMANDS:
                sent.append(str(query))
            return await execute(self, query, *args, **kwargs)

        monkeypatch.setattr(psycopg.AsyncCursor, "execute", executing)
    if commands:
        exec_command = psycopg.AsyncConnection._exec_command

        def commanding(self: psycopg.AsyncConnection[Any], command: Any, *args: Any, **kwargs: Any) -> Any:
            sent.append(bytes(command).decode())
            return exec_command(self, command, *args, **kwargs)

        monkeypatch.setattr(psycopg.AsyncConnection, "_exec_command", commanding)
    return sent


@dataclass
class Wire:
    """What a connection sent and received (libpq's trace, one message per line: `F` from us, `B` from the
    server), and how many times it waited for the server's answer."""

    lines: list[str] = field(default_factory=list)

    @property
    def round_trips(self) -> int:
        """Turns from sending to receiving: each is a wait for the server. Not counted: a turn that only
        prepared a statement (psycopg does that once per statement and connection, in a turn of its own
        outside pipeline mode)."""
        turns = 0
        sent: list[str] = []
        for line in self.lines:
            if not line.startswith(("F\t", "B\t")):
                continue  # the rest of a statement's SQL, traced as it is, newlines included
            direction, _length, message = line.split("\t")[:3]
            if direction == "F":
                sent.append(message)
            elif sent:
                turns += set(sent) != {"Parse", "Sync"}
                sent = []
        return turns


@contextlib.asynccontextmanager
async def traced(session: AsyncSession) -> AsyncIterator[Wire]:
    """Traces the messages of the session's connection (PostgreSQL) while the block runs."""
    driver = direct.psycopg_driver(await connection_of(session))
    assert driver is not None, "libpq's trace is PostgreSQL's"
    wire = Wire()
    with tempfile.TemporaryFile("w+") as trace:
        # libpq writes through a stream of its own on a copy of the descriptor (left open: psycopg has no
        # call that closes it, and a test opens a few).
        driver.pgconn.trace(os.dup(trace.fileno()))
        driver.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            yield wire
        finally:
            driver.pgconn.untrace()  # flushes the stream
            trace.seek(0)
            wire.lines = trace.read().splitlines()
