"""A randomized lifecycle of the platform played with web3.py on a dev chain (anvil's unlocked
dev accounts): onboarding, credit lines, currency, issue/accept/reject, splits down several
tiers, whole transfers, financing offers (accepted and cancelled), freezes, repayment (full and
partial), redemption, overdue via evm_increaseTime."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from web3 import Web3

from indexer.pipeline import Indexer
from indexer.settings import Settings
from scf import devchain
from scf.devchain import DevChain
from scf_core.manifest import Manifest

DAY = 86_400
CORE, SUPPLIER, FACTOR, AUDITOR, CLEARING = 1, 2, 3, 4, 5


def doc(rng: random.Random) -> bytes:
    return rng.randbytes(32)


def deploy_system(chain: DevChain) -> Manifest:
    from scf.deploy import deploy, dev_operator_key

    return deploy(chain.url, dev_operator_key())


@dataclass
class Scenario:
    w3: Web3
    manifest: Manifest
    rng: random.Random
    cores: list[str] = field(default_factory=list)
    suppliers: list[str] = field(default_factory=list)
    factors: list[str] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    certificates: list[int] = field(default_factory=list)
    txs: int = 0
    # invoices and registrations draw from their own generator: the rest of the lifecycle is the
    # same for a seed as before they existed
    inv_rng: random.Random = field(default_factory=random.Random)
    invoice_keys: list[bytes] = field(default_factory=list)

    @classmethod
    def connect(cls, url: str, manifest: Manifest, seed: int = 0) -> Scenario:
        w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 60}))
        s = cls(w3, manifest, random.Random(seed), inv_rng=random.Random(seed + 0x1ABE1))
        accts = w3.eth.accounts
        s.operator = accts[0]
        s.cores = list(accts[1:3])
        s.suppliers = list(accts[3:11])
        s.factors = list(accts[11:13])
        s.auditor = accts[13]
        s.clearing = accts[14]  # the clearing agent: mints and burns the currency
        s.membership = manifest.contract(w3, "Membership")
        s.currency = manifest.contract(w3, "SettlementToken")
        s.token = manifest.contract(w3, "CertificateToken")
        s.financing = manifest.contract(w3, "Financing")
        s.settlement = manifest.contract(w3, "Settlement")
        return s

    operator: str = ""
    auditor: str = ""
    clearing: str = ""
    membership: Any = None
    currency: Any = None
    token: Any = None
    financing: Any = None
    settlement: Any = None

    # --- plumbing ----------------------------------------------------------------------------

    def send(self, fn: Any, sender: str) -> Any:
        tx_hash = fn.transact({"from": sender, "gasPrice": 0})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash)
        assert receipt["status"] == 1, f"reverted: {fn}"
        self.txs += 1
        return receipt

    def try_send(self, fn: Any, sender: str) -> bool:
        try:
            fn.call({"from": sender})
        except Exception:
            return False
        self.send(fn, sender)
        return True

    def now(self) -> int:
        ts: int = self.w3.eth.get_block("latest")["timestamp"]
        return ts

    def increase_time(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def holding(self, token_id: int) -> dict[str, Any] | None:
        try:
            h = self.token.functions.holding(token_id).call()
        except Exception:
            return None
        return {"certificate_id": h[0], "owner": h[1], "value": h[2], "parent": h[3], "tier": h[4], "frozen": h[5]}

    def certificate(self, cid: int) -> Any:
        return self.token.functions.certificate(cid).call()

    # --- phases ------------------------------------------------------------------------------

    def setup(self) -> None:
        m = self.membership.functions
        for a in self.cores:
            self.send(m.onboard(a, CORE, doc(self.rng)), self.operator)
            self.send(m.setCreditLimit(a, 50_000_000_00), self.operator)
        for a in self.suppliers:
            self.send(m.onboard(a, SUPPLIER, doc(self.rng)), self.operator)
        for a in self.factors:
            self.send(m.onboard(a, FACTOR, doc(self.rng)), self.operator)
        self.send(m.onboard(self.auditor, AUDITOR, doc(self.rng)), self.operator)
        self.send(m.onboard(self.clearing, CLEARING, b"\x05" * 32), self.operator)  # no draw: the seed plays as before
        self.send(m.updateKyc(self.suppliers[0], doc(self.rng)), self.operator)
        for a in self.cores + self.factors:
            self.send(self.currency.functions.mint(a, 100_000_000_00), self.clearing)
        self.send(self.settlement.functions.setGracePeriod(3 * DAY), self.operator)
        self.send(self.token.functions.setInvoicesRequired(True), self.operator)
        self.send(self.token.functions.setInvoicesRequired(False), self.operator)

    def invoices(self, face: int) -> list[tuple[bytes, int, int]]:
        """The invoices backing a new certificate of `face`: part of an invoice already registered
        (while it has value left and is not closed) and a new one for the rest."""
        out: list[tuple[bytes, int, int]] = []
        if self.invoice_keys and self.inv_rng.random() < 0.5:
            key = self.inv_rng.choice(self.invoice_keys)
            amount, used, closed, _ = self.token.functions.invoice(key).call()
            if not closed and amount > used:
                backed = min(amount - used, self.inv_rng.randint(1, face))
                out.append((key, amount, backed))
        rest = face - sum(b for _, _, b in out)
        if rest:
            key = self.inv_rng.randbytes(32)
            self.invoice_keys.append(key)
            out.append((key, rest + self.inv_rng.randint(0, rest), rest))
        return out

    def issue(self, n: int) -> None:
        t = self.token.functions
        for _ in range(n):
            core = self.rng.choice(self.cores)
            payee = self.rng.choice(self.suppliers)
            face = self.rng.randint(1_000_00, 1_000_000_00)
            maturity = self.now() + self.rng.randint(20, 90) * DAY
            if self.inv_rng.random() < 0.7:
                fn = t.issueWithInvoices(payee, face, maturity, doc(self.rng), self.invoices(face))
            else:
                fn = t.issue(payee, face, maturity, doc(self.rng))
            receipt = self.send(fn, core)
            cid = self.token.functions.certificateCount().call(block_identifier=receipt["blockNumber"])
            tid = self.token.functions.tokenCount().call(block_identifier=receipt["blockNumber"])
            if self.rng.random() < 0.15:
                self.send(t.reject(cid), payee)
                continue
            self.send(t.accept(cid), payee)
            self.certificates.append(cid)
            self.tokens.append(tid)

    def _live(self) -> list[tuple[int, dict[str, Any]]]:
        out = []
        for tid in self.tokens:
            h = self.holding(tid)
            if h and h["value"] > 0:
                out.append((tid, h))
        return out

    def trade(self, steps: int) -> None:
        t = self.token.functions
        f = self.financing.functions
        holders = self.suppliers + self.factors
        for _ in range(steps):
            live = self._live()
            if not live:
                return
            tid, h = self.rng.choice(live)
            owner = h["owner"]
            op = self.rng.random()
            if h["frozen"]:
                self.try_send(t.unfreeze(tid, doc(self.rng)), self.operator)
            elif op < 0.40:  # split part of it to another holder
                to = self.rng.choice([a for a in holders if a != owner])
                value = self.rng.randint(1, h["value"])
                before = self.token.functions.tokenCount().call()
                if self.try_send(t.splitTransfer(tid, to, value, doc(self.rng)), owner):
                    self.tokens.append(before + 1)
            elif op < 0.47:  # ERC-3525 value transfer into another holding of the same certificate
                others = [o for o, oh in live if o != tid and oh["certificate_id"] == h["certificate_id"]]
                if others:
                    fn = self.token.get_function_by_signature("transferFrom(uint256,uint256,uint256)")
                    self.try_send(fn(tid, self.rng.choice(others), self.rng.randint(1, h["value"])), owner)
            elif op < 0.52:  # value allowance to an operator, who splits to an address (ERC-3525)
                operator = self.rng.choice([a for a in holders if a != owner])
                to = self.rng.choice([a for a in holders if a != owner])
                value = self.rng.randint(1, h["value"])
                approve = self.token.get_function_by_signature("approve(uint256,address,uint256)")
                split = self.token.get_function_by_signature("transferFrom(uint256,address,uint256)")
                if self.try_send(approve(tid, operator, value), owner):
                    before = self.token.functions.tokenCount().call()
                    if self.try_send(split(tid, to, value), operator):
                        self.tokens.append(before + 1)
            elif op < 0.60:  # whole ERC-721 transfer
                to = self.rng.choice([a for a in holders if a != owner])
                fn = self.token.get_function_by_signature("transferFrom(address,address,uint256)")
                self.try_send(fn(owner, to, tid), owner)
            elif op < 0.82 and owner not in self.factors:  # financing
                factor = self.rng.choice(self.factors)
                cert = self.certificate(h["certificate_id"])
                expires = min(cert[1], self.now() + 5 * DAY)  # (debtor, maturity, status, ...)
                value = self.rng.randint(1, h["value"])
                rate = self.rng.randint(100, 900)
                if not self.try_send(f.createOffer(tid, value, factor, rate, expires, False, doc(self.rng)), owner):
                    continue
                offer_id = f.offerCount().call()
                if self.rng.random() < 0.8:
                    before = self.token.functions.tokenCount().call()
                    if self.try_send(f.acceptOffer(offer_id), factor):
                        self.tokens.append(before + 1)
                        if self.inv_rng.random() < 0.6:  # the deal registered at 中登网
                            self.send(f.setRegistration(offer_id, self.inv_rng.randbytes(32)), factor)
                else:
                    self.send(f.cancelOffer(offer_id), owner)
            elif op < 0.87:
                self.try_send(t.freeze(tid, doc(self.rng)), self.operator)
            elif op < 0.92:  # currency moves between members
                a, b = self.rng.sample(self.cores + self.factors, 2)
                self.try_send(self.currency.functions.transfer(b, self.rng.randint(1, 10_000)), a)
            elif op < 0.96:  # member suspension and reinstatement
                member = self.rng.choice(self.suppliers)
                m = self.membership.functions
                if self.try_send(m.setActive(member, False), self.operator):
                    self.send(m.setActive(member, True), self.operator)
            else:  # emergency pause and resume
                m = self.membership.functions
                if self.try_send(m.pause(), self.operator):
                    self.send(m.unpause(), self.operator)

    def settle(self) -> None:
        """Past every maturity: repay some fully, some partially, leave some unpaid (overdue)."""
        s = self.settlement.functions
        self.increase_time(100 * DAY)
        for tid in self.tokens:  # release freezes so redemption can proceed
            h = self.holding(tid)
            if h and h["frozen"] and self.rng.random() < 0.7:
                self.send(self.token.functions.unfreeze(tid, doc(self.rng)), self.operator)
        for cid in self.certificates:
            cert = self.certificate(cid)
            debtor, face = cert[0], cert[4]
            r = self.rng.random()
            if r < 0.5:
                self.try_send(s.repay(cid, face), debtor)
            elif r < 0.8:
                self.try_send(s.repay(cid, face // 3), debtor)
            else:
                self.try_send(s.markOverdue(cid), self.operator)
        by_cert: dict[int, list[int]] = {}
        for tid, h in self._live():
            by_cert.setdefault(h["certificate_id"], []).append(tid)
        for tids in by_cert.values():
            if self.rng.random() < 0.5:
                self.try_send(s.settleBatch(tids), self.operator)
            else:
                for tid in tids:
                    h = self.holding(tid)
                    if h:
                        self.try_send(s.redeem(tid), h["owner"])

    def market(self) -> None:
        """The financing market on the live holdings: open offers to every factor (taken) and to
        a list (taken, or cancelled), requests for quotes quoted by both factors (the lower rate
        taken; one quote withdrawn and the request cancelled; one left to expire), early-payment
        offers by the debtor (taken, or cancelled), a programme (taken, closed), and deals with
        recourse (exercised by `recourse()` once the certificate is overdue)."""
        f = self.financing.functions
        st = self.settlement.functions
        f0, f1 = self.factors[0], self.factors[1]
        for n, (tid, h) in enumerate(self._live()):
            owner, value = h["owner"], h["value"]
            cert = self.certificate(h["certificate_id"])  # (debtor, maturity, status, ...)
            debtor, maturity = cert[0], cert[1]
            if owner in self.factors or h["frozen"] or value < 10 or cert[2] != 2 or maturity < self.now() + 3 * DAY:
                continue
            part = value // 10
            expires = min(maturity, self.now() + 2 * DAY)
            rate = 300 + 50 * n
            if self.try_send(f.createOpenOffer(tid, part, [], rate, expires, False, doc(self.rng)), owner):
                self.try_send(f.acceptOffer(f.offerCount().call()), f0 if n % 2 else f1)
            listed = [f1] if n % 2 else [f0, f1]
            recourse = n % 3 == 0
            if self.try_send(f.createOpenOffer(tid, part, listed, rate + 25, expires, recourse, doc(self.rng)), owner):
                offer = f.offerCount().call()
                if n % 2:
                    self.send(f.cancelOffer(offer), owner)
                else:
                    self.try_send(f.acceptOffer(offer), f1)
            if self.try_send(f.requestQuotes(tid, part, expires, n % 2 == 0, doc(self.rng)), owner):
                request = f.quoteRequestCount().call()
                self.try_send(f.submitQuote(request, rate + 100), f0)
                self.try_send(f.submitQuote(request, rate + 60), f1)
                best = f.quoteCount().call()
                if n % 3 == 0:
                    self.try_send(f.withdrawQuote(best - 1), f0)
                    self.send(f.cancelQuoteRequest(request), owner)
                elif n % 3 == 1:
                    self.try_send(f.acceptQuote(best), owner)
                # n % 3 == 2: left open until its deadline passes
            if self.try_send(st.offerEarlyPayment(tid, part, 200 + 10 * n, expires), debtor):
                offer = st.earlyPaymentOfferCount().call()
                if n % 2:
                    self.send(st.cancelEarlyPayment(offer), debtor)
                else:
                    self.try_send(st.acceptEarlyPayment(offer), owner)
            if n % 2 == 0 and self.try_send(st.openProgramme(150 + 10 * n, part * 3), debtor):
                programme = st.programmeCount().call()
                self.try_send(st.takeProgramme(programme, tid, part), owner)
                if n % 4 == 0:
                    self.send(st.closeProgramme(programme), debtor)

    def recourse(self) -> None:
        """Recourse on every deal made with it whose certificate is overdue: for every third deal
        the seller allows the amount first (bought back at once), else the claim is unpaid; every
        other unpaid claim but the first is then settled."""
        f = self.financing.functions
        unpaid = []
        seen = 0
        for offer in range(1, f.offerCount().call() + 1):
            o = f.offer(offer).call()  # (tokenId, seller, factor, value, price, rateBps, expiresAt, recourse, status)
            if not o[7] or o[8] != 2:
                continue
            seller, factor = o[1], o[2]
            try:
                amount = f.recourseAmount(offer).call()[0]
            except Exception:  # not overdue, or the factor no longer holds it
                continue
            allowed = seen % 3 == 0
            seen += 1
            self.try_send(self.currency.functions.approve(self.financing.address, amount if allowed else 0), seller)
            if self.try_send(f.exerciseRecourse(offer), factor) and not allowed:
                unpaid.append((offer, seller, factor, amount))
        for i, (offer, seller, factor, amount) in enumerate(unpaid):
            if i % 2 == 1:
                self.try_send(self.currency.functions.approve(self.financing.address, amount), seller)
                self.try_send(f.settleRecourse(offer), factor)

    def run(self, certificates: int = 4, steps: int = 25, settle: bool = True, market: bool = True) -> None:
        self.setup()
        self.issue(certificates)
        self.trade(steps)
        if market:
            self.market()
        if settle:
            self.settle()
            if market:
                self.recourse()


class System:
    def __init__(self, chain: devchain.DevChain, seed: int) -> None:
        self.chain = chain
        self.manifest = deploy_system(chain)
        self.scenario = Scenario.connect(chain.url, self.manifest, seed=seed)

    @property
    def url(self) -> str:
        return self.chain.url

    def rpc(self, method: str, *params: Any) -> Any:
        return self.scenario.w3.provider.make_request(method, list(params))["result"]  # type: ignore[arg-type]

    def indexer(self, db_url: str, **overrides: Any) -> Indexer:
        settings = Settings(database_url=db_url, **{"rpc_url": self.url, "batch_blocks": 16, **overrides})
        return Indexer(settings, manifest=self.manifest)

    def index(self, db_url: str, **overrides: Any) -> Indexer:
        ix = self.indexer(db_url, **overrides)
        ix.sync()
        return ix
