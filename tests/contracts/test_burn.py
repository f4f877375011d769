"""burn: only the clearing agent burns the settlement currency, when it pays a withdrawal out of
its books; the operator never does."""

import brownie
from conftest import CURRENCY, FACTOR, ZERO, assert_event, assert_only_an_active_clearing_agent
from errors import err


def test_the_clearing_agent_burns(world):
    tx = world.currency.burn(world.f1, 1_000, {"from": world.clearing})
    assert_event(tx, "Transfer", **{"from": world.f1, "to": ZERO, "value": 1_000})
    assert world.currency.balanceOf(world.f1) == CURRENCY - 1_000
    assert world.currency.totalSupply() == 4 * CURRENCY - 1_000


def test_only_an_active_clearing_agent_burns(world):
    c = world.currency
    assert_only_an_active_clearing_agent(world, lambda who: c.burn(world.f1, 1, {"from": who}), world.f1, FACTOR)
    assert c.balanceOf(world.f1) == CURRENCY - 1


def test_burn_reverts_on_the_holder_and_amount(world):
    c, clearing = world.currency, {"from": world.clearing}
    with brownie.reverts(err("ERC20InsufficientBalance", world.s1, 0, 1)):
        c.burn(world.s1, 1, clearing)
    with brownie.reverts(err("ERC20InvalidSender", ZERO)):
        c.burn(ZERO, 1, clearing)
    with brownie.reverts(err("SettlementTokenZeroBurn", world.f1)):
        c.burn(world.f1, 0, clearing)
    c.mint(world.s2, 10, clearing)
    world.membership.setActive(world.s2, False, {"from": world.op})
    with brownie.reverts(err("MembershipInactive", world.s2)):
        c.burn(world.s2, 10, clearing)
