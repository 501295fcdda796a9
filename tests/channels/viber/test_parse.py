"""Every Viber payload in shared/fixtures parses, or is deliberately not a callback (said here);
signatures, the welcome message and the keyboard marker."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from civdesk.channels.base import (
    Button,
    ChannelAccount,
    InboundEvent,
    InboundKind,
    MalformedPayload,
    ReceiptStatus,
    Sender,
    SignatureInvalid,
)
from civdesk.channels.viber import ViberAdapter, keyboard
from civdesk.channels.viber.parse import parse_callback
from civdesk.sandbox.viber.state import validate_keyboard

FIXTURES = Path(__file__).resolve().parents[4] / "shared" / "fixtures" / "messengers" / "viber"
# Not callbacks: an answer of send_message (mapped to RetryLater in test_adapter.py) and a keyboard
# object (checked against the emulator's validation below).
NOT_CALLBACKS = {"official_send_message_error_status12_too_many_requests.json", "viberbot_node_keyboard_sample.json"}
PROBES = {"captured_event_webhook.json", "viberbot_node_event_webhook.json"}
VECTOR = ("captured_event_unsubscribed.json", "test-viber-auth-token",
          "1a123cf017bd4efc987105eab80fa32eb0b2f5cdb85959bf9b945f5f7eb2a32f")
ADAPTER = ViberAdapter()
ACCOUNT = ChannelAccount(id=1, config={}, secrets={"token": "test-viber-auth-token"})


def _raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _one(name: str) -> InboundEvent:
    [event] = parse_callback(_raw(name)).events
    return event


def _with(name: str, **changes: Any) -> bytes:
    data = json.loads(_raw(name))
    data.update(changes)
    return json.dumps(data).encode()


def test_fixture_folder_is_there() -> None:
    assert len(list(FIXTURES.glob("*.json"))) >= 19


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json") if p.name not in NOT_CALLBACKS))
def test_every_callback_fixture_parses(name: str) -> None:
    result = parse_callback(_raw(name))
    if name in PROBES:
        assert not result.events and result.ignored_reason == "webhook probe after set_webhook"
    else:
        assert len(result.events) == 1 and result.ignored_reason is None, name


def test_conversation_started_is_started_with_the_deep_link_context() -> None:
    event = _one("official_event_conversation_started.json")
    assert event.kind is InboundKind.STARTED
    assert event.platform_key == "conversation_started:4912661846655238145"
    assert event.sender == Sender(external_id="01234567890A=", display_name="John McClane", language="en")
    assert event.text == "context information"
    assert event.occurred_at == datetime.fromtimestamp(1457764197.627, tz=UTC)
    captured = _one("captured_event_conversation_started.json")
    assert captured.kind is InboundKind.STARTED and captured.text == ""
    assert captured.sender.external_id == "3SQNc4FPUQmysaM/AQEhXg==" and captured.sender.language == "en-CA"


def test_subscribed_and_unsubscribed() -> None:
    subscribed = _one("docs_event_subscribed.json")
    assert subscribed.kind is InboundKind.UNBLOCKED and subscribed.sender.display_name == "John McClane"
    assert subscribed.platform_key == "subscribed:4912661846655238145"
    gone = _one("captured_event_unsubscribed.json")
    assert gone.kind is InboundKind.BLOCKED and gone.sender.external_id == "3SQNc4FPUQmysaM/AQEhXg=="
    assert gone.platform_key == "unsubscribed:5466394919049723652"


def test_receipts_keep_the_64_bit_token_exactly() -> None:
    delivered = _one("captured_event_delivered.json")
    assert (delivered.kind, delivered.receipt_status) == (InboundKind.RECEIPT, ReceiptStatus.DELIVERED)
    assert delivered.receipt_for == "5466297578174182639"  # > 2^53: a float would have rounded it
    assert delivered.platform_key == "delivered:5466297578174182639" and delivered.error is None
    seen = _one("captured_event_seen.json")
    assert (seen.receipt_status, seen.receipt_for) == (ReceiptStatus.READ, "5466297467809468529")
    failed = _one("docs_event_failed.json")
    assert (failed.receipt_status, failed.error) == (ReceiptStatus.FAILED, "failure description")
    assert failed.sender.external_id == "01234567890A="
    # Two receipts of one message are two events: the key includes the event.
    assert parse_callback(_with("captured_event_delivered.json", event="seen")).events[0].platform_key != \
        delivered.platform_key


def test_text_messages_ignore_stray_media_fields() -> None:
    docs = _one("docs_event_message_text.json")  # the docs' example also carries media and location
    assert (docs.kind, docs.text, docs.attachments) == (InboundKind.MESSAGE, "a message to the service", ())
    assert docs.platform_key == "message:4912661846655238145"
    node = _one("viberbot_node_message_text.json")
    assert (node.kind, node.text) == (InboundKind.MESSAGE, "Hi")  # tracking_data "{}" is not our marker
    assert node.sender.display_name == "Idan Harel" and node.sender.language is None


def test_media_messages_carry_their_url_as_file_id() -> None:
    picture = _one("viberbot_node_message_picture.json")
    assert picture.text == "hello"
    assert picture.attachments == ({"kind": "photo", "file_id": "http://viber.com"},)
    video = _one("viberbot_node_message_video.json")
    assert video.attachments == ({"kind": "video", "file_id": "http://viber.com", "size": 1234, "duration": 123},)
    file = _one("viberbot_node_message_file.json")
    assert file.attachments == ({"kind": "document", "file_id": "http://viber.com", "name": "test.com",
                                 "size": 1234},)


def test_contact_location_and_url() -> None:
    contact = _one("viberbot_node_message_contact.json")
    assert contact.attachments == ({"kind": "contact", "phone_number": "97245611234", "first_name": "idan"},)
    location = _one("viberbot_node_message_location.json")
    assert location.attachments == ({"kind": "location", "latitude": 1234.0, "longitude": 4312.0},)
    url = _one("viberbot_node_message_url.json")
    assert (url.kind, url.text, url.attachments) == (InboundKind.MESSAGE, "http://viber.com", ())


def test_sticker_and_unknown_types() -> None:
    base = json.loads(_raw("viberbot_node_message_text.json"))
    base["message"] = {"type": "sticker", "sticker_id": 46105, "media": "https://cdn.example/s.png"}
    [sticker] = parse_callback(json.dumps(base).encode()).events
    assert sticker.attachments == ({"kind": "sticker", "file_id": "https://cdn.example/s.png"},)
    base["message"] = {"type": "rich_media", "rich_media": {}}
    assert parse_callback(json.dumps(base).encode()).ignored_reason == "message type not handled: rich_media"
    assert parse_callback(_with("captured_event_seen.json", event="client_status")).ignored_reason == \
        "event not handled: client_status"


def test_a_tap_on_our_keyboard_is_a_button_and_typing_is_not() -> None:
    _board, tracking = keyboard.build([Button(str(n), f"csat:{n}") for n in range(1, 6)])
    base = json.loads(_raw("viberbot_node_message_text.json"))
    base["message"] = {"type": "text", "text": "4", "tracking_data": tracking}
    [tap] = parse_callback(json.dumps(base).encode()).events
    assert (tap.kind, tap.button_payload, tap.text) == (InboundKind.BUTTON, "csat:4", "4")
    assert tap.platform_key == "message:4978563241957515056"
    # tracking_data comes back with every reply while the keyboard is shown, typed text included.
    base["message"] = {"type": "text", "text": "Дякую, все зрозуміло", "tracking_data": tracking}
    [typed] = parse_callback(json.dumps(base).encode()).events
    assert typed.kind is InboundKind.MESSAGE and typed.button_payload is None
    base["message"] = {"type": "text", "text": "4", "tracking_data": keyboard.MARKER + "{broken"}
    assert parse_callback(json.dumps(base).encode()).events[0].kind is InboundKind.MESSAGE


def test_keyboard_layout_and_limits() -> None:
    board, _ = keyboard.build([Button(str(n), f"csat:{n}") for n in range(1, 6)])
    assert [(b["Columns"], b["ActionBody"], b["ActionType"]) for b in board["Buttons"]] == \
        [(1, str(n), "reply") for n in range(1, 6)]  # short titles: one row of five
    long = [Button("Отримати довідку про доходи", "a"), Button("Записатися на прийом до фахівця", "b"),
            Button("Так", "yes"), Button("Ні", "no"), Button("Так", "also-yes")]
    board, tracking = keyboard.build(long)
    assert [b["Columns"] for b in board["Buttons"]] == [6, 6, 2, 2, 2]
    assert [b["ActionBody"] for b in board["Buttons"]][2:] == ["Так", "Ні", "Так (2)"]  # taps stay tellable
    assert keyboard.payload_for("Так (2)", tracking) == "also-yes"
    assert board["Buttons"][0]["Text"] == "Отримати довідку про доходи"
    assert keyboard.build([Button("<b>&</b>", "x")])[0]["Buttons"][0]["Text"] == "&lt;b&gt;&amp;&lt;/b&gt;"
    with pytest.raises(keyboard.KeyboardTooLarge, match="at most 24"):
        keyboard.build([Button(str(n), str(n)) for n in range(25)])
    with pytest.raises(keyboard.KeyboardTooLarge, match="tracking_data"):
        keyboard.build([Button(f"t{n}", "p" * 300) for n in range(20)])


def test_keyboards_pass_the_emulators_checks_like_the_sdk_sample() -> None:
    sample = json.loads(_raw("viberbot_node_keyboard_sample.json"))
    assert validate_keyboard(sample) == sample
    board, _ = keyboard.build([Button("Так", "yes"), Button("Ні", "no")])
    assert validate_keyboard(board) == board


@pytest.mark.parametrize("body", [
    b"", b"not json", b"\xff\xfe", b"[]", b"{}", b'{"event": 5}', b'{"event": "message"}',
    b'{"event": "message", "message_token": "abc"}',
    b'{"event": "message", "message_token": 1, "sender": {"id": "u"}}',
    b'{"event": "message", "message_token": 1, "sender": {"name": "x"}, "message": {"type": "text", "text": "a"}}',
    b'{"event": "message", "message_token": 1, "sender": {"id": "u"}, "message": {"text": "a"}}',
    b'{"event": "message", "message_token": 1, "sender": {"id": "u"}, "message": {"type": "text", "text": 5}}',
    b'{"event": "message", "message_token": 1, "sender": {"id": "u"}, "message": {"type": "picture"}}',
    b'{"event": "message", "message_token": 1, "sender": {"id": "u"}, "message": {"type": "location"}}',
    b'{"event": "message", "message_token": 1, "sender": {"id": "u"}, '
    b'"message": {"type": "location", "location": {"lat": "1", "lon": 2}}}',
    b'{"event": "seen", "message_token": 1}',
    b'{"event": "seen", "message_token": 1, "user_id": "u", "timestamp": "yesterday"}',
    b'{"event": "seen", "message_token": 1, "user_id": "u", "timestamp": 99999999999999999999}',
    b'{"event": "subscribed", "message_token": true, "user": {"id": "u"}}',
    b'{"event": "conversation_started", "message_token": 1, "user": "u"}',
])
def test_malformed_bodies_raise_with_a_reason(body: bytes) -> None:
    with pytest.raises(MalformedPayload) as caught:
        parse_callback(body)
    assert caught.value.reason


def test_empty_text_is_ignored_not_refused() -> None:
    body = b'{"event": "message", "message_token": 1, "sender": {"id": "u"}, "message": {"type": "text", "text": " "}}'
    assert parse_callback(body).ignored_reason == "text message with no text"


def test_the_readme_signature_vector_verifies() -> None:
    name, key, digest = VECTOR
    body = _raw(name)
    assert hmac.new(key.encode(), body, hashlib.sha256).hexdigest() == digest
    ADAPTER.verify(account=ACCOUNT, headers={"x-viber-content-signature": digest}, body=body)
    ADAPTER.verify(account=ACCOUNT, headers={"x-viber-content-signature": digest.upper()}, body=body)
    # The node SDK also takes the signature from ?sig=…; civdesk passes the query string as ":query".
    ADAPTER.verify(account=ACCOUNT, headers={":query": f"a=1&sig={digest}"}, body=body)


@pytest.mark.parametrize("headers", [
    {}, {"x-viber-content-signature": ""}, {"x-viber-content-signature": "0" * 64},
    {"x-viber-content-signature": "not hex at all ✓"}, {":query": "sig="}, {":query": "sig=" + "a" * 64},
])
def test_wrong_or_missing_signatures_are_refused(headers: dict[str, str]) -> None:
    with pytest.raises(SignatureInvalid) as caught:
        ADAPTER.verify(account=ACCOUNT, headers=headers, body=_raw(VECTOR[0]))
    assert "test-viber-auth-token" not in caught.value.reason


def test_a_signature_for_other_bytes_or_another_token_is_refused() -> None:
    name, _, digest = VECTOR
    with pytest.raises(SignatureInvalid):
        ADAPTER.verify(account=ACCOUNT, headers={"x-viber-content-signature": digest}, body=_raw(name) + b" ")
    other = ChannelAccount(id=2, config={}, secrets={"token": "another-token"})
    with pytest.raises(SignatureInvalid):
        ADAPTER.verify(account=other, headers={"x-viber-content-signature": digest}, body=_raw(name))
    empty = ChannelAccount(id=3, config={}, secrets={})
    with pytest.raises(SignatureInvalid, match="no Viber auth token"):
        ADAPTER.verify(account=empty, headers={"x-viber-content-signature": digest}, body=_raw(name))


def test_there_is_no_get_handshake() -> None:
    # Viber checks a webhook with the signed `webhook` POST; civdesk answers a GET with 404.
    for params in ({}, {"hub.mode": "subscribe", "hub.verify_token": "test-viber-auth-token", "hub.challenge": "1"}):
        with pytest.raises(NotImplementedError):
            ADAPTER.handshake(account=ACCOUNT, params=params)


def test_the_welcome_message_answers_conversation_started_only() -> None:
    started = parse_callback(_raw("official_event_conversation_started.json")).events
    welcome = ADAPTER.immediate_reply(account=ACCOUNT, events=started)
    assert welcome is not None and "receiver" not in welcome
    assert welcome["type"] == "text" and welcome["text"].startswith("Вітаємо!")
    assert welcome["sender"] == {"name": "civdesk"}
    custom = ChannelAccount(id=1, config={"welcome_text": "Добрий день!", "sender_name": "Пенсійний фонд України — "
                                          "консультації"}, secrets={"token": "t"})
    reply = ADAPTER.immediate_reply(account=custom, events=started)
    assert reply is not None and reply["text"] == "Добрий день!" and len(reply["sender"]["name"]) == 28
    for name in ("docs_event_message_text.json", "docs_event_subscribed.json", "captured_event_delivered.json"):
        assert ADAPTER.immediate_reply(account=ACCOUNT, events=parse_callback(_raw(name)).events) is None


def test_secrets_stay_out_of_reprs() -> None:
    assert "test-viber-auth-token" not in repr(ACCOUNT)
    from civdesk.channels.viber.client import ViberClient
    assert "secret-token" not in repr(ViberClient(token="secret-token"))
