"""The Alembic history and the models describe the same schema, on SQLite and on PostgreSQL, and
the newest migrations go down and up again cleanly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import civdesk.models as models
from civdesk.db.base import include_object
from civdesk.db.migrate import downgrade, upgrade
from civdesk.db.session import sync_url


def _differences(database_url: str) -> list[object]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"include_object": include_object(connection.dialect.name)}
            )
            return list(compare_metadata(context, models.Base.metadata))
    finally:
        engine.dispose()


def test_models_match_the_migrations_and_the_newest_ones_reverse(database_url: str) -> None:
    assert _differences(database_url) == []
    downgrade(database_url, "0003")
    upgrade(database_url)
    assert _differences(database_url) == []
