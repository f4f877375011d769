"""The follower's trust: it refuses another chain (never empties its tables because the node
changed), and survives node errors, malformed node answers, rate limits and database outages
(backs off, resumes, catches up), reporting lag and last error in /health."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from follower import Follower
from scenario import deploy_system
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from indexer.api.main import create_app
from indexer.errors import NodeError, RpcError
from indexer.fetch import connect
from indexer.reconcile import reconcile
from indexer.settings import Settings
from scf import devchain
from scf_core.rpc import Rpc
from tests.faultproxy import FaultProxy

ROOT = Path(__file__).resolve().parents[2]


# --- malformed answers are node errors (retryable), not crashes ------------------------------


def _rpc(answer: Any) -> Rpc:
    """An Rpc whose node answers `answer(request_json)` (a body: bytes, or JSON-able)."""
    rpc = connect("http://node.invalid")

    def handle(request: httpx.Request) -> httpx.Response:
        body = answer(json.loads(request.content))
        return httpx.Response(200, content=body) if isinstance(body, bytes) else httpx.Response(200, json=body)

    rpc.client = httpx.Client(transport=httpx.MockTransport(handle))
    return rpc


@pytest.mark.parametrize(
    "answer",
    [
        lambda req: b"<html>502 Bad Gateway</html>",
        lambda req: {"jsonrpc": "2.0", "id": req["id"] + 1, "result": "0x1"},  # wrong id
        lambda req: {"jsonrpc": "2.0", "id": req["id"]},  # neither result nor error
        lambda req: {"jsonrpc": "2.0", "id": req["id"], "result": "not hex"},
        lambda req: [1, 2],
        lambda req: "just a string",
    ],
    ids=["non-json", "wrong-id", "no-result", "bad-quantity", "list", "string"],
)
def test_malformed_single_answers_are_node_errors(answer: Any) -> None:
    with pytest.raises(NodeError):
        _rpc(answer).block_number()


@pytest.mark.parametrize(
    "answer",
    [
        lambda req: [{"jsonrpc": "2.0", "id": r["id"], "result": None} for r in req[:-1]],  # item missing
        lambda req: [{"jsonrpc": "2.0", "id": r["id"] + 1000, "result": None} for r in req],  # wrong ids
        lambda req: {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "batch refused"}},
        lambda req: b"",
        lambda req: [{"jsonrpc": "2.0", "id": r["id"], "result": "0x12"} for r in req],  # header not an object
    ],
    ids=["missing-item", "wrong-ids", "whole-batch-error", "empty-body", "bad-header"],
)
def test_malformed_batch_answers_are_node_errors(answer: Any) -> None:
    with pytest.raises(NodeError):
        _rpc(answer).headers([1, 2, 3])


def test_rpc_errors_stay_rpc_errors() -> None:
    rpc = _rpc(lambda req: [{"jsonrpc": "2.0", "id": r["id"], "error": {"code": 3, "message": "revert"}} for r in req])
    got = rpc.batch([("eth_call", [{}, "latest"])], errors=True)
    assert isinstance(got[0], RpcError) and got[0].code == 3
    assert isinstance(got[0], NodeError)


# --- node errors, malformed answers, rate limits: back off, resume, report in /health ----------


def _health(url: str) -> dict[str, Any]:
    app = create_app(Settings(database_url=url))
    try:
        with TestClient(app) as client:
            body: dict[str, Any] = client.get("/health").json()
            return body
    finally:
        app.state.engine.dispose()


def test_follow_survives_node_faults_and_reports_them(fresh_system: Any, databases: Any) -> None:
    s = fresh_system.scenario
    s.setup()
    url = databases.new()
    with FaultProxy(fresh_system.url) as proxy:
        ix = fresh_system.indexer(url, rpc_url=proxy.url, poll_interval_s=0.05, max_backoff_s=0.4)
        follower = Follower(ix)
        try:
            follower.wait_for(s.w3.eth.block_number)
            # malformed answers: HTTP 200 with a non-JSON body, batch answers missing items,
            # a garbage block number; then rate limiting and a node that is down
            faults = [
                proxy.add("*", "non_json", times=3),
                proxy.add("eth_getBlockByNumber", "drop", times=3),
                proxy.add("eth_blockNumber", "result", value="0xnothex", times=2),
                proxy.add("eth_getLogs", "http_status", status=429, times=3),
                proxy.add("*", "error", code=-32005, message="rate limit exceeded", times=2),
            ]
            s.issue(2)
            follower.wait_for(s.w3.eth.block_number)
            assert all(rule.hits > 0 for rule in faults), [rule.hits for rule in faults]
            health = _health(url)
            assert health["last_error"] and health["last_error_at"]

            # the node down for 2 s: no busy loop (back-off), /health shows the failures
            before = sum(proxy.seen.values())
            down = proxy.add("*", "http_status", status=502, duration_s=2.0)
            s.issue(1)
            time.sleep(1.5)
            health = _health(url)
            assert health["failures"] >= 2 and "502" in health["last_error"], health
            assert health["head"] is not None
            time.sleep(0.6)
            attempts = sum(proxy.seen.values()) - before
            assert down.hits > 0 and attempts < 40, f"{attempts} requests in 2 s: busy loop"
            follower.wait_for(s.w3.eth.block_number)

            # a node that closes connections without answering
            proxy.add("*", "reset", times=3)
            s.issue(1)
            follower.wait_for(s.w3.eth.block_number)
            time.sleep(1.2)  # the status row is refreshed at most once a second
            health = _health(url)
            assert health["failures"] == 0 and health["lag"] == 0, health
            follower.alive()
        finally:
            follower.stop()
    _, diffs = reconcile(ix.engine, connect(fresh_system.url), ix.manifest)
    assert diffs == [], "\n".join(map(str, diffs))
    ix.close()


@pytest.mark.postgres
@pytest.mark.parametrize("databases", ["postgres"], indirect=True)  # an outage is simulated on PostgreSQL
def test_follow_survives_a_database_outage(fresh_system: Any, databases: Any) -> None:
    """PostgreSQL refuses connections (and drops the open ones) for a while: the follower backs
    off, resumes and catches up."""
    s = fresh_system.scenario
    s.setup()
    url = databases.new()
    name = make_url(url).database
    admin = create_engine(databases.admin_url, isolation_level="AUTOCOMMIT")
    ix = fresh_system.indexer(url, poll_interval_s=0.05, max_backoff_s=0.4)
    follower = Follower(ix)
    try:
        follower.wait_for(s.w3.eth.block_number)
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
            try:
                s.issue(2)
                time.sleep(2.0)
                follower.alive()
            finally:
                conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        follower.wait_for(s.w3.eth.block_number)
        time.sleep(1.2)
        health = _health(url)
        assert "OperationalError" in (health["last_error"] or ""), health
        assert health["failures"] == 0 and health["lag"] == 0, health
    finally:
        follower.stop()
        admin.dispose()
    _, diffs = reconcile(ix.engine, ix.rpc, ix.manifest)
    assert diffs == [], "\n".join(map(str, diffs))
    ix.close()


# --- the chain guard -------------------------------------------------------------------------


def _cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "indexer", *args], env=env, cwd=ROOT, timeout=timeout, capture_output=True, text=True
    )


def _counts(url: str) -> dict[str, int]:
    from indexer.db import make_engine
    from indexer.models import DOMAIN_TABLES

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {n: conn.execute(text(f"SELECT COUNT(*) FROM {n}")).scalar_one() for n in DOMAIN_TABLES}
    finally:
        engine.dispose()


def test_refuses_another_chain_and_empties_only_on_reset(fresh_system: Any, databases: Any, tmp_path: Path) -> None:
    s = fresh_system.scenario
    s.setup()
    s.issue(2)
    manifest = tmp_path / "manifest.json"
    fresh_system.manifest.save(manifest)
    url = databases.new()
    env = dict(
        os.environ,
        SCF_INDEXER_RPC_URL=fresh_system.url,
        SCF_INDEXER_MANIFEST=str(manifest),
        SCF_INDEXER_DATABASE_URL=url,
        SCF_INDEXER_POLL_INTERVAL_S="0.05",
        PYTHONPATH=str(ROOT),
    )
    assert _cli(env, "sync").returncode == 0
    indexed = _counts(url)
    assert indexed["member"] > 0
    # a restarted dev node: same chain id, same contract addresses, other blocks
    other = devchain.start()
    try:
        other_manifest = deploy_system(other)
        assert (
            other_manifest.contracts["CertificateToken"].address
            == fresh_system.manifest.contracts["CertificateToken"].address
        )
        env_other = {**env, "SCF_INDEXER_RPC_URL": other.url}
        for cmd in ("sync", "run"):
            got = _cli(env_other, cmd, timeout=60)
            assert got.returncode == 2, (cmd, got.returncode, got.stderr[-2000:])
            assert "another chain" in got.stderr and "reset --yes" in got.stderr, got.stderr
            assert "Traceback" not in got.stderr
            assert _counts(url) == indexed  # nothing emptied
        # the old node again: fine
        assert _cli(env, "sync").returncode == 0
        assert _counts(url) == indexed
        # emptied only by the explicit command
        refused = _cli(env_other, "reset")
        assert refused.returncode == 2 and "--yes" in refused.stderr
        assert _counts(url) == indexed
        assert _cli(env_other, "reset", "--yes").returncode == 0
        assert set(_counts(url).values()) == {0}
        assert _cli(env_other, "sync").returncode == 0
        assert _counts(url)["member"] == 0  # the other chain has no members onboarded
    finally:
        other.stop()


def test_health_when_the_database_is_down_is_503_not_500() -> None:
    port = devchain.free_port()  # nothing listens there
    app = create_app(Settings(database_url=f"postgresql+psycopg://nobody@127.0.0.1:{port}/none"))
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            resp = client.get("/health")
        assert resp.status_code == 503 and resp.json() == {"ok": False, "error": "OperationalError"}
    finally:
        app.state.engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("databases", ["postgres"], indirect=True)  # an outage is simulated on PostgreSQL
def test_run_waits_for_a_database_down_at_start(played: Any, databases: Any, tmp_path: Path) -> None:
    """`python -m indexer run` started while PostgreSQL refuses connections waits (backs off) and
    indexes once the database answers; SIGTERM then stops it cleanly."""
    import signal

    from indexer.db import make_engine

    manifest = tmp_path / "manifest.json"
    played.manifest.save(manifest)
    url = databases.new()
    name = make_url(url).database
    admin = create_engine(databases.admin_url, isolation_level="AUTOCOMMIT")
    env = dict(
        os.environ,
        SCF_INDEXER_RPC_URL=played.url,
        SCF_INDEXER_MANIFEST=str(manifest),
        SCF_INDEXER_DATABASE_URL=url,
        SCF_INDEXER_POLL_INTERVAL_S="0.1",
        SCF_INDEXER_MAX_BACKOFF_S="0.5",
        PYTHONPATH=str(ROOT),
    )
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
    proc = subprocess.Popen(
        [sys.executable, "-m", "indexer", "run"], env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True
    )
    try:
        time.sleep(3)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        engine = make_engine(url)
        head = played.scenario.w3.eth.block_number
        deadline = time.monotonic() + 60
        try:
            while True:
                try:
                    with engine.connect() as c:
                        if c.execute(text("SELECT block_number FROM checkpoint")).scalar() == head:
                            break
                except Exception:  # schema not there yet
                    pass
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        finally:
            engine.dispose()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()


@pytest.mark.parametrize("mode", ["inconsistent-range", "reorg-after-reorg"])
def test_repeated_reorg_detection_is_no_busy_loop(played: Any, tmp_path: Path, mode: str) -> None:
    from indexer.errors import ReorgDetected
    from indexer.pipeline import StepResult

    ix = played.indexer(f"sqlite:///{tmp_path / 'ix.db'}", poll_interval_s=0.05, max_backoff_s=0.4)
    calls = 0

    def step(head: int | None = None) -> StepResult:
        nonlocal calls
        calls += 1
        if mode == "inconsistent-range":
            raise ReorgDetected("log of block 5 is from another branch")
        return StepResult(5, 5, 0, 0, reorg=True)

    ix.catch_up = step  # type: ignore[method-assign]  # the follower's unit of work
    end = time.monotonic() + 1.5
    try:
        ix.follow(stop=lambda: time.monotonic() > end)
    finally:
        ix.close()
    assert 2 <= calls <= 15, f"{calls} steps in 1.5 s"


def test_one_shot_commands_report_an_unreachable_node_in_one_line(played: Any, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    played.manifest.save(manifest)
    env = dict(
        os.environ,
        SCF_INDEXER_RPC_URL=f"http://127.0.0.1:{devchain.free_port()}",  # nothing listens there
        SCF_INDEXER_MANIFEST=str(manifest),
        SCF_INDEXER_DATABASE_URL=f"sqlite:///{tmp_path / 'ix.db'}",
        PYTHONPATH=str(ROOT),
    )
    got = _cli(env, "sync", timeout=60)
    assert got.returncode == 3 and "node or database unavailable" in got.stderr, got.stderr[-2000:]
    assert "Traceback" not in got.stderr
