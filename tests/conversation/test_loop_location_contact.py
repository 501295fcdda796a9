"""An agent's location and contact card, end to end through each platform's emulator: the reply API stores
them as attachments, the delivery worker sends them the platform's way, the emulator records the request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.channels.viber.support import CITIZEN as VIBER_CITIZEN
from tests.channels.viber.support import TOKEN as VIBER_TOKEN
from tests.channels.whatsapp.support import PHONE_ID
from tests.conversation.test_loop_messenger import CITIZEN as FB_CITIZEN
from tests.conversation.test_loop_messenger import PAGE, Messenger, fb  # noqa: F401  (the fixture)
from tests.conversation.test_loop_viber import Viber, _viber_delivers, viber  # noqa: F401  (the fixture)
from tests.conversation.test_loop_whatsapp import CITIZEN as WA_CITIZEN
from tests.conversation.test_loop_whatsapp import WhatsApp, wa  # noqa: F401  (the fixture)
from tests.support import agent_desk as desk
from tests.support.stack import Stack
from tests.support.world import BOT_TOKEN, login

CHAT = 700300
CENTRE = {"latitude": 50.4501, "longitude": 30.5234, "title": "ЦНАП Печерського району",
          "address": "вул. Московська, 40/1, Київ"}
POINT = {"latitude": -33.8568, "longitude": 151.2153}
HOTLINE = {"phone_number": "+380 (44) 123-45-67", "first_name": "Гаряча лінія", "last_name": "Мінсоцполітики"}
PHONE = "+380441234567"
STORED_HOTLINE = {"kind": "contact", "phone_number": PHONE, "first_name": "Гаряча лінія", "last_name": "Мінсоцполітики"}


def _send_both(
    stack: Stack, headers: dict[str, str], conversation_id: int, sends: Callable[[int], object]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The place with a text, then the card. Replies to one citizen go in parallel jobs, each waiting for its
    pacing slot, so the card is sent only once the place's two messages are out, to keep the order known."""
    place = desk.reply(stack, headers, conversation_id, "Найближчий центр:", location=CENTRE)
    assert place["attachments"] == [{"kind": "location", **CENTRE}]
    sends(2)
    card = desk.reply(stack, headers, conversation_id, "", contact=HOTLINE)
    assert card["attachments"] == [STORED_HOTLINE]  # stored as a citizen's shared contact is, the number normalised
    return place, card


def test_telegram_sends_a_venue_a_location_and_a_contact(stack: Stack) -> None:
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=CHAT, text="Де найближчий ЦНАП?")
    headers = login(stack.client, stack.world.agent_email)
    conversation_id = desk.conversation(stack, headers, "telegram")["id"]

    place, card = _send_both(stack, headers, conversation_id,
                             lambda n: stack.emulator.wait_for_sends(token=BOT_TOKEN, chat_id=CHAT, count=n))
    text, venue, contact = stack.emulator.wait_for_sends(token=BOT_TOKEN, chat_id=CHAT, count=3)
    point = desk.reply(stack, headers, conversation_id, "", location=POINT)
    location = stack.emulator.wait_for_sends(token=BOT_TOKEN, chat_id=CHAT, count=4)[3]

    assert (text["method"], text["text"]) == ("sendMessage", "Найближчий центр:")  # sendVenue takes no caption
    assert {k: venue[k] for k in ("method", "latitude", "longitude", "title", "address")} == {
        "method": "sendVenue", **CENTRE}
    assert {k: contact[k] for k in ("method", "phone_number", "first_name", "last_name")} == {
        "method": "sendContact", **{k: v for k, v in STORED_HOTLINE.items() if k != "kind"}}
    assert {k: location[k] for k in ("method", "latitude", "longitude")} == {"method": "sendLocation", **POINT}
    for message in (place, card, point):
        desk.message_when(stack, headers, conversation_id, message["id"], "delivered", until=desk.status("delivered"))


def test_viber_sends_the_text_then_a_location_and_a_contact(stack: Stack, viber: Viber) -> None:  # noqa: F811 (the imported fixture)
    viber.emulator.citizen_says(token=VIBER_TOKEN, user_id=VIBER_CITIZEN, text="Де найближчий ЦНАП?")
    conversation_id = desk.conversation(stack, viber.headers, "viber")["id"]

    place, card = _send_both(stack, viber.headers, conversation_id,
                             lambda n: viber.emulator.wait_for_sends(token=VIBER_TOKEN, count=n))
    text, location, contact = (s["body"] for s in viber.emulator.wait_for_sends(token=VIBER_TOKEN, count=3))
    # Viber's location has no name or address: they go in the text before it.
    assert (text["type"], text["text"]) == ("text", f"Найближчий центр:\n{CENTRE['title']}, {CENTRE['address']}")
    assert (location["type"], location["location"]) == ("location", {"lat": 50.4501, "lon": 30.5234})
    assert (contact["type"], contact["contact"]) == ("contact", {"name": "Гаряча лінія Мінсоцполітики",
                                                                 "phone_number": PHONE})
    sends = viber.emulator.sent(token=VIBER_TOKEN)
    for message, send in ((place, sends[1]), (card, sends[2])):
        desk.message_when(stack, viber.headers, conversation_id, message["id"], "sent", until=desk.accepted)
        _viber_delivers(stack, viber, send["message_token"])  # receipts follow the location and the card
        desk.message_when(stack, viber.headers, conversation_id, message["id"], "delivered",
                          until=desk.status("delivered"))


def test_whatsapp_sends_a_location_and_a_contacts_card(stack: Stack, wa: WhatsApp) -> None:  # noqa: F811 (the imported fixture)
    wa.emulator.citizen_says(phone_number_id=PHONE_ID, wa_id=WA_CITIZEN, text="Де найближчий ЦНАП?", name="Ігор")
    conversation_id = desk.conversation(stack, wa.headers, "whatsapp")["id"]

    place, card = _send_both(stack, wa.headers, conversation_id, lambda n: wa.emulator.wait_for_sends(
        phone_number_id=PHONE_ID, to=WA_CITIZEN, count=n))
    # WhatsApp's pair limit paces messages to one citizen about 6 s apart: the card comes second.
    text, location, contacts = wa.emulator.wait_for_sends(phone_number_id=PHONE_ID, to=WA_CITIZEN, count=3,
                                                          timeout=20)
    assert (text["type"], text["text"]) == ("text", "Найближчий центр:")
    assert location["payload"]["location"] == {"latitude": 50.4501, "longitude": 30.5234,
                                               "name": CENTRE["title"], "address": CENTRE["address"]}
    assert contacts["payload"]["contacts"] == [{
        "name": {"formatted_name": "Гаряча лінія Мінсоцполітики", "first_name": "Гаряча лінія",
                 "last_name": "Мінсоцполітики"},
        "phones": [{"phone": PHONE, "type": "WORK"}]}]
    for message in (place, card):
        desk.message_when(stack, wa.headers, conversation_id, message["id"], "delivered",
                          until=desk.status("delivered"), timeout=10)


def test_messenger_sends_them_as_text_with_a_map_link(stack: Stack, fb: Messenger) -> None:  # noqa: F811 (the imported fixture)
    fb.emulator.citizen_says(page_id=PAGE.page_id, psid=FB_CITIZEN, text="Де найближчий ЦНАП?")
    conversation_id = desk.conversation(stack, fb.headers, "messenger")["id"]

    place, card = _send_both(stack, fb.headers, conversation_id,
                             lambda n: fb.emulator.wait_for_sends(page_id=PAGE.page_id, psid=FB_CITIZEN, count=n))
    sends = fb.emulator.wait_for_sends(page_id=PAGE.page_id, psid=FB_CITIZEN, count=3)
    assert [s["message"]["text"] for s in sends] == [
        "Найближчий центр:",
        f"{CENTRE['title']}\n{CENTRE['address']}\n50.450100, 30.523400\n"
        "https://www.openstreetmap.org/?mlat=50.450100&mlon=30.523400#map=17/50.450100/30.523400",
        f"Гаряча лінія Мінсоцполітики\n{PHONE}",
    ]
    for message in (place, card):
        desk.message_when(stack, fb.headers, conversation_id, message["id"], "accepted", until=desk.accepted)


def test_invalid_locations_and_contacts_are_refused_with_the_reason(stack: Stack) -> None:
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=CHAT, text="Питання")
    headers = {**login(stack.client, stack.world.agent_email), "accept-language": "en"}
    conversation_id = desk.conversation(stack, headers, "telegram")["id"]
    url = f"/api/v1/conversations/{conversation_id}/messages"

    def refused(body: dict[str, Any], status: int) -> dict[str, Any]:
        response = stack.client.post(url, headers=headers, json={"text": "", **body})
        assert response.status_code == status, response.text
        return dict(response.json()["error"])

    for location, field in (({"latitude": 91, "longitude": 0}, "latitude"),
                            ({"latitude": 0, "longitude": -180.5}, "longitude"),
                            ({"latitude": 10}, "longitude")):
        error = refused({"location": location}, 422)
        assert [p["field"] for p in error["problems"]] == [f"body.location.{field}"]
    for phone in ("12345", "0441234567", "+380-44-abc-45-67", "+0441234567"):
        error = refused({"contact": {"phone_number": phone, "first_name": "Лінія"}}, 422)
        assert "international form" in error["problems"][0]["message"], phone
    assert refused({"contact": {"phone_number": PHONE, "first_name": " "}}, 422)["problems"][0]["field"] == (
        "body.contact.first_name")
    both = refused({"location": POINT, "contact": {"phone_number": PHONE, "first_name": "Лінія"}}, 400)
    assert "two replies" in both["message"]
    buttons = refused({"location": POINT, "buttons": [{"title": "Так", "payload": "yes"}]}, 400)
    assert "cannot carry buttons" in buttons["message"]
    assert "template" in refused({"location": POINT, "template": "hello"}, 400)["message"]
    assert [m["direction"] for m in desk.messages(stack, headers, conversation_id)] == ["in"]  # nothing stored
