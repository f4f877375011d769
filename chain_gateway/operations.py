"""Turning an API call into an operation: idempotency, simulation, persistence before signing.

Every store round trip of the request path runs in a worker thread (``run_in_threadpool``), never
on the event loop: a slow database stalls only the request that waits for it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from chain_gateway import metrics
from chain_gateway.approvals import expiry, required_approvals
from chain_gateway.errors import Conflict, ContractRevert, Forbidden, GatewayError, NotFound
from chain_gateway.gateway import Gateway
from chain_gateway.models import (
    FINAL_STATES,
    ApiKey,
    MemberRole,
    NewOperation,
    Operation,
    OperationOut,
    OpState,
    utcnow,
)
from chain_gateway.worker import publish
from scf_core import logs
from scf_core.rpc import RpcError

# contract errors that mean "not yours / not your role": 403; "wrong state": 409; others 422
FORBIDDEN_ERRORS = {
    "MembershipUnauthorized", "MembershipWrongRole", "MembershipNotHolder", "CertificateUnauthorized",
    "CertificateNotPayee", "CertificateNotOwnerNorApproved", "CertificateWrongOwner", "FinancingNotSeller",
    "FinancingNotFactor", "SettlementUnauthorized", "SettlementNotDebtor",
    "SettlementNotHolder", "SettlementTokenUnauthorized", "OwnableUnauthorizedAccount", "MembershipNotPermitted",
    # market
    "FinancingNotHolder", "FinancingNotInvited", "FinancingNotRequester", "FinancingNotQuoter", "FinancingNotParty",
    "SettlementNotProgrammeDebtor",
}
CONFLICT_ERRORS = {
    "MembershipAlreadyMember", "MembershipStatusUnchanged", "MembershipPaused", "MembershipNotPaused",
    "CertificateWrongStatus", "CertificateFreezeUnchanged", "CertificateFrozen", "CertificateMatured",
    "FinancingOfferNotOpen", "FinancingOfferExpired", "SettlementFullyRepaid", "MembershipInactive",
    # market
    "FinancingRequestNotOpen", "FinancingQuoteNotOpen", "FinancingDeadlinePassed", "FinancingNotDeal",
    "FinancingRecourseStatus", "FinancingNotOverdue", "SettlementEarlyPaymentNotOpen", "SettlementEarlyPaymentExpired",
    "SettlementProgrammeClosed", "SettlementBudgetExceeded", "SettlementMatured", "SettlementWrongStatus",
    # controls: the invoice registry
    "CertificateInvoicesRequired", "CertificateInvoiceOverused", "CertificateInvoiceClosed",
    "CertificateDuplicateInvoice", "CertificateInvoiceAmountMismatch",
    # controls: a deal's registration is set once
    "FinancingRegistrationAlreadySet",
}


def request_hash(kind: str, args: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps({"kind": kind, "args": args}, sort_keys=True, default=str).encode()).hexdigest()


def revert_error(gw: Gateway, exc: RpcError) -> GatewayError:
    decoded = gw.contracts.decode_error(exc.revert_data)
    if decoded is None:
        return ContractRevert("the call would revert", {"error": None, "message": exc.message[:300]})
    details = decoded.as_dict()
    message = f"the call would revert with {decoded.name}"
    if decoded.name in FORBIDDEN_ERRORS:
        err: GatewayError = ContractRevert(message, details)
        err.status_code = 403
        return err
    if decoded.name in CONFLICT_ERRORS:
        err = ContractRevert(message, details)
        err.status_code = 409
        return err
    return ContractRevert(message, details)


def gas_key(tx: dict[str, Any]) -> tuple[str, str, int]:
    """Calls alike in gas: the same contract, function and calldata length."""
    return tx["to"], tx["data"][:10], len(tx["data"])


async def simulate_gas(gw: Gateway, tx: dict[str, Any]) -> int:
    """A gas figure the call is proven to succeed with on the current state, or the call's revert
    as a 4xx (``revert_error``).

    ``eth_estimateGas`` finds its figure by a binary search (anvil runs the call ~10 times). Once a
    call alike (``gas_key``) was estimated, the call is instead run once with ``eth_call`` and
    exactly that estimate as its gas limit: success proves the same as the estimate does (the call
    completes with that much gas on this state: refunds and the 63/64 rule included), and the limit
    signed is the same multiple of it. Any error of that run (more gas needed, a revert, a node
    error) falls back to ``eth_estimateGas``, whose verdict and figure decide as before."""
    key = gas_key(tx)
    known = gw.gas_estimates.get(key)
    if known is not None:
        try:
            await gw.rpc.call("eth_call", {**tx, "gas": hex(known)}, "latest")
            metrics.SIMULATIONS.labels("call").inc()
            return known
        except RpcError:
            pass  # the estimate below decides
    metrics.SIMULATIONS.labels("estimate").inc()
    try:
        estimate = int(await gw.rpc.call("eth_estimateGas", tx), 16)
    except RpcError as exc:
        raise revert_error(gw, exc) from exc
    gw.gas_estimates[key] = estimate
    return estimate


async def view(gw: Gateway, contract: str, fn: str, args: list[Any], sender: str | None = None) -> Any:
    """A read through eth_call, decoded; a revert becomes a 4xx (unknown ids: 404)."""
    tx: dict[str, Any] = {"to": gw.contracts.address(contract), "data": gw.contracts.encode(contract, fn, args)}
    if sender:
        tx["from"] = sender
    try:
        data = await gw.rpc.eth_call(tx)
    except RpcError as exc:
        err = revert_error(gw, exc)
        name = err.details.get("error") or ""
        if "Unknown" in name:
            raise NotFound(f"{contract}.{fn}: not found", err.details) from exc
        raise err from exc
    return gw.contracts.decode_output(contract, fn, data)


def _by_idempotency_key(engine: Engine, account: str, key: str) -> Operation | None:
    with Session(engine, expire_on_commit=False) as s:
        return s.exec(
            select(Operation).where(Operation.api_account == account, Operation.idempotency_key == key)
        ).first()


_OPERATIONS = Operation.__table__  # type: ignore[attr-defined]


def _insert(engine: Engine, row: dict[str, Any]) -> bool:
    """Stores a new operation; False when a concurrent request with its Idempotency-Key won."""
    try:
        with engine.begin() as conn:
            conn.execute(_OPERATIONS.insert(), [row])
    except IntegrityError:
        return False
    return True


def _insert_many(engine: Engine, rows: list[dict[str, Any]]) -> list[bool]:
    """Stores new operations in one transaction (one executemany); if one of them breaks a
    uniqueness rule (a concurrent request with its Idempotency-Key won), each is stored on its
    own instead."""
    try:
        with engine.begin() as conn:
            conn.execute(_OPERATIONS.insert(), rows)
        return [True] * len(rows)
    except IntegrityError:
        pass
    return [_insert(engine, row) for row in rows]


class Inserter:
    """Group commit of new operations: the rows of concurrent requests go to the store in one
    transaction per round (one write lock and one commit on SQLite, one round trip on PostgreSQL)
    instead of one each; each request gets its own answer (stored, or lost to a concurrent request
    with the same Idempotency-Key) once its row is committed."""

    MAX = 500

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.pending: list[tuple[NewOperation, asyncio.Future[bool]]] = []
        self.task: asyncio.Task[None] | None = None

    async def insert(self, op: NewOperation) -> bool:
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.pending.append((op, fut))
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        while self.pending:
            batch, self.pending = self.pending[: self.MAX], self.pending[self.MAX :]
            try:
                stored = await run_in_threadpool(_insert_many, self.engine, [op.row() for op, _ in batch])
            except Exception as exc:  # the store failed: every request of the round gets the error
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (_, fut), ok in zip(batch, stored, strict=True):
                if not fut.done():
                    fut.set_result(ok)


def _load(engine: Engine, op_id: str) -> Operation | None:
    with Session(engine, expire_on_commit=False) as s:
        return s.exec(select(Operation).where(Operation.id == op_id)).first()


def _list(engine: Engine, account: str, state: OpState | None, offset: int, limit: int) -> list[Operation]:
    q = select(Operation).where(Operation.api_account == account)
    if state is not None:
        q = q.where(Operation.state == state)
    with Session(engine, expire_on_commit=False) as s:
        return list(s.exec(q.order_by(col(Operation.seq).desc()).offset(offset).limit(limit)).all())


async def list_for(gw: Gateway, caller: ApiKey, state: OpState | None, offset: int, limit: int) -> list[Operation]:
    """The caller's own operations, newest first."""
    return await run_in_threadpool(_list, gw.engine, caller.account, state, offset, limit)


async def find_idempotent(gw: Gateway, caller: ApiKey, key: str, rhash: str) -> Operation | None:
    op = await run_in_threadpool(_by_idempotency_key, gw.engine, caller.account, key)
    if op is not None and op.request_hash != rhash:
        raise Conflict(
            "Idempotency-Key reused with a different request", {"operation_id": op.id}, code="IDEMPOTENCY_CONFLICT"
        )
    return op


async def submit(
    gw: Gateway,
    caller: ApiKey,
    kind: str,
    contract: str,
    fn: str,
    call_args: list[Any],
    view_args: dict[str, Any],
    idempotency_key: str | None,
    hash_args: dict[str, Any] | None = None,
    precheck: Callable[[], Awaitable[Any]] | None = None,
    before_store: Callable[[], Awaitable[Any]] | None = None,
    watch: bool = False,
) -> Operation | NewOperation:
    """Simulate, persist as queued, hand to the signer's worker. Returns the operation. `watch`:
    the caller will wait for its final state (``wait_final``): the waiter is registered before the
    operation is stored, so no store read is needed to learn whether it is already final."""
    idempotency_key = idempotency_key or None
    rhash = request_hash(kind, view_args if hash_args is None else hash_args)
    if idempotency_key:
        existing = await find_idempotent(gw, caller, idempotency_key, rhash)
        if existing is not None:
            return existing
    if caller.user_role == MemberRole.checker:
        raise Forbidden("a checker approves or rejects operations; it does not submit them",
                        {"user_role": caller.user_role.value})
    gw.signers.get(caller.account)  # NoSigner (422) if the gateway holds no key for the caller
    to = gw.contracts.address(contract)
    data = gw.contracts.encode(contract, fn, call_args)

    async def simulate() -> int:
        return await simulate_gas(gw, {"from": caller.account, "to": to, "data": data})

    async def check() -> None:
        if precheck is not None:
            await precheck()

    # the ownership check and the simulation leave together (one JSON-RPC batch); a refusal by the
    # check (403) wins over the simulation's verdict; nothing is signed unless both pass
    checked, simulated = await asyncio.gather(check(), simulate(), return_exceptions=True)
    if isinstance(checked, BaseException):
        raise checked
    if isinstance(simulated, BaseException):
        raise simulated
    estimate = simulated
    if before_store is not None:  # e.g. persist the member's new key once the onboarding will pass
        await before_store()
    gas_limit = int(estimate * gw.settings.gas_multiplier) + gw.settings.gas_extra
    assert gw.policies is not None
    rules = gw.policies.cached(caller.account)  # read once per member, then from memory
    if rules is None:
        rules = await run_in_threadpool(gw.policies.rules, caller.account)
    needed = required_approvals(rules, kind, view_args)
    now = utcnow()  # the default factories given explicitly: pydantic inspects a factory's signature per call
    op = NewOperation(
        created_at=now, updated_at=now,
        id=str(uuid.uuid4()), api_account=caller.account, signer=caller.account, kind=kind, contract=contract,
        to_address=to, data=data, args=view_args, idempotency_key=idempotency_key, request_hash=rhash,
        gas_limit=gas_limit, maker_id=caller.id, approvals_required=needed,
        state=OpState.awaiting_approval if needed else OpState.queued,
        approval_expires_at=expiry(gw.settings.approval_ttl_s) if needed else None,
    )
    logs.operation_id.set(op.id)  # the request's later log lines are about this operation
    if watch:  # the final state's waiter exists before the worker can see the operation
        gw.bus.watch(op.id)
    if gw.inserter is None:
        gw.inserter = Inserter(gw.engine)
    try:
        stored = await gw.inserter.insert(op)
    except BaseException:
        gw.bus.forget(op.id)
        raise
    if not stored:  # a concurrent request with the same key won
        gw.bus.forget(op.id)
        existing = await find_idempotent(gw, caller, idempotency_key, rhash) if idempotency_key else None
        if existing is None:
            raise Conflict("the operation could not be stored", {"operation_id": op.id})
        return existing
    publish(gw.bus, op)
    if op.state == OpState.queued:  # awaiting approval: signed once its checkers approve it
        assert gw.submitter is not None
        gw.submitter.notify(op.signer)
    return op


async def load(gw: Gateway, op_id: str) -> Operation | None:
    return await run_in_threadpool(_load, gw.engine, op_id)


def visible(caller: ApiKey, op: Operation) -> bool:
    return op.api_account.lower() == caller.account.lower() or caller.role.value in ("operator", "auditor")


async def get_for(gw: Gateway, caller: ApiKey, op_id: str) -> Operation:
    op = await load(gw, op_id)
    if op is None:
        raise NotFound("no such operation", {"id": op_id})
    if not visible(caller, op):
        raise Forbidden("not your operation", {"id": op_id})
    return op


async def wait_final(gw: Gateway, op: Operation | NewOperation, timeout: float) -> OperationOut:
    """The operation once final (or as it stands after `timeout`); one awaiting approval at once (a
    human decision is not waited for)."""
    if op.state in FINAL_STATES or op.state == OpState.awaiting_approval:
        return OperationOut.of(op)
    watched = gw.bus.watched(op.id)  # waited for since before it was stored: no final state missed
    fut = gw.bus.final_future(op.id)
    if not watched:
        # read again after subscribing: a final state committed since `op` was read is seen here,
        # a later one resolves `fut` (the worker publishes after it commits)
        fresh = await load(gw, op.id)
        if fresh is not None and fresh.state in FINAL_STATES:
            gw.bus.forget(op.id)
            return OperationOut.of(fresh)
    try:
        payload = await asyncio.wait_for(asyncio.shield(fut), timeout)
        return OperationOut.model_validate(payload)
    except TimeoutError:
        stored = await load(gw, op.id)
        if stored is not None and stored.state in FINAL_STATES:
            gw.bus.forget(op.id)
        return OperationOut.of(stored or op)


def out(op: Operation) -> OperationOut:
    return OperationOut.of(op)
