"""Readiness (``GET /v1/ready``): is this gateway able to take and carry out writes right now?
Liveness is ``GET /v1/health`` (the process answers)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import text

from chain_gateway.errors import GatewayError, NodeUnavailable
from chain_gateway.gateway import Gateway
from scf_core.rpc import RpcError


class NotReady(GatewayError):
    status_code = 503
    code = "NOT_READY"


def store_writable(gw: Gateway) -> None:
    """A write in a transaction that is rolled back: a read-only or unreachable store raises."""
    with gw.engine.connect() as conn, conn.begin() as tx:
        conn.execute(text("INSERT INTO gw_nonce (account, next_nonce, updated_at) VALUES (:a, 0, CURRENT_TIMESTAMP)"),
                     {"a": "ready-" + uuid.uuid4().hex[:16]})
        tx.rollback()


async def checks(gw: Gateway) -> dict[str, dict[str, Any]]:
    """Every check's ``{ok, ...}``: the node (answering, on the manifest's chain id), the store
    (writable), the instance lock (held: checked as before a signing step), the signer workers
    (none has died)."""
    out: dict[str, dict[str, Any]] = {}
    try:
        chain_id = await gw.rpc.chain_id()
        out["node"] = {"ok": chain_id == gw.manifest.chain_id, "chain_id": chain_id, "expected": gw.manifest.chain_id}
    except (NodeUnavailable, RpcError, ValueError, TypeError) as exc:
        out["node"] = {"ok": False, "error": type(exc).__name__}
    try:
        await asyncio.to_thread(store_writable, gw)
        out["store"] = {"ok": True}
    except Exception as exc:  # a read-only, full or unreachable database: its class, no details
        out["store"] = {"ok": False, "error": type(exc).__name__}
    sub = gw.submitter
    if sub is None:
        out["lock"] = {"ok": False, "error": "not started"}
        out["workers"] = {"ok": False, "error": "not started"}
        return out
    await sub.may_sign()  # re-checks the lock exactly as a signing step does (a regained lock re-syncs)
    out["lock"] = {"ok": sub.lock_error is None, **({"error": sub.lock_error["code"]} if sub.lock_error else {})}
    dead = sorted(w.address for w in sub.workers.values() if w.task.done())
    out["workers"] = {"ok": not dead, "count": len(sub.workers), "dead": dead}
    return out


async def answer(gw: Gateway) -> dict[str, Any]:
    result = await checks(gw)
    failed = sorted(name for name, check in result.items() if not check["ok"])
    if failed:
        raise NotReady(f"not ready: {', '.join(failed)}", {"failed": failed, "checks": result})
    return {"status": "ready", "checks": result}
