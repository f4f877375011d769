"""Evidence of which transaction consumed a nonce, read from the chain's blocks (not from the
node's transaction index, which may lag: a load-balanced or lagging RPC answers null to
``eth_getTransactionByHash`` / receipts for a while).

The block holding ``address``'s transaction at ``nonce`` is the first one after which the account's
transaction count exceeds ``nonce``: a binary search over ``eth_getTransactionCount(address, block)``
between a lower bound (a block known to be no later than the signature) and the head, then that
block's transactions. ``None`` means the node cannot tell (no state for old blocks on a pruning
node, a lagging block index): no evidence, never a reason to act. ``resolve_missing`` applies it to
a signer's operations whose nonce is used without a receipt of theirs."""

from __future__ import annotations

import logging
import time
from typing import Any

from chain_gateway.models import Operation
from chain_gateway.worker import WorkerState
from scf_core.rpc import AsyncRpc, RpcError

log = logging.getLogger("chain_gateway.evidence")

WINDOW = 100_000  # without a lower bound, look this many blocks back at most
SEARCHES_PER_ROUND = 8  # nonce evidence searches per tracking round (each a few RPC calls)


async def _count(rpc: AsyncRpc, address: str, block: int) -> int | None:
    try:
        value = await rpc.call("eth_getTransactionCount", address, hex(block))
        return int(value, 16) if isinstance(value, str) else None
    except (RpcError, ValueError):
        return None


async def tx_at_nonce(rpc: AsyncRpc, address: str, nonce: int, head: int, low: int | None = None) -> str | None:
    """The hash of the transaction of `address` with `nonce` mined at or below `head`, or None
    when the node offers no evidence. Raises NodeUnavailable when the node cannot be reached."""
    lo = max(0, low if low is not None else head - WINDOW)
    before = await _count(rpc, address, lo - 1) if lo > 0 else 0
    if before is None or before > nonce:
        if low is None or lo == 0:
            return None
        return await tx_at_nonce(rpc, address, nonce, head)  # the hint was too late: the whole window
    hi = head
    top = await _count(rpc, address, hi)
    if top is None or top <= nonce:
        return None
    while lo < hi:  # the first block whose count exceeds `nonce`
        mid = (lo + hi) // 2
        c = await _count(rpc, address, mid)
        if c is None:
            return None
        if c > nonce:
            hi = mid
        else:
            lo = mid + 1
    try:
        block: Any = await rpc.call("eth_getBlockByNumber", hex(lo), True)
    except RpcError:
        return None
    if not isinstance(block, dict):
        return None
    for tx in block.get("transactions") or []:
        if (isinstance(tx, dict) and str(tx.get("from", "")).lower() == address.lower()
                and int(tx.get("nonce", "0x0"), 16) == nonce):
            return str(tx["hash"])
    return None


async def resolve_missing(
    worker: WorkerState, ops: list[Operation], head: int
) -> tuple[list[Operation], list[Operation]]:
    """Operations whose nonce the chain consumed without a receipt of theirs for a while: find
    the transaction at their nonce in the chain's blocks (``tx_at_nonce``; a few per
    round, each again after resend_after_s). Returns (proven foreign: re-queue, no evidence for
    ``evidence_alert_s``: show NONCE_UNRESOLVED). Never re-signs without proof: a lagging node
    cannot make an operation take effect twice."""
    requeue: list[Operation] = []
    unresolved: list[Operation] = []
    now = time.monotonic()
    budget = SEARCHES_PER_ROUND
    for op in ops:
        assert op.nonce is not None
        last = worker.searched.get(op.id)
        if last is not None and now - last[0] < worker.s.resend_after_s:
            continue
        if last is not None and last[1] == "ours":
            continue  # our transaction is in a block: its receipt will come
        if budget == 0:
            break
        budget -= 1
        found = await tx_at_nonce(worker.rpc, worker.address, op.nonce, head, worker.signed_head.get(op.id))
        if found is None:
            worker.searched[op.id] = (now, "none")
            if now - worker.misses[op.id] >= worker.s.evidence_alert_s and (
                    op.error is None or op.error.get("code") != "NONCE_UNRESOLVED"):
                unresolved.append(op)
        elif found.lower() in {h.lower() for h in op.tx_hashes}:
            worker.searched[op.id] = (now, "ours")
            log.info("signer %s: nonce %s mined with our transaction %s; waiting for its receipt",
                     worker.address, op.nonce, found)
        else:
            requeue.append(op)
    return requeue, unresolved


def unresolved_error(worker: WorkerState, op: Operation) -> dict[str, Any]:
    log.error("signer %s: nonce %s is used on chain but neither a receipt nor a block shows which "
              "transaction used it; operation %s waits (never signed again without proof)",
              worker.address, op.nonce, op.id)
    return {"code": "NONCE_UNRESOLVED",
            "message": f"nonce {op.nonce} is used on chain but the node shows no transaction for it; "
                       "the operation waits for evidence and is never signed again without proof "
                       "(check the node)"}
