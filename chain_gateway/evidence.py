"""Evidence of which transaction consumed a nonce, read from the chain's blocks (not from the
node's transaction index, which may lag: a load-balanced or lagging RPC answers null to
``eth_getTransactionByHash`` / receipts for a while).

The block holding ``address``'s transaction at ``nonce`` is the first one after which the account's
transaction count exceeds ``nonce``: a binary search over ``eth_getTransactionCount(address, block)``
between a lower bound (a block known to be no later than the signature) and the head, then that
block's transactions. ``None`` means the node cannot tell (no state for old blocks on a pruning
node, a lagging block index): no evidence, never a reason to act."""

from __future__ import annotations

from typing import Any

from scf_core.rpc import AsyncRpc, RpcError

WINDOW = 100_000  # without a lower bound, look this many blocks back at most


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

