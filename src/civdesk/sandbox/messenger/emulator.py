"""In-memory Messenger Platform: Pages, the citizens who write to them, webhook events and recorded sends.

Public methods are plain sync and thread-safe (one lock): a test thread plays the citizen while uvicorn
answers the Graph API on its own loop. Changes are handed to that loop with ``call_soon_threadsafe``,
where the webhook pusher delivers them.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hmac
import itertools
import secrets
import threading
import time
from collections.abc import Callable, Iterable

import httpx

from civdesk.sandbox.messenger import sendapi
from civdesk.sandbox.messenger.citizen import CitizenActions, Upload
from civdesk.sandbox.messenger.state import (
    ENDPOINTS,
    ERRORS,
    FIELDS,
    HUMAN_AGENT_SECONDS,
    MAX_FILE_BYTES,
    VERSION_RE,
    WINDOW_SECONDS,
    Failure,
    Fault,
    GraphApiError,
    JsonDict,
    Page,
    PageSpec,
    SandboxError,
    base_event,
    fault_error,
    new_mid,
)
from civdesk.sandbox.messenger.webhook import WebhookPusher


class MessengerEmulator(CitizenActions):
    def __init__(self, *, pages: Iterable[PageSpec] = (), retry_base_delay: float = 1.0,
                 retry_max_delay: float = 60.0, push_timeout: float = 10.0, batch_size: int = 10,
                 public_url: str | None = None) -> None:
        self.retry_base_delay = retry_base_delay
        self.retry_max_delay = retry_max_delay
        self.push_timeout = push_timeout
        self.batch_size = batch_size
        self._public_url = public_url.rstrip("/") if public_url else None
        self._cond = threading.Condition()
        self._pages: dict[str, Page] = {}
        self._tokens: dict[str, str] = {}  # page token -> page id
        self._files: dict[str, tuple[str, str, bytes]] = {}  # cdn key -> (name, mime, data)
        self._seq = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pusher: WebhookPusher | None = None
        for spec in pages:
            self.add_page(spec)

    # -- loop binding ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind to the serving loop; the app lifespan calls it, Graph calls do it lazily."""
        self.bind_loop()

    def bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        with self._cond:
            if self._loop is loop:
                return
            self._loop = loop
            self._pusher = WebhookPusher(self._pages, self._cond, retry_base_delay=self.retry_base_delay,
                                         retry_max_delay=self.retry_max_delay, timeout=self.push_timeout,
                                         batch_size=self.batch_size)
            page_ids = list(self._pages)
        for page_id in page_ids:
            self._pusher.kick(page_id)

    async def stop(self) -> None:
        with self._cond:
            pusher, self._pusher, self._loop = self._pusher, None, None
        if pusher is not None:
            await pusher.aclose()

    def _notify(self, page_id: str) -> None:
        """Called with the lock held after any change to a Page's queue or webhook."""
        self._cond.notify_all()
        loop, pusher = self._loop, self._pusher
        if loop is not None and pusher is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop may close right after the check
                loop.call_soon_threadsafe(pusher.kick, page_id)

    def set_public_url(self, url: str) -> None:
        """Where this sandbox is reachable: attachment URLs in webhooks point here (the emulated CDN)."""
        with self._cond:
            self._public_url = url.rstrip("/")

    def learn_public_url(self, url: str) -> None:
        with self._cond:
            self._public_url = self._public_url or url.rstrip("/")

    # -- Pages (what the App Dashboard configures) --------------------------------------------------

    def add_page(self, spec: PageSpec) -> None:
        if not spec.page_id.isdigit() or not spec.app_id.isdigit():
            raise SandboxError(422, "page_id and app_id must be digits")
        if not spec.token or not spec.app_secret or not spec.name.strip():
            raise SandboxError(422, "name, token and app_secret are required")
        with self._cond:
            existing = self._pages.get(spec.page_id)
            if existing is not None:
                if existing.spec != spec:
                    raise SandboxError(409, "a different Page already has this page_id")
                return
            if spec.token in self._tokens:
                raise SandboxError(409, "another Page already uses this token")
            page = Page(spec=spec, subscribed_fields=list(FIELDS) if spec.subscribed else [])
            self._pages[spec.page_id] = page
            self._tokens[spec.token] = spec.page_id

    def pages(self) -> list[JsonDict]:
        with self._cond:
            return [{"page_id": p.spec.page_id, "name": p.spec.name, "webhook_url": p.webhook_url or "",
                     "subscribed_fields": list(p.subscribed_fields), "last_error": p.last_error,
                     "get_started": (p.profile.get("get_started") or {}).get("payload")}
                    for p in self._pages.values()]

    def set_webhook(self, *, page_id: str, url: str, verify_token: str, verify: bool = True) -> None:
        """The App Dashboard's callback URL. Like Meta, it first GETs the URL with hub.challenge and accepts it
        only if the answer is 200 with the challenge as the body. Blocking: not for the serving loop's thread."""
        if not url.startswith(("https://", "http://")):
            raise SandboxError(422, "the callback URL must be http(s)")
        with self._cond:
            self._page(page_id)
        if verify:
            challenge = str(secrets.randbelow(10**9))
            params = {"hub.mode": "subscribe", "hub.verify_token": verify_token, "hub.challenge": challenge}
            try:
                reply = httpx.get(url, params=params, timeout=self.push_timeout)
            except httpx.HTTPError as exc:
                raise SandboxError(422, f"the callback URL could not be reached ({exc.__class__.__name__})") from None
            if reply.status_code != 200 or reply.text != challenge:
                raise SandboxError(422, "the URL couldn't be validated: response does not match challenge "
                                        f"(status {reply.status_code})")
        with self._cond:
            self._page(page_id).webhook_url = url
            self._notify(page_id)

    # -- Graph API side (called by the routes) ------------------------------------------------------

    def authenticate(self, *, version: str, endpoint: str, token: str | None, proof: str | None) -> str:
        """Checks the token and appsecret_proof, applies injected failures; returns the Page id."""
        if not VERSION_RE.match(version):
            raise GraphApiError(400, 2500, f"Unknown path components: /{version}", error_type="OAuthException")
        with self._cond:
            page_id = self._tokens.get(token or "")
            if page_id is None:
                raise fault_error(ERRORS["invalid_token"])
            page = self._pages[page_id]
            expected = hmac.new(page.spec.app_secret.encode(), (token or "").encode(), "sha256").hexdigest()
            if proof is None and page.spec.require_appsecret_proof:
                raise GraphApiError(400, 100, "API calls from the server require an appsecret_proof argument",
                                    error_type="GraphMethodException")
            if proof is not None and not hmac.compare_digest(proof.encode(), expected.encode()):
                raise GraphApiError(400, 100, "Invalid appsecret_proof provided in the API argument",
                                    error_type="GraphMethodException")
            failure = next((f for f in page.failures if f.endpoint == endpoint), None)
            if failure is not None:
                failure.times -= 1
                if failure.times <= 0:
                    page.failures.remove(failure)
                raise fault_error(failure.fault, failure.regain_minutes)
            return page_id

    def me(self, page_id: str, fields: str | None) -> JsonDict:
        with self._cond:
            page = self._page(page_id)
            wanted = [f.strip() for f in (fields or "id,name").split(",") if f.strip()]
            known = {"id": page.spec.page_id, "name": page.spec.name}
            return {f: known[f] for f in wanted if f in known} | {"id": page.spec.page_id}

    def subscribe_app(self, page_id: str, fields: str | None) -> JsonDict:
        wanted = [f.strip() for f in (fields or "").split(",") if f.strip()]
        unknown = [f for f in wanted if f not in FIELDS]
        if not wanted or unknown:
            raise sendapi.bad(f"param subscribed_fields must be a non-empty subset of {{{', '.join(FIELDS)}}}")
        with self._cond:
            page = self._page(page_id)
            page.subscribed_fields = list(dict.fromkeys(wanted))
            self._notify(page_id)
        return {"success": True}

    def unsubscribe_app(self, page_id: str) -> JsonDict:
        with self._cond:
            self._page(page_id).subscribed_fields = []
        return {"success": True}

    def subscribed_apps(self, page_id: str) -> JsonDict:
        with self._cond:
            page = self._page(page_id)
            if not page.subscribed_fields:
                return {"data": []}
            return {"data": [{"category": "Business", "link": "https://civdesk.example/", "name": page.spec.app_name,
                              "id": page.spec.app_id, "subscribed_fields": list(page.subscribed_fields)}]}

    def set_profile(self, page_id: str, params: JsonDict) -> JsonDict:
        get_started = sendapi.json_param(params, "get_started")
        if get_started is not None and (not isinstance(get_started, dict) or
                                        not isinstance(get_started.get("payload"), str) or
                                        not 1 <= len(get_started["payload"]) <= 1000):
            raise sendapi.bad("param get_started[payload] must be 1-1000 characters")
        with self._cond:
            page = self._page(page_id)
            if get_started is not None:
                page.profile["get_started"] = {"payload": get_started["payload"]}
        return {"result": "success"}

    def profile(self, page_id: str, fields: str | None) -> JsonDict:
        with self._cond:
            page = self._page(page_id)
            wanted = [f.strip() for f in (fields or "").split(",") if f.strip()]
            return {"data": [{k: copy.deepcopy(v) for k, v in page.profile.items() if k in wanted}]}

    def upload_attachment(self, page_id: str, params: JsonDict, upload: Upload | None) -> JsonDict:
        """POST /me/message_attachments: keeps the asset and answers its attachment_id."""
        message = sendapi.json_param(params, "message")
        if not isinstance(message, dict):
            raise sendapi.bad("The parameter message is required")
        sendapi.check_message(message, has_upload=upload is not None, attachments={})
        attachment = message["attachment"]
        with self._cond:
            page = self._page(page_id)
            url = self._store_upload(upload) if upload else attachment["payload"].get("url")
            attachment_id = str(secrets.randbelow(10**15) + 10**15)
            page.attachments[attachment_id] = {"type": attachment["type"], "url": url}
        return {"attachment_id": attachment_id}

    def send(self, page_id: str, params: JsonDict, upload: Upload | None) -> JsonDict:
        """POST /me/messages."""
        psid, messaging_type, tag, message = sendapi.check_envelope(params)
        if upload is not None and len(upload[2]) > MAX_FILE_BYTES:
            raise sendapi.bad("Attachment size exceeds allowable limit", 2018294)
        with self._cond:
            page = self._page(page_id)
            kind = sendapi.check_message(message, has_upload=upload is not None, attachments=page.attachments)
            citizen = page.citizens.get(psid)
            if citizen is None:
                raise fault_error(ERRORS["no_matching_user"])
            if citizen.blocked:
                raise fault_error(ERRORS["user_unavailable"])
            silent = time.time() - citizen.last_inbound
            allowed = HUMAN_AGENT_SECONDS if tag == "HUMAN_AGENT" else WINDOW_SECONDS
            # Other tags are not bound to the window (their own policies are not emulated).
            if (messaging_type != "MESSAGE_TAG" or tag == "HUMAN_AGENT") and silent > allowed:
                raise fault_error(ERRORS["outside_window"])
            mid = new_mid()
            shown = self._shown(page, message, kind, upload)
            page.sends.append({"psid": psid, "messaging_type": messaging_type, "tag": tag,
                               "message": copy.deepcopy(message), "message_id": mid, "kind": kind,
                               "upload": {"name": upload[0], "mime_type": upload[1], "size": len(upload[2])}
                               if upload else None, "url": shown.get("url"), "time": time.time()})
            self._log(citizen, "page", "message", mid=mid, delivered=True, read=False, **shown)
            echo = {"is_echo": True, "app_id": int(page.spec.app_id), "mid": mid,
                    **({"text": message["text"]} if kind == "text" else {})}
            self._enqueue(page, "message_echoes", base_event(page_id, psid, message=echo))
            # The citizen's phone is online in the sandbox: delivery is reported at once.
            delivery = base_event(psid, page_id, delivery={"mids": [mid], "watermark": int(time.time() * 1000)})
            self._enqueue(page, "message_deliveries", delivery)
            return {"recipient_id": psid, "message_id": mid}

    def _shown(self, page: Page, message: JsonDict, kind: str, upload: Upload | None) -> JsonDict:
        """What the citizen sees of a sent message, for the transcript and the page."""
        shown: JsonDict = {"text": message.get("text", "")}
        if message.get("quick_replies"):
            shown["quick_replies"] = [{"title": q.get("title", ""), "payload": str(q.get("payload", ""))}
                                      for q in message["quick_replies"]]
        attachment = message.get("attachment") or {}
        payload = attachment.get("payload") or {}
        if kind == "media":
            url = (self._store_upload(upload) if upload else payload.get("url")
                   or page.attachments.get(str(payload.get("attachment_id")), {}).get("url"))
            shown.update(attachment_type=attachment["type"], url=url, name=upload[0] if upload else None)
        elif kind == "template":
            cards = payload.get("elements") or [{"title": payload.get("text", ""), "buttons": payload["buttons"]}]
            shown["cards"] = [{"title": c["title"], "buttons": [
                {"title": b["title"], "payload": b.get("payload"), "url": b.get("url")}
                for b in c.get("buttons") or []]} for c in cards]
        return shown

    def cdn_file(self, key: str) -> tuple[str, str, bytes]:
        with self._cond:
            found = self._files.get(key)
        if found is None:
            raise SandboxError(404, "no such file")
        return found

    # -- test and page helpers ---------------------------------------------------------------------

    def sent(self, *, page_id: str, psid: str | None = None) -> list[JsonDict]:
        with self._cond:
            sends = self._page(page_id).sends
            return copy.deepcopy([s for s in sends if psid is None or s["psid"] == psid])

    def pushes(self, *, page_id: str) -> list[JsonDict]:
        """Every webhook POST attempt: url, status or error, the exact body and headers."""
        with self._cond:
            return copy.deepcopy(self._page(page_id).pushes)

    def history(self, *, page_id: str, psid: str, after: int = 0) -> JsonDict:
        with self._cond:
            citizen = self._page(page_id).citizens.get(psid)
            entries = [e for e in citizen.transcript if e["seq"] > after] if citizen else []
            return {"psid": psid, "name": citizen.name if citizen else None,
                    "blocked": bool(citizen and citizen.blocked), "entries": copy.deepcopy(entries)}

    def fail_next(self, *, page_id: str, error: str | None = None, endpoint: str = "messages", times: int = 1,
                  status: int | None = None, code: int | None = None, subcode: int | None = None,
                  message: str | None = None, regain_minutes: int | None = None) -> None:
        """The next ``times`` calls to ``endpoint`` fail with a documented error (a name in ERRORS) or with
        the given status/code/subcode/message."""
        if endpoint not in ENDPOINTS:
            raise SandboxError(422, f"unknown endpoint; known: {', '.join(ENDPOINTS)}")
        if error is not None:
            if error not in ERRORS:
                raise SandboxError(422, f"unknown error; known: {', '.join(ERRORS)}")
            fault = ERRORS[error]
        elif status is not None and code is not None and message:
            fault = Fault(status, code, message, subcode)
        else:
            raise SandboxError(422, "give an error name, or status, code and message")
        if times < 1 or not 400 <= fault.status <= 599:
            raise SandboxError(422, "times must be >= 1 and status 400-599")
        with self._cond:
            self._page(page_id).failures.append(Failure(fault=fault, endpoint=endpoint, times=times,
                                                         regain_minutes=regain_minutes))

    def duplicate_next_push(self, *, page_id: str, times: int = 1) -> None:
        """The next ``times`` webhook bodies are each POSTed twice, as after a handler timeout."""
        with self._cond:
            self._page(page_id).duplicate_pushes += times

    def pending_count(self, *, page_id: str) -> int:
        with self._cond:
            return len(self._page(page_id).queue)

    def queued(self, *, page_id: str) -> list[JsonDict]:
        """The messaging events waiting for the webhook, oldest first, with the field each is sent under."""
        with self._cond:
            return [{"field": q.field, "event": copy.deepcopy(q.event)} for q in self._page(page_id).queue]

    def wait_for_sends(self, *, page_id: str, psid: str | None = None, count: int = 1,
                       timeout: float = 5.0) -> list[JsonDict]:
        """Blocks until ``count`` sends are recorded. Not for the serving loop's thread."""
        self._wait(lambda: len(self.sent(page_id=page_id, psid=psid)) >= count, timeout,
                   lambda: f"{count} sends to {psid}; got {self.sent(page_id=page_id, psid=psid)}")
        return self.sent(page_id=page_id, psid=psid)

    def wait_for_pushes(self, *, page_id: str, count: int = 1, timeout: float = 5.0) -> list[JsonDict]:
        self._wait(lambda: len(self.pushes(page_id=page_id)) >= count, timeout,
                   lambda: f"{count} webhook attempts; got {len(self.pushes(page_id=page_id))}")
        return self.pushes(page_id=page_id)

    def wait_until_delivered(self, *, timeout: float = 5.0) -> None:
        """Blocks until no Page with a webhook has undelivered events."""
        def idle() -> bool:
            return all(not p.queue for p in self._pages.values() if p.webhook_url and p.subscribed_fields)
        self._wait(idle, timeout, lambda: "webhook deliveries to finish")

    # The blocking wait runs in a worker thread, which cannot be cancelled: it needs its own timeout.
    async def wait_idle(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        await asyncio.to_thread(self.wait_until_delivered, timeout=timeout)

    def _wait(self, done: Callable[[], bool], timeout: float, what: Callable[[], str]) -> None:
        with self._cond:
            if not self._cond.wait_for(done, timeout):
                raise TimeoutError(f"timed out after {timeout} s waiting for {what()}")

