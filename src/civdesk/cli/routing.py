"""`civdesk routing …`: routing configuration for scripts, the same rules as the API's admin routes."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Annotated, Any

import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.agency import hours
from civdesk.agency import service as agency_service
from civdesk.agent.models import Agent, Role
from civdesk.agent.service import AgentIdentity
from civdesk.cli.support import current_settings, fail, with_session
from civdesk.routing import admin
from civdesk.routing.schemas import (
    AgencyRoutingUpdate,
    HolidayCreate,
    LanguageLevel,
    SkillLevel,
    SkillsWrite,
    TopicWrite,
)

routing_app = typer.Typer(help="Routing: hours, holidays, triage, strategies, targets, skills.", no_args_is_help=True)
_RANGE = re.compile(r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+(?P<slots>.+)$")


def parse_hours(text: str) -> dict[str, Any] | None:
    """ "always" or "mon-fri 08:00-17:00; sat 09:00-13:00" (several slots: "mon 08:00-12:00,13:00-17:00")."""
    if text.strip().lower() in ("always", "24/7"):
        return None
    if text.strip().startswith("{"):
        return dict(json.loads(text))
    schedule: dict[str, list[list[str]]] = {}
    for part in filter(None, (p.strip() for p in text.lower().split(";"))):
        match = _RANGE.match(part)
        if match is None or match["first"] not in hours.DAYS or (match["last"] and match["last"] not in hours.DAYS):
            fail(f"cannot read {part!r}: write e.g. 'mon-fri 08:00-17:00; sat 09:00-13:00'")
        first = hours.DAYS.index(match["first"])
        last = hours.DAYS.index(match["last"] or match["first"])
        slots = [slot.strip().split("-") for slot in match["slots"].split(",")]
        for day in hours.DAYS[first : last + 1]:
            schedule[day] = [list(slot) for slot in slots]
    hours.parse_schedule(schedule)  # the same validation as the API
    return schedule


async def _admin_of(session: AsyncSession, slug: str) -> AgentIdentity:
    """Scripts act as the agency's administrator."""
    agency = await agency_service.require_by_slug(session=session, slug=slug)
    return AgentIdentity(agent_id=0, agency_id=agency.id, role=Role.ADMIN.value)


def _csv(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


@routing_app.command("show")
def show(agency: str) -> None:
    """Print the agency's routing settings as JSON."""

    async def action(session: AsyncSession) -> str:
        read = await admin.read_agency(session=session, who=await _admin_of(session, agency))
        return read.model_dump_json(indent=2)

    typer.echo(with_session(current_settings(), action))


@routing_app.command("set")
def set_(
    agency: str,
    strategy: Annotated[str | None, typer.Option(help="balanced, round_robin or manual")] = None,
    triage: Annotated[bool | None, typer.Option("--triage/--no-triage")] = None,
    queue_notices: Annotated[bool | None, typer.Option("--queue-notices/--no-queue-notices")] = None,
    languages: Annotated[str | None, typer.Option(help="e.g. uk,en (the first is everyone's)")] = None,
    working_hours: Annotated[
        str | None, typer.Option("--hours", help="'mon-fri 08:00-17:00; sat 09:00-13:00' or always")
    ] = None,
    time_zone: Annotated[str | None, typer.Option("--time-zone")] = None,
    first_response: Annotated[int | None, typer.Option(help="seconds")] = None,
    next_response: Annotated[int | None, typer.Option(help="seconds")] = None,
    resolution: Annotated[int | None, typer.Option(help="seconds")] = None,
    reassign_after: Annotated[int | None, typer.Option(help="seconds without an answer")] = None,
    accept_from: Annotated[str | None, typer.Option(help="agency slugs whose transfers are accepted, e.g. pfu")] = None,
) -> None:
    """Change an agency's routing settings; only the options given change."""
    changes: dict[str, Any] = {
        "default_strategy": strategy,
        "triage_enabled": triage,
        "queue_notices": queue_notices,
        "languages": _csv(languages),
        "time_zone": time_zone,
        "first_response_seconds": first_response,
        "next_response_seconds": next_response,
        "resolution_seconds": resolution,
        "reassign_after_seconds": reassign_after,
        "accepts_transfers_from": _csv(accept_from),
    }
    given = {k: v for k, v in changes.items() if v is not None}
    if working_hours is not None:
        given["working_hours"] = parse_hours(working_hours)
    try:
        update = AgencyRoutingUpdate(**given)
    except ValueError as exc:
        fail(str(exc).splitlines()[0])

    async def action(session: AsyncSession) -> str:
        read = await admin.update_agency(session=session, who=await _admin_of(session, agency), changes=update)
        return read.model_dump_json(indent=2)

    typer.echo(with_session(current_settings(), action))


@routing_app.command("holiday")
def holiday(agency: str, day: str, name: Annotated[str, typer.Option("--name")] = "") -> None:
    """Close the agency on a date (YYYY-MM-DD)."""
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        fail(f"{day!r} is not a date like 2026-12-25")

    async def action(session: AsyncSession) -> None:
        await admin.add_holiday(
            session=session, who=await _admin_of(session, agency), holiday=HolidayCreate(day=parsed, name=name)
        )

    with_session(current_settings(), action)
    typer.echo(f"{agency} is closed on {parsed.isoformat()}")


@routing_app.command("topic")
def topic(
    agency: str,
    slug: str,
    keywords: Annotated[
        str | None, typer.Option(help="word starts that send a question here, e.g. субсид,опален")
    ] = None,
    strategy: Annotated[str | None, typer.Option(help="balanced, round_robin or manual")] = None,
    priority: Annotated[int | None, typer.Option()] = None,
    name_en: Annotated[str | None, typer.Option("--name-en")] = None,
    first_response: Annotated[int | None, typer.Option(help="seconds")] = None,
) -> None:
    """Set a topic's routing: keywords, strategy, priority, English name, first-response target."""
    given: dict[str, Any] = {
        "keywords": _csv(keywords),
        "strategy": strategy,
        "priority": priority,
        "names": {"en": name_en} if name_en else None,
        "first_response_seconds": first_response,
    }

    async def action(session: AsyncSession) -> str:
        who = await _admin_of(session, agency)
        found = next((t for t in await admin.list_topics(session=session, who=who) if t.slug == slug), None)
        if found is None:
            fail(f"{agency} has no topic {slug!r}")
        body = TopicWrite(**{k: v for k, v in given.items() if v is not None})
        return (await admin.update_topic(session=session, who=who, topic_id=found.id, body=body)).model_dump_json()

    typer.echo(with_session(current_settings(), action))


@routing_app.command("skills")
def skills(
    email: Annotated[str, typer.Option("--email")],
    topic: Annotated[list[str] | None, typer.Option("--topic", help="slug or slug:level (1–5); repeat")] = None,
    language: Annotated[list[str] | None, typer.Option("--language", help="e.g. en; repeat")] = None,
    capacity: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Replace an agent's topics and languages; set their capacity."""

    async def action(session: AsyncSession) -> str:
        agent = await session.scalar(select(Agent).where(Agent.email == email.strip().lower()))
        if agent is None:
            fail(f"no agent {email}")
        who = AgentIdentity(agent_id=0, agency_id=agent.agency_id, role=Role.ADMIN.value)
        by_slug = {t.slug: t.id for t in await admin.list_topics(session=session, who=who)}
        levels = []
        for item in topic or []:
            slug, _, level = item.partition(":")
            if slug not in by_slug:
                fail(f"no topic {slug!r} in the agent's agency")
            levels.append(SkillLevel(topic_id=by_slug[slug], level=int(level or 3)))
        body = SkillsWrite(
            capacity=capacity,
            topics=levels if topic is not None else None,
            languages=[LanguageLevel(language=code) for code in language] if language is not None else None,
        )
        return (await admin.write_skills(session=session, who=who, agent_id=agent.id, body=body)).model_dump_json()

    typer.echo(with_session(current_settings(), action))
