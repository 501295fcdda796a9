"""The adapter against the WhatsApp emulator over real HTTP: sends, files, identity, and every documented error."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from civdesk.channels.base import (
    Button,
    ChannelAccount,
    OutboundFile,
    OutboundMessage,
    RecipientUnreachable,
    RetryLater,
    SendFailed,
)
from civdesk.channels.whatsapp import WhatsAppAdapter
from civdesk.channels.whatsapp.adapter import channel_error
from civdesk.channels.whatsapp.client import parse_error
from civdesk.sandbox.whatsapp import WhatsAppEmulator
from tests.channels.whatsapp.support import (
    CITIZEN,
    PHONE_ID,
    Receiver,
    account,
    emulator_app,
    make_emulator,
)
from tests.support.live_server import LiveServer

FIXTURES = Path(__file__).resolve().parents[4] / "shared" / "fixtures" / "messengers" / "whatsapp"
RATING = tuple(Button(title=str(n), payload=f"csat:{n}") for n in range(1, 6))
PDF = b"%PDF-1.4\n% civdesk test\n"


@pytest.fixture
def emulator() -> WhatsAppEmulator:
    return make_emulator()


@pytest.fixture
def sandbox(emulator: WhatsAppEmulator) -> Iterator[LiveServer]:
    with LiveServer(emulator_app(emulator)) as server:
        yield server


@pytest.fixture
async def adapter() -> AsyncIterator[WhatsAppAdapter]:
    client = WhatsAppAdapter()
    yield client
    await client.close()


def _to(text: str = "Добрий день", **fields: object) -> OutboundMessage:
    return OutboundMessage(recipient_external_id=CITIZEN, text=text, **fields)  # type: ignore[arg-type]


async def test_text_out_awaits_a_receipt_for_its_wamid(sandbox: LiveServer, emulator: WhatsAppEmulator,
                                                       adapter: WhatsAppAdapter) -> None:
    emulator.citizen_says(phone_number_id=PHONE_ID, wa_id=CITIZEN, text="Потрібна довідка")
    result = await adapter.send(account=account(sandbox.url), message=_to("Добрий день!"))
    assert result.awaits_receipt and result.platform_key and result.platform_key.startswith("wamid.")
    [sent] = emulator.sent(phone_number_id=PHONE_ID)
    assert (sent["type"], sent["text"], sent["wamid"], sent["status"]) == ("text", "Добрий день!",
                                                                          result.platform_key, "delivered")
    assert sent["payload"]["messaging_product"] == "whatsapp" and sent["payload"]["recipient_type"] == "individual"


async def test_buttons_out_as_reply_buttons_or_a_list(sandbox: LiveServer, emulator: WhatsAppEmulator,
                                                      adapter: WhatsAppAdapter) -> None:
    emulator.citizen_says(phone_number_id=PHONE_ID, wa_id=CITIZEN, text="Привіт")
    acc = account(sandbox.url)
    await adapter.send(account=acc, message=_to("Вам допомогли?", buttons=(Button("Так", "y"), Button("Ні", "n"))))
    rating = await adapter.send(account=acc, message=_to("Оцініть відповідь", buttons=RATING))
    many = tuple(Button(f"Відділ {n}", f"dept:{n}") for n in range(12))
    split = await adapter.send(account=acc, message=_to("Оберіть відділ", buttons=many))
    sends = emulator.sent(phone_number_id=PHONE_ID)
    assert [(s["type"], s.get("interactive")) for s in sends] == [
        ("interactive", "button"), ("interactive", "list"), ("interactive", "list"), ("interactive", "list")]
    assert rating.platform_key == sends[1]["wamid"] and split.platform_key == sends[2]["wamid"]
    assert sends[3]["text"] == "(2/2)"


async def test_a_file_out_is_uploaded_then_sent_by_media_id(sandbox: LiveServer, emulator: WhatsAppEmulator,
                                                            adapter: WhatsAppAdapter) -> None:
    emulator.citizen_says(phone_number_id=PHONE_ID, wa_id=CITIZEN, text="Надішліть бланк")
    acc = account(sandbox.url)
    upload = OutboundFile(name="бланк.pdf", mime_type="application/pdf", data=PDF)
    result = await adapter.send(account=acc, message=_to("Ось бланк", file=upload))
    [sent] = emulator.sent(phone_number_id=PHONE_ID)
    assert (sent["type"], sent["text"], sent["filename"], sent["wamid"]) == ("document", "Ось бланк", "бланк.pdf",
                                                                            result.platform_key)
    fetched = await adapter.fetch_file(account=acc, file_id=sent["media_id"])  # the upload is really stored
    assert (fetched.data, fetched.mime_type) == (PDF, "application/pdf")

    linked = OutboundFile(name="a.pdf", mime_type="application/pdf", data=PDF, public_url="https://example.org/a.pdf")
    await adapter.send(account=acc, message=_to("", file=linked))
    assert emulator.sent(phone_number_id=PHONE_ID)[-1]["link"] == "https://example.org/a.pdf"


async def test_outside_the_window_free_text_fails_later_and_a_template_goes(
        sandbox: LiveServer, emulator: WhatsAppEmulator, adapter: WhatsAppAdapter) -> None:
    emulator.citizen_says(phone_number_id=PHONE_ID, wa_id=CITIZEN, text="Дякую")
    emulator.advance_clock(25 * 3600)
    acc = account(sandbox.url)
    late = await adapter.send(account=acc, message=_to("Ми розглянули звернення"))
    template = await adapter.send(account=acc, message=_to("", template="case_update"))
    free, approved = emulator.sent(phone_number_id=PHONE_ID)
    assert (free["wamid"], free["status"], free["error_code"]) == (late.platform_key, "failed", 131047)
    assert (approved["wamid"], approved["type"], approved["status"]) == (template.platform_key, "template",
                                                                        "delivered")
    assert approved["payload"]["template"] == {"name": "case_update", "language": {"code": "uk"}}


async def test_who_am_i_names_the_number(sandbox: LiveServer, adapter: WhatsAppAdapter) -> None:
    me = await adapter.who_am_i(account=account(sandbox.url))
    assert (me["id"], me["display_phone_number"], me["verified_name"]) == (PHONE_ID, "15550783881",
                                                                           "Держслужба тест")


async def test_fetch_file_of_an_inbound_photo(sandbox: LiveServer, emulator: WhatsAppEmulator,
                                              adapter: WhatsAppAdapter) -> None:
    photo = b"\xff\xd8\xff\xe0 fake jpeg"
    body = emulator.citizen_sends_media(phone_number_id=PHONE_ID, wa_id=CITIZEN, kind="image", data=photo,
                                        mime_type="image/jpeg", caption="Пошкоджений паспорт")
    [event] = adapter.parse(body=json.dumps(body).encode()).events
    assert event.text == "Пошкоджений паспорт" and event.attachments[0]["kind"] == "photo"
    fetched = await adapter.fetch_file(account=account(sandbox.url), file_id=event.attachments[0]["file_id"])
    assert (fetched.data, fetched.mime_type) == (photo, "image/jpeg")
    with pytest.raises(SendFailed) as unknown:
        await adapter.fetch_file(account=account(sandbox.url), file_id="123456")
    assert unknown.value.permanent
    with pytest.raises(SendFailed, match="not a WhatsApp media id"):
        await adapter.fetch_file(account=account(sandbox.url), file_id="../123")


ERRORS: list[tuple[int, type[Exception], str, bool | float]] = [
    (131047, SendFailed, "outside_window", True),
    (190, SendFailed, "token", True),
    (131030, SendFailed, "not_allowed", True),
    (131000, SendFailed, "platform", False),
    (131026, RecipientUnreachable, "unreachable", True),
    (131050, RecipientUnreachable, "unsubscribed", True),
    (130429, RetryLater, "rate_limited", 1.0),
    (131056, RetryLater, "rate_limited", 6.0),
    (80007, RetryLater, "rate_limited", 60.0),
]


@pytest.mark.parametrize(("code", "kind", "ours", "extra"), ERRORS)
async def test_each_documented_error_maps_to_what_the_worker_understands(
        sandbox: LiveServer, emulator: WhatsAppEmulator, adapter: WhatsAppAdapter, code: int,
        kind: type[Exception], ours: str, extra: bool | float) -> None:
    emulator.citizen_says(phone_number_id=PHONE_ID, wa_id=CITIZEN, text="Привіт")
    emulator.fail_next(phone_number_id=PHONE_ID, code=code)
    with pytest.raises(kind) as caught:
        await adapter.send(account=account(sandbox.url), message=_to())
    error = caught.value
    assert getattr(error, "code", None) == ours
    if isinstance(error, RetryLater):
        assert error.after_seconds == extra
    elif isinstance(error, SendFailed):
        assert error.permanent is extra
    assert emulator.sent(phone_number_id=PHONE_ID) == []
    await adapter.send(account=account(sandbox.url), message=_to())  # the failure was used up


async def test_the_agent_is_told_what_to_do_in_plain_words(sandbox: LiveServer, emulator: WhatsAppEmulator,
                                                           adapter: WhatsAppAdapter) -> None:
    emulator.fail_next(phone_number_id=PHONE_ID, code=131047)
    with pytest.raises(SendFailed, match="approved template"):
        await adapter.send(account=account(sandbox.url), message=_to())
    acc = account(sandbox.url)
    stranger = ChannelAccount(id=2, config=acc.config, secrets={**acc.secrets, "token": "EAAG-wrong"})
    with pytest.raises(SendFailed, match="access token") as caught:
        await adapter.who_am_i(account=stranger)
    assert caught.value.code == "token" and "EAAG-wrong" not in str(caught.value)


async def test_the_real_throughput_and_pair_limits_ask_to_retry_later(adapter: WhatsAppAdapter) -> None:
    emulator = make_emulator(messages_per_second=3, pair_burst=100)
    with LiveServer(emulator_app(emulator)) as server:
        emulator.citizen_says(phone_number_id=PHONE_ID, wa_id=CITIZEN, text="Привіт")
        for _ in range(3):
            await adapter.send(account=account(server.url), message=_to())
        with pytest.raises(RetryLater) as throughput:
            await adapter.send(account=account(server.url), message=_to())
        assert throughput.value.after_seconds == 1.0 and "130429" in throughput.value.reason
    paired = make_emulator(pair_burst=2)
    with LiveServer(emulator_app(paired)) as server:
        paired.citizen_says(phone_number_id=PHONE_ID, wa_id=CITIZEN, text="Привіт")
        for _ in range(2):
            await adapter.send(account=account(server.url), message=_to())
        with pytest.raises(RetryLater) as pair:
            await adapter.send(account=account(server.url), message=_to())
        assert pair.value.after_seconds == 6.0 and "131056" in pair.value.reason
    await adapter.close()


async def test_an_unreachable_api_is_a_temporary_failure(adapter: WhatsAppAdapter) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(SendFailed) as caught:
        await adapter.send(account=account(f"http://127.0.0.1:{port}"), message=_to())
    assert not caught.value.permanent and caught.value.code == "network"


async def test_an_account_without_phone_number_id_or_token_is_a_config_error(adapter: WhatsAppAdapter) -> None:
    acc = account("http://127.0.0.1:9")
    for broken in (ChannelAccount(id=3, config={**acc.config, "phone_number_id": "me"}, secrets=acc.secrets),
                   ChannelAccount(id=4, config=acc.config, secrets={**acc.secrets, "token": ""})):
        with pytest.raises(SendFailed) as caught:
            await adapter.send(account=broken, message=_to())
        assert caught.value.code == "config"


async def test_register_webhook_passes_metas_handshake(sandbox: LiveServer, emulator: WhatsAppEmulator,
                                                       adapter: WhatsAppAdapter) -> None:
    receiver = Receiver()
    with LiveServer(receiver.app) as hook:
        await adapter.register_webhook(account=account(sandbox.url, waba_id="102290129340398"),
                                       url=f"{hook.url}/hook")
        assert emulator.numbers()[0]["webhook_url"] == f"{hook.url}/hook"
        emulator.citizen_says(phone_number_id=PHONE_ID, wa_id=CITIZEN, text="Чи працюєте сьогодні?")
        [event] = receiver.wait_for_events(1)
    assert event.text == "Чи працюєте сьогодні?" and event.sender.external_id == CITIZEN

    acc = account(sandbox.url)
    liar = ChannelAccount(id=5, config=acc.config, secrets={**acc.secrets, "verify_token": "not-the-one"})
    with LiveServer(Receiver().app) as hook, pytest.raises(SendFailed, match="Callback verification failed") as caught:
        await adapter.register_webhook(account=liar, url=f"{hook.url}/hook")
    assert caught.value.permanent


@pytest.mark.parametrize(("name", "kind", "ours"), [
    ("pywa_error_object_131047_reengagement.json", SendFailed, "outside_window"),
    ("pywa_error_object_190_expired_token.json", SendFailed, "token"),
    ("pywa_error_object_131053_media_upload.json", SendFailed, "rejected"),
])
def test_the_fixture_error_objects_map_as_documented(name: str, kind: type[Exception], ours: str) -> None:
    envelope = json.dumps({"error": json.loads((FIXTURES / name).read_text())}).encode()
    error = parse_error(400, envelope)
    assert error.code == json.loads((FIXTURES / name).read_text())["code"]
    mapped = channel_error(error)
    assert isinstance(mapped, kind) and mapped.code == ours
    assert parse_error(502, b"<html>bad gateway</html>").code == 502
