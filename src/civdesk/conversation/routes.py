from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from civdesk.conversation import history as conversation_history
from civdesk.conversation import service as conversation_service
from civdesk.conversation.schemas import (
    ConversationFilter,
    ConversationPage,
    ConversationRead,
    HistoryPage,
    MessageCreate,
    MessagePage,
    MessageRead,
    NoteCreate,
    ResolveRequest,
)
from civdesk.deps import CurrentAgent, SessionDep
from civdesk.realtime import service as realtime_service

router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])


@router.get("", response_model=ConversationPage)
async def list_conversations(
    who: CurrentAgent, session: SessionDep, filters: Annotated[ConversationFilter, Query()]
) -> ConversationPage:
    """The agency's conversations, newest first. Filters: status, topic_id, mine, unassigned."""
    return await conversation_service.list_for(session=session, who=who, filters=filters)


@router.get("/{conversation_id}", response_model=ConversationRead)
async def get_conversation(conversation_id: int, who: CurrentAgent, session: SessionDep) -> ConversationRead:
    return await conversation_service.get(session=session, who=who, conversation_id=conversation_id)


@router.get("/{conversation_id}/history", response_model=HistoryPage)
async def history(conversation_id: int, who: CurrentAgent, session: SessionDep) -> HistoryPage:
    """The citizen's conversations on every channel they are known by (linked contacts), newest first;
    read any of them with GET /{id}/messages."""
    page = await conversation_history.of_conversation(session=session, who=who, conversation_id=conversation_id)
    await session.commit()  # the audit record of this view
    return page


@router.get("/{conversation_id}/messages", response_model=MessagePage)
async def list_messages(
    conversation_id: int,
    who: CurrentAgent,
    session: SessionDep,
    after_id: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> MessagePage:
    page = await conversation_service.messages(
        session=session, who=who, conversation_id=conversation_id, after_id=after_id, limit=limit
    )
    await session.commit()  # the audit record of this view
    return page


@router.post("/{conversation_id}/messages", response_model=MessageRead, status_code=status.HTTP_202_ACCEPTED)
async def reply(conversation_id: int, body: MessageCreate, who: CurrentAgent, session: SessionDep) -> MessageRead:
    """Accepted once the reply and its delivery job are committed; delivery status follows by websocket.
    With `location` or `contact` (one of them, without buttons or a template) the citizen gets a map point or
    a contact card; `text`, if any, goes with it (before it, where the platform cannot combine them)."""
    message = await conversation_service.reply(
        session=session,
        who=who,
        conversation_id=conversation_id,
        text=body.text,
        buttons=[b.model_dump() for b in body.buttons],
        template=body.template,
        location=body.location.model_dump() if body.location else None,
        contact=body.contact.model_dump() if body.contact else None,
    )
    await realtime_service.commit(session)
    return message


@router.post("/{conversation_id}/notes", response_model=MessageRead, status_code=status.HTTP_201_CREATED)
async def add_note(conversation_id: int, body: NoteCreate, who: CurrentAgent, session: SessionDep) -> MessageRead:
    note = await conversation_service.add_note(
        session=session, who=who, conversation_id=conversation_id, text=body.text
    )
    await realtime_service.commit(session)
    return note


@router.post("/{conversation_id}/assign", response_model=ConversationRead)
async def assign_to_me(conversation_id: int, who: CurrentAgent, session: SessionDep) -> ConversationRead:
    conversation = await conversation_service.assign_to_me(session=session, who=who, conversation_id=conversation_id)
    await realtime_service.commit(session)
    return conversation


@router.post("/{conversation_id}/resolve", response_model=ConversationRead)
async def resolve(
    conversation_id: int, who: CurrentAgent, session: SessionDep, body: ResolveRequest | None = None
) -> ConversationRead:
    """Resolves it with how it ended. When the agency keeps resolution codes, `resolution_code_id` is
    required (400 resolution_code_required); an agency without codes may resolve with no body."""
    conversation = await conversation_service.resolve(
        session=session,
        who=who,
        conversation_id=conversation_id,
        resolution_code_id=body.resolution_code_id if body else None,
    )
    await realtime_service.commit(session)
    return conversation
