"""A signer worker's state and store helpers, shared by the parts of the worker: nonce assignment
(``nonces``), broadcasting (``broadcast``), receipts and confirmation (``tracking``), lost blocks
(``recovery``), nonce evidence (``evidence``). The worker loop and the orchestration are
``submitter.SignerWorker``; none of these modules imports it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session

from chain_gateway.contracts import ContractSet
from chain_gateway.events import EventBus
from chain_gateway.models import FINAL_STATES, NewOperation, Operation, OperationOut, OpState
from chain_gateway.settings import Settings
from chain_gateway.signer import Signer
from chain_gateway.webhooks import set_final_state
from scf_core.rpc import AsyncRpc

T = TypeVar("T")

# transient problems shown in a pending operation's `error`, cleared once they pass
PENDING_ERRORS = ("SEND_REFUSED", "SIGNER_LOCKED", "NONCE_UNRESOLVED", "STORE_LOCK_LOST", "REORGED")


def without_pending_error(error: dict[str, Any] | None) -> dict[str, Any] | None:
    """An operation's `error` once it moves on: a transient problem it showed is gone."""
    return None if error is not None and error.get("code") in PENDING_ERRORS else error


def clear_pending_error(op: Operation) -> None:
    if op.error is not None and without_pending_error(op.error) is None:
        op.error = None


def publish(bus: EventBus, op: Operation | NewOperation) -> None:
    """An operation's new state to the bus; serialized only when someone will receive it (a
    stream subscriber, a waiter of its final state, the webhook queue): most updates of most
    operations reach no one, and the JSON of an operation is not free."""
    final = op.state in FINAL_STATES
    if bus.wants(op.id, final):
        bus.publish(OperationOut.of(op).model_dump(mode="json"))
    elif final:
        bus.final_unobserved()


class WorkerState:
    """What every part of a signer's worker works with: the signer, the node, the store, the
    settings, and the worker's flags and memory."""

    def __init__(
        self,
        address: str,
        signer: Signer,
        *,
        settings: Settings,
        engine: Engine,
        rpc: AsyncRpc,
        contracts: ContractSet,
        bus: EventBus,
        chain_id: int,
        on_confirmed: Callable[[int, str], None],
    ):
        self.address = address
        self.signer = signer
        self.s = settings
        self.engine = engine
        self.rpc = rpc
        self.contracts = contracts
        self.bus = bus
        self.chain_id = chain_id
        self.on_confirmed = on_confirmed  # (block number, hash) of a confirmation: the chain watch
        self.lock = asyncio.Lock()  # the per-signer nonce lock
        self.synced = False  # nonces re-read from the chain (after start, an outage, a lost lock...)
        self.unsent = True  # look for signed but unsent transactions (set again by every recovery path)
        self.in_order = False  # the next broadcast sends one transaction at a time (after a batch's gap)
        self.recheck = False  # look for mined/confirmed operations whose block is gone
        self.misses: dict[str, float] = {}  # op id -> when its consumed nonce first showed no receipt
        # op id -> (when, "ours" | "none"): last search of the blocks for the tx at its nonce
        self.searched: dict[str, tuple[float, str]] = {}
        self.signed_head: dict[str, int] = {}  # op id -> the head when it was signed (search lower bound)
        self.head = 0  # the last chain head seen
        self.high_head = 0  # the highest chain head seen (a lower one later: blocks were lost)
        self._gas_price: int | None = None
        # (mined nonce, head) at the last full tracking pass, and when the next one is due anyway
        self.last_probe: tuple[int, int] | None = None
        self.tracking = True  # operations may be outstanding (the last full tracking pass found some)
        self.next_full_pass = 0.0

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    async def db(self, fn: Callable[[], T]) -> T:
        """Run store work (and signing) in a worker thread: one slow database round trip (or a
        slow signer) must not stall the event loop, and with it every other signer."""
        return await asyncio.to_thread(fn)

    async def save(self, ops: list[Operation], finals: dict[str, OpState] | None = None) -> None:
        """Store the changed operations in one transaction (in a worker thread); those named in
        `finals` move to that final state through ``set_final_state`` (webhook outbox included)."""
        def store() -> None:
            with self.session() as s:
                for op in ops:
                    if finals and op.id in finals:
                        self.set_final_state(s, op, finals[op.id])
                    else:
                        s.add(op)
                s.commit()

        if ops:
            await self.db(store)

    def set_final_state(self, s: Session, op: Operation, state: OpState) -> None:
        """Every move to a final state goes through here: with a webhook URL, its durable delivery
        (``gw_webhook_outbox``) is committed with it."""
        set_final_state(s, op, state, webhooks=bool(self.s.webhook_url))

    def publish(self, op: Operation) -> None:
        publish(self.bus, op)

    def forget(self, op_id: str) -> None:
        self.misses.pop(op_id, None)
        self.searched.pop(op_id, None)
        self.signed_head.pop(op_id, None)
