"""Nonce management and transaction submission, one background worker per signer.

Exactly-once, crash-safe design:
* an operation is stored ``queued`` (no nonce) before anything is signed;
* the worker, holding the signer's lock, assigns consecutive nonces from ``NonceState``, signs,
  and commits nonce + signed raw tx + state ``submitted`` in one transaction *before* broadcasting;
* it broadcasts in nonce order (one batched JSON-RPC request), then tracks receipts: any nonce
  below the chain's ``latest`` count is mined, its receipt is looked up among every hash that
  operation was signed with (fee bumps keep the nonce), and it moves to mined -> confirmed|failed;
* on start (and after any node outage) the worker re-syncs: next nonce = max(store, chain pending),
  every unmined signed tx is re-broadcast as is (the node answers "already known"/"nonce too low"
  harmlessly), and nonces nobody holds below the store's next nonce are filled with a 0-value
  self-transfer so later ones are not stuck;
* an unmined tx is re-broadcast after ``resend_after_s`` and re-signed at the same nonce with a
  higher gas price after ``bump_after_s``;
* a nonce the chain consumed without a receipt of ours sends the operation back to the queue for a
  fresh nonce only when the chain's blocks prove another transaction took it (``evidence``); no
  evidence: it waits (``NONCE_UNRESOLVED`` after ``evidence_alert_s``), never signed twice;
* a refused send fails an operation only if the refusal is definitive (``node_errors``), the node
  never accepted any of its transactions (``accepted_at``) and knows none of its hashes; a filler
  (``system.nonce_fill``) is never failed: the refusal is shown in ``error`` and the send retried
  after ``resend_after_s``; transient node errors are retried with back-off;
* nothing is signed unless this process holds the store's instance lock (checked every step);
  lost blocks / deep reorgs send the operations off chain back to tracking (``recovery``);
* store work and signing run in worker threads, never on the event loop;
* a keystore key is decrypted in a worker thread; if it cannot be (wrong passphrase), the signer's
  queued operations show ``SIGNER_LOCKED`` and the decryption is retried every ``UNLOCK_RETRY_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from chain_gateway import metrics
from chain_gateway.contracts import ContractSet
from chain_gateway.db import InstanceLock
from chain_gateway.errors import NodeUnavailable, NoSigner
from chain_gateway.events import EventBus
from chain_gateway.evidence import resolve_missing, unresolved_error
from chain_gateway.models import NONCE_FILL, NonceState, Operation, OperationOut, OpState, utcnow
from chain_gateway.node_errors import KNOWN, TOO_HIGH, TOO_LOW, UNDERPRICED, definitive, has
from chain_gateway.receipts import parse_result, revert_reason
from chain_gateway.recovery import ChainWatch, rewind
from chain_gateway.rpc import Rpc, RpcError
from chain_gateway.settings import Settings
from chain_gateway.signer import SignerRegistry
from chain_gateway.signer import unlock as unlock_signer
from chain_gateway.webhooks import finish
from scf_core import logs

log = logging.getLogger("chain_gateway.submitter")
T = TypeVar("T")

# transient problems shown in a pending operation's `error`, cleared once they pass
PENDING_ERRORS = ("SEND_REFUSED", "SIGNER_LOCKED", "NONCE_UNRESOLVED", "STORE_LOCK_LOST", "REORGED")
UNLOCK_RETRY_S = 30.0  # a key that cannot be decrypted: next attempt after this long
LOCK_RETRY_S = 1.0  # the store's instance lock is lost: next attempt to take it after this long
NODE_RETRY_CAP_S = 5.0  # back-off cap after node errors in a row
OUTAGE_FAILURES = 3  # node errors in a row (no answer in between) that make an outage


def _clear_pending_error(op: Operation) -> None:
    """A transient problem shown on a pending operation is gone once it moves on."""
    if op.error is not None and op.error.get("code") in PENDING_ERRORS:
        op.error = None


def publish(bus: EventBus, op: Operation) -> None:
    bus.publish(OperationOut.of(op).model_dump(mode="json"))


class Submitter:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        rpc: Rpc,
        signers: SignerRegistry,
        contracts: ContractSet,
        bus: EventBus,
        chain_id: int,
        instance_lock: InstanceLock | None = None,
    ):
        self.settings = settings
        self.engine = engine
        self.rpc = rpc
        self.signers = signers
        self.contracts = contracts
        self.bus = bus
        self.chain_id = chain_id
        self.workers: dict[str, SignerWorker] = {}
        self.instance_lock = instance_lock
        # set while this process does not hold the store's instance lock: nothing is signed or sent
        self.lock_error: dict[str, Any] | None = None
        self.watch = ChainWatch(self)

    async def start(self) -> None:
        """Recover: a worker for every signer with unfinished operations."""
        def load() -> list[str]:
            with Session(self.engine) as s:
                return list(s.exec(
                    select(Operation.signer)
                    .where(col(Operation.state).in_([OpState.queued, OpState.submitted, OpState.mined]))
                    .distinct()
                ).all())

        for signer in await asyncio.to_thread(load):
            self.notify(signer)
        self.watch.start()

    def notify(self, signer: str, recheck: bool = False) -> None:
        """Wake the signer's worker (started if needed); `recheck`: its mined/confirmed operations
        may have lost their blocks (``recovery.rewind``)."""
        key = signer.lower()
        worker = self.workers.get(key)
        if worker is None or worker.task.done():
            try:
                worker = SignerWorker(self, signer)
            except NoSigner:  # its key is gone: its operations wait until the key is back
                log.error("no key for signer %s: its operations stay queued", signer)
                return
            self.workers[key] = worker
        worker.recheck = worker.recheck or recheck
        worker.wake.set()

    async def may_sign(self) -> bool:
        """Checked before every signing step: this process must hold the store's instance lock
        (``InstanceLock.held``, on the lock's own connection, in a worker thread). Lost: nothing is
        signed or sent, the error shows on health and on queued operations. Regained: every worker
        re-syncs from the store and the chain first (another process may have signed meanwhile)."""
        if self.instance_lock is None or not self.instance_lock.can_be_lost:
            return True
        state = await asyncio.to_thread(self.instance_lock.held)
        if state == "held":
            return self.lock_error is None
        if state == "regained":
            log.warning("the store's instance lock was lost and is held again: re-syncing every signer")
            self.lock_error = None
            for w in self.workers.values():
                w.synced = False
            return False  # the caller's next step re-syncs before it signs
        if self.lock_error is None:
            log.error("the store's instance lock is lost (another gateway holds it, or the database is "
                      "unreachable): this gateway signs nothing until it holds the lock again")
        self.lock_error = {
            "code": "STORE_LOCK_LOST",
            "message": "this gateway lost its lock on the store (another gateway process may use it): "
                       "nothing is signed until the lock is held again",
        }
        return False

    async def stop(self) -> None:
        await self.watch.stop()
        for w in self.workers.values():
            w.task.cancel()
        for w in self.workers.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await w.task


class SignerWorker:
    def __init__(self, sub: Submitter, address: str):
        self.sub = sub
        self.address = address
        self.signer = sub.signers.get(address)
        self.lock = asyncio.Lock()  # the per-signer nonce lock
        self.wake = asyncio.Event()
        self.synced = False
        self.node_ok = True
        self.failed_at = 0.0  # monotonic time of the last node error
        self.failures = 0  # node errors without a node answer in between (back-off)
        self.misses: dict[str, float] = {}  # op id -> when its consumed nonce first showed no receipt
        # op id -> (when, "ours" | "none"): last search of the blocks for the tx at its nonce
        self.searched: dict[str, tuple[float, str]] = {}
        self.head = 0  # the last chain head seen
        self.high_head = 0  # the highest chain head seen (a lower one later: blocks were lost)
        self.recheck = False  # look for mined/confirmed operations whose block is gone
        self.signed_head: dict[str, int] = {}  # op id -> the head when it was signed (search lower bound)
        self.unsent = True  # look for signed but unsent transactions (set again by every recovery path)
        self._gas_price: int | None = None
        self.unlocked = False
        self.unlock_retry_at = 0.0  # monotonic time of the next decryption attempt after a failure
        self.unlock_error: dict[str, Any] | None = None
        self.task = asyncio.create_task(self.run(), name=f"signer-{address}")

    @property
    def s(self) -> Settings:
        return self.sub.settings

    def session(self) -> Session:
        return Session(self.sub.engine, expire_on_commit=False)

    async def save(self, ops: list[Operation], finals: dict[str, OpState] | None = None) -> None:
        """Store the changed operations in one transaction (in a worker thread); those named in
        `finals` move to that final state through ``finish`` (webhook outbox included)."""
        def store() -> None:
            with self.session() as s:
                for op in ops:
                    if finals and op.id in finals:
                        self.finish(s, op, finals[op.id])
                    else:
                        s.add(op)
                s.commit()

        if ops:
            await self.db(store)

    async def db(self, fn: Callable[[], T]) -> T:
        """Run store work (and signing) in a worker thread: one slow database round trip (or a
        slow signer) must not stall the event loop, and with it every other signer."""
        return await asyncio.to_thread(fn)

    def finish(self, s: Session, op: Operation, state: OpState) -> None:
        """Every move to a final state goes through here: with a webhook URL, its durable delivery
        (``gw_webhook_outbox``) is committed with it."""
        finish(s, op, state, webhooks=bool(self.s.webhook_url))

    async def run(self) -> None:
        logs.signer.set(self.address)  # every line this worker logs names its signer
        while True:
            try:
                busy = await self.step()
                self.node_ok, self.failures = True, 0
            except asyncio.CancelledError:
                raise
            except NodeUnavailable:
                # a transient error (5xx, timeout, reset, a garbled answer) is retried with back-off;
                # what was sent before it stays sent. Only an outage (OUTAGE_FAILURES errors and no
                # answer for resend_after_s: the node may have restarted and lost its pool) re-syncs
                # and re-broadcasts everything.
                now, last_ok = time.monotonic(), self.sub.rpc.last_ok
                self.failures = 1 if last_ok > self.failed_at else self.failures + 1
                self.node_ok, self.failed_at = False, now
                if self.failures >= OUTAGE_FAILURES and now - last_ok >= self.s.resend_after_s:
                    self.synced = False
                await asyncio.sleep(min(NODE_RETRY_CAP_S, self.s.node_retry_s * 2 ** min(self.failures - 1, 10)))
                continue
            except Exception:
                log.exception("signer worker %s: unexpected error; re-syncing", self.address)
                self.synced = False
                await asyncio.sleep(self.s.node_retry_s)
                continue
            if not self.unlocked:  # the key cannot be decrypted: new work or the next attempt wakes it
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), max(0.0, self.unlock_retry_at - time.monotonic()))
            elif busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), self.s.poll_interval_s)
            else:
                await self.wake.wait()
            self.wake.clear()

    async def step(self) -> bool:
        if not await self.unlock():
            await self.show_locked(self.unlock_error)
            return False
        if not await self.sub.may_sign():
            if self.sub.lock_error is not None:
                await self.show_locked(self.sub.lock_error)
                await asyncio.sleep(LOCK_RETRY_S)
            return True
        if self.recheck:
            self.high_head = await self.sub.rpc.block_number()
            await rewind(self, self.high_head)
            self.recheck = False
        if not self.synced:
            await self.sync()
        signed = await self.sign_queued()
        if self.unsent:  # after a re-sync, a resend or a failed broadcast: whatever is unsent
            self.unsent = False
            await self.broadcast_unsent()
        elif signed:
            await self.broadcast(signed)
        return await self.track()

    # --- the key ------------------------------------------------------------------------------

    async def unlock(self) -> bool:
        """Decrypt the signer's key (in a worker thread) unless done; after a failure, try again
        only after UNLOCK_RETRY_S (a wrong passphrase must not re-run scrypt every poll)."""
        if self.unlocked:
            return True
        if time.monotonic() < self.unlock_retry_at:
            return False
        try:
            await unlock_signer(self.signer)
        except (ValueError, KeyError, OSError, NoSigner) as exc:  # never log the passphrase or the key
            reason = {
                ValueError: "wrong passphrase or corrupt keystore file", KeyError: "corrupt keystore file",
            }.get(type(exc), "no readable passphrase or keystore file")
            self.unlock_retry_at = time.monotonic() + UNLOCK_RETRY_S
            self.unlock_error = {
                "code": "SIGNER_LOCKED",
                "message": f"the gateway cannot decrypt this account's key ({reason}); "
                f"the operation waits, next attempt in {UNLOCK_RETRY_S:.0f} s",
            }
            log.error("signer %s: cannot decrypt its key (%s: %s); its operations wait, next attempt in %.0f s",
                      self.address, type(exc).__name__, reason, UNLOCK_RETRY_S)
            return False
        self.unlocked, self.unlock_error = True, None
        return True

    async def show_locked(self, error: dict[str, Any] | None) -> None:
        """Put why nothing is signed (the key cannot be decrypted, the store's lock is lost) in the
        `error` of the signer's queued operations."""
        def store() -> list[Operation]:
            changed: list[Operation] = []
            with self.session() as s:
                for op in s.exec(
                    select(Operation).where(Operation.signer == self.address, Operation.state == OpState.queued)
                ).all():
                    if op.error != error:
                        op.error, op.updated_at = error, utcnow()
                        s.add(op)
                        changed.append(op)
                s.commit()
            return changed

        for op in await self.db(store):
            publish(self.sub.bus, op)

    # --- nonces -------------------------------------------------------------------------------

    async def gas_price(self) -> int:
        if not self.s.gas_price_from_node:
            return self.s.gas_price_wei
        if self._gas_price is None:
            self._gas_price = await self.sub.rpc.gas_price()
        return self._gas_price

    async def sync(self) -> None:
        rpc = self.sub.rpc
        latest, pending = await rpc.batch(
            [
                ("eth_getTransactionCount", [self.address, "latest"]),
                ("eth_getTransactionCount", [self.address, "pending"]),
            ]
        )
        if isinstance(latest, RpcError) or isinstance(pending, RpcError):
            raise NodeUnavailable("cannot read the account nonce")
        chain_latest, chain_pending = int(latest, 16), int(pending, 16)
        self._gas_price = None
        gas_price = await self.gas_price()

        def store() -> None:
            fillers: list[Operation] = []
            with self.session() as s:
                ns = s.get(NonceState, self.address.lower()) or NonceState(account=self.address.lower())
                outstanding = s.exec(
                    select(Operation).where(Operation.signer == self.address, Operation.state == OpState.submitted)
                ).all()
                ours = {op.nonce for op in outstanding}
                next_nonce = max(ns.next_nonce, chain_latest, chain_pending)
                for op in outstanding:  # re-broadcast everything not yet mined
                    op.sent_at = None
                    s.add(op)
                for n in range(max(chain_latest, chain_pending), ns.next_nonce):
                    if n not in ours:
                        fillers.append(self._filler(n, gas_price))
                for f in fillers:
                    s.add(f)
                if fillers:
                    log.warning("signer %s: filling nonce gaps %s", self.address, [f.nonce for f in fillers])
                ns.next_nonce = next_nonce
                ns.updated_at = utcnow()
                s.add(ns)
                s.commit()

        async with self.lock:
            await self.db(store)
        self.unsent = True
        self.synced = True

    def _filler(self, nonce: int, gas_price: int) -> Operation:
        tx = {
            "chainId": self.sub.chain_id, "nonce": nonce, "to": self.address, "value": 0,
            "data": b"", "gas": 21_000, "gasPrice": gas_price,
        }
        raw, h = self.signer.sign_transaction(tx)
        return Operation(
            id=str(uuid.uuid4()), api_account=self.address, signer=self.address, kind=NONCE_FILL,
            contract="-", to_address=self.address, data="0x", args={"nonce": nonce}, request_hash="-",
            state=OpState.submitted, nonce=nonce, gas_limit=21_000, gas_price=gas_price,
            tx_hash=h, tx_hashes=[h], raw_tx=raw,
        )

    async def sign_queued(self) -> list[Operation]:
        gas_price = await self.gas_price()

        def store() -> list[Operation]:
            with self.session() as s:
                ops = s.exec(
                    select(Operation)
                    .where(Operation.signer == self.address, Operation.state == OpState.queued)
                    .order_by(col(Operation.seq))
                    .limit(self.s.max_batch)
                ).all()
                if not ops:
                    return []
                ns = s.get(NonceState, self.address.lower()) or NonceState(account=self.address.lower())
                now = utcnow()
                for op in ops:
                    tx = {
                        "chainId": self.sub.chain_id, "nonce": ns.next_nonce, "to": op.to_address, "value": 0,
                        "data": op.data, "gas": op.gas_limit, "gasPrice": gas_price,
                    }
                    raw, h = self.signer.sign_transaction(tx)
                    op.nonce, op.tx_hash, op.tx_hashes, op.raw_tx = ns.next_nonce, h, [h], raw
                    op.gas_price, op.state, op.sent_at, op.updated_at = gas_price, OpState.submitted, None, now
                    _clear_pending_error(op)
                    op.attempts += 1
                    ns.next_nonce += 1
                    s.add(op)
                ns.updated_at = now
                s.add(ns)
                s.commit()  # nonce + signed tx durable before the broadcast
            return list(ops)

        async with self.lock:
            ops = await self.db(store)
        for op in ops:
            self.signed_head[op.id] = self.head
            publish(self.sub.bus, op)
        return ops

    async def broadcast_unsent(self) -> None:
        def load() -> list[Operation]:
            with self.session() as s:
                return list(s.exec(
                    select(Operation)
                    .where(
                        Operation.signer == self.address,
                        Operation.state == OpState.submitted,
                        col(Operation.sent_at).is_(None),
                    )
                    .order_by(col(Operation.nonce))
                ).all())

        ops = await self.db(load)
        if ops:
            await self.broadcast(ops)

    async def broadcast(self, ops: list[Operation]) -> None:
        self.unsent = True  # until every send below has an answer
        results: list[Any] = []
        down: NodeUnavailable | None = None
        try:
            if self.s.send_batch:  # one JSON-RPC batch (nodes that keep a batch's order)
                for i in range(0, len(ops), self.s.max_batch):
                    chunk = ops[i : i + self.s.max_batch]
                    results += await self.sub.rpc.batch([("eth_sendRawTransaction", [op.raw_tx]) for op in chunk])
            else:  # one after another, in nonce order: a node never sees a nonce before its predecessor
                for op in ops:
                    results += await self.sub.rpc.batch([("eth_sendRawTransaction", [op.raw_tx])])
        except NodeUnavailable as exc:  # the answers so far count; the rest is sent again
            down = exc
        now = utcnow()
        unsent = down is not None
        refused: list[tuple[Operation, RpcError]] = []
        sent: list[Operation] = []
        for op, res in zip(ops, results, strict=False):
            if isinstance(res, RpcError):
                msg = res.message
                if has(msg, TOO_HIGH):
                    self.synced = False  # a lower nonce is missing: re-sync fills it
                    unsent = True
                    continue
                if not (has(msg, KNOWN) or has(msg, TOO_LOW) or has(msg, UNDERPRICED)):
                    refused.append((op, res))
                    continue
            op.sent_at = now
            if op.accepted_at is None and (not isinstance(res, RpcError) or has(res.message, KNOWN)):
                op.accepted_at = now  # the node has it: from now on it may be mined
            _clear_pending_error(op)
            sent.append(op)

        def store() -> None:
            with self.session() as s:
                for op in sent:
                    s.add(op)
                s.commit()

        await self.db(store)
        self.unsent = unsent
        for op, err in refused:
            await self.refused(op, err)
        if down is not None:
            raise down

    async def refused(self, op: Operation, err: RpcError) -> None:
        """The node refused a send. The operation fails only if that cannot lose a transaction: the
        refusal is a definitive one (``node_errors.DEFINITIVE``: any other error, "internal error"
        included, may hide a transaction the node took), the node never accepted any of its
        transactions, knows none of its hashes now, and it is not a filler. Otherwise the refusal is
        shown in `error` and the send retried after resend_after_s (the receipt decides)."""
        known: list[Any] = []
        if op.kind != NONCE_FILL and op.accepted_at is None and definitive(err.message):
            known = await self.sub.rpc.batch([("eth_getTransactionByHash", [h]) for h in op.tx_hashes])
            if all(r is None for r in known):
                await self.reject(op, err)
                return
        log.warning("signer %s: node refused nonce %s (%s): kept, sent again in %ss",
                    self.address, op.nonce, err.message[:200], self.s.resend_after_s, extra={"operation_id": op.id})

        def store() -> Operation | None:
            with self.session() as s:
                fresh = s.get(Operation, op.seq)
                if fresh is None or fresh.state != OpState.submitted or fresh.raw_tx != op.raw_tx:
                    return None
                now = utcnow()
                fresh.sent_at = now  # an attempt: the resend timer applies, not the next poll
                if fresh.accepted_at is None and any(isinstance(r, dict) for r in known):
                    fresh.accepted_at = now  # the node knows one of its transactions
                fresh.error = {"code": "SEND_REFUSED", "message": err.message[:500]}
                s.add(fresh)
                s.commit()
                return fresh

        fresh = await self.db(store)
        if fresh is not None:
            publish(self.sub.bus, fresh)

    async def reject(self, op: Operation, err: RpcError) -> None:
        """The node refused a transaction it never had: the operation fails and its nonce is filled."""
        assert op.kind != NONCE_FILL, "a filler is never failed (another filler would replace it)"
        log.warning("signer %s: node refused nonce %s: %s", self.address, op.nonce, err.message,
                    extra={"operation_id": op.id})
        gas_price = await self.gas_price()

        def store() -> Operation | None:
            with self.session() as s:
                fresh = s.get(Operation, op.seq)
                if fresh is None or fresh.state != OpState.submitted or fresh.accepted_at is not None:
                    return None
                fresh.error = {"code": "SEND_REJECTED", "message": err.message[:500]}
                fresh.updated_at = utcnow()
                self.finish(s, fresh, OpState.failed)
                assert fresh.nonce is not None
                s.add(self._filler(fresh.nonce, gas_price))
                s.commit()
                return fresh

        async with self.lock:
            fresh = await self.db(store)
        if fresh is None:
            return
        self.unsent = True
        publish(self.sub.bus, fresh)

    # --- receipts -----------------------------------------------------------------------------

    async def track(self) -> bool:
        def load() -> tuple[list[Operation], int | None]:
            with self.session() as s:
                outstanding = s.exec(
                    select(Operation)
                    .where(
                        Operation.signer == self.address,
                        col(Operation.state).in_([OpState.submitted, OpState.mined]),
                    )
                    .order_by(col(Operation.nonce))
                ).all()
                queued = s.exec(
                    select(Operation.seq)
                    .where(Operation.signer == self.address, Operation.state == OpState.queued)
                    .limit(1)
                ).first()
            return list(outstanding), queued

        outstanding, queued = await self.db(load)
        if not outstanding:
            return queued is not None
        rpc = self.sub.rpc
        count_hex, head_hex = await rpc.batch(
            [("eth_getTransactionCount", [self.address, "latest"]), ("eth_blockNumber", [])]
        )
        if isinstance(count_hex, RpcError) or isinstance(head_hex, RpcError):
            raise NodeUnavailable("cannot read the chain head")
        chain_nonce, head = int(count_hex, 16), int(head_hex, 16)
        self.head = head
        if head < self.high_head:  # the chain lost blocks: re-check before acting on anything
            log.error("signer %s: the chain head went back from %s to %s", self.address, self.high_head, head)
            self.recheck = True
            return True
        self.high_head = head
        mined = [op for op in outstanding if op.state == OpState.submitted and (op.nonce or 0) < chain_nonce]
        calls = [("eth_getTransactionReceipt", [h]) for op in mined for h in op.tx_hashes]
        receipts: list[Any] = []
        for i in range(0, len(calls), self.s.max_batch):
            receipts += await rpc.batch(calls[i : i + self.s.max_batch])
        changed: list[Operation] = []
        unproven: list[Operation] = []
        now = utcnow()
        it = iter(receipts)
        found_by_id: dict[str, dict[str, Any]] = {}
        for op in mined:
            for _ in op.tx_hashes:
                r = next(it)
                if isinstance(r, dict) and r.get("blockNumber"):
                    found_by_id[op.id] = r
            if op.id in found_by_id:
                self.forget(op.id)
                continue
            # the nonce is used but no receipt of ours (yet): a lagging receipt index, or a
            # transaction that is not ours. After a while the chain's blocks are searched for the
            # transaction at that nonce; only one proven foreign re-queues the operation.
            first = self.misses.setdefault(op.id, time.monotonic())
            if time.monotonic() - first >= max(1.0, self.s.resend_after_s):
                unproven.append(op)
        requeue, unresolved = await resolve_missing(self, unproven, head)
        finals: dict[str, OpState] = {}
        for op in mined:
            found = found_by_id.get(op.id)
            if found is None:
                continue
            op.tx_hash = found["transactionHash"]
            op.block_number = int(found["blockNumber"], 16)
            op.block_hash = found["blockHash"]
            op.gas_used = int(found["gasUsed"], 16)
            op.updated_at = now
            op.accepted_at = op.accepted_at or now
            if int(found.get("status", "0x1"), 16) == 1:
                op.state = OpState.mined
                op.result = parse_result(self.sub.contracts, found.get("logs", []))
                _clear_pending_error(op)
            else:
                op.error = await revert_reason(self.sub.rpc, self.sub.contracts, op)
                finals[op.id] = OpState.failed
            changed.append(op)
        for op in unresolved:
            op.error, op.updated_at = unresolved_error(self, op), now
            changed.append(op)
        for op in requeue:
            log.warning("signer %s: nonce %s was taken by another transaction (outside the gateway); "
                        "re-queueing", self.address, op.nonce)
            op.state, op.nonce, op.raw_tx, op.sent_at, op.tx_hash = OpState.queued, None, None, None, None
            op.tx_hashes = []
            # its transactions can never be mined (their nonce went to another one): the next
            # one it is signed with starts afresh
            op.accepted_at = None
            op.updated_at = now
            self.forget(op.id)
            changed.append(op)
        await self.save(changed, finals)
        for op in changed:
            publish(self.sub.bus, op)
        await self.confirm([op for op in outstanding if op.state == OpState.mined], head)
        await self.unstick([op for op in outstanding if op.state == OpState.submitted], chain_nonce)
        if requeue:
            self.synced = False
        return True

    def publish(self, op: Operation) -> None:
        publish(self.sub.bus, op)

    def forget(self, op_id: str) -> None:
        self.misses.pop(op_id, None)
        self.searched.pop(op_id, None)
        self.signed_head.pop(op_id, None)

    async def confirm(self, ops: list[Operation], head: int) -> None:
        depth = max(1, self.s.confirmations)
        ready = [op for op in ops if op.block_number is not None and head - op.block_number + 1 >= depth]
        if not ready:
            return
        if depth > 1:  # the receipt must still be in the same block (no reorg)
            receipts = await self.sub.rpc.batch([("eth_getTransactionReceipt", [op.tx_hash]) for op in ready])
        else:
            receipts = [{"blockHash": op.block_hash} for op in ready]
        now = utcnow()
        done: list[Operation] = []
        finals: dict[str, OpState] = {}
        for op, r in zip(ready, receipts, strict=True):
            if isinstance(r, RpcError):
                continue  # no answer (a reply missing from the batch, a node error): next round
            done.append(op)
            op.updated_at = now
            if isinstance(r, dict) and r.get("blockHash") == op.block_hash:
                finals[op.id] = OpState.confirmed
                if op.block_number is not None and op.block_hash:
                    self.sub.watch.confirmed(op.block_number, op.block_hash)
            else:  # reorged out: track it again
                op.state, op.block_number, op.block_hash, op.sent_at = OpState.submitted, None, None, None
                self.unsent = True
        await self.save(done, finals)
        for op in done:
            if finals.get(op.id) == OpState.confirmed:
                metrics.CONFIRMATION_SECONDS.observe((now - metrics.aware(op.created_at)).total_seconds())
            publish(self.sub.bus, op)

    async def unstick(self, pending: list[Operation], chain_nonce: int) -> None:
        head_op = next((op for op in pending if op.nonce == chain_nonce), None)
        if head_op is None or head_op.sent_at is None:
            return
        now = utcnow()
        if now - head_op.updated_at > timedelta(seconds=self.s.bump_after_s):  # signed that long ago
            await self.bump(head_op)
        elif now - head_op.sent_at > timedelta(seconds=self.s.resend_after_s):
            log.info("signer %s: re-broadcasting from nonce %s", self.address, chain_nonce)
            metrics.RESENDS.inc()
            again = [op for op in pending if (op.nonce or 0) >= chain_nonce]
            for op in again:
                op.sent_at = None
            await self.save(again)
            self.unsent = True

    async def bump(self, op: Operation) -> None:
        """Re-sign the stuck tx at the same nonce with a higher gas price."""
        old = op.gas_price or 0
        new = max(old * (100 + self.s.fee_bump_percent) // 100, old + 1)
        balance = int(await self.sub.rpc.call("eth_getBalance", self.address, "latest"), 16)
        if balance < new * op.gas_limit:
            # cannot pay a higher fee (always so on a free-gas network: members' keys hold no ether):
            # re-broadcast as is, and restart the bump clock (updated_at) so the next attempt is
            # bump_after_s away, not the next poll
            log.info("signer %s: nonce %s stuck and no funds for a higher fee; re-broadcasting", self.address, op.nonce)

            def restart() -> None:
                with self.session() as s:
                    fresh = s.get(Operation, op.seq)
                    if fresh is not None and fresh.state == OpState.submitted:
                        fresh.sent_at = None
                        fresh.updated_at = utcnow()
                        s.add(fresh)
                        s.commit()

            await self.db(restart)
            metrics.RESENDS.inc()
            self.unsent = True
            return
        tx = {
            "chainId": self.sub.chain_id, "nonce": op.nonce, "to": op.to_address, "value": 0,
            "data": op.data, "gas": op.gas_limit, "gasPrice": new,
        }
        log.warning("signer %s: nonce %s stuck; re-signing with gas price %s", self.address, op.nonce, new,
                    extra={"operation_id": op.id})

        def resign() -> None:
            raw, h = self.signer.sign_transaction(tx)
            with self.session() as s:
                fresh = s.get(Operation, op.seq)
                if fresh is None or fresh.state != OpState.submitted:
                    return
                fresh.gas_price, fresh.raw_tx, fresh.tx_hash = new, raw, h
                fresh.tx_hashes = [*fresh.tx_hashes, h]
                fresh.attempts += 1
                fresh.sent_at = None
                fresh.updated_at = utcnow()
                s.add(fresh)
                s.commit()

        await self.db(resign)
        metrics.FEE_BUMPS.inc()
        self.unsent = True
