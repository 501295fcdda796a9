"""What tests and the citizen page use to watch and steer the emulator: recorded sends, the chat
transcript, injected failures and duplicate pushes, and blocking waits."""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import Callable

from civdesk.sandbox.telegram.state import METHOD_NAMES, METHODS, BotState, Failure, JsonDict, SandboxError


class ControlsMixin:
    """Part of TelegramEmulator; its lock and bots are declared here for the type checker."""

    _cond: threading.Condition
    _bots: dict[str, BotState]
    _seq: int

    def _bot(self, token: str) -> BotState:
        raise NotImplementedError

    # -- test and page helpers ---------------------------------------------------------------------

    def sent(self, *, token: str, chat_id: int | None = None) -> list[JsonDict]:
        with self._cond:
            sends = self._bot(token).sends
            return copy.deepcopy([s for s in sends if chat_id is None or s["chat_id"] == chat_id])

    def history(self, *, token: str, chat_id: int, after: int = 0) -> JsonDict:
        with self._cond:
            chat = self._bot(token).chats.get(chat_id)
            entries = [e for e in chat.transcript if e["seq"] > after] if chat else []
            return {"chat_id": chat_id, "blocked": bool(chat and chat.blocked),
                    "entries": copy.deepcopy(entries), "last_seq": self._seq}

    def fail_next(self, *, token: str, method: str, status: int, description: str,
                  retry_after: int | None = None, times: int = 1) -> None:
        name = METHOD_NAMES.get(method.lower())
        if name is None:
            raise SandboxError(422, f"unknown method; known: {', '.join(METHODS)}")
        if not 400 <= status <= 599 or not description.strip() or times < 1:
            raise SandboxError(422, "status must be 400-599, description non-empty, times >= 1")
        if status == 429 and (retry_after is None or retry_after < 1):
            raise SandboxError(422, "a 429 needs retry_after >= 1, as Telegram always sends it")
        with self._cond:
            self._bot(token).failures.setdefault(name, []).append(
                Failure(status=status, description=description, retry_after=retry_after, times=times))

    def duplicate_next_push(self, *, token: str, times: int = 1) -> None:
        """The next ``times`` webhook deliveries are each POSTed twice, as after a handler timeout."""
        with self._cond:
            self._bot(token).duplicate_pushes += times

    def pending_update_count(self, *, token: str) -> int:
        with self._cond:
            return len(self._bot(token).queue)

    def wait_for_sends(self, *, token: str, chat_id: int | None = None, count: int = 1,
                       timeout: float = 5.0) -> list[JsonDict]:
        """Block until ``count`` sends are recorded. Not for the server's own loop thread."""
        self._wait(lambda: len(self.sent(token=token, chat_id=chat_id)) >= count, timeout,
                   lambda: f"{count} sends to {chat_id}; got {self.sent(token=token, chat_id=chat_id)}")
        return self.sent(token=token, chat_id=chat_id)

    def wait_until_delivered(self, *, timeout: float = 5.0) -> None:
        """Block until no bot with a webhook has undelivered updates."""
        def idle() -> bool:
            return all(not b.queue for b in self._bots.values() if b.webhook is not None)
        self._wait(idle, timeout, lambda: "webhook deliveries to finish")

    # The blocking wait runs in a worker thread, which cannot be cancelled: it needs its own timeout.
    async def wait_idle(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        await asyncio.to_thread(self.wait_until_delivered, timeout=timeout)

    def _wait(self, done: Callable[[], bool], timeout: float, what: Callable[[], str]) -> None:
        with self._cond:
            if not self._cond.wait_for(done, timeout):
                raise TimeoutError(f"timed out after {timeout} s waiting for {what()}")
