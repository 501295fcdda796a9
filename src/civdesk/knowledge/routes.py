"""API v1: canned answers (/api/v1/canned-answers) and resolution codes (/api/v1/resolution-codes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from civdesk.deps import CurrentAgent, SessionDep
from civdesk.knowledge import service as knowledge_service
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

router = APIRouter(prefix="/api/v1", tags=["knowledge"])


@router.get("/canned-answers", response_model=CannedAnswerPage)
async def list_answers(
    who: CurrentAgent,
    session: SessionDep,
    q: Annotated[str, Query(max_length=200, description="words found in the title, body or reference")] = "",
    topic_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> CannedAnswerPage:
    """Every agent of the agency reads and searches them; supervisors and admins write them."""
    return await knowledge_service.list_answers(session=session, who=who, q=q, topic_id=topic_id, limit=limit)


@router.get("/canned-answers/{answer_id}", response_model=CannedAnswerRead)
async def get_answer(answer_id: int, who: CurrentAgent, session: SessionDep) -> CannedAnswerRead:
    return await knowledge_service.get_answer(session=session, who=who, answer_id=answer_id)


@router.post("/canned-answers", response_model=CannedAnswerRead, status_code=status.HTTP_201_CREATED)
async def create_answer(body: CannedAnswerCreate, who: CurrentAgent, session: SessionDep) -> CannedAnswerRead:
    answer = await knowledge_service.create_answer(session=session, who=who, data=body)
    await session.commit()
    return answer


@router.patch("/canned-answers/{answer_id}", response_model=CannedAnswerRead)
async def update_answer(
    answer_id: int, body: CannedAnswerUpdate, who: CurrentAgent, session: SessionDep
) -> CannedAnswerRead:
    answer = await knowledge_service.update_answer(session=session, who=who, answer_id=answer_id, data=body)
    await session.commit()
    return answer


@router.delete("/canned-answers/{answer_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_answer(answer_id: int, who: CurrentAgent, session: SessionDep) -> Response:
    await knowledge_service.delete_answer(session=session, who=who, answer_id=answer_id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/resolution-codes", response_model=ResolutionCodePage)
async def list_codes(who: CurrentAgent, session: SessionDep, archived: bool = False) -> ResolutionCodePage:
    """The codes offered when resolving, in order; `archived=true` adds the retired ones."""
    return await knowledge_service.list_codes(session=session, who=who, archived=archived)


@router.post("/resolution-codes", response_model=ResolutionCodeRead, status_code=status.HTTP_201_CREATED)
async def create_code(body: ResolutionCodeCreate, who: CurrentAgent, session: SessionDep) -> ResolutionCodeRead:
    code = await knowledge_service.create_code(session=session, who=who, data=body)
    await session.commit()
    return code


@router.patch("/resolution-codes/{code_id}", response_model=ResolutionCodeRead)
async def update_code(
    code_id: int, body: ResolutionCodeUpdate, who: CurrentAgent, session: SessionDep
) -> ResolutionCodeRead:
    """Rename, reorder or archive (is_active=false); codes are never deleted, conversations keep them."""
    code = await knowledge_service.update_code(session=session, who=who, code_id=code_id, data=body)
    await session.commit()
    return code
