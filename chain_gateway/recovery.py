"""Lost blocks and deep reorgs: a node restarted without its latest state, or a reorg at least as
deep as the confirmation depth, removes blocks the store calls ``mined`` / ``confirmed``.

* ``ChainWatch`` (one task per gateway) remembers the block of the latest confirmation and checks
  every ``REORG_CHECK_S`` that it is still on chain (same hash at that height, head not below it);
  when it is not, every signer with mined/confirmed operations near it is told to re-check;
* ``rewind`` (run by that signer's worker) walks the signer's mined/confirmed operations from the
  newest block down, comparing each block's hash with the stored one, until one matches; each
  operation found off chain is looked up by hash (a reorg may have re-included it elsewhere: its
  block is updated) or goes back to ``submitted`` with its own signed transaction at its own nonce
  (re-broadcast as is: it takes effect once), ``error`` = ``REORGED`` until it is mined again. The
  worker then re-syncs its nonces (no filler takes a nonce an operation still holds)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from chain_gateway.errors import NodeUnavailable
from chain_gateway.models import Operation, OpState, utcnow
from chain_gateway.worker import WorkerState
from scf_core.rpc import AsyncRpc, RpcError

log = logging.getLogger("chain_gateway.recovery")

REWIND_SCAN = 1000  # operations (newest first) compared with the chain at most per re-check
NEAR_BLOCKS = 10_000  # signers re-checked: those with operations this close below the lost block


class ChainWatch:
    def __init__(self, engine: Engine, rpc: AsyncRpc, interval_s: float, recheck: Callable[[str], None]):
        """`recheck(signer)`: tell that signer's worker to re-check its mined/confirmed operations."""
        self.engine, self.rpc, self.interval_s, self.recheck = engine, rpc, interval_s, recheck
        self.checkpoint: tuple[int, str] | None = None  # (block number, hash) of the latest confirmation
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        with Session(self.engine) as s:
            op = s.exec(
                select(Operation).where(Operation.state == OpState.confirmed, col(Operation.block_hash).is_not(None))
                .order_by(col(Operation.block_number).desc()).limit(1)
            ).first()
        if op is not None and op.block_number is not None and op.block_hash:
            self.checkpoint = (op.block_number, op.block_hash)
        self.task = asyncio.create_task(self.run(), name="chain-watch")

    def confirmed(self, block_number: int, block_hash: str) -> None:
        if self.checkpoint is None or block_number >= self.checkpoint[0]:
            self.checkpoint = (block_number, block_hash)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.check()
            except (NodeUnavailable, RpcError):
                continue  # the workers see the node's state themselves
            except Exception:
                log.exception("chain watch: unexpected error")

    async def check(self) -> None:
        if self.checkpoint is None:
            return
        number, block_hash = self.checkpoint
        block: Any = await self.rpc.call("eth_getBlockByNumber", hex(number), False)
        if isinstance(block, dict) and block.get("hash") == block_hash:
            return
        log.error("block %s (%s) of a confirmed operation is no longer on chain (lost blocks or a reorg "
                  "deeper than the confirmation depth): re-checking the signers' operations", number, block_hash)
        self.checkpoint = None

        def load() -> list[str]:
            with Session(self.engine) as s:
                return list(s.exec(
                    select(Operation.signer)
                    .where(col(Operation.state).in_([OpState.mined, OpState.confirmed]),
                           col(Operation.block_number) >= max(0, number - NEAR_BLOCKS))
                    .distinct()
                ).all())

        for signer in await asyncio.to_thread(load):
            self.recheck(signer)


async def rewind(worker: WorkerState, head: int) -> int:
    """Re-track the worker's operations whose block is no longer on chain; returns how many."""
    rpc = worker.rpc

    def load() -> list[Operation]:
        with worker.session() as s:
            return list(s.exec(
                select(Operation)
                .where(Operation.signer == worker.address,
                       col(Operation.state).in_([OpState.mined, OpState.confirmed]),
                       col(Operation.block_number).is_not(None))
                .order_by(col(Operation.block_number).desc())
                .limit(REWIND_SCAN)
            ).all())

    ops = await worker.db(load)
    hashes: dict[int, str | None] = {}
    gone: list[Operation] = []
    for op in ops:
        assert op.block_number is not None
        if op.block_number <= head and op.block_number not in hashes:
            block: Any = await rpc.call("eth_getBlockByNumber", hex(op.block_number), False)
            hashes[op.block_number] = block.get("hash") if isinstance(block, dict) else None
        if op.block_number <= head and hashes[op.block_number] == op.block_hash:
            break  # this block and every older one are on chain
        gone.append(op)
    if not gone:
        return 0
    receipts = await rpc.batch([("eth_getTransactionReceipt", [op.tx_hash]) for op in gone])
    now = utcnow()
    for op, r in zip(gone, receipts, strict=True):
        if isinstance(r, RpcError):
            raise NodeUnavailable("cannot read a receipt while re-checking lost blocks")
        op.updated_at = now
        if isinstance(r, dict) and r.get("blockNumber"):  # re-included in another block
            op.block_number, op.block_hash = int(r["blockNumber"], 16), r["blockHash"]
            continue
        log.error("signer %s: operation %s (nonce %s, %s) is no longer on chain: re-broadcasting its "
                  "transaction at its nonce", worker.address, op.id, op.nonce, op.state.value)
        op.error = {"code": "REORGED",
                    "message": f"its block {op.block_number} is no longer on chain (lost blocks or a deep "
                               "reorg): its transaction is sent again at the same nonce"}
        op.state, op.block_number, op.block_hash, op.sent_at = OpState.submitted, None, None, None
    await worker.save(gone)
    worker.synced = False  # nonces: the chain's count went back
    worker.unsent = True
    for op in gone:
        worker.publish(op)
    return len(gone)
