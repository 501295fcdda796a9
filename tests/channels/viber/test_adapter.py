"""The Viber adapter against the Viber emulator over real HTTP, with a civdesk-like webhook endpoint."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.responses import JSONResponse

from civdesk.channels.base import (
    Button,
    ChannelAccount,
    InboundKind,
    OutboundFile,
    OutboundMessage,
    ReceiptStatus,
    RecipientUnreachable,
    RetryLater,
    SendFailed,
)
from civdesk.channels.viber import ViberAdapter
from civdesk.sandbox.viber import ViberEmulator
from tests.channels.viber.support import CITIZEN, TOKEN, CivdeskHook, account, make_emulator, sandbox_app
from tests.support.live_server import LiveServer

FIXTURES = Path(__file__).resolve().parents[4] / "shared" / "fixtures" / "messengers" / "viber"
CSAT = tuple(Button(str(n), f"csat:{n}") for n in range(1, 6))
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


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


@pytest.fixture
async def adapter() -> AsyncIterator[ViberAdapter]:
    instance = ViberAdapter()
    yield instance
    await instance.close()


@pytest.fixture
async def channel(viber: LiveServer, hook: tuple[CivdeskHook, str], adapter: ViberAdapter) -> ChannelAccount:
    registered = account(viber.url)
    await adapter.register_webhook(account=registered, url=hook[1])
    return registered


def _text(to: str = CITIZEN, text: str = "Ваша довідка готова", **extra: object) -> OutboundMessage:
    return OutboundMessage(recipient_external_id=to, text=text, **extra)  # type: ignore[arg-type]


async def test_register_webhook_passes_vibers_probe_and_who_am_i(channel: ChannelAccount, adapter: ViberAdapter,
                                                                 hook: tuple[CivdeskHook, str]) -> None:
    receiver, url = hook
    assert receiver.ignored == ["webhook probe after set_webhook"]
    [(_, headers, _)] = receiver.requests
    assert "x-viber-content-signature" in headers
    me = await adapter.who_am_i(account=channel)
    assert me["name"] == "Мінсоцполітики" and me["uri"] == "minsoc" and me["webhook"] == url
    assert str(me["id"]).startswith("pa:") and "conversation_started" in me["event_types"]


async def test_register_webhook_fails_unless_the_probe_gets_200(viber: LiveServer, adapter: ViberAdapter,
                                                                hook: tuple[CivdeskHook, str],
                                                                emulator: ViberEmulator) -> None:
    receiver, url = hook
    receiver.override = lambda body: 204
    with pytest.raises(SendFailed) as caught:
        await adapter.register_webhook(account=account(viber.url), url=url)
    assert caught.value.permanent and caught.value.code == "webhook_unreachable"
    assert "HTTP 204" in caught.value.reason and emulator.webhook_info(token=TOKEN)["url"] == ""


async def test_who_am_i_says_what_is_wrong(viber: LiveServer, adapter: ViberAdapter) -> None:
    with pytest.raises(SendFailed) as caught:
        await adapter.who_am_i(account=account(viber.url, token="not-the-right-token"))
    assert caught.value.permanent and caught.value.code == "invalid_token"
    assert "not-the-right-token" not in caught.value.reason
    with pytest.raises(SendFailed) as unreachable:
        await adapter.who_am_i(account=account("http://127.0.0.1:9"))
    assert not unreachable.value.permanent and "could not reach Viber" in unreachable.value.reason


async def test_the_welcome_message_goes_back_in_the_webhooks_answer(channel: ChannelAccount,
                                                                    hook: tuple[CivdeskHook, str],
                                                                    emulator: ViberEmulator) -> None:
    emulator.citizen_opens_chat(token=TOKEN, user_id=CITIZEN, name="Олена", context="pension")
    events = hook[0].wait_for_events(1)
    # (Once, in CI, two events came here: what arrived, and when, says whether one callback came twice.)
    assert len(events) == 1, (events, [(at, body) for at, _, body in hook[0].requests])
    [started] = events
    assert (started.kind, started.text, started.sender.display_name) == (InboundKind.STARTED, "pension", "Олена")
    [welcome] = emulator.wait_for_sends(token=TOKEN, user_id=CITIZEN)
    assert welcome["method"] == "welcome" and welcome["body"]["text"].startswith("Вітаємо!")
    assert welcome["body"]["sender"] == {"name": "Мінсоцполітики"}


async def test_text_out_and_its_receipts(channel: ChannelAccount, adapter: ViberAdapter,
                                         hook: tuple[CivdeskHook, str], emulator: ViberEmulator) -> None:
    receiver = hook[0]
    emulator.citizen_says(token=TOKEN, user_id=CITIZEN, text="Коли буде готова довідка?", name="Олена")
    [question] = receiver.wait_for_events(1)
    assert (question.kind, question.text, question.sender.external_id) == (InboundKind.MESSAGE,
                                                                         "Коли буде готова довідка?", CITIZEN)
    result = await adapter.send(account=channel, message=_text())
    assert result.awaits_receipt and result.platform_key is not None and int(result.platform_key) > 2**53
    [sent] = emulator.sent(token=TOKEN)
    assert sent["body"] == {"receiver": CITIZEN, "sender": {"name": "Мінсоцполітики"}, "type": "text",
                            "text": "Ваша довідка готова"}
    delivered = receiver.wait_for_events(2)[1]
    assert (delivered.kind, delivered.receipt_status) == (InboundKind.RECEIPT, ReceiptStatus.DELIVERED)
    assert delivered.receipt_for == result.platform_key
    emulator.citizen_reads(token=TOKEN, user_id=CITIZEN)
    seen = receiver.wait_for_events(3)[2]
    assert (seen.receipt_status, seen.receipt_for) == (ReceiptStatus.READ, result.platform_key)
    emulator.fail_delivery(token=TOKEN, message_token=int(result.platform_key), desc="device unreachable")
    failed = receiver.wait_for_events(4)[3]
    assert (failed.receipt_status, failed.error) == (ReceiptStatus.FAILED, "device unreachable")


async def test_buttons_out_and_a_tap_back(channel: ChannelAccount, adapter: ViberAdapter,
                                          hook: tuple[CivdeskHook, str], emulator: ViberEmulator) -> None:
    receiver = hook[0]
    emulator.citizen_says(token=TOKEN, user_id=CITIZEN, text="Дякую")
    await adapter.send(account=channel, message=_text(text="Оцініть, будь ласка, розмову", buttons=CSAT))
    body = emulator.sent(token=TOKEN)[0]["body"]
    assert [b["ActionBody"] for b in body["keyboard"]["Buttons"]] == ["1", "2", "3", "4", "5"]
    assert body["tracking_data"].startswith("civdesk:kb:")
    emulator.citizen_presses(token=TOKEN, user_id=CITIZEN, button="4")
    emulator.citizen_says(token=TOKEN, user_id=CITIZEN, text="І ще одне питання")
    events = [e for e in receiver.wait_for_events(4) if e.kind is not InboundKind.RECEIPT]
    tap, typed = events[1], events[2]
    assert (tap.kind, tap.button_payload, tap.text) == (InboundKind.BUTTON, "csat:4", "4")
    assert (typed.kind, typed.text) == (InboundKind.MESSAGE, "І ще одне питання")


async def test_files_go_out_by_public_url(channel: ChannelAccount, adapter: ViberAdapter,
                                          emulator: ViberEmulator) -> None:
    emulator.citizen_says(token=TOKEN, user_id=CITIZEN, text="Надішліть бланк")
    picture = OutboundFile(name="scan.png", mime_type="image/png", data=PNG, public_url="https://files.example/scan.png")
    await adapter.send(account=channel, message=_text(text="Ось скан", file=picture))
    pdf = OutboundFile(name="бланк.pdf", mime_type="application/pdf", data=b"%PDF-1.7" * 10,
                       public_url="https://files.example/blank.pdf")
    result = await adapter.send(account=channel, message=_text(text="Заповніть бланк", file=pdf, buttons=CSAT[:2]))
    bodies = [s["body"] for s in emulator.sent(token=TOKEN)]
    assert {k: bodies[0][k] for k in ("type", "media", "text")} == {
        "type": "picture", "media": "https://files.example/scan.png", "text": "Ось скан"}
    assert {k: bodies[1][k] for k in ("type", "media", "size", "file_name")} == {
        "type": "file", "media": "https://files.example/blank.pdf", "size": 80, "file_name": "бланк.pdf"}
    assert bodies[2]["type"] == "text" and "keyboard" in bodies[2] and "keyboard" not in bodies[1]
    assert result.platform_key == str(emulator.sent(token=TOKEN)[2]["message_token"])  # receipts follow the last

    private = OutboundFile(name="a.pdf", mime_type="application/pdf", data=b"x")
    with pytest.raises(SendFailed) as caught:
        await adapter.send(account=channel, message=_text(file=private))
    assert caught.value.permanent and caught.value.code == "needs_public_url" and "public URL" in caught.value.reason
    assert len(emulator.sent(token=TOKEN)) == 3


async def test_fetch_file_downloads_an_inbound_picture(channel: ChannelAccount, adapter: ViberAdapter,
                                                       hook: tuple[CivdeskHook, str],
                                                       emulator: ViberEmulator) -> None:
    emulator.citizen_sends_media(token=TOKEN, user_id=CITIZEN, kind="picture", data=PNG, name="паспорт.png",
                                 mime_type="image/png", text="Мій паспорт")
    [event] = hook[0].wait_for_events(1)
    [photo] = event.attachments
    assert photo["kind"] == "photo" and event.text == "Мій паспорт" and photo["size"] == len(PNG)
    fetched = await adapter.fetch_file(account=channel, file_id=photo["file_id"])
    assert (fetched.data, fetched.mime_type, fetched.name) == (PNG, "image/png", "паспорт.png")
    with pytest.raises(SendFailed) as caught:
        await adapter.fetch_file(account=channel, file_id=photo["file_id"].replace("/media/", "/media/0"))
    assert caught.value.permanent and caught.value.code == "media_unavailable"
    with pytest.raises(SendFailed):
        await adapter.fetch_file(account=channel, file_id="file:///etc/passwd")


async def test_an_unsubscribed_citizen_is_unreachable(channel: ChannelAccount, adapter: ViberAdapter,
                                                      hook: tuple[CivdeskHook, str],
                                                      emulator: ViberEmulator) -> None:
    emulator.citizen_says(token=TOKEN, user_id=CITIZEN, text="Привіт")
    emulator.citizen_unsubscribes(token=TOKEN, user_id=CITIZEN)
    assert hook[0].wait_for_events(2)[1].kind is InboundKind.BLOCKED
    with pytest.raises(RecipientUnreachable) as caught:
        await adapter.send(account=channel, message=_text())
    assert caught.value.code == "unsubscribed" and "status 6 notSubscribed" in caught.value.reason
    with pytest.raises(RecipientUnreachable) as unknown:
        await adapter.send(account=channel, message=_text(to="nobody+known=="))
    assert unknown.value.code == "not_registered"


async def test_100_unanswered_messages_an_hour_then_retry_later(channel: ChannelAccount, adapter: ViberAdapter,
                                                                emulator: ViberEmulator) -> None:
    emulator.citizen_says(token=TOKEN, user_id=CITIZEN, text="Підпишіть мене на новини")
    for n in range(100):
        await adapter.send(account=channel, message=_text(text=f"Новина {n}"))
    with pytest.raises(RetryLater) as caught:
        await adapter.send(account=channel, message=_text(text="Новина 100"))
    assert caught.value.after_seconds == 300 and caught.value.code == "rate_limited"
    assert "100 an hour" in caught.value.reason
    emulator.citizen_says(token=TOKEN, user_id=CITIZEN, text="Дякую")  # a reply resets the count
    assert (await adapter.send(account=channel, message=_text(text="Новина 100"))).platform_key


async def test_the_documented_status_12_answer_is_retry_later(adapter: ViberAdapter) -> None:
    fixture = json.loads((FIXTURES / "official_send_message_error_status12_too_many_requests.json").read_text())
    fake = FastAPI()
    fake.post("/pa/send_message")(lambda: JSONResponse(fixture))
    with LiveServer(fake) as server, pytest.raises(RetryLater) as caught:
        await adapter.send(account=account(server.url), message=_text())
    assert "status 12 Too many requests" in caught.value.reason


STATUSES = [
    (2, SendFailed, "invalid_token", True), (3, SendFailed, "rejected", True), (4, SendFailed, "rejected", True),
    (5, RecipientUnreachable, "not_registered", None), (6, RecipientUnreachable, "unsubscribed", None),
    (7, SendFailed, "account_unavailable", True), (9, SendFailed, "account_unavailable", True),
    (10, SendFailed, "webhook_not_set", True), (11, RecipientUnreachable, "no_suitable_device", None),
    (12, RetryLater, "rate_limited", None), (13, SendFailed, "rejected", True),
    (23, SendFailed, "out_of_session_quota", True), (999, SendFailed, "viber_999", False),
]


@pytest.mark.parametrize(("status", "kind", "code", "permanent"), STATUSES)
async def test_each_documented_status_maps_to_its_exception(channel: ChannelAccount, adapter: ViberAdapter,
                                                            emulator: ViberEmulator, status: int, kind: type,
                                                            code: str, permanent: bool | None) -> None:
    emulator.citizen_says(token=TOKEN, user_id=CITIZEN, text="Привіт")
    emulator.fail_next(token=TOKEN, endpoint="send_message", status=status)
    with pytest.raises(kind) as caught:
        await adapter.send(account=channel, message=_text())
    assert type(caught.value) is kind and caught.value.code == code
    if permanent is not None:
        assert caught.value.permanent is permanent
    assert (await adapter.send(account=channel, message=_text())).platform_key  # only the next call failed


@pytest.mark.parametrize(("http_status", "kind"), [(503, SendFailed), (429, RetryLater), (404, SendFailed)])
async def test_transport_failures(channel: ChannelAccount, adapter: ViberAdapter, emulator: ViberEmulator,
                                  http_status: int, kind: type) -> None:
    emulator.citizen_says(token=TOKEN, user_id=CITIZEN, text="Привіт")
    emulator.fail_next(token=TOKEN, endpoint="send_message", status=999, http_status=http_status)
    with pytest.raises(kind) as caught:
        await adapter.send(account=channel, message=_text())
    if kind is SendFailed:
        assert caught.value.permanent is (http_status == 404) and caught.value.code == "unavailable"
    else:
        assert caught.value.after_seconds == 60


async def test_what_viber_would_refuse_is_refused_before_calling(channel: ChannelAccount, adapter: ViberAdapter,
                                                                 emulator: ViberEmulator) -> None:
    for message, code in [(_text(text="я" * 7001), "too_long"), (_text(text=" "), "empty"),
                          (_text(buttons=tuple(Button(str(n), str(n)) for n in range(25))), "too_many_buttons")]:
        with pytest.raises(SendFailed) as caught:
            await adapter.send(account=channel, message=message)
        assert caught.value.permanent and caught.value.code == code
    assert emulator.sent(token=TOKEN) == []


async def test_close_closes_the_running_loops_clients(channel: ChannelAccount, adapter: ViberAdapter) -> None:
    await adapter.who_am_i(account=channel)
    assert adapter._clients
    await adapter.close()
    assert not adapter._clients
