"""setMinSplitValue: the smallest value a split may move, and leave behind unless it leaves
nothing; 0 (the default) is no minimum."""

import brownie
from conftest import assert_event, h32
from errors import err


def test_default_is_no_minimum(world):
    assert world.token.minSplitValue() == 0
    _, a = world.issue(face=2)
    world.split(a, world.s2, 1)  # one cent off, one cent left


def test_minimum_on_the_split_and_its_remainder(world):
    t = world.token
    tx = t.setMinSplitValue(1_000, {"from": world.op})
    assert_event(tx, "MinSplitValueSet", minSplitValue=1_000)
    assert t.minSplitValue() == 1_000
    _, a = world.issue(face=10_000)
    with brownie.reverts(err("CertificateSplitTooSmall", 999, 1_000)):
        world.split(a, world.s2, 999)
    with brownie.reverts(err("CertificateSplitRemainderTooSmall", 999, 1_000)):
        world.split(a, world.s2, 9_001)
    with brownie.reverts(err("CertificateSplitTooSmall", 999, 1_000)):  # the ERC-3525 split
        t.transferFrom["uint256,address,uint256"](a, world.s2, 999, {"from": world.s1})
    with brownie.reverts(err("CertificateSplitRemainderTooSmall", 1, 1_000)):  # financing delivery
        world.financing.acceptOffer(world.offer(a, 9_999), {"from": world.f1})
    b = world.split(a, world.s2, 1_000)  # exactly the minimum
    world.split(a, world.s3, 8_000)  # leaves exactly the minimum
    assert world.value(a) == 1_000
    world.split(a, world.s3, 1_000)  # the whole holding: no remainder
    assert world.value(b) == 1_000
    # merges and whole transfers are no splits
    t.transferFrom["address,address,uint256"](world.s2, world.s1, b, {"from": world.s2})


def test_refusals(world):
    with brownie.reverts(err("CertificateUnauthorized", world.f1)):
        world.token.setMinSplitValue(1, {"from": world.f1})
    with brownie.reverts(err("CertificateValueTooLarge", 2**128)):
        world.token.setMinSplitValue(2**128, {"from": world.op})
    world.token.setMinSplitValue(2**128 - 1, {"from": world.op})
    _, a = world.issue(face=1_000)
    with brownie.reverts(err("CertificateSplitTooSmall", 10, 2**128 - 1)):
        world.token.splitTransfer(a, world.s2, 10, h32(2), {"from": world.s1})
