"""Nonce assignment and sync, one part of a signer's worker (``submitter.SignerWorker``).

* ``sign_queued``: holding the signer's lock, queued operations get consecutive nonces from
  ``NonceState``, are signed, and nonce + signed raw tx + state ``submitted`` are committed in one
  transaction *before* anything is broadcast;
* ``sync`` (on start, after an outage, a lost store lock, a nonce proven foreign): next nonce =
  max(store, chain pending); every unmined signed tx is marked for re-broadcast as is, and nonces
  nobody holds below the store's next nonce are filled with a 0-value self-transfer
  (``system.nonce_fill``) so later ones are not stuck."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select

from chain_gateway.errors import NodeUnavailable
from chain_gateway.models import NONCE_FILL, NonceState, Operation, OpState, utcnow
from chain_gateway.worker import WorkerState, without_pending_error
from scf_core.rpc import RpcError

log = logging.getLogger("chain_gateway.submitter")

SIGNED_COLUMNS = ("nonce", "tx_hash", "tx_hashes", "raw_tx", "gas_price", "state", "sent_at", "updated_at", "error",
                  "attempts")
_OPERATIONS = Operation.__table__  # type: ignore[attr-defined]
# a queued operation signed: its nonce, signed transaction and state, by its seq
SIGNED = (
    update(_OPERATIONS)
    .where(_OPERATIONS.c.seq == bindparam("k_seq"))
    .values({name: bindparam(name) for name in SIGNED_COLUMNS})
)


class NonceAssignment(WorkerState):
    async def gas_price(self) -> int:
        if not self.s.gas_price_from_node:
            return self.s.gas_price_wei
        if self._gas_price is None:
            self._gas_price = await self.rpc.gas_price()
        return self._gas_price

    async def sync(self) -> None:
        rpc = self.rpc
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
            "chainId": self.chain_id, "nonce": nonce, "to": self.address, "value": 0,
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
                rows: list[dict[str, Any]] = []
                for op in ops:
                    tx = {
                        "chainId": self.chain_id, "nonce": ns.next_nonce, "to": op.to_address, "value": 0,
                        "data": op.data, "gas": op.gas_limit, "gasPrice": gas_price,
                    }
                    raw, h = self.signer.sign_transaction(tx)
                    rows.append({
                        "k_seq": op.seq, "nonce": ns.next_nonce, "tx_hash": h, "tx_hashes": [h], "raw_tx": raw,
                        "gas_price": gas_price, "state": OpState.submitted, "sent_at": None, "updated_at": now,
                        "error": without_pending_error(op.error), "attempts": op.attempts + 1,
                    })
                    ns.next_nonce += 1
                # one statement for all (the unit of work's per-object flush cost more than the signing)
                s.execute(SIGNED, rows)  # type: ignore[call-overload]
                ns.updated_at = now
                s.add(ns)
                s.commit()  # nonce + signed tx durable before the broadcast
            for op, row in zip(ops, rows, strict=True):  # the loaded objects as stored, nothing left to flush
                for name in SIGNED_COLUMNS:
                    set_committed_value(op, name, row[name])
            return list(ops)

        async with self.lock:
            ops = await self.db(store)
        for op in ops:
            self.signed_head[op.id] = self.head
            self.publish(op)
        return ops
