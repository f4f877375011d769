"""setMaxTier: the deepest tier a split or whole (ERC-721) transfer may create; 0 (the default)
is no cap. Recourse is exempt: a buy-back is not a hop the rule limits."""

import brownie
from conftest import assert_event, h32
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
