"""Long-running commands run on the event loop `civdesk serve` gets from uvicorn."""

from __future__ import annotations

import asyncio

from civdesk import runtime


async def _loop_module() -> str:
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()).__module__


def test_a_worker_runs_on_uvloop_as_the_server_does() -> None:
    # uvloop comes with uvicorn[standard], which civdesk pins; `civdesk serve` runs on it through uvicorn.
    assert runtime.run(_loop_module()).startswith("uvloop")


def test_run_returns_what_the_command_returns_and_closes_its_loop() -> None:
    loops: list[asyncio.AbstractEventLoop] = []

    async def command() -> int:
        loops.append(asyncio.get_running_loop())
        return 7

    assert runtime.run(command()) == 7
    assert loops[0].is_closed()
