"""Hypothesis stateful tests of DOMAIN.md's invariants.

A Python model follows random issues, accepts/rejects, splits, ERC-3525 merges, ERC-721 transfers,
financings, (partial) repayments, redemptions, batch settlements, overdue marks, freezes, pauses,
suspensions, time jumps and the clearing agent's deposits (mint) and withdrawals (burn), and
attempts that must fail: the operator minting or burning, moves to the holding's own owner, to
recipients that are not active holders, approvals to roles that may not spend holdings (auditor,
core enterprise, outsiders), spends by suspended spenders, and currency sent to or approved for
the auditor, the clearing agent or an outsider.
Every action is predicted by the model: an action it expects to work must work; an action it
expects to be refused (frozen, paused, suspended, matured, ...) must revert with the exact error.
After every step the invariants are checked against the chain:

- per certificate: sum of live holdings' values + redeemed value == face value, and
  redeemed == currency paid out (the settlement contract holds repaid - redeemed);
- only active suppliers/factors hold, each holding's owner, value, parent and tier are the
  model's (a tier grows by one per hop between two members, never otherwise);
- issuance never exceeds the credit line: used <= limit, and used == sum of (face - repaid)
  over issued, unrejected certificates.

The market's paths run too, on the model's successful cases (their refusals are asserted one by
one in test_open_offers, test_quotes, test_early_payment*, test_recourse): open offers (to every
factor or a list; a second acceptance is refused), quotes (two factors quote, one may withdraw,
the seller takes the best), early payment by offer or programme (value counted repaid and
redeemed at once, the credit line released by it; the offer cannot be taken twice) and recourse
(paid through the seller's allowance, or recorded unpaid and settled later). Every deal's record
(seller, factor, value, price, recourse, new holding, recourse state) is the model's, and the
pro-rata pool pays only the value still live: u x (repaid - early) / (face - early).
"""

import os
from collections import Counter

import brownie
from conftest import DAY, h32
from errors import err
from hypothesis import strategies as st
from stateful import state_machine, steps

PENDING, ACTIVE, REJECTED, OVERDUE, SETTLED = 1, 2, 3, 4, 5
LIMIT = 30_000_000
GRACE = 30 * DAY
FACTOR_CASH = 10**12
HOLDER_ROLES = ("s1", "s2", "s3", "f1", "f2")


class Lifecycle:
    st_idx = st.integers(min_value=0, max_value=2**16)
    st_face = st.integers(min_value=1, max_value=12_000_000)
    st_days = st.integers(min_value=1, max_value=100)
    st_rate = st.integers(min_value=0, max_value=3_000)
    st_bool = st.booleans()
    st_seconds = st.integers(min_value=3_600, max_value=45 * DAY)
    stats: Counter = Counter()  # (function, "ok" | error name) over all runs

    def __init__(cls, world):
        cls.w = world
        world.membership.setCreditLimit(world.core, LIMIT, {"from": world.op})
        for f in (world.f1, world.f2):  # once per module: a second state machine finds them paid
            if world.currency.balanceOf(f) < FACTOR_CASH:
                world.currency.mint(f, FACTOR_CASH - world.currency.balanceOf(f), {"from": world.clearing})
        cls.holders = [getattr(world, r) for r in HOLDER_ROLES]
        cls.suppliers = cls.holders[:3]
        cls.factors = cls.holders[3:]
        # never active holders: (account, role); `suspended` is a supplier suspended for good
        cls.non_holders = [
            (world.outsider, 0), (world.auditor, 4), (world.core2, 1), (world.suspended, 2), (world.clearing, 5),
        ]

    def setup(self):
        w = self.w
        self.paused = False
        self.inactive = set()
        self.certs = {}  # id -> dict(face, maturity, status, repaid, redeemed)
        self.h = {}  # live holdings: id -> dict(cert, owner, value, parent, tier, frozen, paid)
        self.cert_count = w.token.certificateCount()
        self.token_count = w.token.tokenCount()
        self.used = w.membership.memberOf(w.core)[4]
        self.cash = {str(a): w.currency.balanceOf(a) for a in self.holders}
        self.settlement_cash = w.currency.balanceOf(w.settlement)
        self.deals = {}  # offer id -> dict(seller, factor, value, price, recourse, token, status)
        self.allowance = {}  # seller -> its currency allowance to Financing

    # --- helpers ------------------------------------------------------------------------------

    def pin(self):
        """Fix the next block's timestamp to one second after the latest: time moves only in
        rule_sleep, and errors carrying `block.timestamp` are predictable."""
        ts = self.w.chain[-1].timestamp + 1
        brownie.web3.provider.make_request("evm_setNextBlockTimestamp", [ts])
        return ts

    def run(self, expected, call, *args):
        name = getattr(call, "_name", None) or call.abi["name"]
        self.stats[(name.split(".")[-1], expected.split(":")[0] if expected else "ok")] += 1
        if expected is None:
            return call(*args)
        with brownie.reverts(expected):
            call(*args)
        return None

    def pick(self, items, idx):
        items = sorted(items)
        return items[idx % len(items)] if items else None

    def holders_error(self, a, b):
        if self.paused:
            return err("MembershipPaused")
        for x in (a, b):
            if str(x) in self.inactive:
                return err("MembershipInactive", x)
        return None

    def movable_error(self, tid, now):
        h = self.h[tid]
        c = self.certs[h["cert"]]
        if h["frozen"]:
            return err("CertificateFrozen", tid)
        if c["status"] != ACTIVE:
            return err("CertificateWrongStatus", h["cert"], c["status"])
        if now >= c["maturity"]:
            return err("CertificateMatured", h["cert"], c["maturity"])
        return None

    def new_holding(self, cert, owner, value, parent=0):
        self.token_count += 1
        tier = self.h[parent]["tier"] + 1 if parent else 1
        self.h[self.token_count] = {
            "cert": cert, "owner": str(owner), "value": value, "parent": parent, "tier": tier, "frozen": False,
            "paid": 0,
        }
        return self.token_count

    def self_error(self, tid, to):
        owner = self.h[tid]["owner"]
        return err("CertificateSelfTransfer", tid, owner) if str(to) == owner else None

    def recipient_error(self, owner, to, role):
        """requireHolders(owner, to) when `to` is never an active holder (`role` its role)."""
        if self.paused:
            return err("MembershipPaused")
        if owner in self.inactive:
            return err("MembershipInactive", owner)
        return err("MembershipInactive", to) if role == 2 else err("MembershipNotHolder", to, role)

    def redeem_error(self, tid, now):
        """The error of paying out `tid` now, or None; and the amount payable."""
        h = self.h[tid]
        c = self.certs[h["cert"]]
        if c["status"] not in (ACTIVE, OVERDUE):
            return err("SettlementWrongStatus", h["cert"], c["status"]), 0
        if now < c["maturity"]:
            return err("SettlementNotMatured", h["cert"], c["maturity"], now), 0
        live = c["face"] - c["early"]
        amount = (h["value"] + h["paid"]) * (c["repaid"] - c["early"]) // live - h["paid"] if live else 0
        if amount == 0:
            return err("SettlementNothingToRedeem", tid), 0
        if h["frozen"]:
            return err("CertificateFrozen", tid), 0
        if self.paused:
            return err("MembershipPaused"), 0
        if h["owner"] in self.inactive:
            return err("MembershipInactive", h["owner"]), 0
        return None, amount

    def pay_out(self, tid, amount):
        h = self.h[tid]
        c = self.certs[h["cert"]]
        h["value"] -= amount
        h["paid"] += amount
        c["redeemed"] += amount
        self.cash[h["owner"]] += amount
        self.settlement_cash -= amount
        if h["value"] == 0:
            del self.h[tid]
        if c["redeemed"] == c["face"]:
            c["status"] = SETTLED

    # --- rules --------------------------------------------------------------------------------

    def initialize_certificates(self, st_idx, st_face, st_days):
        """Every run starts with two accepted certificates, the short-dated one already split and
        partly repaid (repayment before maturity is allowed)."""
        self.rule_issue(st_idx, st_face, st_days)
        self.rule_issue(st_idx + 1, st_face // 3 + 1, 1 + st_days // 5)  # short-dated
        for cid in sorted(self.certs):
            self.rule_respond(cid - 1, True)
        self.rule_split(st_idx + 1, st_face, True)
        self.rule_repay(1, st_face * 7)

    def rule_issue(self, st_idx, st_face, st_days):
        w = self.w
        payee = self.suppliers[st_idx % 3]
        now = self.pin()
        maturity = now + st_days * DAY
        if self.paused:
            expected = err("MembershipPaused")
        elif str(payee) in self.inactive:
            expected = err("MembershipInactive", payee)
        elif st_face > LIMIT - self.used:
            expected = err("MembershipCreditExceeded", w.core, LIMIT - self.used, st_face)
        else:
            expected = None
        tx = self.run(expected, w.token.issue, payee, st_face, maturity, h32(1 + st_idx), {"from": w.core})
        if tx:
            self.cert_count += 1
            cid = self.cert_count
            tid = self.new_holding(cid, payee, st_face)
            assert tuple(tx.return_value) == (cid, tid)
            self.certs[cid] = {
                "face": st_face, "maturity": maturity, "status": PENDING, "repaid": 0, "redeemed": 0, "early": 0,
            }
            self.used += st_face

    def rule_respond(self, st_idx, st_bool):
        w = self.w
        cid = self.pick([c for c, v in self.certs.items() if v["status"] == PENDING], st_idx)
        if cid is None:
            return
        root = next(t for t, h in self.h.items() if h["cert"] == cid)
        payee = self.h[root]["owner"]
        if self.paused:
            expected = err("MembershipPaused")
        elif payee in self.inactive:
            expected = err("MembershipInactive", payee)
        elif not st_bool and self.h[root]["frozen"]:
            expected = err("CertificateFrozen", root)  # a judicial freeze keeps the holding
        else:
            expected = None
        self.pin()
        call = w.token.accept if st_bool else w.token.reject
        if self.run(expected, call, cid, {"from": payee}):
            if st_bool:
                self.certs[cid]["status"] = ACTIVE
            else:
                self.certs[cid]["status"] = REJECTED
                del self.h[root]
                self.used -= self.certs[cid]["face"]

    def rule_split(self, st_idx, st_face, st_bool):
        w = self.w
        tid = self.pick(self.h, st_idx)
        if tid is None:
            return
        h = self.h[tid]
        to = self.holders[st_face % 5]
        value = 1 + st_face % (h["value"] + 1)  # up to one more than there is
        now = self.pin()
        expected = self.movable_error(tid, now) or self.self_error(tid, to) or self.holders_error(h["owner"], to)
        if expected is None and value > h["value"]:
            expected = err("CertificateInsufficientValue", tid, h["value"], value)
        if st_bool:
            tx = self.run(expected, w.token.splitTransfer, tid, to, value, h32(7), {"from": h["owner"]})
        else:
            tx = self.run(expected, w.token.transferFrom["uint256,address,uint256"], tid, to, value,
                          {"from": h["owner"]})
        if tx:
            h["value"] -= value
            assert tx.return_value == self.new_holding(h["cert"], to, value, tid)

    def rule_merge(self, st_idx, st_face):
        w = self.w
        tid = self.pick(self.h, st_idx)
        if tid is None:
            return
        src = self.h[tid]
        dst_id = self.pick([t for t, h in self.h.items() if h["cert"] == src["cert"] and t != tid], st_face)
        if dst_id is None:
            return
        dst = self.h[dst_id]
        value = 1 + st_face % (src["value"] + 1)
        now = self.pin()
        expected = (err("CertificateFrozen", dst_id) if dst["frozen"] else None) or self.movable_error(tid, now) \
            or self.holders_error(src["owner"], dst["owner"])
        if expected is None and value > src["value"]:
            expected = err("CertificateInsufficientValue", tid, src["value"], value)
        merge = w.token.transferFrom["uint256,uint256,uint256"]
        if self.run(expected, merge, tid, dst_id, value, {"from": src["owner"]}):
            src["value"] -= value
            dst["value"] += value

    def rule_transfer_whole(self, st_idx, st_face):
        w = self.w
        tid = self.pick(self.h, st_idx)
        if tid is None:
            return
        h = self.h[tid]
        to = self.holders[st_face % 5]
        now = self.pin()
        expected = self.movable_error(tid, now) or self.self_error(tid, to) or self.holders_error(h["owner"], to)
        xfer = w.token.transferFrom["address,address,uint256"]
        if self.run(expected, xfer, h["owner"], to, tid, {"from": h["owner"]}):
            h["owner"] = str(to)
            h["tier"] += 1

    def rule_self_transfer(self, st_idx, st_face):
        """A split, ERC-3525 transfer to an address or ERC-721 transfer to the holding's own owner
        never works: it would deepen the tier without a hop."""
        w = self.w
        tid = self.pick(self.h, st_idx)
        if tid is None:
            return
        h = self.h[tid]
        owner = h["owner"]
        now = self.pin()
        expected = self.movable_error(tid, now) or err("CertificateSelfTransfer", tid, owner)
        how = st_face % 3
        if how == 0:
            self.run(expected, w.token.splitTransfer, tid, owner, 1, h32(8), {"from": owner})
        elif how == 1:
            self.run(expected, w.token.transferFrom["uint256,address,uint256"], tid, owner, 1, {"from": owner})
        else:
            self.run(expected, w.token.transferFrom["address,address,uint256"], owner, owner, tid, {"from": owner})

    def rule_non_holder_recipient(self, st_idx, st_face, st_bool):
        """A holding never goes to an address that is not an active supplier or factor."""
        w = self.w
        tid = self.pick(self.h, st_idx)
        if tid is None:
            return
        h = self.h[tid]
        to, role = self.non_holders[st_face % len(self.non_holders)]
        now = self.pin()
        expected = self.movable_error(tid, now) or self.recipient_error(h["owner"], to, role)
        if st_bool:
            self.run(expected, w.token.splitTransfer, tid, to, 1, h32(10), {"from": h["owner"]})
        else:
            self.run(expected, w.token.transferFrom["address,address,uint256"], h["owner"], to, tid,
                     {"from": h["owner"]})

    def rule_spender(self, st_idx, st_face, st_bool):
        """The owner grants a value allowance and the spender splits it to a holder. Only roles
        that may spend holdings (suppliers, factors) are given one: an address never onboarded,
        the auditor or a core enterprise is refused the approval itself; a suspended spender is
        refused when it spends."""
        w = self.w
        tid = self.pick(self.h, st_idx)
        if tid is None:
            return
        h = self.h[tid]
        owner = h["owner"]
        spenders = [a for a in self.holders if str(a) != owner] + [w.outsider, w.suspended, w.auditor, w.core2]
        spender = spenders[st_face % len(spenders)]
        to = self.holders[(st_face // 7) % 5]
        value = 1 + st_face % h["value"] if h["value"] else 1
        self.pin()
        refusal = {
            str(w.outsider): err("MembershipUnknownMember", w.outsider),
            str(w.auditor): err("MembershipNotPermitted", w.auditor, 4, 3),
            str(w.core2): err("MembershipNotPermitted", w.core2, 1, 3),
        }.get(str(spender))
        self.run(refusal, w.token.approve["uint256,address,uint256"], tid, spender, value, {"from": owner})
        if refusal:
            return
        now = self.pin()
        if self.paused:
            expected = err("MembershipPaused")
        elif spender == w.suspended or str(spender) in self.inactive:
            expected = err("MembershipInactive", spender)
        else:
            expected = self.movable_error(tid, now) or self.self_error(tid, to) or self.holders_error(owner, to)
        if expected is None and value > h["value"]:
            expected = err("CertificateInsufficientValue", tid, h["value"], value)
        if st_bool:
            tx = self.run(expected, w.token.splitTransfer, tid, to, value, h32(11), {"from": spender})
        else:
            tx = self.run(expected, w.token.transferFrom["uint256,address,uint256"], tid, to, value,
                          {"from": spender})
        if tx:
            h["value"] -= value
            assert tx.return_value == self.new_holding(h["cert"], to, value, tid)
        assert w.token.allowance(tid, spender) == (0 if tx else value)

    def rule_finance(self, st_idx, st_face, st_rate):
        f = self.w.financing
        tid = self.pick(self.h, st_idx)
        if tid is None:
            return
        h = self.h[tid]
        c = self.certs[h["cert"]]
        factor = self.factors[st_face % 2]
        value = 1 + st_face % h["value"] if h["value"] else 1
        now = self.pin()
        expires = min(c["maturity"], now + 10 * DAY)
        expected = self.holders_error(h["owner"], factor)
        if expected is None and str(factor) == h["owner"]:
            expected = err("FinancingSelfOffer", tid, factor)
        if expected is None and value > h["value"]:
            expected = err("FinancingInsufficientValue", tid, h["value"], value)
        if expected is None and c["status"] != ACTIVE:
            expected = err("FinancingCertificateNotActive", h["cert"], c["status"])
        if expected is None and expires <= now:
            expected = err("FinancingInvalidExpiry", expires, now, c["maturity"])
        tx = self.run(expected, f.createOffer, tid, value, factor, st_rate, expires, st_face % 2 == 0, h32(9),
                      {"from": h["owner"]})
        if not tx:
            return
        oid = tx.return_value
        price = f.offer(oid)[4]
        assert 0 < price <= value
        now = self.pin()
        if now >= expires:
            expected = err("FinancingOfferExpired", oid, expires, now)
        else:
            expected = self.movable_error(tid, now) or self.holders_error(h["owner"], factor)
        tx = self.run(expected, f.acceptOffer, oid, {"from": factor})
        if tx:
            self.record_deal(oid, tid, factor, value, price, st_face % 2 == 0, tx.return_value)

    # --- the market: success paths, checked against the model --------------------------------

    def market_holding(self, st_idx, *parties):
        """A live holding whose certificate is active with over a minute to maturity, not frozen,
        whose owner and `parties` are active, the system not paused; else None."""
        tid = self.pick(self.h, st_idx)
        if tid is None or self.paused:
            return None
        h = self.h[tid]
        c = self.certs[h["cert"]]
        now = self.w.chain[-1].timestamp + 1
        if h["frozen"] or h["value"] == 0 or c["status"] != ACTIVE or c["maturity"] - now < 60:
            return None
        if any(str(p) in self.inactive for p in (h["owner"], *parties)):
            return None
        return tid

    def record_deal(self, oid, tid, factor, value, price, recourse, new):
        h = self.h[tid]
        h["value"] -= value
        assert new == self.new_holding(h["cert"], factor, value, tid)
        self.cash[str(factor)] -= price
        self.cash[h["owner"]] += price
        self.deals[oid] = {
            "seller": h["owner"], "factor": str(factor), "value": value, "price": price, "recourse": recourse,
            "token": new, "status": 0,
        }

    def rule_open_offer(self, st_idx, st_face, st_rate, st_bool):
        """An open offer to every factor (st_bool) or to one; the buyer takes it, a second
        acceptance is refused."""
        f = self.w.financing
        factor, other = self.factors[st_face % 2], self.factors[1 - st_face % 2]
        tid = self.market_holding(st_idx, factor)
        if tid is None or str(factor) == self.h[tid]["owner"]:
            return
        h = self.h[tid]
        value = 1 + st_face % h["value"]
        now = self.pin()
        expires = min(self.certs[h["cert"]]["maturity"], now + 10 * DAY)
        listed = [] if st_bool else [factor]
        recourse = st_face % 3 == 0
        tx = self.run(None, f.createOpenOffer, tid, value, listed, st_rate, expires, recourse, h32(13),
                      {"from": h["owner"]})
        oid = tx.return_value
        price = f.offer(oid)[4]
        if not st_bool and str(other) != h["owner"]:
            self.pin()
            self.run(err("FinancingNotInvited", oid, other), f.acceptOffer, oid, {"from": other})
        self.pin()
        new = self.run(None, f.acceptOffer, oid, {"from": factor}).return_value
        self.record_deal(oid, tid, factor, value, price, recourse, new)
        self.pin()
        self.run(err("FinancingOfferNotOpen", oid, 2), f.acceptOffer, oid, {"from": other})

    def rule_quotes(self, st_idx, st_face, st_rate):
        """The seller asks for quotes, the factors quote, one may withdraw; the seller accepts the
        best quote left."""
        f = self.w.financing
        tid = self.market_holding(st_idx, *self.factors)
        if tid is None:
            return
        h = self.h[tid]
        value = 1 + st_face % h["value"]
        now = self.pin()
        deadline = min(self.certs[h["cert"]]["maturity"], now + 5 * DAY)
        recourse = st_face % 2 == 0
        tx = self.run(None, f.requestQuotes, tid, value, deadline, recourse, h32(14), {"from": h["owner"]})
        rid = tx.return_value
        quotes = []
        for i, factor in enumerate(a for a in self.factors if str(a) != h["owner"]):
            self.pin()
            qid = self.run(None, f.submitQuote, rid, st_rate // (i + 1), {"from": factor}).return_value
            quotes.append((f.quoteOf(qid)[2], qid, factor))
        quotes.sort()
        if len(quotes) > 1 and st_face % 3 == 0:
            _, qid, factor = quotes.pop()
            self.pin()
            self.run(None, f.withdrawQuote, qid, {"from": factor})
        price, qid, factor = quotes[-1]
        self.pin()
        oid, new = self.run(None, f.acceptQuote, qid, {"from": h["owner"]}).return_value
        self.record_deal(oid, tid, factor, value, price, recourse, new)

    def rule_early_payment(self, st_idx, st_face, st_rate, st_bool):
        """The debtor pays part of a holding early, by an offer (st_bool) or a programme."""
        w, s = self.w, self.w.settlement
        tid = self.market_holding(st_idx)
        if tid is None:
            return
        h = self.h[tid]
        c = self.certs[h["cert"]]
        holder = h["owner"]
        value = 1 + st_face % h["value"]
        if value > c["face"] - c["repaid"]:
            return
        now = self.pin()
        if st_bool:
            eid = self.run(None, s.offerEarlyPayment, tid, value, st_rate, min(c["maturity"], now + DAY),
                           {"from": w.core}).return_value
            now = self.pin()
            tx = self.run(None, s.acceptEarlyPayment, eid, {"from": holder})
        else:
            pid = self.run(None, s.openProgramme, st_rate, value + st_face % 1_000, {"from": w.core}).return_value
            now = self.pin()
            tx = self.run(None, s.takeProgramme, pid, tid, value, {"from": holder})
        days = (c["maturity"] - now + DAY - 1) // DAY
        price = value - value * st_rate * days // (10_000 * 360)
        assert tx.return_value == price
        h["value"] -= value
        if h["value"] == 0:
            del self.h[tid]
        c["repaid"] += value
        c["redeemed"] += value
        c["early"] += value
        if c["redeemed"] == c["face"]:
            c["status"] = SETTLED
        self.used -= value
        self.cash[holder] += price
        if st_bool:  # nobody is paid twice
            self.pin()
            self.run(err("SettlementEarlyPaymentNotOpen", eid, 2), s.acceptEarlyPayment, eid, {"from": holder})

    def recourse_claim(self, st_idx, status):
        """A deal with recourse in `status` whose factor still holds its live holding, on an
        overdue certificate, the parties active and the holding movable."""
        oids = [
            oid for oid, d in self.deals.items()
            if d["recourse"] and d["status"] == status and d["token"] in self.h
            and self.h[d["token"]]["owner"] == d["factor"]
            and self.certs[self.h[d["token"]]["cert"]]["status"] == OVERDUE
        ]
        oid = self.pick(oids, st_idx)
        if oid is None or self.paused:
            return None
        d = self.deals[oid]
        if self.h[d["token"]]["frozen"] or {d["seller"], d["factor"]} & self.inactive:
            return None
        return oid

    def buy_back(self, oid, amount):
        d = self.deals[oid]
        h = self.h[d["token"]]
        h["owner"] = d["seller"]
        h["tier"] += 1
        self.cash[d["seller"]] -= amount
        self.cash[d["factor"]] += amount
        self.allowance[d["seller"]] -= amount
        d["status"] = 2

    def rule_recourse(self, st_idx, st_bool):
        """The factor exercises recourse; the seller approves the amount first (st_bool) or not."""
        w, f = self.w, self.w.financing
        oid = self.recourse_claim(st_idx, 0)
        if oid is None:
            return
        d = self.deals[oid]
        amount = d["price"] * self.h[d["token"]]["value"] // d["value"]
        if st_bool:
            self.pin()
            w.currency.approve(f, amount, {"from": d["seller"]})
            self.allowance[d["seller"]] = amount
        paid = self.allowance.get(d["seller"], 0) >= amount and self.cash[d["seller"]] >= amount
        self.pin()
        tx = self.run(None, f.exerciseRecourse, oid, {"from": d["factor"]})
        assert tx.return_value == paid
        if paid:
            self.buy_back(oid, amount)
        else:
            d["status"] = 1

    def rule_settle_recourse(self, st_idx):
        """The seller settles an unpaid claim, when it holds the amount."""
        w, f = self.w, self.w.financing
        oid = self.recourse_claim(st_idx, 1)
        if oid is None:
            return
        d = self.deals[oid]
        amount = d["price"] * self.h[d["token"]]["value"] // d["value"]
        if self.cash[d["seller"]] < amount:
            return
        self.pin()
        w.currency.approve(f, amount, {"from": d["seller"]})
        self.allowance[d["seller"]] = amount
        self.pin()
        self.run(None, f.settleRecourse, oid, {"from": d["seller"]})
        self.buy_back(oid, amount)

    def rule_repay(self, st_idx, st_face):
        w = self.w
        cid = self.pick(self.certs, st_idx)
        if cid is None:
            return
        c = self.certs[cid]
        outstanding = c["face"] - c["repaid"]
        amount = 1 + st_face % outstanding if outstanding else 1
        if self.paused:
            expected = err("MembershipPaused")
        elif c["status"] not in (ACTIVE, OVERDUE):
            expected = err("SettlementWrongStatus", cid, c["status"])
        elif outstanding == 0:
            expected = err("SettlementFullyRepaid", cid)
        else:
            expected = None
        self.pin()
        if self.run(expected, w.settlement.repay, cid, amount, {"from": w.core}):
            c["repaid"] += amount
            self.used -= amount
            self.settlement_cash += amount

    def rule_redeem(self, st_idx):
        w = self.w
        tid = self.pick(self.h, st_idx)
        if tid is None:
            return
        owner = self.h[tid]["owner"]
        now = self.pin()
        expected, amount = self.redeem_error(tid, now)
        tx = self.run(expected, w.settlement.redeem, tid, {"from": owner})
        if tx:
            assert tx.return_value == amount
            self.pay_out(tid, amount)

    def rule_settle_batch(self, st_idx, st_bool):
        """The debtor settles every live holding of a certificate, or (st_bool) only those the
        model says can be paid now."""
        w = self.w
        cid = self.pick(self.certs, st_idx)
        if cid is None:
            return
        now = self.w.chain[-1].timestamp + 1
        batch = sorted(t for t, h in self.h.items() if h["cert"] == cid)
        if st_bool:
            batch = [t for t in batch if self.redeem_error(t, now)[0] is None]
        now = self.pin()
        plan, expected = [], None
        for tid in batch:
            expected, amount = self.redeem_error(tid, now)
            if expected:
                break
            plan.append((tid, amount))
        tx = self.run(expected, w.settlement.settleBatch, batch, {"from": w.core})
        if tx:
            assert tx.return_value == sum(a for _, a in plan)
            for tid, amount in plan:
                self.pay_out(tid, amount)

    def rule_mark_overdue(self, st_idx):
        w = self.w
        cid = self.pick(self.certs, st_idx)
        if cid is None:
            return
        c = self.certs[cid]
        now = self.pin()
        if c["status"] != ACTIVE:
            expected = err("SettlementWrongStatus", cid, c["status"])
        elif c["repaid"] >= c["face"]:
            expected = err("SettlementFullyRepaid", cid)
        elif now <= c["maturity"] + GRACE:
            expected = err("SettlementNotOverdueYet", cid, c["maturity"] + GRACE, now)
        else:
            expected = None
        if self.run(expected, w.settlement.markOverdue, cid, {"from": w.auditor}):
            c["status"] = OVERDUE

    def rule_freeze(self, st_idx):
        w = self.w
        tid = self.pick(self.h, st_idx)
        if tid is None:
            return
        h = self.h[tid]
        self.pin()
        call = w.token.unfreeze if h["frozen"] else w.token.freeze
        call(tid, h32(1), {"from": w.op})
        h["frozen"] = not h["frozen"]

    def rule_currency_to_a_non_holder(self, st_idx, st_bool):
        """Currency never goes to the auditor, the clearing agent or an outsider, and none of them is
        made a spender of it."""
        w = self.w
        sender = self.holders[3 + st_idx % 2]  # a factor: it always holds cash
        to, role = [(w.auditor, 4), (w.outsider, 0), (w.clearing, 5)][st_idx // 2 % 3]
        self.pin()
        refusal = err("MembershipNotPermitted", to, role, 1) if role else err("MembershipUnknownMember", to)
        if st_bool:
            self.run(refusal, w.currency.approve, to, 1, {"from": sender})
            return
        if self.paused:
            expected = err("MembershipPaused")
        elif str(sender) in self.inactive:
            expected = err("MembershipInactive", sender)
        else:
            expected = err("MembershipNotPermitted", to, role, 0) if role else err("MembershipUnknownMember", to)
        self.run(expected, w.currency.transfer, to, 1, {"from": sender})

    def rule_deposit_or_withdraw(self, st_idx, st_face, st_bool):
        """The clearing agent mints against a deposit (st_bool) or burns on a withdrawal; the
        operator's same call is refused: it never touches client money."""
        w = self.w
        holder = self.holders[st_idx % 5]
        self.pin()
        paused = err("MembershipPaused") if self.paused else None
        self.run(paused or err("MembershipWrongRole", w.op, 5, 0), w.currency.mint, holder, st_face, {"from": w.op})
        self.pin()
        expected = paused or (err("MembershipInactive", holder) if str(holder) in self.inactive else None)
        cash = self.cash[str(holder)]
        if st_bool:
            if self.run(expected, w.currency.mint, holder, st_face, {"from": w.clearing}):
                self.cash[str(holder)] += st_face
            return
        expected = expected or (err("ERC20InsufficientBalance", holder, cash, st_face) if cash < st_face else None)
        if self.run(expected, w.currency.burn, holder, st_face, {"from": w.clearing}):
            self.cash[str(holder)] -= st_face

    def rule_pause(self):
        w = self.w
        self.pin()
        (w.membership.unpause if self.paused else w.membership.pause)({"from": w.op})
        self.paused = not self.paused

    def rule_suspend(self, st_idx):
        w = self.w
        who = str(self.holders[st_idx % 5])
        self.pin()
        w.membership.setActive(who, who in self.inactive, {"from": w.op})
        self.inactive ^= {who}

    def rule_sleep_to_maturity(self, st_idx, st_seconds):
        """Jump to just past a certificate's maturity (or further, up to beyond its grace)."""
        cid = self.pick([c for c, v in self.certs.items() if v["status"] in (ACTIVE, OVERDUE)], st_idx)
        if cid is None:
            return
        target = self.certs[cid]["maturity"] + st_seconds % (GRACE + 2 * DAY)
        ts = max(target, self.w.chain[-1].timestamp + 1)
        brownie.web3.provider.make_request("evm_setNextBlockTimestamp", [ts])
        brownie.web3.provider.make_request("evm_mine", [])

    def rule_sleep(self, st_seconds):
        ts = self.w.chain[-1].timestamp + st_seconds
        brownie.web3.provider.make_request("evm_setNextBlockTimestamp", [ts])
        brownie.web3.provider.make_request("evm_mine", [])

    # --- invariants ---------------------------------------------------------------------------

    def invariant_holdings_and_conservation(self):
        t = self.w.token
        assert t.tokenCount() == self.token_count
        assert t.certificateCount() == self.cert_count
        live = {}
        for tid, h in self.h.items():
            got = t.holding(tid)
            assert tuple(got) == (h["cert"], h["owner"], h["value"], h["parent"], h["tier"], h["frozen"])
            # only members that may hold: suppliers and factors
            assert h["owner"] in {str(a) for a in self.holders}
            live[h["cert"]] = live.get(h["cert"], 0) + h["value"]
        for cid, c in self.certs.items():
            chain_cert = t.certificate(cid)
            assert chain_cert[2] == c["status"]
            assert chain_cert[5] == c["redeemed"]
            if c["status"] == REJECTED:
                assert live.get(cid, 0) == 0 and c["redeemed"] == 0
            else:
                assert live.get(cid, 0) + c["redeemed"] == c["face"]
            assert tuple(self.w.settlement.account(cid)) == (c["repaid"], c["redeemed"])
            assert c["redeemed"] <= c["repaid"] <= c["face"]

    def invariant_currency(self):
        w = self.w
        assert w.currency.balanceOf(w.settlement) == self.settlement_cash
        assert self.settlement_cash == sum(c["repaid"] - c["redeemed"] for c in self.certs.values())
        for a in self.holders:
            assert w.currency.balanceOf(a) == self.cash[str(a)]

    def invariant_deals_and_early_payment(self):
        """Every deal is recorded as the model's, recourse paid at most once; value settled early
        per certificate is the model's."""
        f, s = self.w.financing, self.w.settlement
        for oid, d in self.deals.items():
            got = f.deal(oid)
            assert tuple(got) == (d["seller"], d["factor"], d["value"], d["price"], d["recourse"], d["token"],
                                  d["status"])
        for cid, c in self.certs.items():
            assert s.earlyPaid(cid) == c["early"]

    def invariant_credit_line(self):
        w = self.w
        member = w.membership.memberOf(w.core)
        assert member[3] == LIMIT
        assert member[4] == self.used <= LIMIT
        assert self.used == sum(c["face"] - c["repaid"] for c in self.certs.values() if c["status"] != REJECTED)


def test_lifecycle_invariants(world):
    Lifecycle.stats.clear()
    steps.clear()
    # Deterministic by default, so the suite's time and coverage are stable in CI; set
    # SCF_STATEFUL_RANDOM=1 (and SCF_STATEFUL_EXAMPLES=200, say) to explore new sequences.
    settings = {
        "max_examples": int(os.environ.get("SCF_STATEFUL_EXAMPLES", "25")),
        "stateful_step_count": 40,
        "derandomize": not os.environ.get("SCF_STATEFUL_RANDOM"),
    }
    state_machine(Lifecycle, world, settings=settings)
    print(dict(steps))
    for key, n in sorted(Lifecycle.stats.items()):
        print(f"{key[0]:>16} {key[1]:<34} {n}")
    ok = {fn for fn, outcome in Lifecycle.stats if outcome == "ok"}
    # the runs explored: every main success path was taken, and refusals were checked
    assert ok >= {"issue", "accept", "splitTransfer", "transferFrom", "acceptOffer", "repay"}
    assert ok & {"redeem", "settleBatch"}
    refused = {outcome for _, outcome in Lifecycle.stats if outcome != "ok"}
    assert refused >= {
        "CertificateFrozen", "MembershipPaused", "CertificateMatured", "CertificateSelfTransfer",
        "MembershipNotHolder", "MembershipUnknownMember", "MembershipInactive", "MembershipNotPermitted",
    }


def initialize_market(self, st_idx, st_face, st_days, st_rate, st_bool):
    """The lifecycle's start, then the market on it: an open offer with recourse on the
    short-dated certificate, quotes, early payment by offer and by programme on the long one; then
    past the short one's maturity and grace, overdue, and recourse exercised (the seller approving
    first or not)."""
    Lifecycle.initialize_certificates(self, st_idx, st_face, st_days)

    def idx(cert):
        biggest = max((h["value"], t) for t, h in self.h.items() if h["cert"] == cert)[1]
        return sorted(self.h).index(biggest)

    self.rule_open_offer(idx(2), 3 * (st_face // 3), st_rate, st_bool)  # with recourse
    self.rule_quotes(idx(1), st_face, st_rate)
    self.rule_early_payment(idx(1), st_face, st_rate, True)
    self.rule_early_payment(idx(1), st_face + 1, st_rate, False)
    self.w.warp(self.certs[2]["maturity"] + GRACE + 1)
    self.rule_mark_overdue(1)
    self.rule_recourse(0, st_bool)
    self.rule_settle_recourse(0)


#: the lifecycle's rules and invariants, started by `initialize_market`
MarketLifecycle = type(
    "MarketLifecycle",
    (),
    {k: v for k, v in vars(Lifecycle).items() if k != "initialize_certificates"}
    | {"initialize_market": initialize_market},
)


def test_market_invariants(world):
    Lifecycle.stats.clear()
    steps.clear()
    settings = {
        "max_examples": int(os.environ.get("SCF_STATEFUL_EXAMPLES", "15")),
        "stateful_step_count": 30,
        "derandomize": not os.environ.get("SCF_STATEFUL_RANDOM"),
    }
    state_machine(MarketLifecycle, world, settings=settings)
    print(dict(steps))
    for key, n in sorted(Lifecycle.stats.items()):
        print(f"{key[0]:>16} {key[1]:<34} {n}")
    ok = {fn for fn, outcome in Lifecycle.stats if outcome == "ok"}
    assert ok >= {
        "createOpenOffer", "requestQuotes", "submitQuote", "acceptQuote", "offerEarlyPayment",
        "acceptEarlyPayment", "openProgramme", "takeProgramme", "markOverdue", "exerciseRecourse",
    }
    assert ok & {"settleRecourse", "withdrawQuote"}


# --- controls: invoices (one invoice, one certificate), tier cap, minimum split --------------

INVOICE_KEYS = [h32(0xC000 + i) for i in range(4)]
INVOICE_AMOUNTS = [3_000, 5_000, 8_000, 2_000]


class Controls:
    """Certificates issued with invoices from a pool of four (sometimes with a wrong amount, the
    same invoice twice, beyond its amount or after it closed), accepted or rejected, split and
    transferred whole under a tier cap and a minimum split set at the start of every run, and
    settled in full. Invariants: each invoice's usage is the model's, never beyond its amount, and
    the sum of the backing of the certificates listed on it; no holding beyond the tier cap; no
    holding left by a split below the minimum (a split's remainder may be zero)."""

    st_idx = st.integers(min_value=0, max_value=2**16)
    st_face = st.integers(min_value=0, max_value=2**20)
    st_days = st.integers(min_value=1, max_value=60)
    st_tier = st.integers(min_value=2, max_value=4)
    st_min = st.integers(min_value=1, max_value=500)
    st_bool = st.booleans()
    stats: Counter = Counter()

    def __init__(cls, world):
        cls.w = world
        world.membership.setCreditLimit(world.core, LIMIT, {"from": world.op})
        cls.holders = [getattr(world, r) for r in HOLDER_ROLES]

    def setup(self):
        t = self.w.token
        self.cert_count = t.certificateCount()
        self.token_count = t.tokenCount()
        self.certs = {}  # id -> dict(status, maturity, face, backings [(key, amount, backed)])
        self.h = {}  # id -> dict(cert, owner, value, parent, tier)
        self.inv = {}  # key -> dict(amount, used, closed_by, certs)
        for key in INVOICE_KEYS:
            assert tuple(t.invoice(key))[:3] == (0, 0, False)  # the snapshot is before any run

    run = Lifecycle.run
    pin = Lifecycle.pin
    pick = Lifecycle.pick

    def movable_error(self, tid, now):
        h = self.h[tid]
        c = self.certs[h["cert"]]
        if c["status"] != ACTIVE:
            return err("CertificateWrongStatus", h["cert"], c["status"])
        if now >= c["maturity"]:
            return err("CertificateMatured", h["cert"], c["maturity"])
        return None

    def back(self, cid, invoices):
        """The model of the registry's checks and effects: (error, None) or (None, new registry)."""
        inv = {k: dict(v, certs=list(v["certs"])) for k, v in self.inv.items()}
        for key, amount, backed in invoices:
            d = inv.setdefault(key, {"amount": 0, "used": 0, "closed_by": 0, "certs": []})
            if cid in d["certs"]:
                return err("CertificateDuplicateInvoice", key), None
            if d["amount"] == 0:
                d["amount"] = amount
            elif d["amount"] != amount:
                return err("CertificateInvoiceAmountMismatch", key, d["amount"], amount), None
            if d["closed_by"]:
                return err("CertificateInvoiceClosed", key, d["closed_by"]), None
            if d["used"] + backed > amount:
                by = d["certs"][-1] if d["certs"] else 0
                return err("CertificateInvoiceOverused", key, by, amount, d["used"], backed), None
            d["used"] += backed
            d["certs"].append(cid)
        return None, inv

    def initialize_controls(self, st_tier, st_min, st_idx, st_face):
        """The rules, then two accepted certificates on invoices."""
        w = self.w
        self.max_tier, self.min_split = st_tier, st_min
        w.token.setMaxTier(st_tier, {"from": w.op})
        w.token.setMinSplitValue(st_min, {"from": w.op})
        self.rule_issue_with_invoices(st_idx, st_face, 40, True)
        self.rule_issue_with_invoices(st_idx + 1, st_face >> 3, 50, False)

    def rule_issue_with_invoices(self, st_idx, st_face, st_days, st_bool):
        w = self.w
        k1, k2 = st_idx % 4, (st_idx // 4) % 4
        wrong = st_face % 5 == 0  # an amount other than the registered one (or registering it)
        invoices = [(INVOICE_KEYS[k1], INVOICE_AMOUNTS[k1] + wrong, 500 + st_face % 2_000)]
        if st_bool:  # a second invoice (sometimes the same one again)
            invoices.append((INVOICE_KEYS[k2], INVOICE_AMOUNTS[k2], 500 + (st_face >> 11) % 1_500))
        face = sum(b for _, _, b in invoices)
        payee = self.holders[st_face % 3]
        now = self.pin()
        maturity = now + st_days * DAY
        cid = self.cert_count + 1
        expected, registry = self.back(cid, invoices)
        tx = self.run(expected, w.token.issueWithInvoices, payee, face, maturity, h32(1), invoices, {"from": w.core})
        if tx:
            self.cert_count = cid
            self.inv = registry
            self.certs[cid] = {"status": PENDING, "maturity": maturity, "face": face, "backings": invoices}
            self.token_count += 1
            self.h[self.token_count] = {"cert": cid, "owner": str(payee), "value": face, "parent": 0, "tier": 1}
            assert tuple(tx.return_value) == (cid, self.token_count)
            if st_days % 4:  # most are accepted at once; the others wait for rule_respond
                self.rule_respond(len([c for c, v in self.certs.items() if v["status"] == PENDING]) - 1, True)

    def rule_respond(self, st_idx, st_bool):
        w = self.w
        cid = self.pick([c for c, v in self.certs.items() if v["status"] == PENDING], st_idx)
        if cid is None:
            return
        root = next(t for t, h in self.h.items() if h["cert"] == cid)
        self.pin()
        call = w.token.accept if st_bool else w.token.reject
        self.run(None, call, cid, {"from": self.h[root]["owner"]})
        c = self.certs[cid]
        if st_bool:
            c["status"] = ACTIVE
            return
        c["status"] = REJECTED
        del self.h[root]
        for key, _, backed in c["backings"]:  # released; the list loses it by swap-and-pop
            d = self.inv[key]
            d["used"] -= backed
            i = d["certs"].index(cid)
            d["certs"][i] = d["certs"][-1]
            d["certs"].pop()

    def rule_split(self, st_idx, st_face):
        w = self.w
        live = [t for t, h in self.h.items() if h["value"]]
        if st_face % 5:  # mostly holdings that may move, so that tiers grow
            live = [t for t in live if self.certs[self.h[t]["cert"]]["status"] == ACTIVE] or live
        tid = self.pick(live, st_idx)
        if tid is None:
            return
        h = self.h[tid]
        to = [a for a in self.holders if str(a) != h["owner"]][st_face % 4]
        value = 1 + (st_face >> 3) % (h["value"] + 1)
        rest = h["value"] - value
        now = self.pin()
        expected = self.movable_error(tid, now)
        if expected is None and value > h["value"]:
            expected = err("CertificateInsufficientValue", tid, h["value"], value)
        elif expected is None and value < self.min_split:
            expected = err("CertificateSplitTooSmall", value, self.min_split)
        elif expected is None and 0 < rest < self.min_split:
            expected = err("CertificateSplitRemainderTooSmall", rest, self.min_split)
        elif expected is None and h["tier"] + 1 > self.max_tier:
            expected = err("CertificateTierTooDeep", h["tier"] + 1, self.max_tier)
        tx = self.run(expected, w.token.splitTransfer, tid, to, value, h32(7), {"from": h["owner"]})
        if tx:
            h["value"] = rest
            self.token_count += 1
            self.h[self.token_count] = {
                "cert": h["cert"], "owner": str(to), "value": value, "parent": tid, "tier": h["tier"] + 1,
            }
            assert tx.return_value == self.token_count

    def rule_transfer_whole(self, st_idx, st_face):
        w = self.w
        tid = self.pick(self.h, st_idx)
        if tid is None:
            return
        h = self.h[tid]
        to = [a for a in self.holders if str(a) != h["owner"]][st_face % 4]
        now = self.pin()
        expected = self.movable_error(tid, now)
        if expected is None and h["tier"] + 1 > self.max_tier:
            expected = err("CertificateTierTooDeep", h["tier"] + 1, self.max_tier)
        if self.run(expected, w.token.transferFrom["address,address,uint256"], h["owner"], to, tid,
                    {"from": h["owner"]}):
            h["owner"], h["tier"] = str(to), h["tier"] + 1

    def rule_settle(self, st_idx):
        """The debtor repays an active certificate in full; past maturity every holder redeems:
        the certificate is settled and closes its invoices."""
        w = self.w
        cid = self.pick([c for c, v in self.certs.items() if v["status"] == ACTIVE], st_idx)
        if cid is None or st_idx % 3:  # rarely: the warp to maturity stops the other certificates
            return
        c = self.certs[cid]
        self.run(None, w.settlement.repay, cid, c["face"], {"from": w.core})
        w.warp(c["maturity"])
        for tid in sorted(t for t, h in self.h.items() if h["cert"] == cid and h["value"]):
            self.run(None, w.settlement.redeem, tid, {"from": self.h[tid]["owner"]})
            del self.h[tid]
        assert w.token.certificate(cid)[2] == SETTLED
        c["status"] = SETTLED
        for key, _, _ in c["backings"]:
            if not self.inv[key]["closed_by"]:
                self.inv[key]["closed_by"] = cid

    def invariant_invoices(self):
        t = self.w.token
        for key, d in self.inv.items():
            amount, used, closed, certs = t.invoice(key)
            assert (amount, used, closed, list(certs)) == (d["amount"], d["used"], bool(d["closed_by"]), d["certs"])
            assert used <= amount
            assert used == sum(b for c in certs for k, _, b in self.certs[c]["backings"] if k == key)
            assert all(self.certs[c]["status"] != REJECTED for c in certs)

    def invariant_tier_cap_and_min_split(self):
        t = self.w.token
        for tid, h in self.h.items():
            got = t.holding(tid)
            assert tuple(got)[:5] == (h["cert"], h["owner"], h["value"], h["parent"], h["tier"])
            assert h["tier"] <= self.max_tier
            assert h["value"] == 0 or h["value"] >= self.min_split


def test_controls_invariants(world):
    Controls.stats.clear()
    steps.clear()
    settings = {
        "max_examples": int(os.environ.get("SCF_STATEFUL_EXAMPLES", "15")),
        "stateful_step_count": 40,
        "derandomize": not os.environ.get("SCF_STATEFUL_RANDOM"),
    }
    state_machine(Controls, world, settings=settings)
    print(dict(steps))
    for key, n in sorted(Controls.stats.items()):
        print(f"{key[0]:>20} {key[1]:<38} {n}")
    ok = {fn for fn, outcome in Controls.stats if outcome == "ok"}
    assert ok >= {"issueWithInvoices", "accept", "reject", "splitTransfer", "transferFrom", "redeem"}
    refused = {outcome for _, outcome in Controls.stats if outcome != "ok"}
    assert refused >= {
        "CertificateInvoiceOverused", "CertificateInvoiceAmountMismatch", "CertificateDuplicateInvoice",
        "CertificateInvoiceClosed", "CertificateTierTooDeep", "CertificateSplitTooSmall",
        "CertificateSplitRemainderTooSmall",
    }
