"""Recourse: on a deal made with recourse whose certificate is Overdue, the factor makes the
seller buy the holding back for the price paid in proportion to the value still on it; the seller
pays through a currency allowance to Financing, or the claim is recorded unpaid and settled later."""

import brownie
import pytest
from conftest import CURRENCY, OFFER_OPEN, OVERDUE, assert_event, h32
from errors import err

DAY = 86_400
NONE_, UNPAID, SETTLED_ = 0, 1, 2


@pytest.fixture
def deal(world):
    """s1 sold 40,000 of a 100,000 certificate (10 days) to f1 with recourse; s2 sold 10,000 of
    the same certificate to f2 without. Returns (cert, root, offer id, new holding, price)."""
    cert, root = world.issue(face=100_000, days=10)
    oid = world.offer(root, 40_000, factor=world.f1, rate=900, recourse=True, days=5)
    new = world.financing.acceptOffer(oid, {"from": world.f1}).return_value
    price = world.financing.offer(oid)[4]
    world.settlement.setGracePeriod(DAY, {"from": world.op})
    return cert, root, oid, new, price


def overdue(world, cert):
    world.mature(cert, DAY + 1)
    world.settlement.markOverdue(cert, {"from": world.f1})
    assert world.token.certificate(cert)[2] == OVERDUE


def test_recourse_paid(world, deal):
    f = world.financing
    cert, root, oid, new, price = deal
    overdue(world, cert)
    seller_cash = world.currency.balanceOf(world.s1)
    assert tuple(f.recourseAmount(oid)) == (price, 40_000)
    world.currency.approve(f, price, {"from": world.s1})
    tx = f.exerciseRecourse(oid, {"from": world.f1})
    assert tx.return_value is True
    assert_event(tx, "RecourseSettled", offerId=oid, tokenId=new, seller=world.s1, factor=world.f1, value=40_000,
                 amount=price)
    assert_event(tx, "HoldingTransferred", tokenId=new, to=world.s1, tier=3)
    assert world.token.ownerOf(new) == world.s1 and world.value(new) == 40_000
    assert world.currency.balanceOf(world.s1) == seller_cash - price
    assert world.currency.balanceOf(world.f1) == CURRENCY
    assert f.deal(oid)[6] == SETTLED_
    with brownie.reverts(err("FinancingRecourseStatus", oid, SETTLED_)):
        f.exerciseRecourse(oid, {"from": world.f1})
    # the seller holds an overdue holding again: it redeems what the debtor repays
    world.settlement.repay(cert, 100_000, {"from": world.core})
    assert world.settlement.redeemable(new) == 40_000


def test_recourse_after_a_partial_payout_is_pro_rata(world, deal):
    f = world.financing
    cert, root, oid, new, price = deal
    world.settlement.repay(cert, 50_000, {"from": world.core})
    overdue(world, cert)
    world.settlement.redeem(new, {"from": world.f1})  # 20,000 paid out, 20,000 left
    amount = price * 20_000 // 40_000
    assert tuple(f.recourseAmount(oid)) == (amount, 20_000)
    world.currency.approve(f, amount, {"from": world.s1})
    tx = f.exerciseRecourse(oid, {"from": world.f1})
    assert_event(tx, "RecourseSettled", offerId=oid, value=20_000, amount=amount)


def test_recourse_unpaid_then_settled(world, deal):
    f = world.financing
    cert, root, oid, new, price = deal
    overdue(world, cert)
    tx = f.exerciseRecourse(oid, {"from": world.f1})  # no allowance: recorded unpaid
    assert tx.return_value is False
    assert_event(tx, "RecourseUnpaid", offerId=oid, tokenId=new, seller=world.s1, factor=world.f1, value=40_000,
                 amount=price)
    assert world.token.ownerOf(new) == world.f1
    assert f.deal(oid)[6] == UNPAID
    with brownie.reverts(err("FinancingRecourseStatus", oid, UNPAID)):
        f.exerciseRecourse(oid, {"from": world.f1})
    for who in (world.s2, world.f2, world.core, world.op):
        with brownie.reverts(err("FinancingNotParty", oid, who)):
            f.settleRecourse(oid, {"from": who})
    with brownie.reverts(err("ERC20InsufficientAllowance", f, 0, price)):
        f.settleRecourse(oid, {"from": world.s1})
    world.currency.approve(f, price, {"from": world.s1})
    tx = f.settleRecourse(oid, {"from": world.f1})
    assert_event(tx, "RecourseSettled", offerId=oid, tokenId=new, value=40_000, amount=price)
    assert world.token.ownerOf(new) == world.s1
    with brownie.reverts(err("FinancingRecourseStatus", oid, SETTLED_)):
        f.settleRecourse(oid, {"from": world.s1})


def test_unpaid_for_lack_of_balance(world, deal):
    f = world.financing
    cert, root, oid, new, price = deal
    overdue(world, cert)
    world.currency.approve(f, price, {"from": world.s1})
    world.currency.transfer(world.s2, world.currency.balanceOf(world.s1) - price + 1, {"from": world.s1})
    assert f.exerciseRecourse(oid, {"from": world.f1}).return_value is False
    with brownie.reverts(err("ERC20InsufficientBalance", world.s1, price - 1, price)):
        f.settleRecourse(oid, {"from": world.s1})


def test_recourse_refusals(world, deal):
    f = world.financing
    cert, root, oid, new, price = deal
    with brownie.reverts(err("FinancingUnknownOffer", 99)):
        f.exerciseRecourse(99, {"from": world.f1})
    open_oid = world.offer(root, 1_000, factor=world.f2, recourse=True, days=2)
    with brownie.reverts(err("FinancingNotDeal", open_oid, OFFER_OPEN)):
        f.exerciseRecourse(open_oid, {"from": world.f2})
    with brownie.reverts(err("FinancingNotDeal", open_oid, OFFER_OPEN)):
        f.deal(open_oid)
    plain = world.offer(root, 1_000, factor=world.f2, recourse=False, days=2)
    f.acceptOffer(plain, {"from": world.f2})
    with brownie.reverts(err("FinancingNotFactor", oid, world.s1, world.f1)):
        f.exerciseRecourse(oid, {"from": world.s1})
    with brownie.reverts(err("FinancingNoRecourse", plain)):
        f.exerciseRecourse(plain, {"from": world.f2})
    with brownie.reverts(err("FinancingNotOverdue", cert, 2)):
        f.exerciseRecourse(oid, {"from": world.f1})
    with brownie.reverts(err("FinancingRecourseStatus", oid, NONE_)):
        f.settleRecourse(oid, {"from": world.s1})
    # the factor sold the deal's holding on before maturity: nothing to give back
    moved_oid = world.offer(root, 2_000, factor=world.f1, recourse=True, days=2)
    moved = f.acceptOffer(moved_oid, {"from": world.f1}).return_value
    world.token.transferFrom["address,address,uint256"](world.f1, world.f2, moved, {"from": world.f1})
    overdue(world, cert)
    with brownie.reverts(err("FinancingNotHolder", moved, world.f1, world.f2)):
        f.exerciseRecourse(moved_oid, {"from": world.f1})
    world.currency.approve(f, price, {"from": world.s1})
    world.token.freeze(new, h32(1), {"from": world.op})
    with brownie.reverts(err("CertificateFrozen", new)):
        f.exerciseRecourse(oid, {"from": world.f1})
    world.token.unfreeze(new, h32(1), {"from": world.op})
    world.membership.setActive(world.s1, False, {"from": world.op})
    with brownie.reverts(err("MembershipInactive", world.s1)):
        f.exerciseRecourse(oid, {"from": world.f1})
    world.membership.setActive(world.s1, True, {"from": world.op})
    world.membership.pause({"from": world.op})
    with brownie.reverts(err("MembershipPaused")):
        f.exerciseRecourse(oid, {"from": world.f1})
    world.membership.unpause({"from": world.op})
    f.exerciseRecourse(oid, {"from": world.f1})


def test_recourse_on_an_open_offer_and_a_quote(world):
    """Every way of striking a deal records it the same way (deal id = offer id)."""
    f = world.financing
    cert, root = world.issue(face=10_000, days=10)
    exp = world.now() + 2 * DAY
    oid = f.createOpenOffer(root, 1_000, [], 100, exp, True, h32(5), {"from": world.s1}).return_value
    new = f.acceptOffer(oid, {"from": world.f2}).return_value
    rid = f.requestQuotes(root, 2_000, exp, True, h32(6), {"from": world.s1}).return_value
    qid = f.submitQuote(rid, 200, {"from": world.f1}).return_value
    qoid, qnew = f.acceptQuote(qid, {"from": world.s1}).return_value
    world.settlement.setGracePeriod(0, {"from": world.op})
    world.mature(cert, 1)
    world.settlement.markOverdue(cert, {"from": world.s1})
    world.currency.approve(f, 10_000, {"from": world.s1})
    assert f.exerciseRecourse(oid, {"from": world.f2}).return_value is True
    assert f.exerciseRecourse(qoid, {"from": world.f1}).return_value is True
    assert world.token.ownerOf(new) == world.s1 and world.token.ownerOf(qnew) == world.s1
