"""Citizens' ratings of resolved conversations (CSAT). Asked in the web chat today; the messengers
will ask the same question through the same function."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.core.clock import now
from civdesk.quality.models import Rating
from civdesk.quality.schemas import RatingRead


async def rate(
    *, session: AsyncSession, conversation_id: int, agency_id: int, score: int, comment: str | None, channel: str
) -> RatingRead:
    """Stores the citizen's score; answering again replaces it (one rating per conversation)."""
    rating = await session.scalar(select(Rating).where(Rating.conversation_id == conversation_id))
    text = (comment or "").strip() or None
    if rating is None:
        rating = Rating(
            conversation_id=conversation_id, agency_id=agency_id, score=score, comment=text, channel=channel
        )
        session.add(rating)
    else:
        rating.score, rating.comment, rating.created_at = score, text, now()
    await session.flush()
    return RatingRead.model_validate(rating)


async def of_conversation(*, session: AsyncSession, conversation_id: int) -> RatingRead | None:
    rating = await session.scalar(select(Rating).where(Rating.conversation_id == conversation_id))
    return None if rating is None else RatingRead.model_validate(rating)
