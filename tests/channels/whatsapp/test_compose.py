"""What send() posts: checked against the outbound shapes in shared/fixtures and WhatsApp's limits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from civdesk.channels.base import Button, OutboundFile, OutboundMessage, SendFailed
from civdesk.channels.whatsapp.compose import UPLOAD, plan, recipient_fields

FIXTURES = Path(__file__).resolve().parents[4] / "shared" / "fixtures" / "messengers" / "whatsapp"
RATING = tuple(Button(title=str(n), payload=f"csat:{n}") for n in range(1, 6))


def _fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def _shape(value: Any) -> Any:
    """Keys and nesting, not values: what two payloads must share to be the same kind of request."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def _message(**fields: Any) -> OutboundMessage:
    return OutboundMessage(recipient_external_id="380501234567", **{"text": "Вітаємо", **fields})


def test_text_is_the_documented_text_message() -> None:
    [payload] = plan(_message(text="Here's the info"), list_label="Обрати").payloads
    official = _fixture("official_send_text_request.json")
    body = {"messaging_product": "whatsapp", "recipient_type": "individual", **recipient_fields("+16505555555"),
            **payload}
    assert _shape(body) == _shape(official)


def test_up_to_three_short_buttons_are_reply_buttons() -> None:
    buttons = (Button("Так", "yes"), Button("Ні", "no"))
    [payload] = plan(_message(buttons=buttons), list_label="Обрати").payloads
    interactive = payload["interactive"]
    fixture = _fixture("outbound_interactive_button_object_pywa.json")
    assert interactive["type"] == fixture["type"] == "button"
    assert _shape(interactive["action"]) == _shape(fixture["action"])
    assert _shape(interactive["body"]) == _shape(fixture["body"])
    assert [b["reply"] for b in interactive["action"]["buttons"]] == [{"id": "yes", "title": "Так"},
                                                                       {"id": "no", "title": "Ні"}]


def test_a_rating_of_five_is_a_list() -> None:
    [payload] = plan(_message(text="Оцініть відповідь", buttons=RATING), list_label="Обрати").payloads
    interactive = payload["interactive"]
    assert interactive["type"] == "list" and interactive["body"] == {"text": "Оцініть відповідь"}
    fixture = _fixture("outbound_interactive_list_action_pywa.json")
    row_keys = {"id", "title"}
    assert set(interactive["action"]) == set(fixture) and interactive["action"]["button"] == "Обрати"
    rows = interactive["action"]["sections"][0]["rows"]
    assert [r["id"] for r in rows] == [f"csat:{n}" for n in range(1, 6)] and all(set(r) == row_keys for r in rows)


def test_a_long_title_moves_three_buttons_to_a_list_with_the_title_in_the_description() -> None:
    long = "Записатися на прийом до фахівця"
    buttons = (Button("Так", "a"), Button(long, "b"), Button("Ні", "c"))
    [payload] = plan(_message(buttons=buttons), list_label="Оберіть варіант відповіді").payloads
    action = payload["interactive"]["action"]
    row = action["sections"][0]["rows"][1]
    assert len(row["title"]) == 24 and row["title"].endswith("…") and row["description"] == long
    assert len(action["button"]) == 20


def test_more_than_ten_buttons_continue_in_further_lists() -> None:
    buttons = tuple(Button(f"Пункт {n}", f"p{n}") for n in range(12))
    steps = plan(_message(buttons=buttons), list_label="Обрати")
    assert [len(p["interactive"]["action"]["sections"][0]["rows"]) for p in steps.payloads] == [10, 2]
    assert steps.payloads[1]["interactive"]["body"] == {"text": "(2/2)"}
    assert steps.primary == 0  # the first list carries the agent's text


def test_a_public_file_goes_by_link_with_its_caption() -> None:
    upload = OutboundFile(name="довідка.pdf", mime_type="application/pdf", data=b"%PDF-1.4",
                          public_url="https://example.gov.ua/f/1.pdf")
    [payload] = plan(_message(text="Ваша довідка", file=upload), list_label="Обрати").payloads
    fixture = _fixture("outbound_media_by_link_object_pywa.json")
    assert payload["type"] == "document" and set(payload["document"]) == set(fixture)
    assert payload["document"] == {"link": "https://example.gov.ua/f/1.pdf", "caption": "Ваша довідка",
                                   "filename": "довідка.pdf"}


def test_files_are_uploaded_as_the_kind_their_type_and_size_allow() -> None:
    photo = OutboundFile(name="a.jpg", mime_type="image/jpeg", data=b"\xff\xd8" * 10)
    [payload] = plan(_message(file=photo), list_label="x").payloads
    assert payload == {"type": UPLOAD, "kind": "image", "fields": {"caption": "Вітаємо"}}
    huge = OutboundFile(name="big.png", mime_type="image/png", data=b"0" * (5 * 1024 * 1024 + 1))
    [payload] = plan(_message(file=huge), list_label="x").payloads
    assert payload["kind"] == "document" and payload["fields"]["filename"] == "big.png"
    voice = OutboundFile(name="v.ogg", mime_type="audio/ogg; codecs=opus", data=b"OggS")
    steps = plan(_message(file=voice), list_label="x")
    assert [p["type"] for p in steps.payloads] == [UPLOAD, "text"] and steps.primary == 1  # audio has no caption
    with_buttons = plan(_message(file=photo, buttons=RATING[:2]), list_label="x")
    assert [p["type"] for p in with_buttons.payloads] == [UPLOAD, "interactive"] and with_buttons.primary == 1


def test_templates_go_as_approved() -> None:
    [payload] = plan(_message(template="appointment_reminder"), list_label="x").payloads
    assert payload == {"type": "template", "template": {"name": "appointment_reminder", "language": {"code": "uk"}}}


@pytest.mark.parametrize(("message", "code"), [
    (_message(text="x" * 4097), "too_long"),
    (_message(text="x" * 1025, buttons=RATING), "too_long"),
    (_message(text=" "), "empty"),
    (_message(text="", buttons=RATING), "empty"),
    (_message(buttons=(Button("Так", "y" * 257),)), "invalid"),
    (_message(file=OutboundFile(name="x.zip", mime_type="application/zip", data=b"0" * (100 * 1024 * 1024 + 1))),
     "too_large"),
])
def test_what_whatsapp_would_refuse_fails_here_permanently(message: OutboundMessage, code: str) -> None:
    with pytest.raises(SendFailed) as caught:
        plan(message, list_label="x")
    assert caught.value.permanent and caught.value.code == code


def test_recipients_by_phone_or_business_scoped_id() -> None:
    assert recipient_fields("+380501234567") == {"to": "+380501234567"}
    assert recipient_fields("380501234567") == {"to": "380501234567"}
    assert recipient_fields("US.13491208655302741918") == {"recipient": "US.13491208655302741918"}
