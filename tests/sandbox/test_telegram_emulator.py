"""The Telegram emulator, driven over real HTTP by the real aiogram client it stands in for."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from fastapi import FastAPI, Request, Response

from civdesk.sandbox.app import create_sandbox_app
from civdesk.sandbox.telegram import BotSpec, TelegramEmulator
from tests.support.live_server import LiveServer

TOKEN = "7000001:test-token_A"
CSAT = {"inline_keyboard": [[{"text": str(n), "callback_data": f"csat:{n}"} for n in range(1, 6)]]}


@pytest.fixture
def emulator() -> TelegramEmulator:
    return TelegramEmulator(bots=[BotSpec(TOKEN, "agency_test_bot", "Агенція")], retry_base_delay=0.05,
                            retry_max_delay=0.2, id_base=1)


@pytest.fixture
def sandbox(emulator: TelegramEmulator) -> Iterator[LiveServer]:
    with LiveServer(create_sandbox_app(emulator=emulator)) as server:
        yield server


class PlainHttpSession(AiohttpSession):
    async def close(self) -> None:
        # aiogram waits 250 ms for TLS connections to wind down; the sandbox speaks plain HTTP.
        if self._session is not None and not self._session.closed:
            await self._session.close()


def make_bot(server: LiveServer, token: str = TOKEN) -> Bot:
    return Bot(token, session=PlainHttpSession(api=TelegramAPIServer.from_base(server.url)))


@pytest.fixture
async def bot(sandbox: LiveServer) -> AsyncIterator[Bot]:
    client = make_bot(sandbox)
    yield client
    await client.session.close()


class Receiver:
    """A tiny webhook endpoint that records what it gets and answers what ``decide`` says."""

    def __init__(self, decide: Callable[[dict[str, Any]], Response] | None = None) -> None:
        self.decide = decide or (lambda update: Response(status_code=200))
        self.requests: list[tuple[float, dict[str, str], dict[str, Any]]] = []
        self._cond = threading.Condition()
        self.app = FastAPI()

        @self.app.post("/hook")
        async def hook(request: Request) -> Response:
            update = await request.json()
            with self._cond:
                self.requests.append((time.monotonic(), dict(request.headers), update))
                self._cond.notify_all()
            return self.decide(update)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.requests) >= count, timeout), self.requests
            return [update for _, _, update in self.requests]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_get_me_describes_the_bot(bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username, me.first_name) == (7000001, True, "agency_test_bot", "Агенція")
    assert me.can_join_groups is True


async def test_send_message_to_a_citizen_who_wrote_is_recorded(bot: Bot, emulator: TelegramEmulator) -> None:
    update = emulator.citizen_says(token=TOKEN, chat_id=42, text="/start", first_name="Олена")
    assert update["message"]["entities"] == [{"offset": 0, "length": 6, "type": "bot_command"}]
    assert update["message"]["from"] == {"id": 42, "is_bot": False, "first_name": "Олена",
                                         "language_code": "uk"}

    first = await bot.send_message(42, "Вітаємо! Оцініть нас", reply_markup=CSAT)  # type: ignore[arg-type]
    second = await bot.send_message(42, "Дякуємо")

    assert first.message_id > update["message"]["message_id"]
    assert second.message_id == first.message_id + 1
    assert first.chat.id == 42 and first.chat.type == "private" and first.chat.first_name == "Олена"
    assert first.from_user is not None and first.from_user.id == 7000001
    assert first.reply_markup is not None
    assert first.reply_markup.inline_keyboard[0][4].callback_data == "csat:5"
    sends = emulator.sent(token=TOKEN, chat_id=42)
    assert [(s["method"], s["text"]) for s in sends] == [("sendMessage", "Вітаємо! Оцініть нас"),
                                                         ("sendMessage", "Дякуємо")]
    assert sends[0]["reply_markup"] == CSAT and sends[1]["reply_markup"] is None


async def test_send_errors_are_telegrams_own(bot: Bot, emulator: TelegramEmulator) -> None:
    with pytest.raises(TelegramBadRequest, match="Bad Request: chat not found"):
        await bot.send_message(999, "hello")
    emulator.citizen_says(token=TOKEN, chat_id=42, text="hi")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(42, "")


async def test_fail_next_429_carries_retry_after_like_telegram(sandbox: LiveServer, bot: Bot,
                                                               emulator: TelegramEmulator) -> None:
    emulator.citizen_says(token=TOKEN, chat_id=42, text="hi")
    emulator.fail_next(token=TOKEN, method="sendMessage", status=429,
                       description="Too Many Requests: retry after 5", retry_after=5, times=2)
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(42, "one")
    assert caught.value.retry_after == 5

    raw = httpx.post(f"{sandbox.url}/bot{TOKEN}/sendMessage", data={"chat_id": "42", "text": "two"})
    assert raw.status_code == 429 and raw.headers["Retry-After"] == "5"
    # Exactly shared/fixtures/messengers/telegram/error_429_retry_after.json.
    assert raw.json() == {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 5",
                          "parameters": {"retry_after": 5}}
    assert (await bot.send_message(42, "three")).text == "three"
    assert [s["text"] for s in emulator.sent(token=TOKEN)] == ["three"]


async def test_a_citizen_who_blocked_the_bot_cannot_be_written_to(bot: Bot,
                                                                  emulator: TelegramEmulator) -> None:
    emulator.citizen_says(token=TOKEN, chat_id=42, text="hi", first_name="Ігор", username="igor")
    blocked = emulator.citizen_blocks_bot(token=TOKEN, chat_id=42)

    member = blocked["my_chat_member"]  # shaped as update_my_chat_member_kicked_blocked.json
    assert member["chat"] == {"id": 42, "first_name": "Ігор", "username": "igor", "type": "private"}
    assert member["old_chat_member"]["status"] == "member"
    assert member["new_chat_member"] == {"user": {"id": 7000001, "is_bot": True, "first_name": "Агенція",
                                                  "username": "agency_test_bot"},
                                         "status": "kicked", "until_date": 0}
    with pytest.raises(TelegramForbiddenError, match="Forbidden: bot was blocked by the user"):
        await bot.send_message(42, "are you there?")

    emulator.citizen_unblocks_bot(token=TOKEN, chat_id=42)
    assert (await bot.send_message(42, "welcome back")).text == "welcome back"
    kinds = [u.event_type for u in await bot.get_updates()]
    assert kinds == ["message", "my_chat_member", "my_chat_member"]


async def test_get_updates_confirms_by_offset(bot: Bot, emulator: TelegramEmulator) -> None:
    ids = [emulator.citizen_says(token=TOKEN, chat_id=42, text=f"m{n}")["update_id"] for n in range(4)]

    assert [u.update_id for u in await bot.get_updates(limit=2)] == ids[:2]
    assert [u.update_id for u in await bot.get_updates()] == ids  # nothing confirmed yet
    assert [u.update_id for u in await bot.get_updates(offset=ids[1] + 1)] == ids[2:]
    assert [u.update_id for u in await bot.get_updates()] == ids[2:]  # the first two are forgotten
    assert [u.update_id for u in await bot.get_updates(offset=-1)] == ids[3:]
    assert [u.update_id for u in await bot.get_updates()] == ids[3:]
    assert await bot.get_updates(offset=ids[3] + 1) == []
    assert (await bot.get_webhook_info()).pending_update_count == 0


async def test_long_poll_returns_as_soon_as_the_citizen_writes(bot: Bot, emulator: TelegramEmulator) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.3)  # let the poll reach the server and wait there
    emulator.citizen_says(token=TOKEN, chat_id=42, text="are you awake?")
    updates = await asyncio.wait_for(poll, 4)
    assert [u.message.text for u in updates if u.message] == ["are you awake?"]
    assert time.monotonic() - started < 3


async def test_get_updates_conflicts_with_a_webhook(bot: Bot) -> None:
    await bot.set_webhook("http://127.0.0.1:9/hook")
    with pytest.raises(TelegramConflictError, match="can't use getUpdates method while webhook is active"):
        await bot.get_updates()
    await bot.delete_webhook()
    assert await bot.get_updates() == []


async def test_webhook_push_carries_the_secret_and_is_retried_after_an_error(
        bot: Bot, emulator: TelegramEmulator) -> None:
    answers = iter([500, 503])
    receiver = Receiver(lambda update: Response(status_code=next(answers, 200)))
    with LiveServer(receiver.app) as hook:
        await bot.set_webhook(f"{hook.url}/hook", secret_token="s3cret-Token_1")
        update = emulator.citizen_says(token=TOKEN, chat_id=42, text="hello")
        got = receiver.wait_for(3)
        emulator.wait_until_delivered()

    assert got == [update] * 3
    for _, headers, _ in receiver.requests:
        assert headers["x-telegram-bot-api-secret-token"] == "s3cret-Token_1"
        assert headers["content-type"] == "application/json"
    info = await bot.get_webhook_info()
    assert info.url == f"{hook.url}/hook" and info.pending_update_count == 0
    assert info.last_error_message == "Wrong response from the webhook: 503 Service Unavailable"


async def test_webhook_retries_after_connection_refused_and_honours_retry_after(
        bot: Bot, emulator: TelegramEmulator) -> None:
    port = free_port()
    await bot.set_webhook(f"http://127.0.0.1:{port}/hook")
    update = emulator.citizen_says(token=TOKEN, chat_id=42, text="anyone?")
    deadline = time.monotonic() + 5
    while (await bot.get_webhook_info()).last_error_message != "Connection refused":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert (await bot.get_webhook_info()).pending_update_count == 1

    answers = iter([Response(status_code=429, headers={"Retry-After": "1"})])
    receiver = Receiver(lambda update: next(answers, Response(status_code=200)))
    with LiveServer(receiver.app, port=port):
        assert receiver.wait_for(2) == [update, update]
        emulator.wait_until_delivered()
    (first, _, _), (second, _, _) = receiver.requests
    assert second - first >= 0.9  # waited for Retry-After, not the 0.05 s backoff


async def test_webhook_keeps_each_chats_order_and_runs_chats_in_parallel(bot: Bot,
                                                                       emulator: TelegramEmulator) -> None:
    failed: set[int] = set()

    def flaky(update: dict[str, Any]) -> Response:
        message = update["message"]
        if message["chat"]["id"] == 13:
            return Response(status_code=500)  # a stuck chat must not hold up the others
        if update["update_id"] not in failed and message["message_id"] % 2:
            failed.add(update["update_id"])
            return Response(status_code=502)
        return Response(status_code=200)

    receiver = Receiver(flaky)
    with LiveServer(receiver.app) as hook:
        await bot.set_webhook(f"{hook.url}/hook")
        emulator.citizen_says(token=TOKEN, chat_id=13, text="stuck")
        for n in range(5):
            for chat in (1, 2):
                emulator.citizen_says(token=TOKEN, chat_id=chat, text=f"{chat}:{n}")
        deadline = time.monotonic() + 5
        while emulator.pending_update_count(token=TOKEN) > 1:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        await bot.delete_webhook(drop_pending_updates=True)

    for chat in (1, 2):
        attempts = [u["message"]["text"] for _, _, u in receiver.requests
                    if u["message"]["chat"]["id"] == chat]
        assert list(dict.fromkeys(attempts)) == [f"{chat}:{n}" for n in range(5)]
        order = [int(text.split(":")[1]) for text in attempts]
        assert order == sorted(order) and len(attempts) == 8  # retried in place, never overtaken


async def test_duplicate_delivery_can_be_injected(bot: Bot, emulator: TelegramEmulator) -> None:
    receiver = Receiver()
    with LiveServer(receiver.app) as hook:
        await bot.set_webhook(f"{hook.url}/hook")
        emulator.duplicate_next_push(token=TOKEN)
        first = emulator.citizen_says(token=TOKEN, chat_id=42, text="once")
        second = emulator.citizen_says(token=TOKEN, chat_id=42, text="twice?")
        assert receiver.wait_for(3) == [first, first, second]


async def test_callback_query_can_be_answered_once(bot: Bot, emulator: TelegramEmulator) -> None:
    emulator.citizen_says(token=TOKEN, chat_id=42, text="hi")
    sent = await bot.send_message(42, "Оцініть", reply_markup=CSAT)  # type: ignore[arg-type]
    emulator.citizen_presses(token=TOKEN, chat_id=42, callback_data="csat:4", message_id=sent.message_id)
    query = (await bot.get_updates())[-1].callback_query
    assert query is not None and query.data == "csat:4" and query.from_user.id == 42
    assert query.message is not None and query.message.message_id == sent.message_id

    assert await bot.answer_callback_query(query.id, text="Дякуємо!") is True
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query.id)
    kinds = [e["kind"] for e in emulator.history(token=TOKEN, chat_id=42)["entries"]]
    assert kinds == ["message", "message", "press", "notice"]


async def test_unknown_token_and_unknown_method(sandbox: LiveServer) -> None:
    stranger = make_bot(sandbox, "1:not-a-known-token")
    with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
        await stranger.get_me()
    await stranger.session.close()
    reply = httpx.get(f"{sandbox.url}/bot{TOKEN}/sendTelepathy")
    assert reply.status_code == 404
    assert reply.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


def test_bot_api_takes_query_json_and_form_parameters(sandbox: LiveServer,
                                                      emulator: TelegramEmulator) -> None:
    emulator.citizen_says(token=TOKEN, chat_id=42, text="hi")
    base = f"{sandbox.url}/bot{TOKEN}"
    assert httpx.get(f"{base}/GETME").json()["result"]["username"] == "agency_test_bot"
    by_query = httpx.get(f"{base}/sendmessage", params={"chat_id": 42, "text": "q"}).json()
    by_json = httpx.post(f"{base}/sendMessage",
                         json={"chat_id": 42, "text": "j", "reply_markup": CSAT}).json()
    by_form = httpx.post(f"{base}/sendMessage", files={"chat_id": (None, "42"), "text": (None, "m")}).json()
    # Some clients post UTF-8 without percent-encoding it; Telegram reads that as UTF-8 too.
    raw_form = httpx.post(f"{base}/sendMessage", content="chat_id=42&text=Привіт".encode(),
                          headers={"Content-Type": "application/x-www-form-urlencoded"}).json()
    assert [r["result"]["text"] for r in (by_query, by_json, by_form, raw_form)] == ["q", "j", "m", "Привіт"]
    broken = httpx.post(f"{base}/sendMessage", content=b"--x\r\nnonsense",
                        headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert broken.status_code == 400 and broken.json()["ok"] is False
    assert by_json["result"]["reply_markup"] == CSAT
    bad = httpx.post(f"{base}/sendMessage", data={"chat_id": "42", "text": "x", "reply_markup": "{oops"})
    assert bad.status_code == 400 and bad.json()["ok"] is False


def test_control_api_plays_the_citizen(sandbox: LiveServer, emulator: TelegramEmulator) -> None:
    api = f"{sandbox.url}/sandbox/api/telegram"
    assert httpx.get(f"{api}/bots").json()["bots"][0]["token"] == TOKEN
    said = httpx.post(f"{api}/{TOKEN}/chats/77/messages", json={"text": "Довідка", "first_name": "Марко"})
    assert said.status_code == 200 and said.json()["message"]["chat"]["first_name"] == "Марко"
    reply = httpx.post(f"{sandbox.url}/bot{TOKEN}/sendMessage", json={"chat_id": 77, "text": "Ось"}).json()

    history = httpx.get(f"{api}/{TOKEN}/chats/77/history").json()
    assert [(e["from"], e["text"]) for e in history["entries"]] == [("citizen", "Довідка"), ("bot", "Ось")]
    first_seq = history["entries"][0]["seq"]
    later = httpx.get(f"{api}/{TOKEN}/chats/77/history", params={"after": first_seq}).json()
    assert [e["message_id"] for e in later["entries"]] == [reply["result"]["message_id"]]

    again = httpx.post(f"{api}/{TOKEN}/chats/77/messages", json={"text": "Ще питання"}).json()
    assert again["message"]["from"]["first_name"] == "Марко"  # a name left out is kept

    pressed = httpx.post(f"{api}/{TOKEN}/chats/77/press",
                         json={"callback_data": "x", "message_id": reply["result"]["message_id"]})
    assert pressed.json()["callback_query"]["data"] == "x"
    blocked = httpx.post(f"{api}/{TOKEN}/chats/77/block").json()
    assert blocked["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    assert httpx.get(f"{api}/{TOKEN}/chats/77/history").json()["blocked"] is True
    failing = {"method": "getMe", "status": 500, "description": "Internal Server Error"}
    assert httpx.post(f"{api}/{TOKEN}/fail-next", json=failing).status_code == 200
    assert httpx.get(f"{sandbox.url}/bot{TOKEN}/getMe").status_code == 500


BAD_CONTROL_CALLS: list[tuple[str, str, Any, int]] = [
    ("POST", "/nope:token/chats/1/messages", {"text": "hi"}, 404),
    ("POST", f"/{TOKEN}/chats/abc/messages", {"text": "hi"}, 422),
    ("POST", f"/{TOKEN}/chats/1/messages", {"text": ""}, 422),
    ("POST", f"/{TOKEN}/chats/-5/messages", {"text": "hi"}, 422),
    ("POST", f"/{TOKEN}/chats/1/messages", "not json", 422),
    ("POST", f"/{TOKEN}/chats/1/press", {"callback_data": "x", "message_id": 1}, 404),
    ("POST", f"/{TOKEN}/chats/1/block", None, 404),
    ("POST", f"/{TOKEN}/fail-next", {"method": "fly", "status": 500, "description": "x"}, 422),
    ("POST", f"/{TOKEN}/fail-next", {"method": "getMe", "status": 429, "description": "slow"}, 422),
    ("POST", f"/{TOKEN}/fail-next", {"method": "getMe", "status": 200, "description": "ok"}, 422),
    ("POST", "/bots", {"token": "no-colon", "username": "x", "first_name": "X"}, 422),
    ("GET", f"/{TOKEN}/chats/1/history?after=-1", None, 422),
]


def test_control_api_rejects_bad_input_with_4xx(sandbox: LiveServer, emulator: TelegramEmulator) -> None:
    emulator.citizen_says(token=TOKEN, chat_id=5, text="hi")
    emulator.citizen_blocks_bot(token=TOKEN, chat_id=5)
    calls = [*BAD_CONTROL_CALLS, ("POST", f"/{TOKEN}/chats/5/block", None, 409),
             ("POST", f"/{TOKEN}/chats/5/messages", {"text": "hi"}, 409)]
    for method, path, body, status in calls:
        content = body if isinstance(body, str) else None
        reply = httpx.request(method, f"{sandbox.url}/sandbox/api/telegram{path}", content=content,
                              json=None if content else body, headers={"Content-Type": "application/json"})
        assert (reply.status_code, bool(reply.json()["detail"])) == (status, True), (method, path, reply.text)


def test_citizen_page_is_served(sandbox: LiveServer) -> None:
    page = httpx.get(sandbox.url + "/")
    assert page.status_code == 200 and 'lang="uk"' in page.text and "Пісочниця месенджерів" in page.text
    assert 'role="log"' in page.text and 'aria-live="polite"' in page.text
    assert '<label for="attach-file">' in page.text and 'type="file"' in page.text  # the citizen sends files too
    for asset in ("sandbox.js", "sandbox.css"):
        assert httpx.get(f"{sandbox.url}/sandbox/static/{asset}").status_code == 200


def test_live_server_reports_an_app_that_fails_to_start() -> None:
    @asynccontextmanager
    async def broken(_: FastAPI) -> AsyncIterator[None]:
        raise RuntimeError("no database")
        yield

    with pytest.raises(RuntimeError, match="failed to start"), LiveServer(FastAPI(lifespan=broken)):
        pass
