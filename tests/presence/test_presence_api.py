"""Presence over the API and the websocket, on SQLite and PostgreSQL: set by the agent, seen by the
agency only, recorded as rows, and dropped to offline when no console has been connected for the grace period."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from websockets.sync.client import ClientConnection, connect

from civdesk.agency import service as agency_service
from civdesk.agent import service as agent_service
from civdesk.config import Settings
from civdesk.core.clock import now
from civdesk.db.session import create_engine_for, create_sessionmaker
from civdesk.presence import service as presence_service
from civdesk.presence.models import AgentPresence, PresenceChange
from tests.presence.conftest import GRACE_SECONDS
from tests.support.stack import Stack
from tests.support.world import PASSWORD, login, run_async, wait_for


@contextlib.contextmanager
def _ws(stack: Stack, headers: dict[str, str]) -> Iterator[ClientConnection]:
    token = headers["authorization"].split()[1]
    with connect(stack.server.url.replace("http://", "ws://") + f"/api/v1/ws?token={token}") as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "hello"
        yield ws


def _presence_events(ws: ClientConnection, timeout: float = 3.0) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            event = json.loads(ws.recv(timeout=left))
        except TimeoutError:
            break
        if event.get("type") == "agent.presence":
            found.append(event["payload"])
            timeout = 0.3  # collect what follows closely, then stop
            deadline = time.monotonic() + timeout
    return found


def _status(stack: Stack, headers: dict[str, str]) -> str:
    response = stack.client.get("/api/v1/presence/me", headers=headers)
    response.raise_for_status()
    return str(response.json()["status"])


def _set(stack: Stack, headers: dict[str, str], status: str) -> dict[str, Any]:
    response = stack.client.put("/api/v1/presence/me", headers=headers, json={"status": status})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _changes(stack: Stack, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    response = stack.client.get("/api/v1/presence/changes", headers=headers, params=params)
    response.raise_for_status()
    return list(response.json()["items"])


def test_agents_set_presence_and_only_their_agency_sees_it(stack: Stack) -> None:
    olena = login(stack.client, stack.world.agent_email)
    taras = login(stack.client, stack.world.second_agent_email)
    petro = login(stack.client, stack.world.other_agent_email)
    assert _status(stack, olena) == "offline"  # never set: offline
    # Olena's console stays connected throughout: her status holds.
    with _ws(stack, taras) as colleague, _ws(stack, petro) as stranger, _ws(stack, olena):
        mine = _set(stack, olena, "online")
        assert mine["status"] == "online" and mine["name"] == "Олена"
        _set(stack, olena, "away")
        _set(stack, olena, "away")  # no change, no row, no event
        seen = _presence_events(colleague)
        assert [(e["status"], e["previous"], e["cause"]) for e in seen] == [
            ("online", "offline", "agent"),
            ("away", "online", "agent"),
        ]
        assert _presence_events(stranger, timeout=0.5) == []

        team = stack.client.get("/api/v1/presence", headers=taras).json()["items"]
        assert [(a["name"], a["status"]) for a in team] == [("Олена", "away"), ("Тарас", "offline")]
        assert [a["name"] for a in stack.client.get("/api/v1/presence", headers=petro).json()["items"]] == ["Петро"]

        history = _changes(stack, olena)
        assert [(c["status"], c["previous"], c["cause"]) for c in history] == [
            ("away", "online", "agent"),
            ("online", "offline", "agent"),
        ]
    assert history[0]["created_at"] >= history[1]["created_at"]
    refused = stack.client.get("/api/v1/presence/changes", headers=taras, params={"agent_id": history[0]["agent_id"]})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert _changes(stack, taras) == []  # an agent's own history by default

    bad = stack.client.put("/api/v1/presence/me", headers=olena, json={"status": "busy"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_input"
    assert stack.client.get("/api/v1/presence").status_code == 401


def test_supervisors_read_their_agencys_history(stack: Stack, settings: Settings) -> None:
    _add_agent(settings, "pfu", "oksana@pfu.test", "Оксана", "supervisor")
    _add_agent(settings, "minsoc", "iryna@minsoc.test", "Ірина", "supervisor")
    olena = login(stack.client, stack.world.agent_email)
    petro = login(stack.client, stack.world.other_agent_email)
    _set(stack, olena, "online")
    _set(stack, petro, "online")
    olena_id = _changes(stack, olena)[0]["agent_id"]
    petro_id = _changes(stack, petro)[0]["agent_id"]
    iryna = login(stack.client, "iryna@minsoc.test")
    # (With no console connected, "online" may already have run out: count agents, not rows.)
    assert {c["agent_id"] for c in _changes(stack, iryna)} == {olena_id}  # never Petro's
    assert {c["agent_id"] for c in _changes(stack, iryna, agent_id=olena_id)} == {olena_id}
    assert _changes(stack, iryna, agent_id=petro_id) == []
    oksana = login(stack.client, "oksana@pfu.test")
    assert {c["agent_id"] for c in _changes(stack, oksana)} == {petro_id}


def test_presence_goes_offline_when_no_console_is_connected_for_the_grace_period(stack: Stack) -> None:
    olena = login(stack.client, stack.world.agent_email)
    taras = login(stack.client, stack.world.second_agent_email)
    _set(stack, olena, "online")
    with _ws(stack, olena):
        time.sleep(GRACE_SECONDS * 2.5)  # the open socket keeps renewing the lease
        assert _status(stack, olena) == "online"
    with _ws(stack, olena):  # a reload: back within the grace period
        time.sleep(GRACE_SECONDS * 2)
        assert _status(stack, olena) == "online"

    with _ws(stack, taras) as colleague:
        closed_at = datetime.now().astimezone()
        wait_for(lambda: _status(stack, olena) == "offline", timeout=GRACE_SECONDS * 4, what="offline")
        [event] = _presence_events(colleague)
    assert (event["status"], event["previous"], event["cause"]) == ("offline", "online", "console_closed")
    [latest, *_] = _changes(stack, olena)
    assert latest["cause"] == "console_closed"
    # Dated when the lease ran out, not when the sweeper noticed.
    ended = datetime.fromisoformat(latest["created_at"])
    assert closed_at - timedelta(seconds=1) <= ended <= closed_at + timedelta(seconds=GRACE_SECONDS + 0.5)

    # "Online" with no console at all also runs out.
    _set(stack, olena, "away")
    wait_for(lambda: _status(stack, olena) == "offline", timeout=GRACE_SECONDS * 4, what="offline again")
    assert [c["cause"] for c in _changes(stack, olena)][:2] == ["console_closed", "agent"]


def test_sweepers_racing_in_several_processes_record_one_change(stack: Stack, settings: Settings) -> None:
    olena = login(stack.client, stack.world.agent_email)
    agent_id = _set(stack, olena, "online")["agent_id"]

    # The server under test runs its own sweeper (grace GRACE_SECONDS) every quarter of a second. The
    # lease is set to have run out for the racers' shorter grace but not yet for the server's, so the
    # three racers below, already connected, are the only ones that can take it.
    racers_grace = GRACE_SECONDS / 4

    async def race() -> list[int]:
        engines = [create_engine_for(settings.database_url) for _ in range(3)]
        try:
            for engine in engines:
                async with engine.connect() as connection:
                    await connection.execute(select(1))
            async with create_sessionmaker(engines[0])() as session:
                row = await session.get(AgentPresence, agent_id)
                assert row is not None
                row.seen_at = now() - timedelta(seconds=GRACE_SECONDS / 2)
                await session.commit()

            async def sweep(engine: Any) -> int:
                async with create_sessionmaker(engine)() as session:
                    return await presence_service.expire(session=session, grace_seconds=racers_grace)

            results = await asyncio.gather(*(sweep(e) for e in engines))
            async with create_sessionmaker(engines[0])() as session:
                rows = await session.scalars(
                    select(PresenceChange).where(PresenceChange.agent_id == agent_id).order_by(PresenceChange.id)
                )
                assert [r.cause for r in rows] == ["agent", "console_closed"]
            return list(results)
        finally:
            for engine in engines:
                await engine.dispose()

    assert sorted(run_async(race())) == [0, 0, 1]
    assert _status(stack, olena) == "offline"


def _add_agent(settings: Settings, agency_slug: str, email: str, name: str, role: str) -> None:
    async def add() -> None:
        engine = create_engine_for(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                agency = await agency_service.require_by_slug(session=session, slug=agency_slug)
                await agent_service.create(
                    session=session, agency=agency, email=email, password=PASSWORD, name=name, role=role
                )
                await session.commit()
        finally:
            await engine.dispose()

    run_async(add())
