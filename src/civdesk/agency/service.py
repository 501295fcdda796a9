"""Agencies and their topics."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.agency.models import Agency, Topic
from civdesk.core.errors import Conflict, InvalidInput, NotFound

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def _check_slug(slug: str) -> str:
    if not _SLUG.match(slug):
        raise InvalidInput(
            f"slug {slug!r} must be lowercase latin letters, digits and dashes",
            f"ідентифікатор {slug!r} має складатися з малих латинських літер, цифр і дефісів",
        )
    return slug


async def create(*, session: AsyncSession, slug: str, name: str) -> Agency:
    """Creates an agency; its slug is part of public URLs (/chat/{slug})."""
    if await get_by_slug(session=session, slug=slug) is not None:
        raise Conflict(f"agency {slug!r} already exists", f"відомство {slug!r} вже існує")
    agency = Agency(slug=_check_slug(slug), name=name.strip())
    session.add(agency)
    await session.flush()
    return agency


async def get_by_slug(*, session: AsyncSession, slug: str) -> Agency | None:
    return await session.scalar(select(Agency).where(Agency.slug == slug))


async def require_by_slug(*, session: AsyncSession, slug: str) -> Agency:
    agency = await get_by_slug(session=session, slug=slug)
    if agency is None:
        raise NotFound(f"no agency {slug!r}", f"відомства {slug!r} немає")
    return agency


async def get(*, session: AsyncSession, agency_id: int) -> Agency:
    agency = await session.get(Agency, agency_id)
    if agency is None:
        raise NotFound(f"no agency {agency_id}", f"відомства {agency_id} немає")
    return agency


async def list_all(*, session: AsyncSession) -> list[Agency]:
    return list(await session.scalars(select(Agency).order_by(Agency.id)))


async def add_topic(*, session: AsyncSession, agency: Agency, slug: str, name: str) -> Topic:
    existing = await session.scalar(select(Topic).where(Topic.agency_id == agency.id, Topic.slug == slug))
    if existing is not None:
        raise Conflict(f"topic {slug!r} already exists", f"тема {slug!r} вже існує")
    topic = Topic(agency_id=agency.id, slug=_check_slug(slug), name=name.strip())
    session.add(topic)
    await session.flush()
    return topic


async def list_topics(*, session: AsyncSession, agency_id: int) -> list[Topic]:
    return list(await session.scalars(select(Topic).where(Topic.agency_id == agency_id).order_by(Topic.id)))


async def topic_in_agency(*, session: AsyncSession, agency_id: int, topic_id: int) -> Topic:
    topic = await session.get(Topic, topic_id)
    if topic is None or topic.agency_id != agency_id:
        raise NotFound(f"no topic {topic_id}", f"теми {topic_id} немає")
    return topic
