from __future__ import annotations

import pytest

from civdesk.config import Settings
from tests.conftest import TEST_SECRET

GRACE_SECONDS = 1.0


@pytest.fixture
def settings(database_url: str) -> Settings:
    """A short grace period, so a closed console turns into "offline" within a test's patience."""
    return Settings(
        database_url=database_url,
        secret_key=TEST_SECRET,
        environment="test",
        delivery_poll_seconds=0.05,
        presence_grace_seconds=GRACE_SECONDS,
    )
