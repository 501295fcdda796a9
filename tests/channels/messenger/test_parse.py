"""Every Messenger fixture in shared/fixtures parses into the right events, or is said here not to be a webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from civdesk.channels.base import ChannelAccount, InboundKind, MalformedPayload, ReceiptStatus, SignatureInvalid
from civdesk.channels.messenger import MessengerAdapter
from civdesk.channels.messenger.parse import GET_STARTED_PAYLOAD, KEY_LIMIT, bounded_key, parse_webhook

FIXTURES = Path(__file__).resolve().parents[4] / "shared" / "fixtures" / "messengers" / "messenger"
# Outbound request/response bodies and an error envelope: what we send and get back, not webhooks. The error
# envelope is served by the emulator in the adapter tests; the requests' shapes are what the adapter builds.
NOT_WEBHOOKS = {
    "official_error_response_example.json",
    "official_send_button_template_postback_request.json",
    "official_send_quick_replies_request.json",
    "official_send_response.json",
}
SECRET = "test-app-secret"
ACCOUNT = ChannelAccount(id=1, config={}, secrets={"page_token": "EAAtoken", "app_secret": SECRET,
                                                   "verify_token": "verify-me"})


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def _page(*events: dict[str, Any]) -> bytes:
    entries = [{"id": "PAGE", "time": 1458692752478, "messaging": [event]} for event in events]
    return json.dumps({"object": "page", "entry": entries}).encode()


def _as_webhook(name: str) -> bytes:
    """The fixture as the body of a Page webhook: library fixtures are whole bodies, official ones are parts."""
    raw = _load(name)
    if raw.get("object") == "page":
        return (FIXTURES / name).read_bytes()
    if "messaging" in raw:  # one entry[] item
        return json.dumps({"object": "page", "entry": [raw]}).encode()
    if "sender" in raw:  # one messaging[] item
        return _page(raw)
    if set(raw) == {"field", "value"}:  # the App Dashboard's sample notification
        return json.dumps({"object": "page", "entry": [{"id": "0", "time": 1, "changes": [raw]}]}).encode()
    raise AssertionError(f"unclassified fixture {name}")


def _sign(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"x-hub-signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def test_fixture_folder_is_there() -> None:
    assert len(list(FIXTURES.glob("*.json"))) >= 13


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json") if p.name not in NOT_WEBHOOKS))
def test_every_webhook_fixture_parses(name: str) -> None:
    result = parse_webhook(_as_webhook(name))
    assert result.events or result.ignored_reason, name


def test_text_message_from_a_library_fixture_with_numeric_ids() -> None:
    [event] = parse_webhook(_as_webhook("fbmessenger_page_message_text.json")).events
    assert event.kind is InboundKind.MESSAGE
    assert event.text == "hello, world!"
    assert event.platform_key == "mid.1457764197618:41d102a3e1ae206a38"
    assert event.sender.external_id == "1234"  # a JSON number on the wire, a string here
    assert event.occurred_at.timestamp() == pytest.approx(1457764197.627)


def test_reply_keeps_its_text() -> None:
    [event] = parse_webhook(_as_webhook("official_messaging_event_reply.json")).events
    assert (event.kind, event.text, event.sender.external_id) == (InboundKind.MESSAGE, "hello, world!", "<PSID>")


def test_quick_reply_is_a_button_with_its_title_as_text() -> None:
    [event] = parse_webhook(_as_webhook("official_messaging_event_text_quick_reply.json")).events
    assert event.kind is InboundKind.BUTTON
    assert event.button_payload == "<DEVELOPER_DEFINED_PAYLOAD>"
    assert event.text == "hello, world!"
    assert event.platform_key == "mid.1457764197618:41d102a3e1ae206a38"


def test_official_attachment_keeps_its_placeholder_type_out_but_real_types_map() -> None:
    # The official example keeps the placeholder "<image|video|audio|file|reel|ig_reel>" as its type.
    result = parse_webhook(_as_webhook("official_entry_message_attachment.json"))
    assert not result.events and "<image|video|audio|file|reel|ig_reel>" in (result.ignored_reason or "")
    entry = _load("official_entry_message_attachment.json")
    kinds = {"image": "photo", "video": "video", "audio": "audio", "file": "document", "sticker": "sticker"}
    for wire, kind in kinds.items():
        entry["messaging"][0]["message"]["attachments"][0] = {
            "type": wire, "payload": {"url": "https://cdn.fbsbx.com/v/t59/1_n.pdf/Довідка%20№5.pdf?x=1"}}
        [event] = parse_webhook(json.dumps({"object": "page", "entry": [entry]}).encode()).events
        [attachment] = event.attachments
        assert attachment["kind"] == kind and attachment["file_id"].startswith("https://cdn.fbsbx.com/")
        assert event.platform_key == "mid.$cAAJdkrCd2ORnva8ErFhjGm0X_Q_c" and event.text == ""
    assert attachment["kind"] == "sticker"
    entry["messaging"][0]["message"]["attachments"][0]["type"] = "file"
    [event] = parse_webhook(json.dumps({"object": "page", "entry": [entry]}).encode()).events
    assert event.attachments[0]["name"] == "Довідка №5.pdf"


def test_legacy_sticker_image_location_and_shared_link() -> None:
    message = {"mid": "m_1", "attachments": [
        {"type": "image", "payload": {"url": "https://scontent.xx/s.png", "sticker_id": 369239263222822}},
        {"type": "location", "title": "Київ", "payload": {"coordinates": {"lat": 50.45, "long": 30.52}}},
        {"type": "fallback", "title": "Портал Дія", "url": "https://diia.gov.ua/", "payload": None},
        {"type": "reel", "payload": {"url": "https://example.com/reel"}},
    ]}
    [event] = parse_webhook(_page({"sender": {"id": "1"}, "recipient": {"id": "2"}, "timestamp": 1,
                                   "message": message})).events
    assert [a["kind"] for a in event.attachments] == ["sticker", "location"]
    assert event.attachments[1] == {"kind": "location", "latitude": 50.45, "longitude": 30.52, "title": "Київ"}
    assert event.text == "Портал Дія https://diia.gov.ua/"


def test_delivery_names_each_mid_and_read_is_a_watermark() -> None:
    [delivered] = parse_webhook(_as_webhook("fbmessenger_page_message_delivery.json")).events
    assert delivered.kind is InboundKind.RECEIPT and delivered.receipt_status is ReceiptStatus.DELIVERED
    assert delivered.receipt_for == "mid.1458668856218:ed81099e15d3f4f233" and delivered.receipt_up_to is None
    [read] = parse_webhook(_as_webhook("fbmessenger_page_message_read.json")).events
    assert read.receipt_status is ReceiptStatus.READ and read.receipt_for is None
    assert read.receipt_up_to is not None and read.receipt_up_to.timestamp() == pytest.approx(1458668856.253)
    assert read.platform_key == "read:1234:1458668856253"


def test_delivery_without_mids_is_a_watermark_and_several_mids_give_several_receipts() -> None:
    base = {"sender": {"id": "7"}, "recipient": {"id": "2"}, "timestamp": 1000}
    [up_to] = parse_webhook(_page({**base, "delivery": {"watermark": 5000}})).events
    assert up_to.receipt_for is None and up_to.receipt_up_to is not None and up_to.platform_key == "delivery:7:5000"
    events = parse_webhook(_page({**base, "delivery": {"watermark": 5000, "mids": ["m_a", "m_b"]}})).events
    assert [e.receipt_for for e in events] == ["m_a", "m_b"]
    assert len({e.platform_key for e in events}) == 2


def test_postback_without_mid_gets_a_stable_key_and_get_started_means_started() -> None:
    body = _as_webhook("fbmessenger_page_postback.json")
    [first] = parse_webhook(body).events
    [again] = parse_webhook(body).events
    assert first.kind is InboundKind.BUTTON and first.button_payload == "USER_DEFINED_PAYLOAD"
    assert first.platform_key == again.platform_key and first.platform_key.startswith("postback:1234:")
    started = {"sender": {"id": "9"}, "recipient": {"id": "2"}, "timestamp": 1,
               "postback": {"mid": "m_s", "title": "Get Started", "payload": GET_STARTED_PAYLOAD}}
    [event] = parse_webhook(_page(started)).events
    assert (event.kind, event.platform_key, event.sender.external_id) == (InboundKind.STARTED, "m_s", "9")


def test_official_postback_sample_notification() -> None:
    # As the App Dashboard's test button sends it: in "changes", which carry no messaging events.
    result = parse_webhook(_as_webhook("official_messaging_postbacks_sample_notification.json"))
    assert not result.events and "changes" in (result.ignored_reason or "")
    value = _load("official_messaging_postbacks_sample_notification.json")["value"]
    # Its sender is a user_ref (checkbox plugin): no PSID to answer, so ignored with that reason.
    assert "user_ref" in (parse_webhook(_page(value)).ignored_reason or "")
    # With a PSID it is a button press; its timestamp is in seconds on that page, which is recognised.
    [event] = parse_webhook(_page({**value, "sender": {"id": "42"}})).events
    assert (event.kind, event.button_payload, event.text) == (InboundKind.BUTTON, "USER-DEFINED-PAYLOAD",
                                                              "TITLE-FOR-THE-CTA")
    assert event.platform_key == "m_MESSAGE-ID" and event.occurred_at.year == 2018


def test_optin_echo_standby_and_other_objects_are_ignored_with_reason() -> None:
    assert "optin" in (parse_webhook(_as_webhook("fbmessenger_page_optin.json")).ignored_reason or "")
    echo = {"sender": {"id": "PAGE"}, "recipient": {"id": "1"}, "timestamp": 1,
            "message": {"mid": "m_e", "is_echo": True, "app_id": 1, "text": "ours"}}
    assert "echo" in (parse_webhook(_page(echo)).ignored_reason or "")
    standby = {"object": "page", "entry": [{"id": "P", "time": 1, "standby": [echo]}]}
    assert "standby" in (parse_webhook(json.dumps(standby).encode()).ignored_reason or "")
    insta = {"object": "instagram", "entry": []}
    assert "instagram" in (parse_webhook(json.dumps(insta).encode()).ignored_reason or "")


def test_a_batch_yields_every_event_in_order() -> None:
    body = json.loads(_as_webhook("fbmessenger_page_message_text.json"))
    body["entry"] += json.loads(_as_webhook("fbmessenger_page_message_read.json"))["entry"]
    body["entry"] += json.loads(_as_webhook("fbmessenger_page_optin.json"))["entry"]
    events = parse_webhook(json.dumps(body).encode()).events
    assert [e.kind for e in events] == [InboundKind.MESSAGE, InboundKind.RECEIPT]


def test_long_ids_are_hashed_the_same_way_everywhere() -> None:
    mid = "m_" + "x" * 200
    base = {"sender": {"id": "1"}, "recipient": {"id": "2"}, "timestamp": 1}
    [message] = parse_webhook(_page({**base, "message": {"mid": mid, "text": "a"}})).events
    [receipt] = parse_webhook(_page({**base, "delivery": {"watermark": 1, "mids": [mid]}})).events
    assert len(message.platform_key) <= KEY_LIMIT and receipt.receipt_for == bounded_key(mid) == message.platform_key


@pytest.mark.parametrize("body", [
    b"", b"not json", b"[]", b'{"object": "page"}', b'{"object": "page", "entry": {}}',
    b'{"object": "page", "entry": [7]}',
    b'{"object": "page", "entry": [{"messaging": {}}]}',
    b'{"object": "page", "entry": [{"messaging": [{"recipient": {"id": "1"}, "timestamp": 1}]}]}',
    b'{"object": "page", "entry": [{"messaging": [{"sender": {"id": "1"}, "message": {"mid": "m"}}]}]}',
    b'{"object": "page", "entry": [{"messaging": [{"sender": {"id": "1"}, "timestamp": 1, "message": {}}]}]}',
    b'{"object": "page", "entry": [{"messaging": [{"sender": {"id": "1"}, "timestamp": 1, "read": {}}]}]}',
    b'{"object": "page", "entry": [{"messaging": [{"sender": {"id": "1"}, "timestamp": 1, "postback": {}}]}]}',
    b'{"object": "page", "entry": [{"messaging": [{"sender": {"id": "1"}, "timestamp": 1,'
    b' "delivery": {"watermark": 1, "mids": [1]}}]}]}',
    b'{"object": "page", "entry": [{"messaging": [{"sender": {"id": "1"}, "timestamp": 1,'
    b' "message": {"mid": "m", "quick_reply": {}}}]}]}',
    b'{"object": "page", "entry": [{"messaging": [{"sender": {"id": "1"}, "timestamp": 1e300,'
    b' "message": {"mid": "m", "text": "a"}}]}]}',
])
def test_malformed_bodies_raise_with_a_reason(body: bytes) -> None:
    with pytest.raises(MalformedPayload) as caught:
        parse_webhook(body)
    assert caught.value.reason


def test_signature_known_answer_from_the_fixtures_readme() -> None:
    body = (FIXTURES / "fbmessenger_page_message_text.json").read_bytes()
    header = "sha256=9dec3fc9f909b3efeb68828e6d6b5b5325f88df146b91c7abcd87d1948dace14"
    MessengerAdapter().verify(account=ACCOUNT, headers={"x-hub-signature-256": header}, body=body)
    MessengerAdapter().verify(account=ACCOUNT, headers={"x-hub-signature-256": header.upper().replace("SHA", "sha")},
                              body=body)


def test_wrong_or_missing_signatures_are_refused() -> None:
    adapter = MessengerAdapter()
    body = (FIXTURES / "fbmessenger_page_message_text.json").read_bytes()
    good = _sign(body)["x-hub-signature-256"]
    for headers in ({}, {"x-hub-signature-256": ""}, {"x-hub-signature-256": good[len("sha256="):]},
                    _sign(body, "other-secret"), {"x-hub-signature-256": good.replace("sha256=", "sha1=")}):
        with pytest.raises(SignatureInvalid):
            adapter.verify(account=ACCOUNT, headers=headers, body=body)
    with pytest.raises(SignatureInvalid):
        adapter.verify(account=ACCOUNT, headers={"x-hub-signature-256": good}, body=body + b" ")
    bare = ChannelAccount(id=2, config={}, secrets={"page_token": "t"})
    with pytest.raises(SignatureInvalid):
        adapter.verify(account=bare, headers=_sign(body, ""), body=body)


def test_legacy_sha1_counts_only_without_the_sha256_header() -> None:
    adapter = MessengerAdapter()
    body = b'{"object":"page","entry":[]}'
    sha1 = "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    adapter.verify(account=ACCOUNT, headers={"x-hub-signature": sha1}, body=body)
    with pytest.raises(SignatureInvalid):  # a wrong sha256 is not rescued by a right sha1
        adapter.verify(account=ACCOUNT, headers={"x-hub-signature": sha1, "x-hub-signature-256": "sha256=00"},
                       body=body)
    with pytest.raises(SignatureInvalid):
        adapter.verify(account=ACCOUNT, headers={"x-hub-signature": "sha1=" + "0" * 40}, body=body)


def test_handshake_echoes_the_challenge_only_for_our_token() -> None:
    adapter = MessengerAdapter()
    params = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"}
    assert adapter.handshake(account=ACCOUNT, params=params) == "1158201444"
    for wrong in ({"hub.verify_token": "nope"}, {"hub.mode": "unsubscribe"}, {"hub.challenge": ""},
                  {"hub.challenge": "<script>"}):
        with pytest.raises(SignatureInvalid):
            adapter.handshake(account=ACCOUNT, params={**params, **wrong})
    bare = ChannelAccount(id=2, config={}, secrets={"page_token": "t", "app_secret": "s"})
    with pytest.raises(SignatureInvalid):
        adapter.handshake(account=bare, params={**params, "hub.verify_token": ""})


def test_secrets_stay_out_of_reprs() -> None:
    assert "EAAtoken" not in repr(ACCOUNT) and SECRET not in repr(ACCOUNT)
    assert MessengerAdapter.secret_fields == {"page_token", "app_secret", "verify_token"}
