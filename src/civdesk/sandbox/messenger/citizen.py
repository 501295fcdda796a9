"""The citizen's side of the emulator: what a person does in Messenger, turned into real webhook events."""

from __future__ import annotations

import copy
import itertools
import re
import secrets
import threading
import time
from typing import Any
from urllib.parse import quote

from civdesk.sandbox.messenger.state import (
    MAX_FILE_BYTES,
    MAX_TEXT,
    Citizen,
    JsonDict,
    Page,
    Queued,
    SandboxError,
    base_event,
    media_type,
    new_mid,
    now_ms,
)

Upload = tuple[str, str, bytes]  # name, mime type, data
PSID_RE = re.compile(r"^[1-9][0-9]{0,19}$")
DEFAULT_NAME = "Олена"
_CITIZEN_TURNS = ("message", "file", "press", "started")


class CitizenActions:
    """Base of MessengerEmulator: the shared state it declares, the helpers, and the citizen's actions."""

    _cond: threading.Condition
    _pages: dict[str, Page]
    _files: dict[str, Upload]
    _public_url: str | None
    _seq: itertools.count[int]

    def _notify(self, page_id: str) -> None:
        raise NotImplementedError

    # -- helpers (call with the lock held) ---------------------------------------------------------

    def _page(self, page_id: str) -> Page:
        page = self._pages.get(page_id)
        if page is None:
            raise SandboxError(404, "unknown page_id")
        return page

    def _citizen(self, page: Page, psid: str, *, create: bool = False, name: str | None = None) -> Citizen:
        if not PSID_RE.match(psid):
            raise SandboxError(422, "a PSID is 1-20 digits")
        citizen = page.citizens.get(psid)
        if citizen is None and create:
            citizen = page.citizens[psid] = Citizen(psid=psid, name=DEFAULT_NAME, last_inbound=time.time())
        if citizen is None:
            raise SandboxError(404, "this citizen has never written to this Page")
        if citizen.blocked:
            raise SandboxError(409, "the citizen has blocked this Page; unblock it first")
        if name is not None:
            if not name.strip():
                raise SandboxError(422, "name must not be empty")
            citizen.name = name.strip()
        return citizen

    def _store_upload(self, upload: Upload) -> str:
        key = secrets.token_urlsafe(12)
        self._files[key] = upload
        return self._cdn_url(key, upload[0])

    def _cdn_url(self, key: str, name: str) -> str:
        # Relative until the sandbox knows its address; Meta's are absolute CDN links.
        return f"{self._public_url or ''}/sandbox/messenger/cdn/{key}/{quote(name.replace('/', '_'), safe='')}"

    def _enqueue(self, page: Page, field: str, event: JsonDict) -> JsonDict:
        page.queue.append(Queued(seq=next(self._seq), field=field, event=event))
        self._notify(page.spec.page_id)
        return copy.deepcopy(event)

    def _log(self, citizen: Citizen, sender: str, kind: str, **fields: Any) -> None:
        citizen.transcript.append({"seq": next(self._seq), "from": sender, "kind": kind, "time": time.time(),
                                   **fields})

    def _turn(self, page: Page, citizen: Citizen, field: str, body: JsonDict, kind: str, **shown: Any) -> JsonDict:
        """The citizen acted: the 24-hour window opens again, the transcript and the webhook queue get it."""
        citizen.last_inbound = time.time()
        event = base_event(citizen.psid, page.spec.page_id, **body)
        self._log(citizen, "citizen", kind, **shown)
        return self._enqueue(page, field, event)

    # -- what a citizen does -----------------------------------------------------------------------

    def citizen_says(self, *, page_id: str, psid: str, text: str, name: str | None = None) -> JsonDict:
        """A text message; returns the messaging event as it is queued for the webhook."""
        if not text.strip() or len(text) > MAX_TEXT:
            raise SandboxError(422, f"text must be 1-{MAX_TEXT} characters")
        with self._cond:
            page = self._page(page_id)
            citizen = self._citizen(page, psid, create=True, name=name)
            mid = new_mid()
            return self._turn(page, citizen, "messages", {"message": {"mid": mid, "text": text}}, "message",
                              mid=mid, text=text)

    def citizen_sends_file(self, *, page_id: str, psid: str, data: bytes, mime_type: str, name: str) -> JsonDict:
        """A photo, video, voice clip or file; the webhook carries a URL on this sandbox's emulated CDN."""
        if not data or len(data) > MAX_FILE_BYTES:
            raise SandboxError(422, "a file must be 1 byte to 25 MB")
        if not name.strip() or "/" in name:
            raise SandboxError(422, "a file needs a plain name")
        with self._cond:
            if not self._public_url:
                raise SandboxError(409, "the sandbox does not know its own URL yet: call set_public_url first")
            page = self._page(page_id)
            citizen = self._citizen(page, psid, create=True)
            url = self._store_upload((name, mime_type, data))
            kind = media_type(mime_type)
            mid = new_mid()
            body = {"message": {"mid": mid, "attachments": [{"type": kind, "payload": {"url": url}}]}}
            return self._turn(page, citizen, "messages", body, "file", mid=mid, attachment_type=kind, url=url,
                              name=name)

    def citizen_presses(self, *, page_id: str, psid: str, payload: str) -> JsonDict:
        """Taps a quick reply still on screen (a messages event) or a postback button (a postback event)."""
        with self._cond:
            page = self._page(page_id)
            citizen = self._citizen(page, psid)
            quick = _live_quick_replies(citizen)
            title = next((q["title"] for q in quick if q["payload"] == payload), None)
            mid = new_mid()
            if title is not None:
                body = {"message": {"mid": mid, "text": title, "quick_reply": {"payload": payload}}}
                return self._turn(page, citizen, "messages", body, "press", mid=mid, text=title, payload=payload)
            title = _postback_title(citizen, payload)
            if title is None:
                raise SandboxError(404, "no button with this payload is on the citizen's screen")
            body = {"postback": {"mid": mid, "title": title, "payload": payload}}
            return self._turn(page, citizen, "messaging_postbacks", body, "press", mid=mid, text=title,
                              payload=payload)

    def citizen_gets_started(self, *, page_id: str, psid: str, name: str | None = None) -> JsonDict:
        """Opens the chat and taps Get Started: a postback with the payload the Page set in its profile."""
        with self._cond:
            page = self._page(page_id)
            payload = (page.profile.get("get_started") or {}).get("payload")
            if not payload:
                raise SandboxError(409, "the Page has no Get Started button: POST /me/messenger_profile sets it")
            citizen = self._citizen(page, psid, create=True, name=name)
            mid = new_mid()
            body = {"postback": {"mid": mid, "title": "Get Started", "payload": payload}}
            return self._turn(page, citizen, "messaging_postbacks", body, "started", mid=mid, payload=payload)

    def citizen_reads(self, *, page_id: str, psid: str) -> JsonDict:
        """Opens the thread: a read receipt whose watermark covers every message the Page sent until now."""
        with self._cond:
            page = self._page(page_id)
            citizen = self._citizen(page, psid)
            for entry in citizen.transcript:
                if entry["from"] == "page":
                    entry["read"] = True
            event = base_event(psid, page_id, read={"watermark": now_ms()})
            return self._enqueue(page, "message_reads", event)

    def citizen_blocks(self, *, page_id: str, psid: str) -> None:
        """Turns off messages from the Page. Meta sends no webhook for this; sends fail with #551."""
        with self._cond:
            citizen = self._citizen(self._page(page_id), psid)
            citizen.blocked = True
            self._log(citizen, "citizen", "blocked")
            self._cond.notify_all()

    def citizen_unblocks(self, *, page_id: str, psid: str) -> None:
        with self._cond:
            citizen = self._page(page_id).citizens.get(psid)
            if citizen is None:
                raise SandboxError(404, "this citizen has never written to this Page")
            citizen.blocked = False
            self._log(citizen, "citizen", "unblocked")
            self._cond.notify_all()

    def citizen_falls_silent(self, *, page_id: str, psid: str, hours: float) -> None:
        """Moves the citizen's last message ``hours`` into the past, to test the 24-hour window."""
        if hours < 0:
            raise SandboxError(422, "hours must be >= 0")
        with self._cond:
            citizen = self._page(page_id).citizens.get(psid)
            if citizen is None:
                raise SandboxError(404, "this citizen has never written to this Page")
            citizen.last_inbound -= hours * 3600


def _live_quick_replies(citizen: Citizen) -> list[JsonDict]:
    """Quick replies show under the thread's latest message only, and vanish once the citizen acts."""
    for entry in reversed(citizen.transcript):
        if entry["from"] == "citizen" and entry["kind"] in _CITIZEN_TURNS:
            return []
        if entry["from"] == "page":
            replies: list[JsonDict] = entry.get("quick_replies") or []
            return replies
    return []


def _postback_title(citizen: Citizen, payload: str) -> str | None:
    for entry in reversed(citizen.transcript):
        for card in entry.get("cards") or []:
            for button in card["buttons"]:
                if button.get("payload") == payload:
                    title: str = button["title"]
                    return title
    return None
