"""Telegram adapter: secret-token check, aiogram types in, aiogram Bot out."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Mapping
from typing import Any, ClassVar, TypeVar

import aiohttp
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
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup, Message
from aiogram.utils.token import TokenValidationError

from civdesk.channels.base import (
    ChannelAccount,
    ChannelAdapter,
    FetchedFile,
    OutboundContact,
    OutboundFile,
    OutboundLocation,
    OutboundMessage,
    ParseResult,
    PlatformLimits,
    RecipientUnreachable,
    RetryLater,
    SendFailed,
    SendResult,
    SignatureInvalid,
)
from civdesk.channels.telegram import media
from civdesk.channels.telegram.parse import parse_update

SECRET_HEADER = "x-telegram-bot-api-secret-token"
T = TypeVar("T")


class TelegramAdapter(ChannelAdapter):
    type: ClassVar[str] = "telegram"
    # bots/faq: ~30 messages/s per bot, about 1/s per chat; 4096 characters per message.
    # Files: uploads up to 50 MB (photos up to 10 MB, larger images go as documents).
    limits: ClassVar[PlatformLimits] = PlatformLimits(
        messages_per_second=30,
        per_recipient_per_second=1,
        max_text_length=4096,
        max_buttons=media.MAX_BUTTONS,
        max_file_bytes=media.MAX_UPLOAD_BYTES,
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
        chat_id = int(message.recipient_external_id)
        markup = media.inline_keyboard(message.buttons) if message.buttons else None
        rich = message.location if message.location is not None else message.contact
        if rich is not None:
            sent = await _send_rich(bot, chat_id, message, rich)
        elif message.file is None:
            if not message.text.strip():
                raise SendFailed("the message has neither text nor a file", permanent=True, code="empty")
            sent = await _call(bot.send_message(chat_id=chat_id, text=message.text, reply_markup=markup))
        else:
            size = len(message.file.data)
            if size > media.MAX_UPLOAD_BYTES:  # refused before anything of the message goes out
                raise SendFailed(
                    f"the file is {size // (1024 * 1024)} MB; Telegram bots send files up to 50 MB",
                    permanent=True,
                    code="too_large",
                )
            caption = message.text
            if len(caption) > media.MAX_CAPTION:
                # Too long for a caption: the text goes first on its own, the file (and buttons) after it.
                # Should the file then have to be retried, the text goes again with it.
                await _call(bot.send_message(chat_id=chat_id, text=caption))
                caption = ""
            sent = await _send_file(bot, chat_id, message.file, caption=caption.strip() or None, markup=markup)
        return SendResult(platform_key=f"{sent.chat.id}:{sent.message_id}")

    async def fetch_file(self, *, account: ChannelAccount, file_id: str) -> FetchedFile:
        """getFile, then the file itself from the API server's file URL (a custom server's too)."""
        bot = self._bot(account)
        try:
            info = await bot.get_file(file_id)
        except TelegramRetryAfter as exc:
            raise RetryLater(exc.message, after_seconds=float(exc.retry_after)) from None
        except TelegramBadRequest as exc:
            # "file is too big" (over 20 MB) or an unknown file_id: asking again will not help.
            code = "file_too_big" if "too big" in exc.message else "file_unavailable"
            raise SendFailed(exc.message, permanent=True, code=code) from None
        except TelegramUnauthorizedError:
            raise SendFailed("Telegram rejected the bot token", permanent=True) from None
        except TelegramAPIError as exc:
            raise SendFailed(exc.message, permanent=False) from None
        if not info.file_path:
            raise SendFailed("Telegram gave no file path for this file", permanent=True, code="file_unavailable")
        data = await _download(bot, info.file_path, max_bytes=self.limits.max_file_bytes)
        return FetchedFile(
            data=data, mime_type=media.mime_for(info.file_path, data), name=media.fetched_name(info.file_path)
        )

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


async def _call(request: Awaitable[T]) -> T:
    """One Bot API call, its errors turned into the channel interface's."""
    try:
        return await request
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


async def _send_rich(bot: Bot, chat_id: int, message: OutboundMessage,
                     rich: OutboundLocation | OutboundContact) -> Message:
    """sendVenue (a location with its title and address), sendLocation or sendContact. None of them takes a
    caption, so the text goes first on its own; a title or address sendLocation cannot show joins that text."""
    venue = isinstance(rich, OutboundLocation) and bool(rich.title and rich.address)
    text = message.lead_text(with_label=not venue)
    if text:
        await _call(bot.send_message(chat_id=chat_id, text=text))
    if isinstance(rich, OutboundContact):
        return await _call(bot.send_contact(chat_id=chat_id, phone_number=rich.phone_number,
                                            first_name=rich.first_name, last_name=rich.last_name))
    if venue:
        return await _call(bot.send_venue(chat_id=chat_id, latitude=rich.latitude, longitude=rich.longitude,
                                          title=rich.title or "", address=rich.address or ""))
    return await _call(bot.send_location(chat_id=chat_id, latitude=rich.latitude, longitude=rich.longitude))


async def _send_file(
    bot: Bot, chat_id: int, file: OutboundFile, *, caption: str | None, markup: InlineKeyboardMarkup | None
) -> Message:
    """sendPhoto for images Telegram shows inline, sendDocument for everything else."""
    if file.mime_type.lower() in media.PHOTO_TYPES and len(file.data) <= media.MAX_PHOTO_BYTES:
        try:
            return await _call(
                bot.send_photo(
                    chat_id=chat_id,
                    photo=BufferedInputFile(file.data, filename=file.name),
                    caption=caption,
                    reply_markup=markup,
                )
            )
        except SendFailed as exc:
            # Width + height over 10,000 or a ratio over 20: Telegram still takes it as a document.
            if "PHOTO_INVALID_DIMENSIONS" not in exc.reason.upper():
                raise
    return await _call(
        bot.send_document(
            chat_id=chat_id,
            document=BufferedInputFile(file.data, filename=file.name),
            caption=caption,
            reply_markup=markup,
        )
    )


async def _download(bot: Bot, file_path: str, *, max_bytes: int) -> bytes:
    """Streams the file, refusing more than max_bytes. Errors never quote the URL: it holds the token."""
    url = bot.session.api.file_url(bot.token, file_path)
    chunks: list[bytes] = []
    total = 0
    try:
        async for chunk in bot.session.stream_content(url=url, timeout=120, raise_for_status=True):
            total += len(chunk)
            if total > max_bytes:
                raise SendFailed(
                    f"the file is larger than {max_bytes // (1024 * 1024)} MB", permanent=True, code="file_too_big"
                )
            chunks.append(chunk)
    except aiohttp.ClientResponseError as exc:
        gone = 400 <= exc.status < 500 and exc.status not in (408, 429)
        raise SendFailed(f"downloading the file failed: HTTP {exc.status}", permanent=gone) from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise SendFailed(f"downloading the file failed: {type(exc).__name__}", permanent=False) from None
    return b"".join(chunks)
