"""What psycopg sends to PostgreSQL, recorded for tests that count round trips."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest


def record_psycopg(monkeypatch: pytest.MonkeyPatch, *, statements: bool, commands: bool) -> list[str]:
    """A list that fills, in order, with the `statements` psycopg's cursors execute (raw cursors included:
    SQLAlchemy's statements and `db/direct`'s) and the `commands` its connections send on their own
    (BEGIN, COMMIT, ROLLBACK, DEALLOCATE …)."""
    sent: list[str] = []
    if statements:
        execute = psycopg.AsyncCursor.execute

        async def executing(self: psycopg.AsyncCursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
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
