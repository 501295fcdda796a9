from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.routing.desk import Desk, open_desk


@pytest.fixture
async def desk(database_url: str) -> AsyncIterator[Desk]:
    opened = await open_desk(database_url)
    try:
        yield opened
    finally:
        await opened.close()
