"""Fixtures: the deployed, wired system and a populated world of members.

Roles (Membership.Role): 0 None, 1 CoreEnterprise, 2 Supplier, 3 Factor, 4 Auditor, 5 ClearingAgent.
Capabilities (Membership.Capability): 0 HoldCurrency, 1 SpendCurrency, 2 HoldHoldings, 3 SpendHoldings.
Certificate status: 0 None, 1 Pending, 2 Active, 3 Rejected, 4 Overdue, 5 Settled.
Amounts have 2 decimals (100_000 = 1,000.00).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import brownie
import pytest
from errors import err

NONE, CORE, SUPPLIER, FACTOR, AUDITOR, CLEARING = range(6)
HOLD_CURRENCY, SPEND_CURRENCY, HOLD_HOLDINGS, SPEND_HOLDINGS = range(4)  # Membership.Capability
ST_NONE, PENDING, ACTIVE, REJECTED, OVERDUE, SETTLED = range(6)
OFFER_NONE, OFFER_OPEN, OFFER_ACCEPTED, OFFER_CANCELLED = range(4)
DAY = 86_400
CREDIT = 10_000_000_00
CURRENCY = 5_000_000_00
ZERO = "0x0000000000000000000000000000000000000000"


def h32(n: int) -> bytes:
    """A recognisable 32-byte document / KYC hash."""
    return n.to_bytes(32, "big")


@dataclass
class World:
    membership: Any
    currency: Any
    token: Any
    financing: Any
    settlement: Any
    op: Any
    core: Any
    core2: Any
    s1: Any
    s2: Any
    s3: Any
    f1: Any
    f2: Any
    auditor: Any
    outsider: Any
    suspended: Any
    clearing: Any  # the clearing agent (a licensed bank): mints and burns the currency
    chain: Any
    extra: dict[str, Any] = field(default_factory=dict)

    def issue(self, payee=None, face=100_000, days=90, debtor=None, doc=1, accept=True):
        """Issue (and by default accept) a certificate; returns (certificate id, root token id)."""
        payee = payee or self.s1
        debtor = debtor or self.core
        maturity = self.now() + days * DAY
        tx = self.token.issue(payee, face, maturity, h32(doc), {"from": debtor})
        cert_id, token_id = tx.return_value
        if accept:
            self.token.accept(cert_id, {"from": payee})
        return cert_id, token_id

    def now(self) -> int:
        """The latest block's timestamp: the chain's own clock."""
        return self.chain[-1].timestamp

    def split(self, token_id, to, value, sender=None, doc=2):
        sender = sender or self.token.ownerOf(token_id)
        tx = self.token.splitTransfer(token_id, to, value, h32(doc), {"from": sender})
        return tx.return_value

    def value(self, token_id) -> int:
        return self.token.balanceOf["uint256"](token_id)

    def mature(self, cert_id, extra=0):
        """Jump past the certificate's maturity (plus `extra` seconds)."""
        self.warp(self.token.certificate(cert_id)[1] + extra)

    def warp(self, timestamp: int) -> None:
        """Mine a block at `timestamp` (at least one second after the latest block)."""
        warp(self.chain, timestamp)

    def offer(self, token_id, value, factor=None, rate=500, days=30, recourse=False, doc=7, seller=None):
        factor = factor or self.f1
        seller = seller or self.token.ownerOf(token_id)
        expires = self.now() + days * DAY
        tx = self.financing.createOffer(token_id, value, factor, rate, expires, recourse, h32(doc), {"from": seller})
        return tx.return_value


@pytest.fixture(scope="module")
def operator(accounts):
    return accounts[0]


def deploy_system(operator, Membership, SettlementToken, CertificateToken, Financing, Settlement):
    membership = Membership.deploy(operator, {"from": operator})
    currency = SettlementToken.deploy("Settlement Deposit CNY", "DCNY", membership, {"from": operator})
    token = CertificateToken.deploy(membership, "Receivable Certificate", "RCERT", {"from": operator})
    financing = Financing.deploy(membership, token, currency, {"from": operator})
    settlement = Settlement.deploy(membership, token, currency, {"from": operator})
    token.setSystemContracts(financing, settlement, {"from": operator})
    currency.setSystemContracts(financing, settlement, {"from": operator})
    for c in (token, financing, settlement):
        membership.setSystemContract(c, True, {"from": operator})
    return membership, currency, token, financing, settlement


@pytest.fixture(scope="module")
def system(operator, Membership, SettlementToken, CertificateToken, Financing, Settlement):
    return deploy_system(operator, Membership, SettlementToken, CertificateToken, Financing, Settlement)


def populate(system, accounts, chain) -> World:
    membership, currency, token, financing, settlement = system
    op = accounts[0]
    w = World(
        membership, currency, token, financing, settlement,
        op=op, core=accounts[1], core2=accounts[2], s1=accounts[3], s2=accounts[4], s3=accounts[5],
        f1=accounts[6], f2=accounts[7], auditor=accounts[8], outsider=accounts[9], suspended=accounts[10],
        clearing=accounts[19], chain=chain,
    )
    members = [
        (w.core, CORE), (w.core2, CORE), (w.s1, SUPPLIER), (w.s2, SUPPLIER), (w.s3, SUPPLIER),
        (w.f1, FACTOR), (w.f2, FACTOR), (w.auditor, AUDITOR), (w.suspended, SUPPLIER), (w.clearing, CLEARING),
    ]
    for i, (account, role) in enumerate(members):
        membership.onboard(account, role, h32(100 + i), {"from": op})
    membership.setCreditLimit(w.core, CREDIT, {"from": op})
    membership.setCreditLimit(w.core2, CREDIT, {"from": op})
    for account in (w.core, w.core2, w.f1, w.f2):
        currency.mint(account, CURRENCY, {"from": w.clearing})
    membership.setActive(w.suspended, False, {"from": op})
    return w


@pytest.fixture(scope="module")
def world(system, accounts, chain) -> World:
    return populate(system, accounts, chain)


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    pass


def event(tx, name: str, index: int = 0) -> dict[str, Any]:
    """The `index`-th `name` event of `tx` as a plain dict."""
    assert name in tx.events, f"{name} not emitted; got {list(tx.events.keys())}"
    return dict(tx.events[name][index])


def events(tx, name: str) -> list[dict[str, Any]]:
    return [dict(e) for e in tx.events[name]] if name in tx.events else []


def assert_event(tx, name: str, index: int = 0, **expected: Any) -> None:
    got = event(tx, name, index)
    for key, value in expected.items():
        actual = got[key]
        if isinstance(value, bytes):
            actual = bytes.fromhex(str(actual)[2:]) if str(actual).startswith("0x") else bytes(actual)
        elif hasattr(value, "address"):
            value = value.address
        assert actual == value, f"{name}.{key}: {actual!r} != {value!r}"
    assert set(expected) <= set(got), f"{name} has no field(s) {set(expected) - set(got)}"


def warp(chain, timestamp: int) -> int:
    """Mine a block at `timestamp` (or one second after the latest block if that is later)."""
    from brownie import web3

    ts = max(timestamp, chain[-1].timestamp + 1)
    web3.provider.make_request("evm_setNextBlockTimestamp", [ts])
    web3.provider.make_request("evm_mine", [])
    assert chain[-1].timestamp == ts
    return ts


def next_timestamp(chain, web3, delta: int = 1) -> int:
    """Fix the next block's timestamp (so errors carrying `block.timestamp` can be matched)."""
    ts = chain[-1].timestamp + delta
    web3.provider.make_request("evm_setNextBlockTimestamp", [ts])
    return ts


def assert_only_an_active_clearing_agent(w: World, call, member, member_role: int) -> None:
    """`call(sender)` (a mint or a burn of 1) succeeds only for an active clearing agent in an
    unpaused system: the operator (no member) and `member` (of `member_role`) get
    `MembershipWrongRole`, the suspended clearing agent `MembershipInactive`, a paused system
    `MembershipPaused` (left paused). The one success in between is the reactivated clearing agent's."""
    with brownie.reverts(err("MembershipWrongRole", w.op, CLEARING, NONE)):
        call(w.op)
    with brownie.reverts(err("MembershipWrongRole", member, CLEARING, member_role)):
        call(member)
    w.membership.setActive(w.clearing, False, {"from": w.op})
    with brownie.reverts(err("MembershipInactive", w.clearing)):
        call(w.clearing)
    w.membership.setActive(w.clearing, True, {"from": w.op})
    call(w.clearing)
    w.membership.pause({"from": w.op})
    with brownie.reverts(err("MembershipPaused")):
        call(w.clearing)
