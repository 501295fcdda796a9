"""Viber adapter: HMAC-signed callbacks in, send_message out, welcome message in the webhook's answer.

Account: secrets {"token"} (X-Viber-Auth-Token, also the key of the callbacks' HMAC);
config {"api_base" (default https://chatapi.viber.com), "sender_name" (≤ 28 characters),
"sender_avatar" (optional URL), "welcome_text" (optional)}.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qs

from civdesk.channels.base import (
    ChannelAccount,
    ChannelAdapter,
    ChannelError,
    FetchedFile,
    InboundEvent,
    InboundKind,
    OutboundFile,
    OutboundMessage,
    ParseResult,
    PlatformLimits,
    RecipientUnreachable,
    RetryLater,
    SendFailed,
    SendResult,
    SignatureInvalid,
)
from civdesk.channels.viber import keyboard
from civdesk.channels.viber.client import DEFAULT_API_BASE, ViberApiError, ViberClient, ViberTransportError
from civdesk.channels.viber.parse import parse_callback

SIGNATURE_HEADER = "x-viber-content-signature"
MAX_TEXT = 7000  # text messages; not on creators.viber.com, but Infobip's Viber docs and nyaruka/courier agree
MAX_CAPTION = 512  # a picture's `text` (developers.viber.com send_message, picture message)
MAX_PICTURE_BYTES = 1024 * 1024  # "max image size 1MB on iOS" — larger images go as files
MAX_FILE_NAME = 256
MAX_SENDER_NAME = 28  # send_message: sender.name "Max 28 characters"
MAX_CONTACT_NAME = 28  # contact message: contact.name "Max 28 characters"
MAX_CONTACT_PHONE = 18  # contact message: contact.phone_number "Max 18 characters"
DEFAULT_SENDER_NAME = "civdesk"
DEFAULT_WELCOME = ("Вітаємо! Це офіційний чат служби. Напишіть своє питання, "
                   "і працівник відповість вам тут.")
# Status 12 after 100 messages to one citizen within an hour without a reply. The count resets when
# the citizen writes, which we cannot see from here; trying again every 5 minutes gets the message out
# soon after they do, at the cost of at most 12 refused calls an hour.
UNANSWERED_RETRY_SECONDS = 300.0
_PICTURE_TYPES = {"image/jpeg", "image/png", "image/gif"}
_EVENT_TYPES = ["delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"]


class ViberAdapter(ChannelAdapter):
    type: ClassVar[str] = "viber"
    limits: ClassVar[PlatformLimits] = PlatformLimits(
        # Viber documents no per-second limit for send_message. The only one it states is for
        # broadcast_message: "500 requests per 10 seconds" (creators.viber.com broadcast-message). We take
        # less than half of that, 20/s, as an assumption. Per citizen Viber documents only the hourly cap
        # (100 unanswered messages, status 12 → RetryLater); 1/s per citizen is our own assumption.
        messages_per_second=20,
        per_recipient_per_second=1,
        max_text_length=MAX_TEXT,
        max_buttons=keyboard.MAX_BUTTONS,
        max_file_bytes=50 * 1024 * 1024,  # file messages: "Max file size 50MB" (developers.viber.com)
    )
    secret_fields: ClassVar[frozenset[str]] = frozenset({"token"})

    def __init__(self) -> None:
        # One HTTP client per account and event loop: an httpx client belongs to the loop it was used in.
        self._clients: dict[tuple[int, int, str, str], ViberClient] = {}

    # -- inbound -----------------------------------------------------------------------------------

    def verify(self, *, account: ChannelAccount, headers: Mapping[str, str], body: bytes) -> None:
        token = str(account.secrets.get("token") or "")
        if not token:
            raise SignatureInvalid("the channel has no Viber auth token to check signatures with")
        given = headers.get(SIGNATURE_HEADER) or _query_signature(headers.get(":query", ""))
        if not given:
            raise SignatureInvalid("X-Viber-Content-Signature is missing")
        expected = hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given.strip().lower().encode(), expected.encode()):
            raise SignatureInvalid("X-Viber-Content-Signature does not match the body")

    def parse(self, *, body: bytes) -> ParseResult:
        return parse_callback(body)

    # No handshake(): Viber checks a webhook with a signed POST (the `webhook` event), never with a GET,
    # so the base class's NotImplementedError (a 404 from civdesk) is the answer to a GET.

    def immediate_reply(self, *, account: ChannelAccount, events: tuple[InboundEvent, ...]) -> Mapping[str, Any] | None:
        """The welcome message, answered to conversation_started: send_message's shape without receiver.
        It is the only message Viber lets a bot send before the citizen writes or subscribes."""
        if not any(e.kind is InboundKind.STARTED for e in events):
            return None
        text = str(account.config.get("welcome_text") or "").strip() or DEFAULT_WELCOME
        return {"sender": _sender(account), "type": "text", "text": text[:MAX_TEXT]}

    # -- outbound ----------------------------------------------------------------------------------

    def _client(self, account: ChannelAccount) -> ViberClient:
        token = str(account.secrets.get("token") or "")
        if not token:
            raise SendFailed("the channel has no Viber auth token", permanent=True, code="invalid_token")
        api_base = str(account.config.get("api_base") or DEFAULT_API_BASE)
        key = (id(asyncio.get_running_loop()), account.id, token, api_base)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = ViberClient(token=token, api_base=api_base)
        return client

    async def send(self, *, account: ChannelAccount, message: OutboundMessage) -> SendResult:
        client = self._client(account)
        common = {"receiver": message.recipient_external_id, "sender": _sender(account)}
        reply_keys: dict[str, Any] = {}
        if message.buttons:
            try:
                board, tracking = keyboard.build(message.buttons)
            except keyboard.KeyboardTooLarge as exc:
                raise SendFailed(str(exc), permanent=True, code="too_many_buttons") from None
            reply_keys = {"keyboard": board, "tracking_data": tracking}
        text = message.text
        if len(text) > MAX_TEXT:
            raise SendFailed(f"the text has {len(text)} characters; Viber takes {MAX_TEXT}", permanent=True,
                             code="too_long")
        bodies: list[dict[str, Any]] = []
        if message.location is not None or message.contact is not None:
            bodies = _rich_bodies(message)
        elif message.file is not None:
            media = _media_body(message.file)
            if media["type"] == "picture" and len(text) <= MAX_CAPTION:
                bodies.append({**media, "text": text, **reply_keys})
            elif text.strip():
                # Files carry no caption: the text (and keyboard) follows as its own message, and receipts
                # are tracked for that last one.
                bodies += [media, {"type": "text", "text": text, **reply_keys}]
            else:
                bodies.append({**media, **reply_keys})
        elif text.strip():
            bodies.append({"type": "text", "text": text, **reply_keys})
        else:
            raise SendFailed("the message has neither text nor a file", permanent=True, code="empty")
        answer: dict[str, Any] = {}
        for body in bodies:
            answer = await _call(client, "send_message", {**common, **body})
        token = answer.get("message_token")
        if isinstance(token, bool) or not isinstance(token, int | str) or not str(token).isdigit():
            return SendResult(platform_key=None)
        return SendResult(platform_key=str(token), awaits_receipt=True)

    async def fetch_file(self, *, account: ChannelAccount, file_id: str) -> FetchedFile:
        try:
            data, mime, name = await self._client(account).download(file_id, max_bytes=self.limits.max_file_bytes)
        except ViberTransportError as exc:
            # Viber's media links expire: a 403/404/410 (or a file too large) will not heal by retrying.
            gone = exc.http_status is not None and 400 <= exc.http_status < 500 and exc.http_status != 408
            raise SendFailed(exc.reason, permanent=gone, code="media_unavailable") from None
        return FetchedFile(data=data, mime_type=mime, name=name)

    async def who_am_i(self, *, account: ChannelAccount) -> Mapping[str, Any]:
        info = await _call(self._client(account), "get_account_info", {}, checking_account=True)
        return {key: info.get(key) for key in ("id", "name", "uri", "webhook", "subscribers_count", "event_types")}

    async def register_webhook(self, *, account: ChannelAccount, url: str) -> None:
        """set_webhook; Viber then POSTs a signed `webhook` probe there and fails unless it gets 200."""
        await _call(self._client(account), "set_webhook",
                    {"url": url, "event_types": _EVENT_TYPES, "send_name": True, "send_photo": True},
                    checking_account=True)

    async def delete_webhook(self, *, account: ChannelAccount) -> None:
        await _call(self._client(account), "set_webhook", {"url": ""}, checking_account=True)

    async def close(self) -> None:
        """Closes the clients of the running loop (each loop closes its own)."""
        loop_id = id(asyncio.get_running_loop())
        for key in [k for k in self._clients if k[0] == loop_id]:
            await self._clients.pop(key).aclose()


def _sender(account: ChannelAccount) -> dict[str, str]:
    name = str(account.config.get("sender_name") or "").strip() or DEFAULT_SENDER_NAME
    sender = {"name": name[:MAX_SENDER_NAME]}
    avatar = str(account.config.get("sender_avatar") or "").strip()
    if avatar:
        sender["avatar"] = avatar
    return sender


def _rich_bodies(message: OutboundMessage) -> list[dict[str, Any]]:
    """A location or contact message takes no text: the text goes first on its own, with the location's title
    and address, which Viber's location message cannot show. Receipts are tracked for the last message."""
    text, location, contact = message.lead_text(), message.location, message.contact
    bodies: list[dict[str, Any]] = [{"type": "text", "text": text[:MAX_TEXT]}] if text else []
    if location is not None:
        bodies.append({"type": "location", "location": {"lat": location.latitude, "lon": location.longitude}})
    elif contact is not None:
        if len(contact.phone_number) > MAX_CONTACT_PHONE:
            raise SendFailed(f"Viber takes contact numbers of at most {MAX_CONTACT_PHONE} characters",
                             permanent=True, code="invalid")
        bodies.append({"type": "contact", "contact": {"name": contact.name[:MAX_CONTACT_NAME],
                                                      "phone_number": contact.phone_number}})
    return bodies


def _media_body(file: OutboundFile) -> dict[str, Any]:
    if not file.public_url:
        raise SendFailed("Viber sends files only by a public URL it downloads itself, and this file has none: "
                         "set a public file URL for attachments", permanent=True, code="needs_public_url")
    mime = file.mime_type.lower()
    if mime in _PICTURE_TYPES and len(file.data) <= MAX_PICTURE_BYTES:
        return {"type": "picture", "media": file.public_url}
    if mime == "video/mp4":
        return {"type": "video", "media": file.public_url, "size": len(file.data)}
    name = file.name if len(file.name) <= MAX_FILE_NAME else _shorten(file.name)
    return {"type": "file", "media": file.public_url, "size": len(file.data), "file_name": name}


def _shorten(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 16:
        return name[:MAX_FILE_NAME]
    return stem[:MAX_FILE_NAME - len(ext) - 1] + "." + ext


def _query_signature(query: str) -> str:
    values = parse_qs(query).get("sig") if query else None
    return values[0] if values else ""


async def _call(client: ViberClient, endpoint: str, body: dict[str, Any], *,
                checking_account: bool = False) -> dict[str, Any]:
    try:
        return await client.call(endpoint, body)
    except ViberApiError as exc:
        raise _api_error(exc, endpoint, checking_account=checking_account) from None
    except ViberTransportError as exc:
        if exc.http_status == 429:
            raise RetryLater(exc.reason, after_seconds=exc.retry_after or 60.0) from None
        permanent = exc.http_status is not None and 400 <= exc.http_status < 500 and exc.http_status != 408
        raise SendFailed(exc.reason, permanent=permanent, code="unavailable") from None


# status → (exception kind, code, what it means); from the error table of developers.viber.com
# (the same in every Viber SDK). Anything not listed is "general error" and is retried.
_UNREACHABLE = {5: ("not_registered", "the citizen is no longer registered to Viber"),
                6: ("unsubscribed", "the citizen has unsubscribed from this bot or never subscribed"),
                11: ("no_suitable_device", "the citizen's Viber version does not support bots")}
_PERMANENT = {1: ("webhook_unreachable", "the webhook URL is not valid or did not answer 200 to Viber's probe"),
              2: ("invalid_token", "Viber rejected the auth token"),
              3: ("rejected", "Viber could not read the request"),
              4: ("rejected", "the request lacks mandatory data"),
              7: ("account_unavailable", "the bot account is blocked"),
              8: ("account_unavailable", "the token does not belong to a bot account"),
              9: ("account_unavailable", "the bot account is suspended"),
              10: ("webhook_not_set", "Viber sends nothing for a bot without a webhook: register it first"),
              13: ("rejected", "the citizen's Viber is older than the message's min_api_version"),
              14: ("rejected", "min_api_version does not fit the message's fields"),
              15: ("account_unavailable", "the bot account is not authorized"),
              21: ("unsupported_country", "this message is not supported in the citizen's country"),
              23: ("out_of_session_quota", "the free out-of-session messages of this month are used up"),
              24: ("out_of_session_quota", "no balance left for out-of-session messages")}


def _api_error(exc: ViberApiError, endpoint: str, *, checking_account: bool) -> ChannelError:
    said = f"(status {exc.status} {exc.status_message})".replace(" )", ")")
    if exc.status == 12:
        return RetryLater(f"Viber refused more messages to this citizen {said}: at most 100 an hour without a "
                          f"reply; trying again in {int(UNANSWERED_RETRY_SECONDS)} s",
                          after_seconds=UNANSWERED_RETRY_SECONDS, per_recipient=True)
    if exc.status in _UNREACHABLE and not checking_account:
        code, meaning = _UNREACHABLE[exc.status]
        return RecipientUnreachable(f"{meaning} {said}", code=code)
    if exc.status in _PERMANENT:
        code, meaning = _PERMANENT[exc.status]
        return SendFailed(f"{endpoint}: {meaning} {said}", permanent=True, code=code)
    return SendFailed(f"{endpoint}: Viber reported an error {said}", permanent=False, code=f"viber_{exc.status}")
