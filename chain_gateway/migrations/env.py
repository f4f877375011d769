"""Alembic environment of the gateway store: the URL comes from the config chain_gateway.schema
builds (or SCF_GATEWAY_DATABASE_URL); the version table is gw_alembic_version."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool, text

from chain_gateway.schema import ADOPTED_REVISION, VERSION_TABLE, adopt, is_unversioned_store
from chain_gateway.settings import Settings
from scf_core import db

PG_MIGRATION_LOCK = 0x5CF6A7F  # concurrent starts on one PostgreSQL database migrate one at a time


def _url() -> str:
    return context.config.get_main_option("sqlalchemy.url") or Settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), literal_binds=True, version_table=VERSION_TABLE, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """All pending migrations, and the adoption of a store from before the migrations, in ONE
    transaction, on SQLite too: a process killed anywhere in them (first start included) leaves the
    store as it was, and the next start simply runs them. pysqlite would commit DDL implicitly: its
    own transaction handling is switched off and the transaction is opened explicitly (SQLAlchemy's
    documented recipe: ``scf_core.db.migration_engine``), as in the indexer's migrations."""
    engine = db.migration_engine(_url(), poolclass=pool.NullPool)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_MIGRATION_LOCK})
        context.configure(
            connection=connection, version_table=VERSION_TABLE, render_as_batch=True, transactional_ddl=True
        )
        with context.begin_transaction():
            if is_unversioned_store(connection):
                script = context.script
                adopt(connection, script.get_revision(ADOPTED_REVISION).module.schema())
                context.get_context().stamp(script, ADOPTED_REVISION)
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
