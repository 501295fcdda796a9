"""What one inbound message costs the database on PostgreSQL: the lookup and one combined write, each its
own transaction (no BEGIN, no COMMIT), whether the citizen is new, continues a conversation or starts a
new one after the last was resolved."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from civdesk.channels.base import InboundEvent, InboundKind, Sender
from civdesk.contact.models import ContactIdentity
from civdesk.conversation.ingest import ingest
from civdesk.conversation.models import Conversation
from civdesk.core.clock import now
from civdesk.realtime import service as realtime_service
from tests.routing.desk import Desk, open_desk
from tests.support.psycopg_log import record_psycopg


@pytest.fixture
async def desk(database_url: str) -> AsyncIterator[Desk]:
    if not database_url.startswith("postgresql"):
        pytest.skip("ids are drawn ahead, and writes combined, on PostgreSQL only")
    opened = await open_desk(database_url)
    try:
        await opened.agent("olena")
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement a psycopg cursor executes (raw cursors included), and the connection's own
    transaction commands (BEGIN, COMMIT …)."""
    return record_psycopg(monkeypatch, statements=True, commands=True)


async def _write(desk: Desk, citizen: str, key: str, sent: list[str]) -> list[str]:
    """The statements of one message's transaction."""
    event = InboundEvent(
        kind=InboundKind.MESSAGE,
        platform_key=key,
        sender=Sender(external_id=citizen, display_name=citizen, language="uk"),
        occurred_at=now(),
        text="Питання про субсидію",
    )
    async with desk.sessionmaker() as session:
        sent.clear()
        await ingest(session=session, channel=desk.channel, inbound=(event,))
        await realtime_service.commit(session)
        return list(sent)


def _kinds(statements: list[str]) -> list[str]:
    return ["lookup" if "FROM contact_identity" in s else s.split()[0] for s in statements]


async def _ids(desk: Desk, citizen: str) -> tuple[int, int]:
    async with desk.sessionmaker() as session:
        row = (
            await session.execute(
                select(ContactIdentity.contact_id, Conversation.id)
                .join(Conversation, Conversation.contact_id == ContactIdentity.contact_id)
                .where(ContactIdentity.external_id == citizen)
                .order_by(Conversation.id.desc())
                .limit(1)
            )
        ).one()
        return int(row[0]), int(row[1])


async def test_every_kind_of_message_is_a_lookup_and_one_write(desk: Desk, sent: list[str]) -> None:
    await _write(desk, "warm-up", "w1", sent)  # the agency's routing settings are read once, then cached

    assert _kinds(await _write(desk, "maria", "m1", sent)) == ["lookup", "WITH"]  # a new citizen
    assert _kinds(await _write(desk, "maria", "m2", sent)) == ["lookup", "WITH"]  # the same conversation
    assert _kinds(await _write(desk, "maria", "m2", sent)) == ["lookup"]  # redelivered: nothing written

    contact, conversation = await _ids(desk, "maria")
    await desk.resolve("olena", conversation)
    assert _kinds(await _write(desk, "maria", "m3", sent)) == ["lookup", "WITH"]  # a new conversation
    assert await _ids(desk, "maria") == (contact, conversation + 1)


async def test_the_lookup_draws_a_contact_or_conversation_id_only_for_a_row_it_creates(
    desk: Desk, sent: list[str]
) -> None:
    await _write(desk, "petro", "p1", sent)
    contact, conversation = await _ids(desk, "petro")
    for n in range(2, 6):
        await _write(desk, "petro", f"p{n}", sent)
    await _write(desk, "ivan", "i1", sent)
    # The four continuing messages drew nothing from the contacts' and conversations' sequences.
    assert await _ids(desk, "ivan") == (contact + 1, conversation + 1)
