"""Every WhatsApp fixture in shared/fixtures parses as decided, or is deliberately not an inbound body (said here)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from civdesk.channels.base import ChannelAccount, InboundKind, MalformedPayload, ReceiptStatus, SignatureInvalid
from civdesk.channels.whatsapp import WhatsAppAdapter
from civdesk.channels.whatsapp.parse import parse_webhook

FIXTURES = Path(__file__).resolve().parents[4] / "shared" / "fixtures" / "messengers" / "whatsapp"
# Not webhook bodies: outbound requests and answers (checked against what compose builds, in
# test_compose.py) and bare error objects (checked against the error mapping, in test_adapter.py).
NOT_INBOUND = {
    "official_send_text_request.json",
    "outbound_interactive_button_object_pywa.json",
    "outbound_interactive_list_action_pywa.json",
    "outbound_mark_as_read_request_pywa.json",
    "outbound_media_by_link_object_pywa.json",
    "outbound_send_response_pywa.json",
    "outbound_send_text_request_pywa.json",
    "pywa_error_object_131047_reengagement.json",
    "pywa_error_object_131053_media_upload.json",
    "pywa_error_object_190_expired_token.json",
}
M, B, R, U = InboundKind.MESSAGE, InboundKind.BUTTON, InboundKind.RECEIPT, InboundKind.UNBLOCKED
# What each inbound fixture becomes; () = deliberately nothing, with the reason's key words.
EXPECTED: dict[str, tuple[tuple[InboundKind, ...], str]] = {
    "official_webhook_text_message.json": ((M,), ""),
    "pywa_callback_button__button.json": ((B,), ""),
    "pywa_callback_button__quick_reply.json": ((B,), ""),
    "pywa_callback_button__quick_reply_without_context.json": ((B,), ""),
    "pywa_callback_selection__callback.json": ((B,), ""),
    "pywa_callback_selection__description.json": ((B,), ""),
    "pywa_deleted_message__revoke.json": ((), "deletion"),
    "pywa_edited_message__image.json": ((), "edit"),
    "pywa_message__chosen_location.json": ((M,), ""),
    "pywa_message__contacts.json": ((M,), ""),
    "pywa_message__current_location.json": ((M,), ""),
    "pywa_message__document.json": ((M,), ""),
    "pywa_message__image.json": ((M,), ""),
    "pywa_message__interactive_message_with_err.json": ((), "131000"),
    "pywa_message__media_with_url.json": ((M,), ""),
    "pywa_message__reaction.json": ((), "reaction"),
    "pywa_message__referral.json": ((M,), ""),
    "pywa_message__reply.json": ((M,), ""),
    "pywa_message__text.json": ((M,), ""),
    "pywa_message__unsupported.json": ((), "131051"),
    "pywa_message__voice.json": ((M,), ""),
    "pywa_message_status__delivered.json": ((R,), ""),
    "pywa_message_status__failed.json": ((R,), ""),
    "pywa_message_status__read.json": ((R,), ""),
    "pywa_message_status__sent.json": ((R,), ""),
    "pywa_system__identity_change.json": ((), "system"),
    "pywa_system__phone_number_change.json": ((), "972912345678"),
    "pywa_user_marketing_preferences__resume.json": ((U,), ""),
    "pywa_user_marketing_preferences__signup.json": ((U,), ""),
}
SECRET = "test-app-secret"
# shared/fixtures/messengers/README.md: HMAC-SHA256 of official_webhook_text_message.json with this key.
KNOWN_SIGNATURE = "a0b920aa238bb2b2ae8a520acc96012071f452329ab312b098e170cea71e3ba5"


def _raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_raw(name))
    return data


def _one(name: str) -> Any:
    [event] = parse_webhook(_raw(name)).events
    return event


def _value(body: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = body["entry"][0]["changes"][0]["value"]
    return value


def account(**secrets: str) -> ChannelAccount:
    return ChannelAccount(id=1, config={"phone_number_id": "106540352242922"},
                          secrets={"token": "t", "app_secret": SECRET, "verify_token": "vt-1", **secrets})


def test_every_fixture_is_classified() -> None:
    names = {p.name for p in FIXTURES.glob("*.json")}
    assert len(names) >= 39
    assert names == NOT_INBOUND | set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_inbound_fixture_parses_as_decided(name: str) -> None:
    kinds, reason = EXPECTED[name]
    result = parse_webhook(_raw(name))
    assert tuple(e.kind for e in result.events) == kinds
    if not kinds:
        assert result.ignored_reason and reason in result.ignored_reason


@pytest.mark.parametrize("name", sorted(NOT_INBOUND))
def test_outbound_and_error_objects_are_not_webhook_bodies(name: str) -> None:
    with pytest.raises(MalformedPayload, match="whatsapp_business_account"):
        parse_webhook(_raw(name))


def test_text_message_from_the_official_docs() -> None:
    event = _one("official_webhook_text_message.json")
    assert event.kind is InboundKind.MESSAGE
    assert event.text == "Does it come in another color?"
    assert event.platform_key == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    assert (event.sender.external_id, event.sender.display_name) == ("16505551234", "Sheena Nelson")
    assert event.occurred_at == datetime.fromtimestamp(1749416383, UTC)


def test_media_carries_the_media_id_to_fetch() -> None:
    image = _one("pywa_message__image.json")
    assert image.attachments == ({"kind": "photo", "file_id": "65463453", "mime_type": "image/jpeg"},)
    assert _one("pywa_message__media_with_url.json").attachments == image.attachments
    document = _one("pywa_message__document.json")
    assert document.text == "caption"
    assert document.attachments[0] == {"kind": "document", "file_id": "1234567890987654321",
                                       "mime_type": "application/pdf", "name": "filename.pdf"}
    voice = _one("pywa_message__voice.json")
    assert voice.attachments[0]["kind"] == "voice" and voice.attachments[0]["mime_type"].startswith("audio/ogg")
    for kind in ("video", "sticker", "audio"):
        body = _load("pywa_message__image.json")
        message = _value(body)["messages"][0]
        message["type"], message[kind] = kind, message.pop("image")
        [event] = parse_webhook(json.dumps(body).encode()).events
        assert event.attachments[0]["kind"] == kind and event.attachments[0]["file_id"] == "65463453"


def test_locations_and_contacts() -> None:
    chosen = _one("pywa_message__chosen_location.json").attachments[0]
    assert chosen == {"kind": "location", "latitude": 37.4611978, "longitude": -122.2164385,
                      "title": "Facebook HQ", "address": "1 Hacker Way, Menlo Park, CA 94025"}
    current = _one("pywa_message__current_location.json").attachments[0]
    assert current == {"kind": "location", "latitude": 12.25089, "longitude": 43.90539}
    cards = _one("pywa_message__contacts.json").attachments
    assert [(c["first_name"], c["last_name"], c["phone_number"]) for c in cards] == [
        ("Chandler", "Bing", "+1 555-555-5555"), ("Monica", None, "+1 666-666-6666"),
        ("Rachel", "Green", "+1 777-777-7777")]
    assert all(c["kind"] == "contact" and c["is_own_number"] for c in cards)  # their wa_id is the sender's


def test_button_presses_carry_our_id_as_payload() -> None:
    reply = _one("pywa_callback_button__button.json")
    assert (reply.kind, reply.button_payload, reply.text) == (InboundKind.BUTTON, "callback_data", "title")
    row = _one("pywa_callback_selection__description.json")
    assert (row.kind, row.button_payload, row.text) == (InboundKind.BUTTON, "callback_data", "title")
    template = _one("pywa_callback_button__quick_reply_without_context.json")
    assert (template.kind, template.button_payload, template.platform_key) == (
        InboundKind.BUTTON, "callback_data", "wamid.xsidjx")
    assert template.button_query_id is None  # WhatsApp has no spinner to stop


def test_referral_from_an_ad_is_an_ordinary_message() -> None:
    event = _one("pywa_message__referral.json")
    assert (event.kind, event.text, event.attachments) == (InboundKind.MESSAGE, "BODY", ())


def test_statuses_are_receipts_for_our_wamid() -> None:
    events = [_one(f"pywa_message_status__{s}.json") for s in ("sent", "delivered", "read")]
    assert [e.receipt_status for e in events] == [ReceiptStatus.SENT, ReceiptStatus.DELIVERED, ReceiptStatus.READ]
    assert {e.receipt_for for e in events} == {"wamid.xyzxyz"}
    assert len({e.platform_key for e in events}) == 3  # each step is its own event, each deduped
    assert all(e.error is None and e.sender.external_id == "972987654321" for e in events)
    failed = _one("pywa_message_status__failed.json")
    assert failed.receipt_status is ReceiptStatus.FAILED and failed.receipt_for == "wamid.xyzxyz"
    assert failed.error and failed.error.startswith("130472 User's number is part of an experiment")


def test_failed_outside_the_window_tells_the_agent_to_use_a_template() -> None:
    body = _load("pywa_message_status__failed.json")
    _value(body)["statuses"][0]["errors"] = [_load("pywa_error_object_131047_reengagement.json")]
    [event] = parse_webhook(json.dumps(body).encode()).events
    assert event.error and event.error.startswith("131047 Re-engagement message")
    assert "24 hours" in event.error and "template" in event.error


def test_marketing_stop_and_resume_are_blocked_and_unblocked() -> None:
    resume = _one("pywa_user_marketing_preferences__resume.json")
    assert (resume.kind, resume.sender.external_id) == (InboundKind.UNBLOCKED, "16505551234")
    body = _load("pywa_user_marketing_preferences__resume.json")
    _value(body)["user_preferences"][0]["value"] = "stop"
    [stop] = parse_webhook(json.dumps(body).encode()).events
    assert stop.kind is InboundKind.BLOCKED and stop.platform_key != resume.platform_key
    _value(body)["user_preferences"][0]["category"] = "something_else"
    assert "not handled" in (parse_webhook(json.dumps(body).encode()).ignored_reason or "")


def test_a_batched_body_yields_every_item_in_order() -> None:
    text = _load("pywa_message__text.json")
    second = copy.deepcopy(_value(text)["messages"][0]) | {"id": "wamid.second", "text": {"body": "Ще"}}
    _value(text)["messages"].append(second)
    status_change = _load("pywa_message_status__read.json")["entry"][0]["changes"][0]
    reaction_entry = _load("pywa_message__reaction.json")["entry"][0]
    text["entry"][0]["changes"].append(status_change)
    text["entry"].append(reaction_entry)
    result = parse_webhook(json.dumps(text).encode())
    assert [(e.kind, e.platform_key) for e in result.events] == [
        (InboundKind.MESSAGE, "wamid.xyzxyz"), (InboundKind.MESSAGE, "wamid.second"),
        (InboundKind.RECEIPT, "status:wamid.xyzxyz:read")]
    assert result.ignored_reason == "entry[1].changes[0].value.messages[0]: a reaction is not kept"


def test_other_fields_and_empty_bodies_are_ignored_with_a_reason() -> None:
    body = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
        {"field": "message_template_status_update", "value": {"event": "APPROVED"}}]}]}
    assert "message_template_status_update" in (parse_webhook(json.dumps(body).encode()).ignored_reason or "")
    empty = parse_webhook(b'{"object": "whatsapp_business_account", "entry": []}')
    assert not empty.events and empty.ignored_reason == "no entries"


def _text_with(**changes: Any) -> bytes:
    body = _load("pywa_message__text.json")
    message = _value(body)["messages"][0]
    for key, value in changes.items():
        if value is None:
            message.pop(key)
        else:
            message[key] = value
    return json.dumps(body).encode()


@pytest.mark.parametrize("body", [
    b"", b"not json", b"[]", b'{"object": "page", "entry": []}', b'{"object": "whatsapp_business_account"}',
    b'{"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": []}]}]}',
    b'{"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {}}]}]}',
    _text_with(id=None), _text_with(timestamp="yesterday"), _text_with(text={"bdy": "x"}), _text_with(**{"from": 5}),
    _text_with(type="location", location={"latitude": "50.4", "longitude": 30.5}),
])
def test_malformed_bodies_raise_with_a_reason(body: bytes) -> None:
    with pytest.raises(MalformedPayload) as caught:
        parse_webhook(body)
    assert caught.value.reason


def test_signature_known_answer_from_the_fixtures_readme() -> None:
    body = _raw("official_webhook_text_message.json")
    assert hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest() == KNOWN_SIGNATURE
    WhatsAppAdapter().verify(account=account(), headers={"x-hub-signature-256": f"sha256={KNOWN_SIGNATURE}"},
                             body=body)


@pytest.mark.parametrize("headers", [
    {}, {"x-hub-signature-256": ""}, {"x-hub-signature-256": KNOWN_SIGNATURE},
    {"x-hub-signature-256": "sha256=" + "0" * 64}, {"x-hub-signature": "sha1=abc"},
])
def test_missing_or_wrong_signature_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(SignatureInvalid):
        WhatsAppAdapter().verify(account=account(), headers=headers, body=_raw("official_webhook_text_message.json"))


def test_a_signature_covers_the_exact_bytes_and_needs_a_secret() -> None:
    adapter = WhatsAppAdapter()
    body = _raw("official_webhook_text_message.json")
    header = {"x-hub-signature-256": f"sha256={KNOWN_SIGNATURE}"}
    with pytest.raises(SignatureInvalid):  # re-serialised JSON is other bytes
        adapter.verify(account=account(), headers=header, body=json.dumps(json.loads(body)).encode())
    with pytest.raises(SignatureInvalid):
        adapter.verify(account=account(app_secret=""), headers=header, body=body)


def test_handshake_echoes_the_challenge_only_for_our_verify_token() -> None:
    adapter = WhatsAppAdapter()
    good = {"hub.mode": "subscribe", "hub.verify_token": "vt-1", "hub.challenge": "1158201444"}
    assert adapter.handshake(account=account(), params=good) == "1158201444"
    for bad in ({**good, "hub.verify_token": "vt-2"}, {**good, "hub.mode": "unsubscribe"},
                {**good, "hub.challenge": ""}, {"hub.challenge": "1"}):
        with pytest.raises(SignatureInvalid):
            adapter.handshake(account=account(), params=bad)
    with pytest.raises(SignatureInvalid):  # no verify token configured: nothing matches
        adapter.handshake(account=account(verify_token=""), params={**good, "hub.verify_token": ""})


def test_secrets_stay_out_of_reprs() -> None:
    acc = account(token="EAAG-very-secret")
    assert "EAAG-very-secret" not in repr(acc) and SECRET not in repr(acc)
    assert WhatsAppAdapter.secret_fields == {"token", "app_secret", "verify_token"}
