"""API v1: an agent links two contacts of the same citizen, so their histories join."""

from __future__ import annotations

from fastapi import APIRouter

from civdesk.audit import service as audit_service
from civdesk.contact import service as contact_service
from civdesk.contact.schemas import ContactLinkCreate, ContactLinkRead
from civdesk.deps import CurrentAgent, SessionDep

router = APIRouter(prefix="/api/v1/contacts", tags=["contacts"])


@router.post("/{contact_id}/links", response_model=ContactLinkRead)
async def link_contacts(
    contact_id: int, body: ContactLinkCreate, who: CurrentAgent, session: SessionDep
) -> ContactLinkRead:
    """Both contacts must belong to the caller's agency. Linking joins whole groups and is idempotent."""
    ids = await contact_service.link(
        session=session, agency_id=who.agency_id, contact_id=contact_id, other_id=body.contact_id
    )
    audit_service.record(
        session=session,
        action="contact.link",
        subject_type="contact",
        subject_id=contact_id,
        agency_id=who.agency_id,
        actor_agent_id=who.agent_id,
        detail={"other_contact_id": body.contact_id, "contact_ids": ids},
    )
    await session.commit()
    return ContactLinkRead(contact_ids=ids)
