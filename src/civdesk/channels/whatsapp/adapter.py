"""WhatsApp Business Cloud API adapter: X-Hub-Signature-256 and the hub.challenge in, Graph API out.

Account: secrets ``token`` (Bearer access token), ``app_secret`` (signs webhooks), ``verify_token``
(the GET handshake); config ``phone_number_id``, ``api_base`` (default https://graph.facebook.com),
``api_version`` (default v21.0), optional ``waba_id`` (register_webhook subscribes the app to it) and
``list_button_label`` (the button that opens a list of choices; default "Обрати").
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
from collections.abc import Awaitable, Mapping
from typing import Any, ClassVar, TypeVar

from civdesk.channels.base import (
    ChannelAccount,
    ChannelAdapter,
    ChannelError,
    FetchedFile,
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
from civdesk.channels.whatsapp.client import GraphClient, GraphError, JsonDict, TransportError
from civdesk.channels.whatsapp.compose import MAX_TEXT, UPLOAD, plan, recipient_fields
from civdesk.channels.whatsapp.parse import parse_webhook

log = logging.getLogger(__name__)
T = TypeVar("T")

SIGNATURE_HEADER = "x-hub-signature-256"
DEFAULT_API_BASE = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"
_MEDIA_ID = re.compile(r"^[0-9A-Za-z_-]{1,128}$")
# Seconds to wait, per throttling code: 130429 is per-second throughput; 131056 the ~6 s pair limit;
# 80007/4/131048 are hourly or quality limits that a few seconds will not lift.
_RETRY_AFTER = {130429: 1.0, 131056: 6.0, 80007: 60.0, 4: 60.0, 131048: 60.0}
_TRANSIENT = {1, 2, 131000, 131016, 133004}


class WhatsAppAdapter(ChannelAdapter):
    type: ClassVar[str] = "whatsapp"
    # Throughput page: 80 messages/s per business number by default. Pair rate limit: about one
    # message every 6 s to the same user (bursts tolerated; 131056 beyond). Text body 4096 characters;
    # an interactive list holds 10 rows; documents up to 100 MB (images 5 MB, audio/video 16 MB).
    limits: ClassVar[PlatformLimits] = PlatformLimits(
        messages_per_second=80,
        per_recipient_per_second=1 / 6,
        max_text_length=MAX_TEXT,
        max_buttons=10,
        max_file_bytes=100 * 1024 * 1024,
        # Free-form messages only within 24 hours of the citizen's last message; templates after that.
        reply_window_seconds=24 * 3600,
    )
    secret_fields: ClassVar[frozenset[str]] = frozenset({"token", "app_secret", "verify_token"})

    def __init__(self) -> None:
        # One HTTP client per account and event loop: an httpx.AsyncClient belongs to the loop it runs in.
        self._clients: dict[tuple[int, int, str, str, str, str], GraphClient] = {}

    # -- inbound -----------------------------------------------------------------------------------

    def verify(self, *, account: ChannelAccount, headers: Mapping[str, str], body: bytes) -> None:
        secret = str(account.secrets.get("app_secret") or "")
        given = headers.get(SIGNATURE_HEADER, "")
        if not secret:
            raise SignatureInvalid("the channel has no app secret to check X-Hub-Signature-256 with")
        if not given.startswith("sha256="):
            raise SignatureInvalid("X-Hub-Signature-256 is missing")
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given.removeprefix("sha256=").strip().lower().encode(), expected.encode()):
            raise SignatureInvalid("X-Hub-Signature-256 does not match the body")

    def handshake(self, *, account: ChannelAccount, params: Mapping[str, str]) -> str:
        ours = str(account.secrets.get("verify_token") or "")
        given = params.get("hub.verify_token", "")
        if params.get("hub.mode") != "subscribe":
            raise SignatureInvalid("hub.mode is not 'subscribe'")
        if not ours or not hmac.compare_digest(given.encode(), ours.encode()):
            raise SignatureInvalid("hub.verify_token does not match")
        challenge = params.get("hub.challenge", "")
        if not challenge:
            raise SignatureInvalid("hub.challenge is missing")
        return challenge

    def parse(self, *, body: bytes) -> ParseResult:
        result = parse_webhook(body)
        if result.events and result.ignored_reason:
            # The caller logs only bodies that yield nothing; say here what part of a batch was skipped.
            log.info("whatsapp: kept %d events, skipped: %s", len(result.events), result.ignored_reason)
        return result

    # -- outbound ----------------------------------------------------------------------------------

    def _client(self, account: ChannelAccount) -> GraphClient:
        token = str(account.secrets.get("token") or "")
        phone_number_id = str(account.config.get("phone_number_id") or "")
        if not token:
            raise SendFailed("the WhatsApp channel has no access token", permanent=True, code="config")
        if not phone_number_id.isdigit():
            raise SendFailed("the WhatsApp channel needs its numeric phone_number_id", permanent=True,
                             code="config")
        api_base = str(account.config.get("api_base") or DEFAULT_API_BASE)
        api_version = str(account.config.get("api_version") or DEFAULT_API_VERSION)
        key = (id(asyncio.get_running_loop()), account.id, token, api_base, api_version, phone_number_id)
        client = self._clients.get(key)
        if client is None:
            client = GraphClient(api_base=api_base, api_version=api_version, token=token,
                                 phone_number_id=phone_number_id)
            self._clients[key] = client
        return client

    async def send(self, *, account: ChannelAccount, message: OutboundMessage) -> SendResult:
        client = self._client(account)
        to = recipient_fields(message.recipient_external_id)
        label = str(account.config.get("list_button_label") or "Обрати")
        steps = plan(message, list_label=label)
        keys: list[str] = []
        for payload in steps.payloads:
            if payload["type"] == UPLOAD:
                assert message.file is not None  # plan() asks for an upload only when there is a file
                payload = await self._uploaded(client, message.file, payload)
            keys.append(await _guarded(client.send({"recipient_type": "individual", **to, **payload})))
        return SendResult(platform_key=keys[steps.primary], awaits_receipt=True)

    async def _uploaded(self, client: GraphClient, upload: OutboundFile, placeholder: JsonDict) -> JsonDict:
        media_id = await _guarded(client.upload(data=upload.data, mime_type=upload.mime_type, name=upload.name))
        kind = placeholder["kind"]
        return {"type": kind, kind: {"id": media_id, **placeholder["fields"]}}

    async def fetch_file(self, *, account: ChannelAccount, file_id: str) -> FetchedFile:
        if not _MEDIA_ID.match(file_id):
            raise SendFailed("not a WhatsApp media id", permanent=True, code="invalid")
        client = self._client(account)
        info = await _guarded(client.media_info(file_id))
        url = info.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise SendFailed("the media answer has no download url", permanent=False)
        reply = await _guarded(client.download(url))
        mime = info.get("mime_type") or reply.headers.get("content-type") or "application/octet-stream"
        return FetchedFile(data=reply.content, mime_type=str(mime))

    async def who_am_i(self, *, account: ChannelAccount) -> Mapping[str, Any]:
        data = await _guarded(self._client(account).phone_number())
        return {
            "id": data.get("id"),
            "display_phone_number": data.get("display_phone_number"),
            "verified_name": data.get("verified_name"),
            "name": data.get("verified_name"),
            "quality_rating": data.get("quality_rating"),
        }

    async def register_webhook(self, *, account: ChannelAccount, url: str) -> None:
        """Points this number's webhooks at ``url`` (an alternate callback URL; Meta checks it with
        the GET handshake first). With ``waba_id`` configured, subscribes the app to the account too."""
        verify_token = str(account.secrets.get("verify_token") or "")
        if not verify_token:
            raise SendFailed("the WhatsApp channel has no verify_token", permanent=True, code="config")
        client = self._client(account)
        waba_id = str(account.config.get("waba_id") or "")
        if waba_id.isdigit():
            await _guarded(client.subscribe_app(waba_id))
        await _guarded(client.override_callback(url=url, verify_token=verify_token))

    async def close(self) -> None:
        """Closes the clients of the running loop (each loop closes its own)."""
        loop_id = id(asyncio.get_running_loop())
        for key in [k for k in self._clients if k[0] == loop_id]:
            await self._clients.pop(key).aclose()


async def _guarded(call: Awaitable[T]) -> T:
    """Awaits a Graph call, turning its failures into the exceptions the delivery worker understands."""
    try:
        return await call
    except GraphError as exc:
        raise channel_error(exc) from None
    except TransportError as exc:
        raise SendFailed(str(exc), permanent=False, code="network") from None


def channel_error(exc: GraphError) -> ChannelError:
    code, said = exc.code, str(exc)
    if code == 131047:
        return SendFailed("More than 24 hours have passed since the citizen last wrote, so WhatsApp accepts only "
                          "an approved template message now: send one instead of free text.",
                          permanent=True, code="outside_window")
    if code in _RETRY_AFTER:
        # 131056 is the pair limit: one citizen, not the whole number.
        return RetryLater(f"WhatsApp rate limit: {said}", after_seconds=_RETRY_AFTER[code],
                          per_recipient=code == 131056)
    if code == 131026:
        return RecipientUnreachable(f"WhatsApp cannot deliver to this number: {said}", code="unreachable")
    if code == 131050:
        return RecipientUnreachable(f"the citizen stopped these messages: {said}", code="unsubscribed")
    if code == 190:
        return SendFailed("The WhatsApp access token has expired or is invalid: renew it (a System User token in "
                          "Meta Business Settings) and update the channel.", permanent=True, code="token")
    if code == 131030:
        return SendFailed("This number is not in the test app's allowed recipient list: add it in the App "
                          "Dashboard or use a production number.", permanent=True, code="not_allowed")
    if code in (3, 10) or 200 <= code < 300:
        return SendFailed(f"the access token lacks a permission (whatsapp_business_messaging): {said}",
                          permanent=True, code="permission")
    if exc.http_status == 429:
        return RetryLater(f"WhatsApp asked to slow down: {said}", after_seconds=1.0)
    if code in _TRANSIENT or exc.http_status >= 500:
        return SendFailed(f"WhatsApp failed temporarily: {said}", permanent=False, code="platform")
    return SendFailed(f"WhatsApp refused the message: {said}", permanent=True, code="rejected")
