"""Alembic environment: the URL comes from the config the indexer builds (indexer.db.alembic_config)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool

from indexer import models
from indexer.db import migration_engine
from indexer.settings import Settings

target_metadata = models.IndexerModel.metadata


def _url() -> str:
    return context.config.get_main_option("sqlalchemy.url") or Settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """All pending migrations in ONE transaction, on SQLite too: a process killed anywhere in them
    (first start included) leaves the database as it was, and the next start simply runs them.
    pysqlite would commit DDL implicitly: its own transaction handling is switched off and the
    transaction is opened explicitly (SQLAlchemy's documented recipe)."""
    engine = migration_engine(_url(), poolclass=pool.NullPool)
    with engine.begin() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True, transactional_ddl=True
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
