"""Early payment by the debtor (dynamic discounting): an offer to pay (part of) a holding before
maturity at a discount, taken by the holder. The value is burned and counted repaid and
redeemed at once, the debtor's credit released by it; the pro-rata pool pays only live value."""

import brownie
import pytest
from conftest import CORE, CURRENCY, SETTLED, SUPPLIER, assert_event, h32, next_timestamp
from errors import err

DAY = 86_400
E_OPEN, E_ACCEPTED, E_CANCELLED = 1, 2, 3


def price_of(value, rate, days):
    return value - value * rate * days // (10_000 * 360)


@pytest.fixture
def held(world):
    """A 100,000 certificate of core maturing in 90 days; s2 holds 30,000 of it."""
    cert, root = world.issue(face=100_000, days=90)
    tier2 = world.split(root, world.s2, 30_000)
    return cert, root, tier2


def offer_early(w, token, value, rate=500, days=10, debtor=None):
    return w.settlement.offerEarlyPayment(token, value, rate, w.now() + days * DAY, {"from": debtor or w.core})


def test_early_payment_offer_accept(world, chain, web3, held):
    s = world.settlement
    cert, root, tier2 = held
    maturity = world.token.certificate(cert)[1]
    used = world.membership.memberOf(world.core)[4]
    tx = offer_early(world, tier2, 10_001, rate=730)
    oid = tx.return_value
    expires = s.earlyPaymentOffer(oid)[4]
    assert_event(tx, "EarlyPaymentOffered", offerId=oid, tokenId=tier2, certificateId=cert, debtor=world.core,
                 value=10_001, rateBps=730, expiresAt=expires)
    assert tuple(s.earlyPaymentOffer(oid)) == (tier2, world.core, 10_001, 730, expires, E_OPEN)
    assert s.earlyPaymentOfferCount() == 1
    ts = next_timestamp(chain, web3, 3 * DAY + 5)
    days = (maturity - ts + DAY - 1) // DAY
    price = price_of(10_001, 730, days)
    tx = s.acceptEarlyPayment(oid, {"from": world.s2})
    assert tx.return_value == price
    assert_event(tx, "EarlyPaid", certificateId=cert, tokenId=tier2, holder=world.s2, debtor=world.core,
                 value=10_001, price=price, rateBps=730, daysEarly=days, offerId=oid, programmeId=0,
                 totalRepaid=10_001, totalRedeemed=10_001)
    assert_event(tx, "TransferValue", _fromTokenId=tier2, _toTokenId=0, _value=10_001)
    assert_event(tx, "CreditLineChanged", debtor=world.core, used=used - 10_001)
    assert world.currency.balanceOf(world.s2) == price
    assert world.currency.balanceOf(world.core) == CURRENCY - price
    assert world.value(tier2) == 30_000 - 10_001
    c = world.token.certificate(cert)
    assert c[5] == 10_001  # redeemed value: live holdings + redeemed = face
    assert world.value(root) + world.value(tier2) + c[5] == 100_000
    assert tuple(s.account(cert)) == (10_001, 10_001)
    assert s.earlyPaid(cert) == 10_001
    assert world.membership.memberOf(world.core)[4] == used - 10_001
    assert s.earlyPaymentOffer(oid)[5] == E_ACCEPTED
    with brownie.reverts(err("SettlementEarlyPaymentNotOpen", oid, E_ACCEPTED)):
        s.acceptEarlyPayment(oid, {"from": world.s2})


def test_settlement_after_early_payment_pays_live_value_only(world, held):
    """After an early payment, partial and full repayment pay each live holding pro rata of the
    value still live, and full repayment pays every holding exactly its value."""
    s = world.settlement
    cert, root, tier2 = held
    s.repay(cert, 20_000, {"from": world.core})
    oid = offer_early(world, root, 50_000, rate=0).return_value
    s.acceptEarlyPayment(oid, {"from": world.s1})  # rate 0: paid in full, early
    assert world.currency.balanceOf(world.s1) == 50_000
    # outstanding = face - repaid (early included): 100,000 - 20,000 - 50,000
    with brownie.reverts(err("SettlementOverpayment", cert, 30_000, 30_001)):
        s.repay(cert, 30_001, {"from": world.core})
    world.mature(cert)
    # the 20,000 repaid goes to the 50,000 still live: 20,000 x 30,000 / 50,000 to s2
    assert s.redeemable(tier2) == 12_000 and s.redeemable(root) == 8_000
    s.redeem(tier2, {"from": world.s2})
    s.repay(cert, 30_000, {"from": world.core})
    assert s.redeemable(tier2) == 18_000 and s.redeemable(root) == 20_000
    s.settleBatch([root, tier2], {"from": world.core})
    assert world.token.certificate(cert)[2] == SETTLED
    assert tuple(s.account(cert)) == (100_000, 100_000)
    assert world.currency.balanceOf(s) == 0
    assert world.membership.memberOf(world.core)[4] == 0


def test_early_payment_of_everything_settles_the_certificate(world):
    s = world.settlement
    cert, root = world.issue(face=1_000, days=30)
    oid = offer_early(world, root, 1_000, rate=1_000).return_value
    tx = s.acceptEarlyPayment(oid, {"from": world.s1})
    assert_event(tx, "CertificateStatusChanged", certificateId=cert, status=SETTLED)
    assert world.token.certificate(cert)[5] == 1_000
    with brownie.reverts(err("CertificateUnknownHolding", root)):
        world.token.ownerOf(root)


def test_cancel_early_payment(world, held):
    s = world.settlement
    _, root, _ = held
    oid = offer_early(world, root, 1_000).return_value
    with brownie.reverts(err("SettlementUnauthorized", world.core2)):
        s.cancelEarlyPayment(oid, {"from": world.core2})
    tx = s.cancelEarlyPayment(oid, {"from": world.core})
    assert_event(tx, "EarlyPaymentCancelled", offerId=oid, debtor=world.core)
    with brownie.reverts(err("SettlementEarlyPaymentNotOpen", oid, E_CANCELLED)):
        s.acceptEarlyPayment(oid, {"from": world.s1})
    with brownie.reverts(err("SettlementUnknownEarlyPayment", 42)):
        s.cancelEarlyPayment(42, {"from": world.core})
    with brownie.reverts(err("SettlementUnknownEarlyPayment", 42)):
        s.earlyPaymentOffer(42)


def test_offer_early_payment_refusals(world, chain, web3, held):
    s = world.settlement
    cert, root, tier2 = held
    maturity = world.token.certificate(cert)[1]
    with brownie.reverts(err("MembershipWrongRole", world.s1, CORE, SUPPLIER)):
        offer_early(world, root, 1, debtor=world.s1)
    with brownie.reverts(err("SettlementNotDebtor", cert, world.core2, world.core)):
        offer_early(world, root, 1, debtor=world.core2)
    with brownie.reverts(err("SettlementZeroAmount")):
        offer_early(world, root, 0)
    with brownie.reverts(err("SettlementInsufficientValue", tier2, 30_000, 30_001)):
        offer_early(world, tier2, 30_001)
    with brownie.reverts(err("FinancingInvalidRate", 10_001, 10_000)):
        offer_early(world, root, 1_000, rate=10_001)
    _, long_root = world.issue(face=100, days=365)
    with brownie.reverts(err("FinancingDiscountTooLarge", 100, 10_000, 365)):
        offer_early(world, long_root, 100, rate=10_000)
    ts = next_timestamp(chain, web3)
    with brownie.reverts(err("SettlementInvalidExpiry", maturity + 1, ts, maturity)):
        s.offerEarlyPayment(root, 1, 100, maturity + 1, {"from": world.core})
    pcert, proot = world.issue(accept=False)
    with brownie.reverts(err("SettlementWrongStatus", pcert, 1)):
        offer_early(world, proot, 1)
    world.membership.pause({"from": world.op})
    with brownie.reverts(err("MembershipPaused")):
        offer_early(world, root, 1)


def test_accept_early_payment_refusals(world, chain, web3, held):
    s = world.settlement
    cert, root, tier2 = held
    oid = offer_early(world, tier2, 10_000, days=10).return_value
    with brownie.reverts(err("SettlementNotHolder", tier2, world.s1, world.s2)):
        s.acceptEarlyPayment(oid, {"from": world.s1})
    world.token.freeze(tier2, h32(1), {"from": world.op})
    with brownie.reverts(err("CertificateFrozen", tier2)):
        s.acceptEarlyPayment(oid, {"from": world.s2})
    world.token.unfreeze(tier2, h32(1), {"from": world.op})
    world.split(tier2, world.s3, 25_000)
    with brownie.reverts(err("SettlementInsufficientValue", tier2, 5_000, 10_000)):
        s.acceptEarlyPayment(oid, {"from": world.s2})
    oid2 = offer_early(world, root, 60_000, days=10).return_value
    s.repay(cert, 50_000, {"from": world.core})
    with brownie.reverts(err("SettlementOverpayment", cert, 50_000, 60_000)):
        s.acceptEarlyPayment(oid2, {"from": world.s1})
    oid3 = offer_early(world, root, 1_000, days=10).return_value
    world.membership.setActive(world.s1, False, {"from": world.op})
    with brownie.reverts(err("MembershipInactive", world.s1)):
        s.acceptEarlyPayment(oid3, {"from": world.s1})
    world.membership.setActive(world.s1, True, {"from": world.op})
    world.membership.setActive(world.core, False, {"from": world.op})
    with brownie.reverts(err("MembershipInactive", world.core)):
        s.acceptEarlyPayment(oid3, {"from": world.s1})
    world.membership.setActive(world.core, True, {"from": world.op})
    # the debtor cannot pay: nothing moves
    world.currency.burn(world.core, world.currency.balanceOf(world.core), {"from": world.clearing})
    ts = next_timestamp(chain, web3)
    price = price_of(1_000, 500, (world.token.certificate(cert)[1] - ts + DAY - 1) // DAY)
    with brownie.reverts(err("ERC20InsufficientBalance", world.core, 0, price)):
        s.acceptEarlyPayment(oid3, {"from": world.s1})
    assert world.value(root) == 70_000
    world.currency.mint(world.core, CURRENCY, {"from": world.clearing})
    world.membership.pause({"from": world.op})
    with brownie.reverts(err("MembershipPaused")):
        s.acceptEarlyPayment(oid3, {"from": world.s1})
    world.membership.unpause({"from": world.op})
    expires = s.earlyPaymentOffer(oid3)[4]
    world.warp(expires - 1)
    ts = next_timestamp(chain, web3)
    with brownie.reverts(err("SettlementEarlyPaymentExpired", oid3, expires, ts)):
        s.acceptEarlyPayment(oid3, {"from": world.s1})
