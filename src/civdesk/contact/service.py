"""Citizens and the identities by which each platform knows them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.channels.base import Sender
from civdesk.contact.models import Contact, ContactIdentity


async def identify(
    *, session: AsyncSession, agency_id: int, channel_id: int, sender: Sender
) -> tuple[Contact, ContactIdentity]:
    """Finds the citizen behind a platform user, creating them on first contact."""
    row = (
        await session.execute(
            select(Contact, ContactIdentity)
            .join(ContactIdentity, ContactIdentity.contact_id == Contact.id)
            .where(ContactIdentity.channel_id == channel_id, ContactIdentity.external_id == sender.external_id)
        )
    ).first()
    if row is not None:
        contact, identity = row
        if sender.username and identity.username != sender.username:
            identity.username = sender.username
        return contact, identity
    contact = Contact(agency_id=agency_id, display_name=sender.display_name[:255], language=sender.language)
    session.add(contact)
    await session.flush()
    identity = ContactIdentity(
        contact_id=contact.id, channel_id=channel_id, external_id=sender.external_id, username=sender.username
    )
    session.add(identity)
    await session.flush()
    return contact, identity


async def identity_for(*, session: AsyncSession, contact_id: int, channel_id: int) -> ContactIdentity | None:
    return await session.scalar(
        select(ContactIdentity).where(
            ContactIdentity.contact_id == contact_id, ContactIdentity.channel_id == channel_id
        )
    )


async def get(*, session: AsyncSession, contact_id: int) -> Contact | None:
    return await session.get(Contact, contact_id)
