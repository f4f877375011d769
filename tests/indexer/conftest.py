"""Fixtures of the indexer's tests: dev chains with the platform deployed and a lifecycle played,
and fresh databases on both backends (SQLite file; PostgreSQL from SCF_TEST_POSTGRES_URL)."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from tests.pg import unavailable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scenario import System  # noqa: E402

from indexer.api.main import create_app  # noqa: E402
from indexer.models import DOMAIN_TABLES  # noqa: E402
from indexer.settings import Settings  # noqa: E402
from scf import devchain  # noqa: E402
from scf_core.apikeys import hash_key  # noqa: E402

PG_ENV = "SCF_TEST_POSTGRES_URL"
_pg_problem: str | None = None


def _pg_admin_url() -> str | None:
    global _pg_problem
    url = os.environ.get(PG_ENV)
    if not url:
        _pg_problem = f"{PG_ENV} is not set"
        return None
    try:
        eng = create_engine(url, isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            conn.execute(text("select 1"))
        eng.dispose()
    except Exception as exc:  # unreachable server
        _pg_problem = f"PostgreSQL at {PG_ENV} unreachable: {exc.__class__.__name__}: {exc}"
        return None
    return url


class Databases:
    """Creates fresh databases of one backend; drops them at teardown."""

    def __init__(self, backend: str, tmp: Path, admin_url: str | None) -> None:
        self.backend = backend
        self.tmp = tmp
        self.admin_url = admin_url
        self.created: list[str] = []

    def new(self) -> str:
        name = f"scf_ix_{uuid.uuid4().hex[:12]}"
        if self.backend == "sqlite":
            return f"sqlite:///{self.tmp / (name + '.db')}"
        assert self.admin_url
        eng = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        eng.dispose()
        self.created.append(name)
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if not self.created:
            return
        eng = create_engine(self.admin_url or "", isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Databases]:
    admin = None
    if request.param == "postgres":
        admin = _pg_admin_url()
        if admin is None:
            print(f"SKIP PostgreSQL: {_pg_problem}")
            unavailable(_pg_problem or "no PostgreSQL")
    dbs = Databases(request.param, tmp_path, admin)
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="module")
def played() -> Iterator[System]:
    """A chain with the platform deployed and a full randomized lifecycle played (read-only use)."""
    chain = devchain.start()
    try:
        system = System(chain, seed=int(os.environ.get("SCF_TEST_SEED", "7")))
        system.scenario.run(certificates=5, steps=40)
        yield system
    finally:
        chain.stop()


@pytest.fixture
def fresh_system() -> Iterator[System]:
    """A chain with the platform deployed and nothing else (tests that rewrite history)."""
    chain = devchain.start()
    try:
        yield System(chain, seed=11)
    finally:
        chain.stop()


def dump(engine: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every domain table's rows ordered by primary key: equal dumps = equal indexes."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for name, table in DOMAIN_TABLES.items():
            out[name] = [tuple(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns))]
    return out


@pytest.fixture
def dump_db() -> Callable[[Any], dict[str, list[tuple[Any, ...]]]]:
    return dump


REPORT_KEY = "auditor-test-key"


@pytest.fixture
def report_api(databases: Databases) -> Iterator[Callable[[Callable[[str], None]], TestClient]]:
    """The report tests' API: ``report_api(build)`` fills a fresh database with ``build(url)`` (rows
    written directly) and returns a TestClient of the indexer's API on it, as an auditor (its key
    sent on every request); closed after the test."""
    started: list[tuple[Any, TestClient]] = []

    def start(build: Callable[[str], None]) -> TestClient:
        url = databases.new()
        build(url)
        app = create_app(Settings(database_url=url, auditor_key_hashes=hash_key(REPORT_KEY)))
        client = TestClient(app, headers={"X-API-Key": REPORT_KEY})
        client.__enter__()
        started.append((app, client))
        return client

    yield start
    for app, client in started:
        client.__exit__(None, None, None)
        app.state.engine.dispose()
