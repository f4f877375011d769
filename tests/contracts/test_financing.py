"""Financing: quotes, offers, cancellation and delivery versus payment."""

import brownie
import pytest
from conftest import (
    CURRENCY,
    DAY,
    FACTOR,
    OFFER_ACCEPTED,
    OFFER_CANCELLED,
    OFFER_OPEN,
    PENDING,
    SUPPLIER,
    assert_event,
    h32,
    next_timestamp,
)
from errors import err


def price_of(value, rate, days):
    return value - value * rate * days // (10_000 * 360)


@pytest.fixture
def held(world):
    """An active 100,000 certificate maturing in 90 days, held by s1; 30,000 of it split to s2."""
    cert, root = world.issue(face=100_000, days=90)
    tier2 = world.split(root, world.s2, 30_000)
    return cert, root, tier2


@pytest.mark.parametrize(
    "value,rate,seconds,days",
    [
        (100_000, 500, 90 * DAY, 90),
        (100_000, 500, 89 * DAY + 1, 90),  # days are counted up
        (100_000, 500, 90 * DAY + 1, 91),
        (99_999, 365, 181 * DAY, 181),  # discount rounded down, in the seller's favour
        (1, 9_999, 1, 1),
        (12_345, 0, 200 * DAY, 200),
        (100_000, 10_000, 359 * DAY, 359),
    ],
)
def test_quote(world, chain, value, rate, seconds, days):
    now = chain[-1].timestamp
    price, d = world.financing.quote(value, rate, now + seconds)
    assert d == days
    assert price == price_of(value, rate, days)


def test_quote_edges(world, chain):
    f = world.financing
    now = chain[-1].timestamp
    assert tuple(f.quote(500, 500, now - 10)) == (500, 0)  # matured: no discount
    assert tuple(f.quote(0, 500, now + 30 * DAY)) == (0, 30)
    assert f.MAX_RATE_BPS() == 10_000
    with brownie.reverts(err("FinancingInvalidRate", 10_001, 10_000)):
        f.quote(100, 10_001, now + DAY)
    # a discount that would swallow the whole value is refused, with its own error
    with brownie.reverts(err("FinancingDiscountTooLarge", 100_000, 10_000, 360)):
        f.quote(100_000, 10_000, now + 360 * DAY)
    with brownie.reverts(err("FinancingDiscountTooLarge", 3, 9_000, 400)):
        f.quote(3, 9_000, now + 400 * DAY)


def test_create_offer(world, chain, web3, held):
    cert, root, tier2 = held
    maturity = world.token.certificate(cert)[1]
    ts = next_timestamp(chain, web3)
    days = (maturity - ts + DAY - 1) // DAY
    expires = ts + 10 * DAY
    tx = world.financing.createOffer(tier2, 12_001, world.f1, 450, expires, True, h32(8), {"from": world.s2})
    assert tx.return_value == 1
    assert_event(
        tx, "OfferCreated", offerId=1, tokenId=tier2, certificateId=cert, seller=world.s2, factor=world.f1,
        value=12_001, price=price_of(12_001, 450, days), rateBps=450, daysToMaturity=days, expiresAt=expires,
        recourse=True, documentHash=h32(8),
    )
    assert tuple(world.financing.offer(1)) == (
        tier2, world.s2, world.f1, 12_001, price_of(12_001, 450, days), 450, expires, True, OFFER_OPEN,
        "0x" + h32(8).hex(),
    )
    assert world.financing.offerCount() == 1
    # offers do not lock anything: the holding still moves
    world.split(tier2, world.s3, 1)
    # an offer may run until maturity
    world.financing.createOffer(root, 1, world.f2, 0, maturity, False, h32(3), {"from": world.s1})


def test_create_offer_reverts(world, chain, web3, held):
    f = world.financing
    cert, root, tier2 = held
    maturity = world.token.certificate(cert)[1]
    exp = world.now() + 5 * DAY

    def create(token=root, value=1, factor=None, rate=100, expires=exp, sender=None, doc=h32(3)):
        factor = factor or world.f1
        return f.createOffer(token, value, factor, rate, expires, False, doc, {"from": sender or world.s1})

    with brownie.reverts(err("CertificateUnknownHolding", 99)):
        create(token=99)
    with brownie.reverts(err("FinancingNotHolder", root, world.s2, world.s1)):
        create(sender=world.s2)
    with brownie.reverts(err("MembershipWrongRole", world.s2, FACTOR, SUPPLIER)):
        create(factor=world.s2)
    with brownie.reverts(err("MembershipNotHolder", world.outsider, 0)):
        create(factor=world.outsider)
    with brownie.reverts(err("MembershipNotHolder", world.core, 1)):
        create(factor=world.core)
    with brownie.reverts(err("FinancingZeroDocumentHash")):
        create(doc=h32(0))
    with brownie.reverts(err("FinancingZeroValue")):
        create(value=0)
    with brownie.reverts(err("FinancingInsufficientValue", root, 70_000, 70_001)):
        create(value=70_001)
    with brownie.reverts(err("FinancingInvalidRate", 10_001, 10_000)):
        create(rate=10_001)
    with brownie.reverts(err("FinancingInvalidExpiry", maturity + 1, chain[-1].timestamp + 1, maturity)):
        next_timestamp(chain, web3)
        create(expires=maturity + 1)
    ts = next_timestamp(chain, web3)
    with brownie.reverts(err("FinancingInvalidExpiry", ts, ts, maturity)):
        create(expires=ts)
    pcert, proot = world.issue(accept=False)
    with brownie.reverts(err("FinancingCertificateNotActive", pcert, PENDING)):
        create(token=proot)
    world.membership.setActive(world.f2, False, {"from": world.op})
    with brownie.reverts(err("MembershipInactive", world.f2)):
        create(factor=world.f2)
    world.membership.setActive(world.s1, False, {"from": world.op})
    with brownie.reverts(err("MembershipInactive", world.s1)):
        create()
    world.membership.setActive(world.s1, True, {"from": world.op})
    world.membership.pause({"from": world.op})
    with brownie.reverts(err("MembershipPaused")):
        create()


def test_a_factor_cannot_offer_its_own_holding_to_itself(world, held):
    """Delivery would be a split to the holding's own owner, which the token refuses."""
    _, root, _ = held
    mine = world.split(root, world.f1, 1_000)
    with brownie.reverts(err("FinancingSelfOffer", mine, world.f1)):
        world.offer(mine, 100, factor=world.f1)
    world.offer(mine, 100, factor=world.f2)  # another factor: fine


def test_cancel_offer(world, held):
    _, root, _ = held
    oid = world.offer(root, 1_000)
    tx = world.financing.cancelOffer(oid, {"from": world.s1})
    assert_event(tx, "OfferCancelled", offerId=oid, seller=world.s1)
    assert world.financing.offer(oid)[8] == OFFER_CANCELLED
    with brownie.reverts(err("FinancingOfferNotOpen", oid, OFFER_CANCELLED)):
        world.financing.cancelOffer(oid, {"from": world.s1})
    with brownie.reverts(err("FinancingOfferNotOpen", oid, OFFER_CANCELLED)):
        world.financing.acceptOffer(oid, {"from": world.f1})


def test_cancel_offer_reverts(world, held):
    f = world.financing
    _, root, _ = held
    oid = world.offer(root, 1_000)
    with brownie.reverts(err("FinancingUnknownOffer", 99)):
        f.cancelOffer(99, {"from": world.s1})
    for who in (world.f1, world.op, world.s2):
        with brownie.reverts(err("FinancingNotSeller", oid, who, world.s1)):
            f.cancelOffer(oid, {"from": who})
    f.acceptOffer(oid, {"from": world.f1})
    with brownie.reverts(err("FinancingOfferNotOpen", oid, OFFER_ACCEPTED)):
        f.cancelOffer(oid, {"from": world.s1})
    # a seller may withdraw even while suspended or paused (nothing moves)
    oid2 = world.offer(root, 1_000)
    world.membership.setActive(world.s1, False, {"from": world.op})
    world.membership.pause({"from": world.op})
    f.cancelOffer(oid2, {"from": world.s1})


@pytest.mark.parametrize("part", ["part", "whole"])
def test_accept_offer_delivery_versus_payment(world, held, part):
    f, c = world.financing, world.currency
    cert, root, tier2 = held
    value = 10_007 if part == "part" else 30_000
    oid = world.offer(tier2, value, factor=world.f2, rate=600, recourse=True, doc=44)
    price = f.offer(oid)[4]
    assert price < value
    tx = f.acceptOffer(oid, {"from": world.f2})
    new = tx.return_value
    assert_event(
        tx, "OfferAccepted", offerId=oid, tokenId=tier2, newTokenId=new, seller=world.s2, factor=world.f2,
        value=value, price=price,
    )
    assert_event(
        tx, "HoldingCreated", tokenId=new, certificateId=cert, parentTokenId=tier2, owner=world.f2,
        initialValue=value, tier=3, documentHash=h32(44),
    )
    assert_event(tx, "TransferValue", _fromTokenId=tier2, _toTokenId=new, _value=value)
    assert_event(tx, "Transfer", 1, **{"from": world.f2, "to": world.s2, "value": price})
    assert c.balanceOf(world.f2) == CURRENCY - price
    assert c.balanceOf(world.s2) == price
    assert world.value(tier2) == 30_000 - value
    assert world.value(new) == value
    assert f.offer(oid)[8] == OFFER_ACCEPTED
    with brownie.reverts(err("FinancingOfferNotOpen", oid, OFFER_ACCEPTED)):
        f.acceptOffer(oid, {"from": world.f2})


def test_accept_offer_reverts(world, chain, web3, held):
    f = world.financing
    cert, root, tier2 = held
    oid = world.offer(root, 5_000, days=10)
    with brownie.reverts(err("FinancingUnknownOffer", 99)):
        f.acceptOffer(99, {"from": world.f1})
    for who in (world.f2, world.s1, world.op):
        with brownie.reverts(err("FinancingNotFactor", oid, who, world.f1)):
            f.acceptOffer(oid, {"from": who})
    # seller no longer holds enough, or no longer holds it at all
    world.split(root, world.s3, 66_000)
    with brownie.reverts(err("CertificateInsufficientValue", root, 4_000, 5_000)):
        f.acceptOffer(oid, {"from": world.f1})
    oid2 = world.offer(tier2, 1_000, days=10)
    world.token.transferFrom["address,address,uint256"](world.s2, world.s3, tier2, {"from": world.s2})
    with brownie.reverts(err("CertificateWrongOwner", tier2, world.s2, world.s3)):
        f.acceptOffer(oid2, {"from": world.f1})
    oid3 = world.offer(root, 1_000, days=10)
    price3 = f.offer(oid3)[4]
    # frozen
    world.token.freeze(root, h32(1), {"from": world.op})
    with brownie.reverts(err("CertificateFrozen", root)):
        f.acceptOffer(oid3, {"from": world.f1})
    world.token.unfreeze(root, h32(1), {"from": world.op})
    # suspended parties
    world.membership.setActive(world.s1, False, {"from": world.op})
    with brownie.reverts(err("MembershipInactive", world.s1)):
        f.acceptOffer(oid3, {"from": world.f1})
    world.membership.setActive(world.s1, True, {"from": world.op})
    world.membership.setActive(world.f1, False, {"from": world.op})
    with brownie.reverts(err("MembershipInactive", world.f1)):
        f.acceptOffer(oid3, {"from": world.f1})
    world.membership.setActive(world.f1, True, {"from": world.op})
    # paused
    world.membership.pause({"from": world.op})
    with brownie.reverts(err("MembershipPaused")):
        f.acceptOffer(oid3, {"from": world.f1})
    world.membership.unpause({"from": world.op})
    # the factor cannot pay: nothing moves
    world.currency.burn(world.f1, CURRENCY - price3 + 1, {"from": world.clearing})
    before = world.value(root)
    with brownie.reverts(err("ERC20InsufficientBalance", world.f1, price3 - 1, price3)):
        f.acceptOffer(oid3, {"from": world.f1})
    assert world.value(root) == before
    assert f.offer(oid3)[8] == OFFER_OPEN
    # expired
    expires = f.offer(oid3)[6]
    world.warp(expires - 1)
    ts = next_timestamp(chain, web3)
    assert ts == expires  # expired at its very second
    with brownie.reverts(err("FinancingOfferExpired", oid3, expires, ts)):
        f.acceptOffer(oid3, {"from": world.f1})


def test_accept_after_maturity_is_impossible(world, chain, web3):
    """An offer expires at maturity at the latest, so a matured holding is never sold."""
    cert, root = world.issue(face=1_000, days=2)
    maturity = world.token.certificate(cert)[1]
    tx = world.financing.createOffer(root, 100, world.f1, 100, maturity, False, h32(3), {"from": world.s1})
    oid = tx.return_value
    world.mature(cert)
    ts = next_timestamp(chain, web3)
    with brownie.reverts(err("FinancingOfferExpired", oid, maturity, ts)):
        world.financing.acceptOffer(oid, {"from": world.f1})
