"""A signer's status: nonces (store and chain), queue, in-flight, oldest pending age, last error,
whether its key is unlocked and this gateway holds its store's lock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlmodel import Session, col, select

from chain_gateway.deps import AUTHENTICATED, Address, CallerDep, GatewayDep, same
from chain_gateway.errors import Forbidden, NodeUnavailable, NotFound
from chain_gateway.gateway import Gateway
from chain_gateway.metrics import aware
from chain_gateway.models import NonceState, Operation, OpState, Role
from scf_core.rpc import RpcError

router = APIRouter(prefix="/signers", tags=["system"], responses=AUTHENTICATED)


class NextNonce(BaseModel):
    store: int | None  # the next nonce the gateway will sign with (null: never signed for this account)
    chain: int | None  # the node's pending transaction count (null: the node did not answer)


class SignerStatus(BaseModel):
    address: str
    next_nonce: NextNonce
    queued: int
    in_flight: int  # submitted or mined, not yet confirmed
    oldest_pending_age_s: float | None
    last_error: dict[str, Any] | None  # the worker's (key, store lock) or the newest operation error
    unlocked: bool  # the signer's key is decrypted (its worker signs)
    worker_alive: bool
    store_lock_held: bool


def _store_view(gw: Gateway, address: str) -> dict[str, Any]:
    with Session(gw.engine) as s:
        ns = s.get(NonceState, address.lower())
        counts = s.exec(
            select(Operation.state, Operation.created_at)
            .where(Operation.signer == address, col(Operation.state).in_([OpState.queued, OpState.submitted,
                                                                          OpState.mined]))
        ).all()
        last = s.exec(
            select(Operation.id, Operation.error, Operation.updated_at)
            .where(Operation.signer == address, col(Operation.error).is_not(None))
            .order_by(col(Operation.seq).desc()).limit(1)
        ).first()
    oldest = min((aware(c) for _, c in counts), default=None)
    return {
        "store": ns.next_nonce if ns else None,
        "queued": sum(1 for st, _ in counts if st == OpState.queued),
        "in_flight": sum(1 for st, _ in counts if st != OpState.queued),
        "oldest_pending_age_s": (datetime.now(UTC) - oldest).total_seconds() if oldest else None,
        "last_error": {**(last[1] or {}), "operation_id": last[0], "at": aware(last[2]).isoformat()} if last else None,
    }


@router.get("/{address}/status", response_model=SignerStatus)
async def signer_status(gw: GatewayDep, caller: CallerDep, address: Address) -> SignerStatus:
    """Operator and auditor: any signer; a member: its own."""
    if caller.role not in (Role.operator, Role.auditor) and not same(caller.account, address):
        raise Forbidden("a member may read its own signer's status only", {"role": caller.role.value})
    if not gw.signers.has(address):
        raise NotFound("the gateway holds no key for this account", {"account": address})
    view = await asyncio.to_thread(_store_view, gw, address)
    try:
        chain: int | None = await gw.rpc.nonce(address, "pending")
    except (NodeUnavailable, RpcError, ValueError, TypeError):
        chain = None
    sub = gw.submitter
    worker = sub.workers.get(address.lower()) if sub else None
    lock_error = sub.lock_error if sub else None
    error = (worker.unlock_error if worker else None) or lock_error or view["last_error"]
    return SignerStatus(
        address=address, next_nonce=NextNonce(store=view["store"], chain=chain), queued=view["queued"],
        in_flight=view["in_flight"], oldest_pending_age_s=view["oldest_pending_age_s"], last_error=error,
        unlocked=bool(worker and worker.unlocked), worker_alive=bool(worker and not worker.task.done()),
        store_lock_held=sub is not None and lock_error is None,
    )
