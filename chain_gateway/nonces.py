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

from sqlmodel import col, select

from chain_gateway.errors import NodeUnavailable
from chain_gateway.models import NONCE_FILL, NonceState, Operation, OpState, utcnow
from chain_gateway.worker import WorkerState, clear_pending_error
from scf_core.rpc import RpcError

log = logging.getLogger("chain_gateway.submitter")


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
                for op in ops:
                    tx = {
                        "chainId": self.chain_id, "nonce": ns.next_nonce, "to": op.to_address, "value": 0,
                        "data": op.data, "gas": op.gas_limit, "gasPrice": gas_price,
                    }
                    raw, h = self.signer.sign_transaction(tx)
                    op.nonce, op.tx_hash, op.tx_hashes, op.raw_tx = ns.next_nonce, h, [h], raw
                    op.gas_price, op.state, op.sent_at, op.updated_at = gas_price, OpState.submitted, None, now
                    clear_pending_error(op)
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
            self.publish(op)
        return ops
