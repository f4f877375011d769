"""Soak: steady load through the gateway and the indexer for a while; latency percentiles over
time, memory growth, and nothing lost at the end.

    .venv/bin/python -m scf.bench.soak --minutes 10 [--rate 100] [--sample 30] [--out reports/bench_soak.json]
    .venv/bin/scf bench --soak 10

A fresh anvil mining a block every second (as QBFT does; block gas limit 1e9), the platform
deployed, the gateway (uvicorn, SQLite store) and the indexer follower (``python -m indexer run``,
SQLite) as real processes. An open-loop load of ``--rate`` split-and-transfers a second is posted
to the gateway's HTTP API (``?wait=true``, one request started every 1/rate s whatever the previous
ones do) for ``--minutes``. Every ``--sample`` seconds: the window's latency p50/p95/p99 and
throughput, the resident memory of the gateway and of the indexer, the indexer's lag behind the
head. At the end, once every request has its answer and the indexer has caught up: every stored
operation confirmed, and the indexer holds exactly one split per confirmed operation (nothing lost,
nothing doubled); memory growth from the first sample to the last. Every request not answered
``confirmed`` is recorded (HTTP status, error code and message; summarised under ``failures``). A
request refused with an error answer before anything was stored created no operation: it is counted
as ``refused_before_storing``, not as lost (``all_confirmed`` says whether every request was).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from scf import devchain
from scf.bench.gateway import GAS_LIMIT, h32, setup, start_gateway, stop_process
from scf_core.paths import ROOT


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process (MB), from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return round(sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))], 1)


def failure_summary(failures: list[dict[str, Any]]) -> dict[str, Any]:
    """Requests not answered ``confirmed``, counted by HTTP status and error code (or, for a 202, the
    operation's state when the server's wait ended), the first ten in full."""
    by: dict[str, int] = {}
    for f in failures:
        label = f"{f.get('status')} {f.get('code') or f.get('state')}"  # e.g. "503 NODE_UNAVAILABLE", "202 submitted"
        by[label] = by.get(label, 0) + 1
    return {"count": len(failures), "by_status_and_code": by, "first": failures[:10]}


def window_stats(done: list[tuple[float, float, bool]], since: float, until: float) -> dict[str, Any]:
    """Requests answered in [since, until): count, failures, throughput, latency percentiles (ms)."""
    mine = [(lat, ok) for end, lat, ok in done if since <= end < until]
    lats = sorted(1000 * lat for lat, _ in mine)
    return {"answered": len(mine), "failed": sum(not ok for _, ok in mine),
            "ops_per_s": round(sum(ok for _, ok in mine) / max(1e-9, until - since), 1),
            "p50_ms": percentile(lats, 0.50), "p95_ms": percentile(lats, 0.95), "p99_ms": percentile(lats, 0.99)}


def indexed_block(db: Path) -> int:
    import sqlite3

    try:
        with sqlite3.connect(db) as conn:
            row = conn.execute("SELECT block_number FROM checkpoint WHERE id = 1").fetchone()
    except sqlite3.Error:
        return -1
    return -1 if row is None else int(row[0])


def indexed_splits(db: Path, token_id: int) -> int:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return int(conn.execute(
            "SELECT count(*) FROM holding_transfer WHERE kind = 'split' AND from_token_id = ?", (token_id,)
        ).fetchone()[0])


def operation_states(db: Path, kind: str) -> dict[str, int]:
    """The gateway store's operations of one kind, by state."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        return {s: n for s, n in conn.execute(
            "SELECT state, count(*) FROM gw_operation WHERE kind = ? GROUP BY state", (kind,)
        )}


async def load(url: str, key: str, token_id: int, to: str, rate: float, seconds: float, sample_s: float,
               sampler: Any, failures: list[dict[str, Any]]) -> tuple[list[tuple[float, float, bool]], int]:
    """Open loop: one request every 1/rate s for `seconds`; (answer time, latency, ok) of each; every
    answer that is not ``confirmed`` is recorded in `failures` (status, error code and message, or the
    operation's state, or the client's exception)."""
    done: list[tuple[float, float, bool]] = []
    target = f"{url}/v1/holdings/{token_id}/split-transfer?wait=true"
    connector = aiohttp.TCPConnector(limit=4000)
    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as session:

        async def one() -> None:
            body = {"to": to, "value": 1, "document_hash": "0x" + h32().hex()}
            t = time.perf_counter()
            ok = False
            failure: dict[str, Any] = {}
            try:
                async with session.post(target, json=body, headers={"X-API-Key": key}) as r:
                    text = await r.text()
                    try:
                        data = json.loads(text)
                    except ValueError:
                        data = None
                    ok = r.status == 200 and isinstance(data, dict) and data.get("state") == "confirmed"
                    if not ok:
                        d = data if isinstance(data, dict) else {}
                        failure = {"status": r.status, "code": d.get("code"), "message": d.get("message"),
                                   "details": d.get("details"), "state": d.get("state"), "operation_id": d.get("id"),
                                   "operation_error": d.get("error"), "body": None if d else text[:300]}
            except (aiohttp.ClientError, TimeoutError) as exc:
                failure = {"status": None, "code": type(exc).__name__, "message": str(exc)[:300]}
            end = time.perf_counter()
            if failure:
                failures.append({"t_s": round(end - start, 3), "latency_ms": round(1000 * (end - t), 1), **failure})
            done.append((end, end - t, ok))

        next_sample = start + sample_s
        sent = 0
        while (now := time.perf_counter()) - start < seconds:
            due = int((now - start) * rate) + 1
            while sent < due:
                tasks.append(asyncio.create_task(one()))
                sent += 1
            if now >= next_sample:
                sampler(done, next_sample - sample_s, next_sample)
                next_sample += sample_s
            await asyncio.sleep(min(0.01, 1 / rate))
        await asyncio.gather(*tasks)
        sampler(done, next_sample - sample_s, time.perf_counter())
    return done, sent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=100.0, help="split-and-transfers started per second")
    parser.add_argument("--sample", type=float, default=30.0, help="seconds per sample")
    parser.add_argument("--out", default=str(ROOT / "reports" / "bench_soak.json"))
    args = parser.parse_args(argv)

    from web3 import Web3

    from scf.deploy import deploy, dev_operator_key

    chain = devchain.start(block_time=1, gas_limit=GAS_LIMIT)
    work = Path(tempfile.mkdtemp(prefix="bench_soak_"))
    gw_proc = ix_proc = None
    samples: list[dict[str, Any]] = []
    try:
        manifest = deploy(chain.url, dev_operator_key())
        manifest_path = work / "manifest.json"
        manifest.save(manifest_path)
        gw_proc, url = start_gateway(chain.url, manifest_path, work)
        ix_db = work / "indexer.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCF_INDEXER_")}
        env.update(SCF_INDEXER_RPC_URL=chain.url, SCF_INDEXER_MANIFEST=str(manifest_path),
                   SCF_INDEXER_DATABASE_URL=f"sqlite:///{ix_db}", SCF_INDEXER_LOG_LEVEL="WARNING",
                   SCF_INDEXER_POLL_INTERVAL_S="0.5")
        ix_proc = subprocess.Popen([sys.executable, "-m", "indexer", "run"], env=env, cwd=str(ROOT),
                                   stdout=open(work / "indexer.log", "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115
        w3 = Web3(Web3.HTTPProvider(chain.url, request_kwargs={"timeout": 60}))
        sups, tokens, dest = setup(url, w3, {})
        started = time.perf_counter()

        def sampler(done: list[tuple[float, float, bool]], since: float, until: float) -> None:
            s = {"t_s": round(until - started, 1), **window_stats(done, since, until),
                 "gateway_rss_mb": rss_mb(gw_proc.pid) if gw_proc else None,
                 "indexer_rss_mb": rss_mb(ix_proc.pid) if ix_proc else None,
                 "indexer_lag_blocks": w3.eth.block_number - indexed_block(ix_db)}
            samples.append(s)
            print(f"[soak] t={s['t_s']:7.1f}s {s['ops_per_s']:6.1f} ops/s p50 {s['p50_ms']} p95 {s['p95_ms']} "
                  f"p99 {s['p99_ms']} ms, failed {s['failed']}, gateway {s['gateway_rss_mb']} MB, indexer "
                  f"{s['indexer_rss_mb']} MB, indexer lag {s['indexer_lag_blocks']} blocks", flush=True)

        failures: list[dict[str, Any]] = []
        done, sent = asyncio.run(load(url, sups["gw"]["api_key"], tokens["gw"], dest, args.rate,
                                      args.minutes * 60, args.sample, sampler, failures))
        answered_confirmed = sum(ok for _, _, ok in done)
        # an answer that is not "confirmed" (the wait timed out, an error) is not a loss by itself:
        # the store and the index say what happened to every operation
        # done when every stored operation is final and every request without one was refused
        # with an error answer (no need to wait for an operation that a refusal never created)
        error_answers = sum(1 for f in failures if f.get("code") and f.get("status") and f["status"] >= 400)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            states = operation_states(work / "gateway.db", "holdings.split_transfer")
            final = sum(n for st, n in states.items() if st in ("confirmed", "failed", "rejected", "expired"))
            if final == sum(states.values()) and final + error_answers >= sent:
                break
            time.sleep(1)
        head = w3.eth.block_number
        while indexed_block(ix_db) < head and time.monotonic() < deadline:
            time.sleep(0.5)
        splits = indexed_splits(ix_db, tokens["gw"])
        confirmed = states.get("confirmed", 0)
        # a request answered with an error before anything was stored (a 4xx refusal, a 503 while
        # the node is unavailable, load shedding) created no operation: refused, not lost. Lost is a
        # stored operation that is not confirmed, a confirmed one the indexer does not hold, or a
        # request that created nothing although it was never answered with an error.
        stored = sum(states.values())
        refused = sent - stored
        lats = sorted(1000 * lat for _, lat, _ in done)
        first, last = samples[0], samples[-1]
        result = {
            "benchmark": "soak: steady split-and-transfers through the gateway's HTTP API, followed by the indexer",
            "command": "python -m scf.bench.soak " + " ".join(argv if argv is not None else sys.argv[1:]),
            "node": f"anvil --block-time 1, gas limit {GAS_LIMIT:,}", "minutes": args.minutes,
            "rate_per_s": args.rate, "sent": sent, "answered_confirmed": answered_confirmed,
            "answered_otherwise": sent - answered_confirmed, "gateway_operation_states": states,
            "failures": failure_summary(failures),
            "stored": stored, "refused_before_storing": refused,
            "confirmed": confirmed, "indexed_splits": splits,
            "all_confirmed": confirmed == sent,
            "nothing_lost": confirmed == stored and splits == confirmed and 0 <= refused <= error_answers,
            "latency_ms": {"p50": percentile(lats, 0.5), "p95": percentile(lats, 0.95), "p99": percentile(lats, 0.99),
                           "max": round(lats[-1], 1) if lats else None},
            "memory_growth_mb": {
                "gateway": round((last["gateway_rss_mb"] or 0) - (first["gateway_rss_mb"] or 0), 1),
                "indexer": round((last["indexer_rss_mb"] or 0) - (first["indexer_rss_mb"] or 0), 1),
            },
            "p95_ms_over_time": {"median": statistics.median([s["p95_ms"] or 0 for s in samples]),
                                 "max": max(s["p95_ms"] or 0 for s in samples)},
            "samples": samples,
        }
        print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=1))
        if args.out != "-":
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps(result, indent=1))
            print(f"written to {args.out}")
        return 0 if result["nothing_lost"] else 1
    finally:
        if ix_proc is not None:
            ix_proc.terminate()
            try:
                ix_proc.wait(20)
            except subprocess.TimeoutExpired:
                ix_proc.kill()
        if gw_proc is not None:
            stop_process(gw_proc)
        chain.stop()


if __name__ == "__main__":
    sys.exit(main())
