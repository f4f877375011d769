"""Market: open offers to every active factor or to a list; the first invited factor to accept
gets the holding, delivery versus payment through the one path of every deal."""

import brownie
import pytest
from conftest import CORE, CURRENCY, FACTOR, OFFER_ACCEPTED, OFFER_OPEN, SUPPLIER, ZERO, assert_event, h32
from errors import err

DAY = 86_400


def price_of(value, rate, days):
    return value - value * rate * days // (10_000 * 360)


@pytest.fixture
def held(world):
    cert, root = world.issue(face=100_000, days=90)
    return cert, root


def open_offer(w, token, value, factors=(), rate=500, days=30, recourse=False, doc=7, seller=None):
    seller = seller or w.token.ownerOf(token)
    expires = w.now() + days * DAY
    return w.financing.createOpenOffer(token, value, list(factors), rate, expires, recourse, h32(doc), {"from": seller})


def test_open_offer_to_every_factor_first_accept_wins(world, held):
    f = world.financing
    cert, root = held
    tx = open_offer(world, root, 10_000, rate=600, recourse=True, doc=9)
    oid = tx.return_value
    o = f.offer(oid)
    assert_event(tx, "OfferCreated", offerId=oid, tokenId=root, certificateId=cert, seller=world.s1, factor=ZERO,
                 value=10_000, price=o[4], rateBps=600, recourse=True, documentHash=h32(9))
    assert_event(tx, "OfferOpened", offerId=oid, factors=[])
    assert o[2] == ZERO and o[8] == OFFER_OPEN
    assert f.isInvited(oid, world.f1) and f.isInvited(oid, world.f2)
    assert not f.isInvited(oid, world.s2) and not f.isInvited(oid, world.core)
    tx = f.acceptOffer(oid, {"from": world.f2})
    new = tx.return_value
    assert_event(tx, "OfferAccepted", offerId=oid, tokenId=root, newTokenId=new, seller=world.s1, factor=world.f2,
                 value=10_000, price=o[4])
    assert world.token.ownerOf(new) == world.f2 and world.value(new) == 10_000
    assert world.currency.balanceOf(world.s1) == o[4]
    assert world.currency.balanceOf(world.f2) == CURRENCY - o[4]
    got = f.offer(oid)
    assert got[2] == world.f2 and got[8] == OFFER_ACCEPTED  # the offer records its buyer
    assert tuple(f.deal(oid)) == (world.s1, world.f2, 10_000, o[4], True, new, 0)
    assert not f.isInvited(oid, world.f1)
    with brownie.reverts(err("FinancingOfferNotOpen", oid, OFFER_ACCEPTED)):
        f.acceptOffer(oid, {"from": world.f1})


def test_open_offer_to_a_list(world, held, chain, web3):
    f = world.financing
    _, root = held
    tx = open_offer(world, root, 5_000, factors=[world.f1])
    oid = tx.return_value
    assert_event(tx, "OfferOpened", offerId=oid, factors=[world.f1.address])
    assert f.isInvited(oid, world.f1) and not f.isInvited(oid, world.f2)
    with brownie.reverts(err("FinancingNotInvited", oid, world.f2)):
        f.acceptOffer(oid, {"from": world.f2})
    f.acceptOffer(oid, {"from": world.f1})
    # the price is the one pricing function's, fixed when the offer is made (as createOffer)
    maturity = world.token.certificate(held[0])[1]
    tx = open_offer(world, root, 5_000, factors=[world.f1, world.f2], rate=450)
    days = (maturity - chain[-1].timestamp + DAY - 1) // DAY
    assert f.offer(tx.return_value)[4] == price_of(5_000, 450, days)


def test_an_offer_to_one_factor_is_not_open(world, held):
    _, root = held
    oid = world.offer(root, 1_000, factor=world.f1)
    assert not world.financing.isInvited(oid, world.f1)
    with brownie.reverts(err("FinancingNotFactor", oid, world.f2, world.f1)):
        world.financing.acceptOffer(oid, {"from": world.f2})


def test_open_offer_refusals_at_creation(world, held):
    f = world.financing
    cert, root = held
    exp = world.now() + 5 * DAY

    def create(factors=(), sender=None, token=root, value=1, doc=h32(3), expires=exp, rate=100):
        return f.createOpenOffer(token, value, list(factors), rate, expires, False, doc, {"from": sender or world.s1})

    with brownie.reverts(err("FinancingNotHolder", root, world.s2, world.s1)):
        create(sender=world.s2)
    with brownie.reverts(err("MembershipWrongRole", world.s2, FACTOR, SUPPLIER)):
        create(factors=[world.f1, world.s2])
    with brownie.reverts(err("MembershipNotHolder", world.core, CORE)):
        create(factors=[world.core])
    with brownie.reverts(err("FinancingZeroDocumentHash")):
        create(doc=h32(0))
    with brownie.reverts(err("FinancingZeroValue")):
        create(value=0)
    with brownie.reverts(err("FinancingInsufficientValue", root, 100_000, 100_001)):
        create(value=100_001)
    with brownie.reverts(err("FinancingInvalidRate", 10_001, 10_000)):
        create(rate=10_001)
    mine = world.split(root, world.f1, 1_000)
    with brownie.reverts(err("FinancingSelfOffer", mine, world.f1)):
        create(token=mine, sender=world.f1, factors=[world.f2, world.f1])
    world.membership.setActive(world.f2, False, {"from": world.op})
    with brownie.reverts(err("MembershipInactive", world.f2)):
        create(factors=[world.f2])
    world.membership.setActive(world.s1, False, {"from": world.op})
    with brownie.reverts(err("MembershipInactive", world.s1)):
        create()
    world.membership.setActive(world.s1, True, {"from": world.op})
    world.membership.pause({"from": world.op})
    with brownie.reverts(err("MembershipPaused")):
        create()


def test_open_offer_refusals_at_acceptance(world, held, chain, web3):
    f = world.financing
    _, root = held
    oid = open_offer(world, root, 2_000).return_value
    for who in (world.s2, world.core, world.auditor, world.outsider, world.op):
        with brownie.reverts(err("FinancingNotInvited", oid, who)):
            f.acceptOffer(oid, {"from": who})
    # a factor's own open offer: every factor is invited but the seller
    mine = world.split(root, world.f1, 3_000)
    own = open_offer(world, mine, 1_000).return_value
    with brownie.reverts(err("FinancingSelfOffer", mine, world.f1)):
        f.acceptOffer(own, {"from": world.f1})
    f.acceptOffer(own, {"from": world.f2})
    # a suspended invited factor, the paused system: the delivery's checks
    world.membership.setActive(world.f1, False, {"from": world.op})
    with brownie.reverts(err("MembershipInactive", world.f1)):
        f.acceptOffer(oid, {"from": world.f1})
    world.membership.setActive(world.f1, True, {"from": world.op})
    # cancelled by the seller
    oid2 = open_offer(world, root, 2_000).return_value
    f.cancelOffer(oid2, {"from": world.s1})
    with brownie.reverts(err("FinancingOfferNotOpen", oid2, 3)):
        f.acceptOffer(oid2, {"from": world.f1})
    # expired
    expires = f.offer(oid)[6]
    world.warp(expires - 1)
    with brownie.reverts(err("FinancingOfferExpired", oid, expires, expires)):
        web3.provider.make_request("evm_setNextBlockTimestamp", [expires])
        f.acceptOffer(oid, {"from": world.f2})
