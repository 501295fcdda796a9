"""Telegram adapter: secret-token check, aiogram types in, aiogram Bot out."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Mapping
from typing import Any, ClassVar

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.utils.token import TokenValidationError

from civdesk.channels.base import (
    ChannelAccount,
    ChannelAdapter,
    OutboundMessage,
    ParseResult,
    PlatformLimits,
    RecipientUnreachable,
    RetryLater,
    SendFailed,
    SendResult,
    SignatureInvalid,
)
from civdesk.channels.telegram.parse import parse_update

SECRET_HEADER = "x-telegram-bot-api-secret-token"


class TelegramAdapter(ChannelAdapter):
    type: ClassVar[str] = "telegram"
    # bots/faq: ~30 messages/s per bot, about 1/s per chat; 4096 characters per message.
    limits: ClassVar[PlatformLimits] = PlatformLimits(
        messages_per_second=30, per_recipient_per_second=1, max_text_length=4096
    )
    secret_fields: ClassVar[frozenset[str]] = frozenset({"token", "secret"})

    def __init__(self) -> None:
        # One HTTP session per bot and event loop, reused across sends (a session per send costs a
        # TLS handshake). An aiohttp session belongs to the loop it was made in: never share it.
        self._bots: dict[tuple[int, int, str, str], Bot] = {}

    def verify(self, *, account: ChannelAccount, headers: Mapping[str, str], body: bytes) -> None:
        expected = str(account.secrets.get("secret") or "")
        given = headers.get(SECRET_HEADER, "")
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            raise SignatureInvalid("X-Telegram-Bot-Api-Secret-Token does not match")

    def parse(self, *, body: bytes) -> ParseResult:
        return parse_update(body)

    def _bot(self, account: ChannelAccount) -> Bot:
        token = str(account.secrets.get("token") or "")
        api_base = str(account.config.get("api_base") or "")
        key = (id(asyncio.get_running_loop()), account.id, token, api_base)
        bot = self._bots.get(key)
        if bot is None:
            server = TelegramAPIServer.from_base(api_base) if api_base else PRODUCTION
            try:
                bot = Bot(token, session=AiohttpSession(api=server))
            except TokenValidationError:
                raise SendFailed("the bot token is malformed", permanent=True) from None
            self._bots[key] = bot
        return bot

    async def send(self, *, account: ChannelAccount, message: OutboundMessage) -> SendResult:
        bot = self._bot(account)
        try:
            sent = await bot.send_message(chat_id=int(message.recipient_external_id), text=message.text)
        except TelegramRetryAfter as exc:
            raise RetryLater(exc.message, after_seconds=float(exc.retry_after)) from None
        except TelegramForbiddenError as exc:
            raise RecipientUnreachable(exc.message) from None
        except TelegramUnauthorizedError:
            raise SendFailed("Telegram rejected the bot token", permanent=True) from None
        except TelegramBadRequest as exc:
            raise SendFailed(exc.message, permanent=True) from None
        except (TelegramServerError, TelegramNetworkError) as exc:
            raise SendFailed(exc.message, permanent=False) from None
        except TelegramAPIError as exc:
            raise SendFailed(exc.message, permanent=False) from None
        return SendResult(platform_key=f"{sent.chat.id}:{sent.message_id}")

    async def acknowledge_button(self, *, account: ChannelAccount, query_id: str) -> None:
        try:
            await self._bot(account).answer_callback_query(callback_query_id=query_id)
        except TelegramAPIError:
            # Too late or already answered: the citizen's spinner stops by itself.
            return None

    async def fetch_updates(
        self, *, account: ChannelAccount, offset: int | None, timeout_seconds: int
    ) -> tuple[list[bytes], int | None]:
        bot = self._bot(account)
        try:
            updates = await bot.get_updates(
                offset=offset, timeout=timeout_seconds, request_timeout=timeout_seconds + 10
            )
        except TelegramRetryAfter as exc:
            raise RetryLater(exc.message, after_seconds=float(exc.retry_after)) from None
        except TelegramAPIError as exc:
            raise SendFailed(exc.message, permanent=False) from None
        bodies = [u.model_dump_json(by_alias=True, exclude_none=True).encode() for u in updates]
        next_offset = max((u.update_id for u in updates), default=None)
        return bodies, (next_offset + 1 if next_offset is not None else offset)

    async def who_am_i(self, *, account: ChannelAccount) -> Mapping[str, Any]:
        try:
            me = await self._bot(account).get_me()
        except TelegramAPIError as exc:
            raise SendFailed(exc.message, permanent=True) from None
        return {"id": me.id, "username": me.username, "name": me.first_name}

    async def register_webhook(self, *, account: ChannelAccount, url: str) -> None:
        await self._bot(account).set_webhook(url=url, secret_token=str(account.secrets.get("secret") or ""))

    async def delete_webhook(self, *, account: ChannelAccount) -> None:
        await self._bot(account).delete_webhook()

    async def close(self) -> None:
        """Closes the sessions of the running loop (each loop closes its own)."""
        loop_id = id(asyncio.get_running_loop())
        for key in [k for k in self._bots if k[0] == loop_id]:
            await self._bots.pop(key).session.close()
