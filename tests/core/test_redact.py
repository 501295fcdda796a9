import logging

import pytest

from civdesk.core.redact import RedactSecrets, redact


def test_tokens_in_query_strings_and_bot_paths_are_redacted() -> None:
    line = '127.0.0.1 - "WebSocket /api/v1/ws?token=eyJhbGciOi.x.y&last_event_id=5" [accepted]'
    assert "eyJ" not in redact(line) and "last_event_id=5" in redact(line)
    assert redact("POST /bot123456:AAH-secret_x/sendMessage") == "POST /bot[redacted]/sendMessage"


def test_the_filter_rewrites_log_records(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("civdesk.test.redact")
    logger.addFilter(RedactSecrets())
    with caplog.at_level(logging.INFO, logger="civdesk.test.redact"):
        logger.info('%s - "WebSocket %s" [accepted]', "127.0.0.1:5", "/chat/minsoc/ws?token=SECRET.sig&after_id=0")
    assert "SECRET" not in caplog.text and "after_id=0" in caplog.text
