"""Facebook Messenger adapter: Page webhooks in, the Send API out, through our own Graph client."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn

import httpx

from civdesk.channels.base import (
    Button,
    ChannelAccount,
    ChannelAdapter,
    FetchedFile,
    OutboundFile,
    OutboundMessage,
    ParseResult,
    PlatformLimits,
    RecipientUnreachable,
    RetryLater,
    SendFailed,
    SendResult,
)
from civdesk.channels.messenger.client import GraphClient, GraphError
from civdesk.channels.messenger.parse import (
    GET_STARTED_PAYLOAD,
    answer_handshake,
    bounded_key,
    parse_webhook,
    verify_signature,
)

DEFAULT_API_BASE = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"
_VERSION_RE = re.compile(r"^v\d{1,3}\.\d{1,2}$")
# Send API reference: "text … has a 2000 character limit"; quick replies: "up to 13", title 20 characters,
# payload 1000 characters (send-messages/quick-replies). Generic template: up to 10 elements, each with up
# to 3 buttons (send-messages/template/generic).
MAX_TEXT = 2000
MAX_QUICK_REPLIES = 13
MAX_TITLE = 20
MAX_PAYLOAD = 1000
MAX_CARDS, BUTTONS_PER_CARD = 10, 3
# send-messages/saving-assets: "up to 25 MB in size" for image, audio, video and file.
MAX_FILE_BYTES = 25 * 1024 * 1024
_IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
# Graph rate-limiting and Messenger error-codes pages: 4 app request limit, 17 user request limit, 32 Page
# request limit, 613 "Calls to this api have exceeded the rate limit", 80006 Messenger's business-use-case limit.
_RATE_LIMITED = {4, 17, 32, 613, 80006}
# Without a usage header saying when access returns: 613 guards short (per-second, per-thread) windows;
# the others count calls over an hour or a day.
_DEFAULT_BACKOFF = {613: 5.0}
_FALLBACK_BACKOFF = 60.0
# 10/2018278 and 10/2018065 "This message is sent outside of allowed window"; 10/2534022 is the same for newer
# API versions. 551/1545041 "This person isn't available right now" (the citizen blocked the Page or turned off
# its messages); 10/2018108 "This person isn't receiving messages from you right now".
_OUTSIDE_WINDOW = {2018278, 2018065, 2534022}
_UNAVAILABLE = {(200, 1545041), (10, 2018108)}
_TRANSIENT = {1, 2, 1200}
_SUBSCRIBED_FIELDS = "messages,messaging_postbacks,message_deliveries,message_reads"


class MessengerAdapter(ChannelAdapter):
    type: ClassVar[str] = "messenger"
    # messenger-platform/overview/rate-limiting: the Send API allows 300 calls/s per Page for text, links,
    # reactions and stickers but only 10 calls/s for audio or video, and "may" limit "too many messages sent to a
    # single thread" without a number. 10/s is the bound that holds for every kind (a contact centre's replies
    # never come near it); 1/s per citizen keeps a thread calm and in order, as Telegram's per-chat pace does.
    limits: ClassVar[PlatformLimits] = PlatformLimits(
        messages_per_second=10, per_recipient_per_second=1, max_text_length=MAX_TEXT,
        max_buttons=BUTTONS_PER_CARD * MAX_CARDS, max_file_bytes=MAX_FILE_BYTES,
    )
    secret_fields: ClassVar[frozenset[str]] = frozenset({"page_token", "app_secret", "verify_token"})

    def __init__(self) -> None:
        # One connection pool per account and event loop: an httpx client belongs to the loop it was made in.
        self._clients: dict[tuple[int, int, str, str], httpx.AsyncClient] = {}

    def verify(self, *, account: ChannelAccount, headers: Mapping[str, str], body: bytes) -> None:
        verify_signature(app_secret=str(account.secrets.get("app_secret") or ""), headers=headers, body=body)

    def handshake(self, *, account: ChannelAccount, params: Mapping[str, str]) -> str:
        return answer_handshake(verify_token=str(account.secrets.get("verify_token") or ""), params=params)

    def parse(self, *, body: bytes) -> ParseResult:
        return parse_webhook(body)

    def _graph(self, account: ChannelAccount) -> GraphClient:
        token = str(account.secrets.get("page_token") or "")
        if not token:
            raise SendFailed("the channel has no Page access token", permanent=True, code="token")
        api_base = str(account.config.get("api_base") or DEFAULT_API_BASE)
        version = str(account.config.get("api_version") or DEFAULT_API_VERSION)
        if not _VERSION_RE.match(version):
            raise SendFailed(f"api_version must look like v21.0, not {version!r}", permanent=True)
        key = (id(asyncio.get_running_loop()), account.id, token, api_base)
        http = self._clients.get(key)
        if http is None:
            http = self._clients[key] = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
        return GraphClient(http=http, api_base=api_base, api_version=version, token=token,
                           app_secret=str(account.secrets.get("app_secret") or ""))

    async def send(self, *, account: ChannelAccount, message: OutboundMessage) -> SendResult:
        graph = self._graph(account)
        parts = _compose(message)
        tagged = False
        last_id: str | None = None
        for part in parts:
            # Known limitation: if a later part fails, a retry sends the earlier ones again.
            answer, tagged = await self._send_part(graph, account, message.recipient_external_id, part, tagged)
            message_id = answer.get("message_id")
            last_id = str(message_id) if message_id else last_id
        if last_id is None:
            raise SendFailed("Messenger accepted the message but returned no message_id", permanent=False)
        # Receipts name each mid; Messenger delivers a thread in order, so the last one delivered means all were.
        return SendResult(platform_key=bounded_key(last_id), awaits_receipt=True)

    async def _send_part(self, graph: GraphClient, account: ChannelAccount, psid: str, part: _Part,
                         tagged: bool) -> tuple[dict[str, Any], bool]:
        try:
            return await _post(graph, psid, part, tagged=tagged), tagged
        except GraphError as exc:
            # Config values may come from a CLI or JSON as strings: only an explicit yes turns the tag on.
            wanted = str(account.config.get("human_agent_tag", "")).lower() in ("true", "1", "yes")
            if tagged or not _outside_window(exc) or not wanted:
                _raise_for(exc)
        # The HUMAN_AGENT tag (an approved Page feature) lets a person answer for 7 days after the citizen wrote.
        try:
            return await _post(graph, psid, part, tagged=True), True
        except GraphError as exc:
            _raise_for(exc)

    async def fetch_file(self, *, account: ChannelAccount, file_id: str) -> FetchedFile:
        graph = self._graph(account)
        try:
            got = await graph.download(file_id, max_bytes=MAX_FILE_BYTES)
        except GraphError as exc:
            # Attachment URLs are signed and expire: a 403/404/410 will not get better with retries.
            gone = exc.status in (403, 404, 410)
            reason = "the attachment link has expired or was removed" if gone else exc.message
            raise SendFailed(f"Messenger file: {reason}", permanent=gone or exc.status == 413) from None
        return FetchedFile(data=got.data, mime_type=got.mime_type, name=got.name)

    async def who_am_i(self, *, account: ChannelAccount) -> Mapping[str, Any]:
        graph = self._graph(account)
        try:
            me = await graph.get("me", {"fields": "id,name"})
        except GraphError as exc:
            raise SendFailed(f"Messenger rejected the Page token: {exc.message}", permanent=True,
                             code="token" if exc.code == 190 else None) from None
        expected = str(account.config.get("page_id") or "")
        if expected and str(me.get("id")) != expected:
            raise SendFailed(f"the token belongs to Page {me.get('id')}, not to the configured Page {expected}",
                             permanent=True, code="page_mismatch")
        return {"id": str(me.get("id") or ""), "name": me.get("name")}

    async def register_webhook(self, *, account: ChannelAccount, url: str) -> None:
        """Subscribes the Page to the app's webhook and sets civdesk's Get Started button.

        The callback URL itself (``url``) and the verify token are entered once per app in the App Dashboard
        (Messenger → Webhooks): Meta offers no Page-level API for them."""
        graph = self._graph(account)
        try:
            await graph.post_json("me/subscribed_apps", {"subscribed_fields": _SUBSCRIBED_FIELDS})
            await graph.post_json("me/messenger_profile", {"get_started": {"payload": GET_STARTED_PAYLOAD}})
        except GraphError as exc:
            raise SendFailed(f"Messenger: {exc.message}", permanent=exc.code in (10, 190, 200, 230)) from None

    async def close(self) -> None:
        """Closes the clients of the running loop (each loop closes its own)."""
        loop_id = id(asyncio.get_running_loop())
        for key in [k for k in self._clients if k[0] == loop_id]:
            await self._clients.pop(key).aclose()


@dataclass
class _Part:
    """One Send API call: a message object, and the file to upload with it, if any."""

    message: dict[str, Any]
    upload: OutboundFile | None = None


def _compose(message: OutboundMessage) -> list[_Part]:
    parts = [_Part({"text": chunk}) for chunk in _split(message.text.strip())]
    # The Send API has no location or contact message: they go as text after the agent's own, the location as
    # its name, address, coordinates and an OpenStreetMap link, the contact as its name and number.
    for rich in (message.location, message.contact):
        if rich is not None:
            parts.extend(_Part({"text": chunk}) for chunk in _split(rich.as_text()))
    if message.file is not None:
        parts.append(_file_part(message.file))
    if not parts:
        raise SendFailed("a Messenger message needs text or a file", permanent=True, code="empty")
    buttons = message.buttons
    if len(buttons) > BUTTONS_PER_CARD * MAX_CARDS:
        raise SendFailed(f"Messenger shows at most {BUTTONS_PER_CARD * MAX_CARDS} buttons in one message",
                         permanent=True, code="too_many_buttons")
    for button in buttons:
        if not button.payload or len(button.payload) > MAX_PAYLOAD:
            raise SendFailed(f"a button payload must be 1-{MAX_PAYLOAD} characters", permanent=True, code="button")
    if len(buttons) <= MAX_QUICK_REPLIES:
        if buttons:
            parts[-1].message["quick_replies"] = [
                {"content_type": "text", "title": _title(b.title), "payload": b.payload} for b in buttons]
        return parts
    # More than 13: quick replies cannot hold them, so a carousel of cards with 3 postback buttons each follows.
    parts.append(_Part({"attachment": {"type": "template", "payload": {
        "template_type": "generic", "elements": _cards(buttons)}}}))
    return parts


def _cards(buttons: tuple[Button, ...]) -> list[dict[str, Any]]:
    cards = []
    for start in range(0, len(buttons), BUTTONS_PER_CARD):
        group = buttons[start:start + BUTTONS_PER_CARD]
        cards.append({"title": f"Варіанти {start + 1}–{start + len(group)}",
                      "buttons": [{"type": "postback", "title": _title(b.title), "payload": b.payload}
                                  for b in group]})
    return cards


def _file_part(file: OutboundFile) -> _Part:
    mime = file.mime_type.lower()
    kind = ("image" if mime in _IMAGE_TYPES else "video" if mime.startswith("video/")
            else "audio" if mime.startswith("audio/") else "file")
    if file.public_url:
        return _Part({"attachment": {"type": kind, "payload": {"url": file.public_url, "is_reusable": False}}})
    if len(file.data) > MAX_FILE_BYTES:
        raise SendFailed("Messenger takes files of at most 25 MB", permanent=True, code="file_too_large")
    return _Part({"attachment": {"type": kind, "payload": {"is_reusable": False}}}, upload=file)


def _split(text: str) -> list[str]:
    """Cuts text into ≤2000-character pieces at a line break or space where there is one."""
    chunks = []
    while len(text) > MAX_TEXT:
        cut = max(text.rfind("\n", 0, MAX_TEXT), text.rfind(" ", 0, MAX_TEXT))
        cut = cut if cut > MAX_TEXT // 2 else MAX_TEXT
        chunks.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*chunks, text] if text else chunks


def _title(title: str) -> str:
    title = title.strip() or "…"
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1] + "…"


async def _post(graph: GraphClient, psid: str, part: _Part, *, tagged: bool) -> dict[str, Any]:
    envelope: dict[str, Any] = {"recipient": {"id": psid}, "messaging_type": "RESPONSE"}
    if tagged:
        envelope.update(messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")
    if part.upload is None:
        return await graph.post_json("me/messages", {**envelope, "message": part.message})
    # Multipart forms carry the recipient and message objects as JSON strings.
    fields = {key: json.dumps(value) if isinstance(value, dict) else str(value) for key, value in envelope.items()}
    fields["message"] = json.dumps(part.message)
    return await graph.post_multipart("me/messages", fields, file_field="filedata", name=part.upload.name,
                                      data=part.upload.data, mime_type=part.upload.mime_type)


def _outside_window(exc: GraphError) -> bool:
    return (exc.code == 10 and exc.subcode in _OUTSIDE_WINDOW) or "outside of allowed window" in exc.message


def _raise_for(exc: GraphError) -> NoReturn:
    where = f" (#{exc.code}" + (f"/{exc.subcode})" if exc.subcode else ")") if exc.code is not None else ""
    reason = f"Messenger: {exc.message}{where}"
    if exc.code in _RATE_LIMITED or exc.status == 429:
        after = exc.regain_seconds or _DEFAULT_BACKOFF.get(exc.code or 0, _FALLBACK_BACKOFF)
        raise RetryLater(reason, after_seconds=after)
    if exc.code == 551 or (exc.code, exc.subcode) in _UNAVAILABLE:
        raise RecipientUnreachable(reason, code="blocked")
    if (exc.code, exc.subcode) == (100, 2018001):
        # "No matching user found": the PSID is no longer anyone this Page can reach.
        raise RecipientUnreachable(reason, code="unsubscribed")
    if _outside_window(exc):
        raise SendFailed(reason, permanent=True, code="outside_window")
    if exc.code in (190, 102):
        raise SendFailed(reason, permanent=True, code="token")
    if exc.code in (10, 200, 230) or (exc.code is not None and 200 <= exc.code <= 299):
        raise SendFailed(reason, permanent=True, code="permission")
    if exc.status == 0 or exc.status >= 500 or exc.code in _TRANSIENT:
        raise SendFailed(reason, permanent=False)
    raise SendFailed(reason, permanent=True)
