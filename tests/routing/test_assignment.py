"""Each strategy with capacity, skills and presence; sticky routing; the queue; every decision's why."""

from __future__ import annotations

from tests.routing.desk import Desk


async def _topics(desk: Desk, strategy: str) -> None:
    await desk.configure(default_strategy=strategy, queue_notices=True)
    await desk.topic("subsidies", "Субсидії", keywords=["субсид"])
    await desk.topic("idp", "Допомога ВПО", keywords=["впо", "переселен"])


async def test_balanced_gives_the_least_loaded_skilled_online_agent(desk: Desk) -> None:
    await _topics(desk, "balanced")
    await desk.agent("olena", topics=["subsidies"], capacity=3)
    await desk.agent("taras", topics=["subsidies"], capacity=3)
    await desk.agent("iryna", topics=["idp"], capacity=3)  # not skilled in subsidies
    await desk.agent("maria", topics=["subsidies"], capacity=3, online=False)  # offline

    first = await desk.write("c1", "Як оформити субсидію?")
    await desk.fire()
    second = await desk.write("c2", "Питання щодо субсидії")
    await desk.fire()
    third = await desk.write("c3", "Субсидія на опалення")
    await desk.fire()
    holders = [await desk.assignee(c) for c in (first, second, third)]
    assert set(holders[:2]) == {"olena", "taras"}  # the second goes to whoever had none
    assert holders[2] in {"olena", "taras"}
    loads = await desk.loads()
    assert (loads["olena"], loads["taras"], loads["iryna"], loads["maria"]) in ((2, 1, 0, 0), (1, 2, 0, 0))

    [decision] = await desk.decisions(third)
    assert decision.outcome == "assigned" and decision.strategy == "balanced"
    assert decision.eligible_count == 2
    assert {c["agent_id"] for c in decision.candidates} == {
        desk.agents["olena"].agent_id,
        desk.agents["taras"].agent_id,
    }
    assert "least loaded" in decision.reason


async def test_skills_changed_while_online_route_the_next_conversation_at_their_new_levels(desk: Desk) -> None:
    await _topics(desk, "balanced")
    await desk.agent("olena", topics=["subsidies"], capacity=3)
    await desk.agent("taras", topics=["idp"], capacity=3)
    await desk.skills("olena", {"idp": 2})  # both are online: their roster rows exist already
    await desk.skills("taras", {"subsidies": 5, "idp": 4})
    assert await desk.roster_skills() == {"olena": {"idp": 2}, "taras": {"subsidies": 5, "idp": 4}}

    subsidy = await desk.write("c1", "Як оформити субсидію?")
    await desk.fire()
    assert await desk.assignee(subsidy) == "taras"  # olena no longer answers on subsidies
    [decision] = await desk.decisions(subsidy)
    assert decision.eligible_count == 1
    assert [(c["agent_id"], c["level"]) for c in decision.candidates] == [(desk.agents["taras"].agent_id, 5)]

    idp = await desk.write("c2", "Допомога ВПО переселенцям")
    await desk.fire()
    assert await desk.assignee(idp) == "olena"  # the lighter load wins over taras's higher level
    [decision] = await desk.decisions(idp)
    assert {(c["agent_id"], c["level"]) for c in decision.candidates} == {
        (desk.agents["olena"].agent_id, 2),
        (desk.agents["taras"].agent_id, 4),
    }


async def test_capacity_is_never_exceeded_and_the_queue_is_served_in_order(desk: Desk) -> None:
    await _topics(desk, "balanced")
    await desk.agent("olena", topics=["subsidies"], capacity=1)
    held = await desk.write("c1", "субсидія")
    await desk.fire()
    waiting = [await desk.write(f"w{i}", "субсидія") for i in range(3)]
    await desk.fire()
    assert await desk.assignee(held) == "olena"
    assert [await desk.assignee(c) for c in waiting] == [None, None, None]
    assert (await desk.loads())["olena"] == 1
    # Citizens are told their place in the queue.
    assert "1-й" in (await desk.told(waiting[0]))[-1]
    assert "3-й" in (await desk.told(waiting[2]))[-1]
    [decision] = await desk.decisions(waiting[0])
    assert decision.outcome == "queued" and "no eligible agent" in decision.reason

    await desk.resolve("olena", held)  # capacity frees up: the queue moves, first come first served
    await desk.fire()
    assert [await desk.assignee(c) for c in waiting] == ["olena", None, None]
    assert (await desk.loads())["olena"] == 1


async def test_round_robin_takes_turns_by_who_was_given_one_longest_ago(desk: Desk) -> None:
    await _topics(desk, "round_robin")
    for name in ("olena", "taras", "iryna"):
        await desk.agent(name, topics=["subsidies"], capacity=10)
    order = []
    for i in range(6):
        conversation = await desk.write(f"c{i}", "субсидія")
        await desk.fire()
        order.append(await desk.assignee(conversation))
    assert order[:3] == order[3:] and sorted(order[:3]) == ["iryna", "olena", "taras"]
    assert "round robin" in (await desk.decisions(await desk.conversation_of("c5")))[0].reason


async def test_manual_pull_waits_for_an_agent_and_respects_capacity(desk: Desk) -> None:
    await _topics(desk, "manual")
    await desk.agent("olena", topics=["subsidies"], capacity=1)
    first = await desk.write("c1", "субсидія")
    second = await desk.write("c2", "субсидія")
    await desk.fire()
    assert await desk.assignee(first) is None and (await desk.get(first)).queued_at is not None
    assert "manual pull" in (await desk.decisions(first))[0].reason

    from civdesk.conversation import service as conversation_service
    from civdesk.core.errors import Conflict

    async with desk.sessionmaker() as session:
        await conversation_service.assign_to_me(session=session, who=desk.agents["olena"], conversation_id=first)
        await session.commit()
    async with desk.sessionmaker() as session:
        try:
            await conversation_service.assign_to_me(session=session, who=desk.agents["olena"], conversation_id=second)
            raise AssertionError("an agent at capacity pulled another conversation")
        except Conflict as refused:
            assert "capacity" in refused.message_en
    assert await desk.assignee(first) == "olena" and (await desk.get(first)).queued_at is None
    assert (await desk.loads())["olena"] == 1


async def test_languages_and_sticky_routing(desk: Desk) -> None:
    await _topics(desk, "balanced")
    await desk.configure(languages=["uk", "en"])
    await desk.agent("olena", topics=["subsidies"], capacity=5)
    await desk.agent("john", topics=["subsidies"], capacity=5, languages=["en"])
    english = await desk.write("tourist", "subsidy question", language="en")
    await desk.fire()
    assert (await desk.get(english)).language == "en"
    # The general queue (no topic matched) still needs an English speaker for an English citizen.
    assert await desk.assignee(english) == "john"

    # Olena helped this citizen before; when they come back she gets them again, though busier.
    before = await desk.write("returning", "субсидія")
    await desk.fire()
    helper = await desk.assignee(before)
    await desk.resolve(helper or "olena", before)
    for i in range(2):  # make the helper the busier one
        extra = await desk.write(f"x{i}", "субсидія")
        await desk.fire()
        if await desk.assignee(extra) != helper:
            await desk.resolve(await desk.assignee(extra) or "", extra)
    again = await desk.write("returning", "знову про субсидію")
    await desk.fire()
    assert await desk.assignee(again) == helper
    assert "sticky" in (await desk.decisions(again))[-1].reason


async def test_presence_drives_routing_offline_agents_get_nothing_and_coming_online_drains(desk: Desk) -> None:
    await _topics(desk, "balanced")
    await desk.agent("olena", topics=["subsidies"], capacity=2, online=False)
    waiting = await desk.write("c1", "субсидія")
    await desk.fire()
    assert await desk.assignee(waiting) is None
    assert "немає вільних" in (await desk.told(waiting))[-1]  # nobody online: no time estimate
    await desk.presence("olena", "away")
    await desk.fire()
    assert await desk.assignee(waiting) is None
    await desk.presence("olena", "online")
    await desk.fire()
    assert await desk.assignee(waiting) == "olena"


async def test_manual_pull_without_notices_costs_no_worker_round(desk: Desk) -> None:
    from civdesk.timer import service as timer_service

    await desk.topic("subsidies", "Субсидії", keywords=["субсид"])  # the agency's default: manual, no notices
    conversation = await desk.write("c1", "субсидія")
    async with desk.sessionmaker() as session:
        kinds = [t.kind for t in await timer_service.pending(session=session, conversation_id=conversation)]
    assert "route" not in kinds and (await desk.get(conversation)).queued_at is not None
    assert await desk.told(conversation) == []
