"""The Channel interface every messenger implements, and the values that cross it.

An adapter knows its platform's wire format and client library, nothing of the database:
it verifies and parses webhooks into InboundEvents and sends OutboundMessages.

Attachment dicts (inbound, in InboundEvent.attachments) use these keys, all optional but `kind`:
  kind        photo | document | voice | audio | video | sticker | location | contact
  file_id     the platform's reference to fetch the file with ChannelAdapter.fetch_file
  mime_type, name, size (bytes), width, height, duration
  latitude, longitude, title, address                    (location)
  phone_number, first_name, last_name, is_own_number     (contact)
An agent's location or contact card is stored on its reply in the same shape, and reaches the
adapter as OutboundMessage.location / .contact (read back by rich_from_attachments).
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar


class InboundKind(enum.StrEnum):
    MESSAGE = "message"
    BUTTON = "button"  # a press of a button we sent (callback, postback, quick reply, list reply)
    STARTED = "started"  # the citizen opened the chat (Viber conversation_started, Messenger Get Started)
    BLOCKED = "blocked"  # the citizen blocked the bot or unsubscribed
    UNBLOCKED = "unblocked"  # subscribed again / unblocked
    RECEIPT = "receipt"  # the platform reports on a message we sent


class ReceiptStatus(enum.StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


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
    # RECEIPT only: which of our messages (its SendResult.platform_key) and what happened to it.
    # Messenger's watermark receipts cover every message sent up to `occurred_at` instead.
    receipt_for: str | None = None
    receipt_status: ReceiptStatus | None = None
    receipt_up_to: datetime | None = None
    error: str | None = None  # FAILED receipts: the platform's reason, for the agent


@dataclass(frozen=True)
class ParseResult:
    events: tuple[InboundEvent, ...] = ()
    # Why nothing was taken from an update we do not handle (answered 200 and logged).
    ignored_reason: str | None = None


@dataclass(frozen=True)
class Button:
    """A quick reply: the citizen taps `title`; `payload` comes back in a BUTTON event."""

    title: str
    payload: str


@dataclass(frozen=True)
class OutboundFile:
    name: str
    mime_type: str
    data: bytes = field(repr=False)
    # A URL the platform can fetch the file from (Viber and WhatsApp send media by link).
    public_url: str | None = None


@dataclass(frozen=True)
class OutboundLocation:
    """A point on the map (the nearest service centre), with its name and address where known."""

    latitude: float
    longitude: float
    title: str | None = None
    address: str | None = None

    @property
    def label(self) -> str:
        """Title and address on one line, for platforms whose location message cannot show them."""
        return ", ".join(part for part in (self.title, self.address) if part)

    @property
    def map_url(self) -> str:
        # OpenStreetMap: no account, no tracking parameters, opens in any browser or map app.
        return (f"https://www.openstreetmap.org/?mlat={self.latitude:.6f}&mlon={self.longitude:.6f}"
                f"#map=17/{self.latitude:.6f}/{self.longitude:.6f}")

    def as_text(self) -> str:
        """The location as a plain message, for platforms that cannot send one (Messenger)."""
        coordinates = f"{self.latitude:.6f}, {self.longitude:.6f}"
        return "\n".join(part for part in (self.title, self.address, coordinates, self.map_url) if part)


@dataclass(frozen=True)
class OutboundContact:
    """A contact card (a hotline): the phone number in international form, +380…"""

    phone_number: str
    first_name: str
    last_name: str | None = None

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    def as_text(self) -> str:
        """The contact as a plain message, for platforms that cannot send a card (Messenger)."""
        return f"{self.name}\n{self.phone_number}"


@dataclass(frozen=True)
class OutboundMessage:
    recipient_external_id: str
    text: str
    buttons: tuple[Button, ...] = ()
    file: OutboundFile | None = None
    # At most one of these, and without buttons; any text goes before it as its own message where the
    # platform cannot combine them.
    location: OutboundLocation | None = None
    contact: OutboundContact | None = None
    # WhatsApp outside the 24-hour window: an approved template's name and language.
    template: str | None = None
    template_language: str = "uk"

    def lead_text(self, *, with_label: bool = True) -> str:
        """The text sent on its own before a location or contact card, for platforms whose card takes none;
        `with_label` adds the location's title and address where the platform's location cannot show them."""
        text = self.text.strip()
        if with_label and self.location is not None:
            return "\n".join(part for part in (text, self.location.label) if part)
        return text


def rich_from_attachments(attachments: Iterable[object]) -> tuple[OutboundLocation | None, OutboundContact | None]:
    """The agent's location or contact card, stored on a reply as an attachment of that kind (the first of each)."""
    location = contact = None
    for meta in attachments:
        if not isinstance(meta, dict):
            continue
        if meta.get("kind") == "location" and location is None:
            location = OutboundLocation(
                latitude=float(meta["latitude"]),
                longitude=float(meta["longitude"]),
                title=meta.get("title") or None,
                address=meta.get("address") or None,
            )
        elif meta.get("kind") == "contact" and contact is None:
            contact = OutboundContact(
                phone_number=str(meta["phone_number"]),
                first_name=str(meta.get("first_name") or ""),
                last_name=meta.get("last_name") or None,
            )
    return location, contact


@dataclass(frozen=True)
class SendResult:
    platform_key: str | None
    # True where the platform later reports delivery in RECEIPT events (Viber, WhatsApp, Messenger);
    # False where acceptance is all we will ever know (Telegram), so the message counts as delivered.
    awaits_receipt: bool = False


@dataclass(frozen=True)
class FetchedFile:
    data: bytes = field(repr=False)
    mime_type: str
    name: str | None = None


@dataclass(frozen=True)
class PlatformLimits:
    """As the platform documents them; the delivery worker paces itself by these."""

    messages_per_second: float
    per_recipient_per_second: float
    max_text_length: int
    max_buttons: int = 0
    max_file_bytes: int = 0
    # Free-form replies only within this long after the citizen's last message (WhatsApp: 24 h).
    reply_window_seconds: int | None = None


class ChannelError(Exception):
    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        # Machine-readable where it matters to the agent: "blocked", "unsubscribed", "outside_window".
        self.code = code


class SignatureInvalid(ChannelError):
    """The webhook did not prove it came from the platform: refuse it, store nothing."""


class MalformedPayload(ChannelError):
    """The body is not what the platform sends: a 400 with the reason."""


class RetryLater(ChannelError):
    """The platform asked us to slow down (429 and kin)."""

    def __init__(
        self, reason: str, *, after_seconds: float, code: str | None = "rate_limited", per_recipient: bool = False
    ) -> None:
        super().__init__(reason, code=code)
        self.after_seconds = after_seconds
        # True when the limit is about one citizen (Viber's 100 unanswered messages, WhatsApp's pair
        # limit): only that citizen's messages wait, the rest of the channel goes on.
        self.per_recipient = per_recipient


class RecipientUnreachable(ChannelError):
    """The citizen blocked the bot or unsubscribed: retrying will not help."""


class SendFailed(ChannelError):
    def __init__(self, reason: str, *, permanent: bool, code: str | None = None) -> None:
        super().__init__(reason, code=code)
        self.permanent = permanent


class ChannelAdapter(abc.ABC):
    type: ClassVar[str]
    limits: ClassVar[PlatformLimits]
    # Which account settings are secret (never returned by the API).
    secret_fields: ClassVar[frozenset[str]] = frozenset()

    @abc.abstractmethod
    def verify(self, *, account: ChannelAccount, headers: Mapping[str, str], body: bytes) -> None:
        """Raises SignatureInvalid unless the request came from the platform.
        `headers` have lower-case names; the query string, if any, is under the key ":query"."""

    @abc.abstractmethod
    def parse(self, *, body: bytes) -> ParseResult:
        """Turns a webhook body into events; raises MalformedPayload with a reason."""

    @abc.abstractmethod
    async def send(self, *, account: ChannelAccount, message: OutboundMessage) -> SendResult:
        """Sends one message; raises RetryLater, RecipientUnreachable or SendFailed."""

    def handshake(self, *, account: ChannelAccount, params: Mapping[str, str]) -> str:
        """Answers the platform's GET verification (Meta's hub.challenge); raises SignatureInvalid."""
        raise NotImplementedError(f"{self.type} has no webhook handshake")

    def immediate_reply(self, *, account: ChannelAccount, events: tuple[InboundEvent, ...]) -> Mapping[str, Any] | None:
        """A body to return in the webhook's HTTP answer (Viber's welcome message), or None."""
        return None

    async def acknowledge_button(self, *, account: ChannelAccount, query_id: str) -> None:
        """Stops the client's spinner after a button press, where the platform has one."""
        return None

    async def fetch_file(self, *, account: ChannelAccount, file_id: str) -> FetchedFile:
        """Downloads an inbound attachment by the platform's reference."""
        raise NotImplementedError(f"{self.type} cannot fetch files")

    async def fetch_updates(
        self, *, account: ChannelAccount, offset: int | None, timeout_seconds: int
    ) -> tuple[list[bytes], int | None]:
        """Long polling, for platforms and deployments without a public webhook address."""
        raise NotImplementedError(f"{self.type} has no long polling")

    async def register_webhook(self, *, account: ChannelAccount, url: str) -> None:
        """Tells the platform where to send this bot's updates (with its secret, where it has one)."""
        raise NotImplementedError(f"{self.type} has no webhook registration")

    async def who_am_i(self, *, account: ChannelAccount) -> Mapping[str, Any]:
        """The platform's view of this bot, to check the credentials; raises SendFailed saying what is wrong."""
        raise NotImplementedError

    async def close(self) -> None:
        return None
