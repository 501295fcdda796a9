"""The Channel interface every messenger implements, and the values that cross it.

An adapter knows its platform's wire format and client library, nothing of the database:
it verifies and parses webhooks into InboundEvents and sends OutboundMessages.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar


class InboundKind(enum.StrEnum):
    MESSAGE = "message"
    BUTTON = "button"  # a press of a button we sent (callback, postback, quick reply)
    BLOCKED = "blocked"  # the citizen blocked the bot or unsubscribed
    UNBLOCKED = "unblocked"


@dataclass(frozen=True)
class ChannelAccount:
    """What an adapter needs of a configured channel; secrets stay out of reprs and logs."""

    id: int
    config: Mapping[str, Any]
    secrets: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class Sender:
    external_id: str
    display_name: str
    username: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class InboundEvent:
    kind: InboundKind
    # Unique per channel for the same platform event, so redeliveries are recognised.
    platform_key: str
    sender: Sender
    occurred_at: datetime
    text: str = ""
    attachments: tuple[Mapping[str, Any], ...] = ()
    button_payload: str | None = None
    button_query_id: str | None = None


@dataclass(frozen=True)
class ParseResult:
    events: tuple[InboundEvent, ...] = ()
    # Why nothing was taken from an update we do not handle (answered 200 and logged).
    ignored_reason: str | None = None


@dataclass(frozen=True)
class OutboundMessage:
    recipient_external_id: str
    text: str


@dataclass(frozen=True)
class SendResult:
    platform_key: str | None


@dataclass(frozen=True)
class PlatformLimits:
    """As the platform documents them; the delivery worker paces itself by these."""

    messages_per_second: float
    per_recipient_per_second: float
    max_text_length: int


class ChannelError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SignatureInvalid(ChannelError):
    """The webhook did not prove it came from the platform: refuse it, store nothing."""


class MalformedPayload(ChannelError):
    """The body is not what the platform sends: a 400 with the reason."""


class RetryLater(ChannelError):
    """The platform asked us to slow down (429 and kin)."""

    def __init__(self, reason: str, *, after_seconds: float) -> None:
        super().__init__(reason)
        self.after_seconds = after_seconds


class RecipientUnreachable(ChannelError):
    """The citizen blocked the bot or unsubscribed: retrying will not help."""


class SendFailed(ChannelError):
    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.permanent = permanent


class ChannelAdapter(abc.ABC):
    type: ClassVar[str]
    limits: ClassVar[PlatformLimits]
    # Which account settings are secret (never returned by the API).
    secret_fields: ClassVar[frozenset[str]] = frozenset()

    @abc.abstractmethod
    def verify(self, *, account: ChannelAccount, headers: Mapping[str, str], body: bytes) -> None:
        """Raises SignatureInvalid unless the request came from the platform."""

    @abc.abstractmethod
    def parse(self, *, body: bytes) -> ParseResult:
        """Turns a webhook body into events; raises MalformedPayload with a reason."""

    @abc.abstractmethod
    async def send(self, *, account: ChannelAccount, message: OutboundMessage) -> SendResult:
        """Sends one message; raises RetryLater, RecipientUnreachable or SendFailed."""

    async def acknowledge_button(self, *, account: ChannelAccount, query_id: str) -> None:
        """Stops the client's spinner after a button press, where the platform has one."""
        return None

    async def fetch_updates(
        self, *, account: ChannelAccount, offset: int | None, timeout_seconds: int
    ) -> tuple[list[bytes], int | None]:
        """Long polling, for platforms and deployments without a public webhook address."""
        raise NotImplementedError(f"{self.type} has no long polling")

    async def register_webhook(self, *, account: ChannelAccount, url: str) -> None:
        """Tells the platform where to send this bot's updates (with its secret, where it has one)."""
        raise NotImplementedError(f"{self.type} has no webhook registration")

    async def who_am_i(self, *, account: ChannelAccount) -> Mapping[str, Any]:
        """The platform's view of this bot, to check the credentials."""
        raise NotImplementedError

    async def close(self) -> None:
        return None
