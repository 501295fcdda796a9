"""Citizens and the identities by which each platform knows them."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.channels.base import Sender
from civdesk.contact.models import Contact, ContactIdentity
from civdesk.core.errors import NotFound


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


# -- one person across channels


def normalise_phone(raw: str | None) -> str | None:
    """Digits only, with Ukraine's national 0XXXXXXXXX widened to 380XXXXXXXXX: the same number
    written two ways must meet. Too short to be a phone number: None."""
    digits = "".join(ch for ch in raw or "" if ch.isdigit())
    if len(digits) == 10 and digits.startswith("0"):
        digits = "38" + digits
    return digits if 9 <= len(digits) <= 15 else None


def person_key(contact: Contact) -> int:
    return contact.person_id if contact.person_id is not None else contact.id


async def contacts_of_person(*, session: AsyncSession, contact: Contact) -> list[int]:
    """Every contact id known to be the same citizen (the contact alone until linked)."""
    key = person_key(contact)
    rows = await session.scalars(
        select(Contact.id).where(
            Contact.agency_id == contact.agency_id, (Contact.id == key) | (Contact.person_id == key)
        )
    )
    return sorted(set(rows) | {contact.id})


async def link(*, session: AsyncSession, agency_id: int, contact_id: int, other_id: int) -> list[int]:
    """Joins two citizens' groups into one; returns the joined contact ids. Only within one agency:
    another agency's contact answers like a missing one."""
    first = await session.get(Contact, contact_id)
    second = await session.get(Contact, other_id)
    for wanted, found in ((contact_id, first), (other_id, second)):
        if found is None or found.agency_id != agency_id:
            raise NotFound(f"no contact {wanted}", f"контакту {wanted} немає")
    assert first is not None and second is not None
    keys = {person_key(first), person_key(second)}
    # The oldest contact stands for the person, so a link made twice or in either order agrees.
    root = min(keys)
    await session.execute(
        update(Contact)
        .where(Contact.agency_id == agency_id, Contact.id.in_(keys) | Contact.person_id.in_(keys))
        .values(person_id=root)
        .execution_options(synchronize_session="fetch")
    )
    await session.execute(
        update(Contact).where(Contact.id == root).values(person_id=None).execution_options(synchronize_session="fetch")
    )
    await session.flush()
    return await contacts_of_person(session=session, contact=first)


async def record_phone(*, session: AsyncSession, agency_id: int, contact_id: int, phone: str | None) -> None:
    """Keeps the citizen's own number, as vouched for by the platform, and joins the contacts of the
    same agency that have it: the citizen who wrote on Telegram and on WhatsApp becomes one person."""
    number = normalise_phone(phone)
    contact = await session.get(Contact, contact_id)
    if number is None or contact is None or contact.agency_id != agency_id:
        return
    if contact.phone != number:
        contact.phone = number
    others = list(
        await session.scalars(
            select(Contact.id).where(Contact.agency_id == agency_id, Contact.phone == number, Contact.id != contact_id)
        )
    )
    for other_id in others:
        await link(session=session, agency_id=agency_id, contact_id=contact_id, other_id=other_id)
