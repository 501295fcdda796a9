"""Canned answers (supervisors and admins write them, every agent finds and uses them) and
resolution codes (admins keep the list; resolving a conversation picks one)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.agency import service as agency_service
from civdesk.agent.models import Role
from civdesk.agent.service import AgentIdentity
from civdesk.core.clock import now
from civdesk.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from civdesk.knowledge.models import CannedAnswer, ResolutionCode
from civdesk.knowledge.schemas import (
    CannedAnswerCreate,
    CannedAnswerPage,
    CannedAnswerRead,
    CannedAnswerUpdate,
    ResolutionCodeCreate,
    ResolutionCodePage,
    ResolutionCodeRead,
    ResolutionCodeUpdate,
)

# An agency keeps tens or hundreds of answers, not thousands: the whole list is read and searched here.
MAX_ANSWERS = 2000


def _require_editor(who: AgentIdentity) -> None:
    if not who.is_supervisor:
        raise Forbidden("only supervisors and admins edit canned answers", "готові відповіді редагують керівники")


def _require_admin(who: AgentIdentity) -> None:
    if who.role != Role.ADMIN.value:
        raise Forbidden("only admins manage resolution codes", "результати звернень налаштовує адміністратор")


def matches(answer: CannedAnswer, query: str) -> bool:
    """Case-insensitive in Python, not SQL: SQLite's lower() and LIKE fold ASCII only, not Cyrillic."""
    words = query.casefold().split()
    haystack = f"{answer.title}\n{answer.body}\n{answer.legal_reference or ''}".casefold()
    return all(word in haystack for word in words)


async def list_answers(
    *, session: AsyncSession, who: AgentIdentity, q: str = "", topic_id: int | None = None, limit: int = 200
) -> CannedAnswerPage:
    """The agency's answers by title; with topic_id, that topic's and those for every topic."""
    query = select(CannedAnswer).where(CannedAnswer.agency_id == who.agency_id)
    if topic_id is not None:
        query = query.where((CannedAnswer.topic_id == topic_id) | CannedAnswer.topic_id.is_(None))
    rows = await session.scalars(query.order_by(CannedAnswer.title, CannedAnswer.id).limit(MAX_ANSWERS))
    found = [a for a in rows if not q.strip() or matches(a, q)]
    return CannedAnswerPage(items=[CannedAnswerRead.model_validate(a) for a in found[:limit]])


async def _answer(*, session: AsyncSession, who: AgentIdentity, answer_id: int) -> CannedAnswer:
    answer = await session.get(CannedAnswer, answer_id)
    if answer is None or answer.agency_id != who.agency_id:
        raise NotFound(f"no canned answer {answer_id}", f"готової відповіді {answer_id} немає")
    return answer


async def get_answer(*, session: AsyncSession, who: AgentIdentity, answer_id: int) -> CannedAnswerRead:
    return CannedAnswerRead.model_validate(await _answer(session=session, who=who, answer_id=answer_id))


async def create_answer(*, session: AsyncSession, who: AgentIdentity, data: CannedAnswerCreate) -> CannedAnswerRead:
    _require_editor(who)
    if data.topic_id is not None:
        await agency_service.topic_in_agency(session=session, agency_id=who.agency_id, topic_id=data.topic_id)
    stamp = now()
    answer = CannedAnswer(
        agency_id=who.agency_id,
        created_by_agent_id=who.agent_id,
        created_at=stamp,
        updated_at=stamp,
        **data.model_dump(),
    )
    session.add(answer)
    await session.flush()
    return CannedAnswerRead.model_validate(answer)


async def update_answer(
    *, session: AsyncSession, who: AgentIdentity, answer_id: int, data: CannedAnswerUpdate
) -> CannedAnswerRead:
    _require_editor(who)
    answer = await _answer(session=session, who=who, answer_id=answer_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("topic_id") is not None:
        await agency_service.topic_in_agency(session=session, agency_id=who.agency_id, topic_id=changes["topic_id"])
    for field in ("title", "body"):
        if field in changes and changes[field] is None:
            raise InvalidInput(f"{field} cannot be empty", "назва й текст не можуть бути порожніми")
    for field, value in changes.items():
        setattr(answer, field, value)
    answer.updated_at = now()
    await session.flush()
    return CannedAnswerRead.model_validate(answer)


async def delete_answer(*, session: AsyncSession, who: AgentIdentity, answer_id: int) -> None:
    _require_editor(who)
    await session.delete(await _answer(session=session, who=who, answer_id=answer_id))
    await session.flush()


# -- resolution codes


async def list_codes(*, session: AsyncSession, who: AgentIdentity, archived: bool = False) -> ResolutionCodePage:
    query = select(ResolutionCode).where(ResolutionCode.agency_id == who.agency_id)
    if not archived:
        query = query.where(ResolutionCode.is_active.is_(True))
    rows = await session.scalars(query.order_by(ResolutionCode.position, ResolutionCode.id))
    return ResolutionCodePage(items=[ResolutionCodeRead.model_validate(c) for c in rows])


async def _title_free(*, session: AsyncSession, agency_id: int, title: str, except_id: int | None = None) -> None:
    query = select(ResolutionCode.id).where(ResolutionCode.agency_id == agency_id, ResolutionCode.title == title)
    if except_id is not None:
        query = query.where(ResolutionCode.id != except_id)
    if await session.scalar(query) is not None:
        raise Conflict(f"resolution code {title!r} already exists", f"результат «{title}» вже існує")


async def create_code(*, session: AsyncSession, who: AgentIdentity, data: ResolutionCodeCreate) -> ResolutionCodeRead:
    _require_admin(who)
    title = data.title.strip()
    await _title_free(session=session, agency_id=who.agency_id, title=title)
    code = ResolutionCode(agency_id=who.agency_id, title=title, position=data.position, is_active=True)
    session.add(code)
    await session.flush()
    return ResolutionCodeRead.model_validate(code)


async def update_code(
    *, session: AsyncSession, who: AgentIdentity, code_id: int, data: ResolutionCodeUpdate
) -> ResolutionCodeRead:
    """Renaming keeps resolved conversations pointing at the code; archiving stops offering it."""
    _require_admin(who)
    code = await session.get(ResolutionCode, code_id)
    if code is None or code.agency_id != who.agency_id:
        raise NotFound(f"no resolution code {code_id}", f"результату {code_id} немає")
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "title" in changes:
        changes["title"] = changes["title"].strip()
        await _title_free(session=session, agency_id=who.agency_id, title=changes["title"], except_id=code.id)
    for field, value in changes.items():
        setattr(code, field, value)
    await session.flush()
    return ResolutionCodeRead.model_validate(code)


async def has_codes(*, session: AsyncSession, agency_id: int) -> bool:
    count = await session.scalar(
        select(func.count(ResolutionCode.id)).where(
            ResolutionCode.agency_id == agency_id, ResolutionCode.is_active.is_(True)
        )
    )
    return bool(count)


async def active_code(*, session: AsyncSession, agency_id: int, code_id: int) -> ResolutionCode:
    """A code the agency offers now; another agency's code answers like a missing one."""
    code = await session.get(ResolutionCode, code_id)
    if code is None or code.agency_id != agency_id or not code.is_active:
        raise InvalidInput(f"no resolution code {code_id} in this agency", f"результату {code_id} у відомстві немає")
    return code


async def seed_codes(*, session: AsyncSession, agency_id: int, titles: list[str]) -> None:
    """For the demo and the CLI: the agency's list, skipping titles it already has."""
    have = set(await session.scalars(select(ResolutionCode.title).where(ResolutionCode.agency_id == agency_id)))
    for position, title in enumerate(titles):
        if title not in have:
            session.add(ResolutionCode(agency_id=agency_id, title=title, position=position * 10, is_active=True))
    await session.flush()


async def seed_answers(
    *, session: AsyncSession, agency_id: int, answers: list[tuple[str, str, str | None, str | None]]
) -> None:
    """For the demo and the CLI: (title, body, legal reference, official link), skipping titles it has."""
    have = set(await session.scalars(select(CannedAnswer.title).where(CannedAnswer.agency_id == agency_id)))
    for title, body, legal_reference, official_url in answers:
        if title not in have:
            session.add(
                CannedAnswer(
                    agency_id=agency_id,
                    title=title,
                    body=body,
                    legal_reference=legal_reference,
                    official_url=official_url,
                )
            )
    await session.flush()
