"""The WhatsApp emulator: Graph API paths and errors as Meta documents them, webhooks signed and retried as
Meta sends them (checked with the adapter's own verify and parse), and the control API for tests and the page."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from civdesk.channels.base import InboundKind, ReceiptStatus
from civdesk.sandbox.whatsapp import NumberSpec, SandboxError, WhatsAppEmulator, create_router
from civdesk.sandbox.whatsapp.state import ERRORS
from tests.channels.whatsapp.support import (
    APP_SECRET,
    CITIZEN,
    PHONE_ID,
    TOKEN,
    VERIFY_TOKEN,
    Receiver,
    emulator_app,
    make_emulator,
)
from tests.support.live_server import LiveServer

AUTH = {"Authorization": f"Bearer {TOKEN}"}
OTHER = NumberSpec(phone_number_id="200000000000001", display_phone_number="380440000001",
                   verified_name="Інша установа", token="EAAG-other-token", app_secret="other-secret-1")


@pytest.fixture
def emulator() -> WhatsAppEmulator:
    return make_emulator()


@pytest.fixture
def sandbox(emulator: WhatsAppEmulator) -> Iterator[LiveServer]:
    with LiveServer(emulator_app(emulator)) as server:
        yield server


def graph(server: LiveServer, path: str, **kwargs: Any) -> httpx.Response:
    method = "POST" if "json" in kwargs or "files" in kwargs or "content" in kwargs else "GET"
    headers = kwargs.pop("headers", AUTH)
    return httpx.request(method, f"{server.url}/v21.0/{path}", headers=headers, **kwargs)


def text(to: str = CITIZEN, body: str = "Добрий день") -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text",
            "text": {"body": body}}


def buttons(count: int) -> dict[str, Any]:
    replies = [{"type": "reply", "reply": {"id": f"b{n}", "title": f"Кнопка {n}"}} for n in range(count)]
    return {"messaging_product": "whatsapp", "to": CITIZEN, "type": "interactive",
            "interactive": {"type": "button", "body": {"text": "Оберіть"}, "action": {"buttons": replies}}}


def rows(count: int) -> dict[str, Any]:
    items = [{"id": f"r{n}", "title": f"Рядок {n}"} for n in range(count)]
    return {"messaging_product": "whatsapp", "to": CITIZEN, "type": "interactive",
            "interactive": {"type": "list", "body": {"text": "Оцініть"},
                            "action": {"button": "Обрати", "sections": [{"rows": items}]}}}


@pytest.fixture
def subscribed(sandbox: LiveServer, emulator: WhatsAppEmulator) -> Iterator[Receiver]:
    receiver = Receiver()
    with LiveServer(receiver.app) as hook:
        emulator.subscribe(phone_number_id=PHONE_ID, url=f"{hook.url}/hook", verify_token=VERIFY_TOKEN)
        yield receiver


def test_webhooks_are_signed_as_meta_signs_them(subscribed: Receiver, emulator: WhatsAppEmulator) -> None:
    sent = emulator.citizen_says(phone_number_id=PHONE_ID, wa_id=CITIZEN, text="Коли прийом?", name="Марія")
    [body] = subscribed.wait_for(1)
    headers = subscribed.headers[0]
    expected = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["x-hub-signature-256"] == expected and subscribed.refused == 0  # the adapter's verify passed
    assert headers["content-type"] == "application/json"
    assert b"\\u041a" in body and json.loads(body) == sent  # non-ASCII escaped, as Meta sends it
    [event] = subscribed.events
    assert (event.kind, event.text, event.sender.display_name) == (InboundKind.MESSAGE, "Коли прийом?", "Марія")
    assert event.platform_key == sent["entry"][0]["changes"][0]["value"]["messages"][0]["id"]


def test_subscribing_does_metas_get_handshake(emulator: WhatsAppEmulator, sandbox: LiveServer) -> None:
    receiver = Receiver()
    with LiveServer(receiver.app) as hook:
        with pytest.raises(SandboxError, match="HTTP Status Code = 403"):
            emulator.subscribe(phone_number_id=PHONE_ID, url=f"{hook.url}/hook", verify_token="wrong")
        assert emulator.numbers()[0]["webhook_url"] == ""
        emulator.subscribe(phone_number_id=PHONE_ID, url=f"{hook.url}/hook", verify_token=VERIFY_TOKEN)
        assert emulator.numbers()[0]["webhook_url"] == f"{hook.url}/hook"
        config = {"webhook_configuration": {"override_callback_uri": f"{hook.url}/hook", "verify_token": "nope"}}
        refused = graph(sandbox, PHONE_ID, json=config)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == 2200


def test_non_2xx_answers_are_retried_until_accepted(sandbox: LiveServer, emulator: WhatsAppEmulator) -> None:
    answers = iter([500, 503])
    receiver = Receiver(lambda body: next(answers, 200))
    with LiveServer(receiver.app) as hook:
        emulator.subscribe(phone_number_id=PHONE_ID, url=f"{hook.url}/hook", verify_token=VERIFY_TOKEN)
        emulator.citizen_says(phone_number_id=PHONE_ID, wa_id=CITIZEN, text="Алло")
        bodies = receiver.wait_for(3)
        emulator.wait_until_delivered()
    assert len(set(bodies)) == 1
    outcomes = [d["outcome"] for d in emulator.deliveries(phone_number_id=PHONE_ID)]
    assert outcomes == ["500", "503", "200"]


def test_an_unreachable_webhook_is_retried_when_it_comes_back(sandbox: LiveServer,
                                                              emulator: WhatsAppEmulator) -> None:
    first = Receiver()
    with LiveServer(first.app) as hook:
        emulator.subscribe(phone_number_id=PHONE_ID, url=f"{hook.url}/hook", verify_token=VERIFY_TOKEN)
        port = hook.port
    emulator.citizen_says(phone_number_id=PHONE_ID, wa_id=CITIZEN, text="Є хто?")
    emulator.wait_for_deliveries(phone_number_id=PHONE_ID, count=2)
    assert emulator.pending_count(phone_number_id=PHONE_ID) == 1
    second = Receiver()
    with LiveServer(second.app, port=port):
        [event] = second.wait_for_events(1)
        emulator.wait_until_delivered()
    assert event.text == "Є хто?"
    assert emulator.deliveries(phone_number_id=PHONE_ID)[0]["outcome"] == "ConnectError"


def test_duplicate_delivery_can_be_injected(subscribed: Receiver, emulator: WhatsAppEmulator) -> None:
    emulator.duplicate_next_push(phone_number_id=PHONE_ID)
    emulator.citizen_says(phone_number_id=PHONE_ID, wa_id=CITIZEN, text="Раз")
    emulator.citizen_says(phone_number_id=PHONE_ID, wa_id=CITIZEN, text="Два")
    subscribed.wait_for(3)
    assert [e.text for e in subscribed.events] == ["Раз", "Раз", "Два"]
    assert subscribed.events[0].platform_key == subscribed.events[1].platform_key  # the dedupe key holds


def test_several_messages_go_in_one_body_when_batched(subscribed: Receiver, emulator: WhatsAppEmulator) -> None:
    with emulator.batched(PHONE_ID):
        emulator.citizen_says(phone_number_id=PHONE_ID, wa_id=CITIZEN, text="Перше")
        emulator.citizen_says(phone_number_id=PHONE_ID, wa_id="380671112233", text="Друге", name="Петро")
        emulator.citizen_sends_location(phone_number_id=PHONE_ID, wa_id=CITIZEN, latitude=50.45, longitude=30.52,
                                        place="ЦНАП")
    [body] = subscribed.wait_for(1)
    assert len(json.loads(body)["entry"][0]["changes"]) == 3
    assert [(e.sender.external_id, e.text) for e in subscribed.events] == [
        (CITIZEN, "Перше"), ("380671112233", "Друге"), (CITIZEN, "")]
    assert subscribed.events[2].attachments[0]["title"] == "ЦНАП"


def test_sends_are_followed_by_status_webhooks_and_reads(subscribed: Receiver, sandbox: LiveServer,
                                                         emulator: WhatsAppEmulator) -> None:
    emulator.citizen_says(phone_number_id=PHONE_ID, wa_id=CITIZEN, text="Привіт")
    answer = graph(sandbox, f"{PHONE_ID}/messages", json=text(to="+" + CITIZEN)).json()
    wamid = answer["messages"][0]["id"]
    assert answer["contacts"] == [{"input": "+" + CITIZEN, "wa_id": CITIZEN}]
    emulator.citizen_reads(phone_number_id=PHONE_ID, wa_id=CITIZEN, message_id=wamid)
    events = subscribed.wait_for_events(4)
    receipts = [(e.receipt_for, e.receipt_status) for e in events if e.kind is InboundKind.RECEIPT]
    assert receipts == [(wamid, ReceiptStatus.SENT), (wamid, ReceiptStatus.DELIVERED), (wamid, ReceiptStatus.READ)]
    assert emulator.sent(phone_number_id=PHONE_ID)[0]["status"] == "read"


def test_the_24_hour_window_fails_free_text_asynchronously(subscribed: Receiver, sandbox: LiveServer,
                                                           emulator: WhatsAppEmulator) -> None:
    emulator.citizen_says(phone_number_id=PHONE_ID, wa_id=CITIZEN, text="Дякую")
    emulator.advance_clock(24 * 3600 + 1)
    late = graph(sandbox, f"{PHONE_ID}/messages", json=text())
    assert late.status_code == 200  # accepted first, as the Cloud API does; the failure comes as a status
    template = {"messaging_product": "whatsapp", "to": CITIZEN, "type": "template",
                "template": {"name": "case_update", "language": {"code": "uk"}}}
    accepted = graph(sandbox, f"{PHONE_ID}/messages", json=template).json()
    assert accepted["messages"][0]["message_status"] == "accepted"
    events = subscribed.wait_for_events(4)
    failed = next(e for e in events if e.receipt_status is ReceiptStatus.FAILED)
    assert failed.receipt_for == late.json()["messages"][0]["id"]
    assert failed.error and failed.error.startswith("131047 Re-engagement message")
    assert {e.receipt_for for e in events if e.receipt_status is ReceiptStatus.DELIVERED} == {
        accepted["messages"][0]["id"]}
    never = graph(sandbox, f"{PHONE_ID}/messages", json=text(to="380990000000"))
    assert never.status_code == 200 and emulator.sent(phone_number_id=PHONE_ID)[-1]["status"] == "failed"


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_fail_next_answers_each_documented_error(sandbox: LiveServer, emulator: WhatsAppEmulator,
                                                 code: int) -> None:
    emulator.citizen_says(phone_number_id=PHONE_ID, wa_id=CITIZEN, text="Привіт")
    emulator.fail_next(phone_number_id=PHONE_ID, code=code)
    reply = graph(sandbox, f"{PHONE_ID}/messages", json=text())
    status, message, _, details, subcode = ERRORS[code]
    error = reply.json()["error"]
    assert reply.status_code == status
    assert (error["code"], error["message"], error["type"]) == (code, message, "OAuthException")
    assert error["fbtrace_id"] and error.get("error_subcode") == subcode
    assert error.get("error_data", {}).get("details") == details
    assert graph(sandbox, f"{PHONE_ID}/messages", json=text()).status_code == 200
    assert len(emulator.sent(phone_number_id=PHONE_ID)) == 1


def test_fail_next_can_target_uploads_and_lookups(sandbox: LiveServer, emulator: WhatsAppEmulator) -> None:
    emulator.fail_next(phone_number_id=PHONE_ID, code=131053, endpoint="media")
    emulator.fail_next(phone_number_id=PHONE_ID, code=190, endpoint="node", times=2)
    upload = graph(sandbox, f"{PHONE_ID}/media", files={"file": ("a.pdf", b"%PDF", "application/pdf")},
                   data={"messaging_product": "whatsapp", "type": "application/pdf"})
    assert upload.json()["error"]["code"] == 131053
    assert [graph(sandbox, PHONE_ID).status_code for _ in range(3)] == [401, 401, 200]
    with pytest.raises(SandboxError):
        emulator.fail_next(phone_number_id=PHONE_ID, code=999)


def test_the_bearer_token_is_checked(sandbox: LiveServer, emulator: WhatsAppEmulator) -> None:
    emulator.add_number(OTHER)
    for headers in ({}, {"Authorization": "Bearer EAAG-nobody"}, {"Authorization": TOKEN}):
        reply = graph(sandbox, f"{PHONE_ID}/messages", json=text(), headers=headers)
        assert reply.status_code == 401 and reply.json()["error"]["code"] == 190
        assert reply.headers["www-authenticate"].startswith('OAuth "Facebook Platform" "invalid_token"')
    foreign = graph(sandbox, f"{PHONE_ID}/messages", json=text(), headers={"Authorization": "Bearer EAAG-other-token"})
    assert foreign.status_code == 400 and foreign.json()["error"]["error_subcode"] == 33
    by_query = httpx.get(f"{sandbox.url}/v21.0/{PHONE_ID}", params={"access_token": TOKEN})
    assert by_query.json()["verified_name"] == "Держслужба тест"


def test_graph_routes_leave_me_to_the_messenger_emulator(emulator: WhatsAppEmulator) -> None:
    messenger = APIRouter()

    @messenger.post("/{version}/me/messages")
    def page_send(version: str) -> dict[str, str]:
        return {"answered_by": "messenger"}

    app = FastAPI()
    app.include_router(create_router(emulator))
    app.include_router(messenger)
    with LiveServer(app) as server:
        assert httpx.post(f"{server.url}/v21.0/me/messages", json={}).json() == {"answered_by": "messenger"}
        assert httpx.get(f"{server.url}/v21.0/me", headers=AUTH).status_code == 404
        assert httpx.get(f"{server.url}/latest/{PHONE_ID}", headers=AUTH).status_code == 404


@pytest.mark.parametrize(("body", "code"), [
    (buttons(4), 131009), (buttons(3) | {"to": "not-a-number"}, 131008), (rows(11), 131009),
    (text(body="x" * 4097), 100), ({**text(), "messaging_product": "sms"}, 100), ({**text(), "type": "poll"}, 100),
    ({"messaging_product": "whatsapp", "to": CITIZEN, "type": "image", "image": {"id": "900"}}, 100),
    ({"messaging_product": "whatsapp", "to": CITIZEN, "type": "audio",
      "audio": {"link": "https://example.org/a.ogg", "caption": "x"}}, 100),
])
def test_sends_beyond_the_documented_limits_are_refused(sandbox: LiveServer, emulator: WhatsAppEmulator,
                                                        body: dict[str, Any], code: int) -> None:
    emulator.citizen_says(phone_number_id=PHONE_ID, wa_id=CITIZEN, text="Привіт")
    reply = graph(sandbox, f"{PHONE_ID}/messages", json=body)
    assert (reply.status_code, reply.json()["error"]["code"]) == (400, code)
    assert graph(sandbox, f"{PHONE_ID}/messages", json=buttons(3)).status_code == 200
    assert graph(sandbox, f"{PHONE_ID}/messages", json=rows(10)).status_code == 200
    bad_json = graph(sandbox, f"{PHONE_ID}/messages", content=b"{oops", headers=AUTH)
    assert bad_json.json()["error"]["code"] == 100


def test_media_upload_lookup_and_download(sandbox: LiveServer, emulator: WhatsAppEmulator) -> None:
    emulator.add_number(OTHER)
    upload = graph(sandbox, f"{PHONE_ID}/media", files={"file": ("заява.pdf", b"%PDF-1", "application/pdf")},
                   data={"messaging_product": "whatsapp", "type": "application/pdf"})
    media_id = upload.json()["id"]
    info = graph(sandbox, media_id).json()
    assert (info["mime_type"], info["file_size"], info["id"]) == ("application/pdf", 6, media_id)
    assert info["sha256"] == base64.b64encode(hashlib.sha256(b"%PDF-1").digest()).decode()
    assert info["url"].startswith(f"{sandbox.url}/whatsapp_business/attachments/?mid={media_id}")
    got = httpx.get(info["url"], headers=AUTH)
    assert (got.status_code, got.content, got.headers["content-type"]) == (200, b"%PDF-1", "application/pdf")
    assert httpx.get(info["url"]).status_code == 401
    assert httpx.get(info["url"], headers={"Authorization": "Bearer EAAG-other-token"}).status_code == 403
    assert graph(sandbox, media_id, headers={"Authorization": "Bearer EAAG-other-token"}).status_code == 400
    emulator.advance_clock(301)
    assert httpx.get(info["url"], headers=AUTH).status_code == 404  # media URLs live five minutes
    unknown = graph(sandbox, "123456789").json()["error"]
    assert (unknown["code"], unknown["error_subcode"]) == (100, 33)
    no_file = graph(sandbox, f"{PHONE_ID}/media", files={"x": ("a", b"1")}, data={"messaging_product": "whatsapp"})
    assert no_file.json()["error"]["code"] == 100


def test_the_throughput_limit_answers_130429(emulator: WhatsAppEmulator) -> None:
    limited = make_emulator(messages_per_second=2)
    with LiveServer(emulator_app(limited)) as server:
        limited.citizen_says(phone_number_id=PHONE_ID, wa_id=CITIZEN, text="Привіт")
        codes = [graph(server, f"{PHONE_ID}/messages", json=text()).status_code for _ in range(3)]
        assert codes == [200, 200, 400]
        assert graph(server, f"{PHONE_ID}/messages", json=text()).json()["error"]["code"] == 130429


def test_control_api_plays_the_citizen(sandbox: LiveServer, emulator: WhatsAppEmulator) -> None:
    api = f"{sandbox.url}/sandbox/api/whatsapp"
    assert httpx.get(f"{api}/numbers").json()["numbers"][0]["phone_number_id"] == PHONE_ID
    user = f"{api}/{PHONE_ID}/users/{CITIZEN}"
    said = httpx.post(f"{user}/messages", json={"text": "Потрібна довідка", "name": "Ігор"}).json()
    assert said["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"]["name"] == "Ігор"
    wamid = graph(sandbox, f"{PHONE_ID}/messages", json=rows(5)).json()["messages"][0]["id"]
    pressed = httpx.post(f"{user}/press", json={"message_id": wamid, "reply_id": "r4"}).json()
    reply = pressed["entry"][0]["changes"][0]["value"]["messages"][0]
    assert reply["interactive"] == {"type": "list_reply", "list_reply": {"id": "r4", "title": "Рядок 4"}}
    assert reply["context"]["id"] == wamid
    assert httpx.post(f"{user}/read", json={"message_id": wamid}).status_code == 200
    stopped = httpx.post(f"{user}/marketing", json={"stop": True}).json()
    assert stopped["entry"][0]["changes"][0]["field"] == "user_preferences"
    photo = base64.b64encode(b"\xff\xd8jpeg").decode()
    media = httpx.post(f"{user}/media", json={"kind": "image", "mime_type": "image/jpeg", "data_base64": photo})
    assert media.json()["entry"][0]["changes"][0]["value"]["messages"][0]["image"]["mime_type"] == "image/jpeg"
    history = httpx.get(f"{user}/history").json()
    assert [(e["from"], e["kind"]) for e in history["entries"]] == [
        ("citizen", "text"), ("business", "interactive"), ("citizen", "press"), ("citizen", "preference"),
        ("citizen", "image")]
    assert history["entries"][1]["status"] == "read" and history["window_open"] and history["marketing_stopped"]
    assert httpx.get(f"{api}/{PHONE_ID}/sent", params={"to": CITIZEN}).json()["sent"][0]["wamid"] == wamid
    assert httpx.post(f"{api}/{PHONE_ID}/fail-next", json={"code": 131026}).status_code == 200
    assert graph(sandbox, f"{PHONE_ID}/messages", json=text()).json()["error"]["code"] == 131026
    assert httpx.post(f"{api}/{PHONE_ID}/duplicate-next", json={"times": 1}).status_code == 200
    assert httpx.post(f"{api}/clock", json={"advance_seconds": 90000}).status_code == 200
    assert httpx.get(f"{user}/history").json()["window_open"] is False
    assert httpx.get(f"{api}/{PHONE_ID}/deliveries").json() == {"deliveries": []}  # nobody subscribed yet
    added = httpx.post(f"{api}/numbers", json={"phone_number_id": "300000000000003", "display_phone_number": "3804",
                                               "verified_name": "Нова", "token": "EAAG-new-token",
                                               "app_secret": "new-secret-1"})
    assert added.status_code == 201 and len(emulator.numbers()) == 2


BAD_CONTROL_CALLS: list[tuple[str, str, Any, int]] = [
    ("POST", "/999/users/380501234567/messages", {"text": "hi"}, 404),
    ("POST", f"/{PHONE_ID}/users/abc/messages", {"text": "hi"}, 422),
    ("POST", f"/{PHONE_ID}/users/{CITIZEN}/messages", {"text": ""}, 422),
    ("POST", f"/{PHONE_ID}/users/{CITIZEN}/press", {"message_id": "wamid.x", "reply_id": "r"}, 404),
    ("POST", f"/{PHONE_ID}/users/{CITIZEN}/read", {"message_id": "wamid.x"}, 404),
    ("POST", f"/{PHONE_ID}/users/380000000001/marketing", {"stop": True}, 404),
    ("POST", f"/{PHONE_ID}/users/{CITIZEN}/media", {"kind": "image", "mime_type": "image/png",
                                                    "data_base64": "%%%"}, 422),
    ("POST", f"/{PHONE_ID}/users/{CITIZEN}/location", {"latitude": 91, "longitude": 0}, 422),
    ("POST", f"/{PHONE_ID}/fail-next", {"code": 12345}, 422),
    ("POST", f"/{PHONE_ID}/fail-next", {"code": 131047, "endpoint": "moon"}, 422),
    ("POST", f"/{PHONE_ID}/subscribe", {"url": "ftp://example.org/x", "verify_token": "v"}, 422),
    ("POST", "/numbers", {"phone_number_id": "abc", "display_phone_number": "1", "verified_name": "x",
                          "token": "t", "app_secret": "s"}, 422),
    ("POST", "/clock", {"advance_seconds": -5}, 422),
    ("GET", f"/{PHONE_ID}/users/{CITIZEN}/history?after=-1", None, 422),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), BAD_CONTROL_CALLS)
def test_control_api_rejects_bad_input_with_4xx(sandbox: LiveServer, method: str, path: str, body: Any,
                                                status: int) -> None:
    reply = httpx.request(method, f"{sandbox.url}/sandbox/api/whatsapp{path}", json=body)
    assert (reply.status_code, bool(reply.json()["detail"])) == (status, True), reply.text


def test_the_citizen_page_is_served(sandbox: LiveServer) -> None:
    page = httpx.get(f"{sandbox.url}/sandbox/whatsapp/")
    assert page.status_code == 200 and 'lang="uk"' in page.text and 'role="log"' in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    for asset in ("whatsapp.js", "whatsapp.css"):
        assert httpx.get(f"{sandbox.url}/sandbox/whatsapp/static/{asset}").status_code == 200
    assert httpx.get(f"{sandbox.url}/sandbox/whatsapp/static/index.html").status_code == 404
