"""Indexer benchmark.

    python -m scf.bench.indexer [--events 100000] [--holdings 1000000] [--out reports/bench_indexer.json]

1. Backfill: a dev chain (``SCF_RPC_URL``, or a fresh anvil) gets the platform deployed and a book
   of real split-and-transfers (4 events each: Transfer, SlotChanged, HoldingCreated,
   TransferValue) sent in blocks of ``--txs-per-block``. Then, in the same run: the time to fetch
   the same logs without decoding or writing (eth_getLogs over the indexer's adaptive ranges), and
   the full backfill (fetch, decode, handlers, bulk writes, checkpoint) into SQLite and, when
   ``SCF_TEST_POSTGRES_URL`` names a server, PostgreSQL (a throw-away database).
2. Auditor queries on a synthetic book of ``--holdings`` holdings generated in PostgreSQL with
   generate_series (one certificate with 10,000 holdings, the rest spread over 99-holding
   certificates): lineage of the 10,000-holding certificate (p95 over repeated runs) and the
   exposure report. Targets: >= 20,000 events/s; lineage p95 <= 50 ms; exposure <= 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from scf_core.paths import ROOT

PG_ENV = "SCF_TEST_POSTGRES_URL"


# --- chain workload ----------------------------------------------------------------------------


def build_workload(url: str, events: int, txs_per_block: int) -> tuple[Any, int]:
    """Deploy, onboard, issue one certificate and split it `events / 4` times; returns (manifest, splits)."""
    from web3 import Web3

    from scf.deploy import deploy, dev_operator_key
    from scf_core.rpc import Rpc

    manifest = deploy(url, dev_operator_key())
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 120}))
    accts = list(w3.eth.accounts)
    operator, core, suppliers = accts[0], accts[1], accts[2:8]
    m = manifest.contract(w3, "Membership")
    token = manifest.contract(w3, "CertificateToken")

    def send(fn: Any, sender: str) -> None:
        receipt = w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender, "gasPrice": 0}))
        assert receipt["status"] == 1

    send(m.functions.onboard(core, 1, b"\x01" * 32), operator)
    send(m.functions.setCreditLimit(core, 10**15), operator)
    for s in suppliers:
        send(m.functions.onboard(s, 2, b"\x02" * 32), operator)
    maturity = w3.eth.get_block("latest")["timestamp"] + 300 * 86_400
    send(token.functions.issue(suppliers[0], 10**12, maturity, b"\x03" * 32), core)
    send(token.functions.accept(1), suppliers[0])
    splits = max(1, events // 4)
    datas = [token.functions.splitTransfer(1, to, 1, b"\x04" * 32)._encode_transaction_data() for to in suppliers[1:]]
    node = Rpc(url, 300)
    node.call("evm_setAutomine", False)
    sent = 0
    nonce = int(node.call("eth_getTransactionCount", suppliers[0], "latest"), 16)
    while sent < splits:
        n = min(txs_per_block, splits - sent)
        txs = [
            {
                "from": suppliers[0],
                "to": token.address,
                "data": datas[(sent + i) % len(datas)],
                "gas": hex(400_000),
                "gasPrice": "0x0",
                "nonce": hex(nonce + sent + i),
            }
            for i in range(n)
        ]
        node.batch([("eth_sendTransaction", [tx]) for tx in txs], chunk=n)  # raises the first error
        node.call("evm_mine")
        sent += n
    node.call("evm_setAutomine", True)
    node.close()
    return manifest, splits


def fetch_only(url: str, manifest: Any, batch_blocks: int) -> tuple[float, int]:
    from indexer.decode import Decoder
    from indexer.fetch import LogFetcher, connect

    rpc = connect(url, 300)
    head = rpc.block_number()
    fetcher = LogFetcher(rpc, Decoder(manifest).addresses, start=batch_blocks)
    start = time.perf_counter()
    n = sum(len(logs) for logs in fetcher.fetch_all(manifest.deployment_block, head))
    elapsed = time.perf_counter() - start
    rpc.close()
    return elapsed, n


def backfill(url: str, manifest: Any, db_url: str, batch_blocks: int, reorg_window: int) -> dict[str, Any]:
    from indexer.db import upgrade
    from indexer.pipeline import Indexer
    from indexer.settings import Settings

    upgrade(db_url)  # schema creation is not part of the backfill time
    ix = Indexer(
        Settings(rpc_url=url, database_url=db_url, batch_blocks=batch_blocks, reorg_window=reorg_window, migrate=False),
        manifest=manifest,
    )
    start = time.perf_counter()
    events = ix.sync()
    elapsed = time.perf_counter() - start
    ix.close()
    return {"events": events, "seconds": round(elapsed, 3), "events_per_s": round(events / elapsed, 1)}


@contextmanager
def pg_database(admin_url: str):  # type: ignore[no-untyped-def]
    name = f"scf_ix_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def pg_admin_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url:
        print(f"PostgreSQL: {PG_ENV} not set; skipping the PostgreSQL figures", flush=True)
        return None
    try:
        eng = create_engine(url)
        with eng.connect() as conn:
            conn.execute(text("select 1"))
        eng.dispose()
    except Exception as exc:
        print(f"PostgreSQL unreachable ({exc.__class__.__name__}); skipping the PostgreSQL figures", flush=True)
        return None
    return url


# --- synthetic book for the auditor queries ---------------------------------------------------

SYNTHETIC = """
INSERT INTO member (address, role, active, kyc_hash, onboarded_block, onboarded_at, updated_block)
SELECT '0x' || lpad(to_hex(i), 40, '0'), CASE WHEN i <= 50 THEN 'core_enterprise' WHEN i <= 60 THEN 'factor'
       ELSE 'supplier' END, true, '0x' || repeat('ab', 32), 1, 1700000000, 1
FROM generate_series(1, 5060) i;

-- certificate 1: 10,000 holdings; certificates 2..: 99 holdings each
INSERT INTO certificate (id, debtor, payee, first_token_id, face_value, issued_at, maturity, status, document_hash,
                         repaid_value, redeemed_value, overdue_at, settled_at, issued_block, issued_tx, updated_block)
SELECT c, '0x' || lpad(to_hex(1 + c % 50), 40, '0'), '0x' || lpad(to_hex(61 + c % 5000), 40, '0'),
       CASE WHEN c = 1 THEN 1 ELSE 10000 + (c - 2) * 99 + 1 END,
       CASE WHEN c = 1 THEN 10000 * 1000 ELSE 99 * 1000 END,
       1700000000 + c * 60, 1700000000 + c * 60 + (30 + c % 300) * 86400,
       (ARRAY['active','active','active','overdue','settled','pending'])[1 + c % 6], '0x' || repeat('cd', 32),
       CASE WHEN c % 6 = 4 THEN 99 * 1000 ELSE 0 END, 0, NULL, NULL, c, '0x' || lpad(to_hex(c), 64, '0'), c
FROM generate_series(1, :certs) c;

INSERT INTO holding (token_id, certificate_id, owner, value, initial_value, parent_token_id, tier, frozen, status,
                     document_hash, created_block, created_tx, created_at, updated_block)
SELECT t, cid, '0x' || lpad(to_hex(51 + (t * 7919) % 5010), 40, '0'), 1000, 1000,
       CASE WHEN k = 0 THEN 0 ELSE first + (k - 1) / 3 END,
       1 + floor(ln(1 + 2 * k) / ln(3))::int, false, 'live', '0x' || repeat('ef', 32), t,
       '0x' || lpad(to_hex(t), 64, '0'),
       1700000000 + t, t
FROM (
  SELECT t,
         CASE WHEN t <= 10000 THEN 1 ELSE 2 + (t - 10001) / 99 END AS cid,
         CASE WHEN t <= 10000 THEN t - 1 ELSE (t - 10001) % 99 END AS k,
         CASE WHEN t <= 10000 THEN 1 ELSE 10001 + ((t - 10001) / 99) * 99 END AS first
  FROM generate_series(1::bigint, :holdings) t
) s;

INSERT INTO holding_transfer (block_number, log_index, tx_hash, timestamp, kind, certificate_id, from_token_id,
                              to_token_id, from_owner, to_owner, value, tier)
SELECT h.token_id, 0, h.created_tx, h.created_at, CASE WHEN h.parent_token_id = 0 THEN 'mint' ELSE 'split' END,
       h.certificate_id, h.parent_token_id, h.token_id, '0x' || lpad('1', 40, '0'), h.owner, h.value, h.tier
FROM holding h;

INSERT INTO financing_deal (block_number, log_index, tx_hash, timestamp, offer_id, certificate_id, token_id,
                            new_token_id, seller, factor, value, price, rate_bps, days_to_maturity, recourse)
SELECT h.token_id, 1, h.created_tx, h.created_at, h.token_id, h.certificate_id, h.parent_token_id, h.token_id,
       '0x' || lpad('1', 40, '0'), '0x' || lpad(to_hex(51 + h.token_id % 10), 40, '0'), h.value,
       h.value - h.value * (300 + h.token_id % 500) * 60 / 3600000, 300 + h.token_id % 500, 60, false
FROM holding h WHERE h.token_id % 10 = 0;
"""


def _p95(samples: list[float]) -> float:
    return round(statistics.quantiles(samples, n=20)[-1] if len(samples) >= 20 else max(samples), 2)


def query_latency(db_url: str, holdings: int, runs: int) -> dict[str, Any]:
    from indexer import reports
    from indexer.db import make_engine, upgrade

    upgrade(db_url)
    engine = make_engine(db_url)
    certs = 1 + max(0, (holdings - 10_000 + 98) // 99)
    start = time.perf_counter()
    with engine.begin() as conn:
        for stmt in SYNTHETIC.split(";\n"):
            if stmt.strip() and not stmt.strip().startswith("--") or "INSERT" in stmt:
                conn.execute(text(stmt), {"certs": certs, "holdings": holdings})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    generated = time.perf_counter() - start
    out: dict[str, Any] = {"holdings": holdings, "certificates": certs, "generate_s": round(generated, 1)}
    from fastapi.testclient import TestClient

    from indexer.api.main import create_app
    from indexer.settings import Settings
    from scf_core.apikeys import hash_key

    # the API as an auditor gets it: routing, auth, query, tree, JSON encoding, response body
    app = create_app(Settings(database_url=db_url, auditor_key_hashes=hash_key("bench")))  # gc.freeze()s
    # entered once, as a server keeps its event loop (a bare TestClient starts a thread per request)
    client = TestClient(app, headers={"X-API-Key": "bench"}).__enter__()
    timings: dict[str, list[float]] = {
        "lineage": [],
        "lineage_api": [],
        "exposure": [],
        "concentration_holder": [],
        "tiers": [],
    }
    with engine.connect() as conn:
        size = reports.lineage(conn, 1)
        assert size is not None
        out["lineage_holdings"] = size["holdings"]
        for i in range(runs + 3):
            t0 = time.perf_counter()
            reports.lineage(conn, 1)
            t1 = time.perf_counter()
            if i >= 3:  # warm-up
                timings["lineage"].append((t1 - t0) * 1000)
        for i in range(runs + 3):
            t0 = time.perf_counter()
            resp = client.get("/v1/certificates/1/lineage")
            body = resp.content
            t1 = time.perf_counter()
            assert resp.status_code == 200, resp.text[:200]
            if i >= 3:
                timings["lineage_api"].append((t1 - t0) * 1000)
        out["lineage_api_bytes"] = len(body)
        assert json.loads(body)["holdings"] == size["holdings"]
        for i in range(max(5, runs // 4) + 1):
            t0 = time.perf_counter()
            reports.exposure(conn)
            t1 = time.perf_counter()
            reports.concentration(conn, by="holder")
            t2 = time.perf_counter()
            reports.tiers(conn)
            t3 = time.perf_counter()
            if i:
                timings["exposure"].append((t1 - t0) * 1000)
                timings["concentration_holder"].append((t2 - t1) * 1000)
                timings["tiers"].append((t3 - t2) * 1000)
    client.__exit__(None, None, None)
    app.state.engine.dispose()
    engine.dispose()
    out["lineage_p95_ms"] = _p95(timings["lineage"])
    out["lineage_median_ms"] = round(statistics.median(timings["lineage"]), 2)
    out["lineage_api_p95_ms"] = _p95(timings["lineage_api"])
    out["lineage_api_median_ms"] = round(statistics.median(timings["lineage_api"]), 2)
    out["exposure_ms"] = round(statistics.median(timings["exposure"]), 2)
    out["exposure_p95_ms"] = _p95(timings["exposure"])
    out["concentration_by_holder_ms"] = round(statistics.median(timings["concentration_holder"]), 2)
    out["tiers_ms"] = round(statistics.median(timings["tiers"]), 2)
    return out


# --- main ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000, help="chain events to backfill (4 per split)")
    parser.add_argument("--txs-per-block", type=int, default=250)
    parser.add_argument("--batch-blocks", type=int, default=50, help="initial eth_getLogs range")
    parser.add_argument("--reorg-window", type=int, default=16, help="journaled blocks behind the head")
    parser.add_argument("--holdings", type=int, default=1_000_000, help="synthetic holdings for the query figures")
    parser.add_argument("--runs", type=int, default=50, help="lineage repetitions (p95)")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench_indexer.json")
    parser.add_argument("--no-out", action="store_true", help="print only")
    parser.add_argument("--queries-only", action="store_true", help="only the auditor queries (no chain, no backfill)")
    args = parser.parse_args(argv)
    if args.queries_only:
        admin = pg_admin_url()
        if not admin:
            return 1
        with pg_database(admin) as db_url:
            q = query_latency(db_url, args.holdings, args.runs)
        print(json.dumps(q, indent=1))
        return 0

    from scf import devchain

    chain = None
    url = os.environ.get("SCF_RPC_URL")
    if not url or not devchain.port_open(int(url.rsplit(":", 1)[1])):
        chain = devchain.start()
        url = chain.url
    result: dict[str, Any] = {"command": "python -m scf.bench.indexer " + " ".join(argv or sys.argv[1:])}
    try:
        t0 = time.perf_counter()
        manifest, splits = build_workload(url, args.events, args.txs_per_block)
        print(f"workload: {splits} split-and-transfers in {time.perf_counter() - t0:.1f} s", flush=True)
        fetch_s, logs = fetch_only(url, manifest, args.batch_blocks)
        result["logs"] = logs
        result["fetch_only_seconds"] = round(fetch_s, 3)
        result["fetch_only_events_per_s"] = round(logs / fetch_s, 1)
        print(f"fetch only: {logs} logs in {fetch_s:.2f} s ({logs / fetch_s:,.0f}/s)", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            sqlite = backfill(url, manifest, f"sqlite:///{tmp}/bench.db", args.batch_blocks, args.reorg_window)
        result["sqlite"] = sqlite
        result["backfill_events_per_s"] = sqlite["events_per_s"]
        result["sqlite_vs_fetch_time"] = round(sqlite["seconds"] / fetch_s, 2)
        print(
            f"backfill SQLite: {sqlite['events']} events in {sqlite['seconds']} s "
            f"({sqlite['events_per_s']:,.0f} events/s; {result['sqlite_vs_fetch_time']}x the fetch time)",
            flush=True,
        )
        admin = pg_admin_url()
        if admin:
            with pg_database(admin) as db_url:
                pg = backfill(url, manifest, db_url, args.batch_blocks, args.reorg_window)
            result["postgres"] = pg
            result["postgres_events_per_s"] = pg["events_per_s"]
            result["postgres_vs_fetch_time"] = round(pg["seconds"] / fetch_s, 2)
            print(
                f"backfill PostgreSQL: {pg['events']} events in {pg['seconds']} s "
                f"({pg['events_per_s']:,.0f} events/s; {result['postgres_vs_fetch_time']}x the fetch time)",
                flush=True,
            )
            with pg_database(admin) as db_url:
                q = query_latency(db_url, args.holdings, args.runs)
            result["queries"] = q
            result["lineage_p95_ms"] = q["lineage_api_p95_ms"]  # the target: as an auditor gets it
            result["lineage_in_process_p95_ms"] = q["lineage_p95_ms"]
            result["exposure_ms"] = q["exposure_ms"]
            print(
                f"queries on {q['holdings']:,} holdings (generated in {q['generate_s']} s): lineage of "
                f"{q['lineage_holdings']:,} holdings through the API p95 {q['lineage_api_p95_ms']} ms "
                f"(median {q['lineage_api_median_ms']} ms, {q['lineage_api_bytes']:,} bytes), in-process p95 "
                f"{q['lineage_p95_ms']} ms (median {q['lineage_median_ms']} ms); exposure {q['exposure_ms']} ms; "
                f"concentration by holder {q['concentration_by_holder_ms']} ms; tiers {q['tiers_ms']} ms",
                flush=True,
            )
    finally:
        if chain is not None:
            chain.stop()
    result["targets"] = {"backfill_events_per_s": 20_000, "lineage_p95_ms": 50, "exposure_ms": 1000}
    if not args.no_out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
        print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
