"""The emulators check location and contact sends as the platforms do: the request shapes civdesk sends are
taken, malformed ones are refused with the platform's kind of error."""

from __future__ import annotations

from typing import Any

import pytest

from civdesk.sandbox.telegram.rich import coordinates
from civdesk.sandbox.telegram.state import BotApiError
from civdesk.sandbox.viber.state import ViberApiError, validate_message
from civdesk.sandbox.whatsapp.state import GraphApiError
from civdesk.sandbox.whatsapp.validate import check_send

VIBER = {"receiver": "u1", "sender": {"name": "Мінсоц"}}
WA = {"messaging_product": "whatsapp", "to": "380671112233"}
CARD = {"name": {"formatted_name": "Гаряча лінія", "first_name": "Гаряча лінія"},
        "phones": [{"phone": "+380441234567", "type": "WORK"}]}


def test_telegram_takes_coordinates_as_numbers_or_form_strings_within_range() -> None:
    assert coordinates("50.45", 30.52) == (50.45, 30.52)
    for latitude, longitude, said in ((91, 0, "wrong latitude"), (0, "-181", "wrong longitude"),
                                      (None, 0, '"latitude" is required'), ("north", 0, "must be a Float")):
        with pytest.raises(BotApiError, match=said):
            coordinates(latitude, longitude)


def test_viber_location_and_contact_messages() -> None:
    validate_message({**VIBER, "type": "location", "location": {"lat": 50.45, "lon": 30.52}}, welcome=False)
    validate_message({**VIBER, "type": "contact", "contact": {"name": "Лінія", "phone_number": "+380441234567"}},
                     welcome=False)
    bad: list[tuple[dict[str, Any], int]] = [
        ({"type": "location"}, 4),
        ({"type": "location", "location": {"lat": 95, "lon": 0}}, 3),
        ({"type": "contact", "contact": {"name": "Лінія"}}, 4),
        ({"type": "contact", "contact": {"name": "Л" * 29, "phone_number": "+380441234567"}}, 3),
    ]
    for body, status in bad:
        with pytest.raises(ViberApiError) as caught:
            validate_message({**VIBER, **body}, welcome=False)
        assert caught.value.status == status, body


def test_whatsapp_location_and_contacts_messages() -> None:
    place = check_send({**WA, "type": "location", "location": {"latitude": 50.45, "longitude": 30.52,
                                                                "name": "ЦНАП", "address": "вул. Московська, 40/1"}})
    assert place["text"] == "📍 ЦНАП, вул. Московська, 40/1 (50.45, 30.52)"
    card = check_send({**WA, "type": "contacts", "contacts": [CARD]})
    assert card["text"] == "👤 Гаряча лінія +380441234567"
    bad: list[dict[str, Any]] = [
        {"type": "location", "location": {"latitude": 50.45}},
        {"type": "location", "location": {"latitude": -91, "longitude": 0}},
        {"type": "contacts", "contacts": []},
        {"type": "contacts", "contacts": {"name": CARD["name"]}},
        {"type": "contacts", "contacts": [{"name": {"formatted_name": "Лінія"}}]},  # and no other name part
        {"type": "contacts", "contacts": [{**CARD, "phones": [{"type": "WORK"}]}]},
    ]
    for body in bad:
        with pytest.raises(GraphApiError):
            check_send({**WA, **body})
