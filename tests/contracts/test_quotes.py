"""Market: requests for quotes (RFQ). Factors quote a rate, firm until the deadline and
withdrawable before it; the seller accepts one, and the deal is an offer to that factor at the
quote's price, created and accepted at once (delivery versus payment)."""

import brownie
import pytest
from conftest import CURRENCY, FACTOR, OFFER_ACCEPTED, SUPPLIER, assert_event, h32, next_timestamp
from errors import err

DAY = 86_400
R_OPEN, R_ACCEPTED, R_CANCELLED = 1, 2, 3
Q_OPEN, Q_ACCEPTED, Q_WITHDRAWN = 1, 2, 3


def price_of(value, rate, days):
    return value - value * rate * days // (10_000 * 360)


@pytest.fixture
def rfq(world):
    """s1 asks for quotes on 40,000 of a 100,000 holding maturing in 90 days, for 5 days."""
    cert, root = world.issue(face=100_000, days=90)
    deadline = world.now() + 5 * DAY
    tx = world.financing.requestQuotes(root, 40_000, deadline, True, h32(21), {"from": world.s1})
    return cert, root, tx.return_value, deadline


def test_request_quote_accept(world, chain, rfq):
    f = world.financing
    cert, root, rid, deadline = rfq
    assert tuple(f.quoteRequest(rid)) == (root, world.s1, 40_000, deadline, True, R_OPEN, "0x" + h32(21).hex())
    assert f.quoteRequestCount() == 1
    maturity = world.token.certificate(cert)[1]
    q1 = f.submitQuote(rid, 600, {"from": world.f1})
    days = (maturity - chain[-1].timestamp + DAY - 1) // DAY
    p1 = price_of(40_000, 600, days)
    assert_event(q1, "QuoteSubmitted", quoteId=1, requestId=rid, factor=world.f1, rateBps=600, price=p1,
                 daysToMaturity=days)
    q2 = f.submitQuote(rid, 450, {"from": world.f2}).return_value
    p2 = f.quoteOf(q2)[2]
    assert tuple(f.quoteOf(q2)) == (rid, world.f2, p2, 450, days, Q_OPEN)
    assert p2 > p1 and f.quoteCount() == 2
    tx = f.acceptQuote(q2, {"from": world.s1})
    oid, new = tx.return_value
    assert_event(tx, "OfferCreated", offerId=oid, tokenId=root, certificateId=cert, seller=world.s1,
                 factor=world.f2, value=40_000, price=p2, rateBps=450, daysToMaturity=days, expiresAt=deadline,
                 recourse=True, documentHash=h32(21))
    assert_event(tx, "OfferAccepted", offerId=oid, tokenId=root, newTokenId=new, seller=world.s1, factor=world.f2,
                 value=40_000, price=p2)
    assert_event(tx, "QuoteAccepted", quoteId=q2, requestId=rid, offerId=oid)
    assert world.token.ownerOf(new) == world.f2 and world.value(new) == 40_000
    assert world.currency.balanceOf(world.s1) == p2
    assert world.currency.balanceOf(world.f2) == CURRENCY - p2
    assert f.offer(oid)[8] == OFFER_ACCEPTED
    assert tuple(f.deal(oid)) == (world.s1, world.f2, 40_000, p2, True, new, 0)
    assert f.quoteRequest(rid)[5] == R_ACCEPTED and f.quoteOf(q2)[5] == Q_ACCEPTED
    # the other quotes are void with the request
    with brownie.reverts(err("FinancingRequestNotOpen", rid, R_ACCEPTED)):
        f.acceptQuote(1, {"from": world.s1})
    with brownie.reverts(err("FinancingRequestNotOpen", rid, R_ACCEPTED)):
        f.submitQuote(rid, 100, {"from": world.f1})


def test_withdraw_and_cancel(world, rfq):
    f = world.financing
    _, root, rid, _ = rfq
    qid = f.submitQuote(rid, 500, {"from": world.f1}).return_value
    with brownie.reverts(err("FinancingNotQuoter", qid, world.f2, world.f1)):
        f.withdrawQuote(qid, {"from": world.f2})
    tx = f.withdrawQuote(qid, {"from": world.f1})
    assert_event(tx, "QuoteWithdrawn", quoteId=qid, requestId=rid, factor=world.f1)
    assert f.quoteOf(qid)[5] == Q_WITHDRAWN
    for call in (lambda: f.withdrawQuote(qid, {"from": world.f1}), lambda: f.acceptQuote(qid, {"from": world.s1})):
        with brownie.reverts(err("FinancingQuoteNotOpen", qid, Q_WITHDRAWN)):
            call()
    q2 = f.submitQuote(rid, 500, {"from": world.f1}).return_value
    with brownie.reverts(err("FinancingNotRequester", rid, world.s2, world.s1)):
        f.cancelQuoteRequest(rid, {"from": world.s2})
    tx = f.cancelQuoteRequest(rid, {"from": world.s1})
    assert_event(tx, "QuoteRequestCancelled", requestId=rid, seller=world.s1)
    with brownie.reverts(err("FinancingRequestNotOpen", rid, R_CANCELLED)):
        f.acceptQuote(q2, {"from": world.s1})
    with brownie.reverts(err("FinancingRequestNotOpen", rid, R_CANCELLED)):
        f.cancelQuoteRequest(rid, {"from": world.s1})


def test_request_refusals(world, chain, web3):
    f = world.financing
    cert, root = world.issue(face=100_000, days=90)
    maturity = world.token.certificate(cert)[1]
    dl = world.now() + 5 * DAY

    def req(token=root, value=1, deadline=dl, doc=h32(3), sender=None):
        return f.requestQuotes(token, value, deadline, False, doc, {"from": sender or world.s1})

    with brownie.reverts(err("CertificateUnknownHolding", 99)):
        req(token=99)
    with brownie.reverts(err("FinancingNotHolder", root, world.s2, world.s1)):
        req(sender=world.s2)
    with brownie.reverts(err("FinancingZeroDocumentHash")):
        req(doc=h32(0))
    with brownie.reverts(err("FinancingZeroValue")):
        req(value=0)
    with brownie.reverts(err("FinancingInsufficientValue", root, 100_000, 100_001)):
        req(value=100_001)
    ts = next_timestamp(chain, web3)
    with brownie.reverts(err("FinancingInvalidExpiry", maturity + 1, ts, maturity)):
        req(deadline=maturity + 1)
    with brownie.reverts(err("FinancingUnknownRequest", 7)):
        f.quoteRequest(7)
    with brownie.reverts(err("FinancingUnknownQuote", 7)):
        f.quoteOf(7)
    with brownie.reverts(err("FinancingUnknownRequest", 7)):
        f.cancelQuoteRequest(7, {"from": world.s1})
    with brownie.reverts(err("FinancingUnknownQuote", 7)):
        f.acceptQuote(7, {"from": world.s1})
    world.membership.setActive(world.s1, False, {"from": world.op})
    with brownie.reverts(err("MembershipInactive", world.s1)):
        req()
    world.membership.setActive(world.s1, True, {"from": world.op})
    world.membership.pause({"from": world.op})
    with brownie.reverts(err("MembershipPaused")):
        req()


def test_quote_refusals(world, chain, web3, rfq):
    f = world.financing
    _, root, rid, deadline = rfq
    with brownie.reverts(err("FinancingUnknownRequest", 99)):
        f.submitQuote(99, 100, {"from": world.f1})
    with brownie.reverts(err("MembershipWrongRole", world.s2, FACTOR, SUPPLIER)):
        f.submitQuote(rid, 100, {"from": world.s2})
    with brownie.reverts(err("MembershipNotHolder", world.core, 1)):
        f.submitQuote(rid, 100, {"from": world.core})
    with brownie.reverts(err("FinancingInvalidRate", 10_001, 10_000)):
        f.submitQuote(rid, 10_001, {"from": world.f1})
    # a factor asking for quotes on its own holding cannot quote on it
    mine = world.split(root, world.f1, 1_000)
    own = f.requestQuotes(mine, 100, deadline, False, h32(4), {"from": world.f1}).return_value
    with brownie.reverts(err("FinancingSelfOffer", mine, world.f1)):
        f.submitQuote(own, 100, {"from": world.f1})
    qid = f.submitQuote(rid, 100, {"from": world.f1}).return_value
    with brownie.reverts(err("FinancingNotRequester", rid, world.f1, world.s1)):
        f.acceptQuote(qid, {"from": world.f1})
    # the factor cannot pay when the seller accepts: nothing moves
    world.currency.burn(world.f1, CURRENCY, {"from": world.clearing})
    price = f.quoteOf(qid)[2]
    with brownie.reverts(err("ERC20InsufficientBalance", world.f1, 0, price)):
        f.acceptQuote(qid, {"from": world.s1})
    assert world.value(root) == 99_000
    # at the deadline: no quote, no withdrawal, no acceptance
    world.warp(deadline - 1)
    for call in (
        lambda: f.submitQuote(rid, 100, {"from": world.f2}),
        lambda: f.withdrawQuote(qid, {"from": world.f1}),
        lambda: f.acceptQuote(qid, {"from": world.s1}),
    ):
        ts = next_timestamp(chain, web3, deadline - chain[-1].timestamp)
        with brownie.reverts(err("FinancingDeadlinePassed", rid, deadline, ts)):
            call()
