"""The Messenger emulator over real HTTP: signed, batched, retried webhooks; the Graph API's answers and errors."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from starlette.responses import PlainTextResponse

from civdesk.channels.base import ChannelAccount, InboundKind, SignatureInvalid
from civdesk.channels.messenger import MessengerAdapter
from civdesk.sandbox.messenger import ERRORS, MessengerEmulator, PageSpec, SandboxError
from tests.channels.messenger.conftest import sandbox_app
from tests.support.live_server import LiveServer

PAGE = PageSpec(page_id="104000000000002", name="ЦНАП", token="EAAB-page-token-2", app_secret="app-secret-2",
                subscribed=True)
PSID = "7200000000000001"
VERIFY = "verify-token-2"
ACCOUNT = ChannelAccount(id=2, config={}, secrets={"page_token": PAGE.token, "app_secret": PAGE.app_secret,
                                                   "verify_token": VERIFY})
ADAPTER = MessengerAdapter()


class Receiver:
    """civdesk's webhook endpoint in miniature: the GET handshake and verify + parse, by the real adapter."""

    def __init__(self, decide: Callable[[int], int] | None = None) -> None:
        self.decide = decide or (lambda attempt: 200)
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.events: list[Any] = []
        self._cond = threading.Condition()
        self.app = FastAPI()

        @self.app.get("/hook")
        def handshake(request: Request) -> Response:
            try:
                return PlainTextResponse(ADAPTER.handshake(account=ACCOUNT, params=dict(request.query_params)))
            except SignatureInvalid:
                return Response(status_code=403)

        @self.app.post("/hook")
        async def hook(request: Request) -> Response:
            body = await request.body()
            headers = {k.lower(): v for k, v in request.headers.items()}
            ADAPTER.verify(account=ACCOUNT, headers=headers, body=body)  # raises (500) on a bad signature
            with self._cond:
                self.requests.append((headers, body))
                status = self.decide(len(self.requests))
                if status == 200:
                    self.events.extend(ADAPTER.parse(body=body).events)
                self._cond.notify_all()
            return Response(status_code=status)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[dict[str, str], bytes]]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.requests) >= count, timeout), self.requests
            return list(self.requests)


@pytest.fixture
def emulator() -> MessengerEmulator:
    return MessengerEmulator(pages=[PAGE], retry_base_delay=0.05, retry_max_delay=0.2)


@pytest.fixture
def sandbox(emulator: MessengerEmulator) -> Iterator[LiveServer]:
    with LiveServer(sandbox_app(emulator)) as server:
        emulator.set_public_url(server.url)
        yield server


def graph(sandbox: LiveServer, method: str, path: str, *, token: str = PAGE.token, proof: bool = True,
          **kwargs: Any) -> httpx.Response:
    params = {"access_token": token}
    if proof:
        params["appsecret_proof"] = hmac.new(PAGE.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
    return httpx.request(method, f"{sandbox.url}/v21.0/{path}", params=params, **kwargs)


def send_text(sandbox: LiveServer, text: str = "Вітаємо", psid: str = PSID, **message: Any) -> httpx.Response:
    body = {"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": {"text": text, **message}}
    return graph(sandbox, "POST", "me/messages", json=body)


def hook_up(emulator: MessengerEmulator, receiver: Receiver, hook: LiveServer) -> None:
    emulator.set_webhook(page_id=PAGE.page_id, url=f"{hook.url}/hook", verify_token=VERIFY)


def test_setting_the_webhook_needs_the_challenge_answered(emulator: MessengerEmulator) -> None:
    receiver = Receiver()
    with LiveServer(receiver.app) as hook:
        with pytest.raises(SandboxError, match="challenge"):
            emulator.set_webhook(page_id=PAGE.page_id, url=f"{hook.url}/hook", verify_token="wrong")
        hook_up(emulator, receiver, hook)
    assert emulator.pages()[0]["webhook_url"].endswith("/hook")


async def test_webhooks_are_signed_as_meta_signs_them(emulator: MessengerEmulator, sandbox: LiveServer) -> None:
    receiver = Receiver()
    with LiveServer(receiver.app) as hook:
        hook_up(emulator, receiver, hook)
        emulator.citizen_says(page_id=PAGE.page_id, psid=PSID, text="Привіт, ЦНАП ✓", name="Олена")
        [(headers, body)] = receiver.wait_for(1)
    assert headers["x-hub-signature-256"].startswith("sha256=") and headers["x-hub-signature"].startswith("sha1=")
    assert b"\\u2713" in body and b'":"page","entry":[{' in body  # Meta's compact, ASCII-escaped JSON
    # Both signatures are right on their own: the sha1 one alone passes the adapter's legacy check.
    ADAPTER.verify(account=ACCOUNT, headers={"x-hub-signature": headers["x-hub-signature"]}, body=body)
    [event] = receiver.events
    assert (event.kind, event.text, event.sender.external_id) == (InboundKind.MESSAGE, "Привіт, ЦНАП ✓", PSID)


async def test_non_2xx_is_retried_with_the_same_body(emulator: MessengerEmulator, sandbox: LiveServer) -> None:
    receiver = Receiver(lambda attempt: 500 if attempt <= 2 else 200)
    with LiveServer(receiver.app) as hook:
        hook_up(emulator, receiver, hook)
        emulator.citizen_says(page_id=PAGE.page_id, psid=PSID, text="раз")
        requests = receiver.wait_for(3)
        await emulator.wait_idle()
    assert len({body for _, body in requests}) == 1
    assert [p["status"] for p in emulator.pushes(page_id=PAGE.page_id)] == [500, 500, 200]
    assert [e.text for e in receiver.events] == ["раз"]


async def test_connection_refused_is_retried_until_the_endpoint_is_up(emulator: MessengerEmulator,
                                                                      sandbox: LiveServer) -> None:
    receiver = Receiver()
    with LiveServer(receiver.app) as hook:
        port = hook.port
        hook_up(emulator, receiver, hook)
    emulator.citizen_says(page_id=PAGE.page_id, psid=PSID, text="ви тут?")
    emulator.wait_for_pushes(page_id=PAGE.page_id, count=2)
    with LiveServer(receiver.app, port=port):
        receiver.wait_for(1)
        await emulator.wait_idle()
    assert emulator.pushes(page_id=PAGE.page_id)[0]["error"].startswith("the webhook could not be reached")


async def test_queued_events_are_batched_in_order(emulator: MessengerEmulator, sandbox: LiveServer) -> None:
    for n in range(3):
        emulator.citizen_says(page_id=PAGE.page_id, psid=PSID, text=f"повідомлення {n}")
    emulator.citizen_reads(page_id=PAGE.page_id, psid=PSID)
    receiver = Receiver()
    with LiveServer(receiver.app) as hook:
        hook_up(emulator, receiver, hook)
        [(_, body)] = receiver.wait_for(1)
    assert len(json.loads(body)["entry"]) == 4
    assert [e.kind for e in receiver.events] == [InboundKind.MESSAGE] * 3 + [InboundKind.RECEIPT]


async def test_a_duplicate_delivery_can_be_injected(emulator: MessengerEmulator, sandbox: LiveServer) -> None:
    receiver = Receiver()
    with LiveServer(receiver.app) as hook:
        hook_up(emulator, receiver, hook)
        emulator.duplicate_next_push(page_id=PAGE.page_id)
        emulator.citizen_says(page_id=PAGE.page_id, psid=PSID, text="двічі")
        first, second = receiver.wait_for(2)
    assert first[1] == second[1]
    assert receiver.events[0].platform_key == receiver.events[1].platform_key


async def test_each_send_is_echoed_and_delivered_and_reading_reports_a_watermark(emulator: MessengerEmulator,
                                                                                 sandbox: LiveServer) -> None:
    emulator.citizen_says(page_id=PAGE.page_id, psid=PSID, text="Добрий день")
    reply = send_text(sandbox).json()
    assert reply["recipient_id"] == PSID and reply["message_id"].startswith("m_")
    receiver = Receiver()
    with LiveServer(receiver.app) as hook:
        hook_up(emulator, receiver, hook)
        receiver.wait_for(1)
        emulator.citizen_reads(page_id=PAGE.page_id, psid=PSID)
        receiver.wait_for(2)
    bodies = [json.loads(body) for _, body in receiver.requests]
    events = [entry["messaging"][0] for body in bodies for entry in body["entry"]]
    assert events[1]["message"]["is_echo"] is True and events[1]["message"]["mid"] == reply["message_id"]
    assert events[2]["delivery"]["mids"] == [reply["message_id"]]
    assert events[3]["read"]["watermark"] >= events[2]["delivery"]["watermark"]
    kinds = [(e.kind, e.receipt_status) for e in receiver.events]
    assert kinds == [(InboundKind.MESSAGE, None), (InboundKind.RECEIPT, "delivered"), (InboundKind.RECEIPT, "read")]
    assert emulator.history(page_id=PAGE.page_id, psid=PSID)["entries"][-1]["read"] is True


async def test_only_subscribed_fields_are_delivered(emulator: MessengerEmulator, sandbox: LiveServer) -> None:
    graph(sandbox, "POST", "me/subscribed_apps", data={"subscribed_fields": "messages"}).raise_for_status()
    assert graph(sandbox, "GET", "me/subscribed_apps").json()["data"][0]["subscribed_fields"] == ["messages"]
    emulator.citizen_says(page_id=PAGE.page_id, psid=PSID, text="a")
    send_text(sandbox).raise_for_status()
    emulator.citizen_reads(page_id=PAGE.page_id, psid=PSID)
    receiver = Receiver()
    with LiveServer(receiver.app) as hook:
        hook_up(emulator, receiver, hook)
        await emulator.wait_idle()
    assert [e.kind for e in receiver.events] == [InboundKind.MESSAGE]


def test_sends_are_recorded_and_checked_as_meta_checks_them(emulator: MessengerEmulator, sandbox: LiveServer) -> None:
    emulator.citizen_says(page_id=PAGE.page_id, psid=PSID, text="Добрий день")
    replies = [{"content_type": "text", "title": str(n), "payload": f"csat:{n}"} for n in range(1, 6)]
    assert send_text(sandbox, "Оцініть", quick_replies=replies).status_code == 200
    [sent] = emulator.sent(page_id=PAGE.page_id, psid=PSID)
    assert sent["message"]["quick_replies"] == replies and sent["messaging_type"] == "RESPONSE"
    for bad in (send_text(sandbox, "x" * 2001), send_text(sandbox, "x", quick_replies=replies * 3),
                send_text(sandbox, "x", quick_replies=[{"content_type": "text", "title": "x" * 21, "payload": "p"}]),
                graph(sandbox, "POST", "me/messages", json={"recipient": {"id": PSID}, "message": {"text": "x"}})):
        assert bad.status_code == 400 and bad.json()["error"]["code"] == 100
    unknown = send_text(sandbox, psid="7200000000000999").json()["error"]
    assert (unknown["code"], unknown["error_subcode"]) == (100, 2018001)


def test_token_and_appsecret_proof_are_checked(sandbox: LiveServer) -> None:
    error = graph(sandbox, "GET", "me", token="EAA-unknown").json()["error"]
    assert (error["code"], error["type"]) == (190, "OAuthException")
    assert graph(sandbox, "GET", "me", proof=False).json()["error"]["code"] == 100
    wrong = httpx.get(f"{sandbox.url}/v21.0/me", params={"access_token": PAGE.token, "appsecret_proof": "00"})
    assert "appsecret_proof" in wrong.json()["error"]["message"]
    assert graph(sandbox, "GET", "me").json() == {"id": PAGE.page_id, "name": PAGE.name}
    bearer = httpx.get(f"{sandbox.url}/v21.0/me", headers={"Authorization": f"Bearer {PAGE.token}"},
                       params={"appsecret_proof": hmac.new(PAGE.app_secret.encode(), PAGE.token.encode(),
                                                           hashlib.sha256).hexdigest()})
    assert bearer.json()["id"] == PAGE.page_id
    bad_version = httpx.get(f"{sandbox.url}/v21/me", params={"access_token": PAGE.token})
    assert bad_version.json()["error"]["code"] == 2500


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_fail_next_answers_each_documented_error(name: str, emulator: MessengerEmulator, sandbox: LiveServer) -> None:
    emulator.citizen_says(page_id=PAGE.page_id, psid=PSID, text="a")
    emulator.fail_next(page_id=PAGE.page_id, error=name)
    reply = send_text(sandbox)
    fault = ERRORS[name]
    assert reply.status_code == fault.status
    error = reply.json()["error"]
    assert (error["code"], error.get("error_subcode"), error["message"]) == (fault.code, fault.subcode, fault.message)
    assert error["fbtrace_id"] and error["type"]
    assert send_text(sandbox).status_code == 200
    assert len(emulator.sent(page_id=PAGE.page_id)) == 1  # the failed call recorded nothing


def test_fail_next_custom_errors_and_usage_headers(emulator: MessengerEmulator, sandbox: LiveServer) -> None:
    emulator.fail_next(page_id=PAGE.page_id, endpoint="me", status=400, code=17, message="(#17) User request limit",
                       times=2, regain_minutes=4)
    for _ in range(2):
        reply = graph(sandbox, "GET", "me")
        assert reply.json()["error"]["code"] == 17
        usage = json.loads(reply.headers["x-business-use-case-usage"])
        assert usage["0"][0]["estimated_time_to_regain_access"] == 4
    assert graph(sandbox, "GET", "me").status_code == 200
    with pytest.raises(SandboxError):
        emulator.fail_next(page_id=PAGE.page_id, error="nope")
    with pytest.raises(SandboxError):
        emulator.fail_next(page_id=PAGE.page_id, error="app_rate_limit", endpoint="nope")


def test_a_blocked_citizen_and_the_24_hour_window(emulator: MessengerEmulator, sandbox: LiveServer) -> None:
    emulator.citizen_says(page_id=PAGE.page_id, psid=PSID, text="a")
    emulator.citizen_blocks(page_id=PAGE.page_id, psid=PSID)
    error = send_text(sandbox).json()["error"]
    assert (error["code"], error["error_subcode"]) == (551, 1545041)
    with pytest.raises(SandboxError):
        emulator.citizen_says(page_id=PAGE.page_id, psid=PSID, text="b")
    emulator.citizen_unblocks(page_id=PAGE.page_id, psid=PSID)
    emulator.citizen_falls_silent(page_id=PAGE.page_id, psid=PSID, hours=25)
    error = send_text(sandbox).json()["error"]
    assert (error["code"], error["error_subcode"]) == (10, 2018278)
    tagged = {"recipient": {"id": PSID}, "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT",
              "message": {"text": "Відповідь працівника"}}
    assert graph(sandbox, "POST", "me/messages", json=tagged).status_code == 200
    emulator.citizen_says(page_id=PAGE.page_id, psid=PSID, text="знову я")
    assert send_text(sandbox).status_code == 200


def test_uploads_attachments_and_the_cdn(emulator: MessengerEmulator, sandbox: LiveServer) -> None:
    emulator.citizen_says(page_id=PAGE.page_id, psid=PSID, text="a")
    fields = {"recipient": json.dumps({"id": PSID}), "messaging_type": "RESPONSE",
              "message": json.dumps({"attachment": {"type": "file", "payload": {"is_reusable": True}}})}
    files = {"filedata": ("Заява.pdf", b"%PDF", "application/pdf")}
    assert graph(sandbox, "POST", "me/messages", data=fields, files=files).status_code == 200
    url = emulator.sent(page_id=PAGE.page_id)[0]["url"]
    assert httpx.get(url).content == b"%PDF"
    saved = graph(sandbox, "POST", "me/message_attachments", data={"message": fields["message"]}, files=files).json()
    body = {"recipient": {"id": PSID}, "messaging_type": "RESPONSE",
            "message": {"attachment": {"type": "file", "payload": {"attachment_id": saved["attachment_id"]}}}}
    assert graph(sandbox, "POST", "me/messages", json=body).status_code == 200
    body["message"]["attachment"]["payload"] = {"attachment_id": "404"}
    assert graph(sandbox, "POST", "me/messages", json=body).json()["error"]["code"] == 100
    assert httpx.get(f"{sandbox.url}/sandbox/messenger/cdn/nope/x.pdf").status_code == 404


def test_quick_replies_vanish_once_the_citizen_acts_and_get_started_needs_a_profile(
        emulator: MessengerEmulator, sandbox: LiveServer) -> None:
    with pytest.raises(SandboxError, match="Get Started"):
        emulator.citizen_gets_started(page_id=PAGE.page_id, psid=PSID)
    profile = graph(sandbox, "POST", "me/messenger_profile", json={"get_started": {"payload": "GET_STARTED"}})
    assert profile.json() == {"result": "success"}
    started = emulator.citizen_gets_started(page_id=PAGE.page_id, psid=PSID, name="Петро")
    assert started["postback"]["payload"] == "GET_STARTED"
    send_text(sandbox, "Оцініть", quick_replies=[{"content_type": "text", "title": "5", "payload": "csat:5"}])
    emulator.citizen_says(page_id=PAGE.page_id, psid=PSID, text="пізніше")
    with pytest.raises(SandboxError):
        emulator.citizen_presses(page_id=PAGE.page_id, psid=PSID, payload="csat:5")


def test_control_api_plays_the_citizen(emulator: MessengerEmulator, sandbox: LiveServer) -> None:
    base = f"{sandbox.url}/sandbox/api/messenger"
    new_page = {"page_id": "104000000000003", "name": "Пенсійний фонд", "token": "EAAB-page-token-3",
                "app_secret": "app-secret-3"}
    assert httpx.post(f"{base}/pages", json=new_page).status_code == 201
    assert len(httpx.get(f"{base}/pages").json()["pages"]) == 2
    citizen = f"{base}/pages/{PAGE.page_id}/citizens/{PSID}"
    event = httpx.post(f"{citizen}/messages", json={"text": "Добрий день", "name": "Олена"}).json()
    assert event["message"]["text"] == "Добрий день"
    sent_file = httpx.post(f"{citizen}/files", files={"file": ("фото.jpg", b"jpg", "image/jpeg")}).json()
    url = sent_file["message"]["attachments"][0]["payload"]["url"]
    assert sent_file["message"]["attachments"][0]["type"] == "image" and httpx.get(url).content == b"jpg"
    send_text(sandbox, "Оцініть", quick_replies=[{"content_type": "text", "title": "5", "payload": "csat:5"}])
    pressed = httpx.post(f"{citizen}/press", json={"payload": "csat:5"}).json()
    assert pressed["message"]["quick_reply"] == {"payload": "csat:5"}
    assert httpx.post(f"{citizen}/read").json()["read"]["watermark"] > 0
    assert httpx.post(f"{citizen}/silence", json={"hours": 25}).json() == {"ok": True}
    assert httpx.post(f"{citizen}/block").status_code == 200
    history = httpx.get(f"{citizen}/history").json()
    assert history["blocked"] and history["name"] == "Олена"
    assert [e["kind"] for e in history["entries"]] == ["message", "file", "message", "press", "blocked"]
    assert httpx.post(f"{citizen}/unblock").status_code == 200
    assert len(httpx.get(f"{base}/pages/{PAGE.page_id}/sent").json()["sent"]) == 1
    assert httpx.post(f"{base}/pages/{PAGE.page_id}/fail-next", json={"error": "unexpected"}).status_code == 200
    assert send_text(sandbox).status_code == 500
    assert httpx.post(f"{base}/pages/{PAGE.page_id}/duplicate-next", json={"times": 1}).status_code == 200
    assert "user_unavailable" in httpx.get(f"{base}/errors").json()["errors"]
    assert httpx.get(f"{base}/pages/{PAGE.page_id}/pushes").json() == {"pushes": []}


def test_control_api_rejects_bad_input_with_4xx(sandbox: LiveServer) -> None:
    base = f"{sandbox.url}/sandbox/api/messenger"
    citizen = f"{base}/pages/{PAGE.page_id}/citizens/{PSID}"
    assert httpx.post(f"{base}/pages/999/citizens/{PSID}/messages", json={"text": "a"}).status_code == 404
    assert httpx.post(f"{base}/pages/{PAGE.page_id}/citizens/abc/messages", json={"text": "a"}).status_code == 422
    assert httpx.post(f"{citizen}/messages", json={"text": ""}).status_code == 422
    assert httpx.post(f"{citizen}/press", json={"payload": "nothing"}).status_code == 404
    assert httpx.post(f"{base}/pages/{PAGE.page_id}/fail-next", json={"error": "nope"}).status_code == 422
    assert httpx.post(f"{base}/pages", json={"page_id": "x"}).status_code == 422
    hook = {"url": "http://127.0.0.1:9/hook", "verify_token": "v"}
    assert httpx.post(f"{base}/pages/{PAGE.page_id}/webhook", json=hook).status_code == 422


def test_citizen_page_is_served(sandbox: LiveServer) -> None:
    page = httpx.get(f"{sandbox.url}/sandbox/messenger/")
    assert page.status_code == 200 and 'lang="uk"' in page.text and "default-src 'self'" in \
        page.headers["content-security-policy"]
    assert httpx.get(f"{sandbox.url}/sandbox/messenger/static/messenger.js").status_code == 200
    assert httpx.get(f"{sandbox.url}/sandbox/messenger/static/../routes.py").status_code == 404


def test_pages_are_validated() -> None:
    emulator = MessengerEmulator(pages=[PAGE])
    emulator.add_page(PAGE)  # the same spec again is fine
    with pytest.raises(SandboxError):
        emulator.add_page(PageSpec(page_id=PAGE.page_id, name="інша", token="t2", app_secret="s"))
    with pytest.raises(SandboxError):
        emulator.add_page(PageSpec(page_id="105", name="x", token=PAGE.token, app_secret="s"))
    with pytest.raises(SandboxError):
        emulator.add_page(PageSpec(page_id="abc", name="x", token="t3", app_secret="s"))
    with pytest.raises(SandboxError, match="own URL"):
        emulator.citizen_sends_file(page_id=PAGE.page_id, psid=PSID, data=b"x", mime_type="image/png", name="a.png")
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        emulator.wait_for_sends(page_id=PAGE.page_id, timeout=0.05)
    assert time.monotonic() - start < 2
