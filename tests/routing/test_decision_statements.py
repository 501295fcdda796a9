"""What a route timer's decision costs PostgreSQL: in the usual case the lock, the ranking and the claim are
one statement, then the decision's writes and COMMIT; a case that statement does not decide (a citizen who
writes in another language, say) is decided as ever, under the lock it took."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from civdesk.conversation.models import Conversation
from civdesk.realtime import service as realtime_service
from civdesk.routing import assign, decide
from civdesk.routing import config as routing_config
from tests.routing.desk import Desk, open_desk
from tests.support.psycopg_log import record_psycopg, traced


@pytest.fixture
async def desk(database_url: str) -> AsyncIterator[Desk]:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no round trips to save: it locks, ranks and claims in turn")
    opened = await open_desk(database_url)
    try:
        await opened.configure(default_strategy="balanced")
        await opened.topic("subsidies", "Субсидії", keywords=["субсид"])
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return record_psycopg(monkeypatch, statements=True, commands=True)


def _kind(statement: str) -> str:
    if "locked AS" in statement:
        return "lock, rank and claim"
    if statement.startswith("WITH ranked AS"):
        return "rank and claim"
    if "INSERT INTO event" in statement:
        return "writes"
    return statement.split()[0]


@dataclass
class Decided:
    routed: decide.Routed | None
    kinds: list[str]  # what it sent, in order
    round_trips: int  # how many times it waited for PostgreSQL


async def _decide(desk: Desk, conversation_id: int, sent: list[str]) -> Decided:
    """A route timer's decision, as the worker makes it, and what it sent."""
    async with desk.sessionmaker() as session:
        sent.clear()
        async with traced(session) as wire:
            routed = await decide.route_conversation(
                session=session, conversation_id=conversation_id, agency_id=desk.agency_id
            )
            await realtime_service.commit(session)
        return Decided(routed, [_kind(s) for s in sent], wire.round_trips)


async def test_a_new_citizens_decision_locks_ranks_and_claims_in_one_statement(desk: Desk, sent: list[str]) -> None:
    await desk.agent("olena", topics=["subsidies"], capacity=2)
    await desk.agent("taras", topics=["subsidies"], capacity=2)
    await desk.fire()  # the agents' own timers, if any
    warm_up = await desk.write("warm-up", "субсидія")
    await _decide(desk, warm_up, sent)  # the agency's routing settings are read once, then cached

    asking = await desk.write("maria", "Як оформити субсидію?")
    decided = await _decide(desk, asking, sent)

    assert decided.routed is decide.Routed.ASSIGNED
    assert decided.kinds == ["BEGIN", "lock, rank and claim", "writes", "COMMIT"]
    assert decided.round_trips == 2  # BEGIN goes with the statement, COMMIT with the writes
    holder = await desk.assignee(asking)
    assert holder is not None and holder != await desk.assignee(warm_up)  # the one with no load yet
    [decision] = await desk.decisions(asking)
    assert (decision.outcome, decision.chosen_agent_id, decision.eligible_count) == (
        "assigned",
        desk.agents[holder].agent_id,
        2,
    )
    assert [c["agent_id"] for c in decision.candidates] == [
        desk.agents[holder].agent_id,
        (await desk.get(warm_up)).assignee_id,
    ]
    assert await desk.loads() == {"olena": 1, "taras": 1}  # and each agent's topic rows say the same


async def test_a_returning_citizen_goes_back_to_their_agent_in_the_same_statement(desk: Desk, sent: list[str]) -> None:
    """The earlier agent ranks first when eligible, though the busiest of eleven: beyond the ten the
    index gives first, so the statement adds them itself."""
    names = [f"agent{i}" for i in range(11)]
    for name in names:
        await desk.agent(name, topics=["subsidies"], capacity=5)
    before = await desk.write("returning", "субсидія")
    await desk.fire()
    helper = await desk.assignee(before)
    assert helper is not None
    await desk.resolve(helper, before)
    for name in names:  # the helper alone takes two more, so they rank last by load
        if name != helper:
            await desk.presence(name, "offline")
    for citizen in ("other1", "other2"):
        await desk.write(citizen, "субсидія")
        await desk.fire()
    for name in names:
        if name != helper:
            await desk.presence(name, "online")
    await desk.fire()
    assert (await desk.loads())[helper] == 2 and sum((await desk.loads()).values()) == 2

    again = await desk.write("returning", "знову про субсидію")
    decided = await _decide(desk, again, sent)

    assert decided.routed is decide.Routed.ASSIGNED
    assert decided.kinds == ["BEGIN", "lock, rank and claim", "writes", "COMMIT"]
    assert decided.round_trips == 2
    assert await desk.assignee(again) == helper
    [decision] = await desk.decisions(again)
    assert "sticky" in decision.reason and decision.eligible_count == 11
    ranked = [c["agent_id"] for c in decision.candidates]
    assert len(ranked) == 10 and ranked[0] == desk.agents[helper].agent_id
    assert [c["load"] for c in decision.candidates[1:]] == [0] * 9  # then the least loaded


async def test_a_case_the_statement_does_not_decide_is_decided_as_ever_under_its_lock(
    desk: Desk, sent: list[str]
) -> None:
    await desk.configure(languages=["uk", "en"])
    await desk.agent("olena", topics=["subsidies"], capacity=5)
    await desk.agent("john", topics=["subsidies"], capacity=5, languages=["en"])
    english = await desk.write("tourist", "subsidy question", language="en")

    decided = await _decide(desk, english, sent)

    assert decided.routed is decide.Routed.ASSIGNED
    assert decided.kinds == ["BEGIN", "lock, rank and claim", "rank and claim", "writes", "COMMIT"]
    assert decided.round_trips == 3
    assert await desk.assignee(english) == "john"  # the one who speaks English


async def test_a_conversation_already_assigned_is_left_alone(desk: Desk, sent: list[str]) -> None:
    await desk.agent("olena", topics=["subsidies"], capacity=2)
    asking = await desk.write("maria", "субсидія")
    await desk.fire()
    assert await desk.assignee(asking) == "olena"

    decided = await _decide(desk, asking, sent)  # a second route timer for it, say

    assert decided.routed is None
    assert decided.kinds == ["BEGIN", "lock, rank and claim", "COMMIT"]
    assert decided.round_trips == 2  # (nothing written: the COMMIT goes alone)
    assert await desk.loads() == {"olena": 1}  # nothing claimed twice
    assert len(await desk.decisions(asking)) == 1


async def test_a_conversation_another_transaction_holds_is_left_to_the_usual_lock(desk: Desk, sent: list[str]) -> None:
    """The statement does not wait for the row: after a wait it would rank from the roster as it was before
    the wait. The decision then waits for the row the usual way and ranks afresh."""
    await desk.agent("olena", topics=["subsidies"], capacity=2)
    asking = await desk.write("maria", "субсидія")
    async with desk.sessionmaker() as session:
        cfg = await routing_config.load(session=session, agency_id=desk.agency_id)
        await session.commit()

    async with desk.sessionmaker() as other:
        await other.execute(select(Conversation.id).where(Conversation.id == asking).with_for_update())
        async with desk.sessionmaker() as session:
            assert await assign.lock_and_choose(session=session, cfg=cfg, conversation_id=asking) is None
            await session.rollback()
        await other.rollback()
    assert await desk.loads() == {"olena": 0}  # nothing claimed

    decided = await _decide(desk, asking, sent)  # the row free again: decided in the one statement
    assert decided.routed is decide.Routed.ASSIGNED and await desk.assignee(asking) == "olena"
    assert decided.kinds == ["BEGIN", "lock, rank and claim", "writes", "COMMIT"]
    assert decided.round_trips == 2
