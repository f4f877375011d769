"""Benchmark: confirmed split-and-transfers per second through the gateway's HTTP API against a lean,
well-optimised client doing the same transactions, on the same fresh node, in the same run.

    .venv/bin/python -m scf.bench.gateway [--modes interval,automine] [--ops N] [--repeats 3]
                                          [--out reports/bench_gateway.json]

For each node mode a fresh anvil is started (the node slows as its chain grows), with a block gas
limit of 1e9 (a permissioned network sets its own; the default 30M would cap a 1 s block at ~230
split-and-transfers): ``interval`` mines a block every second (``--block-time 1``, as a QBFT network
does), ``automine`` mines each transaction as it arrives. The platform is deployed, the gateway
started as a real uvicorn process (SQLite store), members onboarded and three certificates issued,
one per side. Then, after an unmeasured warm-up of each, ``--repeats`` rounds, the order of the
sides alternating from round to round:

* lean: one supplier's key (the same signing as the gateway: ``chain_gateway.signer.LocalSigner``) signs
  ``splitTransfer`` calls with consecutive nonces, a fixed gas limit, calldata packed by hand, and
  sends them as JSON-RPC batches of ``--batch``; a poller reads the account's mined nonce every
  50 ms (the gateway's poll interval) and fetches the receipts of the newly mined ones in one batch;
* gateway: ``--clients`` concurrent HTTP clients post split-and-transfers with ``?wait=true`` for
  another supplier (each is authorised, simulated, stored, signed, sent, tracked to its receipt,
  exactly as in production) until ``--ops`` are confirmed;
* ingest: the node's own ceiling: ``--ops`` transactions signed beforehand, sent in batches of
  ``--batch`` (send rate) and then waited for until mined (mined rate).

Each side reports ops/s per round (median, min, max), blocks its transactions landed in and
transactions per block; the ratio gateway / lean is the ratio of the medians (and of each round's
pair). Targets: ratio >= 1.0 on the interval-mined node; >= 400 confirmed ops/s through the API.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from eth_account import Account

from scf import devchain
from scf_core.paths import ROOT

OPERATOR_API_KEY = "scf_bench_" + secrets.token_urlsafe(24)
GAS_LIMIT = 1_000_000_000
SPLIT_SELECTOR = "splitTransfer(uint256,address,uint256,bytes32)"
POLL_S = 0.05  # the gateway's default poll interval, for the lean client too


def h32() -> bytes:
    return secrets.token_bytes(32)


def spread(values: list[float]) -> dict[str, Any]:
    """Median with min-max of the rounds."""
    return {"median": round(statistics.median(values), 1), "min": round(min(values), 1),
            "max": round(max(values), 1), "runs": [round(v, 1) for v in values]}


def start_gateway(rpc_url: str, manifest: Path, work: Path, extra_env: dict[str, str] | None = None
                  ) -> tuple[subprocess.Popen[bytes], str]:
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
        **(extra_env or {}),
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc), 0 where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)  # graceful (lets a profiler write its output)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def batch_gaps(url: str) -> int:
    """The gateway's count of batched sends after which the node's pending nonce stopped short
    (``scf_gateway_batch_gaps_total`` on /metrics)."""
    for line in httpx.get(url + "/metrics", timeout=30).text.splitlines():
        if line.startswith("scf_gateway_batch_gaps_total "):
            return int(float(line.split()[1]))
    return 0


def post(c: httpx.Client, path: str, key: str, body: dict[str, Any] | None = None, method: str = "POST") -> Any:
    r = c.request(method, path, json=body, headers={"X-API-Key": key}, params={"wait": "true"})
    data = r.json()
    op = data.get("operation", data)
    if r.status_code >= 400 or op.get("state") != "confirmed":
        raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:300]}")
    return data


# --- the lean client and the node's ceiling ---------------------------------------------------


class Node:
    """A minimal JSON-RPC client (aiohttp, one keep-alive connection pool)."""

    def __init__(self, session: aiohttp.ClientSession, url: str):
        self.session, self.url, self.ids = session, url, 0

    async def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        if not calls:
            return []
        payload = []
        for method, params in calls:
            self.ids += 1
            payload.append({"jsonrpc": "2.0", "id": self.ids, "method": method, "params": params})
        async with self.session.post(self.url, json=payload) as r:
            answers = await r.json(content_type=None)
        by_id = {a["id"]: a for a in answers}
        return [by_id[p["id"]].get("result", by_id[p["id"]].get("error")) for p in payload]

    async def call(self, method: str, *params: Any) -> Any:
        return (await self.batch([(method, list(params))]))[0]


def split_calldata(token_id: int, to: str, value: int) -> str:
    """splitTransfer(uint256,address,uint256,bytes32): four static words after the selector."""
    from eth_utils import keccak

    selector = keccak(text=SPLIT_SELECTOR)[:4]
    words = [token_id.to_bytes(32, "big"), bytes.fromhex(to[2:].rjust(64, "0")), value.to_bytes(32, "big"), h32()]
    return "0x" + (selector + b"".join(words)).hex()


class Mined:
    """Waits for an account's transactions: polls its mined nonce, fetches the receipts of the
    newly mined ones in one batch; counts failures and the blocks they landed in."""

    def __init__(self, node: Node, address: str, first_nonce: int):
        self.node, self.address, self.next = node, address, first_nonce
        self.hashes: dict[int, str] = {}
        self.failed = 0
        self.blocks: set[int] = set()

    async def until(self, last_nonce: int, sent: asyncio.Event | None = None) -> None:
        while self.next <= last_nonce:
            count = int(await self.node.call("eth_getTransactionCount", self.address, "latest"), 16)
            ready = [n for n in range(self.next, count) if n in self.hashes]
            if ready:
                receipts = await self.node.batch([("eth_getTransactionReceipt", [self.hashes[n]]) for n in ready])
                for n, r in zip(ready, receipts, strict=True):
                    if not isinstance(r, dict) or not r.get("blockNumber"):
                        break  # the node counts the nonce before its receipt is readable: next poll
                    self.failed += int(r["status"], 16) != 1
                    self.blocks.add(int(r["blockNumber"], 16))
                    self.next = n + 1
            if self.next <= last_nonce:
                await asyncio.sleep(POLL_S)


def sign_all(acct: Any, txs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The gateway's own signing (``LocalSigner``: legacy transactions encoded by hand, coincurve)."""
    from chain_gateway.signer import LocalSigner

    signer = LocalSigner(acct)
    return [signer.sign_transaction(tx) for tx in txs]


def check_sends(answers: list[Any]) -> None:
    bad = [a for a in answers if not (isinstance(a, str) and a.startswith("0x"))]
    if bad:
        raise RuntimeError(f"the node refused {len(bad)} sends: {bad[0]}")


async def lean_run(url: str, key: bytes, token: str, token_id: int, to: str, ops: int, gas: int,
                   chain_id: int, batch: int) -> dict[str, Any]:
    acct = Account.from_key(key)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=8)) as session:
        node = Node(session, url)
        nonce = int(await node.call("eth_getTransactionCount", acct.address, "pending"), 16)
        mined = Mined(node, acct.address, nonce)
        t0 = time.perf_counter()
        waiter = asyncio.create_task(mined.until(nonce + ops - 1))
        for i in range(0, ops, batch):
            txs = [{"chainId": chain_id, "nonce": nonce + j, "to": token, "value": 0, "gas": gas, "gasPrice": 0,
                    "data": split_calldata(token_id, to, 1)} for j in range(i, min(ops, i + batch))]
            signed = sign_all(acct, txs)
            for j, (_, h) in enumerate(signed):
                mined.hashes[nonce + i + j] = h
            check_sends(await node.batch([("eth_sendRawTransaction", [raw]) for raw, _ in signed]))
            await asyncio.sleep(0)  # let the poller run between batches
        await waiter
        elapsed = time.perf_counter() - t0
    return {"ops": ops, "failed": mined.failed, "seconds": round(elapsed, 3), "ops_per_s": round(ops / elapsed, 1),
            "blocks": len(mined.blocks), "txs_per_block": round(ops / max(1, len(mined.blocks)), 1)}


async def ingest_run(url: str, key: bytes, token: str, token_id: int, to: str, ops: int, gas: int,
                     chain_id: int, batch: int) -> dict[str, Any]:
    """The node's ceiling: transactions signed beforehand, sent in batches; send and mined rates."""
    acct = Account.from_key(key)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=8)) as session:
        node = Node(session, url)
        nonce = int(await node.call("eth_getTransactionCount", acct.address, "pending"), 16)
        txs = [{"chainId": chain_id, "nonce": nonce + j, "to": token, "value": 0, "gas": gas, "gasPrice": 0,
                "data": split_calldata(token_id, to, 1)} for j in range(ops)]
        signed = sign_all(acct, txs)
        mined = Mined(node, acct.address, nonce)
        mined.hashes = {nonce + j: h for j, (_, h) in enumerate(signed)}
        t0 = time.perf_counter()
        for i in range(0, ops, batch):
            check_sends(await node.batch([("eth_sendRawTransaction", [raw]) for raw, _ in signed[i : i + batch]]))
        sent = time.perf_counter() - t0
        await mined.until(nonce + ops - 1)
        elapsed = time.perf_counter() - t0
    return {"ops": ops, "failed": mined.failed, "send_seconds": round(sent, 3),
            "sent_per_s": round(ops / sent, 1), "seconds": round(elapsed, 3), "ops_per_s": round(ops / elapsed, 1),
            "blocks": len(mined.blocks), "txs_per_block": round(ops / max(1, len(mined.blocks)), 1)}


# --- the gateway ------------------------------------------------------------------------------


async def gateway_run(url: str, key: str, token_id: int, to: str, ops: int, clients: int) -> dict[str, Any]:
    remaining = ops
    failed = 0
    blocks: set[int] = set()
    latencies: list[float] = []
    target = f"{url}/v1/holdings/{token_id}/split-transfer?wait=true"

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal remaining, failed
        while remaining > 0:
            remaining -= 1
            body = {"to": to, "value": 1, "document_hash": "0x" + h32().hex()}
            t = time.perf_counter()
            async with session.post(target, json=body, headers={"X-API-Key": key}) as r:
                try:
                    data = await r.json(content_type=None)
                except ValueError:  # not JSON (a proxy's error page): a failure, not a crash
                    data = None
            latencies.append(time.perf_counter() - t)
            # an error answer is {"code", "message", "details"}: no "state", counted as a failure
            if r.status != 200 or not isinstance(data, dict) or data.get("state") != "confirmed":
                failed += 1
            elif data.get("block_number") is not None:
                blocks.add(int(data["block_number"]))

    # aiohttp: a light client, so the figure is the gateway's rather than the HTTP client's
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as session:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(clients)))
        elapsed = time.perf_counter() - t0
    latencies.sort()
    return {"ops": ops, "failed": failed, "seconds": round(elapsed, 3), "ops_per_s": round(ops / elapsed, 1),
            "blocks": len(blocks), "txs_per_block": round(ops / max(1, len(blocks)), 1), "clients": clients,
            "latency_p50_ms": round(1000 * latencies[len(latencies) // 2], 1),
            "latency_p95_ms": round(1000 * latencies[int(len(latencies) * 0.95) - 1], 1)}


# --- one node mode ----------------------------------------------------------------------------


def setup(url: str, w3: Any, accounts: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int], str]:
    """Members and one accepted certificate per side, through the gateway."""
    with httpx.Client(base_url=url, timeout=120) as c:
        core = post(c, "/v1/members", OPERATOR_API_KEY, {"role": "core_enterprise", "kyc_hash": "0x" + "01" * 32})
        sups = {"gw": post(c, "/v1/members", OPERATOR_API_KEY, {"role": "supplier", "kyc_hash": "0x" + "02" * 32})}
        for name, acct in accounts.items():
            sups[name] = post(c, "/v1/members", OPERATOR_API_KEY,
                              {"role": "supplier", "kyc_hash": "0x" + "03" * 32, "account": acct.address})
        dest = post(c, "/v1/members", OPERATOR_API_KEY, {"role": "supplier", "kyc_hash": "0x" + "04" * 32})
        post(c, f"/v1/members/{core['account']}/credit-limit", OPERATOR_API_KEY, {"limit": 10**15}, "PUT")
        maturity = w3.eth.get_block("latest")["timestamp"] + 180 * 86400
        tokens = {}
        for name, sup in sups.items():
            res = post(c, "/v1/certificates", core["api_key"], {"payee": sup["account"], "face_value": 10**12,
                                                                "maturity": maturity,
                                                                "document_hash": "0x" + h32().hex()})["result"]
            post(c, f"/v1/certificates/{res['certificate_id']}/accept", sup["api_key"])
            tokens[name] = res["token_id"]
    return sups, tokens, dest["account"]


def run_mode(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    from web3 import Web3

    from chain_gateway.signer import dev_accounts
    from scf.deploy import deploy, dev_operator_key

    block_time = 1 if mode == "interval" else None
    chain = devchain.start(block_time=block_time, gas_limit=GAS_LIMIT)
    work = Path(tempfile.mkdtemp(prefix=f"bench_gateway_{mode}_"))
    gw_proc = None
    try:
        manifest = deploy(chain.url, dev_operator_key())
        manifest_path = work / "manifest.json"
        manifest.save(manifest_path)
        w3 = Web3(Web3.HTTPProvider(chain.url, request_kwargs={"timeout": 60}))
        extra = dict(kv.split("=", 1) for kv in args.gateway_env)  # the gateway's defaults otherwise
        gw_proc, url = start_gateway(chain.url, manifest_path, work, extra)
        accounts = {"lean": dev_accounts()[5], "ingest": dev_accounts()[6]}
        sups, tokens, dest = setup(url, w3, accounts)
        token = manifest.contracts["CertificateToken"]
        contract = w3.eth.contract(address=Web3.to_checksum_address(token.address), abi=token.abi)
        lean_addr = accounts["lean"].address
        gas = int(contract.functions.splitTransfer(tokens["lean"], dest, 1, h32()).estimate_gas({"from": lean_addr}))
        gas = int(gas * 1.25) + 20_000  # the gateway's margin (gas_multiplier, gas_extra)
        chain_id = w3.eth.chain_id
        # each client waits for its operation's confirmation (1-3 s on 1 s blocks), so the clients
        # bound the rate (<= clients / latency): 800 held it near 400/s; the lean client has a
        # whole round in flight at once
        clients = args.clients or (1600 if mode == "interval" else 64)
        # 1 s blocks: a round of 1,000 is 2-3 blocks for the lean client, so one block boundary more
        # or less moved its figure by a third; 3,000 spread it over 6+ blocks
        ops = args.ops or (3000 if mode == "interval" else 1000)

        def node_cpu(run: Any) -> Any:
            """`run`'s result with the node's CPU per operation (anvil's own cost of each side)."""
            def measured(n: int) -> dict[str, Any]:
                cpu = cpu_seconds(chain.process.pid)
                res: dict[str, Any] = run(n)
                res["node_cpu_ms_per_op"] = round(1000 * (cpu_seconds(chain.process.pid) - cpu) / n, 2)
                return res
            return measured

        @node_cpu
        def lean(n: int) -> dict[str, Any]:
            return asyncio.run(lean_run(chain.url, bytes(accounts["lean"].key), token.address, tokens["lean"], dest,
                                        n, gas, chain_id, args.batch))

        @node_cpu
        def gateway(n: int) -> dict[str, Any]:
            assert gw_proc is not None
            cpu = cpu_seconds(gw_proc.pid)
            gaps = batch_gaps(url)
            res = asyncio.run(gateway_run(url, sups["gw"]["api_key"], tokens["gw"], dest, n, clients))
            # the gateway process's CPU per operation; with `seconds` it tells busy from waiting
            res["gateway_cpu_ms_per_op"] = round(1000 * (cpu_seconds(gw_proc.pid) - cpu) / n, 2)
            res["batch_gaps"] = batch_gaps(url) - gaps  # batched sends the node fell short of
            return res

        @node_cpu
        def ingest(n: int) -> dict[str, Any]:
            return asyncio.run(ingest_run(chain.url, bytes(accounts["ingest"].key), token.address, tokens["ingest"],
                                          dest, n, gas, chain_id, args.batch))

        lean(args.warmup), gateway(args.warmup), ingest(args.warmup)  # unmeasured
        rounds: list[dict[str, Any]] = []
        for r in range(args.repeats):
            order = ["lean", "gateway", "ingest"] if r % 2 == 0 else ["gateway", "lean", "ingest"]
            res: dict[str, Any] = {"order": order}
            for side in order:
                res[side] = {"lean": lean, "gateway": gateway, "ingest": ingest}[side](ops)
                cpu, gaps = res[side].get("gateway_cpu_ms_per_op"), res[side].get("batch_gaps")
                print(f"[{mode}] round {r + 1} {side:8}: {res[side]['ops_per_s']:7.1f} ops/s "
                      f"({res[side]['blocks']} blocks, {res[side]['txs_per_block']} txs/block, "
                      f"{res[side]['failed']} failed, node CPU {res[side]['node_cpu_ms_per_op']} ms/op"
                      f"{f', gateway CPU {cpu} ms/op, batch gaps {gaps}' if cpu else ''})", flush=True)
            res["ratio"] = round(res["gateway"]["ops_per_s"] / res["lean"]["ops_per_s"], 3)
            rounds.append(res)
        out: dict[str, Any] = {"node": f"anvil, {'--block-time 1' if block_time else 'automine'}, "
                                       f"gas limit {GAS_LIMIT:,}", "clients": clients, "ops_per_round": ops}
        for side in ("gateway", "lean", "ingest"):
            out[side] = {
                "ops_per_s": spread([x[side]["ops_per_s"] for x in rounds]),
                "txs_per_block": spread([x[side]["txs_per_block"] for x in rounds]),
                "blocks": [x[side]["blocks"] for x in rounds],
                "failed": sum(x[side]["failed"] for x in rounds),
            }
        for side in ("gateway", "lean", "ingest"):
            out[side]["node_cpu_ms_per_op"] = spread([x[side]["node_cpu_ms_per_op"] for x in rounds])
        out["ingest"]["sent_per_s"] = spread([x["ingest"]["sent_per_s"] for x in rounds])
        out["gateway"]["latency_p95_ms"] = spread([x["gateway"]["latency_p95_ms"] for x in rounds])
        out["gateway"]["cpu_ms_per_op"] = spread([x["gateway"]["gateway_cpu_ms_per_op"] for x in rounds])
        out["gateway"]["batch_gaps"] = sum(x["gateway"]["batch_gaps"] for x in rounds)
        out["ratio"] = round(out["gateway"]["ops_per_s"]["median"] / out["lean"]["ops_per_s"]["median"], 3)
        out["ratio_per_round"] = spread([x["ratio"] for x in rounds])
        out["ratio_per_round"] = {k: (round(v, 3) if isinstance(v, float) else v)
                                  for k, v in out["ratio_per_round"].items()}
        out["ratio_per_round"]["runs"] = [x["ratio"] for x in rounds]
        out["rounds"] = rounds
        return out
    finally:
        if gw_proc is not None:
            stop_process(gw_proc)
        chain.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default="interval,automine", help="node modes: interval, automine")
    parser.add_argument("--ops", type=int, default=0,
                        help="split-and-transfers per side and round (0: 3000 on the interval node, 1000 on automine)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds (alternating order)")
    parser.add_argument("--clients", type=int, default=0,
                        help="concurrent HTTP clients of the gateway (0: 1600 on the interval node, 64 on automine)")
    parser.add_argument("--batch", type=int, default=100, help="JSON-RPC batch size of the lean client and ingest")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured operations per side first")
    parser.add_argument("--gateway-env", action="append", default=[], metavar="SCF_GATEWAY_X=VALUE",
                        help="a setting of the measured gateway (repeatable), e.g. SCF_GATEWAY_SEND_BATCH=false")
    parser.add_argument("--out", default=str(ROOT / "reports" / "bench_gateway.json"),
                        help="JSON results file ('-': do not write)")
    args = parser.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    result: dict[str, Any] = {
        "benchmark": "confirmed split-and-transfers per second: gateway HTTP API vs a lean batched client "
                     "(same signing) vs the node's batched ingest, same fresh node, same run",
        "command": "python -m scf.bench.gateway " + " ".join(argv if argv is not None else sys.argv[1:]),
        "store": "sqlite", "confirmations": 1, "repeats": args.repeats,
        "gateway_env": args.gateway_env,
        "targets": {"ratio_interval": 1.0, "gateway_ops_per_s": 400},
    }
    for mode in modes:
        r = result[mode] = run_mode(mode, args)
        print(f"[{mode}] gateway {r['gateway']['ops_per_s']} | lean {r['lean']['ops_per_s']} | "
              f"ingest {r['ingest']['ops_per_s']} | ratio {r['ratio']}", flush=True)
    if "interval" in result:
        r = result["interval"]
        result["ratio"] = r["ratio"]
        result["gateway_tps"] = r["gateway"]["ops_per_s"]["median"]
        result["lean_tps"] = r["lean"]["ops_per_s"]["median"]
        result["meets_ratio"] = r["ratio"] >= 1.0
        result["meets_400"] = r["gateway"]["ops_per_s"]["median"] >= 400
    if args.out != "-":
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1))
        print(f"written to {out}")
    failed = sum(result[m][s]["failed"] for m in modes for s in ("gateway", "lean", "ingest"))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
