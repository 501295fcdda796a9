"""Transfers with a note and the whole history, the complaint guard, repeats and the bounce index."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from civdesk.conversation import service as conversation_service
from civdesk.conversation.models import Conversation, Direction, Message
from civdesk.core.errors import CivdeskError, Forbidden, InvalidInput, NotFound
from civdesk.realtime import service as realtime_service
from civdesk.routing import reports, transfer
from civdesk.routing.admin import update_agency
from civdesk.routing.schemas import AgencyRoutingUpdate
from tests.routing.desk import Desk


async def _transfer(desk: Desk, who: str, conversation_id: int, note: str, **where: object) -> None:
    async with desk.sessionmaker() as session:
        await transfer.transfer(
            session=session, who=desk.agents[who], conversation_id=conversation_id, note=note, **where
        )  # type: ignore[arg-type]
        await realtime_service.commit(session)


async def _setup(desk: Desk) -> int:
    await desk.configure(default_strategy="balanced")
    await desk.topic("subsidies", "Субсидії", keywords=["субсид"])
    await desk.topic("pensions", "Пенсії", keywords=["пенсі"])
    await desk.agent("olena", topics=["subsidies"])
    await desk.agent("taras", topics=["pensions"])
    conversation = await desk.write("c1", "Питання про субсидію")
    await desk.fire()
    await desk.reply("olena", conversation, "Уточніть, будь ласка, вашу адресу")
    await desk.write("c1", "Київ, а ще питання про пенсію")
    return conversation


async def test_a_transfer_to_a_topic_keeps_the_history_and_tells_the_citizen(desk: Desk) -> None:
    conversation = await _setup(desk)
    with pytest.raises(InvalidInput):  # the note is mandatory
        await _transfer(desk, "olena", conversation, " ", to_topic_id=desk.topics["pensions"])
    await _transfer(desk, "olena", conversation, "питання про перерахунок пенсії", to_topic_id=desk.topics["pensions"])
    await desk.fire()
    assert await desk.assignee(conversation) == "taras"
    row = await desk.get(conversation)
    assert (row.topic_id, row.transfer_count) == (desk.topics["pensions"], 1)
    assert "Пенсії" in (await desk.told(conversation))[-1]
    assert (await desk.loads())["olena"] == 0 and (await desk.loads())["taras"] == 1
    async with desk.sessionmaker() as session:
        page = await conversation_service.messages(
            session=session, who=desk.agents["taras"], conversation_id=conversation
        )
    texts = [m.text for m in page.items]
    assert texts[0] == "Питання про субсидію" and "Уточніть, будь ласка, вашу адресу" in texts
    assert any(m.direction == "note" and "перерахунок" in m.text for m in page.items)


async def test_a_transfer_to_another_agency_moves_everything_there(desk: Desk) -> None:
    conversation = await _setup(desk)
    await desk.agent("petro", agency="pfu")
    async with desk.sessionmaker() as session:  # PFU's default strategy: balanced
        await update_agency(
            session=session, who=desk.other_admin, changes=AgencyRoutingUpdate(default_strategy="balanced")
        )
        await session.commit()
    with pytest.raises(Forbidden):  # PFU does not accept transfers from the ministry yet
        await _transfer(desk, "olena", conversation, "пенсійне питання", to_agency_slug="pfu")
    async with desk.sessionmaker() as session:
        await update_agency(
            session=session, who=desk.other_admin, changes=AgencyRoutingUpdate(accepts_transfers_from=["minsoc"])
        )
        await session.commit()
    await _transfer(desk, "olena", conversation, "пенсійне питання", to_agency_slug="pfu")
    await desk.fire()

    assert await desk.assignee(conversation) == "petro"
    row = await desk.get(conversation)
    assert row.agency_id == desk.other_agency_id and row.transfer_count == 1
    told = (await desk.told(conversation))[-1]
    assert "Пенсійний фонд України" in told and "пенсійне питання" in told
    # The receiving agency reads the whole history; the sender's agency no longer sees it.
    async with desk.sessionmaker() as session:
        page = await conversation_service.messages(
            session=session, who=desk.agents["petro"], conversation_id=conversation
        )
        assert page.items[0].text == "Питання про субсидію"
        with pytest.raises(NotFound):
            await conversation_service.get(session=session, who=desk.agents["olena"], conversation_id=conversation)
    # The citizen writes again through the ministry's bot: it lands in the transferred conversation.
    await desk.write("c1", "Дякую, чекаю")
    async with desk.sessionmaker() as session:
        last = await session.scalar(
            select(Message)
            .where(Message.conversation_id == conversation, Message.direction == Direction.IN.value)
            .order_by(Message.id.desc())
            .limit(1)
        )
    assert last is not None and last.text == "Дякую, чекаю" and last.agency_id == desk.other_agency_id
    assert (await desk.loads())["olena"] == 0


async def test_a_complaint_cannot_go_to_the_agency_it_is_about(desk: Desk) -> None:
    conversation = await _setup(desk)
    async with desk.sessionmaker() as session:
        await update_agency(
            session=session, who=desk.other_admin, changes=AgencyRoutingUpdate(accepts_transfers_from=["minsoc"])
        )
        await transfer.mark_complaint(
            session=session, who=desk.agents["olena"], conversation_id=conversation, about_agency_slug="pfu"
        )
        await session.commit()
    with pytest.raises(CivdeskError) as refused:
        await _transfer(desk, "olena", conversation, "це питання ПФУ", to_agency_slug="pfu")
    assert refused.value.code == "complaint_guard"
    assert (await desk.get(conversation)).agency_id == desk.agency_id


async def test_repeat_contacts_are_linked_and_the_bounce_index_counts_them_with_transfers(desk: Desk) -> None:
    conversation = await _setup(desk)
    await _transfer(desk, "olena", conversation, "питання про пенсію", to_topic_id=desk.topics["pensions"])
    await desk.fire()
    await desk.reply("taras", conversation)
    await desk.resolve("taras", conversation)
    again = await desk.write("c1", "Знову про пенсію")  # the same topic, days not weeks later
    await desk.fire()
    assert (await desk.get(again)).repeat_of_id == conversation
    other = await desk.write("c2", "субсидія")
    await desk.fire()
    await desk.reply("olena", other)
    await desk.resolve("olena", other)

    async with desk.sessionmaker() as session:
        _, _, by_agent = await reports.bounce_index(session=session, who=desk.admin, by="agent", since=None, until=None)
        _, _, by_topic = await reports.bounce_index(session=session, who=desk.admin, by="topic", since=None, until=None)
        _, _, by_agency = await reports.bounce_index(
            session=session, who=desk.admin, by="agency", since=None, until=None
        )
    agents = {row.label: row for row in by_agent}
    # Olena transferred one and resolved one; Taras resolved one that came back.
    assert (agents["olena"].transfers, agents["olena"].resolved, agents["olena"].bounce_index) == (1, 1, 1.0)
    assert (agents["taras"].repeats, agents["taras"].resolved, agents["taras"].bounce_index) == (1, 1, 1.0)
    topics = {row.label: row for row in by_topic}
    assert topics["Субсидії"].transfers == 1 and topics["Пенсії"].repeats == 1
    [agency] = by_agency
    assert (agency.resolved, agency.transfers, agency.repeats, agency.bounce_index) == (2, 1, 1, 1.0)


async def test_transfers_are_refused_clearly(desk: Desk) -> None:
    conversation = await _setup(desk)
    with pytest.raises(InvalidInput):  # two destinations
        await _transfer(
            desk,
            "olena",
            conversation,
            "причина тут",
            to_topic_id=desk.topics["pensions"],
            to_agent_id=desk.agents["taras"].agent_id,
        )
    with pytest.raises(NotFound):  # another agency's agent
        await desk.agent("petro", agency="pfu")
        await _transfer(desk, "olena", conversation, "причина тут", to_agent_id=desk.agents["petro"].agent_id)
    await _transfer(desk, "olena", conversation, "Тарас знає пенсії", to_agent_id=desk.agents["taras"].agent_id)
    assert await desk.assignee(conversation) == "taras"
    async with desk.sessionmaker() as session:
        history = await reports.history(session=session, who=desk.agents["taras"], conversation_id=conversation)
        count = await session.scalar(select(Conversation.transfer_count).where(Conversation.id == conversation))
    assert [t.note for t in history.transfers] == ["Тарас знає пенсії"] and count == 1
