"""Benchmark: sustained confirmed split-and-transfers per second through the gateway's HTTP API
against a raw web3.py pipelined loop doing the same calls on the same fresh node in the same run.

    .venv/bin/python -m scf.bench.gateway [--ops 500] [--clients 64] [--out reports/bench_gateway.json]

Uses the node at SCF_RPC_URL if set (a fresh dev chain: `make bench` starts one), else starts its
own anvil. Deploys the platform, onboards the members, issues and accepts two certificates, then:

* raw: one supplier's key signs `splitTransfer` calls with consecutive nonces and sends them one
  after another with web3.py (no simulation, fixed gas), then waits for every receipt;
* gateway: the gateway runs as a real uvicorn process (SQLite store); `--clients` concurrent HTTP
  clients post split-and-transfers with `?wait=true` for another supplier until `--ops` are confirmed
  (each is simulated, stored, signed, sent, tracked to its receipt, exactly as in production).

The measured phases run in A-B-B-A order (raw, gateway, gateway, raw; half the operations each),
after an unmeasured warm-up of each: the node slows as its chain grows, so both sides see the same
average chain. Prints ops/s of both, the ratio (target >= 0.8) and the number of blocks each ran.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from eth_account import Account
from web3 import Web3

from scf import devchain
from scf_core.paths import ROOT

OPERATOR_API_KEY = "scf_bench_" + secrets.token_urlsafe(24)


def h32() -> bytes:
    return secrets.token_bytes(32)


def start_gateway(rpc_url: str, manifest: Path, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = devchain.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCF_GATEWAY_")}
    env.update(
        SCF_GATEWAY_RPC_URL=rpc_url,
        SCF_GATEWAY_MANIFEST=str(manifest),
        SCF_GATEWAY_DATABASE_URL=f"sqlite:///{work / 'gateway.db'}",
        SCF_GATEWAY_KEYSTORE_DIR=str(work / "keystore"),
        SCF_GATEWAY_KEYSTORE_PASSPHRASE=secrets.token_urlsafe(16),
        SCF_GATEWAY_KEYSTORE_SCRYPT_N=str(2**14),
        SCF_GATEWAY_DEV_MODE="true",  # the operator's key from the dev mnemonic
        SCF_GATEWAY_DEV_OPERATOR_API_KEY=OPERATOR_API_KEY,
        SCF_GATEWAY_LOG_LEVEL="WARNING",
    )
    profile = ["-m", "cProfile", "-o", os.environ["SCF_BENCH_PROFILE"]] if os.environ.get("SCF_BENCH_PROFILE") else []
    proc = subprocess.Popen(
        [sys.executable, *profile, "-m", "uvicorn", "chain_gateway.main:app", "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        env=env, cwd=str(ROOT), stdout=open(work / "gateway.log", "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/v1/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the gateway did not start")


def post(c: httpx.Client, path: str, key: str, body: dict[str, Any] | None = None, method: str = "POST") -> Any:
    r = c.request(method, path, json=body, headers={"X-API-Key": key}, params={"wait": "true"})
    data = r.json()
    op = data.get("operation", data)
    if r.status_code >= 400 or op.get("state") != "confirmed":
        raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:300]}")
    return data


def raw_loop(w3: Web3, token_abi: Any, token_addr: str, key: bytes, token_id: int, to: str, ops: int) -> dict[str, Any]:
    acct = Account.from_key(key)
    contract = w3.eth.contract(address=Web3.to_checksum_address(token_addr), abi=token_abi)
    nonce = w3.eth.get_transaction_count(acct.address, "pending")
    chain_id = w3.eth.chain_id
    gas = int(contract.functions.splitTransfer(token_id, to, 1, h32()).estimate_gas({"from": acct.address}) * 1.25)
    start_block = w3.eth.block_number
    t0 = time.perf_counter()
    hashes = []
    for i in range(ops):
        data = contract.encode_abi("splitTransfer", args=[token_id, to, 1, h32()])
        tx = {"chainId": chain_id, "nonce": nonce + i, "to": token_addr, "value": 0, "data": data, "gas": gas,
              "gasPrice": 0}
        signed = acct.sign_transaction(tx)
        hashes.append(w3.eth.send_raw_transaction(signed.raw_transaction))
    failed = 0
    for h in hashes:
        receipt = w3.eth.wait_for_transaction_receipt(h, timeout=300, poll_latency=0.01)
        failed += receipt["status"] != 1
    elapsed = time.perf_counter() - t0
    return {"ops": ops, "failed": failed, "seconds": round(elapsed, 3), "ops_per_s": round(ops / elapsed, 1),
            "blocks": w3.eth.block_number - start_block}


async def gateway_loop(url: str, key: str, token_id: int, to: str, ops: int, clients: int, w3: Web3) -> dict[str, Any]:
    remaining = ops
    failed = 0
    start_block = w3.eth.block_number

    target = f"{url}/v1/holdings/{token_id}/split-transfer?wait=true"

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal remaining, failed
        while remaining > 0:
            remaining -= 1
            body = {"to": to, "value": 1, "document_hash": "0x" + h32().hex()}
            async with session.post(target, json=body, headers={"X-API-Key": key}) as r:
                try:
                    data = await r.json(content_type=None)
                except ValueError:  # not JSON (a proxy's error page): a failure, not a crash
                    data = None
                # an error answer is {"code", "message", "details"}: no "state", counted as a failure
                if r.status != 200 or not isinstance(data, dict) or data.get("state") != "confirmed":
                    failed += 1

    # aiohttp: a light client, so the figure is the gateway's rather than the HTTP client's
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=300)) as session:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(clients)))
        elapsed = time.perf_counter() - t0
    return {"ops": ops, "failed": failed, "seconds": round(elapsed, 3), "ops_per_s": round(ops / elapsed, 1),
            "blocks": w3.eth.block_number - start_block, "clients": clients}


def combine(parts: list[dict[str, Any]]) -> dict[str, Any]:
    ops = sum(p["ops"] for p in parts)
    seconds = sum(p["seconds"] for p in parts)
    return {"ops": ops, "failed": sum(p["failed"] for p in parts), "seconds": round(seconds, 3),
            "ops_per_s": round(ops / seconds, 1), "blocks": sum(p["blocks"] for p in parts),
            "parts_ops_per_s": [p["ops_per_s"] for p in parts]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=500, help="split-and-transfers per phase")
    parser.add_argument("--clients", type=int, default=64, help="concurrent HTTP clients of the gateway")
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured operations per phase first")
    parser.add_argument("--out", default=str(ROOT / "reports" / "bench_gateway.json"),
                        help="JSON results file ('-': do not write)")
    args = parser.parse_args(argv)

    from scf.deploy import deploy, dev_operator_key

    own_chain = None
    rpc_url = os.environ.get("SCF_RPC_URL")
    if not rpc_url:
        own_chain = devchain.start()
        rpc_url = own_chain.url
    work = Path(tempfile.mkdtemp(prefix="bench_gateway_"))
    gw_proc = None
    try:
        manifest = deploy(rpc_url, dev_operator_key())
        manifest_path = work / "manifest.json"
        manifest.save(manifest_path)
        w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 60}))
        gw_proc, url = start_gateway(rpc_url, manifest_path, work)

        from chain_gateway.signer import dev_accounts

        raw_acct = dev_accounts()[5]
        with httpx.Client(base_url=url, timeout=120) as c:
            core = post(c, "/v1/members", OPERATOR_API_KEY, {"role": "core_enterprise", "kyc_hash": "0x" + "01" * 32})
            gw_sup = post(c, "/v1/members", OPERATOR_API_KEY, {"role": "supplier", "kyc_hash": "0x" + "02" * 32})
            raw_sup = post(c, "/v1/members", OPERATOR_API_KEY,
                           {"role": "supplier", "kyc_hash": "0x" + "03" * 32, "account": raw_acct.address})
            dest = post(c, "/v1/members", OPERATOR_API_KEY, {"role": "supplier", "kyc_hash": "0x" + "04" * 32})
            post(c, f"/v1/members/{core['account']}/credit-limit", OPERATOR_API_KEY, {"limit": 10**15}, "PUT")
            maturity = w3.eth.get_block("latest")["timestamp"] + 180 * 86400
            tokens = {}
            for name, sup in (("gw", gw_sup), ("raw", raw_sup)):
                res = post(c, "/v1/certificates", core["api_key"], {"payee": sup["account"], "face_value": 10**12,
                                                                    "maturity": maturity,
                                                                    "document_hash": "0x" + h32().hex()})["result"]
                post(c, f"/v1/certificates/{res['certificate_id']}/accept", sup["api_key"])
                tokens[name] = res["token_id"]

        token = manifest.contracts["CertificateToken"]
        raw_key = bytes(raw_acct.key)
        # warm-ups (not measured), then the measured phases in A-B-B-A order (raw, gateway, gateway,
        # raw; half the operations each): the node slows down as its chain grows, and this order
        # gives both sides the same average chain length
        raw_loop(w3, token.abi, token.address, raw_key, tokens["raw"], dest["account"], args.warmup)
        asyncio.run(gateway_loop(url, gw_sup["api_key"], tokens["gw"], dest["account"], args.warmup,
                                 min(args.clients, args.warmup), w3))

        def run_raw(n: int) -> dict[str, Any]:
            return raw_loop(w3, token.abi, token.address, raw_key, tokens["raw"], dest["account"], n)

        def run_gw(n: int) -> dict[str, Any]:
            return asyncio.run(gateway_loop(url, gw_sup["api_key"], tokens["gw"], dest["account"], n,
                                            args.clients, w3))

        first, second = args.ops // 2, args.ops - args.ops // 2
        raw_parts = [run_raw(first)]
        gw_parts = [run_gw(first), run_gw(second)]
        raw_parts.append(run_raw(second))
        raw, gw = combine(raw_parts), combine(gw_parts)
        gw["clients"] = args.clients
        ratio = round(gw["ops_per_s"] / raw["ops_per_s"], 3)
        result = {
            "benchmark": "confirmed split-and-transfers per second: gateway HTTP API vs raw web3.py pipelined loop",
            "gateway_tps": gw["ops_per_s"], "raw_tps": raw["ops_per_s"], "ratio": ratio, "target": 0.8,
            "meets_target": ratio >= 0.8, "gateway": gw, "raw": raw,
            "blocks": {"gateway": gw["blocks"], "raw": raw["blocks"]},
            "node": "anvil (automine)", "store": "sqlite", "confirmations": 1,
        }
        print(f"raw web3.py loop : {raw['ops_per_s']:8.1f} ops/s  ({raw['ops']} ops, {raw['seconds']} s, "
              f"{raw['blocks']} blocks, {raw['failed']} failed)")
        print(f"gateway HTTP API : {gw['ops_per_s']:8.1f} ops/s  ({gw['ops']} ops, {gw['seconds']} s, "
              f"{gw['blocks']} blocks, {gw['failed']} failed, {gw['clients']} clients)")
        print(f"ratio gateway/raw: {ratio:.3f} (target >= 0.8)")
        if args.out != "-":
            out = Path(args.out)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(result, indent=1))
            print(f"written to {out}")
        return 0 if gw["failed"] == 0 and raw["failed"] == 0 else 1
    finally:
        if gw_proc is not None:
            gw_proc.send_signal(signal.SIGINT)  # graceful (lets a profiler write its output)
            try:
                gw_proc.wait(30)
            except subprocess.TimeoutExpired:
                gw_proc.kill()
        if own_chain is not None:
            own_chain.stop()


if __name__ == "__main__":
    sys.exit(main())
