"""A real uvicorn gateway: 100 concurrent clients on one signer; SIGKILL mid-flight and restart."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, create_engine, select

from chain_gateway.models import Operation
from gateway.conftest import OPERATOR_API_KEY, Chain, GatewayProcess, deploy_chain, gateway_env, rpc

pytestmark = pytest.mark.slow


def h32() -> str:
    return "0x" + secrets.token_hex(32)


def wait(client: httpx.Client, path: str, key: str, body: Any = None) -> dict[str, Any]:
    r = client.post(path, json=body, headers={"X-API-Key": key}, params={"wait": "true"}, timeout=60)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def setup_holder(base: str, chain: Chain) -> tuple[str, str, str, int]:
    """A core enterprise issues to a supplier who accepts; returns (supplier, key, recipient, token)."""
    with httpx.Client(base_url=base) as c:
        core = wait(c, "/v1/members", OPERATOR_API_KEY, {"role": "core_enterprise", "kyc_hash": h32()})
        sup = wait(c, "/v1/members", OPERATOR_API_KEY, {"role": "supplier", "kyc_hash": h32()})
        sup2 = wait(c, "/v1/members", OPERATOR_API_KEY, {"role": "supplier", "kyc_hash": h32()})
        r = c.put(f"/v1/members/{core['account']}/credit-limit", json={"limit": 10**12},
                  headers={"X-API-Key": OPERATOR_API_KEY}, params={"wait": "true"})
        assert r.status_code == 200
        now = int(rpc(chain.url, "eth_getBlockByNumber", "latest", False)["timestamp"], 16)
        issued = wait(c, "/v1/certificates", core["api_key"], {"payee": sup["account"], "face_value": 10**9,
                                                                "maturity": now + 90 * 86400, "document_hash": h32()})
        cert, token = issued["result"]["certificate_id"], issued["result"]["token_id"]
        wait(c, f"/v1/certificates/{cert}/accept", sup["api_key"])
    return sup["account"], sup["api_key"], sup2["account"], token


async def fire(base: str, key: str, token: int, to: str, clients: int, per_client: int,
               accepted: list[str], stop_after: float | None = None) -> None:
    """`clients` concurrent clients each submitting `per_client` split-transfers (no wait)."""
    started = time.monotonic()

    async def one(i: int) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60) as c:
            for _ in range(per_client):
                if stop_after is not None and time.monotonic() - started > stop_after:
                    return
                try:
                    r = await c.post(f"/v1/holdings/{token}/split-transfer", headers={"X-API-Key": key},
                                     json={"to": to, "value": 1, "document_hash": h32()})
                except httpx.HTTPError:
                    return  # the gateway died under us
                assert r.status_code == 202, r.text
                accepted.append(r.json()["id"])

    await asyncio.gather(*(one(i) for i in range(clients)))


def store_ops(db: Path, signer: str) -> list[Operation]:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with Session(engine) as s:
            return list(s.exec(select(Operation).where(Operation.signer == signer)).all())
    finally:
        engine.dispose()


def wait_all_final(db: Path, signer: str, timeout: float = 120) -> list[Operation]:
    deadline = time.monotonic() + timeout
    while True:
        ops = store_ops(db, signer)
        if all(op.state.value in ("confirmed", "failed") for op in ops):
            return ops
        if time.monotonic() > deadline:
            states = {op.state.value for op in ops}
            raise AssertionError(f"operations not final: {states}")
        time.sleep(0.25)


def check_exactly_once(chain: Chain, db: Path, signer: str, accepted: list[str]) -> None:
    ops = wait_all_final(db, signer)
    by_id = {op.id: op for op in ops}
    assert set(accepted) <= set(by_id)  # every accepted operation is in the store
    assert all(op.state.value == "confirmed" for op in ops), [op.error for op in ops if op.state.value != "confirmed"]
    nonces = sorted(op.nonce for op in ops if op.nonce is not None)
    assert nonces == list(range(len(ops))), "nonce gap or duplicate"
    assert int(rpc(chain.url, "eth_getTransactionCount", signer, "latest"), 16) == len(ops)
    assert len({op.tx_hash for op in ops}) == len(ops)


@pytest.fixture
def proc_env(tmp_path: Path):
    chain = deploy_chain(tmp_path)
    gw = GatewayProcess(gateway_env(chain, tmp_path), log=tmp_path / "gateway.log")
    try:
        yield chain, gw, tmp_path
    finally:
        gw.stop()
        chain.chain.stop()


def test_100_concurrent_clients_one_signer(proc_env) -> None:
    chain, gw, tmp = proc_env
    gw.start()
    signer, key, to, token = setup_holder(gw.url, chain)
    accepted: list[str] = []
    asyncio.run(fire(gw.url, key, token, to, clients=100, per_client=3, accepted=accepted))
    assert len(accepted) == 300
    check_exactly_once(chain, tmp / "gateway.db", signer, accepted)
    with httpx.Client(base_url=gw.url) as c:
        h = c.get(f"/v1/holdings/{token}", headers={"X-API-Key": key}).json()
    assert h["value"] == 10**9 - 300


def test_sigkill_mid_flight_then_restart(proc_env) -> None:
    chain, gw, tmp = proc_env
    gw.start()
    signer, key, to, token = setup_holder(gw.url, chain)
    accepted: list[str] = []

    async def run(more: int) -> None:
        kill_at = len(accepted) + more
        task = asyncio.create_task(fire(gw.url, key, token, to, clients=20, per_client=25, accepted=accepted))
        while len(accepted) < kill_at:
            await asyncio.sleep(0.01)
            if task.done():
                break
        gw.kill()
        await task

    def splits_in_flight() -> int:
        ops = store_ops(tmp / "gateway.db", signer)
        return sum(op.kind == "holdings.split_transfer" and op.state.value != "confirmed" for op in ops)

    # kill 1: the node mines nothing meanwhile (automine off), so every operation accepted before
    # the kill is still in flight at it: queued, or signed and waiting in the node's pool
    rpc(chain.url, "evm_setAutomine", False)
    asyncio.run(run(300))
    assert splits_in_flight() >= 250, "hundreds of operations in flight at the kill"
    rpc(chain.url, "evm_setAutomine", True)
    while int(rpc(chain.url, "eth_getTransactionCount", signer, "pending"), 16) > int(
        rpc(chain.url, "eth_getTransactionCount", signer, "latest"), 16
    ):
        rpc(chain.url, "evm_mine")  # the pool's transactions signed before the kill
    gw.start()  # same database, same keystore: recovers and finishes

    # kills 2 and 3: the node mining as usual, killed mid-stream (each restart also recovers the
    # previous run's leftovers)
    for _ in range(2):
        before = len(accepted)
        asyncio.run(run(200))
        assert len(accepted) >= before + 150
        gw.start()
    check_exactly_once(chain, tmp / "gateway.db", signer, accepted)
    ops = store_ops(tmp / "gateway.db", signer)
    splits = [op for op in ops if op.kind == "holdings.split_transfer"]
    with httpx.Client(base_url=gw.url) as c:
        h = c.get(f"/v1/holdings/{token}", headers={"X-API-Key": key}).json()
    assert h["value"] == 10**9 - len(splits)
