"""Every Telegram payload in shared/fixtures parses, or is deliberately not an update (said here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from civdesk.channels.base import ChannelAccount, InboundKind, MalformedPayload, SignatureInvalid
from civdesk.channels.telegram import TelegramAdapter
from civdesk.channels.telegram.parse import parse_update

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "messengers" / "telegram"
# Not updates: error bodies (tested by the delivery tests through the sandbox), a WebhookInfo, and
# objects that only occur inside a message (wrapped below).
NOT_UPDATES = {
    "error_400_chat_not_found.json",
    "error_403_bot_blocked.json",
    "error_429_retry_after.json",
    "webhook_info_pytba.json",
}


def _load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def _as_update(name: str) -> bytes:
    raw = _load(name)
    if "update_id" in raw:
        return json.dumps(raw).encode()
    if "message_id" in raw:  # a Message object from a library's test suite
        return json.dumps({"update_id": 10, "message": raw}).encode()
    if name == "contact_object_pytba.json":
        message = {
            "message_id": 5,
            "date": 1700000000,
            "chat": {"id": raw["user_id"], "type": "private", "first_name": "x"},
            "from": {"id": raw["user_id"], "is_bot": False, "first_name": raw["first_name"]},
            "contact": raw,
        }
        return json.dumps({"update_id": 11, "message": message}).encode()
    if name == "chat_member_updated_left_pytba.json":
        return json.dumps({"update_id": 12, "my_chat_member": raw}).encode()
    raise AssertionError(f"unclassified fixture {name}")


def test_fixture_folder_is_there() -> None:
    assert len(list(FIXTURES.glob("*.json"))) >= 19


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json") if p.name not in NOT_UPDATES))
def test_every_update_fixture_parses(name: str) -> None:
    result = parse_update(_as_update(name))
    assert result.events or result.ignored_reason, name


def test_text_message() -> None:
    [event] = parse_update(_as_update("update_message_text.json")).events
    assert event.kind is InboundKind.MESSAGE
    assert event.text == "hello there"
    assert event.platform_key == "218485655:6557"
    assert event.sender.external_id == "218485655"
    assert event.occurred_at.tzinfo is not None


def test_start_command_from_the_official_guide_without_is_bot() -> None:
    [event] = parse_update(_as_update("official_guide_update_text_start.json")).events
    assert event.text == "/start"


def test_photo_keeps_the_largest_size() -> None:
    [event] = parse_update(_as_update("message_photo_teloxide.json")).events
    [photo] = event.attachments
    assert photo["kind"] == "photo"
    assert photo["width"] == max(p["width"] for p in _load("message_photo_teloxide.json")["photo"])


def test_document_location_venue_and_contact() -> None:
    [doc] = parse_update(_as_update("official_guide_update_document.json")).events
    assert doc.attachments[0]["mime_type"] == "application/pdf"
    [venue] = parse_update(_as_update("message_location_venue.json")).events
    assert venue.attachments[0]["kind"] == "location" and "title" in venue.attachments[0]
    [location] = parse_update(_as_update("message_location_pytba.json")).events
    assert location.attachments[0]["latitude"] == pytest.approx(26.090577)
    [contact] = parse_update(_as_update("contact_object_pytba.json")).events
    assert contact.attachments[0]["kind"] == "contact"
    assert contact.attachments[0]["is_own_number"] is True


def test_button_press() -> None:
    [event] = parse_update(_as_update("update_callback_query.json")).events
    assert event.kind is InboundKind.BUTTON
    assert event.button_payload == "tasks-settings"
    assert event.button_query_id and event.platform_key == f"cb:{event.button_query_id}"


def test_blocked_and_left_member_updates() -> None:
    [blocked] = parse_update(_as_update("update_my_chat_member_kicked_blocked.json")).events
    assert blocked.kind is InboundKind.BLOCKED
    left = parse_update(_as_update("chat_member_updated_left_pytba.json"))
    assert not left.events and left.ignored_reason  # a group membership change: not a citizen's


def test_inline_keyboard_message_from_a_bot_is_still_a_message() -> None:
    [event] = parse_update(_as_update("message_with_inline_keyboard_pytba.json")).events
    assert event.text == "test"


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", b'{"update_id": "7"}', b'{"update_id": 7, "message": {"message_id": 1}}'],
)
def test_malformed_bodies_raise_with_a_reason(body: bytes) -> None:
    with pytest.raises(MalformedPayload) as caught:
        parse_update(body)
    assert caught.value.reason


def test_group_messages_and_unknown_update_types_are_ignored_with_reason() -> None:
    group = {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "date": 1,
            "text": "hi",
            "chat": {"id": -5, "type": "group", "title": "g"},
            "from": {"id": 5, "is_bot": False, "first_name": "A"},
        },
    }
    assert "group" in (parse_update(json.dumps(group).encode()).ignored_reason or "")
    poll = {
        "update_id": 2,
        "poll_answer": {"poll_id": "1", "option_ids": [0], "user": {"id": 1, "is_bot": False, "first_name": "A"}},
    }
    assert "poll_answer" in (parse_update(json.dumps(poll).encode()).ignored_reason or "")


def test_secret_token_check_is_exact() -> None:
    adapter = TelegramAdapter()
    account = ChannelAccount(id=1, config={}, secrets={"token": "1:a", "secret": "s3cret"})
    adapter.verify(account=account, headers={"x-telegram-bot-api-secret-token": "s3cret"}, body=b"{}")
    for headers in ({}, {"x-telegram-bot-api-secret-token": "s3cre"}, {"x-telegram-bot-api-secret-token": ""}):
        with pytest.raises(SignatureInvalid):
            adapter.verify(account=account, headers=headers, body=b"{}")
    # A channel configured without a secret accepts nothing, rather than everything.
    bare = ChannelAccount(id=2, config={}, secrets={"token": "1:a"})
    with pytest.raises(SignatureInvalid):
        adapter.verify(account=bare, headers={"x-telegram-bot-api-secret-token": ""}, body=b"{}")


def test_account_repr_hides_secrets() -> None:
    account = ChannelAccount(id=1, config={}, secrets={"token": "123:SECRET"})
    assert "SECRET" not in repr(account)
