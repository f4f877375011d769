"""setMaxTier: the deepest tier a split or whole (ERC-721) transfer may create; 0 (the default)
is no cap. Recourse is exempt: a buy-back is not a hop the rule limits."""

import brownie
from conftest import OVERDUE, assert_event, h32
from errors import err


def test_default_is_no_cap(world):
    assert world.token.maxTier() == 0
    _, a = world.issue()
    tok, holders = a, [world.s2, world.s3, world.s1, world.s2, world.s3, world.s1]
    for i, to in enumerate(holders):
        tok = world.split(tok, to, 1_000 * (6 - i))
    assert world.token.holding(tok)[4] == 7


def test_cap_refuses_deeper_splits_and_transfers(world):
    t = world.token
    tx = t.setMaxTier(2, {"from": world.op})
    assert_event(tx, "MaxTierSet", maxTier=2)
    assert t.maxTier() == 2
    _, a = world.issue()
    b = world.split(a, world.s2, 10_000)  # tier 2: the cap
    assert t.holding(b)[4] == 2
    with brownie.reverts(err("CertificateTierTooDeep", 3, 2)):
        world.split(b, world.s3, 1_000)
    with brownie.reverts(err("CertificateTierTooDeep", 3, 2)):
        t.transferFrom["uint256,address,uint256"](b, world.s3, 1_000, {"from": world.s2})
    with brownie.reverts(err("CertificateTierTooDeep", 3, 2)):
        t.transferFrom["address,address,uint256"](world.s2, world.s3, b, {"from": world.s2})
    with brownie.reverts(err("CertificateTierTooDeep", 3, 2)):  # financing delivery is a split too
        world.financing.acceptOffer(world.offer(b, 1_000), {"from": world.f1})
    # a merge creates no holding: allowed at the cap
    c = world.split(a, world.s2, 1_000)
    t.transferFrom["uint256,uint256,uint256"](c, b, 500, {"from": world.s2})
    # lifting the cap lets it move again
    t.setMaxTier(0, {"from": world.op})
    assert t.holding(world.split(b, world.s3, 1_000))[4] == 3


def test_a_lower_cap_leaves_deeper_holdings_where_they_are(world):
    t = world.token
    _, a = world.issue()
    b = world.split(a, world.s2, 10_000)
    c = world.split(b, world.s3, 1_000)
    t.setMaxTier(1, {"from": world.op})
    assert t.holding(c)[4] == 3 and world.value(c) == 1_000
    with brownie.reverts(err("CertificateTierTooDeep", 4, 1)):
        world.split(c, world.s1, 10)
    with brownie.reverts(err("CertificateTierTooDeep", 2, 1)):
        t.splitTransfer(a, world.s2, 10, h32(2), {"from": world.s1})


def test_only_the_operator(world):
    with brownie.reverts(err("CertificateUnauthorized", world.s1)):
        world.token.setMaxTier(3, {"from": world.s1})


def test_recourse_is_exempt_from_the_cap(world):
    """Decision (docs/contracts.md, Tier cap): a recourse buy-back returns a holding the factor
    bought to the seller it came from, one tier deeper, even beyond the cap; refusing it would void
    the factor's claim agreed under the cap in force at the deal. It opens no further hop: recourse
    needs an Overdue certificate, whose holdings never move again, only redeem. Both entry points
    (`exerciseRecourse` paid, `settleRecourse` of an unpaid claim) go through the same transfer."""
    t, f, stl = world.token, world.financing, world.settlement
    t.setMaxTier(2, {"from": world.op})
    cert, root = world.issue(face=100_000, days=10)
    paid = world.offer(root, 40_000, factor=world.f1, rate=900, recourse=True, days=5)
    a = f.acceptOffer(paid, {"from": world.f1}).return_value
    unpaid = world.offer(root, 10_000, factor=world.f2, rate=900, recourse=True, days=5)
    b = f.acceptOffer(unpaid, {"from": world.f2}).return_value
    assert t.holding(a)[4] == t.holding(b)[4] == 2  # at the cap
    stl.setGracePeriod(0, {"from": world.op})
    world.mature(cert, 1)
    stl.markOverdue(cert, {"from": world.f1})
    world.currency.approve(f, f.offer(paid)[4], {"from": world.s1})
    tx = f.exerciseRecourse(paid, {"from": world.f1})
    assert tx.return_value is True
    assert_event(tx, "HoldingTransferred", tokenId=a, to=world.s1, tier=3)  # beyond the cap of 2
    assert f.exerciseRecourse(unpaid, {"from": world.f2}).return_value is False  # allowance used up
    t.setMaxTier(1, {"from": world.op})  # a cap lowered after the deal does not void the claim either
    world.currency.approve(f, f.offer(unpaid)[4], {"from": world.s1})
    tx = f.settleRecourse(unpaid, {"from": world.s1})
    assert_event(tx, "HoldingTransferred", tokenId=b, to=world.s1, tier=3)
    assert (t.ownerOf(a), t.ownerOf(b)) == (world.s1, world.s1)
    # no further hop from there: an overdue certificate's holdings do not move (the status check
    # comes first), they redeem what the debtor repays
    with brownie.reverts(err("CertificateWrongStatus", cert, OVERDUE)):
        world.split(a, world.s2, 1_000)
    stl.repay(cert, 100_000, {"from": world.core})
    stl.redeem(a, {"from": world.s1})
    assert stl.redeemable(b) == 10_000
