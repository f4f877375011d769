"""The settlement currency: metadata, transfers between members, allowances and their spenders,
agent transfers by system contracts (mint and burn: test_mint.py, test_burn.py)."""

import brownie
import pytest
from conftest import AUDITOR, CURRENCY, HOLD_CURRENCY, SPEND_CURRENCY, ZERO, assert_event
from errors import err


def test_metadata(world):
    c = world.currency
    assert c.name() == "Settlement Deposit CNY"
    assert c.symbol() == "DCNY"
    assert c.decimals() == 2
    assert c.membership() == world.membership
    assert c.balanceOf(world.f1) == CURRENCY
    assert c.totalSupply() == 4 * CURRENCY


def test_transfer_between_members(world):
    c = world.currency
    tx = c.transfer(world.s1, 500, {"from": world.f1})
    assert_event(tx, "Transfer", **{"from": world.f1, "to": world.s1, "value": 500})
    assert c.balanceOf(world.s1) == 500
    c.transfer(world.core2, 100, {"from": world.s1})  # a core enterprise holds currency to repay
    c.transfer(world.settlement, 1, {"from": world.f1})  # a system contract is a valid party


def test_transfer_reverts(world):
    c = world.currency
    with brownie.reverts(err("MembershipUnknownMember", world.outsider)):
        c.transfer(world.outsider, 1, {"from": world.f1})
    with brownie.reverts(err("MembershipInactive", world.suspended)):
        c.transfer(world.suspended, 1, {"from": world.f1})
    with brownie.reverts(err("ERC20InsufficientBalance", world.s1, 0, 1)):
        c.transfer(world.f1, 1, {"from": world.s1})
    with brownie.reverts(err("ERC20InvalidReceiver", ZERO)):
        c.transfer(ZERO, 1, {"from": world.f1})
    with brownie.reverts(err("MembershipNotPermitted", world.auditor, AUDITOR, HOLD_CURRENCY)):
        c.transfer(world.auditor, 1, {"from": world.f1})
    c.mint(world.s2, 10, {"from": world.clearing})
    world.membership.setActive(world.s2, False, {"from": world.op})
    with brownie.reverts(err("MembershipInactive", world.s2)):
        c.transfer(world.f1, 1, {"from": world.s2})
    world.membership.pause({"from": world.op})
    with brownie.reverts(err("MembershipPaused")):
        c.transfer(world.f2, 1, {"from": world.f1})


def test_approve_and_transfer_from(world):
    c = world.currency
    tx = c.approve(world.f2, 300, {"from": world.f1})
    assert_event(tx, "Approval", owner=world.f1, spender=world.f2, value=300)
    tx = c.transferFrom(world.f1, world.s1, 200, {"from": world.f2})
    assert_event(tx, "Transfer", **{"from": world.f1, "to": world.s1, "value": 200})
    assert c.allowance(world.f1, world.f2) == 100
    with brownie.reverts(err("ERC20InsufficientAllowance", world.f2, 100, 101)):
        c.transferFrom(world.f1, world.s1, 101, {"from": world.f2})
    with brownie.reverts(err("MembershipUnknownMember", world.outsider)):
        c.transferFrom(world.f1, world.outsider, 1, {"from": world.f2})


def test_an_approved_spender_must_be_an_active_member(world, accounts):
    """Regression: only the parties were checked, so a suspended member or an address never
    onboarded moved currency with an approval it held. An allowance now goes only to a role that
    may spend currency (granted), and is used only while that member is active (spent)."""
    c = world.currency
    stranger = accounts[17]  # never onboarded
    with brownie.reverts(err("MembershipUnknownMember", stranger)):
        c.approve(stranger, 300, {"from": world.f1})
    c.approve(stranger, 0, {"from": world.f1})  # clearing is always allowed
    c.approve(world.s2, 300, {"from": world.f1})
    world.membership.setActive(world.s2, False, {"from": world.op})
    with brownie.reverts(err("MembershipInactive", world.s2)):
        c.transferFrom(world.f1, world.s1, 1, {"from": world.s2})
    # the allowance is checked first: an unapproved address gets the ERC-20 error
    with brownie.reverts(err("ERC20InsufficientAllowance", world.auditor, 0, 1)):
        c.transferFrom(world.f1, world.s1, 1, {"from": world.auditor})
    world.membership.setActive(world.s2, True, {"from": world.op})
    c.transferFrom(world.f1, world.s1, 1, {"from": world.s2})
    # a system contract may be given and spend an approval; disabled, it spends nothing
    world.membership.setSystemContract(stranger, True, {"from": world.op})
    c.approve(stranger, 300, {"from": world.f1})
    c.transferFrom(world.f1, world.s1, 1, {"from": stranger})
    world.membership.setSystemContract(stranger, False, {"from": world.op})
    with brownie.reverts(err("MembershipUnknownMember", stranger)):
        c.transferFrom(world.f1, world.s1, 1, {"from": stranger})
    # an owner spending its own approval is no spender
    c.approve(world.f1, 5, {"from": world.f1})
    world.membership.setActive(world.f1, False, {"from": world.op})
    with brownie.reverts(err("MembershipInactive", world.f1)):  # as a party, not as a spender
        c.transferFrom(world.f1, world.s1, 1, {"from": world.f1})
    assert c.allowance(world.f1, stranger) == 299
    assert c.allowance(world.f1, world.s2) == 299


def test_an_auditor_is_never_a_currency_spender(world):
    """Trust: an auditor holds nothing and moves nothing; it is never given an allowance."""
    c = world.currency
    with brownie.reverts(err("MembershipNotPermitted", world.auditor, AUDITOR, SPEND_CURRENCY)):
        c.approve(world.auditor, 1, {"from": world.f1})
    assert c.allowance(world.f1, world.auditor) == 0
    c.approve(world.auditor, 0, {"from": world.f1})  # clearing stays allowed


@pytest.mark.parametrize("spender", ["core", "s1", "f2"])
def test_every_currency_role_may_spend_an_allowance(world, spender):
    c, who = world.currency, getattr(world, spender)
    c.approve(who, 10, {"from": world.f1})
    c.transferFrom(world.f1, world.s2, 10, {"from": who})
    assert c.allowance(world.f1, who) == 0


def test_transfer_by_agent(world):
    c = world.currency
    with brownie.reverts(err("SettlementTokenUnauthorized", world.op)):
        c.transferByAgent(world.f1, world.s1, 1, {"from": world.op})
    with brownie.reverts(err("SettlementTokenUnauthorized", world.s1)):
        c.transferByAgent(world.f1, world.s1, 1, {"from": world.s1})
    world.membership.setSystemContract(world.outsider, True, {"from": world.op})
    tx = c.transferByAgent(world.f1, world.s1, 7, {"from": world.outsider})  # no ERC-20 approval needed
    assert_event(tx, "Transfer", **{"from": world.f1, "to": world.s1, "value": 7})
    with brownie.reverts(err("MembershipInactive", world.suspended)):
        c.transferByAgent(world.f1, world.suspended, 1, {"from": world.outsider})


def test_approve_to_zero_reverts(world):
    with brownie.reverts(err("ERC20InvalidSpender", ZERO)):
        world.currency.approve(ZERO, 1, {"from": world.f1})
