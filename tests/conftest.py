"""Fixtures: every database test runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from civdesk.config import Settings
from civdesk.db.migrate import upgrade

pytest_plugins = ["tests.support.stack"]

POSTGRES_URL = os.environ.get("CIVDESK_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("CIVDESK_TEST_REDIS_URL")
TEST_SECRET = "test-secret-key-for-civdesk-tests-0123456789"


def _require(what: str, value: str | None) -> None:
    if value:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI (.ci/run starts it)")
    pytest.skip(f"{what} not available; run via `make test` to start it")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API leaves an event loop marked as running in the main
    thread, where later asyncio tests could not start theirs."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated once; each test copies the file, which is much faster than migrating again."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> str:
    _require("PostgreSQL (CIVDESK_TEST_POSTGRES_URL)", POSTGRES_URL)
    assert POSTGRES_URL
    name = f"civdesk_tpl_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    upgrade(make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False))
    yield name  # type: ignore[misc]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for one test."""
    if request.param == "sqlite":
        target = tmp_path / "civdesk.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite:///{target}"
        return
    template = request.getfixturevalue("postgres_template")
    assert POSTGRES_URL
    name = f"civdesk_t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_url() -> str:
    _require("Redis (CIVDESK_TEST_REDIS_URL)", REDIS_URL)
    assert REDIS_URL
    return REDIS_URL


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key=TEST_SECRET,
        environment="test",
        delivery_poll_seconds=0.05,
    )
