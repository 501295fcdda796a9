"""Alembic environment: one history for SQLite and PostgreSQL (batch mode makes ALTERs work on SQLite)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData, engine_from_config, pool


def _metadata() -> MetaData:
    # Only autogenerate needs the models; importing them lazily keeps db/ free of domain imports at runtime.
    from civdesk.models import Base

    return Base.metadata


def run_migrations_online() -> None:
    connectable = engine_from_config(
        context.config.get_section(context.config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=_metadata(),
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
