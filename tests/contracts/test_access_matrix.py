"""Role x function matrix: who may call each state-changing function of the five contracts.

Every caller acts on the object that is "its own" when its role can have one (its holding, its
offer, its certificate), otherwise on the supplier's. Refusals assert the exact authorization error.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import brownie
import pytest
from conftest import (
    AUDITOR,
    CLEARING,
    CORE,
    DAY,
    FACTOR,
    HOLD_CURRENCY,
    NONE,
    SPEND_CURRENCY,
    SPEND_HOLDINGS,
    SUPPLIER,
    h32,
)
from errors import err

ROLES = ["operator", "core", "supplier", "factor", "auditor", "clearing", "outsider", "suspended"]
ROLE_ENUM = {
    "operator": NONE, "core": CORE, "supplier": SUPPLIER, "factor": FACTOR,
    "auditor": AUDITOR, "clearing": CLEARING, "outsider": NONE, "suspended": SUPPLIER,
}
HOLDERS = {"supplier", "factor", "suspended"}


@dataclass
class Matrix:
    w: Any
    callers: dict[str, Any]
    active_cert: int
    holding: dict[str, int]  # role -> its holding of the active certificate
    other_holding: int  # s2's holding of the active certificate (merge target)
    frozen: int
    pending: int
    offer: int
    settling_cert: int
    settling: dict[str, int]  # role -> its holding of the matured, half-repaid certificate
    overdue_cert: int
    nominee: Any
    new_account: Any
    market: dict[str, int] = field(default_factory=dict)  # the market's open objects (see mx)

    def own(self, role: str) -> int:
        return self.holding.get(role, self.holding["supplier"])

    def own_settling(self, role: str) -> int:
        return self.settling.get(role, self.settling["supplier"])


@pytest.fixture(scope="module")
def mx(world, accounts):
    w, op = world, world.op
    m = w.membership
    m.setActive(w.suspended, True, {"from": op})
    for who in (w.s1, w.suspended):
        w.currency.mint(who, 1_000, {"from": w.clearing})
    cert, a = w.issue(face=100_000, days=90)
    b = w.split(a, w.f1, 10_000)
    s = w.split(a, w.suspended, 10_000)
    x = w.split(a, w.s2, 10_000)
    frozen = w.split(a, w.s2, 10)
    w.token.freeze(frozen, h32(1), {"from": op})
    pending, _ = w.issue(face=1_000, days=30, accept=False)
    offer = w.offer(a, 1_000, factor=w.f1, days=30)
    c2, r1 = w.issue(face=1_000, days=1)
    r2 = w.split(r1, w.f1, 300)
    r3 = w.split(r1, w.suspended, 300)
    c3, _ = w.issue(face=1_000, days=1)
    # the market: an open offer to every factor, a request with f1's quote, the debtor's early
    # payment offer and programme, two recourse deals of f1 on a certificate about to be overdue
    f, stl = w.financing, w.settlement
    later = w.now() + 30 * DAY
    market = {
        "open_offer": f.createOpenOffer(a, 1_000, [], 100, later, False, h32(6), {"from": w.s1}).return_value,
        "request": f.requestQuotes(a, 1_000, later, True, h32(7), {"from": w.s1}).return_value,
        "early": stl.offerEarlyPayment(a, 1_000, 100, later, {"from": w.core}).return_value,
        "programme": stl.openProgramme(100, 10_000, {"from": w.core}).return_value,
    }
    market["quote"] = f.submitQuote(market["request"], 100, {"from": w.f1}).return_value
    c4, r4 = w.issue(face=1_000, days=1)
    for key in ("deal", "unpaid_deal"):
        expires = w.token.certificate(c4)[1]
        market[key] = f.createOffer(r4, 100, w.f1, 100, expires, True, h32(8), {"from": w.s1}).return_value
        f.acceptOffer(market[key], {"from": w.f1})
    m.setActive(w.suspended, False, {"from": op})
    w.settlement.repay(c2, 500, {"from": w.core})
    w.settlement.setGracePeriod(0, {"from": op})
    w.warp(max(w.token.certificate(c)[1] for c in (c2, c3, c4)) + 10)
    stl.markOverdue(c4, {"from": op})
    assert f.exerciseRecourse(market["unpaid_deal"], {"from": w.f1}).return_value is False  # no allowance yet
    w.currency.approve(f, 10_000, {"from": w.s1})
    callers = {
        "operator": op, "core": w.core, "supplier": w.s1, "factor": w.f1,
        "auditor": w.auditor, "clearing": w.clearing, "outsider": w.outsider, "suspended": w.suspended,
    }
    # every caller whose role may spend currency holds an allowance of the core enterprise's
    # (the others can never be given one: SettlementToken.approve(to auditor) below)
    for role in ("core", "supplier", "factor", "suspended"):
        w.currency.approve(callers[role], 1_000, {"from": w.core})
    return Matrix(
        w=w, callers=callers, active_cert=cert,
        holding={"supplier": a, "factor": b, "suspended": s}, other_holding=x, frozen=frozen,
        pending=pending, offer=offer, settling_cert=c2,
        settling={"supplier": r1, "factor": r2, "suspended": r3}, overdue_cert=c3,
        nominee=accounts[15], new_account=accounts[16], market=market,
    )


# --- expectations ---------------------------------------------------------------------------


def allow(*roles, otherwise):
    """`roles` succeed; any other role gets `otherwise(mx, role, who)`."""
    def expect(mx, role, who):
        return None if role in roles else otherwise(mx, role, who)
    return expect


def everyone(mx, role, who):
    return None


def ownable(mx, role, who):
    return err("OwnableUnauthorizedAccount", who)


def cert_unauthorized(mx, role, who):
    return err("CertificateUnauthorized", who)


def wrong_role(expected):
    return lambda mx, role, who: err("MembershipWrongRole", who, expected, ROLE_ENUM[role])


def not_owner(mx, role, who):
    return err("CertificateNotOwnerNorApproved", mx.own(role), who)


def holder_or(mx, role, who):
    """Holders act on their own holding; a suspended holder is stopped by membership."""
    if role == "suspended":
        return err("MembershipInactive", who)
    return not_owner(mx, role, who)


def currency_party(mx, role, who):
    """The sender side of a currency move: active members of a role that may hold currency."""
    if role == "suspended":
        return err("MembershipInactive", who)
    if role in ("auditor", "clearing"):  # roles that hold no currency
        return err("MembershipNotPermitted", who, ROLE_ENUM[role], HOLD_CURRENCY)
    return err("MembershipUnknownMember", who)


def never_approved(mx, role, who):
    """Callers that can never be given an allowance (approve refuses them) hold none."""
    if role == "suspended":
        return err("MembershipInactive", who)
    return err("ERC20InsufficientAllowance", who, 0, 1)


def to_auditor(mx, role, who):
    """The auditor holds nothing: a currency transfer to it fails on the sender or on it."""
    if role in ("core", "supplier", "factor"):
        return err("MembershipNotPermitted", mx.w.auditor, AUDITOR, HOLD_CURRENCY)
    return currency_party(mx, role, who)


def approving_auditor(mx, role, who):
    """Only a holding's owner reaches the role check; the auditor is never made a spender."""
    if role not in HOLDERS:
        return not_owner(mx, role, who)
    return err("MembershipNotPermitted", mx.w.auditor, AUDITOR, SPEND_HOLDINGS)


def quoter(mx, role, who):
    """submitQuote: the seller and the caller must be active holders, the caller a factor."""
    if role == "suspended":
        return err("MembershipInactive", who)
    if role == "supplier":
        return err("MembershipWrongRole", who, FACTOR, SUPPLIER)
    return err("MembershipNotHolder", who, ROLE_ENUM[role])


def seller_of_own(mx, r, who):
    """Selling one's own holding (createOffer, createOpenOffer, requestQuotes)."""
    return err("MembershipInactive", who) if r == "suspended" else err("FinancingNotHolder", mx.own(r), who, mx.w.s1)


def tx(who):
    return {"from": who}


# function -> (call(mx, role, who), expectation(mx, role, who) -> None | revert string)
CASES = {
    # Membership
    "Membership.onboard": (
        lambda mx, r, who: mx.w.membership.onboard(mx.new_account, SUPPLIER, h32(1), tx(who)),
        allow("operator", otherwise=ownable),
    ),
    "Membership.updateKyc": (
        lambda mx, r, who: mx.w.membership.updateKyc(mx.w.s2, h32(2), tx(who)),
        allow("operator", otherwise=ownable),
    ),
    "Membership.setActive": (
        lambda mx, r, who: mx.w.membership.setActive(mx.w.s2, False, tx(who)),
        allow("operator", otherwise=ownable),
    ),
    "Membership.setCreditLimit": (
        lambda mx, r, who: mx.w.membership.setCreditLimit(mx.w.core2, 1, tx(who)),
        allow("operator", otherwise=ownable),
    ),
    "Membership.setSystemContract": (
        lambda mx, r, who: mx.w.membership.setSystemContract(mx.new_account, True, tx(who)),
        allow("operator", otherwise=ownable),
    ),
    "Membership.pause": (
        lambda mx, r, who: mx.w.membership.pause(tx(who)),
        allow("operator", otherwise=ownable),
    ),
    "Membership.unpause": (
        lambda mx, r, who: (mx.w.membership.pause(tx(mx.w.op)), mx.w.membership.unpause(tx(who))),
        allow("operator", otherwise=ownable),
    ),
    "Membership.transferOwnership": (
        lambda mx, r, who: mx.w.membership.transferOwnership(mx.nominee, tx(who)),
        allow("operator", otherwise=ownable),
    ),
    "Membership.acceptOwnership": (
        lambda mx, r, who: (
            mx.w.membership.transferOwnership(mx.nominee, tx(mx.w.op)), mx.w.membership.acceptOwnership(tx(who))
        ),
        allow(otherwise=ownable),  # only the nominee, who holds no role here
    ),
    "Membership.renounceOwnership": (
        lambda mx, r, who: mx.w.membership.renounceOwnership(tx(who)),
        # disabled for everyone: the operator gets MembershipRenounceDisabled, others Ownable's error
        lambda mx, r, who: err("MembershipRenounceDisabled") if r == "operator" else ownable(mx, r, who),
    ),
    "Membership.consumeCredit": (
        lambda mx, r, who: mx.w.membership.consumeCredit(mx.w.core, 1, tx(who)),
        allow(otherwise=lambda mx, r, who: err("MembershipUnauthorized", who)),
    ),
    "Membership.releaseCredit": (
        lambda mx, r, who: mx.w.membership.releaseCredit(mx.w.core, 1, tx(who)),
        allow(otherwise=lambda mx, r, who: err("MembershipUnauthorized", who)),
    ),
    # SettlementToken
    "SettlementToken.mint": (  # the clearing agent alone, never the operator
        lambda mx, r, who: mx.w.currency.mint(mx.w.s1, 1, tx(who)),
        allow("clearing", otherwise=wrong_role(CLEARING)),
    ),
    "SettlementToken.burn": (
        lambda mx, r, who: mx.w.currency.burn(mx.w.core, 1, tx(who)),
        allow("clearing", otherwise=wrong_role(CLEARING)),
    ),
    "SettlementToken.setSystemContracts": (
        lambda mx, r, who: mx.w.currency.setSystemContracts(mx.w.financing, mx.w.settlement, tx(who)),
        # wired once at deployment: the operator's second call is refused too
        lambda mx, r, who: err("SettlementTokenSystemContractsAlreadySet", mx.w.financing, mx.w.settlement)
        if r == "operator" else err("SettlementTokenUnauthorized", who),
    ),
    "SettlementToken.transferByAgent": (
        lambda mx, r, who: mx.w.currency.transferByAgent(mx.w.core, mx.w.s1, 1, tx(who)),
        allow(otherwise=lambda mx, r, who: err("SettlementTokenUnauthorized", who)),
    ),
    "SettlementToken.transfer": (
        lambda mx, r, who: mx.w.currency.transfer(mx.w.s2, 1, tx(who)),
        allow("core", "supplier", "factor", otherwise=currency_party),
    ),
    "SettlementToken.transfer(to auditor)": (
        lambda mx, r, who: mx.w.currency.transfer(mx.w.auditor, 1, tx(who)),
        to_auditor,
    ),
    "SettlementToken.approve": (  # approving moves nothing; every transfer is checked
        lambda mx, r, who: mx.w.currency.approve(mx.w.s2, 1, tx(who)),
        everyone,
    ),
    "SettlementToken.approve(to auditor)": (  # nobody makes an auditor a spender
        lambda mx, r, who: mx.w.currency.approve(mx.w.auditor, 1, tx(who)),
        lambda mx, r, who: err("MembershipNotPermitted", mx.w.auditor, AUDITOR, SPEND_CURRENCY),
    ),
    "SettlementToken.transferFrom": (  # the parties, and an approved spender: an active member
        lambda mx, r, who: mx.w.currency.transferFrom(mx.w.core, mx.w.s1, 1, tx(who)),
        allow("core", "supplier", "factor", otherwise=never_approved),
    ),
    # CertificateToken
    "CertificateToken.issue": (
        lambda mx, r, who: mx.w.token.issue(mx.w.s1, 1, mx.w.now() + 10 * DAY, h32(1), tx(who)),
        allow("core", otherwise=wrong_role(CORE)),
    ),
    "CertificateToken.accept": (
        lambda mx, r, who: mx.w.token.accept(mx.pending, tx(who)),
        allow("supplier", otherwise=lambda mx, r, who: err("CertificateNotPayee", mx.pending, who, mx.w.s1)),
    ),
    "CertificateToken.reject": (
        lambda mx, r, who: mx.w.token.reject(mx.pending, tx(who)),
        allow("supplier", otherwise=lambda mx, r, who: err("CertificateNotPayee", mx.pending, who, mx.w.s1)),
    ),
    "CertificateToken.splitTransfer": (
        lambda mx, r, who: mx.w.token.splitTransfer(mx.own(r), mx.w.s2, 1, h32(3), tx(who)),
        allow("supplier", "factor", otherwise=holder_or),
    ),
    "CertificateToken.freeze": (
        lambda mx, r, who: mx.w.token.freeze(mx.own(r), h32(4), tx(who)),
        allow("operator", otherwise=cert_unauthorized),
    ),
    "CertificateToken.unfreeze": (
        lambda mx, r, who: mx.w.token.unfreeze(mx.frozen, h32(4), tx(who)),
        allow("operator", otherwise=cert_unauthorized),
    ),
    "CertificateToken.issueWithInvoices": (
        lambda mx, r, who: mx.w.token.issueWithInvoices(
            mx.w.s1, 1, mx.w.now() + 10 * DAY, h32(1), [(h32(9001), 5, 1)], tx(who)),
        allow("core", otherwise=wrong_role(CORE)),
    ),
    "CertificateToken.setInvoicesRequired": (
        lambda mx, r, who: mx.w.token.setInvoicesRequired(True, tx(who)),
        allow("operator", otherwise=cert_unauthorized),
    ),
    "CertificateToken.setMaxTier": (
        lambda mx, r, who: mx.w.token.setMaxTier(5, tx(who)),
        allow("operator", otherwise=cert_unauthorized),
    ),
    "CertificateToken.setMinSplitValue": (
        lambda mx, r, who: mx.w.token.setMinSplitValue(100, tx(who)),
        allow("operator", otherwise=cert_unauthorized),
    ),
    "CertificateToken.setMaxTerm": (
        lambda mx, r, who: mx.w.token.setMaxTerm(180 * DAY, tx(who)),
        allow("operator", otherwise=cert_unauthorized),
    ),
    "CertificateToken.setSystemContracts": (
        lambda mx, r, who: mx.w.token.setSystemContracts(mx.w.financing, mx.w.settlement, tx(who)),
        # wired once at deployment: the operator's second call is refused too
        lambda mx, r, who: err("CertificateSystemContractsAlreadySet", mx.w.financing, mx.w.settlement)
        if r == "operator" else cert_unauthorized(mx, r, who),
    ),
    "CertificateToken.transferByAgent": (
        lambda mx, r, who: mx.w.token.transferByAgent(mx.own(r), mx.w.s1, mx.w.f1, 1, h32(5), tx(who)),
        allow(otherwise=cert_unauthorized),
    ),
    "CertificateToken.redeemValue": (
        lambda mx, r, who: mx.w.token.redeemValue(mx.own_settling(r), 1, tx(who)),
        allow(otherwise=cert_unauthorized),
    ),
    "CertificateToken.markOverdue": (
        lambda mx, r, who: mx.w.token.markOverdue(mx.overdue_cert, tx(who)),
        allow(otherwise=cert_unauthorized),
    ),
    "CertificateToken.approve(value)": (  # approving moves nothing; a suspended owner may approve
        lambda mx, r, who: mx.w.token.approve["uint256,address,uint256"](mx.own(r), mx.w.s3, 1, tx(who)),
        allow("supplier", "factor", "suspended", otherwise=not_owner),
    ),
    "CertificateToken.approve(721)": (
        lambda mx, r, who: mx.w.token.approve["address,uint256"](mx.w.s3, mx.own(r), tx(who)),
        allow("supplier", "factor", "suspended", otherwise=not_owner),
    ),
    "CertificateToken.approve(value to auditor)": (
        lambda mx, r, who: mx.w.token.approve["uint256,address,uint256"](mx.own(r), mx.w.auditor, 1, tx(who)),
        approving_auditor,
    ),
    "CertificateToken.approve(721 to auditor)": (
        lambda mx, r, who: mx.w.token.approve["address,uint256"](mx.w.auditor, mx.own(r), tx(who)),
        approving_auditor,
    ),
    "CertificateToken.setApprovalForAll": (
        lambda mx, r, who: mx.w.token.setApprovalForAll(mx.w.s3, True, tx(who)),
        everyone,
    ),
    "CertificateToken.setApprovalForAll(auditor)": (
        lambda mx, r, who: mx.w.token.setApprovalForAll(mx.w.auditor, True, tx(who)),
        lambda mx, r, who: err("CertificateApproveToCaller", who) if r == "auditor"
        else err("MembershipNotPermitted", mx.w.auditor, AUDITOR, SPEND_HOLDINGS),
    ),
    "CertificateToken.splitTransfer(to auditor)": (  # the auditor never holds a holding
        lambda mx, r, who: mx.w.token.splitTransfer(mx.own(r), mx.w.auditor, 1, h32(3), tx(who)),
        lambda mx, r, who: err("MembershipNotHolder", mx.w.auditor, AUDITOR) if r in ("supplier", "factor")
        else holder_or(mx, r, who),
    ),
    "CertificateToken.transferFrom(id,to,value)": (
        lambda mx, r, who: mx.w.token.transferFrom["uint256,address,uint256"](mx.own(r), mx.w.s2, 1, tx(who)),
        allow("supplier", "factor", otherwise=holder_or),
    ),
    "CertificateToken.transferFrom(id,id,value)": (
        lambda mx, r, who: mx.w.token.transferFrom["uint256,uint256,uint256"](
            mx.own(r), mx.other_holding, 1, tx(who)
        ),
        allow("supplier", "factor", otherwise=holder_or),
    ),
    "CertificateToken.transferFrom(from,to,id)": (
        lambda mx, r, who: mx.w.token.transferFrom["address,address,uint256"](
            mx.w.token.ownerOf(mx.own(r)), mx.w.s2, mx.own(r), tx(who)
        ),
        allow("supplier", "factor", otherwise=holder_or),
    ),
    "CertificateToken.safeTransferFrom(from,to,id)": (
        lambda mx, r, who: mx.w.token.safeTransferFrom["address,address,uint256"](
            mx.w.token.ownerOf(mx.own(r)), mx.w.s2, mx.own(r), tx(who)
        ),
        allow("supplier", "factor", otherwise=holder_or),
    ),
    "CertificateToken.safeTransferFrom(from,to,id,data)": (
        lambda mx, r, who: mx.w.token.safeTransferFrom["address,address,uint256,bytes"](
            mx.w.token.ownerOf(mx.own(r)), mx.w.s2, mx.own(r), b"x", tx(who)
        ),
        allow("supplier", "factor", otherwise=holder_or),
    ),
    # Financing
    "Financing.createOffer": (
        lambda mx, r, who: mx.w.financing.createOffer(
            mx.own(r), 1, mx.w.f2, 100, mx.w.now() + 10 * DAY, False, h32(5), tx(who)
        ),
        allow(
            "supplier", "factor",
            otherwise=lambda mx, r, who: err("MembershipInactive", who) if r == "suspended"
            else err("FinancingNotHolder", mx.own(r), who, mx.w.s1),
        ),
    ),
    "Financing.cancelOffer": (
        lambda mx, r, who: mx.w.financing.cancelOffer(mx.offer, tx(who)),
        allow("supplier", otherwise=lambda mx, r, who: err("FinancingNotSeller", mx.offer, who, mx.w.s1)),
    ),
    "Financing.acceptOffer": (
        lambda mx, r, who: mx.w.financing.acceptOffer(mx.offer, tx(who)),
        allow("factor", otherwise=lambda mx, r, who: err("FinancingNotFactor", mx.offer, who, mx.w.f1)),
    ),
    # Financing: the market
    "Financing.createOpenOffer": (
        lambda mx, r, who: mx.w.financing.createOpenOffer(
            mx.own(r), 1, [], 100, mx.w.now() + 10 * DAY, False, h32(5), tx(who)
        ),
        allow("supplier", "factor", otherwise=seller_of_own),
    ),
    "Financing.acceptOffer(open offer)": (
        lambda mx, r, who: mx.w.financing.acceptOffer(mx.market["open_offer"], tx(who)),
        allow("factor", otherwise=lambda mx, r, who: err("FinancingNotInvited", mx.market["open_offer"], who)),
    ),
    "Financing.requestQuotes": (
        lambda mx, r, who: mx.w.financing.requestQuotes(mx.own(r), 1, mx.w.now() + 10 * DAY, False, h32(5), tx(who)),
        allow("supplier", "factor", otherwise=seller_of_own),
    ),
    "Financing.cancelQuoteRequest": (
        lambda mx, r, who: mx.w.financing.cancelQuoteRequest(mx.market["request"], tx(who)),
        allow("supplier", otherwise=lambda mx, r, who: err(
            "FinancingNotRequester", mx.market["request"], who, mx.w.s1)),
    ),
    "Financing.submitQuote": (
        lambda mx, r, who: mx.w.financing.submitQuote(mx.market["request"], 100, tx(who)),
        allow("factor", otherwise=quoter),
    ),
    "Financing.withdrawQuote": (
        lambda mx, r, who: mx.w.financing.withdrawQuote(mx.market["quote"], tx(who)),
        allow("factor", otherwise=lambda mx, r, who: err("FinancingNotQuoter", mx.market["quote"], who, mx.w.f1)),
    ),
    "Financing.acceptQuote": (
        lambda mx, r, who: mx.w.financing.acceptQuote(mx.market["quote"], tx(who)),
        allow("supplier", otherwise=lambda mx, r, who: err(
            "FinancingNotRequester", mx.market["request"], who, mx.w.s1)),
    ),
    "Financing.exerciseRecourse": (
        lambda mx, r, who: mx.w.financing.exerciseRecourse(mx.market["deal"], tx(who)),
        allow("factor", otherwise=lambda mx, r, who: err("FinancingNotFactor", mx.market["deal"], who, mx.w.f1)),
    ),
    "Financing.settleRecourse": (  # the seller or the factor
        lambda mx, r, who: mx.w.financing.settleRecourse(mx.market["unpaid_deal"], tx(who)),
        allow("supplier", "factor", otherwise=lambda mx, r, who: err(
            "FinancingNotParty", mx.market["unpaid_deal"], who)),
    ),
    "Financing.setRegistration": (  # the deal's factor
        lambda mx, r, who: mx.w.financing.setRegistration(mx.market["deal"], h32(77), tx(who)),
        allow("factor", otherwise=lambda mx, r, who: err("FinancingNotFactor", mx.market["deal"], who, mx.w.f1)),
    ),
    "CertificateToken.recourseTransfer": (
        lambda mx, r, who: mx.w.token.recourseTransfer(mx.own(r), mx.w.token.ownerOf(mx.own(r)), mx.w.s2, tx(who)),
        allow(otherwise=cert_unauthorized),
    ),
    # Settlement: early payment
    "Settlement.offerEarlyPayment": (
        lambda mx, r, who: mx.w.settlement.offerEarlyPayment(mx.own(r), 1, 100, mx.w.now() + DAY, tx(who)),
        allow("core", otherwise=wrong_role(CORE)),
    ),
    "Settlement.cancelEarlyPayment": (
        lambda mx, r, who: mx.w.settlement.cancelEarlyPayment(mx.market["early"], tx(who)),
        allow("core", otherwise=lambda mx, r, who: err("SettlementUnauthorized", who)),
    ),
    "Settlement.acceptEarlyPayment": (
        lambda mx, r, who: mx.w.settlement.acceptEarlyPayment(mx.market["early"], tx(who)),
        allow("supplier", otherwise=lambda mx, r, who: err("SettlementNotHolder", mx.own("supplier"), who, mx.w.s1)),
    ),
    "Settlement.openProgramme": (
        lambda mx, r, who: mx.w.settlement.openProgramme(100, 1, tx(who)),
        allow("core", otherwise=wrong_role(CORE)),
    ),
    "Settlement.closeProgramme": (
        lambda mx, r, who: mx.w.settlement.closeProgramme(mx.market["programme"], tx(who)),
        allow("core", otherwise=lambda mx, r, who: err(
            "SettlementNotProgrammeDebtor", mx.market["programme"], who, mx.w.core)),
    ),
    "Settlement.takeProgramme": (  # holders on their own holding; a suspended one is not paid
        lambda mx, r, who: mx.w.settlement.takeProgramme(mx.market["programme"], mx.own(r), 1, tx(who)),
        allow("supplier", "factor", otherwise=lambda mx, r, who: err("MembershipInactive", who)
              if r == "suspended" else err("SettlementNotHolder", mx.own(r), who, mx.w.s1)),
    ),
    # Settlement
    "Settlement.repay": (
        lambda mx, r, who: mx.w.settlement.repay(mx.settling_cert, 1, tx(who)),
        allow("core", otherwise=wrong_role(CORE)),
    ),
    "Settlement.redeem": (
        lambda mx, r, who: mx.w.settlement.redeem(mx.own_settling(r), tx(who)),
        allow(
            "supplier", "factor",
            otherwise=lambda mx, r, who: err("MembershipInactive", who) if r == "suspended"
            else err("SettlementNotHolder", mx.own_settling(r), who, mx.w.s1),
        ),
    ),
    "Settlement.settleBatch": (
        lambda mx, r, who: mx.w.settlement.settleBatch([mx.settling["supplier"]], tx(who)),
        allow(
            "operator", "core",
            otherwise=lambda mx, r, who: err("SettlementNotDebtor", mx.settling_cert, who, mx.w.core),
        ),
    ),
    "Settlement.markOverdue": (
        lambda mx, r, who: mx.w.settlement.markOverdue(mx.overdue_cert, tx(who)),
        everyone,
    ),
    "Settlement.setGracePeriod": (
        lambda mx, r, who: mx.w.settlement.setGracePeriod(DAY, tx(who)),
        allow("operator", otherwise=lambda mx, r, who: err("SettlementUnauthorized", who)),
    ),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("fn", list(CASES))
def test_matrix(mx, fn, role):
    who = mx.callers[role]
    call, expect = CASES[fn]
    expected = expect(mx, role, who)
    if expected is None:
        call(mx, role, who)
    else:
        with brownie.reverts(expected):
            call(mx, role, who)


def test_every_state_changing_function_is_in_the_matrix(world):
    """A new external function must be added to the matrix."""
    covered = {name.split("(")[0] for name in CASES}
    contracts = {
        "Membership": world.membership, "SettlementToken": world.currency, "CertificateToken": world.token,
        "Financing": world.financing, "Settlement": world.settlement,
    }
    missing = []
    for cname, contract in contracts.items():
        for item in contract.abi:
            name = f"{cname}.{item.get('name')}"
            if item["type"] == "function" and item["stateMutability"] not in ("view", "pure") and name not in covered:
                missing.append(name)
    assert missing == []


# --- the role table: chain, docs and this matrix say the same ---------------------------------

CAPABILITIES = ["HoldCurrency", "SpendCurrency", "HoldHoldings", "SpendHoldings"]
ROLE_NAMES = ["None", "CoreEnterprise", "Supplier", "Factor", "Auditor", "ClearingAgent"]


def docs_role_table() -> dict[str, list[bool]]:
    """docs/contracts.md's one table of what each role may do with the tokens."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "contracts.md").read_text()
    block = text.split("<!-- role-capabilities -->", 2)[1]
    rows = [line for line in block.splitlines() if line.startswith("| `")]
    table = {}
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        table[cells[0].strip("`")] = [c == "yes" for c in cells[1:1 + len(CAPABILITIES)]]
    return table


def test_docs_role_table_is_the_chain_table(world):
    """Membership.permits is the one table on chain; docs/contracts.md shows it, once."""
    table = docs_role_table()
    assert set(table) == set(ROLE_NAMES)
    for role, name in enumerate(ROLE_NAMES):
        chain = [world.membership.permits(role, cap) for cap in range(len(CAPABILITIES))]
        assert table[name] == chain, name


def test_an_auditor_holds_nothing_and_moves_nothing(mx):
    """Trust, in one place: every way the auditor could hold or move value is refused by name."""
    w, aud = mx.w, mx.w.auditor
    cap = lambda c: err("MembershipNotPermitted", aud, AUDITOR, c)  # noqa: E731
    refusals = [
        (lambda: w.currency.mint(aud, 1, tx(w.clearing)), cap(HOLD_CURRENCY)),
        (lambda: w.currency.transfer(aud, 1, tx(w.s1)), cap(HOLD_CURRENCY)),
        (lambda: w.currency.approve(aud, 1, tx(w.core)), cap(SPEND_CURRENCY)),
        (lambda: w.token.splitTransfer(mx.own("supplier"), aud, 1, h32(3), tx(w.s1)),
         err("MembershipNotHolder", aud, AUDITOR)),
        (lambda: w.token.transferFrom["address,address,uint256"](w.s1, aud, mx.own("supplier"), tx(w.s1)),
         err("MembershipNotHolder", aud, AUDITOR)),
        (lambda: w.token.approve["uint256,address,uint256"](mx.own("supplier"), aud, 1, tx(w.s1)),
         cap(SPEND_HOLDINGS)),
        (lambda: w.token.approve["address,uint256"](aud, mx.own("supplier"), tx(w.s1)), cap(SPEND_HOLDINGS)),
        (lambda: w.token.setApprovalForAll(aud, True, tx(w.s1)), cap(SPEND_HOLDINGS)),
        (lambda: w.financing.createOffer(mx.own("supplier"), 1, aud, 100, w.now() + DAY, False, h32(5), tx(w.s1)),
         err("MembershipNotHolder", aud, AUDITOR)),
    ]
    for call, expected in refusals:
        with brownie.reverts(expected):
            call()
    assert w.currency.balanceOf(aud) == 0
    assert w.token.balanceOf["address"](aud) == 0
