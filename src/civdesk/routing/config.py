"""An agency's routing settings as one immutable snapshot, cached briefly per process.

Routing reads them on every new conversation; a settings change through civdesk clears this
process's copy at once, and other processes see it within `TTL_SECONDS`.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from civdesk.agency import hours
from civdesk.agency.models import Agency, Holiday, Topic
from civdesk.core.errors import NotFound
from civdesk.routing.models import Strategy, TargetKind

TTL_SECONDS = 5.0


@dataclass(frozen=True)
class TopicConfig:
    id: int
    slug: str
    name: str
    names: dict[str, str]
    keywords: tuple[str, ...]
    strategy: str | None
    priority: int
    reassign_after_seconds: int | None
    targets: dict[str, int | None]

    def title(self, language: str) -> str:
        return self.names.get(language) or self.name


@dataclass(frozen=True)
class AgencyRouting:
    id: int
    slug: str
    name: str
    languages: tuple[str, ...]
    calendar: hours.Calendar
    triage_enabled: bool
    queue_notices: bool
    default_strategy: str
    reassign_after_seconds: int
    targets: dict[str, int | None]
    topics: tuple[TopicConfig, ...]

    @property
    def primary_language(self) -> str:
        return self.languages[0] if self.languages else "uk"

    def topic(self, topic_id: int | None) -> TopicConfig | None:
        return next((t for t in self.topics if t.id == topic_id), None)

    def strategy(self, topic_id: int | None) -> str:
        topic = self.topic(topic_id)
        return (topic.strategy if topic and topic.strategy else None) or self.default_strategy or Strategy.MANUAL.value

    @functools.cached_property
    def balanced_topics(self) -> tuple[int, ...]:
        """The topics whose strategy is balanced (the usual case of a decision, `assign.lock_and_choose`)."""
        return tuple(t.id for t in self.topics if self.strategy(t.id) == Strategy.BALANCED.value)

    def reassign_after(self, topic_id: int | None) -> int:
        topic = self.topic(topic_id)
        return (topic.reassign_after_seconds if topic else None) or self.reassign_after_seconds

    def target(self, kind: TargetKind, topic_id: int | None) -> int | None:
        """Seconds allowed; the topic's own target wins over the agency's; None or 0 means no target."""
        topic = self.topic(topic_id)
        value = topic.targets.get(kind.value) if topic else None
        chosen = value if value is not None else self.targets.get(kind.value)
        return chosen or None

    def language_for(self, wanted: str | None) -> str:
        short = (wanted or "").split("-")[0].lower()
        return short if short in self.languages else self.primary_language


_cache: dict[tuple[str, int], tuple[float, AgencyRouting]] = {}


def _targets(row: Agency | Topic) -> dict[str, int | None]:
    return {
        TargetKind.FIRST_RESPONSE.value: row.first_response_seconds,
        TargetKind.NEXT_RESPONSE.value: row.next_response_seconds,
        TargetKind.RESOLUTION.value: row.resolution_seconds,
    }


async def load(*, session: AsyncSession, agency_id: int) -> AgencyRouting:
    # Keyed by the database URL too: one process may serve several databases (tests, tools).
    bind = session.bind
    key = (str(bind.url) if isinstance(bind, AsyncEngine) else "", agency_id)
    cached = _cache.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    agency = await session.get(Agency, agency_id)
    if agency is None:
        raise NotFound(f"no agency {agency_id}", f"відомства {agency_id} немає")
    topics = list(await session.scalars(select(Topic).where(Topic.agency_id == agency_id).order_by(Topic.id)))
    days: list[date] = list(await session.scalars(select(Holiday.day).where(Holiday.agency_id == agency_id)))
    snapshot = AgencyRouting(
        id=agency.id,
        slug=agency.slug,
        name=agency.name,
        languages=tuple(agency.languages or ["uk"]),
        calendar=hours.calendar(time_zone=agency.time_zone, schedule=agency.working_hours, holidays=days),
        triage_enabled=agency.triage_enabled,
        queue_notices=agency.queue_notices,
        default_strategy=agency.default_strategy,
        reassign_after_seconds=agency.reassign_after_seconds,
        targets=_targets(agency),
        topics=tuple(
            TopicConfig(
                id=t.id,
                slug=t.slug,
                name=t.name,
                names=dict(t.names or {}),
                keywords=tuple(k.lower() for k in t.keywords or []),
                strategy=t.strategy,
                priority=t.priority,
                reassign_after_seconds=t.reassign_after_seconds,
                targets=_targets(t),
            )
            for t in topics
        ),
    )
    _cache[key] = (time.monotonic() + TTL_SECONDS, snapshot)
    return snapshot


def forget(agency_id: int) -> None:
    for key in [k for k in _cache if k[1] == agency_id]:
        _cache.pop(key, None)
