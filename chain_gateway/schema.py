"""The gateway store's schema: Alembic migrations (chain_gateway/migrations), run on start.

``upgrade(url)`` is ``alembic upgrade head`` in ONE transaction (on SQLite too, see
migrations/env.py): a process killed anywhere in it leaves the store as it was. The version is
kept in ``gw_alembic_version`` (not ``alembic_version``), so the gateway and the indexer may share a
PostgreSQL database. A store created before the migrations (by ``create_all`` and the former
``upgrade_schema``: gateway tables, no version table) is adopted in that same transaction: brought
to revision 0001 as the former start did (missing tables, missing nullable columns and their
indexes) and stamped 0001; then the later revisions run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, inspect, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "gw_alembic_version"
ADOPTED_REVISION = "0001"  # the schema of a store created before the migrations


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """`alembic upgrade head` on the store at `url` (adopting a store from before the migrations)."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")


def is_unversioned_store(conn: Connection) -> bool:
    """Gateway tables without a version table: created by `create_all` before the migrations."""
    tables = set(inspect(conn).get_table_names())
    return VERSION_TABLE not in tables and "gw_operation" in tables


def adopt(conn: Connection, schema: Any) -> None:
    """Bring an unversioned store to `schema` (revision 0001's MetaData) as the former start did:
    create missing tables; add missing columns, which must be nullable, and missing indexes."""
    inspector = inspect(conn)
    prep = conn.dialect.identifier_preparer
    tables = set(inspector.get_table_names())
    for table in schema.sorted_tables:
        if table.name not in tables:
            table.create(conn)
            continue
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        indexes = {i["name"] for i in inspector.get_indexes(table.name)}
        for column in table.columns:
            if column.name in columns:
                continue
            if not column.nullable or column.primary_key:
                raise RuntimeError(
                    f"the gateway store lacks the non-nullable column {table.name}.{column.name}: migrate it by hand"
                )
            conn.execute(text(
                f"ALTER TABLE {prep.quote(table.name)} ADD COLUMN {prep.quote(column.name)} "
                f"{column.type.compile(dialect=conn.dialect)}"
            ))
        for index in table.indexes:
            if index.name not in indexes:
                index.create(conn)
