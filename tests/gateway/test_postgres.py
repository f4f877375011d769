"""The PostgreSQL store (SCF_TEST_POSTGRES_URL): a fresh database per run, dropped afterwards."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from chain_gateway.main import create_app
from gateway.conftest import OPERATOR_API_KEY, Api, Chain, gateway_settings, wait_until
from gateway.test_api import confirmed, h32
from gateway.test_approvals import THRESHOLD, awaiting, check_quorum_once, member_with_users
from gateway.test_events import SECRET, Receiver, onboard_op, outbox
from tests.pg import fresh_database

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh database of this file's own, dropped afterwards."""
    yield from fresh_database("scf_gw")


def test_gateway_on_postgres(chain: Chain, pg_url: str, tmp_path: Path) -> None:
    settings = gateway_settings(chain, tmp_path, database_url=pg_url)
    with TestClient(create_app(settings)) as client:
        api = Api(client, chain)
        core, core_key = api.onboard("core_enterprise", credit=10**9)
        sup, sup_key = api.onboard("supplier")
        sup2, _ = api.onboard("supplier")
        res = api.issue(core_key, sup, face=5_000)
        confirmed(api.post(f"/v1/certificates/{res['certificate_id']}/accept", sup_key))
        key = "pg-" + secrets.token_hex(4)
        body = {"to": sup2, "value": 1, "document_hash": h32()}
        r1 = api.post(f"/v1/holdings/{res['token_id']}/split-transfer", sup_key, body, idem=key)
        r2 = api.post(f"/v1/holdings/{res['token_id']}/split-transfer", sup_key, body, idem=key)
        assert r1.json()["id"] == r2.json()["id"]
        assert r1.json()["state"] == "confirmed" and r1.json()["result"]["new_token_id"] > 0
        ops = api.get("/v1/operations", sup_key).json()
        assert len(ops) >= 2
        assert api.get("/v1/me", OPERATOR_API_KEY).status_code == 200


def test_webhook_outbox_on_postgres(chain: Chain, pg_url: str, tmp_path: Path) -> None:
    """A final state refused once (500) then accepted: delivered once; the row is gone."""
    hook = Receiver(final_answers=[500])
    settings = gateway_settings(chain, tmp_path, database_url=pg_url, webhook_url=hook.url, webhook_secret=SECRET)
    try:
        with TestClient(create_app(settings)) as client:
            op_id = onboard_op(client)
            wait_until(lambda: outbox(settings) == [] and any(st == 204 for _, _, st in hook.finals(op_id)))
        assert [st for _, _, st in hook.finals(op_id)] == [500, 204]
        assert all(ok for _, ok, _ in hook.finals(op_id))
    finally:
        hook.close()


def test_dual_control_on_postgres(chain: Chain, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four checkers approve at once on PostgreSQL (READ COMMITTED): the quorum of two is reached once,
    one transaction; a rejection is final."""
    settings = gateway_settings(chain, tmp_path, database_url=pg_url)
    with TestClient(create_app(settings)) as client:
        api = Api(client, chain)
        payee, _ = api.onboard("supplier")
        m = member_with_users(api, checkers=4, policy=THRESHOLD)
        check_quorum_once(api, m, payee, monkeypatch)
        op = awaiting(api, m, payee)
        r = client.post(f"/v1/operations/{op['id']}/reject", json={"reason": "no"}, headers=api.h(m.checkers[0]))
        assert r.status_code == 200 and r.json()["state"] == "rejected"
