"""Early payment programmes: the debtor publishes a rate and a budget (face value it settles
early); holders of its certificates take any amount of a holding up to the budget left, until it
is spent or the debtor closes the programme. Same pricing and the same path as early offers."""

import brownie
import pytest
from conftest import CORE, CURRENCY, SUPPLIER, assert_event, next_timestamp
from errors import err

DAY = 86_400


def price_of(value, rate, days):
    return value - value * rate * days // (10_000 * 360)


@pytest.fixture
def prog(world):
    cert, root = world.issue(face=100_000, days=60)
    tier2 = world.split(root, world.f1, 30_000)
    tx = world.settlement.openProgramme(365, 50_000, {"from": world.core})
    return cert, root, tier2, tx.return_value


def test_open_take_close(world, chain, web3, prog):
    s = world.settlement
    cert, root, tier2, pid = prog
    assert tuple(s.programme(pid)) == (world.core, 365, True, 50_000, 50_000)
    assert s.programmeCount() == 1
    maturity = world.token.certificate(cert)[1]
    used = world.membership.memberOf(world.core)[4]
    ts = next_timestamp(chain, web3)
    days = (maturity - ts + DAY - 1) // DAY
    tx = s.takeProgramme(pid, tier2, 30_000, {"from": world.f1})
    price = price_of(30_000, 365, days)
    assert tx.return_value == price
    assert_event(tx, "EarlyPaid", certificateId=cert, tokenId=tier2, holder=world.f1, debtor=world.core,
                 value=30_000, price=price, rateBps=365, daysEarly=days, offerId=0, programmeId=pid,
                 totalRepaid=30_000, totalRedeemed=30_000)
    assert world.currency.balanceOf(world.f1) == CURRENCY + price
    assert s.programme(pid)[4] == 20_000
    assert world.membership.memberOf(world.core)[4] == used - 30_000
    with brownie.reverts(err("SettlementBudgetExceeded", pid, 20_000, 20_001)):
        s.takeProgramme(pid, root, 20_001, {"from": world.s1})
    s.takeProgramme(pid, root, 20_000, {"from": world.s1})  # the budget is spent
    with brownie.reverts(err("SettlementBudgetExceeded", pid, 0, 1)):
        s.takeProgramme(pid, root, 1, {"from": world.s1})
    with brownie.reverts(err("SettlementNotProgrammeDebtor", pid, world.core2, world.core)):
        s.closeProgramme(pid, {"from": world.core2})
    tx = s.closeProgramme(pid, {"from": world.core})
    assert_event(tx, "ProgrammeClosed", programmeId=pid, debtor=world.core, remaining=0)
    with brownie.reverts(err("SettlementProgrammeClosed", pid)):
        s.takeProgramme(pid, root, 1, {"from": world.s1})
    with brownie.reverts(err("SettlementProgrammeClosed", pid)):
        s.closeProgramme(pid, {"from": world.core})
    assert world.value(root) + world.token.certificate(cert)[5] == 100_000


def test_open_refusals(world):
    s = world.settlement
    tx = s.openProgramme(0, 1, {"from": world.core2})
    assert_event(tx, "ProgrammeOpened", programmeId=tx.return_value, debtor=world.core2, rateBps=0, budget=1)
    with brownie.reverts(err("MembershipWrongRole", world.s1, CORE, SUPPLIER)):
        s.openProgramme(100, 1, {"from": world.s1})
    with brownie.reverts(err("SettlementZeroAmount")):
        s.openProgramme(100, 0, {"from": world.core})
    with brownie.reverts(err("SettlementValueTooLarge", 2**128)):
        s.openProgramme(100, 2**128, {"from": world.core})
    with brownie.reverts(err("FinancingInvalidRate", 10_001, 10_000)):
        s.openProgramme(10_001, 1, {"from": world.core})
    with brownie.reverts(err("SettlementUnknownProgramme", 9)):
        s.programme(9)
    with brownie.reverts(err("SettlementUnknownProgramme", 9)):
        s.closeProgramme(9, {"from": world.core})
    world.membership.pause({"from": world.op})
    with brownie.reverts(err("MembershipPaused")):
        s.openProgramme(100, 1, {"from": world.core})


def test_take_refusals(world, prog):
    s = world.settlement
    cert, root, tier2, pid = prog
    with brownie.reverts(err("SettlementUnknownProgramme", 9)):
        s.takeProgramme(9, root, 1, {"from": world.s1})
    with brownie.reverts(err("SettlementNotHolder", root, world.s2, world.s1)):
        s.takeProgramme(pid, root, 1, {"from": world.s2})
    other, oroot = world.issue(face=1_000, days=30, debtor=world.core2)
    with brownie.reverts(err("SettlementNotDebtor", other, world.core, world.core2)):
        s.takeProgramme(pid, oroot, 1, {"from": world.s1})
    with brownie.reverts(err("SettlementZeroAmount")):
        s.takeProgramme(pid, root, 0, {"from": world.s1})
    with brownie.reverts(err("SettlementInsufficientValue", tier2, 30_000, 30_001)):
        s.takeProgramme(pid, tier2, 30_001, {"from": world.f1})
    world.membership.setActive(world.core, False, {"from": world.op})
    with brownie.reverts(err("MembershipInactive", world.core)):
        s.takeProgramme(pid, root, 1, {"from": world.s1})
    world.membership.setActive(world.core, True, {"from": world.op})
    # a certificate past maturity is no longer paid early (and overdue ones are not active)
    world.mature(cert)
    with brownie.reverts(err("SettlementMatured", cert, world.token.certificate(cert)[1], world.now())):
        world.settlement.takeProgramme.call(pid, root, 1, {"from": world.s1})
