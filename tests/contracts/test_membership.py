import brownie
import pytest
from conftest import (
    AUDITOR,
    CLEARING,
    CORE,
    CREDIT,
    FACTOR,
    HOLD_CURRENCY,
    NONE,
    SPEND_CURRENCY,
    SPEND_HOLDINGS,
    SUPPLIER,
    ZERO,
    assert_event,
    h32,
)
from errors import err

MAX128 = 2**128 - 1


def test_initial_state(world):
    m = world.membership
    assert m.operator() == world.op
    assert m.owner() == world.op
    assert not m.paused()
    for c in (world.token, world.financing, world.settlement):
        assert m.isSystemContract(c)
    assert tuple(m.memberOf(world.outsider)) == (0, False, "0x" + "00" * 32, 0, 0)
    assert m.roleOf(world.core) == CORE
    assert m.roleOf(world.f1) == FACTOR
    assert m.roleOf(world.auditor) == AUDITOR
    assert m.isActive(world.s1)
    assert not m.isActive(world.suspended)
    assert m.availableCredit(world.core) == CREDIT


@pytest.mark.parametrize("role", [CORE, SUPPLIER, FACTOR, AUDITOR, CLEARING])
def test_onboard(world, accounts, role):
    new = accounts[11]
    tx = world.membership.onboard(new, role, h32(5), {"from": world.op})
    assert_event(tx, "MemberOnboarded", account=new, role=role, kycHash=h32(5))
    member = world.membership.memberOf(new)
    assert tuple(member) == (role, True, "0x" + h32(5).hex(), 0, 0)


def test_onboard_reverts(world, accounts):
    m, op, new = world.membership, world.op, accounts[11]
    with brownie.reverts(err("OwnableUnauthorizedAccount", world.core)):
        m.onboard(new, SUPPLIER, h32(1), {"from": world.core})
    with brownie.reverts(err("MembershipZeroAddress")):
        m.onboard(ZERO, SUPPLIER, h32(1), {"from": op})
    with brownie.reverts(err("MembershipInvalidRole", 0)):
        m.onboard(new, 0, h32(1), {"from": op})
    with brownie.reverts(err("MembershipAlreadyMember", world.s1)):
        m.onboard(world.s1, FACTOR, h32(1), {"from": op})
    with brownie.reverts(err("MembershipAlreadyMember", world.suspended)):
        m.onboard(world.suspended, SUPPLIER, h32(1), {"from": op})
    with brownie.reverts(err("MembershipZeroKycHash", new)):
        m.onboard(new, SUPPLIER, h32(0), {"from": op})


@pytest.mark.parametrize("role", [CORE, SUPPLIER, FACTOR, AUDITOR, CLEARING])
def test_the_operator_is_never_a_member(world, accounts, role):
    """Trust: the operator onboards members; it is never one, nor is its nominated successor."""
    m, op, nominee = world.membership, world.op, accounts[12]
    with brownie.reverts(err("MembershipOperatorCannotBeMember", op)):
        m.onboard(op, role, h32(1), {"from": op})
    m.transferOwnership(nominee, {"from": op})
    with brownie.reverts(err("MembershipOperatorCannotBeMember", nominee)):
        m.onboard(nominee, role, h32(1), {"from": op})
    # nor can a member be nominated operator
    with brownie.reverts(err("MembershipOperatorCannotBeMember", world.s1)):
        m.transferOwnership(world.s1, {"from": op})
    m.acceptOwnership({"from": nominee})
    with brownie.reverts(err("MembershipOperatorCannotBeMember", nominee)):
        m.onboard(nominee, role, h32(1), {"from": nominee})
    # the former operator is an ordinary address again
    m.onboard(op, role, h32(1), {"from": nominee})
    assert m.roleOf(op) == role


@pytest.mark.parametrize("role", [CORE, SUPPLIER, FACTOR, AUDITOR, CLEARING])
def test_a_system_contract_is_never_a_member(world, role):
    m, op = world.membership, world.op
    for c in (world.token, world.financing, world.settlement):
        with brownie.reverts(err("MembershipSystemContractCannotBeMember", c)):
            m.onboard(c, role, h32(1), {"from": op})
    # nor is a member registered as a system contract (disabling stays possible for anyone)
    with brownie.reverts(err("MembershipSystemContractCannotBeMember", world.s1)):
        m.setSystemContract(world.s1, True, {"from": op})
    m.setSystemContract(world.s1, False, {"from": op})
    assert not m.isSystemContract(world.s1)
    # a disabled system contract may be onboarded (it is an ordinary address again)
    m.setSystemContract(world.outsider, True, {"from": op})
    with brownie.reverts(err("MembershipSystemContractCannotBeMember", world.outsider)):
        m.onboard(world.outsider, role, h32(1), {"from": op})
    m.setSystemContract(world.outsider, False, {"from": op})
    m.onboard(world.outsider, role, h32(1), {"from": op})


def test_onboard_out_of_range_role_reverts(world, accounts):
    # the ABI decoder refuses an enum value out of range, with no revert data
    with brownie.reverts():
        world.membership.onboard(accounts[11], 6, h32(1), {"from": world.op})


def test_update_kyc(world):
    tx = world.membership.updateKyc(world.s1, h32(77), {"from": world.op})
    assert_event(tx, "MemberKycUpdated", account=world.s1, kycHash=h32(77))
    assert world.membership.memberOf(world.s1)[2] == "0x" + h32(77).hex()
    with brownie.reverts(err("MembershipUnknownMember", world.outsider)):
        world.membership.updateKyc(world.outsider, h32(1), {"from": world.op})
    with brownie.reverts(err("OwnableUnauthorizedAccount", world.s1)):
        world.membership.updateKyc(world.s1, h32(1), {"from": world.s1})
    with brownie.reverts(err("MembershipZeroKycHash", world.s1)):
        world.membership.updateKyc(world.s1, h32(0), {"from": world.op})


def test_set_active(world):
    m = world.membership
    tx = m.setActive(world.s1, False, {"from": world.op})
    assert_event(tx, "MemberStatusChanged", account=world.s1, active=False)
    assert not m.isActive(world.s1)
    tx = m.setActive(world.s1, True, {"from": world.op})
    assert_event(tx, "MemberStatusChanged", account=world.s1, active=True)
    assert m.isActive(world.s1)
    with brownie.reverts(err("MembershipStatusUnchanged", world.s1, True)):
        m.setActive(world.s1, True, {"from": world.op})
    with brownie.reverts(err("MembershipStatusUnchanged", world.suspended, False)):
        m.setActive(world.suspended, False, {"from": world.op})
    with brownie.reverts(err("MembershipUnknownMember", world.outsider)):
        m.setActive(world.outsider, True, {"from": world.op})
    with brownie.reverts(err("OwnableUnauthorizedAccount", world.auditor)):
        m.setActive(world.s1, False, {"from": world.auditor})


def test_set_credit_limit(world):
    m = world.membership
    world.issue(face=300_000)
    tx = m.setCreditLimit(world.core, 1_000_000, {"from": world.op})
    assert_event(tx, "CreditLineChanged", debtor=world.core, limit=1_000_000, used=300_000)
    assert m.availableCredit(world.core) == 700_000
    # a limit below what is used leaves nothing available
    m.setCreditLimit(world.core, 100_000, {"from": world.op})
    assert m.availableCredit(world.core) == 0
    assert tuple(m.memberOf(world.core))[3:] == (100_000, 300_000)
    # the largest limit stored; beyond it the call reverts (it was silently clamped)
    tx = m.setCreditLimit(world.core, MAX128, {"from": world.op})
    assert_event(tx, "CreditLineChanged", debtor=world.core, limit=MAX128, used=300_000)
    assert m.availableCredit(world.core) == MAX128 - 300_000
    for limit in (MAX128 + 1, 2**200):
        with brownie.reverts(err("MembershipCreditLimitTooLarge", limit, MAX128)):
            m.setCreditLimit(world.core, limit, {"from": world.op})
    assert tuple(m.memberOf(world.core))[3:] == (MAX128, 300_000)


def test_set_credit_limit_reverts(world):
    m = world.membership
    with brownie.reverts(err("MembershipWrongRole", world.s1, CORE, SUPPLIER)):
        m.setCreditLimit(world.s1, 1, {"from": world.op})
    with brownie.reverts(err("MembershipWrongRole", world.f1, CORE, FACTOR)):
        m.setCreditLimit(world.f1, 1, {"from": world.op})
    with brownie.reverts(err("MembershipUnknownMember", world.outsider)):
        m.setCreditLimit(world.outsider, 1, {"from": world.op})
    with brownie.reverts(err("OwnableUnauthorizedAccount", world.core)):
        m.setCreditLimit(world.core, 1, {"from": world.core})


def test_set_system_contract(world):
    m = world.membership
    tx = m.setSystemContract(world.outsider, True, {"from": world.op})
    assert_event(tx, "SystemContractSet", account=world.outsider, enabled=True)
    assert m.isSystemContract(world.outsider)
    tx = m.setSystemContract(world.outsider, False, {"from": world.op})
    assert_event(tx, "SystemContractSet", account=world.outsider, enabled=False)
    assert not m.isSystemContract(world.outsider)
    with brownie.reverts(err("MembershipZeroAddress")):
        m.setSystemContract(ZERO, True, {"from": world.op})
    with brownie.reverts(err("OwnableUnauthorizedAccount", world.f1)):
        m.setSystemContract(world.f1, True, {"from": world.f1})


def test_pause_unpause(world):
    m = world.membership
    tx = m.pause({"from": world.op})
    assert_event(tx, "SystemPaused", by=world.op)
    assert m.paused()
    with brownie.reverts(err("MembershipPaused")):
        m.pause({"from": world.op})
    tx = m.unpause({"from": world.op})
    assert_event(tx, "SystemUnpaused", by=world.op)
    assert not m.paused()
    with brownie.reverts(err("MembershipNotPaused")):
        m.unpause({"from": world.op})
    with brownie.reverts(err("OwnableUnauthorizedAccount", world.core)):
        m.pause({"from": world.core})
    m.pause({"from": world.op})
    with brownie.reverts(err("OwnableUnauthorizedAccount", world.core)):
        m.unpause({"from": world.core})


def test_consume_and_release_credit(world):
    m, agent = world.membership, world.outsider
    with brownie.reverts(err("MembershipUnauthorized", agent)):
        m.consumeCredit(world.core, 1, {"from": agent})
    with brownie.reverts(err("MembershipUnauthorized", agent)):
        m.releaseCredit(world.core, 1, {"from": agent})
    m.setSystemContract(agent, True, {"from": world.op})
    tx = m.consumeCredit(world.core, 400, {"from": agent})
    assert_event(tx, "CreditLineChanged", debtor=world.core, limit=CREDIT, used=400)
    with brownie.reverts(err("MembershipCreditExceeded", world.core, CREDIT - 400, CREDIT)):
        m.consumeCredit(world.core, CREDIT, {"from": agent})
    tx = m.releaseCredit(world.core, 150, {"from": agent})
    assert_event(tx, "CreditLineChanged", debtor=world.core, limit=CREDIT, used=250)
    with brownie.reverts(err("MembershipCreditUnderflow", world.core, 250, 251)):
        m.releaseCredit(world.core, 251, {"from": agent})
    # a member without a credit line has nothing available
    with brownie.reverts(err("MembershipCreditExceeded", world.s1, 0, 1)):
        m.consumeCredit(world.s1, 1, {"from": agent})
    # a disabled system contract loses the right
    m.setSystemContract(agent, False, {"from": world.op})
    with brownie.reverts(err("MembershipUnauthorized", agent)):
        m.consumeCredit(world.core, 1, {"from": agent})


def test_require_views(world):
    m = world.membership
    m.requireRole(world.core, CORE)
    m.requireHolders(world.s1, world.f1)
    m.requireCurrencyParties(world.core, world.f1)
    m.requireCurrencyParties(ZERO, world.settlement)
    with brownie.reverts(err("MembershipWrongRole", world.s1, CORE, SUPPLIER)):
        m.requireRole(world.s1, CORE)
    with brownie.reverts(err("MembershipInactive", world.suspended)):
        m.requireRole(world.suspended, SUPPLIER)
    with brownie.reverts(err("MembershipNotHolder", world.core, CORE)):
        m.requireHolders(world.s1, world.core)
    with brownie.reverts(err("MembershipNotHolder", world.auditor, AUDITOR)):
        m.requireHolders(world.auditor, world.s1)
    with brownie.reverts(err("MembershipNotHolder", world.outsider, 0)):
        m.requireHolders(world.s1, world.outsider)
    with brownie.reverts(err("MembershipInactive", world.suspended)):
        m.requireHolders(world.s1, world.suspended)
    with brownie.reverts(err("MembershipUnknownMember", world.outsider)):
        m.requireCurrencyParties(world.s1, world.outsider)
    with brownie.reverts(err("MembershipInactive", world.suspended)):
        m.requireCurrencyParties(world.suspended, world.s1)
    with brownie.reverts(err("MembershipNotPermitted", world.auditor, AUDITOR, HOLD_CURRENCY)):
        m.requireCurrencyParties(world.core, world.auditor)
    m.requireSpender(world.core)
    m.requireSpender(world.settlement)
    with brownie.reverts(err("MembershipNotPermitted", world.auditor, AUDITOR, SPEND_CURRENCY)):
        m.requireSpender(world.auditor)
    m.requireCapable(world.f1, SPEND_HOLDINGS)
    with brownie.reverts(err("MembershipNotPermitted", world.core, CORE, SPEND_HOLDINGS)):
        m.requireCapable(world.core, SPEND_HOLDINGS)
    with brownie.reverts(err("MembershipNotPermitted", world.settlement, 0, SPEND_HOLDINGS)):
        m.requireCapable(world.settlement, SPEND_HOLDINGS)  # no power over holdings
    with brownie.reverts(err("MembershipNotHolder", world.settlement, 0)):
        m.requireHolders(world.s1, world.settlement)
    with brownie.reverts(err("MembershipInactive", world.suspended)):
        m.requireCapable(world.suspended, SPEND_HOLDINGS)
    m.requirePermitted(world.suspended, SPEND_HOLDINGS)  # role only: granting ignores suspension
    with brownie.reverts(err("MembershipUnknownMember", world.outsider)):
        m.requirePermitted(world.outsider, SPEND_CURRENCY)
    m.pause({"from": world.op})
    for call in (
        lambda: m.requireRole(world.core, CORE),
        lambda: m.requireHolders(world.s1, world.f1),
        lambda: m.requireCurrencyParties(world.core, world.s1),
        lambda: m.requireSpender(world.s1),
        lambda: m.requireCapable(world.s1, SPEND_HOLDINGS),
    ):
        with brownie.reverts(err("MembershipPaused")):
            call()


def test_two_step_operator_handover(world, accounts):
    m, new = world.membership, accounts[12]
    tx = m.transferOwnership(new, {"from": world.op})
    assert_event(tx, "OwnershipTransferStarted", previousOwner=world.op, newOwner=new)
    assert m.operator() == world.op
    assert m.pendingOwner() == new
    with brownie.reverts(err("OwnableUnauthorizedAccount", world.core)):
        m.acceptOwnership({"from": world.core})
    tx = m.acceptOwnership({"from": new})
    assert_event(tx, "OwnershipTransferred", previousOwner=world.op, newOwner=new)
    assert m.operator() == new
    # every contract follows the registry's operator
    with brownie.reverts(err("OwnableUnauthorizedAccount", world.op)):
        m.pause({"from": world.op})
    with brownie.reverts(err("CertificateUnauthorized", world.op)):
        world.token.setMaxTerm(100 * 86400, {"from": world.op})
    with brownie.reverts(err("SettlementUnauthorized", world.op)):
        world.settlement.setGracePeriod(1, {"from": world.op})
    world.token.setMaxTerm(100 * 86400, {"from": new})
    with brownie.reverts(err("MembershipWrongRole", new, CLEARING, NONE)):  # the operator never mints
        world.currency.mint(world.s1, 1, {"from": new})
    m.pause({"from": new})
    with brownie.reverts(err("OwnableUnauthorizedAccount", world.core)):
        m.transferOwnership(world.core, {"from": world.core})


def test_operator_must_not_be_zero(world, Membership):
    with brownie.reverts(err("OwnableInvalidOwner", ZERO)):
        Membership.deploy(ZERO, {"from": world.op})


def test_pending_handover_can_be_cancelled(world, accounts):
    m, new = world.membership, accounts[12]
    m.transferOwnership(new, {"from": world.op})
    m.transferOwnership(ZERO, {"from": world.op})  # cancels the nomination
    assert m.pendingOwner() == ZERO
    with brownie.reverts(err("OwnableUnauthorizedAccount", new)):
        m.acceptOwnership({"from": new})
