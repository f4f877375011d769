"""Transaction submission, one background worker per signer: the worker loop and the orchestration.

Exactly-once, crash-safe design (each part in its module, all built on ``worker.WorkerState``):
* an operation is stored ``queued`` (no nonce) before anything is signed;
* ``nonces``: the worker, holding the signer's lock, assigns consecutive nonces, signs, and commits
  nonce + signed raw tx + state ``submitted`` in one transaction *before* broadcasting; on start
  (and after any node outage) it re-syncs: next nonce = max(store, chain pending), every unmined
  signed tx is re-broadcast as is, nonce gaps are filled with 0-value self-transfers;
* ``broadcast``: sends in nonce order; a refused send fails an operation only if that cannot lose a
  transaction (``node_errors``); an unmined tx is re-broadcast after ``resend_after_s`` and
  re-signed at the same nonce with a higher gas price after ``bump_after_s``;
* ``tracking``: receipts among every hash an operation was signed with, mined -> confirmed|failed;
  a nonce consumed without a receipt of ours re-queues the operation only when the chain's blocks
  prove another transaction took it (``evidence``), never signed twice;
* here: transient node errors are retried with back-off, an outage re-syncs; nothing is signed
  unless this process holds the store's instance lock (checked every step); lost blocks / deep
  reorgs send the operations off chain back to tracking (``recovery``); store work and signing run
  in worker threads, never on the event loop; a keystore key is decrypted in a worker thread; if it
  cannot be (wrong passphrase), the signer's queued operations show ``SIGNER_LOCKED`` and the
  decryption is retried every ``UNLOCK_RETRY_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from chain_gateway.contracts import ContractSet
from chain_gateway.db import InstanceLock
from chain_gateway.errors import NodeUnavailable, NoSigner
from chain_gateway.events import EventBus
from chain_gateway.models import Operation, OpState, utcnow
from chain_gateway.recovery import ChainWatch, rewind
from chain_gateway.settings import Settings
from chain_gateway.signer import SignerRegistry
from chain_gateway.signer import unlock as unlock_signer
from chain_gateway.tracking import Tracking
from scf_core import logs
from scf_core.rpc import AsyncRpc

log = logging.getLogger("chain_gateway.submitter")

UNLOCK_RETRY_S = 30.0  # a key that cannot be decrypted: next attempt after this long
LOCK_RETRY_S = 1.0  # the store's instance lock is lost: next attempt to take it after this long
NODE_RETRY_CAP_S = 5.0  # back-off cap after node errors in a row
OUTAGE_FAILURES = 3  # node errors in a row (no answer in between) that make an outage


class Submitter:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        rpc: AsyncRpc,
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
        self._lock_waiters: list[asyncio.Future[bool]] = []  # callers of may_sign for the next check
        self._lock_task: asyncio.Task[None] | None = None
        self.watch = ChainWatch(engine, rpc, settings.reorg_check_s, lambda signer: self.notify(signer, recheck=True))

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
        re-syncs from the store and the chain first (another process may have signed meanwhile).

        Callers share checks (every write request asks): a caller gets the verdict of a check that
        started after it called, never an older one; the callers that arrive while a check runs
        share the next one (one thread hop and one store round trip per round, not per request)."""
        if self.instance_lock is None or not self.instance_lock.can_be_lost:
            return True
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._lock_waiters.append(fut)
        if self._lock_task is None or self._lock_task.done():
            # a context of its own: its log lines are not the first caller's request's
            self._lock_task = asyncio.create_task(self._check_lock(), context=contextvars.Context())
        return await fut

    async def _check_lock(self) -> None:
        while self._lock_waiters:
            waiters, self._lock_waiters = self._lock_waiters, []
            try:
                assert self.instance_lock is not None
                verdict = self._lock_verdict(await asyncio.to_thread(self.instance_lock.held))
            except BaseException as exc:  # cancelled too: no caller is left waiting
                for fut in waiters:
                    if not fut.done():
                        fut.set_exception(exc if isinstance(exc, Exception) else NodeUnavailable("cancelled"))
                if not isinstance(exc, Exception):
                    raise
                continue
            for fut in waiters:
                if not fut.done():
                    fut.set_result(verdict)

    def _lock_verdict(self, state: str) -> bool:
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


class SignerWorker(Tracking):
    """One signer's worker: the loop (``run``), one round of work (``step``), the key's unlocking."""

    def __init__(self, sub: Submitter, address: str):
        super().__init__(
            address, sub.signers.get(address), settings=sub.settings, engine=sub.engine, rpc=sub.rpc,
            contracts=sub.contracts, bus=sub.bus, chain_id=sub.chain_id, on_confirmed=sub.watch.confirmed,
        )
        self.sub = sub
        self.wake = asyncio.Event()
        self.node_ok = True
        self.failed_at = 0.0  # monotonic time of the last node error
        self.failures = 0  # node errors without a node answer in between (back-off)
        self.unlocked = False
        self.unlock_retry_at = 0.0  # monotonic time of the next decryption attempt after a failure
        self.unlock_error: dict[str, Any] | None = None
        self.task = asyncio.create_task(self.run(), name=f"signer-{address}")

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
                now, last_ok = time.monotonic(), self.rpc.last_ok
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
            self.high_head = await self.rpc.block_number()
            await rewind(self, self.high_head)
            self.recheck = False
        if not self.synced:
            await self.sync()
        signed = await self.sign_queued()
        if signed:
            self.tracking = True
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
            self.publish(op)
