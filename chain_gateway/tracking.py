"""Receipts and confirmation, one part of a signer's worker (``submitter.SignerWorker``).

``track``: any nonce below the chain's ``latest`` count is mined; its receipt is looked up among
every hash that operation was signed with (fee bumps keep the nonce), and it moves to mined ->
confirmed | failed (``confirm``: ``confirmations`` deep, still in the same block). A nonce the chain
consumed without a receipt of ours sends the operation back to the queue for a fresh nonce only
when the chain's blocks prove another transaction took it (``evidence``); no evidence: it waits
(``NONCE_UNRESOLVED`` after ``evidence_alert_s``), never signed twice. A chain head lower than one
seen before (lost blocks) asks for a re-check (``recovery``) before anything else."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from chain_gateway import metrics
from chain_gateway.broadcast import Broadcasting
from chain_gateway.errors import NodeUnavailable
from chain_gateway.evidence import resolve_missing, unresolved_error
from chain_gateway.models import Operation, OperationOut, OpState, utcnow
from chain_gateway.receipts import parse_result, revert_reason
from chain_gateway.worker import clear_pending_error
from scf_core.rpc import RpcError

log = logging.getLogger("chain_gateway.submitter")

FULL_PASS_S = 1.0  # the longest a worker with outstanding operations goes without reading them


def mined_state(op: Operation) -> dict[str, Any]:
    """The JSON of an operation's mined state (published once it is stored, with its confirmation)."""
    return OperationOut.of(op).model_dump(mode="json")


class Tracking(Broadcasting):
    async def track(self) -> bool:
        # with operations outstanding, the chain first: while neither the account's mined nonce
        # nor the head moved since the last full pass, and that pass is recent (FULL_PASS_S; the
        # resend and evidence timers need no finer grain), nothing can have changed: they are not
        # read from the store on every poll (hundreds of rows, 20 times a second, on a 1 s block
        # node). Without any, the store first, as ever: an idle worker does not call the node.
        probe: tuple[int, int] | None = None
        if self.tracking:
            probe = await self.probe()
            if probe == self.last_probe and time.monotonic() < self.next_full_pass:
                return True

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
        self.tracking = bool(outstanding)
        if not outstanding:
            self.last_probe = None
            return queued is not None
        if probe is None:
            probe = await self.probe()
        self.last_probe = probe
        self.next_full_pass = time.monotonic() + min(FULL_PASS_S, self.s.resend_after_s / 4)
        rpc = self.rpc
        chain_nonce, head = probe
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
            self.last_probe = None  # a mined nonce without its receipt yet: look again next poll
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
                op.result = parse_result(self.contracts, found.get("logs", []))
                clear_pending_error(op)
            else:
                op.error = await revert_reason(self.rpc, self.contracts, op)
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
        # one confirmation (the default): a receipt is final at once (it proves its block is on the
        # chain, even one newer than the head probed above), so its mined and confirmed states are
        # stored in one write, not one pass each
        at_once = [
            op for op in changed
            if self.s.confirmations <= 1 and op.state == OpState.mined and op.id not in finals
        ]
        mined_states = {op.id: mined_state(op) for op in at_once if self.bus.wants(op.id, False)}
        for op in at_once:
            finals[op.id] = OpState.confirmed
        await self.save(changed, finals)
        for op in changed:
            if op.id in mined_states:  # subscribers and webhooks still see the mined state first
                self.bus.publish(mined_states[op.id])
            self.publish(op)
        self.confirmed(at_once, now)
        await self.confirm([op for op in outstanding if op.state == OpState.mined], head)
        await self.unstick([op for op in outstanding if op.state == OpState.submitted], chain_nonce)
        if requeue:
            self.synced = False
        return True

    async def probe(self) -> tuple[int, int]:
        """(the account's mined nonce, the chain head)."""
        count_hex, head_hex = await self.rpc.batch(
            [("eth_getTransactionCount", [self.address, "latest"]), ("eth_blockNumber", [])]
        )
        if isinstance(count_hex, RpcError) or isinstance(head_hex, RpcError):
            raise NodeUnavailable("cannot read the chain head")
        return int(count_hex, 16), int(head_hex, 16)

    async def confirm(self, ops: list[Operation], head: int) -> None:
        depth = max(1, self.s.confirmations)
        ready = [op for op in ops if op.block_number is not None and head - op.block_number + 1 >= depth]
        if not ready:
            return
        if depth > 1:  # the receipt must still be in the same block (no reorg)
            receipts = await self.rpc.batch([("eth_getTransactionReceipt", [op.tx_hash]) for op in ready])
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
            else:  # reorged out: track it again
                op.state, op.block_number, op.block_hash, op.sent_at = OpState.submitted, None, None, None
                self.unsent = True
        await self.save(done, finals)
        for op in done:
            self.publish(op)
        self.confirmed([op for op in done if finals.get(op.id) == OpState.confirmed], now)

    def confirmed(self, ops: list[Operation], now: datetime) -> None:
        """After operations were stored confirmed: the chain watch learns their blocks, the metric
        their time from request to confirmation."""
        for op in ops:
            if op.block_number is not None and op.block_hash:
                self.on_confirmed(op.block_number, op.block_hash)
            metrics.CONFIRMATION_SECONDS.observe((now - metrics.aware(op.created_at)).total_seconds())
