"""mint: only the clearing agent (a licensed bank, an active member with role ClearingAgent) mints
the settlement currency, against a deposit in its own books; the operator never does."""

import brownie
from conftest import (
    AUDITOR,
    CLEARING,
    CORE,
    CURRENCY,
    HOLD_CURRENCY,
    ZERO,
    assert_event,
    assert_only_an_active_clearing_agent,
    h32,
)
from errors import err


def test_the_clearing_agent_mints(world):
    c = world.currency
    tx = c.mint(world.s1, 12_345, {"from": world.clearing})
    assert_event(tx, "Transfer", **{"from": ZERO, "to": world.s1, "value": 12_345})
    assert c.balanceOf(world.s1) == 12_345
    assert c.totalSupply() == 4 * CURRENCY + 12_345
    assert c.balanceOf(world.clearing) == 0  # the deposit stays in the bank's books, off chain
    c.mint(world.settlement, 1, {"from": world.clearing})  # a system contract may receive currency too


def test_only_an_active_clearing_agent_mints(world):
    c = world.currency
    with brownie.reverts(err("MembershipWrongRole", world.auditor, CLEARING, AUDITOR)):
        c.mint(world.s1, 1, {"from": world.auditor})
    # the operator is no member: it never mints (PBOC 2025: the platform keeps out of client money)
    assert_only_an_active_clearing_agent(world, lambda who: c.mint(world.s1, 1, {"from": who}), world.core, CORE)
    assert c.balanceOf(world.s1) == 1


def test_a_second_clearing_agent_mints_too(world, accounts):
    """The operator onboards banks like any member; each one it onboards mints."""
    bank = accounts[14]
    world.membership.onboard(bank, CLEARING, h32(555), {"from": world.op})
    assert world.membership.roleOf(bank) == CLEARING
    world.currency.mint(world.s2, 7, {"from": bank})
    assert world.currency.balanceOf(world.s2) == 7


def test_mint_reverts_on_the_recipient_and_amount(world):
    c, clearing = world.currency, {"from": world.clearing}
    with brownie.reverts(err("MembershipUnknownMember", world.outsider)):
        c.mint(world.outsider, 1, clearing)
    with brownie.reverts(err("MembershipInactive", world.suspended)):
        c.mint(world.suspended, 1, clearing)
    with brownie.reverts(err("ERC20InvalidReceiver", ZERO)):
        c.mint(ZERO, 1, clearing)
    with brownie.reverts(err("SettlementTokenZeroMint", world.s1)):
        c.mint(world.s1, 0, clearing)
    with brownie.reverts(err("MembershipNotPermitted", world.auditor, AUDITOR, HOLD_CURRENCY)):
        c.mint(world.auditor, 1, clearing)
    # the clearing agent holds no currency itself: it mints to members, never to itself
    with brownie.reverts(err("MembershipNotPermitted", world.clearing, CLEARING, HOLD_CURRENCY)):
        c.mint(world.clearing, 1, clearing)


def test_the_clearing_agent_holds_and_moves_nothing(world):
    """Trust: a bank in the consortium moves money only by minting and burning against its books."""
    w, bank = world, world.clearing
    for cap in range(4):
        assert w.membership.permits(CLEARING, cap) is False
    _, a = w.issue()
    with brownie.reverts(err("MembershipNotPermitted", bank, CLEARING, HOLD_CURRENCY)):
        w.currency.transfer(bank, 1, {"from": w.f1})
    with brownie.reverts(err("MembershipNotHolder", bank, CLEARING)):
        w.split(a, bank, 1)
    with brownie.reverts(err("MembershipWrongRole", bank, CORE, CLEARING)):
        w.token.issue(w.s1, 1, w.now() + 86_400, h32(1), {"from": bank})
