"""Agents with more rights than the shared world's, created straight in the database."""

from __future__ import annotations

from civdesk.agency import service as agency_service
from civdesk.agent import service as agent_service
from civdesk.config import Settings
from civdesk.db.session import create_engine_for, create_sessionmaker
from tests.support.world import PASSWORD, run_async


def add_agent(settings: Settings, *, slug: str, email: str, role: str) -> str:
    async def create() -> None:
        engine = create_engine_for(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                agency = await agency_service.require_by_slug(session=session, slug=slug)
                await agent_service.create(
                    session=session, agency=agency, email=email, password=PASSWORD, name=email, role=role
                )
                await session.commit()
        finally:
            await engine.dispose()

    run_async(create())
    return email
