"""The gateway store under Alembic (chain_gateway/migrations): a fresh store is created by the
migrations, a store created before them (by `create_all` + `upgrade_schema`, no version table) is
recognised, brought to revision 0001 and stamped, and a migration interrupted anywhere leaves the
store as it was. SQLite always; PostgreSQL with SCF_TEST_POSTGRES_URL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlmodel import Session, SQLModel, select

from chain_gateway import schema
from chain_gateway.db import make_engine
from chain_gateway.models import (
    ApiKey,
    Approval,
    ApprovalPolicy,
    MemberRole,
    Operation,
    OpState,
    Role,
    WebhookOutbox,
    utcnow,
)
from tests.pg import fresh_database

HEAD = "0003"  # the latest revision

# The schema the gateway created before the migrations (SQLModel.metadata.create_all + upgrade_schema
# of the last release without Alembic), as SQLite and PostgreSQL got it.
OLD_SQLITE_DDL = """
CREATE TABLE gw_api_key (
    id INTEGER NOT NULL, key_hash VARCHAR(64) NOT NULL, prefix VARCHAR(16) NOT NULL,
    account VARCHAR(42) NOT NULL, role VARCHAR(15) NOT NULL, label VARCHAR NOT NULL,
    revoked BOOLEAN NOT NULL, onboarding_operation VARCHAR(36), created_at DATETIME NOT NULL,
    PRIMARY KEY (id));
CREATE INDEX ix_gw_api_key_account ON gw_api_key (account);
CREATE UNIQUE INDEX ix_gw_api_key_key_hash ON gw_api_key (key_hash);
CREATE INDEX ix_gw_api_key_onboarding_operation ON gw_api_key (onboarding_operation);
CREATE TABLE gw_nonce (
    account VARCHAR(42) NOT NULL, next_nonce BIGINT NOT NULL, updated_at DATETIME NOT NULL,
    PRIMARY KEY (account));
CREATE TABLE gw_operation (
    seq INTEGER NOT NULL, id VARCHAR(36) NOT NULL, api_account VARCHAR(42) NOT NULL,
    signer VARCHAR(42) NOT NULL, kind VARCHAR(64) NOT NULL, contract VARCHAR(32) NOT NULL,
    to_address VARCHAR(42) NOT NULL, data TEXT NOT NULL, args JSON NOT NULL,
    idempotency_key VARCHAR(200), request_hash VARCHAR(64) NOT NULL, state VARCHAR(9) NOT NULL,
    nonce BIGINT, gas_limit BIGINT NOT NULL, gas_price BIGINT, tx_hash VARCHAR(66),
    tx_hashes JSON NOT NULL, raw_tx TEXT, sent_at DATETIME, accepted_at DATETIME,
    block_number BIGINT, block_hash VARCHAR(66), gas_used BIGINT, error JSON, result JSON,
    attempts INTEGER NOT NULL, created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL,
    PRIMARY KEY (seq), CONSTRAINT uq_gw_op_idem UNIQUE (api_account, idempotency_key));
CREATE INDEX ix_gw_op_account_seq ON gw_operation (api_account, seq);
CREATE INDEX ix_gw_op_signer_state_nonce ON gw_operation (signer, state, nonce);
CREATE INDEX ix_gw_operation_api_account ON gw_operation (api_account);
CREATE UNIQUE INDEX ix_gw_operation_id ON gw_operation (id);
CREATE INDEX ix_gw_operation_signer ON gw_operation (signer);
CREATE INDEX ix_gw_operation_state ON gw_operation (state);
CREATE INDEX ix_gw_operation_tx_hash ON gw_operation (tx_hash);
CREATE TABLE gw_webhook_outbox (
    id INTEGER NOT NULL, operation_id VARCHAR(36) NOT NULL, state VARCHAR(9) NOT NULL,
    created_at DATETIME NOT NULL, attempts INTEGER NOT NULL, next_attempt_at DATETIME NOT NULL,
    last_error TEXT, given_up_at DATETIME, PRIMARY KEY (id));
CREATE INDEX ix_gw_webhook_outbox_due ON gw_webhook_outbox (given_up_at, next_attempt_at, id);
CREATE INDEX ix_gw_webhook_outbox_operation_id ON gw_webhook_outbox (operation_id);
"""

OLD_PG_DDL = (
    "CREATE TYPE role AS ENUM ('operator', 'core_enterprise', 'supplier', 'factor', 'auditor');\n"
    "CREATE TYPE opstate AS ENUM ('queued', 'submitted', 'mined', 'confirmed', 'failed');\n"
    + OLD_SQLITE_DDL.replace("DATETIME", "TIMESTAMP WITH TIME ZONE")
    .replace("id INTEGER NOT NULL, key_hash", "id SERIAL NOT NULL, key_hash")
    .replace("seq INTEGER NOT NULL", "seq SERIAL NOT NULL")
    .replace("id INTEGER NOT NULL, operation_id", "id SERIAL NOT NULL, operation_id")
    .replace("role VARCHAR(15)", "role role")
    .replace("state VARCHAR(9)", "state opstate")
)


OLD_ROW = (
    "INSERT INTO gw_operation (id, api_account, signer, kind, contract, to_address, data, args,"
    " request_hash, state, gas_limit, tx_hashes, attempts, created_at, updated_at) VALUES"
    " ('op-1', '0x1', '0x1', 'k', 'c', '0x2', '0x', '{}', 'h', 'confirmed', 0, '[]', 0,"
    " '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
)


def run_ddl(url: str, ddl: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in filter(str.strip, ddl.split(";")):
            conn.execute(text(statement))
    engine.dispose()


def state(url: str) -> tuple[set[str], str | None]:
    """The store's tables and its Alembic revision."""
    engine = create_engine(url)
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        revision = MigrationContext.configure(
            conn, opts={"version_table": schema.VERSION_TABLE}
        ).get_current_revision()
    engine.dispose()
    return tables, revision


def assert_matches_models(url: str) -> None:
    """The migrated store is exactly what the models describe (no autogenerate difference)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = [d for d in compare_metadata(ctx, SQLModel.metadata)
                 if not (d[0] == "remove_table" and d[1].name == schema.VERSION_TABLE)]
    engine.dispose()
    assert diffs == []


def usable(url: str) -> None:
    engine = make_engine(url)
    with Session(engine) as s:
        s.add(Operation(id="new", api_account="0x1", signer="0x1", kind="k", contract="c", to_address="0x2",
                        data="0x", request_hash="h", accepted_at=utcnow()))
        # dual control (revision 0002): the new states, a user role, a policy, an approval record
        s.add(Operation(id="awaiting", api_account="0x1", signer="0x1", kind="k", contract="c", to_address="0x2",
                        data="0x", request_hash="h", state=OpState.awaiting_approval, maker_id=1,
                        approvals_required=2, approval_expires_at=utcnow()))
        s.add(ApiKey(key_hash="b" * 64, prefix="p", account="0x1", role=Role.supplier,
                     member_role=MemberRole.checker))
        s.add(ApprovalPolicy(account="0x1", rules=[{"kind": "k", "min_amount": 2**128 - 1, "approvals": 2}]))
        s.add(Approval(operation_id="awaiting", account="0x1", user_id=2, decision="approve"))
        s.add(WebhookOutbox(operation_id="awaiting", state=OpState.expired))
        s.add(ApiKey(key_hash="a" * 64, prefix="p", account="0x1", role=Role.supplier, onboarding_operation="new"))
        # a role added after 0001 (PostgreSQL's enum type `role` gets it in 0003)
        s.add(ApiKey(key_hash="c" * 64, prefix="p", account="0x3", role=Role.clearing_agent))
        s.add(WebhookOutbox(operation_id="new", state="confirmed"))
        s.commit()
        assert {o.id for o in s.exec(select(Operation)).all()} >= {"new", "awaiting"}
        policy = s.get(ApprovalPolicy, "0x1")
        assert policy is not None and policy.rules[0]["min_amount"] == 2**128 - 1  # exact, beyond BIGINT
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'gw.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh database of this file's own, dropped afterwards."""
    yield from fresh_database("scf_gwmig")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(url, old DDL) of an empty store."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url"), OLD_SQLITE_DDL
    return request.getfixturevalue("pg_url"), OLD_PG_DDL


def test_a_fresh_store_is_created_by_the_migrations(store: tuple[str, str]) -> None:
    url, _ = store
    schema.upgrade(url)
    tables, revision = state(url)
    assert revision == HEAD
    assert {"gw_api_key", "gw_operation", "gw_nonce", "gw_webhook_outbox", schema.VERSION_TABLE} <= tables
    assert "alembic_version" not in tables  # the indexer's table name stays free (a shared database)
    assert_matches_models(url)
    usable(url)
    schema.upgrade(url)  # again: nothing to do
    assert state(url)[1] == HEAD


def test_a_store_from_before_the_migrations_is_recognised_and_stamped(store: tuple[str, str]) -> None:
    url, old_ddl = store
    run_ddl(url, old_ddl + ";" + OLD_ROW)
    assert state(url)[1] is None
    schema.upgrade(url)
    assert state(url)[1] == HEAD
    assert_matches_models(url)
    engine = make_engine(url)
    with Session(engine) as s:  # the old rows are kept
        assert s.exec(select(Operation).where(Operation.id == "op-1")).one().state == "confirmed"
    engine.dispose()
    usable(url)


def test_an_older_store_gets_the_later_columns_and_the_outbox(sqlite_url: str) -> None:
    """A store last started by a release before `accepted_at`, `onboarding_operation` and the outbox
    is brought to revision 0001 as `upgrade_schema` did, then stamped."""
    old = (OLD_SQLITE_DDL.replace(" onboarding_operation VARCHAR(36),", "")
           .replace("CREATE INDEX ix_gw_api_key_onboarding_operation ON gw_api_key (onboarding_operation);", "")
           .replace(" accepted_at DATETIME,", ""))
    old = old[: old.index("CREATE TABLE gw_webhook_outbox")]
    run_ddl(sqlite_url, old + ";" + OLD_ROW)
    schema.upgrade(sqlite_url)
    assert state(sqlite_url)[1] == HEAD
    assert_matches_models(sqlite_url)
    usable(sqlite_url)


def test_an_unadoptable_store_is_refused_and_left_as_it_was(sqlite_url: str) -> None:
    old = OLD_SQLITE_DDL.replace(" request_hash VARCHAR(64) NOT NULL,", "")
    run_ddl(sqlite_url, old[: old.index("CREATE TABLE gw_webhook_outbox")])
    with pytest.raises(RuntimeError, match="non-nullable column gw_operation.request_hash"):
        schema.upgrade(sqlite_url)
    tables, revision = state(sqlite_url)
    assert revision is None and "gw_webhook_outbox" not in tables  # the created outbox rolled back


@pytest.mark.parametrize("legacy", [False, True])
def test_a_migration_interrupted_anywhere_leaves_the_store_as_it_was(
    store: tuple[str, str], legacy: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every DDL statement of the migration in turn fails (as a killed process would stop there):
    the store is unchanged each time, and the next start migrates it completely."""
    url, old_ddl = store
    if legacy:
        run_ddl(url, old_ddl[: old_ddl.index("CREATE TABLE gw_webhook_outbox")])  # adoption creates it
    before = state(url)
    from sqlalchemy.engine import Connection

    real = Connection._execute_ddl
    statements = {"n": 0, "stop_at": 0}

    def failing(self: Connection, *args: Any, **kw: Any) -> Any:
        statements["n"] += 1
        if statements["n"] == statements["stop_at"]:
            raise KeyboardInterrupt("killed")
        return real(self, *args, **kw)

    monkeypatch.setattr(Connection, "_execute_ddl", failing)
    stop_at = 1
    while True:
        statements.update(n=0, stop_at=stop_at)
        try:
            schema.upgrade(url)
        except KeyboardInterrupt:
            assert state(url) == before, f"stopped at DDL statement {stop_at}"
            stop_at += 1
            continue
        break
    assert stop_at > 3  # several statements were interrupted
    monkeypatch.setattr(Connection, "_execute_ddl", real)
    assert state(url)[1] == HEAD
    assert_matches_models(url)
    usable(url)


def test_the_legacy_ddl_is_what_create_all_made(tmp_path: Path) -> None:
    """The old DDL of these tests is the schema the former `create_all` produced from the models
    (revision 0001 keeps that schema frozen)."""
    from alembic.script import ScriptDirectory

    revision_0001 = ScriptDirectory.from_config(schema.alembic_config("sqlite://")).get_revision("0001")
    url = f"sqlite:///{tmp_path / 'models.db'}"
    engine = create_engine(url)
    revision_0001.module.schema().create_all(engine)
    engine.dispose()
    legacy = f"sqlite:///{tmp_path / 'legacy.db'}"
    run_ddl(legacy, OLD_SQLITE_DDL)

    def shape(path: Path) -> dict[str, Any]:
        con = sqlite3.connect(path)
        try:
            tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
            return {t: (con.execute(f"PRAGMA table_info({t})").fetchall(),
                        sorted(r[1] for r in con.execute(f"PRAGMA index_list({t})")))
                    for t in tables}
        finally:
            con.close()

    assert shape(tmp_path / "legacy.db") == shape(tmp_path / "models.db")


KILLER = """
import os, signal, sys
from sqlalchemy.engine.default import DefaultDialect
real, n = DefaultDialect.do_execute, {"n": 0}
def killing(self, cursor, statement, *args, **kw):
    if not statement.lstrip().upper().startswith(("SELECT", "PRAGMA")):
        n["n"] += 1
        if n["n"] == int(sys.argv[2]):
            os.kill(os.getpid(), signal.SIGKILL)
    return real(self, cursor, statement, *args, **kw)
DefaultDialect.do_execute = killing
from chain_gateway import schema
schema.upgrade(sys.argv[1])
"""


@pytest.mark.parametrize("kill_at", [1, 2, 4, 6])
def test_a_start_killed_during_the_migration_leaves_the_store_as_it_was(sqlite_url: str, kill_at: int) -> None:
    """SIGKILL before the `kill_at`-th statement (other than a query) of adopting an old store (first start of the new
    release): nothing of it remains, and the next start migrates completely."""
    import subprocess
    import sys

    old = OLD_SQLITE_DDL.replace(" accepted_at DATETIME,", "")
    run_ddl(sqlite_url, old[: old.index("CREATE TABLE gw_webhook_outbox")])
    before = state(sqlite_url)
    proc = subprocess.run([sys.executable, "-c", KILLER, sqlite_url, str(kill_at)], capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert state(sqlite_url) == before
    schema.upgrade(sqlite_url)
    assert state(sqlite_url)[1] == HEAD
    assert_matches_models(sqlite_url)
    usable(sqlite_url)
