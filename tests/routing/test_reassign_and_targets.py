"""Reassignment when the agent does not answer or goes offline; response targets warn and breach."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from civdesk.core.clock import now
from civdesk.realtime.models import EventRecord
from civdesk.routing.models import SlaBreach
from civdesk.timer import service as timer_service
from civdesk.timer.worker import TimerWorker
from tests.routing.desk import Desk


async def _events(desk: Desk, type: str) -> list[dict[str, object]]:
    async with desk.sessionmaker() as session:
        rows = await session.scalars(select(EventRecord).where(EventRecord.type == type).order_by(EventRecord.id))
        return [r.payload for r in rows]


async def test_no_answer_within_the_set_time_moves_the_conversation_to_another_agent(desk: Desk) -> None:
    await desk.configure(default_strategy="balanced", reassign_after_seconds=60)
    await desk.topic("subsidies", "Субсидії", keywords=["субсид"])
    await desk.agent("olena", topics=["subsidies"])
    conversation = await desk.write("c1", "субсидія")
    await desk.fire()
    assert await desk.assignee(conversation) == "olena"
    await desk.due_now("reassign")  # nobody else is eligible: Olena keeps it, and that is recorded
    await desk.fire()
    assert await desk.assignee(conversation) == "olena"
    assert (await desk.decisions(conversation))[-1].outcome == "kept"

    await desk.agent("taras", topics=["subsidies"])
    await desk.due_now("reassign")
    await desk.fire()
    assert await desk.assignee(conversation) == "taras"
    last = (await desk.decisions(conversation))[-1]
    assert last.outcome == "assigned" and "no answer within 60 s" in last.reason
    assert (await desk.loads())["olena"] == 0 and (await desk.loads())["taras"] == 1

    await desk.reply("taras", conversation)  # answered: the next check does nothing
    await desk.due_now("reassign")
    await desk.fire()
    assert await desk.assignee(conversation) == "taras"


async def test_an_agent_going_offline_hands_waiting_citizens_to_colleagues(desk: Desk) -> None:
    await desk.configure(default_strategy="balanced")
    await desk.topic("subsidies", "Субсидії", keywords=["субсид"])
    await desk.agent("olena", topics=["subsidies"])
    waiting = await desk.write("c1", "субсидія")
    await desk.fire()
    answered = await desk.write("c2", "субсидія")
    await desk.fire()
    await desk.reply("olena", answered)
    await desk.agent("taras", topics=["subsidies"], capacity=5)
    await desk.presence("olena", "offline")
    await desk.fire()
    assert await desk.assignee(waiting) == "taras"
    assert "went offline" in (await desk.decisions(waiting))[-1].reason
    assert await desk.assignee(answered) == "olena"  # nobody is waiting on her there


async def test_first_response_target_warns_then_breaches_and_an_answer_stops_it(desk: Desk) -> None:
    await desk.configure(default_strategy="balanced", first_response_seconds=100, next_response_seconds=100)
    await desk.topic("subsidies", "Субсидії", keywords=["субсид"], first_response_seconds=50)
    await desk.agent("olena", topics=["subsidies"])
    late = await desk.write("late", "субсидія")
    await desk.fire()
    async with desk.sessionmaker() as session:
        [timer] = [
            t for t in await timer_service.pending(session=session, conversation_id=late) if t.kind == "target_response"
        ]
    # The topic's own target (50 s) wins; the warning comes at 80 % of it.
    assert timer.payload["target"] == "first_response"
    created = (await desk.get(late)).created_at
    assert abs((timer.due_at - created).total_seconds() - 40) < 1

    await desk.due_now("target_response")
    await desk.fire()
    [warning] = await _events(desk, "target.warning")
    assert warning["conversation_id"] == late and warning["assignee_id"] == desk.agents["olena"].agent_id
    await desk.due_now("target_response")
    await desk.fire()
    [breached] = await _events(desk, "target.breached")
    assert breached["target"] == "first_response"
    async with desk.sessionmaker() as session:
        [breach] = list(await session.scalars(select(SlaBreach)))
    assert (breach.conversation_id, breach.agent_id, breach.target) == (
        late,
        desk.agents["olena"].agent_id,
        "first_response",
    )

    on_time = await desk.write("on-time", "субсидія")
    await desk.fire()
    await desk.reply("olena", on_time)
    assert await desk.due_now("target_response") == 0  # cancelled by the answer
    # The citizen writes again: the next-response clock starts.
    await desk.write("on-time", "А ще питання")
    async with desk.sessionmaker() as session:
        pending = [
            t
            for t in await timer_service.pending(session=session, conversation_id=on_time)
            if t.kind == "target_response"
        ]
    assert [t.payload["target"] for t in pending] == ["next_response"]


async def test_a_timer_fires_within_a_second_of_its_due_time(desk: Desk) -> None:
    fired: list[float] = []

    async def note(session: object, timer: object) -> None:
        fired.append((now() - due).total_seconds())

    due = now() + timedelta(seconds=1.5)
    async with desk.sessionmaker() as session:
        await timer_service.schedule(session=session, kind="probe", due_at=due, agency_id=desk.agency_id)
        await session.commit()
    worker = TimerWorker(sessionmaker=desk.sessionmaker, handlers={"probe": note}, poll_seconds=1.0)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        for _ in range(60):
            if fired:
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=5)
    [lateness] = fired
    assert 0 <= lateness < 1.0, lateness
