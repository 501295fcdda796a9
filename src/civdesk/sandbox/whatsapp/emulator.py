"""In-memory WhatsApp Cloud API: business numbers, citizens, media, recorded sends and signed webhooks.

Public methods are plain sync and thread-safe (one lock), so a test thread can act as the citizen while
uvicorn serves the Graph API on its own loop; changes are handed to that loop with
``call_soon_threadsafe``, where the webhook pusher delivers them.

Rules it enforces, as the Cloud API documents them:
* Bearer token per business number (else 401 + Graph error 190);
* the 24-hour customer service window: a free-form send to a citizen whose last message is older than
  24 h (or who never wrote) is accepted with a wamid and then fails asynchronously with a ``failed``
  status carrying 131047, which is how the error-codes page says re-engagement errors arrive;
  templates go through;
* throughput: ``messages_per_second`` (80 by default) per number → 130429; the pair rate limit, a
  token bucket of ``pair_burst`` messages refilled one per ``pair_interval`` seconds (45 and 6 s:
  "1 message every 6 seconds", bursts of 45) → 131056.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac

import httpx

from civdesk.sandbox.whatsapp.citizen import CitizenActions
from civdesk.sandbox.whatsapp.state import (
    ERRORS,
    WINDOW_SECONDS,
    Failure,
    GraphApiError,
    JsonDict,
    Media,
    NumberState,
    SandboxError,
    Webhook,
    documented_error,
    invalid_param,
    no_such_object,
    status_change,
)
from civdesk.sandbox.whatsapp.validate import check_send
from civdesk.sandbox.whatsapp.webhook import handshake_failure, handshake_params

MEDIA_URL_SECONDS = 300  # Meta's media URLs stay valid for five minutes
ENDPOINTS = ("messages", "media", "node")


class WhatsAppEmulator(CitizenActions):
    # -- Graph API side (called by the routes, on the server loop) ---------------------------------

    def send_message(self, token: str | None, phone_number_id: str, body: JsonDict) -> JsonDict:
        with self._cond:
            number = self.authenticate(token, phone_number_id)
            if body.get("status") == "read":  # "mark as read" shares the endpoint
                if not isinstance(body.get("message_id"), str):
                    raise invalid_param("The parameter message_id is required.")
                return {"success": True}
            self._take_failure(number, "messages")
            record = check_send(body)
            media_id = record.get("media_id")
            if media_id is not None and (self._media.get(media_id) is None
                                         or self._media[media_id].owner != phone_number_id):
                raise invalid_param(f"Media id {media_id} is not valid for this phone number.")
            now = self.now()
            self._throttle(number, record["to"], now)
            user = self._user(number, record["to"], record["to"] if record["to"] not in number.users else None)
            message_id = self._next_wamid("out")
            outside = record["type"] != "template" and (
                user.last_inbound is None or now - user.last_inbound > WINDOW_SECONDS)
            record.update(wamid=message_id, time=now, status="failed" if outside else "sent")
            number.sends.append(record)
            number.outbound[message_id] = record
            self._log(user, "business", record["type"], wamid=message_id, text=record["text"],
                      payload=record["payload"], status=record["status"])
            spec = number.spec
            if outside:
                record["error_code"] = 131047
                self._enqueue(number, status_change(spec, message_id=message_id, status="failed",
                                                    recipient=user.wa_id, at=now,
                                                    error=documented_error(131047)))
            else:
                self._enqueue(number, status_change(spec, message_id=message_id, status="sent",
                                                    recipient=user.wa_id, at=now))
                if self.auto_receipts:
                    self._set_status(number, user, message_id, "delivered")
            answer: JsonDict = {"messaging_product": "whatsapp",
                                "contacts": [{"input": body["to"], "wa_id": user.wa_id}],
                                "messages": [{"id": message_id}]}
            if record["type"] == "template":
                answer["messages"][0]["message_status"] = "accepted"
            return answer

    def _throttle(self, number: NumberState, wa_id: str, now: float) -> None:
        times = number.send_times
        while times and now - times[0] >= 1.0:
            times.popleft()
        if len(times) >= self.messages_per_second:
            raise documented_error(130429)
        user = number.users.get(wa_id)
        if user is not None:
            refill = (now - user.pair_checked) / self.pair_interval
            user.pair_tokens, user.pair_checked = min(self.pair_burst, user.pair_tokens + refill), now
            if user.pair_tokens < 1:
                raise documented_error(131056)
            user.pair_tokens -= 1
        times.append(now)

    def upload_media(self, token: str | None, phone_number_id: str, *, data: bytes, mime_type: str,
                     filename: str | None, declared_type: str | None, product: str | None) -> JsonDict:
        with self._cond:
            number = self.authenticate(token, phone_number_id)
            self._take_failure(number, "media")
            if product != "whatsapp":
                raise invalid_param("The parameter messaging_product is required and must be 'whatsapp'.")
            if not declared_type:
                raise invalid_param("The parameter type is required.")
            if not data:
                raise invalid_param("The parameter file is required.")
            if len(data) > 100 * 1024 * 1024:
                raise invalid_param("The file is larger than 100 MB.")
            return {"id": self._store_media(phone_number_id, data, mime_type, filename)}

    def get_node(self, token: str | None, node_id: str, *, base_url: str) -> JsonDict:
        with self._cond:
            number = self.authenticate(token)
            self._take_failure(number, "node")
            spec = number.spec
            if node_id == spec.phone_number_id:
                return {"verified_name": spec.verified_name, "display_phone_number": spec.display_phone_number,
                        "id": spec.phone_number_id, "quality_rating": "GREEN", "platform_type": "CLOUD_API",
                        "throughput": {"level": "STANDARD"}}
            media = self._media.get(node_id)
            if media is None or media.owner != spec.phone_number_id:
                raise no_such_object(node_id)
            ext = int(self.now())
            url = (f"{base_url.rstrip('/')}/whatsapp_business/attachments/?mid={node_id}&ext={ext}"
                   f"&hash={self._media_hash(node_id, ext)}")
            return {"messaging_product": "whatsapp", "url": url, "mime_type": media.mime_type,
                    "sha256": media.sha256, "file_size": len(media.data), "id": node_id}

    def _media_hash(self, media_id: str, ext: int) -> str:
        return hmac.new(self._media_key, f"{media_id}:{ext}".encode(), hashlib.sha256).hexdigest()[:24]

    def download(self, token: str | None, *, mid: str, ext: str, signature: str) -> Media:
        """The bytes behind a media URL: the same Bearer token, a valid hash, not older than 5 minutes."""
        with self._cond:
            number = self.authenticate(token)
            media = self._media.get(mid)
            fresh = ext.isdigit() and 0 <= self.now() - int(ext) <= MEDIA_URL_SECONDS
            if media is None or not fresh or not hmac.compare_digest(signature, self._media_hash(mid, int(ext))):
                raise SandboxError(404, "media URL is unknown or has expired")
            if media.owner != number.spec.phone_number_id:
                raise SandboxError(403, "this token cannot download this media")
            return media

    def subscribe_app(self, token: str | None, waba_id: str) -> JsonDict:
        with self._cond:
            number = self.authenticate(token)
            if waba_id != number.spec.waba_id:
                raise no_such_object(waba_id)
            number.app_subscribed = True
            return {"success": True}

    async def configure_webhook(self, token: str | None, phone_number_id: str, body: JsonDict) -> JsonDict:
        """POST /{phone_number_id} with webhook_configuration: verifies the URL first, as Meta does."""
        self.authenticate(token, phone_number_id)
        config = body.get("webhook_configuration")
        if not isinstance(config, dict) or not isinstance(config.get("override_callback_uri"), str):
            raise invalid_param("Only webhook_configuration.override_callback_uri is emulated on this node.")
        url, verify_token = config["override_callback_uri"], str(config.get("verify_token") or "")
        if url:
            try:
                await self.asubscribe(phone_number_id=phone_number_id, url=url, verify_token=verify_token)
            except SandboxError as exc:
                raise GraphApiError(400, 2200, str(exc), title="Callback verification failed") from None
        else:
            with self._cond:
                self._number(phone_number_id).webhook = None
        return {"success": True}

    # -- subscribing a callback URL: Meta's GET handshake ------------------------------------------

    def subscribe(self, *, phone_number_id: str, url: str, verify_token: str) -> None:
        """Verifies ``url`` with the GET challenge, then sends this number's webhooks there.
        Blocking: call it from a test thread, not from the server's loop (use ``asubscribe`` there)."""
        params, challenge = self._handshake_start(phone_number_id, url, verify_token)
        try:
            reply = httpx.get(url, params=params, timeout=self.push_timeout)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise SandboxError(502, f"Callback verification failed: {exc.__class__.__name__}") from None
        self._handshake_finish(phone_number_id, url, verify_token, reply.status_code, reply.text, challenge)

    async def asubscribe(self, *, phone_number_id: str, url: str, verify_token: str) -> None:
        params, challenge = self._handshake_start(phone_number_id, url, verify_token)
        try:
            async with httpx.AsyncClient(timeout=self.push_timeout) as client:
                reply = await client.get(url, params=params)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise SandboxError(502, f"Callback verification failed: {exc.__class__.__name__}") from None
        self._handshake_finish(phone_number_id, url, verify_token, reply.status_code, reply.text, challenge)

    def _handshake_start(self, phone_number_id: str, url: str, verify_token: str) -> tuple[dict[str, str], str]:
        if not url.startswith(("http://", "https://")) or not verify_token:
            raise SandboxError(422, "a callback URL (http/https) and a verify token are required")
        with self._cond:
            self._number(phone_number_id)
        return handshake_params(verify_token)

    def _handshake_finish(self, phone_number_id: str, url: str, verify_token: str, status: int, text: str,
                          challenge: str) -> None:
        failure = handshake_failure(status, text, challenge)
        if failure is not None:
            raise SandboxError(409, failure)
        with self._cond:
            number = self._number(phone_number_id)
            number.webhook = Webhook(url=url, verify_token=verify_token)
            self._notify(phone_number_id)

    # -- control: failures, duplicates, what was sent ----------------------------------------------

    def fail_next(self, *, phone_number_id: str, code: int, times: int = 1, endpoint: str = "messages") -> None:
        if code not in ERRORS:
            raise SandboxError(422, f"unknown error code; known: {', '.join(map(str, sorted(ERRORS)))}")
        if endpoint not in (*ENDPOINTS, "any") or times < 1:
            raise SandboxError(422, f"endpoint must be one of {', '.join(ENDPOINTS)}, any; times >= 1")
        with self._cond:
            self._number(phone_number_id).failures.append(Failure(code=code, times=times, endpoint=endpoint))

    def duplicate_next_push(self, *, phone_number_id: str, times: int = 1) -> None:
        """The next ``times`` webhook deliveries are each POSTed twice, as after a handler timeout."""
        with self._cond:
            self._number(phone_number_id).duplicate_pushes += times

    def sent(self, *, phone_number_id: str, to: str | None = None) -> list[JsonDict]:
        with self._cond:
            sends = self._number(phone_number_id).sends
            return copy.deepcopy([s for s in sends if to is None or s["to"] == to.removeprefix("+")])

    def deliveries(self, *, phone_number_id: str) -> list[JsonDict]:
        with self._cond:
            return copy.deepcopy(self._number(phone_number_id).deliveries)

    def pending_count(self, *, phone_number_id: str) -> int:
        with self._cond:
            return len(self._number(phone_number_id).queue)

    def wait_for_sends(self, *, phone_number_id: str, to: str | None = None, count: int = 1,
                       timeout: float = 5.0) -> list[JsonDict]:
        """Block until ``count`` sends are recorded. Not for the server's own loop thread."""
        self._wait(lambda: len(self.sent(phone_number_id=phone_number_id, to=to)) >= count, timeout,
                   lambda: f"{count} sends to {to}; got {len(self.sent(phone_number_id=phone_number_id, to=to))}")
        return self.sent(phone_number_id=phone_number_id, to=to)

    def wait_for_deliveries(self, *, phone_number_id: str, count: int = 1, timeout: float = 5.0) -> list[JsonDict]:
        """Block until ``count`` delivery attempts (failed ones included) are recorded."""
        self._wait(lambda: len(self.deliveries(phone_number_id=phone_number_id)) >= count, timeout,
                   lambda: f"{count} webhook delivery attempts")
        return self.deliveries(phone_number_id=phone_number_id)

    def wait_until_delivered(self, *, timeout: float = 5.0) -> None:
        """Block until no number with a webhook has undelivered bodies."""
        def idle() -> bool:
            return all(not n.queue for n in self._numbers.values() if n.webhook is not None)
        self._wait(idle, timeout, lambda: "webhook deliveries to finish")

    # The blocking wait runs in a worker thread, which cannot be cancelled: it needs its own timeout.
    async def wait_idle(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        await asyncio.to_thread(self.wait_until_delivered, timeout=timeout)

