from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from civdesk.conversation.schemas import ConversationRead
from civdesk.deps import CurrentAgent, SessionDep
from civdesk.realtime import service as realtime_service
from civdesk.routing import admin, reports, transfer, wall
from civdesk.routing.schemas import (
    AgencyRoutingRead,
    AgencyRoutingUpdate,
    AtRiskRead,
    BouncePage,
    BreachRead,
    ComplaintUpdate,
    HolidayCreate,
    HolidayRead,
    PartnerAgencyRead,
    QueueRead,
    RosterRead,
    RoutingHistory,
    SkillsRead,
    SkillsWrite,
    TopicRead,
    TopicWrite,
    TransferCreate,
    TransferTargets,
)

router = APIRouter(prefix="/api/v1", tags=["routing"])


@router.post("/conversations/{conversation_id}/transfer", response_model=ConversationRead)
async def transfer_conversation(
    conversation_id: int, body: TransferCreate, who: CurrentAgent, session: SessionDep
) -> ConversationRead:
    """To an agent, a topic, or another agency (which must accept transfers from this one), with a
    note the citizen is told and the receiving side reads. The whole history goes with it."""
    moved = await transfer.transfer(
        session=session,
        who=who,
        conversation_id=conversation_id,
        note=body.note,
        to_agent_id=body.to_agent_id,
        to_topic_id=body.to_topic_id,
        to_agency_slug=body.to_agency,
    )
    await realtime_service.commit(session)
    return moved


@router.put("/conversations/{conversation_id}/complaint", response_model=ConversationRead)
async def mark_complaint(
    conversation_id: int, body: ComplaintUpdate, who: CurrentAgent, session: SessionDep
) -> ConversationRead:
    """Marks a complaint about an agency: it can then never be transferred to that agency."""
    read = await transfer.mark_complaint(
        session=session, who=who, conversation_id=conversation_id, about_agency_slug=body.about_agency
    )
    await realtime_service.commit(session)
    return read


@router.get("/conversations/{conversation_id}/routing", response_model=RoutingHistory)
async def routing_history(conversation_id: int, who: CurrentAgent, session: SessionDep) -> RoutingHistory:
    """Every routing decision (who was eligible, who won, why), transfer and missed target."""
    return await reports.history(session=session, who=who, conversation_id=conversation_id)


@router.get("/routing/settings", response_model=AgencyRoutingRead)
async def read_settings(who: CurrentAgent, session: SessionDep) -> AgencyRoutingRead:
    return await admin.read_agency(session=session, who=who)


@router.patch("/routing/settings", response_model=AgencyRoutingRead)
async def update_settings(body: AgencyRoutingUpdate, who: CurrentAgent, session: SessionDep) -> AgencyRoutingRead:
    """Working hours, languages, triage, default strategy, response targets, transfer partners (admins)."""
    read = await admin.update_agency(session=session, who=who, changes=body)
    await realtime_service.commit(session)
    return read


@router.get("/routing/partner-agencies", response_model=list[PartnerAgencyRead])
async def partner_agencies(who: CurrentAgent, session: SessionDep) -> list[PartnerAgencyRead]:
    """Every other agency on this platform: whose transfers this one may accept (admins)."""
    return await admin.partner_agencies(session=session, who=who)


@router.post("/routing/holidays", response_model=HolidayRead, status_code=status.HTTP_201_CREATED)
async def add_holiday(body: HolidayCreate, who: CurrentAgent, session: SessionDep) -> HolidayRead:
    read = await admin.add_holiday(session=session, who=who, holiday=body)
    await session.commit()
    return read


@router.delete("/routing/holidays/{day}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_holiday(day: date, who: CurrentAgent, session: SessionDep) -> None:
    await admin.remove_holiday(session=session, who=who, day=day)
    await session.commit()


@router.get("/topics", response_model=list[TopicRead])
async def list_topics(who: CurrentAgent, session: SessionDep) -> list[TopicRead]:
    return await admin.list_topics(session=session, who=who)


@router.post("/topics", response_model=TopicRead, status_code=status.HTTP_201_CREATED)
async def create_topic(body: TopicWrite, who: CurrentAgent, session: SessionDep) -> TopicRead:
    read = await admin.create_topic(session=session, who=who, body=body)
    await session.commit()
    return read


@router.patch("/topics/{topic_id}", response_model=TopicRead)
async def update_topic(topic_id: int, body: TopicWrite, who: CurrentAgent, session: SessionDep) -> TopicRead:
    read = await admin.update_topic(session=session, who=who, topic_id=topic_id, body=body)
    await session.commit()
    return read


@router.get("/agents/{agent_id}/skills", response_model=SkillsRead)
async def read_skills(agent_id: int, who: CurrentAgent, session: SessionDep) -> SkillsRead:
    return await admin.read_skills(session=session, who=who, agent_id=agent_id)


@router.put("/agents/{agent_id}/skills", response_model=SkillsRead)
async def write_skills(agent_id: int, body: SkillsWrite, who: CurrentAgent, session: SessionDep) -> SkillsRead:
    """Replaces the agent's topics and languages (with levels) and sets their capacity (admins)."""
    read = await admin.write_skills(session=session, who=who, agent_id=agent_id, body=body)
    await realtime_service.commit(session)
    return read


@router.get("/routing/queues", response_model=list[QueueRead])
async def queues(who: CurrentAgent, session: SessionDep) -> list[QueueRead]:
    return await reports.queues(session=session, who=who)


@router.get("/routing/transfer-targets", response_model=TransferTargets)
async def transfer_targets(who: CurrentAgent, session: SessionDep) -> TransferTargets:
    """Where I may transfer a conversation: my agency's other agents and its topics, and the agencies
    that accept transfers from mine."""
    return await wall.transfer_targets(session=session, who=who)


@router.get("/routing/roster", response_model=list[RosterRead])
async def roster(who: CurrentAgent, session: SessionDep) -> list[RosterRead]:
    """My agency's agents with region, presence and load (supervisors)."""
    return await wall.roster(session=session, who=who)


@router.get("/routing/at-risk", response_model=list[AtRiskRead])
async def at_risk(
    who: CurrentAgent,
    session: SessionDep,
    within_minutes: Annotated[int, Query(ge=0, le=24 * 60)] = 15,
) -> list[AtRiskRead]:
    """Open conversations whose response or resolution target is due within `within_minutes` or already
    missed, soonest first (supervisors)."""
    return await wall.at_risk(session=session, who=who, within_minutes=within_minutes)


@router.get("/routing/breaches", response_model=list[BreachRead])
async def breaches(
    who: CurrentAgent,
    session: SessionDep,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[BreachRead]:
    return await reports.breaches(session=session, who=who, since=since, limit=limit)


@router.get("/routing/bounce-index", response_model=BouncePage)
async def bounce_index(
    who: CurrentAgent,
    session: SessionDep,
    by: Literal["agent", "topic", "agency"] = "agent",
    since: datetime | None = None,
    until: datetime | None = None,
) -> BouncePage:
    """Transfers and repeat contacts per resolved case (default: the last 30 days)."""
    start, end, items = await reports.bounce_index(session=session, who=who, by=by, since=since, until=until)
    return BouncePage(by=by, since=start, until=end, items=items)
