"""Two workers routing at once (two processes' worth: separate engines and connection pools) never
assign one conversation twice and never push an agent past capacity."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.conversation.models import Conversation, Status
from civdesk.db.session import create_engine_for, create_sessionmaker
from civdesk.routing import decide
from civdesk.routing import service as routing_service
from civdesk.routing.models import AgentLoad, RoutingDecision
from civdesk.timer.worker import TimerWorker
from tests.routing.desk import Desk

CAPACITY = 3


async def test_two_workers_never_double_assign_or_exceed_capacity(desk: Desk, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: only PostgreSQL lets two workers decide truly at once")
    await desk.configure(default_strategy="balanced")
    await desk.topic("subsidies", "Субсидії", keywords=["субсид"])
    for i in range(5):
        await desk.agent(f"agent{i}", topics=["subsidies"], capacity=CAPACITY)
    conversations = [await desk.write(f"c{i}", "субсидія") for i in range(40)]

    engines = [create_engine_for(database_url) for _ in range(2)]
    try:
        workers = [
            TimerWorker(sessionmaker=create_sessionmaker(e), handlers=routing_service.handlers(), concurrency=8)
            for e in engines
        ]

        async def drain(worker: TimerWorker) -> None:
            while await worker.run_once():
                pass

        await asyncio.gather(*(drain(w) for w in workers))
    finally:
        for engine in engines:
            await engine.dispose()

    async with desk.sessionmaker() as session:
        held = dict(
            (
                await session.execute(
                    select(Conversation.assignee_id, func.count())
                    .where(Conversation.assignee_id.is_not(None), Conversation.status != Status.RESOLVED.value)
                    .group_by(Conversation.assignee_id)
                )
            ).all()
        )
        loads = dict((await session.execute(select(AgentLoad.agent_id, AgentLoad.open_count))).all())
        assigned_twice = (
            await session.execute(
                select(RoutingDecision.conversation_id)
                .where(RoutingDecision.outcome == "assigned")
                .group_by(RoutingDecision.conversation_id)
                .having(func.count() > 1)
            )
        ).all()
    agent_ids = [desk.agents[f"agent{i}"].agent_id for i in range(5)]
    assert [held.get(a, 0) for a in agent_ids] == [CAPACITY] * 5  # full, and never beyond
    assert {a: loads.get(a, 0) for a in agent_ids} == {a: held.get(a, 0) for a in agent_ids}
    await desk.roster_skills()  # which checks that each agent's topic rows carry the same load
    assert assigned_twice == []
    waiting = [c for c in conversations if (await desk.get(c)).assignee_id is None]
    assert len(waiting) == 40 - 5 * CAPACITY
    assert [(await desk.get(c)).queued_at is not None for c in waiting] == [True] * len(waiting)


async def _hold(session: AsyncSession, desk: Desk, *names: str) -> None:
    """What another decision does while it claims: it holds the agents' roster rows until it commits."""
    ids = [desk.agents[name].agent_id for name in names]
    await session.execute(select(AgentLoad.agent_id).where(AgentLoad.agent_id.in_(ids)).with_for_update())


async def test_a_decision_passes_over_agents_another_decision_holds_and_looks_again(
    desk: Desk, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: no decision ever holds a row another one wants")
    await desk.configure(default_strategy="balanced")
    await desk.topic("subsidies", "Субсидії", keywords=["субсид"])
    await desk.agent("taras", topics=["subsidies"], capacity=CAPACITY)
    await desk.write("warm-up", "субсидія")
    await desk.fire()
    await desk.agent("olena", topics=["subsidies"], capacity=CAPACITY)  # no load yet: the favourite

    async with desk.sessionmaker() as other:
        await _hold(other, desk, "olena")
        passed_over = await desk.write("c1", "субсидія")
        await desk.fire()
        [decision] = await desk.decisions(passed_over)
        assert [c["agent_id"] for c in decision.candidates][:2] == [
            desk.agents["olena"].agent_id,
            desk.agents["taras"].agent_id,
        ]
        assert await desk.assignee(passed_over) == "taras"

        await _hold(other, desk, "taras")
        waits = await desk.write("c2", "субсидія")
        await desk.fire()
        assert await desk.assignee(waits) is None and await desk.decisions(waits) == []
        await other.rollback()  # the other decision ends
    assert await desk.due_now(decide.ROUTE) == 1  # it looks again (a moment later)
    await desk.fire()
    assert await desk.assignee(waits) == "olena"
    assert await desk.loads() == {"taras": 2, "olena": 1}
