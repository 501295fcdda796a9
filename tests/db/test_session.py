"""Pooled PostgreSQL connections are checked on checkout by their socket, not by a SELECT 1."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url

from civdesk.db.session import create_engine_for, create_sessionmaker


async def test_a_pooled_connection_the_server_closed_is_replaced_before_use(database_url: str) -> None:
    """The server ends an idle pooled connection (a restart, an admin's pg_terminate_backend): the next
    session gets a fresh one and its first statement succeeds, with no round trip spent on a ping."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to drop connections")
    engine = create_engine_for(database_url)
    sessionmaker = create_sessionmaker(engine)
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    try:
        async with sessionmaker() as session:
            backend_pid = (await session.execute(select(func.pg_backend_pid()))).scalar_one()
        # The admin's own connection, not one from the pool (which would be the idle one itself).
        admin_url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend_pid,))
        await asyncio.sleep(0.3)  # the server's goodbye reaches the idle socket
        event.listen(engine.sync_engine, "before_cursor_execute", record)
        async with sessionmaker() as session:
            assert (await session.execute(select(func.pg_backend_pid()))).scalar_one() != backend_pid
        assert len(sent) == 1, sent  # the statement itself: no SELECT 1 before it
    finally:
        await engine.dispose()
