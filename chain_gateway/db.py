"""Engine and sessions. SQLite by default (WAL: an acknowledged commit survives a process kill). The
schema is Alembic's (chain_gateway.schema.upgrade, run on start)."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from chain_gateway import models  # noqa: F401  (registers the tables)
from scf_core import db


def make_engine(url: str) -> Engine:
    """The gateway's store: ``scf_core.db``'s engine (the schema is Alembic's: ``chain_gateway.schema``)."""
    return db.make_engine(url)


class InstanceLock:
    """One gateway process per database: nonces are assigned in-process, so a second process on
    the same store would hand out the same nonces. SQLite: an exclusive `flock` on `<db>.lock`;
    PostgreSQL: a session advisory lock. Both are released by the kernel / server if the process
    dies (SIGKILL included). The PostgreSQL lock vanishes with its session too (a terminated
    backend): ``held()`` checks it before every signing step."""

    PG_LOCK_ID = 0x5CF6A7E  # arbitrary, constant

    def __init__(self, engine: Engine, url: str):
        self.engine = engine
        self.url = url
        self._file: Any = None
        self._conn: Any = None
        self._mutex = threading.Lock()  # the lock's connection is used from worker threads

    def acquire(self) -> None:
        if self.url.startswith("sqlite"):
            path = self.url.split("///", 1)[-1]
            if not path or path == ":memory:":
                return
            import fcntl

            self._file = open(path + ".lock", "a")  # noqa: SIM115
            try:
                fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                self._file.close()
                self._file = None
                raise RuntimeError(f"another gateway process uses {path}") from exc
        elif self.url.startswith("postgresql") and not self._try_pg():
            raise RuntimeError("another gateway process uses this PostgreSQL database")

    @property
    def can_be_lost(self) -> bool:
        """Only the PostgreSQL lock can be lost while the process lives (with its session)."""
        return self.url.startswith("postgresql")

    def held(self) -> str:
        """Whether this process still holds the lock, checked on the lock's own connection before
        signing: "held", "regained" (it was lost, e.g. the session was terminated by a restart,
        failover or idle-session killer, and is taken again on a new connection: whatever another
        process did meanwhile must be re-read) or "lost" (another process holds it now, or the
        database cannot be reached). A flock cannot be lost while the process lives."""
        if not self.url.startswith("postgresql"):
            return "held"
        with self._mutex:
            if self._conn is not None:
                try:
                    mine = self._conn.execute(text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                        "AND pid = pg_backend_pid() AND classid = 0 AND objid = :k AND objsubid = 1"
                    ), {"k": self.PG_LOCK_ID}).scalar()
                    self._conn.commit()
                    if mine:
                        return "held"
                except DBAPIError:
                    pass
                with contextlib.suppress(Exception):
                    self._conn.invalidate()
                    self._conn.close()
                self._conn = None
            try:
                return "regained" if self._try_pg() else "lost"
            except DBAPIError:
                return "lost"

    def _try_pg(self) -> bool:
        conn = self.engine.connect()
        try:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.PG_LOCK_ID}).scalar()
            conn.commit()
        except BaseException:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._conn is not None:
            with contextlib.suppress(Exception):  # a terminated session: nothing left to release
                self._conn.close()
            self._conn = None
