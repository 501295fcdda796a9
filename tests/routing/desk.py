"""A routing desk for tests: a migrated database with two agencies, topics, agents with skills, a web
chat channel per agency; citizens write through the real ingest path and timers fire through the
real TimerWorker. No servers: decisions are driven step by step, so each test says exactly when."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from civdesk.agency import service as agency_service
from civdesk.agency.models import Agency
from civdesk.agent import service as agent_service
from civdesk.agent.service import AgentIdentity
from civdesk.channel import service as channel_service
from civdesk.channel.service import ChannelSnapshot
from civdesk.channels.base import InboundEvent, InboundKind, Sender
from civdesk.conversation import service as conversation_service
from civdesk.conversation.ingest import ingest
from civdesk.conversation.models import Conversation, Direction, Message
from civdesk.core.clock import now
from civdesk.db.session import create_engine_for, create_sessionmaker
from civdesk.presence import service as presence_service
from civdesk.realtime import service as realtime_service
from civdesk.routing import admin
from civdesk.routing import config as routing_config
from civdesk.routing import service as routing_service
from civdesk.routing.models import AgentLoad, AgentSkill, RoutingDecision, TopicRoster
from civdesk.routing.schemas import AgencyRoutingUpdate, SkillLevel, SkillsWrite, TopicWrite
from civdesk.timer.worker import TimerWorker

_keys = itertools.count(1)


@dataclass
class Desk:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    agency_id: int
    other_agency_id: int
    channel: ChannelSnapshot
    other_channel: ChannelSnapshot
    admin: AgentIdentity
    other_admin: AgentIdentity
    topics: dict[str, int] = field(default_factory=dict)
    agents: dict[str, AgentIdentity] = field(default_factory=dict)

    # ---- set-up ----

    async def configure(self, **changes: Any) -> None:
        async with self.sessionmaker() as session:
            await admin.update_agency(session=session, who=self.admin, changes=AgencyRoutingUpdate(**changes))
            await realtime_service.commit(session)

    async def topic(self, slug: str, name: str, **settings: Any) -> int:
        async with self.sessionmaker() as session:
            read = await admin.create_topic(
                session=session, who=self.admin, body=TopicWrite(slug=slug, name=name, **settings)
            )
            await session.commit()
        self.topics[slug] = read.id
        return read.id

    async def agent(
        self,
        name: str,
        *,
        topics: Sequence[str] = (),
        capacity: int = 2,
        online: bool = True,
        languages: Sequence[str] = (),
        agency: str = "minsoc",
    ) -> AgentIdentity:
        async with self.sessionmaker() as session:
            home = await agency_service.require_by_slug(session=session, slug=agency)
            agent = await agent_service.create(
                session=session,
                agency=home,
                email=f"{name}@{agency}.test",
                password="correct horse battery",
                name=name,
                capacity=capacity,
            )
            await session.flush()
            who = AgentIdentity(agent_id=agent.id, agency_id=home.id, role="agent")
            boss = self.admin if home.id == self.agency_id else self.other_admin
            await admin.write_skills(
                session=session,
                who=boss,
                agent_id=agent.id,
                body=SkillsWrite(
                    topics=[SkillLevel(topic_id=self.topics[t], level=3) for t in topics],
                    languages=[{"language": code, "level": 3} for code in languages],  # type: ignore[misc]
                ),
            )
            await realtime_service.commit(session)
        self.agents[name] = who
        if online:
            await self.presence(name, "online")
        return who

    async def skills(self, name: str, levels: dict[str, int]) -> None:
        """Replaces an agent's topics (slug → level) as an admin does."""
        async with self.sessionmaker() as session:
            await admin.write_skills(
                session=session,
                who=self.admin,
                agent_id=self.agents[name].agent_id,
                body=SkillsWrite(topics=[SkillLevel(topic_id=self.topics[t], level=n) for t, n in levels.items()]),
            )
            await realtime_service.commit(session)

    async def presence(self, name: str, status: str) -> None:
        async with self.sessionmaker() as session:
            await presence_service.set_status(session=session, who=self.agents[name], status=status)
            await realtime_service.commit(session)

    # ---- citizens ----

    async def write(
        self,
        citizen: str,
        text: str = "",
        *,
        payload: str | None = None,
        language: str | None = None,
        other_agency: bool = False,
    ) -> int:
        channel = self.other_channel if other_agency else self.channel
        event = InboundEvent(
            kind=InboundKind.BUTTON if payload else InboundKind.MESSAGE,
            platform_key=f"k{next(_keys)}",
            sender=Sender(external_id=citizen, display_name=citizen, language=language),
            occurred_at=now(),
            text=text,
            button_payload=payload,
        )
        async with self.sessionmaker() as session:
            await ingest(session=session, channel=channel, inbound=(event,))
            await realtime_service.commit(session)
            return await self.conversation_of(citizen, session=session)

    async def conversation_of(self, citizen: str, *, session: AsyncSession | None = None) -> int:
        from civdesk.contact.models import ContactIdentity

        async def find(s: AsyncSession) -> int:
            found = await s.scalar(
                select(Conversation.id)
                .join(ContactIdentity, ContactIdentity.contact_id == Conversation.contact_id)
                .where(ContactIdentity.external_id == citizen)
                .order_by(Conversation.id.desc())
                .limit(1)
            )
            assert found is not None
            return found

        if session is not None:
            return await find(session)
        async with self.sessionmaker() as s:
            return await find(s)

    async def told(self, conversation_id: int) -> list[str]:
        """What civdesk itself said to the citizen (outbound messages without an author)."""
        async with self.sessionmaker() as session:
            rows = await session.scalars(
                select(Message.text)
                .where(
                    Message.conversation_id == conversation_id,
                    Message.direction == Direction.OUT.value,
                    Message.author_agent_id.is_(None),
                )
                .order_by(Message.id)
            )
            return list(rows)

    async def buttons(self, conversation_id: int) -> list[dict[str, str]]:
        async with self.sessionmaker() as session:
            rows = await session.scalars(
                select(Message.buttons)
                .where(Message.conversation_id == conversation_id, Message.direction == Direction.OUT.value)
                .order_by(Message.id.desc())
            )
            return list(next(iter(rows), []))

    # ---- agents ----

    async def reply(self, name: str, conversation_id: int, text: str = "Відповідаю") -> None:
        async with self.sessionmaker() as session:
            await conversation_service.reply(
                session=session, who=self.agents[name], conversation_id=conversation_id, text=text
            )
            await realtime_service.commit(session)

    async def resolve(self, name: str, conversation_id: int) -> None:
        async with self.sessionmaker() as session:
            await conversation_service.resolve(session=session, who=self.agents[name], conversation_id=conversation_id)
            await realtime_service.commit(session)

    # ---- state ----

    async def fire(self, rounds: int = 20) -> int:
        """Fires every timer due now (and those they schedule for now), like a worker would."""
        worker = TimerWorker(sessionmaker=self.sessionmaker, handlers=routing_service.handlers())
        fired = 0
        for _ in range(rounds):
            claimed = await worker.run_once()
            fired += claimed
            if not claimed:
                break
        return fired

    async def due_now(self, *kinds: str) -> int:
        """Time travel for timers: pending timers of these kinds become due now."""
        from sqlalchemy import update

        from civdesk.timer.models import Timer, TimerStatus

        async with self.sessionmaker() as session:
            result = await session.execute(
                update(Timer)
                .where(Timer.status == TimerStatus.PENDING.value, Timer.kind.in_(kinds))
                .values(due_at=now())
            )
            await session.commit()
            return int(getattr(result, "rowcount", 0))

    async def get(self, conversation_id: int) -> Conversation:
        async with self.sessionmaker() as session:
            row = await session.get(Conversation, conversation_id)
            assert row is not None
            return row

    async def assignee(self, conversation_id: int) -> str | None:
        agent_id = (await self.get(conversation_id)).assignee_id
        return next((n for n, who in self.agents.items() if who.agent_id == agent_id), None)

    async def loads(self) -> dict[str, int]:
        await self.roster_skills()  # which checks that the topic rows carry the same loads
        async with self.sessionmaker() as session:
            rows = dict((await session.execute(select(AgentLoad.agent_id, AgentLoad.open_count))).all())
        return {name: rows.get(who.agent_id, 0) for name, who in self.agents.items()}

    async def roster_skills(self) -> dict[str, dict[str, int]]:
        """Each agent's topic rows (the ranking's copy of their skills), by topic slug, for the agents on
        the roster; and every topic row carries its agent's roster row as it is."""
        slugs = {topic_id: slug for slug, topic_id in self.topics.items()}
        copied = ("agency_id", "online", "open_count", "capacity", "last_assigned_at")
        async with self.sessionmaker() as session:
            on_roster = select(AgentLoad.agent_id, *(getattr(AgentLoad, c) for c in copied))
            roster = {row[0]: tuple(row[1:]) for row in await session.execute(on_roster)}
            per_topic = select(TopicRoster.agent_id, TopicRoster.topic_id, TopicRoster.level)
            rows = (await session.execute(per_topic.add_columns(*(getattr(TopicRoster, c) for c in copied)))).all()
            skilled = set((await session.execute(select(AgentSkill.agent_id, AgentSkill.topic_id))).all())
        assert {(r.agent_id, r.topic_id) for r in rows} == {(a, t) for a, t in skilled if a in roster}
        skills: dict[str, dict[str, int]] = {name: {} for name, who in self.agents.items() if who.agent_id in roster}
        names = {who.agent_id: name for name, who in self.agents.items()}
        for agent_id, topic_id, level, *values in rows:
            assert tuple(values) == roster[agent_id], f"{names[agent_id]}'s topic row lags their roster row"
            skills[names[agent_id]][slugs[topic_id]] = level
        return skills

    async def decisions(self, conversation_id: int) -> list[RoutingDecision]:
        async with self.sessionmaker() as session:
            return list(
                await session.scalars(
                    select(RoutingDecision)
                    .where(RoutingDecision.conversation_id == conversation_id)
                    .order_by(RoutingDecision.id)
                )
            )

    async def close(self) -> None:
        await self.engine.dispose()


async def open_desk(database_url: str, *, at: datetime | None = None) -> Desk:
    engine = create_engine_for(database_url)
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as session:
        minsoc = await agency_service.create(session=session, slug="minsoc", name="Міністерство соціальної політики")
        pfu = await agency_service.create(session=session, slug="pfu", name="Пенсійний фонд України")
        identities = []
        for agency in (minsoc, pfu):
            boss = await agent_service.create(
                session=session,
                agency=agency,
                email=f"admin@{agency.slug}.test",
                password="correct horse battery",
                name="Адмін",
                role="admin",
            )
            identities.append(AgentIdentity(agent_id=boss.id, agency_id=agency.id, role="admin"))
        chats = [
            await channel_service.add(session=session, agency=a, type="webchat", name="Веб-чат") for a in (minsoc, pfu)
        ]
        await session.commit()
        snapshots = [channel_service.snapshot_of(c) for c in chats]
        desk = Desk(
            engine=engine,
            sessionmaker=sessionmaker,
            agency_id=minsoc.id,
            other_agency_id=pfu.id,
            channel=snapshots[0],
            other_channel=snapshots[1],
            admin=identities[0],
            other_admin=identities[1],
        )
    for agency_id in (desk.agency_id, desk.other_agency_id):
        routing_config.forget(agency_id)
    return desk


async def agency_row(desk: Desk, agency_id: int) -> Agency:
    async with desk.sessionmaker() as session:
        row = await session.get(Agency, agency_id)
        assert row is not None
        return row
