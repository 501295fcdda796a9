"""The agent's side of the end-to-end messenger tests: channels added through civdesk's services, and
conversations read and answered through the live agent API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from civdesk.agency import service as agency_service
from civdesk.channel import service as channel_service
from civdesk.config import Settings
from civdesk.contact.models import ContactIdentity
from civdesk.db.session import create_engine_for, create_sessionmaker
from tests.support.stack import Stack
from tests.support.world import run_async, wait_for

Check = Callable[[dict[str, Any]], bool]


def add_channel(
    settings: Settings,
    *,
    type: str,
    name: str,
    config: dict[str, Any],
    secrets: dict[str, Any],
    agency_slug: str = "minsoc",
) -> int:
    """Connects a messenger account to an agency, as `civdesk channel add` does; returns its id."""

    async def add() -> int:
        engine = create_engine_for(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                agency = await agency_service.require_by_slug(session=session, slug=agency_slug)
                channel = await channel_service.add(
                    session=session, agency=agency, type=type, name=name, config=config, secrets=secrets
                )
                await session.commit()
                return channel.id
        finally:
            await engine.dispose()

    return run_async(add())


def is_blocked(settings: Settings, channel_id: int, external_id: str) -> bool:
    """Whether civdesk has marked the citizen as unreachable on that channel."""

    async def query() -> bool:
        engine = create_engine_for(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                return bool(
                    await session.scalar(
                        select(ContactIdentity.is_blocked).where(
                            ContactIdentity.channel_id == channel_id, ContactIdentity.external_id == external_id
                        )
                    )
                )
        finally:
            await engine.dispose()

    return run_async(query())


def conversations(stack: Stack, headers: dict[str, str], channel_type: str) -> list[dict[str, Any]]:
    response = stack.client.get("/api/v1/conversations", headers=headers)
    response.raise_for_status()
    return [c for c in response.json()["items"] if c["channel_type"] == channel_type]


def conversation(stack: Stack, headers: dict[str, str], channel_type: str, name: str | None = None) -> dict[str, Any]:
    """Waits for the channel's (newest) conversation, or the one with that citizen's name."""
    items = wait_for(
        lambda: [c for c in conversations(stack, headers, channel_type) if name is None or c["contact_name"] == name],
        what=f"the {channel_type} conversation",
    )
    return dict(items[0])


def messages(stack: Stack, headers: dict[str, str], conversation_id: int) -> list[dict[str, Any]]:
    response = stack.client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=headers)
    response.raise_for_status()
    return list(response.json()["items"])


def reply(stack: Stack, headers: dict[str, str], conversation_id: int, text: str, **extra: object) -> dict[str, Any]:
    response = stack.client.post(
        f"/api/v1/conversations/{conversation_id}/messages", headers=headers, json={"text": text, **extra}
    )
    assert response.status_code == 202, response.text
    return dict(response.json())


def message_when(
    stack: Stack,
    headers: dict[str, str],
    conversation_id: int,
    message_id: int,
    what: str,
    *,
    until: Check,
    timeout: float = 5.0,
) -> dict[str, Any]:
    """Waits until the message satisfies `until`; returns it."""

    def check() -> dict[str, Any] | None:
        found = next(m for m in messages(stack, headers, conversation_id) if m["id"] == message_id)
        return found if until(found) else None

    result: dict[str, Any] = wait_for(check, what=what, timeout=timeout)
    return result


def status(wanted: str) -> Check:
    return lambda m: bool(m["delivery_status"] == wanted)


def accepted(message: dict[str, Any]) -> bool:
    """Taken by the platform: sent, or already reported delivered."""
    return message["delivery_status"] in ("sent", "delivered")
