"""Long-polling mode (getUpdates with offset) for deployments without a public HTTPS address."""

from __future__ import annotations

from sqlalchemy import func, select

from civdesk.agency import service as agency_service
from civdesk.channel import service as channel_service
from civdesk.channels import registry
from civdesk.config import Settings
from civdesk.conversation.models import Message
from civdesk.conversation.polling import Poller
from civdesk.db.session import create_engine_for, create_sessionmaker
from tests.support.stack import Stack

POLL_TOKEN = "4545:polling-bot"


async def test_polling_stores_each_update_once_and_survives_a_lost_offset(stack: Stack, settings: Settings) -> None:
    stack.emulator.add_bot(token=POLL_TOKEN, username="poll_bot", first_name="Опитування")
    engine = create_engine_for(settings.database_url)
    maker = create_sessionmaker(engine)
    try:
        async with maker() as session:
            agency = await agency_service.require_by_slug(session=session, slug="minsoc")
            channel = await channel_service.add(
                session=session,
                agency=agency,
                type="telegram",
                name="@poll_bot",
                config={"api_base": stack.sandbox_url, "receive_mode": "polling"},
                secrets={"token": POLL_TOKEN, "secret": "unused-in-polling"},
            )
            await session.commit()
            channel_id = channel.id
        poller = Poller(sessionmaker=maker)
        stack.emulator.citizen_says(token=POLL_TOKEN, chat_id=321, text="Перше")
        stack.emulator.citizen_says(token=POLL_TOKEN, chat_id=322, text="Друге")
        assert await poller.poll_once(channel_id, timeout_seconds=0) == 2

        async def stored() -> list[str]:
            async with maker() as session:
                rows = await session.scalars(select(Message.text).where(Message.channel_id == channel_id))
                return sorted(rows)

        assert await stored() == ["Друге", "Перше"]
        # The process died before saving the offset: the same updates come again, and are not stored twice.
        async with maker() as session:
            (await channel_service.get(session=session, channel_id=channel_id)).poll_offset = None
            await session.commit()
        assert await poller.poll_once(channel_id, timeout_seconds=0) == 2
        assert await stored() == ["Друге", "Перше"]
        # With the offset saved, Telegram forgets confirmed updates.
        assert await poller.poll_once(channel_id, timeout_seconds=0) == 0
        stack.emulator.citizen_says(token=POLL_TOKEN, chat_id=321, text="Третє")
        assert await poller.poll_once(channel_id, timeout_seconds=1) == 1
        async with maker() as session:
            count = await session.scalar(
                select(func.count()).select_from(Message).where(Message.channel_id == channel_id)
            )
        assert count == 3
    finally:
        await registry.close_all()  # this loop's HTTP sessions
        await engine.dispose()
