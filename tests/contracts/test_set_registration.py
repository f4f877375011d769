"""Financing.setRegistration: the deal's factor records the hash of its 中登网 registration
number, once."""

import brownie
from conftest import OFFER_OPEN, assert_event, h32
from errors import err


def deal(world):
    _, root = world.issue()
    oid = world.offer(root, 10_000)
    world.financing.acceptOffer(oid, {"from": world.f1})
    return oid


def test_set_registration(world):
    f = world.financing
    oid = deal(world)
    assert f.registration(oid) == "0x" + "00" * 32
    tx = f.setRegistration(oid, h32(42), {"from": world.f1})
    assert_event(tx, "RegistrationSet", offerId=oid, factor=world.f1, ref=h32(42))
    assert f.registration(oid) == "0x" + h32(42).hex()
    with brownie.reverts(err("FinancingRegistrationAlreadySet", oid, h32(42))):
        f.setRegistration(oid, h32(43), {"from": world.f1})


def test_refusals(world):
    f = world.financing
    oid = deal(world)
    with brownie.reverts(err("FinancingNotFactor", oid, world.s1, world.f1)):
        f.setRegistration(oid, h32(1), {"from": world.s1})
    with brownie.reverts(err("FinancingZeroRegistration", oid)):
        f.setRegistration(oid, h32(0), {"from": world.f1})
    with brownie.reverts(err("FinancingUnknownOffer", 999)):
        f.setRegistration(999, h32(1), {"from": world.f1})
    _, root = world.issue()
    open_ = world.offer(root, 1_000)
    with brownie.reverts(err("FinancingNotDeal", open_, OFFER_OPEN)):
        f.setRegistration(open_, h32(1), {"from": world.f1})
    with brownie.reverts(err("FinancingNotDeal", open_, OFFER_OPEN)):
        f.registration(open_)
