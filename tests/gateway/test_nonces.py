"""Nonce recovery: dropped and stuck transactions, nonces used outside the gateway, gaps."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from eth_account import Account
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from chain_gateway.main import create_app
from chain_gateway.models import NonceState, Operation
from chain_gateway.signer import dev_accounts
from gateway.conftest import OPERATOR_API_KEY, Api, SendFault, deploy_chain, gateway_settings, rpc, wait_until
from gateway.test_observability import scrape, value

RESENDS, FEE_BUMPS = "scf_gateway_resends_total", "scf_gateway_fee_bumps_total"

# an answer the submitter does not recognise (neither "known", "nonce too low/high" nor transient)
REFUSAL = "insufficient funds for gas * price + value"


@pytest.fixture
def env(tmp_path: Path):
    chain = deploy_chain(tmp_path)
    settings = gateway_settings(chain, tmp_path, resend_after_s=0.5, bump_after_s=1.5, poll_interval_s=0.05)
    try:
        yield chain, settings
    finally:
        chain.chain.stop()


def fillers(client: TestClient) -> list[Operation]:
    with Session(client.app.state.gateway.engine) as s:  # type: ignore[attr-defined]
        return list(s.exec(select(Operation).where(Operation.kind == "system.nonce_fill")).all())


def op_row(client: TestClient, op_id: str) -> Operation:
    with Session(client.app.state.gateway.engine) as s:  # type: ignore[attr-defined]
        row = s.exec(select(Operation).where(Operation.id == op_id)).one()
        return row


def operator_tx(api: Api, amount: int = 1, wait: bool = False) -> dict:
    """An operator transaction (sets the grace period)."""
    r = api.client.put("/v1/system/grace-period", json={"grace_period_seconds": 86400 + amount},
                       headers={"X-API-Key": OPERATOR_API_KEY}, params={"wait": "true"} if wait else None)
    assert r.status_code in (200, 202), r.text
    return r.json()


def test_dropped_then_stuck_tx_is_resent_and_bumped(env) -> None:
    chain, settings = env
    operator = dev_accounts()[0].address
    with TestClient(create_app(settings)) as client:
        api = Api(client, chain)
        operator_tx(api, wait=True)
        n0 = int(rpc(chain.url, "eth_getTransactionCount", operator, "latest"), 16)
        before = scrape(client)
        rpc(chain.url, "evm_setAutomine", False)
        op = operator_tx(api, 5)
        first = wait_until(lambda: op_row(client, op["id"]).tx_hash)
        wait_until(lambda: op_row(client, op["id"]).sent_at is not None)
        rpc(chain.url, "anvil_dropTransaction", first)  # the node forgets it
        # re-broadcast after resend_after_s, then re-signed at the same nonce with a higher fee
        row = wait_until(lambda: (r := op_row(client, op["id"])) and len(r.tx_hashes) >= 2 and r.sent_at and r, 15)
        assert row.nonce == n0 and row.gas_price and row.gas_price > 0
        rpc(chain.url, "evm_setAutomine", True)
        rpc(chain.url, "evm_mine")
        done = api.get(f"/v1/operations/{op['id']}", OPERATOR_API_KEY, wait="true").json()
        assert done["state"] == "confirmed" and done["nonce"] == n0
        hashes = op_row(client, op["id"]).tx_hashes
        assert done["tx_hash"] in hashes
        assert int(rpc(chain.url, "eth_getTransactionCount", operator, "latest"), 16) == n0 + 1
        # the counters (GET /metrics): at least the re-broadcast before the first bump, and one
        # fee bump per re-signing (each one a new hash of the operation)
        after = scrape(client)
        assert value(after, RESENDS) - value(before, RESENDS) >= 1
        assert value(after, FEE_BUMPS) - value(before, FEE_BUMPS) == len(hashes) - 1 >= 1


def test_nonce_used_outside_the_gateway_and_gap_fill(env) -> None:
    chain, settings = env
    acct = dev_accounts()[0]
    with TestClient(create_app(settings)) as client:
        api = Api(client, chain)
        operator_tx(api, wait=True)
        n = int(rpc(chain.url, "eth_getTransactionCount", acct.address, "latest"), 16)
        # someone uses the operator key directly: the gateway's next nonce is now taken ("nonce too low")
        raw = Account.sign_transaction({"chainId": 31337, "nonce": n, "to": acct.address, "value": 0, "gas": 21000,
                                        "gasPrice": 10**9}, acct.key).raw_transaction
        rpc(chain.url, "eth_sendRawTransaction", "0x" + raw.hex())
        done = api.get(f"/v1/operations/{operator_tx(api, 7)['id']}", OPERATOR_API_KEY, wait="true", timeout=20).json()
        assert done["state"] == "confirmed" and done["nonce"] == n + 1
    # a gap in the store (e.g. a restored backup ahead of the chain): filled on start
    with Session(client.app.state.gateway.engine) as s:  # type: ignore[attr-defined]
        ns = s.get(NonceState, acct.address.lower())
        assert ns is not None
        ns.next_nonce += 2
        s.add(ns)
        s.commit()
    with TestClient(create_app(settings)) as client:
        api = Api(client, chain)
        done = api.get(f"/v1/operations/{operator_tx(api, 9)['id']}", OPERATOR_API_KEY, wait="true", timeout=20).json()
        assert done["state"] == "confirmed" and done["nonce"] == n + 4
        with Session(client.app.state.gateway.engine) as s:  # type: ignore[attr-defined]
            fills = s.exec(select(Operation).where(Operation.kind == "system.nonce_fill")).all()
        assert sorted(f.nonce for f in fills) == [n + 2, n + 3]
        time.sleep(0.2)
        assert int(rpc(chain.url, "eth_getTransactionCount", acct.address, "latest"), 16) == n + 5


def test_one_gateway_process_per_database(env) -> None:
    chain, settings = env
    with (
        TestClient(create_app(settings)),
        pytest.raises(RuntimeError, match="another gateway process"),
        TestClient(create_app(settings)),
    ):
        pass
    with TestClient(create_app(settings)) as client:  # released on stop
        assert client.get("/v1/health").status_code == 200


def test_confirmation_depth(tmp_path: Path) -> None:
    chain = deploy_chain(tmp_path)
    try:
        settings = gateway_settings(chain, tmp_path, confirmations=3)
        with TestClient(create_app(settings)) as client:
            api = Api(client, chain)
            op = operator_tx(api, 3)
            row = wait_until(lambda: (r := op_row(client, op["id"])).state.value == "mined" and r)
            assert row.block_number is not None
            rpc(chain.url, "evm_mine")
            time.sleep(0.3)
            assert op_row(client, op["id"]).state.value == "mined"  # 2 of 3 blocks
            rpc(chain.url, "evm_mine")
            done = api.get(f"/v1/operations/{op['id']}", OPERATOR_API_KEY, wait="true", timeout=10).json()
            assert done["state"] == "confirmed"
    finally:
        chain.chain.stop()


def test_refused_resend_never_fails_an_accepted_operation(env) -> None:
    """The node accepted the tx; a re-sync re-broadcasts it and the node now refuses it with an
    unrecognised error: the operation stays submitted (the tx may still be mined) and confirms."""
    chain, settings = env
    operator = dev_accounts()[0].address
    with TestClient(create_app(settings)) as client:
        api = Api(client, chain)
        operator_tx(api, wait=True)
        n0 = int(rpc(chain.url, "eth_getTransactionCount", operator, "latest"), 16)
        rpc(chain.url, "evm_setAutomine", False)
        op = operator_tx(api, 11)
        wait_until(lambda: op_row(client, op["id"]).accepted_at is not None)
        fault = SendFault(client, REFUSAL)
        worker = client.app.state.gateway.submitter.workers[operator.lower()]  # type: ignore[attr-defined]
        worker.synced = False  # as after a restart, a node outage or "nonce too high": sent_at is reset
        wait_until(lambda: fault.refused >= 1, 10)
        time.sleep(0.3)
        row = op_row(client, op["id"])
        assert row.state.value == "submitted" and row.error and row.error["code"] == "SEND_REFUSED", row
        assert not fillers(client)
        fault.remove()
        rpc(chain.url, "evm_setAutomine", True)
        rpc(chain.url, "evm_mine")
        done = api.get(f"/v1/operations/{op['id']}", OPERATOR_API_KEY, wait="true", timeout=20).json()
        assert done["state"] == "confirmed" and done["nonce"] == n0 and done["error"] is None
        assert not fillers(client)


def test_refused_first_send_of_a_tx_the_node_has_is_not_failed(env) -> None:
    """The node answers the first send with an error but has the transaction (it is mined): the
    lookup by hash before failing keeps the operation, which confirms."""
    chain, settings = env
    with TestClient(create_app(settings)) as client:
        api = Api(client, chain)
        operator_tx(api, wait=True)
        fault = SendFault(client, REFUSAL, forward=True)
        done = api.get(f"/v1/operations/{operator_tx(api, 13)['id']}", OPERATOR_API_KEY, wait="true",
                       timeout=20).json()
        assert fault.refused >= 1
        assert done["state"] == "confirmed" and done["error"] is None, done
        assert not fillers(client)


def test_a_filler_is_never_failed(env) -> None:
    """A first send refused outright fails its operation and a filler takes its nonce; the node
    refusing the filler too keeps the filler (error shown, sent again later): no filler cascade."""
    chain, settings = env
    operator = dev_accounts()[0].address
    with TestClient(create_app(settings)) as client:
        api = Api(client, chain)
        operator_tx(api, wait=True)
        n0 = int(rpc(chain.url, "eth_getTransactionCount", operator, "latest"), 16)
        fault = SendFault(client, REFUSAL)
        failed = api.get(f"/v1/operations/{operator_tx(api, 17)['id']}", OPERATOR_API_KEY, wait="true").json()
        assert failed["state"] == "failed" and failed["error"]["code"] == "SEND_REJECTED"
        wait_until(lambda: fault.refused >= 4, 10)  # the filler's sends, retried after resend_after_s
        rows = fillers(client)
        assert len(rows) == 1 and rows[0].nonce == n0 and rows[0].state.value == "submitted"
        assert rows[0].error and rows[0].error["code"] == "SEND_REFUSED" and REFUSAL in rows[0].error["message"]
        fault.remove()
        done = api.get(f"/v1/operations/{operator_tx(api, 19)['id']}", OPERATOR_API_KEY, wait="true",
                       timeout=20).json()
        assert done["state"] == "confirmed" and done["nonce"] == n0 + 1
        rows = fillers(client)
        assert len(rows) == 1 and rows[0].state.value in ("mined", "confirmed") and rows[0].error is None


def test_stuck_tx_without_funds_for_a_bump_is_not_retried_every_poll(env) -> None:
    """Free gas: the account cannot pay a higher fee, so the stuck tx is re-broadcast as is, and the
    next bump attempt is bump_after_s away (not every poll: eth_getBalance + resend 20 times a second)."""
    chain, settings = env
    operator = dev_accounts()[0].address
    with TestClient(create_app(settings)) as client:
        api = Api(client, chain)
        gw = client.app.state.gateway  # type: ignore[attr-defined]
        operator_tx(api, wait=True)
        rpc(chain.url, "anvil_setBalance", operator, "0x0")
        calls: list[str] = []
        original = gw.rpc.call

        async def counting(method: str, *params: object) -> object:
            calls.append(method)
            return await original(method, *params)

        gw.rpc.call = counting
        before = scrape(client)
        rpc(chain.url, "evm_setAutomine", False)
        op = operator_tx(api, 23)
        wait_until(lambda: op_row(client, op["id"]).sent_at is not None)
        time.sleep(settings.bump_after_s + 2.5)  # the first bump attempt, then 2.5 s of polls (50 ms)
        balance_reads = calls.count("eth_getBalance")
        assert 1 <= balance_reads <= 4, balance_reads
        row = op_row(client, op["id"])
        assert row.state.value == "submitted" and len(row.tx_hashes) == 1  # never re-signed
        # each bump attempt without funds counts as a resend (re-broadcast as is), never as a fee bump
        after = scrape(client)
        assert value(after, RESENDS) - value(before, RESENDS) >= balance_reads
        assert value(after, FEE_BUMPS) == value(before, FEE_BUMPS)
        rpc(chain.url, "evm_setAutomine", True)
        rpc(chain.url, "evm_mine")
        done = api.get(f"/v1/operations/{op['id']}", OPERATOR_API_KEY, wait="true", timeout=20).json()
        assert done["state"] == "confirmed"
