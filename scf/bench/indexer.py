"""Indexer benchmark.

    python -m scf.bench.indexer [--events 60000] [--holdings 1000000] [--out reports/bench_indexer.json]

1. Backfill: a fresh dev chain (``SCF_RPC_URL``, or its own anvil) gets the platform deployed and a
   randomized lifecycle in bulk (``scf.bench.workload``: every kind of platform event, hundreds of
   members, a thousand certificates, splits, merges, whole transfers, financing offers accepted and
   cancelled, freezes, currency moves, suspension, pause, repayment, overdue, redemption and batch
   settlement) in blocks of ``--txs-per-block`` transactions. Then, in the same run, ``--repeats``
   rounds of: fetching the same logs without decoding or writing (eth_getLogs over the indexer's
   adaptive ranges: the baseline) and the full backfill (fetch overlapped with decode, handlers,
   bulk writes, aggregates, checkpoint) into SQLite and, when ``SCF_TEST_POSTGRES_URL`` names a
   server, PostgreSQL (throw-away databases). Reported: events/s as median with min-max, the ratio
   to fetch-only (target >= 0.8), events per block.
2. Auditor reports on a synthetic book of ``--holdings`` holdings generated in PostgreSQL with
   generate_series (one certificate with 10,000 holdings, with whole transfers and merges, the rest
   spread over 99-holding certificates; a financing deal on every tenth holding), its report
   aggregates computed from scratch (``indexer.aggregates.rebuild``), timed through the auditor API
   served by uvicorn in its own process over HTTP: p95 of every report (target <= 100 ms) and of the
   10,000-holding lineage (target <= 30 ms).
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


def build_workload(url: str, events: int, txs_per_block: int) -> tuple[Any, dict[str, Any]]:
    """Deploy, then a randomized lifecycle of about `events` events (`scf.bench.workload`)."""
    from scf.bench.workload import Workload
    from scf.deploy import deploy, dev_operator_key

    manifest = deploy(url, dev_operator_key())
    made = Workload(url, manifest).run(events, txs_per_block=txs_per_block)
    return manifest, made


def fetch_only(url: str, manifest: Any, batch_blocks: int) -> tuple[float, int]:
    from indexer.decode import Decoder
    from indexer.fetch import LogFetcher, connect
    from indexer.settings import Settings

    rpc = connect(url, 300)
    head = rpc.block_number()
    s = Settings()  # the follower's own range bounds and target, as the backfill uses them
    fetcher = LogFetcher(rpc, Decoder(manifest).addresses, start=batch_blocks, minimum=s.min_batch_blocks,
                         maximum=s.max_batch_blocks, target=s.target_logs_per_batch)
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

-- certificate 1: 10,000 holdings; certificates 2..: 99 holdings each; holdings of 1,000.00 (100,000 minor
-- units), one split in a thousand below the abnormal-splits threshold (50.00)
INSERT INTO certificate (id, debtor, payee, first_token_id, face_value, issued_at, maturity, status, document_hash,
                         repaid_value, redeemed_value, overdue_at, settled_at, issued_block, issued_tx, updated_block)
SELECT c, '0x' || lpad(to_hex(1 + c % 50), 40, '0'), '0x' || lpad(to_hex(61 + c % 5000), 40, '0'),
       CASE WHEN c = 1 THEN 1 ELSE 10000 + (c - 2) * 99 + 1 END,
       CASE WHEN c = 1 THEN 10000 * 100000 ELSE 99 * 100000 END,
       1700000000 + c * 6000, 1700000000 + c * 6000 + (30 + c % 300) * 86400,
       (ARRAY['active','active','active','overdue','settled','pending'])[1 + c % 6], '0x' || repeat('cd', 32),
       CASE WHEN c % 6 = 4 THEN 99 * 100000 ELSE 0 END, 0, NULL, NULL, c, '0x' || lpad(to_hex(c), 64, '0'), c
FROM generate_series(1, :certs) c;

-- a split every 15 minutes within a certificate
INSERT INTO holding (token_id, certificate_id, owner, value, initial_value, parent_token_id, tier, frozen, status,
                     document_hash, created_block, created_tx, created_at, updated_block)
SELECT t, cid, '0x' || lpad(to_hex(51 + (t * 7919) % 5010), 40, '0'), v, v,
       CASE WHEN k = 0 THEN 0 ELSE first + (k - 1) / 3 END,
       1 + floor(ln(1 + 2 * k) / ln(3))::int, false, 'live', '0x' || repeat('ef', 32), t,
       '0x' || lpad(to_hex(t), 64, '0'),
       1700000000 + cid * 6000 + k * 900, t
FROM (
  SELECT t,
         CASE WHEN t <= 10000 THEN 1 ELSE 2 + (t - 10001) / 99 END AS cid,
         CASE WHEN t <= 10000 THEN t - 1 ELSE (t - 10001) % 99 END AS k,
         CASE WHEN t <= 10000 THEN 1 ELSE 10001 + ((t - 10001) / 99) * 99 END AS first,
         CASE WHEN t % 1000 = 7 THEN 5000 ELSE 100000 END AS v
  FROM generate_series(1::bigint, :holdings) t
) s;

INSERT INTO holding_transfer (block_number, log_index, tx_hash, timestamp, kind, certificate_id, from_token_id,
                              to_token_id, from_owner, to_owner, value, tier)
SELECT h.token_id, 0, h.created_tx, h.created_at, CASE WHEN h.parent_token_id = 0 THEN 'mint' ELSE 'split' END,
       h.certificate_id, h.parent_token_id, h.token_id, '0x' || lpad('1', 40, '0'), h.owner, h.value, h.tier
FROM holding h;

-- a financing deal on every tenth holding (an accepted offer: direct, open or from a quote request,
-- a third each; every other one registered at the receivables registry; every third with recourse)
INSERT INTO financing_offer (offer_id, token_id, certificate_id, seller, factor, value, price, rate_bps,
                             days_to_maturity, expires_at, recourse, document_hash, status, created_block,
                             created_tx, created_at, closed_block, closed_tx, registration_ref, registered_at, kind,
                             invited, tier, quote_id)
SELECT h.token_id, h.parent_token_id, h.certificate_id, '0x' || lpad(to_hex(61 + (h.token_id / 10) % 5000), 40, '0'),
       '0x' || lpad(to_hex(51 + (h.token_id / 10) % 10), 40, '0'), h.value,
       h.value - h.value * (300 + h.token_id % 500) * 60 / 3600000, 300 + h.token_id % 500, 60,
       h.created_at + 86400, h.token_id % 30 = 0, '0x' || repeat('ef', 32), 'accepted', h.token_id - 1,
       h.created_tx, h.created_at - 600, h.token_id, h.created_tx,
       CASE WHEN h.token_id % 20 = 0 THEN 'REG-' || h.token_id END,
       CASE WHEN h.token_id % 20 = 0 THEN h.created_at + 86400 END,
       (ARRAY['direct','open','quote'])[1 + (h.token_id / 10) % 3], NULL, greatest(h.tier - 1, 1),
       CASE WHEN (h.token_id / 10) % 3 = 2 THEN h.token_id * 4 END
FROM holding h WHERE h.token_id % 10 = 0;

INSERT INTO financing_deal (block_number, log_index, tx_hash, timestamp, offer_id, certificate_id, token_id,
                            new_token_id, seller, factor, value, price, rate_bps, days_to_maturity, recourse)
SELECT h.token_id, 1, h.created_tx, h.created_at, h.token_id, h.certificate_id, h.parent_token_id, h.token_id,
       '0x' || lpad(to_hex(61 + (h.token_id / 10) % 5000), 40, '0'),
       '0x' || lpad(to_hex(51 + (h.token_id / 10) % 10), 40, '0'), h.value,
       h.value - h.value * (300 + h.token_id % 500) * 60 / 3600000, 300 + h.token_id % 500, 60, h.token_id % 30 = 0
FROM holding h WHERE h.token_id % 10 = 0;

-- open offers never taken (open, cancelled, expired) on every 20th holding (offset 5)
INSERT INTO financing_offer (offer_id, token_id, certificate_id, seller, factor, value, price, rate_bps,
                             days_to_maturity, expires_at, recourse, document_hash, status, created_block,
                             created_tx, created_at, kind, invited, tier)
SELECT 2000000000 + h.token_id, h.token_id, h.certificate_id, h.owner, '0x' || lpad('0', 40, '0'), h.value,
       h.value - h.value * 400 * 60 / 3600000, 400, 60,
       CASE WHEN h.token_id % 3 = 0 THEN 1700000000 ELSE 1900000000 END, false, '0x' || repeat('ef', 32),
       CASE WHEN h.token_id % 7 = 0 THEN 'cancelled' ELSE 'open' END, h.token_id, h.created_tx, h.created_at + 60,
       'open', CASE WHEN h.token_id % 2 = 0 THEN '0x' || lpad(to_hex(51), 40, '0') END, h.tier
FROM holding h WHERE h.token_id % 20 = 5;

-- quote requests: one per deal made from a quote (3 quotes each, the lowest accepted) and one open
-- request on every 50th holding (offset 3, 2 quotes)
INSERT INTO quote_request (request_id, token_id, certificate_id, tier, seller, value, deadline, recourse,
                           document_hash, status, quote_id, offer_id, created_block, created_tx, created_at)
SELECT o.offer_id, o.token_id, o.certificate_id, o.tier, o.seller, o.value, o.expires_at, o.recourse,
       o.document_hash, 'accepted', o.quote_id, o.offer_id, o.created_block, o.created_tx, o.created_at - 3600
FROM financing_offer o WHERE o.kind = 'quote';
INSERT INTO quote_request (request_id, token_id, certificate_id, tier, seller, value, deadline, recourse,
                           document_hash, status, quote_id, offer_id, created_block, created_tx, created_at)
SELECT 2000000000 + h.token_id, h.token_id, h.certificate_id, h.tier, h.owner, h.value,
       CASE WHEN h.token_id % 4 = 0 THEN 1700000000 ELSE 1900000000 END, false, '0x' || repeat('ef', 32),
       'open', NULL, NULL, h.token_id, h.created_tx, h.created_at + 120
FROM holding h WHERE h.token_id % 50 = 3;
INSERT INTO quote (quote_id, request_id, factor, rate_bps, price, days_to_maturity, status, created_block, created_tx,
                   created_at)
SELECT r.request_id * 4 + q, r.request_id, '0x' || lpad(to_hex(51 + q), 40, '0'), 300 + q * 25,
       r.value - r.value * (300 + q * 25) * 60 / 3600000, 60,
       CASE WHEN r.status = 'accepted' AND q = 0 THEN 'accepted' WHEN q = 2 THEN 'withdrawn' ELSE 'open' END,
       r.created_block, r.created_tx, r.created_at + 60 * (q + 1)
FROM quote_request r CROSS JOIN generate_series(0, 2) q;
UPDATE financing_offer SET quote_id = offer_id * 4 WHERE kind = 'quote';

-- early payments by the debtor on every 40th holding (offset 1): half via an offer, half a programme
INSERT INTO early_payment (block_number, log_index, tx_hash, timestamp, certificate_id, token_id, tier, holder, debtor,
                           value, price, rate_bps, days_early, offer_id, programme_id)
SELECT 5000000 + h.token_id, 0, '0x' || lpad(to_hex(5000000 + h.token_id), 64, '0'), h.created_at + 86400 * 10,
       h.certificate_id, h.token_id, h.tier, h.owner, c.debtor, h.value, h.value - h.value * 250 * 40 / 3600000,
       250, 40, CASE WHEN h.token_id % 80 = 1 THEN h.token_id ELSE 0 END,
       CASE WHEN h.token_id % 80 = 1 THEN 0 ELSE 1 + h.token_id % 50 END
FROM holding h JOIN certificate c ON c.id = h.certificate_id WHERE h.token_id % 40 = 1;

-- recourse exercised on a third of the deals with recourse, a half of those settled
INSERT INTO recourse_claim (offer_id, token_id, certificate_id, seller, factor, status, claimed_value, claimed_amount,
                            settled_value, settled_amount, exercised_block, exercised_tx, exercised_at,
                            settled_block, settled_tx, settled_at)
SELECT d.offer_id, d.new_token_id, d.certificate_id, d.seller, d.factor,
       CASE WHEN d.offer_id % 180 = 0 THEN 'settled' ELSE 'unpaid' END, d.value, d.price,
       CASE WHEN d.offer_id % 180 = 0 THEN d.value END, CASE WHEN d.offer_id % 180 = 0 THEN d.price END,
       6000000 + d.offer_id, '0x' || lpad(to_hex(6000000 + d.offer_id), 64, '0'), d.timestamp + 86400 * 90,
       CASE WHEN d.offer_id % 180 = 0 THEN 6100000 + d.offer_id END,
       CASE WHEN d.offer_id % 180 = 0 THEN '0x' || lpad(to_hex(6100000 + d.offer_id), 64, '0') END,
       CASE WHEN d.offer_id % 180 = 0 THEN d.timestamp + 86400 * 100 END
FROM financing_deal d WHERE d.recourse AND d.offer_id % 90 = 0;

-- an invoice per certificate, backed by it (settled certificates closed theirs); every 100th
-- certificate's invoice also backs the next one (two certificates on one invoice)
INSERT INTO invoice (key, amount, used, closed, closed_at, first_block, first_at, updated_block)
SELECT '0x' || lpad(to_hex(c.id), 64, '0'), c.face_value + CASE WHEN c.id % 100 = 0 THEN 99 * 100000 ELSE 0 END,
       c.face_value + CASE WHEN c.id % 100 = 0 THEN 99 * 100000 ELSE 0 END, c.status = 'settled',
       CASE WHEN c.status = 'settled' THEN c.maturity END, c.issued_block, c.issued_at, c.issued_block
FROM certificate c;
INSERT INTO invoice_event (block_number, log_index, tx_hash, timestamp, key, certificate_id, kind, amount, value, used)
SELECT c.issued_block, 5, c.issued_tx, c.issued_at, '0x' || lpad(to_hex(c.id - CASE WHEN c.id % 100 = 1 AND c.id > 1
       THEN 1 ELSE 0 END), 64, '0'), c.id, 'backed', c.face_value, c.face_value, c.face_value
FROM certificate c;

-- certificate 1: every 10th holding moved whole to another member an hour after its split (a lineage
-- 'transfer'), every 100th moved again half an hour later (a fast chain: split, transfer, transfer),
-- every 25th received value merged from its neighbour ('merge')
INSERT INTO holding_transfer (block_number, log_index, tx_hash, timestamp, kind, certificate_id, from_token_id,
                              to_token_id, from_owner, to_owner, value, tier)
SELECT 2000000 + h.token_id, 0, '0x' || lpad(to_hex(2000000 + h.token_id), 64, '0'), h.created_at + 3600, 'transfer',
       1, h.token_id, h.token_id, '0x' || lpad(to_hex(51 + (h.token_id * 31) % 5010), 40, '0'), h.owner, h.value, h.tier
FROM holding h WHERE h.certificate_id = 1 AND h.token_id % 10 = 0;

INSERT INTO holding_transfer (block_number, log_index, tx_hash, timestamp, kind, certificate_id, from_token_id,
                              to_token_id, from_owner, to_owner, value, tier)
SELECT 2500000 + h.token_id, 0, '0x' || lpad(to_hex(2500000 + h.token_id), 64, '0'), h.created_at + 5400, 'transfer',
       1, h.token_id, h.token_id, h.owner, '0x' || lpad(to_hex(51 + (h.token_id * 37) % 5010), 40, '0'), h.value,
       h.tier
FROM holding h WHERE h.certificate_id = 1 AND h.token_id % 100 = 0;

INSERT INTO holding_transfer (block_number, log_index, tx_hash, timestamp, kind, certificate_id, from_token_id,
                              to_token_id, from_owner, to_owner, value, tier)
SELECT 3000000 + h.token_id, 0, '0x' || lpad(to_hex(3000000 + h.token_id), 64, '0'), h.created_at + 7200, 'merge',
       1, h.token_id - 1, h.token_id, h.owner, h.owner, 1, h.tier
FROM holding h WHERE h.certificate_id = 1 AND h.token_id % 25 = 0;

INSERT INTO block (number, hash, timestamp) VALUES (4000000, '0x' || repeat('00', 32), 1770000000);
"""


def _p95(samples: list[float]) -> float:
    return round(statistics.quantiles(samples, n=20)[-1] if len(samples) >= 20 else max(samples), 2)


# every auditor route, with the parameters an auditor would use (the first page where the API pages)
REPORT_BUDGET_S = 30.0  # the most time one report is sampled for, once it has MIN_SAMPLES samples
MIN_SAMPLES = 5

REPORTS = {
    "lineage_10k": "/v1/certificates/1/lineage",
    "lineage_rows_10k": "/v1/certificates/1/lineage/rows?limit=1000",
    "exposure": "/v1/reports/exposure",
    "exposure_one_debtor": "/v1/reports/exposure?member=0x" + "0" * 38 + "02",
    "tiers": "/v1/reports/tiers",
    "tiers_one_debtor": "/v1/reports/tiers?member=0x" + "0" * 38 + "02",
    "concentration_by_holder": "/v1/reports/concentration?by=holder",
    "concentration_by_debtor": "/v1/reports/concentration?by=debtor",
    "financing": "/v1/reports/financing",
    "financing_one_factor": "/v1/reports/financing?factor=0x" + "0" * 38 + "33",
    "ageing": "/v1/reports/ageing",
    "market": "/v1/reports/market",
    "market_open": "/v1/reports/market?state=open",
    "rates_by_tier": "/v1/reports/rates?by=tier",
    "rates_by_factor": "/v1/reports/rates?by=factor",
    "early_payments": "/v1/reports/early-payments",
    "recourse": "/v1/reports/recourse",
    "invoices": "/v1/reports/invoices",
    "abnormal_splits": "/v1/reports/abnormal-splits",
    "deals": "/v1/reports/deals",
    "deals_unregistered": "/v1/reports/deals?registered=false",
    "regulator_certificates": "/v1/reports/regulator/certificates?limit=1000",
    "regulator_transfers": "/v1/reports/regulator/transfers?limit=1000",
    "regulator_deals": "/v1/reports/regulator/deals?limit=1000",
    "certificates": "/v1/certificates?limit=100",
    "members": "/v1/members?limit=100",
    "member_holdings": "/v1/members/0x" + "0" * 37 + "100/holdings?limit=100",
    "member_history": "/v1/members/0x" + "0" * 37 + "100/history?limit=100",
}


def serve_api(db_url: str, key: str, **settings: str) -> tuple[Any, str]:
    """The auditor API in its own uvicorn process on a free loopback port (`settings`: more
    SCF_INDEXER_* variables)."""
    import subprocess

    import httpx

    from scf import devchain
    from scf_core.apikeys import hash_key

    port = devchain.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCF_INDEXER_")}
    env.update(SCF_INDEXER_DATABASE_URL=db_url, SCF_INDEXER_AUDITOR_KEY_HASHES=hash_key(key),
               SCF_INDEXER_LOG_LEVEL="WARNING", SCF_LOG_LEVEL="WARNING", **settings)
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "indexer.api.main:create_app", "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        env=env, cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the auditor API did not start")


def generate_book(db_url: str, holdings: int) -> dict[str, Any]:
    """The synthetic book (`SYNTHETIC`) in a fresh database, its aggregates computed from scratch."""
    from indexer import aggregates
    from indexer.db import make_engine, upgrade

    upgrade(db_url)
    engine = make_engine(db_url)
    certs = 1 + max(0, (holdings - 10_000 + 98) // 99)
    start = time.perf_counter()
    with engine.begin() as conn:
        for stmt in SYNTHETIC.split(";\n"):
            if stmt.strip() and not stmt.strip().startswith("--") or "INSERT" in stmt:
                conn.execute(text(stmt), {"certs": certs, "holdings": holdings})
        aggregates.rebuild(conn)  # what the follower maintains, computed from scratch
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return {"holdings": holdings, "certificates": certs, "generate_s": round(time.perf_counter() - start, 1)}


BOOK_TABLES = ("holding", "holding_transfer", "financing_deal", "financing_offer", "quote_request", "quote",
               "early_payment", "recourse_claim", "invoice", "invoice_event", "agg_tier_receiver",
               "agg_holder_outstanding")


def query_latency(db_url: str, holdings: int, runs: int, generate: bool = True,
                  only: list[str] | None = None) -> dict[str, Any]:
    import httpx

    from indexer.db import make_engine

    out: dict[str, Any] = generate_book(db_url, holdings) if generate else {"holdings": holdings}
    engine = make_engine(db_url)
    with engine.connect() as conn:
        out["rows"] = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in BOOK_TABLES}
    engine.dispose()
    print(f"book: {out}", flush=True)
    key = "bench-" + uuid.uuid4().hex
    latencies: dict[str, dict[str, Any]] = {}
    proc, url = serve_api(db_url, key)
    try:
        with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=60) as client:
            body = client.get(REPORTS["lineage_10k"]).json()
            out["lineage_holdings"] = body["holdings"]
            out["lineage_transfers"] = sum(len(n["transfers"]) for n in _walk(body["tree"]))
            for name, path in REPORTS.items():
                if not only or name in only:
                    latencies[name] = _sample(client, name, path, runs)
    finally:
        proc.terminate()
        proc.wait(10)
    if not only or "lineage_10k" in only:
        # the lineage built on every request (no kept trees): what the first request after a
        # change of the certificate's holdings costs
        proc, url = serve_api(db_url, key, SCF_INDEXER_LINEAGE_CACHE_MIB="0")
        try:
            with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=60) as client:
                latencies["lineage_10k_built"] = _sample(client, "lineage_10k_built", REPORTS["lineage_10k"], runs)
        finally:
            proc.terminate()
            proc.wait(10)
        # the lineage after each change of one of its holdings (a whole transfer at a new block,
        # written as the indexer writes it, untimed): the kept tree patched
        proc, url = serve_api(db_url, key)
        try:
            with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=60) as client:
                latencies["lineage_10k_changed"] = _sample_changed(client, db_url, runs)
        finally:
            proc.terminate()
            proc.wait(10)
    out["reports"] = latencies
    if only:  # a partial run (--reports): no verdict
        return out
    out["lineage_p95_ms"] = latencies["lineage_10k"]["p95_ms"]
    out["lineage_built_p95_ms"] = latencies["lineage_10k_built"]["p95_ms"]
    out["lineage_changed_p95_ms"] = latencies["lineage_10k_changed"]["p95_ms"]
    out["worst_report"] = max((v["p95_ms"], k) for k, v in latencies.items() if not k.startswith("lineage_10k"))[1]
    out["worst_report_p95_ms"] = latencies[out["worst_report"]]["p95_ms"]
    print(f"worst report: {out['worst_report']} p95 {out['worst_report_p95_ms']} ms (target 100); "
          f"lineage of 10,000 holdings p95 {out['lineage_p95_ms']} ms (target 30; after each change: "
          f"{out['lineage_changed_p95_ms']} ms; built on every request: {out['lineage_built_p95_ms']} ms)", flush=True)
    return out


def _sample(client: Any, name: str, path: str, runs: int) -> dict[str, Any]:
    """p95 and median of `runs` calls of `path` after 3 warm-up calls (a report far over its target
    is sampled for REPORT_BUDGET_S at most: 50 calls of a 20 s report would hold the run 17 min)."""
    samples: list[float] = []
    started = time.monotonic()
    for i in range(runs + 3):
        if len(samples) >= MIN_SAMPLES and time.monotonic() - started > REPORT_BUDGET_S:
            break
        t0 = time.perf_counter()
        r = client.get(path)
        _ = r.content
        t1 = time.perf_counter()
        if r.status_code != 200:
            raise RuntimeError(f"{path}: {r.status_code} {r.text[:200]}")
        if i >= 3:  # warm-up
            samples.append((t1 - t0) * 1000)
    got = {"p95_ms": _p95(samples), "median_ms": round(statistics.median(samples), 2), "bytes": len(r.content),
           "samples": len(samples)}
    print(f"  {name:26} p95 {got['p95_ms']:8.1f} ms  median {got['median_ms']:8.1f} ms  ({len(r.content):,} bytes, "
          f"{len(samples)} samples)", flush=True)
    return got


def _sample_changed(client: Any, db_url: str, runs: int) -> dict[str, Any]:
    """p95 and median of `runs` lineage calls of certificate 1, each after one of its holdings moved
    whole to another member at a new block, stored as the indexer stores it (the holding, its new
    version closing the old one, the transfer, the block; not timed). The synthetic book has no
    versions: certificate 1's are written first (each holding's since its creation)."""
    from indexer.db import make_engine
    from indexer.models import VERSION_TABLES

    cols = ", ".join(c.name for c in VERSION_TABLES["holding"].columns if not c.name.startswith("valid_"))
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            if conn.execute(text("SELECT count(*) FROM holding_version WHERE certificate_id = 1")).scalar_one() == 0:
                conn.execute(text(f"INSERT INTO holding_version ({cols}, valid_from_block, valid_to_block) "
                                  f"SELECT {cols}, created_block, NULL FROM holding WHERE certificate_id = 1"))
            first = conn.execute(text("SELECT COALESCE(MAX(number), 0) + 1 FROM block")).scalar_one()
            tokens = conn.execute(text("SELECT token_id FROM holding WHERE certificate_id = 1 AND status = 'live' "
                                       "ORDER BY token_id % 97, token_id LIMIT :n"), {"n": runs + 3}).scalars().all()
        samples: list[float] = []
        body = b""
        for i, token in enumerate(tokens):
            block = first + i
            with engine.begin() as conn:
                p = {"t": token, "b": block, "h": "0x" + f"{block:064x}", "ts": 1_800_000_000 + block,
                     "tx": "0x" + f"{block + 7 * 10**9:064x}", "to": "0x" + f"{51 + i % 5000:040x}"}
                conn.execute(text("INSERT INTO block (number, hash, timestamp) VALUES (:b, :h, :ts)"), p)
                conn.execute(text("INSERT INTO holding_transfer (block_number, log_index, tx_hash, timestamp, kind, "
                                  "certificate_id, from_token_id, to_token_id, from_owner, to_owner, value, tier) "
                                  "SELECT :b, 0, :tx, :ts, 'transfer', certificate_id, token_id, token_id, owner, :to, "
                                  "value, tier FROM holding WHERE token_id = :t"), p)
                conn.execute(text("UPDATE holding SET owner = :to WHERE token_id = :t"), p)
                conn.execute(text("UPDATE holding_version SET valid_to_block = :b WHERE token_id = :t "
                                  "AND valid_to_block IS NULL"), p)
                conn.execute(text(f"INSERT INTO holding_version ({cols}, valid_from_block, valid_to_block) "
                                  f"SELECT {cols}, :b, NULL FROM holding WHERE token_id = :t"), p)
            t0 = time.perf_counter()
            r = client.get(REPORTS["lineage_10k"])
            body = r.content
            t1 = time.perf_counter()
            if r.status_code != 200 or f'"to":"{p["to"]}","tx_hash":"{p["tx"]}"'.encode() not in body:
                raise RuntimeError(f"lineage after a change: {r.status_code} (or the change is missing)")
            if i >= 3:  # warm-up (the first builds the tree)
                samples.append((t1 - t0) * 1000)
    finally:
        engine.dispose()
    got = {"p95_ms": _p95(samples), "median_ms": round(statistics.median(samples), 2), "bytes": len(body),
           "samples": len(samples)}
    print(f"  {'lineage_10k_changed':26} p95 {got['p95_ms']:8.1f} ms  median {got['median_ms']:8.1f} ms  "
          f"({len(body):,} bytes, {len(samples)} samples)", flush=True)
    return got


def _walk(tree: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out, stack = [], list(tree)
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node["children"])
    return out


# --- main ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=60_000, help="chain events of the lifecycle to backfill")
    parser.add_argument("--txs-per-block", type=int, default=200)
    parser.add_argument("--batch-blocks", type=int, default=1,
                        help="initial eth_getLogs range (the fetcher adapts it to ~2,000 logs)")
    parser.add_argument("--reorg-window", type=int, default=16, help="journaled blocks behind the head")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of fetch-only and backfills")
    parser.add_argument("--holdings", type=int, default=1_000_000, help="synthetic holdings for the query figures")
    parser.add_argument("--runs", type=int, default=50, help="repetitions of each report (p95)")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench_indexer.json")
    parser.add_argument("--no-out", action="store_true", help="print only")
    parser.add_argument("--queries-only", action="store_true", help="only the auditor queries (no chain, no backfill)")
    parser.add_argument("--no-queries", action="store_true", help="only the backfill")
    parser.add_argument("--book", metavar="URL",
                        help="with --queries-only: time the book already in this database (made by --make-book)")
    parser.add_argument("--make-book", metavar="URL", help="only generate the synthetic book into this empty database")
    parser.add_argument("--reports", help="with --book: only these reports (comma separated names of REPORTS)")
    args = parser.parse_args(argv)
    if args.make_book:
        print(json.dumps(generate_book(args.make_book, args.holdings)))
        return 0
    if args.queries_only and args.book:
        only = args.reports.split(",") if args.reports else None
        print(json.dumps(query_latency(args.book, args.holdings, args.runs, generate=False, only=only), indent=1))
        return 0
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
        chain = devchain.start(gas_limit=1_000_000_000)  # blocks of --txs-per-block transactions
        url = chain.url
    result: dict[str, Any] = {"command": "python -m scf.bench.indexer " + " ".join(argv or sys.argv[1:])}
    admin = pg_admin_url()
    try:
        t0 = time.perf_counter()
        manifest, made = build_workload(url, args.events, args.txs_per_block)
        result["workload"] = made
        print(f"workload: {made['events']} events in {made['blocks_with_events']} blocks "
              f"({made['events_per_block']} events/block, {made['transactions']} txs) "
              f"in {time.perf_counter() - t0:.1f} s", flush=True)
        runs: dict[str, list[float]] = {"fetch_only": [], "sqlite": [], "postgres": []}
        for r in range(args.repeats):
            fetch_s, logs = fetch_only(url, manifest, args.batch_blocks)
            runs["fetch_only"].append(logs / fetch_s)
            with tempfile.TemporaryDirectory() as tmp:
                sqlite = backfill(url, manifest, f"sqlite:///{tmp}/bench.db", args.batch_blocks, args.reorg_window)
            runs["sqlite"].append(sqlite["events_per_s"])
            line = (f"round {r + 1}: fetch only {logs / fetch_s:,.0f} logs/s; SQLite {sqlite['events_per_s']:,.0f} "
                    f"events/s")
            if admin:
                with pg_database(admin) as db_url:
                    pg = backfill(url, manifest, db_url, args.batch_blocks, args.reorg_window)
                runs["postgres"].append(pg["events_per_s"])
                line += f"; PostgreSQL {pg['events_per_s']:,.0f} events/s"
            print(line, flush=True)
        result["logs"] = logs
        result["events"] = sqlite["events"]
        fetch = statistics.median(runs["fetch_only"])
        result["fetch_only_events_per_s"] = spread(runs["fetch_only"])
        for backend in ("sqlite", "postgres"):
            if runs[backend]:
                result[f"{backend}_events_per_s"] = spread(runs[backend])
                result[f"{backend}_vs_fetch"] = round(statistics.median(runs[backend]) / fetch, 3)
                result[f"{backend}_vs_fetch_per_round"] = [round(b / f, 3) for b, f in
                                                           zip(runs[backend], runs["fetch_only"], strict=True)]
        result["backfill_events_per_s"] = result["sqlite_events_per_s"]["median"]
        if runs["postgres"]:
            result["postgres_backfill_events_per_s"] = result["postgres_events_per_s"]["median"]
        if admin and not args.no_queries:
            with pg_database(admin) as db_url:
                q = query_latency(db_url, args.holdings, args.runs)
            result["queries"] = q
            result["lineage_p95_ms"] = q["lineage_p95_ms"]
            result["lineage_built_p95_ms"] = q["lineage_built_p95_ms"]
            result["lineage_changed_p95_ms"] = q["lineage_changed_p95_ms"]
            result["worst_report_p95_ms"] = q["worst_report_p95_ms"]
            result["worst_report"] = q["worst_report"]
    finally:
        if chain is not None:
            chain.stop()
    result["targets"] = {"backfill_vs_fetch": 0.8, "report_p95_ms": 100, "lineage_p95_ms": 30}
    if not args.no_out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
        print(f"-> {args.out}")
    return 0


def spread(values: list[float]) -> dict[str, Any]:
    """Median with min-max of the rounds."""
    return {"median": round(statistics.median(values), 1), "min": round(min(values), 1),
            "max": round(max(values), 1), "runs": [round(v, 1) for v in values]}


if __name__ == "__main__":
    sys.exit(main())
