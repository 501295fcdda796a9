"""The Viber emulator over raw HTTP: Viber's wire format, signing, retries, errors and the control API."""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from civdesk.channels.viber import ViberAdapter
from civdesk.sandbox.viber import ViberEmulator, sign
from tests.channels.viber.support import CITIZEN, TOKEN, CivdeskHook, account, make_emulator, sandbox_app
from tests.support.live_server import LiveServer

ADAPTER = ViberAdapter()


@pytest.fixture
def emulator() -> ViberEmulator:
    return make_emulator()


@pytest.fixture
def viber(emulator: ViberEmulator) -> Iterator[LiveServer]:
    with LiveServer(sandbox_app(emulator)) as server:
        emulator.set_public_url(server.url)
        yield server


@pytest.fixture
def hook() -> Iterator[tuple[CivdeskHook, str]]:
    receiver = CivdeskHook()
    with LiveServer(receiver.app) as server:
        yield receiver, f"{server.url}/hook"


def call(server: LiveServer, endpoint: str, body: dict[str, Any] | None = None, token: str | None = TOKEN,
         **kwargs: Any) -> httpx.Response:
    headers = {"X-Viber-Auth-Token": token} if token else {}
    return httpx.post(f"{server.url}/pa/{endpoint}", json=body if body is not None else {}, headers=headers,
                      **kwargs)


def set_webhook(server: LiveServer, url: str, **extra: Any) -> dict[str, Any]:
    answer: dict[str, Any] = call(server, "set_webhook", {"url": url, "send_name": True, "send_photo": True,
                                                         **extra}).json()
    return answer


def text_message(text: str = "Добрий день", receiver: str = CITIZEN, **extra: Any) -> dict[str, Any]:
    return {"receiver": receiver, "sender": {"name": "Мінсоцполітики"}, "type": "text", "text": text, **extra}


def test_callbacks_are_signed_as_viber_signs_them(viber: LiveServer, hook: tuple[CivdeskHook, str],
                                                  emulator: ViberEmulator) -> None:
    receiver, url = hook
    assert set_webhook(viber, url) == {"status": 0, "status_message": "ok", "chat_hostname": "SN-CHAT-01_",
                                       "event_types": ["delivered", "seen", "failed", "subscribed",
                                                       "unsubscribed", "conversation_started"]}
    sent = emulator.citizen_says(token=TOKEN, user_id=CITIZEN, text="Привіт", name="Олена")
    (_, probe_headers, probe), (_, headers, raw) = receiver.wait_for_requests(2)
    assert json.loads(probe)["event"] == "webhook" and json.loads(raw) == sent
    for body, got in ((probe, probe_headers), (raw, headers)):
        assert got["x-viber-content-signature"] == sign(TOKEN, body)
        assert got["content-type"] == "application/json"
        ADAPTER.verify(account=account("x"), headers=got, body=body)  # the adapter accepts the platform's signing
    assert sent["message_token"] > 2**53 and sent["sender"]["id"] == CITIZEN
    assert set(sent) == {"event", "timestamp", "chat_hostname", "message_token", "sender", "message", "silent"}
    assert sent["sender"]["name"] == "Олена" and sent["sender"]["avatar"].startswith("https://")


def test_signature_can_also_come_in_the_query(hook: tuple[CivdeskHook, str]) -> None:
    emulator = make_emulator(sig_in_query=True)
    receiver, url = hook
    with LiveServer(sandbox_app(emulator)) as server:
        set_webhook(server, url + "?channel=7")
        emulator.citizen_says(token=TOKEN, user_id=CITIZEN, text="Привіт")
        (_, headers, raw) = receiver.wait_for_requests(2)[1]
    assert headers[":query"] == f"channel=7&sig={sign(TOKEN, raw)}"
    ADAPTER.verify(account=account("x"), headers={":query": headers[":query"]}, body=raw)
    assert [e.text for e in receiver.events] == ["Привіт"]


def test_set_webhook_fails_unless_the_probe_is_answered_200(viber: LiveServer, hook: tuple[CivdeskHook, str],
                                                            emulator: ViberEmulator) -> None:
    receiver, url = hook
    for status in (500, 204):
        receiver.override = lambda body, status=status: status  # type: ignore[misc]
        answer = set_webhook(viber, url)
        assert answer["status"] == 1 and f"HTTP {status}" in answer["status_message"]
    assert set_webhook(viber, "http://127.0.0.1:9/hook")["status"] == 1
    assert set_webhook(viber, "ftp://example.org/")["status_message"] == "invalidUrl"
    assert set_webhook(viber, url, event_types=["message"])["status"] == 3
    assert emulator.webhook_info(token=TOKEN)["url"] == ""
    receiver.override = lambda body: None
    assert set_webhook(viber, url)["status"] == 0
    assert call(viber, "set_webhook", {"url": ""}).json()["status"] == 0  # removes it
    assert emulator.webhook_info(token=TOKEN)["url"] == ""


def test_callbacks_are_retried_with_backoff_until_answered(viber: LiveServer, hook: tuple[CivdeskHook, str],
                                                           emulator: ViberEmulator) -> None:
    receiver, url = hook
    set_webhook(viber, url)
    answers = iter([500, 503, 502])
    receiver.override = lambda body: next(answers, None)
    sent = emulator.citizen_says(token=TOKEN, user_id=CITIZEN, text="Ви тут?")
    attempts = receiver.wait_for_requests(5)[1:]
    emulator.wait_until_delivered()
    assert [json.loads(raw) for _, _, raw in attempts] == [sent] * 4
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.04 and gaps[1] >= 0.09 and gaps[2] >= 0.18  # 0.05 s doubling, capped at 0.2 s
    assert [e.text for e in receiver.events] == ["Ви тут?"]
    assert emulator.webhook_info(token=TOKEN)["last_error"] == "the webhook answered HTTP 502"


def test_callbacks_are_given_up_after_the_retry_window(hook: tuple[CivdeskHook, str]) -> None:
    emulator = make_emulator(retry_window=0.3)
    receiver, url = hook
    with LiveServer(sandbox_app(emulator)) as server:
        set_webhook(server, url)
        receiver.override = lambda body: 500 if body["event"] == "message" else None
        emulator.citizen_says(token=TOKEN, user_id=CITIZEN, text="Загублене")
        emulator.wait_until_delivered(timeout=3)
        info = emulator.webhook_info(token=TOKEN)
    assert info["pending"] == 0 and [d["body"]["message"]["text"] for d in info["dropped"]] == ["Загублене"]
    assert 3 <= len(receiver.requests) - 1 <= 8


def test_one_stuck_citizen_does_not_hold_up_the_others(viber: LiveServer, hook: tuple[CivdeskHook, str],
                                                       emulator: ViberEmulator) -> None:
    receiver, url = hook
    set_webhook(viber, url)
    receiver.override = lambda body: 500 if body.get("sender", {}).get("id") == "stuck0000==" else None
    emulator.citizen_says(token=TOKEN, user_id="stuck0000==", text="застряг")
    for n in range(3):
        emulator.citizen_says(token=TOKEN, user_id=CITIZEN, text=f"m{n}")
    assert [e.text for e in receiver.wait_for_events(3)] == ["m0", "m1", "m2"]


def test_the_welcome_answer_is_delivered_and_a_bad_one_is_reported(viber: LiveServer, hook: tuple[CivdeskHook, str],
                                                                   emulator: ViberEmulator) -> None:
    receiver, url = hook
    set_webhook(viber, url)
    started = emulator.citizen_opens_chat(token=TOKEN, user_id=CITIZEN, context="довідка")
    assert started["type"] == "open" and started["subscribed"] is False and started["context"] == "довідка"
    [welcome] = emulator.wait_for_sends(token=TOKEN)
    assert welcome["method"] == "welcome" and welcome["receiver"] == CITIZEN
    # Only the welcome may reach a citizen who has not written or subscribed.
    assert call(viber, "send_message", text_message()).json()["status"] == 6
    receiver.override = lambda body: None
    receiver.adapter.immediate_reply = lambda **kw: {"type": "text", "text": "no sender"}  # type: ignore[method-assign]
    emulator.citizen_opens_chat(token=TOKEN, user_id="second0000==")
    deadline = time.monotonic() + 3
    while "welcome message refused" not in (emulator.webhook_info(token=TOKEN)["last_error"] or ""):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert len(emulator.sent(token=TOKEN)) == 1


def test_sends_are_recorded_and_receipts_filtered_by_event_types(viber: LiveServer, hook: tuple[CivdeskHook, str],
                                                                 emulator: ViberEmulator) -> None:
    receiver, url = hook
    set_webhook(viber, url, event_types=["failed"], send_name=False, send_photo=False)
    said = emulator.citizen_says(token=TOKEN, user_id=CITIZEN, text="Привіт")
    assert set(said["sender"]) == {"id", "language", "country", "api_version"}  # send_name/send_photo off
    answer = call(viber, "send_message", text_message("Вітаємо")).json()
    assert answer["status"] == 0 and answer["status_message"] == "ok" and answer["message_token"] > 2**53
    emulator.citizen_reads(token=TOKEN, user_id=CITIZEN)
    emulator.fail_delivery(token=TOKEN, message_token=answer["message_token"], desc="offline")
    receiver.wait_for_events(2)
    emulator.wait_until_delivered()
    assert [json.loads(raw)["event"] for _, _, raw in receiver.requests] == ["webhook", "message", "failed"]
    [sent] = emulator.wait_for_sends(token=TOKEN, user_id=CITIZEN)
    assert sent["body"] == text_message("Вітаємо") and sent["message_token"] == answer["message_token"]
    history = emulator.history(token=TOKEN, user_id=CITIZEN)
    assert [(e["from"], e["kind"]) for e in history["entries"]] == [("citizen", "text"), ("bot", "text"),
                                                                    ("citizen", "seen")]


def test_status_6_after_unsubscribing_and_12_after_100_unanswered(viber: LiveServer, hook: tuple[CivdeskHook, str],
                                                                  emulator: ViberEmulator) -> None:
    set_webhook(viber, hook[1])
    emulator.citizen_says(token=TOKEN, user_id=CITIZEN, text="Привіт")
    with httpx.Client() as client:
        answers = [client.post(f"{viber.url}/pa/send_message", json=text_message(f"n{n}"),
                               headers={"X-Viber-Auth-Token": TOKEN}).json()["status"] for n in range(101)]
    assert answers == [0] * 100 + [12]
    assert call(viber, "send_message", text_message()).json() == {
        "status": 12, "status_message": "Too many requests", "chat_hostname": "SN-CHAT-01_"}
    emulator.citizen_unsubscribes(token=TOKEN, user_id=CITIZEN)
    assert call(viber, "send_message", text_message()).json()["status_message"] == "notSubscribed"
    emulator.citizen_subscribes(token=TOKEN, user_id=CITIZEN)
    assert call(viber, "send_message", text_message()).json()["status"] == 12  # still nothing from the citizen
    emulator.citizen_says(token=TOKEN, user_id=CITIZEN, text="Я тут")
    assert call(viber, "send_message", text_message()).json()["status"] == 0


@pytest.mark.parametrize("status", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 23, 24, 999])
def test_fail_next_answers_each_documented_status(viber: LiveServer, hook: tuple[CivdeskHook, str],
                                                  emulator: ViberEmulator, status: int) -> None:
    set_webhook(viber, hook[1])
    emulator.citizen_says(token=TOKEN, user_id=CITIZEN, text="Привіт")
    emulator.fail_next(token=TOKEN, endpoint="send_message", status=status, times=2)
    for _ in range(2):
        reply = call(viber, "send_message", text_message())
        assert reply.status_code == 200 and reply.json()["status"] == status and reply.json()["status_message"]
    assert call(viber, "send_message", text_message()).json()["status"] == 0


def test_fail_next_can_break_the_transport_too(viber: LiveServer, emulator: ViberEmulator) -> None:
    emulator.fail_next(token=TOKEN, endpoint="get_account_info", status=999, http_status=503)
    assert call(viber, "get_account_info").status_code == 503
    assert call(viber, "get_account_info").json()["name"] == "Мінсоцполітики"
    with pytest.raises(Exception, match="unknown endpoint"):
        emulator.fail_next(token=TOKEN, endpoint="fly", status=3)


def test_auth_and_malformed_requests(viber: LiveServer, hook: tuple[CivdeskHook, str]) -> None:
    assert call(viber, "get_account_info", token=None).json()["status_message"] == "missing_auth_token"
    assert call(viber, "get_account_info", token="wrong-token-42").json()["status"] == 2
    # The official SDKs put the token in the body.
    assert call(viber, "get_account_info", {"auth_token": TOKEN}, token=None).json()["status"] == 0
    bad = httpx.post(f"{viber.url}/pa/send_message", content=b"{oops", headers={"X-Viber-Auth-Token": TOKEN})
    assert bad.status_code == 200 and bad.json()["status"] == 3
    assert call(viber, "send_message", text_message()).json()["status"] == 10  # no webhook yet
    set_webhook(viber, hook[1])
    for body, status in [({**text_message(), "sender": {}}, 4), (text_message(receiver=""), 4),
                         (text_message(text=""), 4), (text_message(text="я" * 7001), 3),
                         ({**text_message(), "sender": {"name": "я" * 29}}, 3), ({**text_message(), "type": "x"}, 3),
                         ({**text_message(), "type": "picture", "media": "not a url"}, 3),
                         ({**text_message(), "type": "file", "media": "https://x.example/a.pdf"}, 4),
                         ({**text_message(), "keyboard": {"Buttons": []}}, 3),
                         ({**text_message(), "keyboard": {"Buttons": [{"Columns": 7, "ActionBody": "a"}]}}, 3),
                         ({**text_message(), "tracking_data": "x" * 4001}, 3), (text_message(receiver="nobody=="), 5)]:
        assert call(viber, "send_message", body).json()["status"] == status, body
    assert httpx.post(f"{viber.url}/pa/broadcast_telepathy", json={}).status_code == 404


def test_get_user_details(viber: LiveServer, emulator: ViberEmulator) -> None:
    emulator.citizen_opens_chat(token=TOKEN, user_id=CITIZEN, name="Ігор")
    details = call(viber, "get_user_details", {"id": CITIZEN}).json()
    assert details["status"] == 0 and details["user"]["name"] == "Ігор"
    assert call(viber, "get_user_details", {"id": "x"}).json()["status"] == 5


def test_duplicate_delivery_can_be_injected(viber: LiveServer, hook: tuple[CivdeskHook, str],
                                            emulator: ViberEmulator) -> None:
    receiver, url = hook
    set_webhook(viber, url)
    emulator.duplicate_next_push(token=TOKEN)
    first = emulator.citizen_says(token=TOKEN, user_id=CITIZEN, text="раз")
    receiver.wait_for_requests(3)
    assert [json.loads(raw) for _, _, raw in receiver.requests[1:]] == [first, first]
    assert [e.platform_key for e in receiver.events] == [f"message:{first['message_token']}"] * 2


def test_control_api_plays_the_citizen(viber: LiveServer, hook: tuple[CivdeskHook, str],
                                       emulator: ViberEmulator) -> None:
    set_webhook(viber, hook[1])
    api = f"{viber.url}/sandbox/api/viber"
    assert httpx.get(f"{api}/accounts").json()["accounts"][0]["token"] == TOKEN
    citizen = {"user_id": CITIZEN, "name": "Марко"}
    assert httpx.post(f"{api}/{TOKEN}/citizen/open", json=citizen).json()["event"] == "conversation_started"
    emulator.wait_for_sends(token=TOKEN)  # the welcome, from the webhook's answer
    said = httpx.post(f"{api}/{TOKEN}/citizen/message", json={**citizen, "text": "Довідка"}).json()
    assert said["message"] == {"type": "text", "text": "Довідка"} and said["sender"]["name"] == "Марко"
    board = {"Type": "keyboard", "Buttons": [{"Columns": 3, "Rows": 1, "ActionType": "reply", "ActionBody": "yes",
                                              "Text": "Так"}]}
    call(viber, "send_message", text_message("Підходить?", keyboard=board, tracking_data="t1"))
    pressed = httpx.post(f"{api}/{TOKEN}/citizen/press", json={"user_id": CITIZEN, "button": "Так"}).json()
    assert pressed["message"] == {"type": "text", "text": "yes", "tracking_data": "t1"}
    media = {"user_id": CITIZEN, "kind": "file", "file_name": "заява.pdf", "mime_type": "application/pdf",
             "data_base64": base64.b64encode(b"%PDF").decode()}
    sent_file = httpx.post(f"{api}/{TOKEN}/citizen/media", json=media).json()["message"]
    download = httpx.get(sent_file["media"])
    assert download.content == b"%PDF" and download.headers["content-type"] == "application/pdf"
    assert sent_file["file_name"] == "заява.pdf" and sent_file["size"] == 4
    located = httpx.post(f"{api}/{TOKEN}/citizen/location", json={"user_id": CITIZEN, "lat": 50.45, "lon": 30.52})
    assert located.json()["message"]["location"] == {"lat": 50.45, "lon": 30.52}
    contact = {"user_id": CITIZEN, "contact_name": "Марко", "phone_number": "380501234567"}
    assert httpx.post(f"{api}/{TOKEN}/citizen/contact", json=contact).json()["message"]["type"] == "contact"
    assert len(httpx.post(f"{api}/{TOKEN}/citizen/read", json={"user_id": CITIZEN}).json()["seen"]) == 2
    assert httpx.post(f"{api}/{TOKEN}/citizen/unsubscribe", json=citizen).json()["event"] == "unsubscribed"
    history = httpx.get(f"{api}/{TOKEN}/history", params={"user_id": CITIZEN}).json()
    assert history["subscribed"] is False and history["keyboard"] == board
    assert [(e["from"], e["kind"]) for e in history["entries"]][:5] == [
        ("citizen", "opened"), ("bot", "text"), ("citizen", "text"), ("bot", "text"), ("citizen", "press")]
    later = httpx.get(f"{api}/{TOKEN}/history", params={"user_id": CITIZEN, "after": history["last_seq"]}).json()
    assert later["entries"] == []
    sent = httpx.get(f"{api}/{TOKEN}/sent", params={"user_id": CITIZEN}).json()["sent"]
    assert [s["method"] for s in sent] == ["welcome", "send_message"]
    failing = {"endpoint": "get_account_info", "status": 7}
    assert httpx.post(f"{api}/{TOKEN}/fail-next", json=failing).status_code == 200
    assert call(viber, "get_account_info").json()["status_message"] == "publicAccountBlocked"
    token = sent[1]["message_token"]
    failed = httpx.post(f"{api}/{TOKEN}/fail-delivery", json={"message_token": token, "desc": "offline"}).json()
    assert failed == {**failed, "event": "failed", "desc": "offline", "message_token": token}
    assert httpx.get(f"{api}/{TOKEN}/webhook").json()["url"] == hook[1]


BAD_CONTROL_CALLS: list[tuple[str, str, Any, int]] = [
    ("POST", "/nope-nope-nope/citizen/message", {"user_id": CITIZEN, "text": "hi"}, 404),
    ("POST", f"/{TOKEN}/citizen/message", {"user_id": CITIZEN, "text": ""}, 422),
    ("POST", f"/{TOKEN}/citizen/message", {"user_id": "bad id with spaces", "text": "hi"}, 422),
    ("POST", f"/{TOKEN}/citizen/message", "not json", 422),
    ("POST", f"/{TOKEN}/citizen/press", {"user_id": CITIZEN, "button": "x"}, 404),
    ("POST", f"/{TOKEN}/citizen/unsubscribe", {"user_id": "never0000=="}, 404),
    ("POST", f"/{TOKEN}/citizen/media", {"user_id": CITIZEN, "kind": "gif", "file_name": "a", "mime_type": "a/b",
                                         "data_base64": "AA=="}, 422),
    ("POST", f"/{TOKEN}/citizen/media", {"user_id": CITIZEN, "kind": "file", "file_name": "a", "mime_type": "a/b",
                                         "data_base64": "!!"}, 422),
    ("POST", f"/{TOKEN}/citizen/location", {"user_id": CITIZEN, "lat": 91, "lon": 0}, 422),
    ("POST", f"/{TOKEN}/fail-next", {"endpoint": "fly", "status": 3}, 422),
    ("POST", f"/{TOKEN}/fail-next", {"endpoint": "send_message", "status": 0}, 422),
    ("POST", f"/{TOKEN}/fail-delivery", {"message_token": 1, "desc": "x"}, 404),
    ("POST", "/accounts", {"token": "short", "name": "X"}, 422),
    ("GET", f"/{TOKEN}/history?user_id={CITIZEN}&after=-1", None, 422),
]


def test_control_api_rejects_bad_input_with_4xx(viber: LiveServer, emulator: ViberEmulator) -> None:
    emulator.citizen_says(token=TOKEN, user_id=CITIZEN, text="hi")
    emulator.citizen_unsubscribes(token=TOKEN, user_id=CITIZEN)
    calls = [*BAD_CONTROL_CALLS, ("POST", f"/{TOKEN}/citizen/unsubscribe", {"user_id": CITIZEN}, 409)]
    for method, path, body, status in calls:
        content = body if isinstance(body, str) else None
        reply = httpx.request(method, f"{viber.url}/sandbox/api/viber{path}", content=content,
                              json=None if content else body, headers={"Content-Type": "application/json"})
        assert (reply.status_code, bool(reply.json()["detail"])) == (status, True), (method, path, reply.text)
    assert httpx.get(f"{viber.url}/sandbox/viber/media/nothing/a.png").status_code == 404


def test_citizen_page_is_served(viber: LiveServer) -> None:
    page = httpx.get(f"{viber.url}/sandbox/viber/")
    assert page.status_code == 200 and 'lang="uk"' in page.text and "Пісочниця Viber" in page.text
    assert 'role="log"' in page.text and "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("viber.js", "viber.css"):
        assert httpx.get(f"{viber.url}/sandbox/viber/static/{asset}").status_code == 200
    assert httpx.get(f"{viber.url}/sandbox/viber/static/../routes.py").status_code == 404
