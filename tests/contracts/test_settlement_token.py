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
    """Only the wired Financing and Settlement move a member's currency without an approval."""
    c = world.currency
    assert (c.financing(), c.settlement()) == (world.financing, world.settlement)
    for who in (world.op, world.s1, world.clearing, world.outsider):
        with brownie.reverts(err("SettlementTokenUnauthorized", who)):
            c.transferByAgent(world.f1, world.s1, 1, {"from": who})


def test_the_operator_cannot_add_an_agent(world, accounts):
    """Trust (regression): the operator registered system contracts and transferByAgent trusted any
    of them, so an address of its own, registered in Membership, moved members' currency. The
    agents are now wired once at deployment: nobody adds one later, and a registration gives none."""
    c, op, wallet = world.currency, world.op, accounts[12]
    with brownie.reverts(err("SettlementTokenSystemContractsAlreadySet", world.financing, world.settlement)):
        c.setSystemContracts(wallet, wallet, {"from": op})
    for who in (world.s1, world.clearing, wallet):
        with brownie.reverts(err("SettlementTokenUnauthorized", who)):
            c.setSystemContracts(wallet, wallet, {"from": who})
    world.membership.setSystemContract(wallet, True, {"from": op})
    assert world.membership.isSystemContract(wallet)
    with brownie.reverts(err("SettlementTokenUnauthorized", wallet)):
        c.transferByAgent(world.f1, world.s1, 1, {"from": wallet})
    with brownie.reverts(err("SettlementTokenUnauthorized", op)):
        c.transferByAgent(world.f1, world.s1, 1, {"from": op})
    assert (c.financing(), c.settlement()) == (world.financing, world.settlement)
    assert c.balanceOf(world.f1) == CURRENCY


def test_system_contracts_are_wired_once(world, accounts, SettlementToken):
    """A fresh currency: wiring by the operator alone, of non-zero agents, once; a wired agent moves
    currency without an approval while Membership enables it, and the operator may disable it
    (a compromised contract is stopped at once) but never put another in its place."""
    op, agent, other = world.op, accounts[12], accounts[13]
    fresh = SettlementToken.deploy("Settlement Deposit CNY", "DCNY", world.membership, {"from": op})
    assert (fresh.financing(), fresh.settlement()) == (ZERO, ZERO)
    fresh.mint(world.f1, 100, {"from": world.clearing})
    world.membership.setSystemContract(agent, True, {"from": op})
    with brownie.reverts(err("SettlementTokenUnauthorized", agent)):  # not wired yet: nobody is an agent
        fresh.transferByAgent(world.f1, world.s1, 1, {"from": agent})
    with brownie.reverts(err("SettlementTokenZeroAddress")):
        fresh.setSystemContracts(ZERO, other, {"from": op})
    with brownie.reverts(err("SettlementTokenZeroAddress")):
        fresh.setSystemContracts(agent, ZERO, {"from": op})
    with brownie.reverts(err("SettlementTokenUnauthorized", world.s1)):
        fresh.setSystemContracts(agent, other, {"from": world.s1})
    tx = fresh.setSystemContracts(agent, other, {"from": op})
    assert_event(tx, "SystemContractsSet", financing=agent, settlement=other)
    assert (fresh.financing(), fresh.settlement()) == (agent, other)
    with brownie.reverts(err("SettlementTokenSystemContractsAlreadySet", agent, other)):
        fresh.setSystemContracts(world.financing, world.settlement, {"from": op})
    tx = fresh.transferByAgent(world.f1, world.s1, 7, {"from": agent})  # no ERC-20 approval needed
    assert_event(tx, "Transfer", **{"from": world.f1, "to": world.s1, "value": 7})
    with brownie.reverts(err("MembershipInactive", world.suspended)):  # the parties as for transfer
        fresh.transferByAgent(world.f1, world.suspended, 1, {"from": agent})
    with brownie.reverts(err("SettlementTokenUnauthorized", other)):  # wired, but not enabled in Membership
        fresh.transferByAgent(world.f1, world.s1, 1, {"from": other})
    world.membership.setSystemContract(agent, False, {"from": op})
    with brownie.reverts(err("SettlementTokenUnauthorized", agent)):
        fresh.transferByAgent(world.f1, world.s1, 1, {"from": agent})
    assert (fresh.balanceOf(world.f1), fresh.balanceOf(world.s1)) == (93, 7)


def test_approve_to_zero_reverts(world):
    with brownie.reverts(err("ERC20InvalidSpender", ZERO)):
        world.currency.approve(ZERO, 1, {"from": world.f1})
