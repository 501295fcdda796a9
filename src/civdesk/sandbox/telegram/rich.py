"""sendLocation, sendVenue and sendContact in the emulator, checked as the Bot API checks them.

Coordinates must be in range (Telegram answers "Bad Request: wrong latitude/longitude"); a venue needs
its title and address, a contact its phone number and first name.
"""

from __future__ import annotations

from typing import Any

from civdesk.sandbox.telegram.state import BotApiError, JsonDict


def coordinates(latitude: Any, longitude: Any) -> tuple[float, float]:
    """The Bot API's Float parameters: numbers, or numeric strings as forms carry them."""
    values = []
    for name, value, bound in (("latitude", latitude, 90.0), ("longitude", longitude, 180.0)):
        try:
            number = float(value) if isinstance(value, int | float | str) and not isinstance(value, bool) else None
        except ValueError:
            number = None
        if number is None:
            raise BotApiError(400, f'Bad Request: parameter "{name}" is required' if value in (None, "")
                              else f'Bad Request: parameter "{name}" must be a Float')
        if not -bound <= number <= bound:
            raise BotApiError(400, f"Bad Request: wrong {name}")
        values.append(number)
    return values[0], values[1]


class RichMixin:
    """TelegramEmulator's location and contact sends; its send helper is declared for the type checker."""

    def _bot_sends(self, token: str, chat_id: int | str, content: JsonDict, record: JsonDict, *,
                   page_text: str | None = None) -> JsonDict:
        raise NotImplementedError

    def send_location(self, token: str, *, chat_id: int | str, latitude: Any, longitude: Any,
                      reply_markup: JsonDict | None) -> JsonDict:
        lat, lon = coordinates(latitude, longitude)
        location = {"latitude": lat, "longitude": lon}
        return self._bot_sends(token, chat_id, {"location": location},
                               {"method": "sendLocation", **location, "reply_markup": reply_markup,
                                "chat_id": chat_id},
                               page_text=f"📍 {lat}, {lon}")

    def send_venue(self, token: str, *, chat_id: int | str, latitude: Any, longitude: Any, title: str | None,
                   address: str | None, reply_markup: JsonDict | None) -> JsonDict:
        lat, lon = coordinates(latitude, longitude)
        if not title or not title.strip():
            raise BotApiError(400, "Bad Request: venue title is empty" if title == "" else
                              'Bad Request: parameter "title" is required')
        if not address or not address.strip():
            raise BotApiError(400, "Bad Request: venue address is empty" if address == "" else
                              'Bad Request: parameter "address" is required')
        location = {"latitude": lat, "longitude": lon}
        # As Telegram does, a venue message carries its location too.
        venue = {"location": location, "title": title, "address": address}
        return self._bot_sends(token, chat_id, {"location": location, "venue": venue},
                               {"method": "sendVenue", **location, "title": title, "address": address,
                                "reply_markup": reply_markup, "chat_id": chat_id},
                               page_text=f"📍 {title}, {address} ({lat}, {lon})")

    def send_contact(self, token: str, *, chat_id: int | str, phone_number: str | None, first_name: str | None,
                     last_name: str | None, reply_markup: JsonDict | None) -> JsonDict:
        if not phone_number or not phone_number.strip():
            raise BotApiError(400, 'Bad Request: parameter "phone_number" is required')
        if not first_name or not first_name.strip():
            raise BotApiError(400, 'Bad Request: parameter "first_name" is required')
        contact = {"phone_number": phone_number, "first_name": first_name}
        if last_name:
            contact["last_name"] = last_name
        name = " ".join(part for part in (first_name, last_name) if part)
        return self._bot_sends(token, chat_id, {"contact": contact},
                               {"method": "sendContact", **contact, "reply_markup": reply_markup,
                                "chat_id": chat_id},
                               page_text=f"👤 {name}, {phone_number}")
