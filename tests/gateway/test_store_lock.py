"""The PostgreSQL single-gateway lock holds for as long as the gateway signs: a terminated session
(a restart, failover or idle-session killer: pg_terminate_backend) loses the advisory lock; the
gateway notices before its next signing step or write, takes it again or stops signing and
refuses writes (503 STORE_LOCK_LOST), visibly. On a chain of this module's own: these gateways sign
with the operator's key, which the session's gateway also signs with."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from chain_gateway.main import create_app
from chain_gateway.models import Operation
from gateway.conftest import OPERATOR_API_KEY, Api, Chain, gateway_settings, rpc
from tests.pg import fresh_database

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh database of this file's own, dropped afterwards."""
    yield from fresh_database("test_gwsub")


@contextlib.contextmanager
def no_retake(client: TestClient) -> Iterator[None]:
    """While inside, the gateway behind `client` cannot take its lost lock again (its background
    tasks would otherwise race whoever the test wants to win the free lock); it still tries, and
    finds the lock lost."""
    lock = client.app.state.gateway.instance_lock  # type: ignore[attr-defined]
    with mock.patch.object(lock, "_try_pg", return_value=False):
        yield


def terminate_sessions(pg_url: str) -> int:
    """What a database restart or an idle-session killer does to the gateway's sessions."""
    import psycopg

    db = pg_url.rsplit("/", 1)[1]
    admin_url = os.environ["SCF_TEST_POSTGRES_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        rows = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                             "AND pid <> pg_backend_pid()", (db,)).fetchall()
    return len(rows)


def grace(api: Api, value: int, wait: bool) -> dict:
    r = api.client.put("/v1/system/grace-period", json={"grace_period_seconds": 86400 + value},
                       headers={"X-API-Key": OPERATOR_API_KEY}, params={"wait": "true"} if wait else None)
    assert r.status_code in (200, 202), r.text
    return r.json()


def test_second_gateway_refused_while_the_first_holds_the_lock(own_chain: Chain, pg_url: str, tmp_path: Path) -> None:
    settings = gateway_settings(own_chain, tmp_path, database_url=pg_url)
    with (
        TestClient(create_app(settings)),
        pytest.raises(RuntimeError, match="another gateway process"),
        TestClient(create_app(settings)),
    ):
        pass
    with TestClient(create_app(settings)) as client:  # released on stop
        assert client.get("/v1/health").json()["signing"]["ok"] is True


def test_lost_lock_is_taken_again(own_chain: Chain, pg_url: str, tmp_path: Path) -> None:
    """Sessions terminated, nobody else took the lock: the gateway takes it again and goes on."""
    settings = gateway_settings(own_chain, tmp_path, database_url=pg_url)
    with TestClient(create_app(settings)) as client:
        api = Api(client, own_chain)
        assert grace(api, 1, wait=True)["state"] == "confirmed"
        assert terminate_sessions(pg_url) >= 1
        done = api.get(f"/v1/operations/{grace(api, 2, wait=False)['id']}", OPERATOR_API_KEY, wait="true").json()
        assert done["state"] == "confirmed"
        with pytest.raises(RuntimeError, match="another gateway process"), TestClient(create_app(settings)):
            pass  # it holds the lock again


def test_writes_refused_while_the_lock_is_lost(own_chain: Chain, pg_url: str, tmp_path: Path) -> None:
    """Another session holds the lock: every write answers 503 STORE_LOCK_LOST ({code, message,
    details}) and stores nothing (no operation, no key); reads, health and readiness still answer
    and say why; once the lock is free again the next write takes it and goes through."""
    import psycopg

    from chain_gateway.db import InstanceLock

    settings = gateway_settings(own_chain, tmp_path, database_url=pg_url)
    with TestClient(create_app(settings)) as client:
        api = Api(client, own_chain)
        first = grace(api, 6, wait=True)
        assert first["state"] == "confirmed"
        counts = lambda: stored(client)  # noqa: E731
        before = counts()
        with contextlib.ExitStack() as held:
            with no_retake(client):
                assert terminate_sessions(pg_url) >= 1
                thief = held.enter_context(
                    psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True))
                assert thief.execute("SELECT pg_try_advisory_lock(%s)", (InstanceLock.PG_LOCK_ID,)).fetchone()[0]
            refused = [
                api.put("/v1/system/grace-period", OPERATOR_API_KEY, {"grace_period_seconds": 86_407}),
                api.post("/v1/system/pause", OPERATOR_API_KEY, idem="pause-1"),
                api.post("/v1/members", OPERATOR_API_KEY, {"role": "supplier", "kyc_hash": "0x" + "ab" * 32}),
                api.client.post("/v1/users", json={"label": "x", "role": "maker"}, headers=api.op),
            ]
            for r in refused:
                assert r.status_code == 503, r.text
                body = r.json()
                assert body["code"] == "STORE_LOCK_LOST" and body["message"] and body["details"]["lock"] == "lost"
            assert counts() == before  # nothing stored
            # reads still answer, and say why writes are refused
            assert api.get(f"/v1/operations/{first['id']}", OPERATOR_API_KEY).json()["state"] == "confirmed"
            health = client.get("/v1/health").json()
            assert health["signing"]["ok"] is False and health["signing"]["error"]["code"] == "STORE_LOCK_LOST"
            assert client.get("/v1/ready").json()["details"]["checks"]["lock"]["error"] == "STORE_LOCK_LOST"
        # the thief's session ended: the next write takes the lock again (the signers re-sync first)
        assert grace(api, 7, wait=True)["state"] == "confirmed"
        assert client.get("/v1/health").json()["signing"]["ok"] is True


def stored(client: TestClient) -> tuple[int, int]:
    """(operations, API keys) in the gateway's store."""
    from sqlalchemy import func

    from chain_gateway.models import ApiKey

    with Session(client.app.state.gateway.engine) as s:  # type: ignore[attr-defined]
        return (s.exec(select(func.count()).select_from(Operation)).one(),
                s.exec(select(func.count()).select_from(ApiKey)).one())


def test_two_gateways_never_sign_for_one_store(own_chain: Chain, pg_url: str, tmp_path: Path) -> None:
    """Gateway A's sessions are terminated and gateway B starts on the same store (the lock was
    free): A refuses writes (503 STORE_LOCK_LOST, nothing stored) and signs nothing, its health says
    why; B signs, once."""
    settings = gateway_settings(own_chain, tmp_path, database_url=pg_url)
    operator = own_chain.manifest.operator
    with TestClient(create_app(settings)) as a, contextlib.ExitStack() as started:
        api_a = Api(a, own_chain)
        assert grace(api_a, 3, wait=True)["state"] == "confirmed"
        with no_retake(a):  # the lock is free, A is slower to take it again than B
            assert terminate_sessions(pg_url) >= 1
            b = started.enter_context(TestClient(create_app(settings)))
        n0 = int(rpc(own_chain.url, "eth_getTransactionCount", operator, "latest"), 16)
        before = stored(a)
        r = api_a.put("/v1/system/grace-period", OPERATOR_API_KEY, {"grace_period_seconds": 86_404}, wait=False)
        assert r.status_code == 503 and r.json()["code"] == "STORE_LOCK_LOST", r.text
        assert stored(a) == before  # A's API stored nothing
        health = a.get("/v1/health").json()
        assert health["signing"]["ok"] is False and health["signing"]["error"]["code"] == "STORE_LOCK_LOST"
        api_b = Api(b, own_chain)
        op = grace(api_b, 5, wait=True)
        assert op["state"] == "confirmed" and op["nonce"] == n0 and op["error"] is None
        time.sleep(1.0)
        assert int(rpc(own_chain.url, "eth_getTransactionCount", operator, "latest"), 16) == n0 + 1  # A signed nothing
