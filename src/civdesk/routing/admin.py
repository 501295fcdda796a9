"""Routing configuration: agency settings, holidays, topics and agents' skills. Admins change it;
supervisors read it. Every change clears this process's cached snapshot at once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.agency import hours
from civdesk.agency import service as agency_service
from civdesk.agency.models import Agency, Holiday, Topic
from civdesk.agent.models import Agent, Role
from civdesk.agent.service import AgentIdentity
from civdesk.core.errors import Conflict, Forbidden, InvalidInput, NotFound, about_field
from civdesk.routing import assign, decide
from civdesk.routing import config as routing_config
from civdesk.routing.models import AgentLanguage, AgentSkill, TransferPartner
from civdesk.routing.schemas import (
    AgencyRoutingRead,
    AgencyRoutingUpdate,
    HolidayCreate,
    HolidayRead,
    LanguageLevel,
    PartnerAgencyRead,
    SkillLevel,
    SkillsRead,
    SkillsWrite,
    TopicRead,
    TopicWrite,
)


def require_admin(who: AgentIdentity) -> None:
    if who.role != Role.ADMIN:
        raise Forbidden(
            "only an agency administrator may change routing", "змінювати маршрутизацію може лише адміністратор"
        )


def require_supervisor(who: AgentIdentity) -> None:
    if not who.is_supervisor:
        raise Forbidden("only supervisors and administrators see this", "це бачать лише керівники й адміністратори")


async def read_agency(*, session: AsyncSession, who: AgentIdentity) -> AgencyRoutingRead:
    require_supervisor(who)
    agency = await agency_service.get(session=session, agency_id=who.agency_id)
    days = list(await session.scalars(select(Holiday).where(Holiday.agency_id == agency.id).order_by(Holiday.day)))
    partners = list(
        await session.scalars(
            select(Agency.slug)
            .join(TransferPartner, TransferPartner.from_agency_id == Agency.id)
            .where(TransferPartner.agency_id == agency.id)
            .order_by(Agency.slug)
        )
    )
    return AgencyRoutingRead(
        slug=agency.slug,
        name=agency.name,
        time_zone=agency.time_zone,
        languages=list(agency.languages or []),
        working_hours=agency.working_hours,
        holidays=[HolidayRead.model_validate(d) for d in days],
        triage_enabled=agency.triage_enabled,
        queue_notices=agency.queue_notices,
        default_strategy=agency.default_strategy,
        reassign_after_seconds=agency.reassign_after_seconds,
        first_response_seconds=agency.first_response_seconds,
        next_response_seconds=agency.next_response_seconds,
        resolution_seconds=agency.resolution_seconds,
        accepts_transfers_from=partners,
    )


# Settings every agency has: null would break the row, not clear a value.
_AGENCY_REQUIRED = ("triage_enabled", "queue_notices", "default_strategy", "reassign_after_seconds")
_TOPIC_REQUIRED = ("priority", "names")


def _refuse_nulls(given: dict[str, Any], required: tuple[str, ...]) -> None:
    for field in required:
        if field in given and given[field] is None:
            raise InvalidInput(f"{field} needs a value", "значення обов’язкове", field=field)


async def update_agency(
    *, session: AsyncSession, who: AgentIdentity, changes: AgencyRoutingUpdate
) -> AgencyRoutingRead:
    require_admin(who)
    agency = await agency_service.get(session=session, agency_id=who.agency_id)
    given: dict[str, Any] = changes.model_dump(exclude_unset=True)
    _refuse_nulls(given, _AGENCY_REQUIRED)
    if "time_zone" in given:
        with about_field("time_zone"):
            hours.calendar(time_zone=given["time_zone"] or "", schedule=None)  # raises on an unknown zone
    if "working_hours" in given:
        with about_field("working_hours"):
            hours.parse_schedule(given["working_hours"])
    if "languages" in given:
        langs = [str(code).lower() for code in given["languages"] or []]
        if not langs or any(not code.isalpha() or not 2 <= len(code) <= 3 for code in langs):
            raise InvalidInput(
                "languages are ISO 639-1 codes like uk, en",
                "мови задаються кодами ISO 639-1: uk, en",
                field="languages",
            )
        given["languages"] = list(dict.fromkeys(langs))
    partners = given.pop("accepts_transfers_from", None)
    for field, value in given.items():
        setattr(agency, field, value)
    if partners is not None:
        with about_field("accepts_transfers_from"):
            await _set_partners(session=session, agency=agency, slugs=partners)
    await session.flush()
    routing_config.forget(agency.id)
    await decide.kick(session=session, agency_id=agency.id)
    return await read_agency(session=session, who=who)


async def _set_partners(*, session: AsyncSession, agency: Agency, slugs: list[str]) -> None:
    await session.execute(delete(TransferPartner).where(TransferPartner.agency_id == agency.id))
    for slug in dict.fromkeys(slugs):
        other = await agency_service.require_by_slug(session=session, slug=slug)
        if other.id != agency.id:
            session.add(TransferPartner(agency_id=agency.id, from_agency_id=other.id))


async def partner_agencies(*, session: AsyncSession, who: AgentIdentity) -> list[PartnerAgencyRead]:
    """Every other agency on this platform: the choices for `accepts_transfers_from` (admins)."""
    require_admin(who)
    agencies = await agency_service.list_all(session=session)
    return [PartnerAgencyRead(slug=a.slug, name=a.name) for a in agencies if a.id != who.agency_id]


async def add_holiday(*, session: AsyncSession, who: AgentIdentity, holiday: HolidayCreate) -> HolidayRead:
    require_admin(who)
    if await session.get(Holiday, (who.agency_id, holiday.day)) is not None:
        raise Conflict(f"{holiday.day} is already a holiday", f"{holiday.day} вже вихідний", field="day")
    row = Holiday(agency_id=who.agency_id, day=holiday.day, name=holiday.name)
    session.add(row)
    await session.flush()
    routing_config.forget(who.agency_id)
    return HolidayRead.model_validate(row)


async def remove_holiday(*, session: AsyncSession, who: AgentIdentity, day: Any) -> None:
    require_admin(who)
    row = await session.get(Holiday, (who.agency_id, day))
    if row is None:
        raise NotFound(f"{day} is not a holiday", f"{day} не є вихідним")
    await session.delete(row)
    routing_config.forget(who.agency_id)


def _topic_read(topic: Topic) -> TopicRead:
    return TopicRead.model_validate(topic)


async def list_topics(*, session: AsyncSession, who: AgentIdentity) -> list[TopicRead]:
    return [_topic_read(t) for t in await agency_service.list_topics(session=session, agency_id=who.agency_id)]


async def create_topic(*, session: AsyncSession, who: AgentIdentity, body: TopicWrite) -> TopicRead:
    require_admin(who)
    if not body.slug or not body.name:
        raise InvalidInput(
            "a new topic needs a slug and a name",
            "нова тема потребує ідентифікатора й назви",
            field="name" if body.slug else "slug",
        )
    agency = await agency_service.get(session=session, agency_id=who.agency_id)
    with about_field("slug"):
        topic = await agency_service.add_topic(session=session, agency=agency, slug=body.slug, name=body.name)
    return await _apply_topic(session=session, topic=topic, body=body.model_copy(update={"slug": None, "name": None}))


async def update_topic(*, session: AsyncSession, who: AgentIdentity, topic_id: int, body: TopicWrite) -> TopicRead:
    require_admin(who)
    topic = await agency_service.topic_in_agency(session=session, agency_id=who.agency_id, topic_id=topic_id)
    if body.slug is not None and body.slug != topic.slug:
        raise InvalidInput("a topic's slug cannot change", "ідентифікатор теми змінити не можна", field="slug")
    return await _apply_topic(session=session, topic=topic, body=body)


async def _apply_topic(*, session: AsyncSession, topic: Topic, body: TopicWrite) -> TopicRead:
    given = body.model_dump(exclude_unset=True, exclude={"slug"})
    _refuse_nulls(given, _TOPIC_REQUIRED)
    if "keywords" in given:
        given["keywords"] = [k.strip().lower() for k in given["keywords"] or [] if k.strip()]
    for field, value in given.items():
        if field == "name" and value is None:
            continue
        setattr(topic, field, value)
    await session.flush()
    routing_config.forget(topic.agency_id)
    return _topic_read(topic)


async def _agent_here(*, session: AsyncSession, who: AgentIdentity, agent_id: int) -> Agent:
    agent = await session.get(Agent, agent_id)
    if agent is None or agent.agency_id != who.agency_id:
        raise NotFound(f"no agent {agent_id}", f"працівника {agent_id} немає")
    return agent


async def read_skills(*, session: AsyncSession, who: AgentIdentity, agent_id: int) -> SkillsRead:
    if agent_id != who.agent_id:
        require_supervisor(who)
    agent = await _agent_here(session=session, who=who, agent_id=agent_id)
    topics = await session.scalars(
        select(AgentSkill).where(AgentSkill.agent_id == agent.id).order_by(AgentSkill.topic_id)
    )
    langs = await session.scalars(
        select(AgentLanguage).where(AgentLanguage.agent_id == agent.id).order_by(AgentLanguage.language)
    )
    return SkillsRead(
        agent_id=agent.id,
        capacity=agent.capacity,
        topics=[SkillLevel(topic_id=s.topic_id, level=s.level) for s in topics],
        languages=[LanguageLevel(language=s.language, level=s.level) for s in langs],
    )


async def write_skills(*, session: AsyncSession, who: AgentIdentity, agent_id: int, body: SkillsWrite) -> SkillsRead:
    require_admin(who)
    agent = await _agent_here(session=session, who=who, agent_id=agent_id)
    if body.capacity is not None:
        agent.capacity = body.capacity
        await assign.roster(session=session, agent_id=agent.id, agency_id=agent.agency_id, capacity=body.capacity)
    if body.topics is not None:
        for skill in body.topics:
            await agency_service.topic_in_agency(session=session, agency_id=who.agency_id, topic_id=skill.topic_id)
        levels = {skill.topic_id: skill.level for skill in body.topics}
        await assign.store_skills(session=session, agent_id=agent.id, agency_id=agent.agency_id, levels=levels)
    if body.languages is not None:
        await session.execute(delete(AgentLanguage).where(AgentLanguage.agent_id == agent.id))
        session.add_all(AgentLanguage(agent_id=agent.id, language=s.language, level=s.level) for s in body.languages)
    await session.flush()
    await decide.kick(session=session, agency_id=who.agency_id)  # more capacity or skills may serve the queue
    return await read_skills(session=session, who=who, agent_id=agent.id)
