"""Broadcasting, one part of a signer's worker (``submitter.SignerWorker``).

* ``broadcast`` sends in nonce order (one request each, or one JSON-RPC batch with ``send_batch``);
  an answer "already known" / "nonce too low" / "underpriced" counts as sent, "nonce too high"
  re-syncs; after a batch the node's pending nonce must reach past the batch (``batch_gap``: a
  node may run a batch's items concurrently and park a transaction whose predecessor it had not
  seen yet): if it stops short, the transactions from there on are sent again one at a time; so is
  everything after a batch that met a node error;
* a refused send fails an operation only if the refusal is definitive (``node_errors``), the node
  never accepted any of its transactions (``accepted_at``) and knows none of its hashes; a filler is
  never failed: the refusal is shown in ``error`` and the send retried after ``resend_after_s``;
* ``unstick``: an unmined tx is re-broadcast after ``resend_after_s`` and re-signed at the same
  nonce with a higher gas price after ``bump_after_s`` (``bump``, if the account can pay)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from chain_gateway import metrics
from chain_gateway.errors import NodeUnavailable
from chain_gateway.models import NONCE_FILL, Operation, OpState, utcnow
from chain_gateway.node_errors import KNOWN, TOO_HIGH, TOO_LOW, UNDERPRICED, definitive, has
from chain_gateway.nonces import NonceAssignment
from chain_gateway.worker import clear_pending_error
from scf_core.rpc import RpcError

log = logging.getLogger("chain_gateway.submitter")


class Broadcasting(NonceAssignment):
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
        batched = self.s.send_batch and not self.in_order and len(ops) > 1
        try:
            if batched:  # one JSON-RPC batch per max_batch transactions
                for i in range(0, len(ops), self.s.max_batch):
                    chunk = ops[i : i + self.s.max_batch]
                    results += await self.rpc.batch([("eth_sendRawTransaction", [op.raw_tx]) for op in chunk])
            else:  # one after another, in nonce order: a node never sees a nonce before its predecessor
                for op in ops:
                    results += await self.rpc.batch([("eth_sendRawTransaction", [op.raw_tx])])
        except NodeUnavailable as exc:  # the answers so far count; the rest is sent again
            down = exc
            # one at a time until a round goes through: a batch fails whole when any of its items
            # meets a fault (a reset, a 502), so a node failing some requests could fail every batch
            self.in_order = self.in_order or batched
        if down is None and not batched:
            self.in_order = False  # a round one at a time went through: batches again
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
            clear_pending_error(op)
            sent.append(op)
        if batched and sent and not unsent and not refused:
            gap = await self.batch_gap(sent)
            for op in gap:
                op.sent_at = None  # sent again, one at a time in nonce order, on the next step
            unsent = unsent or bool(gap)

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

    async def batch_gap(self, sent: list[Operation]) -> list[Operation]:
        """After a batch every item of which the node took: the node's pending nonce (its next
        nonce for the signer, counting the transactions it can mine in a row) must be past the
        batch's last one. A node that runs a batch's items concurrently can take a transaction
        before its predecessor and park it (or lose it); the transactions from its pending nonce
        on are returned, to be sent again one at a time, in nonce order (``in_order``, until such a
        round goes through). No answer:
        nothing is returned (the resend timer still applies)."""
        try:
            (count,) = await self.rpc.batch([("eth_getTransactionCount", [self.address, "pending"])])
        except NodeUnavailable:
            return []
        if isinstance(count, RpcError):
            return []
        pending = int(count, 16)
        gap = [op for op in sent if (op.nonce or 0) >= pending]
        if gap:
            log.warning("signer %s: after a batched send the node's pending nonce is %s, short of %s: "
                        "sending %s transactions again one at a time", self.address, pending,
                        max(op.nonce or 0 for op in sent) + 1, len(gap))
            metrics.BATCH_GAPS.inc()
            self.in_order = True
        return gap

    async def refused(self, op: Operation, err: RpcError) -> None:
        """The node refused a send. The operation fails only if that cannot lose a transaction: the
        refusal is a definitive one (``node_errors.DEFINITIVE``: any other error, "internal error"
        included, may hide a transaction the node took), the node never accepted any of its
        transactions, knows none of its hashes now, and it is not a filler. Otherwise the refusal is
        shown in `error` and the send retried after resend_after_s (the receipt decides)."""
        known: list[Any] = []
        if op.kind != NONCE_FILL and op.accepted_at is None and definitive(err.message):
            known = await self.rpc.batch([("eth_getTransactionByHash", [h]) for h in op.tx_hashes])
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
            self.publish(fresh)

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
                self.set_final_state(s, fresh, OpState.failed)
                assert fresh.nonce is not None
                s.add(self._filler(fresh.nonce, gas_price))
                s.commit()
                return fresh

        async with self.lock:
            fresh = await self.db(store)
        if fresh is None:
            return
        self.unsent = True
        self.publish(fresh)

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
        balance = int(await self.rpc.call("eth_getBalance", self.address, "latest"), 16)
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
            "chainId": self.chain_id, "nonce": op.nonce, "to": op.to_address, "value": 0,
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
