"""The inbound path's cache of channels, per sessionmaker: one process may serve several databases one after
another (tests, tools), and a new sessionmaker must never be answered with a gone one's channels."""

from __future__ import annotations

import gc
import weakref

from civdesk.agency.models import Agency
from civdesk.channel import service as channel_service
from civdesk.db.session import create_engine_for, create_sessionmaker


async def test_a_sessionmakers_channels_are_cached_for_it_alone_and_go_with_it(database_url: str) -> None:
    engine = create_engine_for(database_url)
    try:
        first = create_sessionmaker(engine)
        async with first() as session:
            agency = Agency(slug="cache", name="Відомство")
            session.add(agency)
            await session.flush()
            channel = await channel_service.add(session=session, agency=agency, type="telegram", name="Telegram")
            await session.commit()
            channel_id = channel.id
        found = await channel_service.snapshot(sessionmaker=first, channel_id=channel_id)
        assert found is not None and found.type == "telegram"
        assert channel_id in channel_service._snapshots[first]  # cached for this sessionmaker itself

        # Keyed by id(sessionmaker), the entry outlived its sessionmaker, and a new one that took the same id
        # got it: another database's channel of the same id (a webhook then answered 404). Now the cache
        # neither keeps a sessionmaker alive nor outlives it.
        gone = weakref.ref(first)
        del first, found
        gc.collect()
        assert gone() is None

        second = create_sessionmaker(engine)
        again = await channel_service.snapshot(sessionmaker=second, channel_id=channel_id)
        assert again is not None and again.id == channel_id  # read anew for the new one
    finally:
        await engine.dispose()
