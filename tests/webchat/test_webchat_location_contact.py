"""An agent's location and contact card in the citizen web chat: delivered at once, shown in the transcript
with the links the chat page renders (the map, tel:)."""

from __future__ import annotations

from tests.support import agent_desk as desk
from tests.support.stack import Stack
from tests.support.world import wait_for
from tests.webchat.test_webchat_api import Agent, _send, _session, _transcript


def test_a_location_and_a_contact_reach_the_citizens_transcript(stack: Stack) -> None:
    token = _session(stack)
    assert _send(stack, token, "Де найближчий ЦНАП?").status_code == 202
    agent = Agent(stack)
    conversation_id = agent.conversation()["id"]
    centre = {"latitude": 50.4501, "longitude": 30.5234, "title": "ЦНАП", "address": "вул. Московська, 40/1"}
    place = desk.reply(stack, agent.headers, conversation_id, "Найближчий центр:", location=centre)
    card = desk.reply(stack, agent.headers, conversation_id, "",
                      contact={"phone_number": "+380 44 123 45 67", "first_name": "Гаряча лінія"})
    for message in (place, card):
        desk.message_when(stack, agent.headers, conversation_id, message["id"], "delivered",
                          until=desk.status("delivered"))

    _, shown_place, shown_card = wait_for(lambda: len(_transcript(stack, token)) == 3 and _transcript(stack, token),
                                          what="both replies")
    assert shown_place["text"] == "Найближчий центр:" and shown_place["attachments"] == []
    assert shown_place["location"] == {
        **centre, "map_url": "https://www.openstreetmap.org/?mlat=50.450100&mlon=30.523400#map=17/50.450100/30.523400"}
    assert shown_place["contact"] is None
    assert shown_card["contact"] == {"name": "Гаряча лінія", "phone_number": "+380441234567",
                                     "tel_url": "tel:+380441234567"}
    assert shown_card["location"] is None
