"""Engine creation (SQLite WAL by default, PostgreSQL by URL) and schema migration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from scf_core import db

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _int(v: Any) -> int:
    """An amount as SQLite hands it to a function: decimal TEXT (an Amount column) or INTEGER."""
    return v if isinstance(v, int) else int(v)


class _ExactSum:
    """`xsum(x)`: SUM over amounts without SQLite's REAL overflow; the exact decimal as TEXT."""

    def __init__(self) -> None:
        self.total: int | None = None

    def step(self, value: Any) -> None:
        if value is not None:
            self.total = (self.total or 0) + _int(value)

    def finalize(self) -> str | None:
        return None if self.total is None else str(self.total)


def _exact2(op: Any) -> Any:
    def fn(a: Any, b: Any) -> str | None:
        return None if a is None or b is None else str(op(_int(a), _int(b)))

    return fn


def register_exact_functions(dbapi_conn: Any) -> None:
    """SQLite: exact arithmetic over amounts stored as decimal TEXT (`indexer.models.Amount`):
    xsum (aggregate), xadd, xsub, xmul, xneg; results are decimal TEXT."""
    dbapi_conn.create_aggregate("xsum", 1, _ExactSum)
    dbapi_conn.create_function("xadd", 2, _exact2(lambda a, b: a + b), deterministic=True)
    dbapi_conn.create_function("xsub", 2, _exact2(lambda a, b: a - b), deterministic=True)
    dbapi_conn.create_function("xmul", 2, _exact2(lambda a, b: a * b), deterministic=True)
    dbapi_conn.create_function("xneg", 1, lambda a: None if a is None else str(-_int(a)), deterministic=True)


def make_engine(url: str, *, read_only: bool = False, cache_mib: int | None = None, **kwargs: Any) -> Engine:
    """The index's engine (``scf_core.db``); on SQLite with the exact amount functions.
    `read_only` makes every session refuse writes (the API). `cache_mib`: SQLite's page cache
    per connection (memory only; durability is the journal's and ``synchronous``'s business)."""

    def on_connect(dbapi_conn: Any) -> None:
        register_exact_functions(dbapi_conn)
        if cache_mib:
            dbapi_conn.execute(f"PRAGMA cache_size=-{int(cache_mib) * 1024}")

    return db.make_engine(url, read_only=read_only, on_connect=on_connect, **kwargs)


def migration_engine(url: str, **kwargs: Any) -> Engine:
    """``scf_core.db.migration_engine`` (all migrations in one transaction) with the exact functions."""
    return db.migration_engine(url, on_connect=register_exact_functions, **kwargs)


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """`alembic upgrade head` on the database at `url`."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")
