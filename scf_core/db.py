"""The platform's one engine factory: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event


def make_engine(
    url: str, *, read_only: bool = False, on_connect: Callable[[Any], None] | None = None, **kwargs: Any
) -> Engine:
    """An engine for ``url``. SQLite: the file's directory is created; every connection in WAL
    mode (an acknowledged commit survives a process kill) with ``synchronous=NORMAL``, waiting up
    to 30 s for a lock, usable from any thread; ``on_connect(dbapi_connection)`` runs on each new
    SQLite connection (e.g. to register SQL functions). PostgreSQL: connections are pinged before use.
    ``read_only``: every session refuses writes (SQLite ``query_only``, PostgreSQL
    ``default_transaction_read_only``). ``kwargs`` go to ``create_engine``."""
    if not url.startswith("sqlite"):
        connect_args = {"options": "-c default_transaction_read_only=on"} if read_only else {}
        return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=OFF")
        if read_only:
            cur.execute("PRAGMA query_only=ON")
        cur.close()
        if on_connect is not None:
            on_connect(dbapi_conn)

    return engine


def migration_engine(url: str, **kwargs: Any) -> Engine:
    """An engine whose transactions take DDL along, on SQLite too (SQLAlchemy's documented recipe:
    pysqlite's own transaction handling off, each transaction opened explicitly with BEGIN
    IMMEDIATE): both services run all pending migrations in ONE transaction, so a process killed
    anywhere in them (first start included) leaves the database as it was."""
    engine = make_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _manual(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
