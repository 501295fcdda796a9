"""The adapter against the Messenger emulator over real HTTP: sends, files, who_am_i and every documented error."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

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
from civdesk.channels.messenger import MessengerAdapter
from civdesk.channels.messenger.parse import GET_STARTED_PAYLOAD, parse_webhook
from civdesk.sandbox.messenger import ERRORS, MessengerEmulator
from tests.channels.messenger.conftest import PAGE, PSID
from tests.support.live_server import LiveServer


def _text(text: str = "Вітаємо! Чим допомогти?", **kwargs: object) -> OutboundMessage:
    return OutboundMessage(recipient_external_id=PSID, text=text, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def citizen(emulator: MessengerEmulator) -> str:
    emulator.citizen_says(page_id=PAGE.page_id, psid=PSID, text="Добрий день", name="Олена")
    return PSID


async def test_who_am_i_names_the_page(adapter: MessengerAdapter, account: ChannelAccount) -> None:
    assert await adapter.who_am_i(account=account) == {"id": PAGE.page_id, "name": PAGE.name}
    pinned = replace(account, config={**account.config, "page_id": PAGE.page_id})
    assert (await adapter.who_am_i(account=pinned))["id"] == PAGE.page_id


async def test_who_am_i_says_what_is_wrong(adapter: MessengerAdapter, account: ChannelAccount) -> None:
    wrong_page = replace(account, config={**account.config, "page_id": "999"})
    with pytest.raises(SendFailed) as caught:
        await adapter.who_am_i(account=wrong_page)
    assert caught.value.code == "page_mismatch" and "999" in caught.value.reason
    bad_token = replace(account, secrets={**account.secrets, "page_token": "EAA-nope"})
    with pytest.raises(SendFailed) as caught:
        await adapter.who_am_i(account=bad_token)
    assert caught.value.code == "token" and caught.value.permanent and "EAA-nope" not in caught.value.reason
    bad_secret = replace(account, secrets={**account.secrets, "app_secret": "wrong"})
    with pytest.raises(SendFailed, match="appsecret_proof"):
        await adapter.who_am_i(account=bad_secret)


async def test_text_goes_out_as_a_response_with_appsecret_proof(adapter: MessengerAdapter, account: ChannelAccount,
                                                                emulator: MessengerEmulator, citizen: str) -> None:
    result = await adapter.send(account=account, message=_text())
    [sent] = emulator.sent(page_id=PAGE.page_id, psid=citizen)
    assert sent["message"] == {"text": "Вітаємо! Чим допомогти?"} and sent["messaging_type"] == "RESPONSE"
    assert result.platform_key == sent["message_id"] and result.awaits_receipt


async def test_delivery_receipt_names_what_send_returned(adapter: MessengerAdapter, account: ChannelAccount,
                                                         emulator: MessengerEmulator, citizen: str) -> None:
    result = await adapter.send(account=account, message=_text())
    deliveries = [q["event"] for q in emulator.queued(page_id=PAGE.page_id) if q["field"] == "message_deliveries"]
    body = json.dumps({"object": "page", "entry": [{"id": PAGE.page_id, "time": 1, "messaging": deliveries}]})
    [receipt] = parse_webhook(body.encode()).events
    assert receipt.receipt_for == result.platform_key and receipt.sender.external_id == citizen


async def test_buttons_become_quick_replies(adapter: MessengerAdapter, account: ChannelAccount,
                                            emulator: MessengerEmulator, citizen: str) -> None:
    buttons = tuple(Button(title=str(n), payload=f"csat:{n}") for n in range(1, 6))
    long = Button(title="Дуже задоволений обслуговуванням", payload="csat:extra")
    await adapter.send(account=account, message=_text("Оцініть нас", buttons=(*buttons, long)))
    [sent] = emulator.sent(page_id=PAGE.page_id)
    replies = sent["message"]["quick_replies"]
    assert [r["payload"] for r in replies] == [f"csat:{n}" for n in range(1, 6)] + ["csat:extra"]
    assert replies[0] == {"content_type": "text", "title": "1", "payload": "csat:1"}
    assert len(replies[-1]["title"]) == 20 and replies[-1]["title"].endswith("…")
    event = emulator.citizen_presses(page_id=PAGE.page_id, psid=citizen, payload="csat:4")
    assert event["message"]["quick_reply"] == {"payload": "csat:4"}


async def test_more_than_13_buttons_follow_as_a_carousel_of_postbacks(
        adapter: MessengerAdapter, account: ChannelAccount, emulator: MessengerEmulator, citizen: str) -> None:
    buttons = tuple(Button(title=f"Відділ {n}", payload=f"dept:{n}") for n in range(1, 15))
    await adapter.send(account=account, message=_text("Оберіть відділ", buttons=buttons))
    text, carousel = emulator.sent(page_id=PAGE.page_id)
    assert text["message"] == {"text": "Оберіть відділ"}
    cards = carousel["message"]["attachment"]["payload"]["elements"]
    assert [len(c["buttons"]) for c in cards] == [3, 3, 3, 3, 2]
    event = emulator.citizen_presses(page_id=PAGE.page_id, psid=citizen, payload="dept:14")
    [press] = parse_webhook(json.dumps({"object": "page", "entry": [{"messaging": [event]}]}).encode()).events
    assert press.button_payload == "dept:14" and press.text == "Відділ 14"
    with pytest.raises(SendFailed) as caught:
        await adapter.send(account=account, message=_text("x", buttons=buttons * 3))
    assert caught.value.code == "too_many_buttons" and caught.value.permanent


async def test_long_text_is_split_at_word_boundaries(adapter: MessengerAdapter, account: ChannelAccount,
                                                     emulator: MessengerEmulator, citizen: str) -> None:
    text = " ".join(["слово"] * 1000)  # 5999 characters
    result = await adapter.send(account=account, message=_text(text))
    sends = emulator.sent(page_id=PAGE.page_id)
    assert len(sends) == 4 and all(len(s["message"]["text"]) <= 2000 for s in sends)
    assert " ".join(s["message"]["text"] for s in sends) == text
    assert result.platform_key == sends[-1]["message_id"]


async def test_a_file_is_uploaded_after_the_text_and_by_url_when_public(
        adapter: MessengerAdapter, account: ChannelAccount, emulator: MessengerEmulator, citizen: str) -> None:
    pdf = OutboundFile(name="Довідка.pdf", mime_type="application/pdf", data=b"%PDF-1.7 test")
    buttons = (Button(title="Так", payload="yes"),)
    await adapter.send(account=account, message=_text("Ваша довідка", file=pdf, buttons=buttons))
    text, upload = emulator.sent(page_id=PAGE.page_id)
    assert text["message"] == {"text": "Ваша довідка"}
    assert upload["upload"] == {"name": "Довідка.pdf", "mime_type": "application/pdf", "size": 13}
    assert upload["message"]["attachment"]["type"] == "file"
    assert upload["message"]["quick_replies"][0]["payload"] == "yes"  # buttons ride on the last part
    photo = OutboundFile(name="a.png", mime_type="image/png", data=b"png", public_url="https://files.example/a.png")
    await adapter.send(account=account, message=_text("", file=photo))
    by_url = emulator.sent(page_id=PAGE.page_id)[-1]
    assert by_url["message"]["attachment"] == {"type": "image", "payload": {
        "url": "https://files.example/a.png", "is_reusable": False}}
    with pytest.raises(SendFailed) as caught:
        await adapter.send(account=account, message=_text("   "))
    assert caught.value.code == "empty"


async def test_fetch_file_downloads_what_the_citizen_sent(adapter: MessengerAdapter, account: ChannelAccount,
                                                          emulator: MessengerEmulator) -> None:
    event = emulator.citizen_sends_file(page_id=PAGE.page_id, psid=PSID, data=b"\x89PNG photo",
                                        mime_type="image/png", name="фото.png")
    body = json.dumps({"object": "page", "entry": [{"messaging": [event]}]}).encode()
    [message] = parse_webhook(body).events
    [attachment] = message.attachments
    assert attachment["kind"] == "photo"
    fetched = await adapter.fetch_file(account=account, file_id=attachment["file_id"])
    assert (fetched.data, fetched.mime_type, fetched.name) == (b"\x89PNG photo", "image/png", "фото.png")
    with pytest.raises(SendFailed) as caught:
        await adapter.fetch_file(account=account, file_id=attachment["file_id"].replace("/cdn/", "/cdn/x"))
    assert caught.value.permanent and "expired" in caught.value.reason
    with pytest.raises(SendFailed):
        await adapter.fetch_file(account=account, file_id="file:///etc/passwd")


EXPECTED = {
    "invalid_token": (SendFailed, "token", True),
    "app_rate_limit": (RetryLater, "rate_limited", 60.0),
    "page_rate_limit": (RetryLater, "rate_limited", 60.0),
    "send_rate_limit": (RetryLater, "rate_limited", 5.0),
    "user_unavailable": (RecipientUnreachable, "blocked", None),
    "outside_window": (SendFailed, "outside_window", True),
    "no_matching_user": (RecipientUnreachable, "unsubscribed", None),
    "permission": (SendFailed, "permission", True),
    "temporary_failure": (SendFailed, None, False),
    "unexpected": (SendFailed, None, False),
}


def test_every_documented_error_has_an_expectation() -> None:
    assert set(EXPECTED) == set(ERRORS)


@pytest.mark.parametrize("error", sorted(EXPECTED))
async def test_each_documented_error_maps_to_its_exception(error: str, adapter: MessengerAdapter,
                                                           account: ChannelAccount, emulator: MessengerEmulator,
                                                           citizen: str) -> None:
    kind, code, extra = EXPECTED[error]
    emulator.fail_next(page_id=PAGE.page_id, error=error)
    with pytest.raises(kind) as caught:
        await adapter.send(account=account, message=_text())
    assert caught.value.code == code
    assert f"#{ERRORS[error].code}" in caught.value.reason
    if isinstance(caught.value, RetryLater):
        assert caught.value.after_seconds == extra
    if isinstance(caught.value, SendFailed):
        assert caught.value.permanent is extra
    assert PAGE.token not in caught.value.reason
    await adapter.send(account=account, message=_text())  # the failure was for one call only


async def test_rate_limit_waits_as_long_as_the_usage_header_says(adapter: MessengerAdapter, account: ChannelAccount,
                                                                 emulator: MessengerEmulator, citizen: str) -> None:
    emulator.fail_next(page_id=PAGE.page_id, error="app_rate_limit", regain_minutes=3)
    with pytest.raises(RetryLater) as caught:
        await adapter.send(account=account, message=_text())
    assert caught.value.after_seconds == 180


async def test_a_citizen_who_stopped_the_conversation_is_unreachable(
        adapter: MessengerAdapter, account: ChannelAccount, emulator: MessengerEmulator, citizen: str) -> None:
    emulator.citizen_blocks(page_id=PAGE.page_id, psid=citizen)
    with pytest.raises(RecipientUnreachable) as caught:
        await adapter.send(account=account, message=_text())
    assert caught.value.code == "blocked" and "#551/1545041" in caught.value.reason
    with pytest.raises(RecipientUnreachable) as caught:
        await adapter.send(account=account, message=replace(_text(), recipient_external_id="7100000000000999"))
    assert caught.value.code == "unsubscribed"


async def test_outside_the_window_human_agent_tag_is_used_only_when_configured(
        adapter: MessengerAdapter, account: ChannelAccount, emulator: MessengerEmulator, citizen: str) -> None:
    emulator.citizen_falls_silent(page_id=PAGE.page_id, psid=citizen, hours=30)
    with pytest.raises(SendFailed) as caught:
        await adapter.send(account=account, message=_text())
    assert caught.value.code == "outside_window" and caught.value.permanent
    tagged = replace(account, config={**account.config, "human_agent_tag": True})
    await adapter.send(account=tagged, message=_text("Перепрошуємо за затримку"))
    [sent] = emulator.sent(page_id=PAGE.page_id)
    assert (sent["messaging_type"], sent["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    emulator.citizen_falls_silent(page_id=PAGE.page_id, psid=citizen, hours=24 * 7)
    with pytest.raises(SendFailed) as caught:
        await adapter.send(account=tagged, message=_text())
    assert caught.value.code == "outside_window"


async def test_register_webhook_subscribes_the_page_and_sets_get_started(
        adapter: MessengerAdapter, account: ChannelAccount, emulator: MessengerEmulator) -> None:
    await adapter.register_webhook(account=account, url="https://civdesk.example/webhooks/messenger/1")
    [page] = emulator.pages()
    assert page["subscribed_fields"] == ["messages", "messaging_postbacks", "message_deliveries", "message_reads"]
    assert page["get_started"] == GET_STARTED_PAYLOAD
    event = emulator.citizen_gets_started(page_id=PAGE.page_id, psid=PSID)
    [started] = parse_webhook(json.dumps({"object": "page", "entry": [{"messaging": [event]}]}).encode()).events
    assert started.kind.value == "started"
    emulator.fail_next(page_id=PAGE.page_id, error="invalid_token", endpoint="subscribed_apps")
    with pytest.raises(SendFailed) as caught:
        await adapter.register_webhook(account=account, url="https://civdesk.example/webhooks/messenger/1")
    assert caught.value.permanent


async def test_unreachable_graph_is_a_temporary_failure(adapter: MessengerAdapter) -> None:
    account = ChannelAccount(id=9, config={"api_base": "http://127.0.0.1:9"}, secrets={"page_token": "EAA-x"})
    with pytest.raises(SendFailed) as caught:
        await adapter.send(account=account, message=_text())
    assert not caught.value.permanent and "EAA-x" not in caught.value.reason
    with pytest.raises(SendFailed):
        await adapter.send(account=replace(account, config={"api_version": "21"}), message=_text())
    with pytest.raises(SendFailed) as caught:
        await adapter.send(account=replace(account, secrets={}), message=_text())
    assert caught.value.code == "token"


async def test_clients_are_reused_and_closed_per_loop(adapter: MessengerAdapter, account: ChannelAccount,
                                                      sandbox: LiveServer) -> None:
    await adapter.who_am_i(account=account)
    await adapter.who_am_i(account=account)
    assert len(adapter._clients) == 1
    await adapter.close()
    assert not adapter._clients


async def test_the_page_token_stays_out_of_logs(adapter: MessengerAdapter, account: ChannelAccount,
                                                emulator: MessengerEmulator, citizen: str,
                                                caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        await adapter.send(account=account, message=_text())
        emulator.fail_next(page_id=PAGE.page_id, error="invalid_token")
        with pytest.raises(SendFailed):
            await adapter.send(account=account, message=_text())
    assert any("me/messages" in r.getMessage() for r in caplog.records)
    assert all(PAGE.token not in r.getMessage() and PAGE.app_secret not in r.getMessage() for r in caplog.records)
