"""What citizens do: write, send media and locations, press buttons, read, opt out of marketing.

Each action builds the webhook body the Cloud API would send for it and queues it for the number's
webhook; it returns that body (as delivered when not batching).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

from civdesk.sandbox.whatsapp.core import EmulatorCore
from civdesk.sandbox.whatsapp.state import (
    WINDOW_SECONDS,
    JsonDict,
    NumberState,
    Queued,
    SandboxError,
    envelope,
    interactive_choices,
    message_change,
    preference_change,
)

MEDIA_KINDS = ("image", "video", "audio", "document", "sticker")


class CitizenActions(EmulatorCore):
    def _inbound(self, number: NumberState, wa_id: str, name: str | None, fields: JsonDict,
                 log_kind: str, **log: Any) -> JsonDict:
        if not wa_id.isdigit():
            raise SandboxError(422, "a wa_id is the citizen's phone number in digits")
        user = self._user(number, wa_id, name)
        now = self.now()
        message = {"from": wa_id, "id": self._next_wamid("in"), "timestamp": str(int(now)), **fields}
        user.last_inbound = now  # every inbound message (re)opens the 24-hour window
        self._log(user, "citizen", log_kind, wamid=message["id"], **log)
        return self._enqueue(number, message_change(number.spec, user, message))

    def citizen_says(self, *, phone_number_id: str, wa_id: str, text: str, name: str | None = None) -> JsonDict:
        """A text message; a name left out keeps the citizen's (a new citizen is "Олена")."""
        if not text.strip() or len(text) > 4096:
            raise SandboxError(422, "text must be 1-4096 characters")
        with self._cond:
            number = self._number(phone_number_id)
            return self._inbound(number, wa_id, name, {"type": "text", "text": {"body": text}}, "text", text=text)

    def citizen_sends_media(self, *, phone_number_id: str, wa_id: str, kind: str, data: bytes, mime_type: str,
                            filename: str | None = None, caption: str | None = None, voice: bool = False,
                            name: str | None = None) -> JsonDict:
        if kind not in MEDIA_KINDS or not data or not mime_type:
            raise SandboxError(422, f"kind must be one of {', '.join(MEDIA_KINDS)}, with data and a mime type")
        with self._cond:
            number = self._number(phone_number_id)
            media_id = self._store_media(phone_number_id, data, mime_type, filename)
            media: JsonDict = {"mime_type": mime_type, "sha256": self._media[media_id].sha256, "id": media_id}
            if caption and kind not in ("audio", "sticker"):
                media["caption"] = caption
            if filename and kind == "document":
                media["filename"] = filename
            if kind == "audio":
                media["voice"] = voice
            return self._inbound(number, wa_id, name, {"type": kind, kind: media}, kind, text=caption or "",
                                 media_id=media_id)

    def citizen_sends_location(self, *, phone_number_id: str, wa_id: str, latitude: float, longitude: float,
                               place: str | None = None, address: str | None = None) -> JsonDict:
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise SandboxError(422, "latitude must be within ±90 and longitude within ±180")
        location: JsonDict = {"latitude": latitude, "longitude": longitude}
        location.update({k: v for k, v in (("name", place), ("address", address)) if v})
        with self._cond:
            number = self._number(phone_number_id)
            return self._inbound(number, wa_id, None, {"type": "location", "location": location}, "location",
                                 text=place or f"{latitude}, {longitude}")

    def citizen_presses(self, *, phone_number_id: str, wa_id: str, message_id: str, reply_id: str) -> JsonDict:
        """Taps a reply button or picks a list row of a message the business sent to this citizen."""
        with self._cond:
            number = self._number(phone_number_id)
            sent = number.outbound.get(message_id)
            if sent is None or sent["to"] != wa_id:
                raise SandboxError(404, "the business sent no such message to this citizen")
            context = {"from": number.spec.display_phone_number, "id": message_id}
            if sent["type"] == "template":
                fields: JsonDict = {"context": context, "type": "button",
                                    "button": {"payload": reply_id, "text": reply_id}}
                title = reply_id
            else:
                choice = interactive_choices(sent["payload"]).get(reply_id)
                if choice is None:
                    raise SandboxError(404, "that message has no button or row with this id")
                reply_type, title = choice
                fields = {"context": context, "type": "interactive",
                          "interactive": {"type": reply_type, reply_type: {"id": reply_id, "title": title}}}
            return self._inbound(number, wa_id, None, fields, "press", text=title, reply_id=reply_id,
                                 in_reply_to=message_id)

    def citizen_reads(self, *, phone_number_id: str, wa_id: str, message_id: str) -> JsonDict:
        with self._cond:
            number = self._number(phone_number_id)
            sent = number.outbound.get(message_id)
            if sent is None or sent["to"] != wa_id or sent["status"] == "failed":
                raise SandboxError(404, "no delivered message with this id to this citizen")
            return self._set_status(number, number.users[wa_id], message_id, "read")

    def citizen_sets_marketing(self, *, phone_number_id: str, wa_id: str, stop: bool) -> JsonDict:
        """"Stop promotions" / "resume" in the chat menu: the user_preferences webhook."""
        with self._cond:
            number = self._number(phone_number_id)
            if wa_id not in number.users:
                raise SandboxError(404, "this citizen never wrote to this number")
            user = number.users[wa_id]
            user.marketing_stopped = stop
            choice = "stop" if stop else "resume"
            self._log(user, "citizen", "preference", text=choice)
            return self._enqueue(number, preference_change(number.spec, user, choice=choice, at=self.now()))

    @contextlib.contextmanager
    def batched(self, phone_number_id: str) -> Iterator[None]:
        """Everything the citizens do inside the block goes out as one webhook body (one change each)."""
        with self._cond:
            number = self._number(phone_number_id)
            if number.batch is not None:
                raise SandboxError(409, "already batching")
            number.batch = []
        try:
            yield
        finally:
            with self._cond:
                changes, number.batch = number.batch or [], None
                if changes:
                    number.queue.append(Queued(body=envelope(number.spec, changes), push_id=next(self._push_ids)))
                    self._notify(phone_number_id)

    def push_raw(self, *, phone_number_id: str, body: JsonDict) -> None:
        """Delivers any body (a fixture, say) to the webhook, signed like the rest."""
        with self._cond:
            number = self._number(phone_number_id)
            number.queue.append(Queued(body=copy.deepcopy(body), push_id=next(self._push_ids)))
            self._notify(phone_number_id)

    def history(self, *, phone_number_id: str, wa_id: str, after: int = 0) -> JsonDict:
        with self._cond:
            user = self._number(phone_number_id).users.get(wa_id)
            entries = [e for e in user.transcript if e["seq"] > after] if user else []
            window_open = bool(user and user.last_inbound is not None
                               and self.now() - user.last_inbound <= WINDOW_SECONDS)
            return {"wa_id": wa_id, "name": user.name if user else None, "window_open": window_open,
                    "marketing_stopped": bool(user and user.marketing_stopped),
                    "entries": copy.deepcopy(entries), "last_seq": self._seq}
