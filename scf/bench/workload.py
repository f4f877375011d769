"""A randomized lifecycle in bulk for the indexer benchmark: every kind of platform event, many
members, certificates, holdings, financing deals, settlement and currency moves, sent as blocks of
many transactions (automine off, `evm_mine` per block) from impersonated member accounts.

The generator keeps its own picture of the book (which holdings are live, whose, how much) up to
date from the decoded events of each block (`indexer.decode`), so a transaction that reverts costs
nothing but a wasted slot; it never reads contract state.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from scf_core.rpc import Rpc

DAY = 86_400
CORE, SUPPLIER, FACTOR = 1, 2, 3
GAS = hex(1_500_000)
Call = tuple[str, str, str, tuple[Any, ...]]  # sender, contract, function, arguments


def addr(i: int) -> str:
    return "0x" + f"{0x5CF00000 + i:040x}"


@dataclass
class Book:
    holdings: dict[int, dict[str, Any]] = field(default_factory=dict)  # live token -> cert, owner, value, frozen
    certs: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> debtor, payee, face, status
    offers: dict[int, dict[str, Any]] = field(default_factory=dict)  # open offer -> token, factor, seller
    events: Counter[str] = field(default_factory=Counter)
    blocks_with_events: int = 0

    def apply(self, ev: Any) -> None:
        a, name = ev.args, ev.name
        self.events[f"{ev.contract}.{name}"] += 1
        if ev.contract == "CertificateToken":
            if name == "CertificateIssued":
                self.certs[a["certificateId"]] = {"debtor": a["debtor"], "payee": a["payee"],
                                                  "face": a["faceValue"], "status": 1, "first": a["tokenId"]}
            elif name == "CertificateStatusChanged":
                self.certs[a["certificateId"]]["status"] = a["status"]
            elif name == "HoldingCreated":
                self.holdings[a["tokenId"]] = {"cert": a["certificateId"], "owner": a["owner"], "value": 0,
                                               "frozen": False}
            elif name == "TransferValue":
                if a["_fromTokenId"] in self.holdings:
                    self.holdings[a["_fromTokenId"]]["value"] -= a["_value"]
                if a["_toTokenId"] in self.holdings:
                    self.holdings[a["_toTokenId"]]["value"] += a["_value"]
            elif name == "Transfer" and "tokenId" in a:
                if int(a["to"], 16) == 0:
                    self.holdings.pop(a["tokenId"], None)
                elif a["tokenId"] in self.holdings:
                    self.holdings[a["tokenId"]]["owner"] = a["to"]
            elif name == "HoldingFrozen":
                self.holdings[a["tokenId"]]["frozen"] = a["frozen"]
        elif ev.contract == "Financing":
            if name == "OfferCreated":
                self.offers[a["offerId"]] = {"token": a["tokenId"], "factor": a["factor"], "seller": a["seller"]}
            elif name in ("OfferAccepted", "OfferCancelled"):
                self.offers.pop(a["offerId"], None)


class Workload:
    def __init__(self, url: str, manifest: Any, seed: int = 1, cores: int = 20, suppliers: int = 400,
                 factors: int = 20) -> None:
        from web3 import Web3

        from indexer.decode import Decoder

        self.rpc = Rpc(url, 300)
        self.manifest = manifest
        self.decoder = Decoder(manifest)
        self.rng = random.Random(seed)
        self.w3 = Web3()
        c = {name: self.w3.eth.contract(address=Web3.to_checksum_address(manifest.contracts[name].address),
                                        abi=manifest.contracts[name].abi)
             for name in ("Membership", "CertificateToken", "SettlementToken", "Financing", "Settlement")}
        self.c = c
        self.operator = manifest.operator
        self.cores = [addr(i) for i in range(cores)]
        self.suppliers = [addr(1000 + i) for i in range(suppliers)]
        self.factors = [addr(5000 + i) for i in range(factors)]
        self.nonces: dict[str, int] = {}
        self.book = Book()
        self.blocks = 0
        self.txs = 0

    # --- sending ------------------------------------------------------------------------------

    def _data(self, contract: str, fn: str, *args: Any) -> str:
        from web3 import Web3

        def arg(a: Any) -> Any:
            return Web3.to_checksum_address(a) if isinstance(a, str) and len(a) == 42 else a

        return str(self.c[contract].encode_abi(fn, args=[arg(a) for a in args]))

    def block(self, calls: list[Call]) -> None:
        """Send (sender, contract, function, args) as one block; update the book from its events."""
        if not calls:
            return
        txs = []
        for sender, contract, fn, args in calls:
            n = self.nonces.get(sender)
            if n is None:
                n = self.nonces[sender] = int(self.rpc.call("eth_getTransactionCount", sender, "pending"), 16)
            self.nonces[sender] = n + 1
            txs.append({"from": sender, "to": self.manifest.contracts[contract].address, "gas": GAS,
                        "gasPrice": "0x0", "nonce": hex(n), "data": self._data(contract, fn, *args)})
        self.rpc.batch([("eth_sendTransaction", [tx]) for tx in txs], chunk=500)
        self.rpc.call("evm_mine")
        self.blocks += 1
        self.txs += len(txs)
        head = self.rpc.block_number()
        logs = self.rpc.get_logs(self.decoder.addresses, head, head)
        decoded = [e for e in (self.decoder.decode(lg) for lg in logs) if e is not None]
        self.book.blocks_with_events += bool(decoded)
        for ev in sorted(decoded, key=lambda e: e.log_index):
            self.book.apply(ev)

    def doc(self) -> bytes:
        return self.rng.randbytes(32)

    # --- phases -------------------------------------------------------------------------------

    def setup(self) -> None:
        members = self.cores + self.suppliers + self.factors
        self.rpc.batch([("anvil_impersonateAccount", [a]) for a in members])
        self.rpc.call("evm_setAutomine", False)
        op = self.operator
        calls: list[Call] = [(op, "Membership", "onboard", (a, CORE, self.doc())) for a in self.cores]
        calls += [(op, "Membership", "onboard", (a, SUPPLIER, self.doc())) for a in self.suppliers]
        calls += [(op, "Membership", "onboard", (a, FACTOR, self.doc())) for a in self.factors]
        self.block(calls)
        calls = [(op, "Membership", "setCreditLimit", (a, 10**15)) for a in self.cores]
        calls += [(op, "SettlementToken", "mint", (a, 10**14)) for a in self.cores + self.factors]
        calls += [(op, "Membership", "updateKyc", (a, self.doc())) for a in self.suppliers[:20]]
        calls += [(op, "Settlement", "setGracePeriod", (3 * DAY,))]
        self.block(calls)

    def now(self) -> int:
        return int(self.rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16)

    def issue(self, n: int) -> None:
        now = self.now()
        calls: list[Call] = []
        for _ in range(n):
            core = self.rng.choice(self.cores)
            calls.append((core, "CertificateToken", "issue",
                          (self.rng.choice(self.suppliers), self.rng.randint(10**5, 10**8),
                           now + self.rng.randint(30, 90) * DAY, self.doc())))
        self.block(calls)
        pending = [(cid, c) for cid, c in self.book.certs.items() if c["status"] == 1]
        calls = [(str(c["payee"]), "CertificateToken", "reject" if self.rng.random() < 0.1 else "accept", (cid,))
                 for cid, c in pending]
        self.block(calls)

    def trade(self, txs: int) -> None:
        """One block of up to `txs` transactions; each holding is used once in it."""
        b, rng, op = self.book, self.rng, self.operator
        active = {cid for cid, c in b.certs.items() if c["status"] == 2}
        live = [t for t, h in b.holdings.items() if h["value"] > 0 and h["cert"] in active]
        rng.shuffle(live)
        used: set[int] = set()
        calls: list[Call] = []
        holders = self.suppliers + self.factors
        by_cert: dict[int, list[int]] = {}
        for t in live:
            by_cert.setdefault(b.holdings[t]["cert"], []).append(t)
        for oid, o in list(b.offers.items())[: txs // 10]:  # offers of the last block: most accepted
            if o["token"] in used:
                continue
            used.add(o["token"])
            if rng.random() < 0.8:
                calls.append((o["factor"], "Financing", "acceptOffer", (oid,)))
            else:
                calls.append((o["seller"], "Financing", "cancelOffer", (oid,)))
        for t in live:
            if len(calls) >= txs:
                break
            if t in used:
                continue
            h = b.holdings[t]
            owner, value = h["owner"], h["value"]
            used.add(t)
            if h["frozen"]:
                calls.append((op, "CertificateToken", "unfreeze", (t, self.doc())))
                continue
            r = rng.random()
            if r < 0.50:
                to = rng.choice(holders)
                calls.append((owner, "CertificateToken", "splitTransfer", (t, to, rng.randint(1, value), self.doc())))
            elif r < 0.60:
                others = [o for o in by_cert[h["cert"]] if o not in used]
                if others:
                    dst = others[0]
                    used.add(dst)
                    calls.append((owner, "CertificateToken", "transferFrom(uint256,uint256,uint256)",
                                  (t, dst, rng.randint(1, value))))
            elif r < 0.70:
                to = rng.choice([a for a in holders if a != owner][:50])
                calls.append((owner, "CertificateToken", "transferFrom(address,address,uint256)", (owner, to, t)))
            elif r < 0.85 and owner not in self.factors:
                factor = rng.choice(self.factors)
                expires = self.now_cache + 5 * DAY
                calls.append((owner, "Financing", "createOffer",
                              (t, rng.randint(1, value), factor, rng.randint(100, 900), expires, False, self.doc())))
            elif r < 0.88:
                calls.append((op, "CertificateToken", "freeze", (t, self.doc())))
            else:
                a, c = rng.sample(self.cores + self.factors, 2)
                calls.append((a, "SettlementToken", "transfer", (c, rng.randint(1, 10_000))))
        self.block(calls)

    def admin(self) -> None:
        """Member suspension and reinstatement, an emergency pause and resume (blocks of their own)."""
        op, m = self.operator, self.rng.choice(self.suppliers)
        self.block([(op, "Membership", "setActive", (m, False))])
        self.block([(op, "Membership", "setActive", (m, True)), (op, "Membership", "pause", ())])
        self.block([(op, "Membership", "unpause", ())])

    def settle(self) -> None:
        """Past every maturity: repay in full, in part, or mark overdue; then redeem and settle in batches."""
        self.rpc.call("evm_increaseTime", 100 * DAY)
        self.block([(self.operator, "CertificateToken", "unfreeze", (t, self.doc()))
                    for t, h in self.book.holdings.items() if h["frozen"]])
        calls: list[Call] = []
        for cid, c in self.book.certs.items():
            if c["status"] != 2:
                continue
            r = self.rng.random()
            if r < 0.5:
                calls.append((c["debtor"], "Settlement", "repay", (cid, c["face"])))
            elif r < 0.8:
                calls.append((c["debtor"], "Settlement", "repay", (cid, c["face"] // 3)))
            else:
                calls.append((self.operator, "Settlement", "markOverdue", (cid,)))
        self.block(calls)
        by_cert: dict[int, list[int]] = {}
        for t, h in self.book.holdings.items():
            if h["value"] > 0:
                by_cert.setdefault(h["cert"], []).append(t)
        calls = []
        for cid, tokens in by_cert.items():
            debtor = self.book.certs[cid]["debtor"]
            if self.rng.random() < 0.5:
                for i in range(0, len(tokens), 20):
                    calls.append((debtor, "Settlement", "settleBatch", (tokens[i : i + 20],)))
            else:
                calls += [(self.book.holdings[t]["owner"], "Settlement", "redeem", (t,)) for t in tokens]
        for i in range(0, len(calls), 1500):
            self.block(calls[i : i + 1500])

    def run(self, events: int, certificates: int = 1000, txs_per_block: int = 1500) -> dict[str, Any]:
        """Until about `events` platform events are on chain; returns what was made."""
        self.setup()
        self.issue(certificates)
        self.admin()
        while sum(self.book.events.values()) < events * 0.85:
            self.now_cache = self.now()
            self.trade(txs_per_block)
        self.settle()
        self.rpc.call("evm_setAutomine", True)
        total = sum(self.book.events.values())
        return {"events": total, "blocks": self.blocks, "blocks_with_events": self.book.blocks_with_events,
                "transactions": self.txs, "events_per_block": round(total / max(1, self.book.blocks_with_events), 1),
                "certificates": len(self.book.certs), "members": len(self.cores + self.suppliers + self.factors),
                "event_kinds": dict(sorted(self.book.events.items()))}

    now_cache = 0
