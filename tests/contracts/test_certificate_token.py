"""CertificateToken business functions: issue, accept, reject, splitTransfer, freeze, admin,
and the system-contract-only entry points."""

import brownie
import pytest
from conftest import (
    ACTIVE,
    CORE,
    CREDIT,
    DAY,
    FACTOR,
    OVERDUE,
    PENDING,
    REJECTED,
    SUPPLIER,
    ZERO,
    assert_event,
    h32,
    next_timestamp,
)
from errors import err

MAX128 = 2**128 - 1


def names(tx):
    return [e.name for e in tx.events]


def test_issue(world, chain, web3):
    ts = next_timestamp(chain, web3)
    maturity = ts + 90 * DAY
    tx = world.token.issue(world.s1, 100_000, maturity, h32(1), {"from": world.core})
    cert_id, token_id = tx.return_value
    assert (cert_id, token_id) == (1, 1)
    assert names(tx) == [
        "CreditLineChanged", "CertificateIssued", "Transfer", "SlotChanged", "HoldingCreated", "TransferValue",
    ]
    assert_event(tx, "CreditLineChanged", debtor=world.core, limit=CREDIT, used=100_000)
    assert_event(
        tx, "CertificateIssued", certificateId=1, debtor=world.core, payee=world.s1, tokenId=1,
        faceValue=100_000, issuedAt=ts, maturity=maturity, documentHash=h32(1),
    )
    assert_event(tx, "Transfer", **{"from": ZERO, "to": world.s1, "tokenId": 1})
    assert_event(tx, "SlotChanged", _tokenId=1, _oldSlot=0, _newSlot=1)
    assert_event(
        tx, "HoldingCreated", tokenId=1, certificateId=1, parentTokenId=0, owner=world.s1,
        initialValue=100_000, tier=1, documentHash=h32(1),
    )
    assert_event(tx, "TransferValue", _fromTokenId=0, _toTokenId=1, _value=100_000)
    assert tuple(world.token.certificate(1)) == (
        world.core, maturity, PENDING, ts, 100_000, 0, "0x" + h32(1).hex(), 1,
    )
    assert tuple(world.token.holding(1)) == (1, world.s1, 100_000, 0, 1, False)
    assert world.token.certificateCount() == 1
    assert world.token.tokenCount() == 1
    assert world.token.balanceOf["address"](world.s1) == 1
    assert world.membership.availableCredit(world.core) == CREDIT - 100_000
    # ids keep counting across certificates
    cert2, token2 = world.issue(face=5, accept=False)
    assert (cert2, token2) == (2, 2)


def test_issue_at_term_limits(world, chain, web3):
    ts = next_timestamp(chain, web3)
    world.token.issue(world.s1, 1, ts + 365 * DAY, h32(1), {"from": world.core})
    ts = next_timestamp(chain, web3)
    world.token.issue(world.s1, 1, ts + 1, h32(1), {"from": world.core})
    # the whole credit line may be used, not one unit more
    world.membership.setCreditLimit(world.core2, 1_000, {"from": world.op})
    world.issue(debtor=world.core2, face=1_000)
    assert world.membership.availableCredit(world.core2) == 0


def test_issue_reverts(world, chain, web3, accounts):
    t, core = world.token, world.core
    mat = world.now() + 30 * DAY
    with brownie.reverts(err("MembershipWrongRole", world.s1, CORE, SUPPLIER)):
        t.issue(world.s2, 1, mat, h32(1), {"from": world.s1})
    with brownie.reverts(err("MembershipWrongRole", world.outsider, CORE, 0)):
        t.issue(world.s2, 1, mat, h32(1), {"from": world.outsider})
    with brownie.reverts(err("MembershipWrongRole", world.f1, SUPPLIER, FACTOR)):
        t.issue(world.f1, 1, mat, h32(1), {"from": core})
    with brownie.reverts(err("MembershipWrongRole", world.outsider, SUPPLIER, 0)):
        t.issue(world.outsider, 1, mat, h32(1), {"from": core})
    with brownie.reverts(err("MembershipWrongRole", world.core2, SUPPLIER, CORE)):
        t.issue(world.core2, 1, mat, h32(1), {"from": core})
    with brownie.reverts(err("MembershipInactive", world.suspended)):
        t.issue(world.suspended, 1, mat, h32(1), {"from": core})
    with brownie.reverts(err("CertificateZeroValue")):
        t.issue(world.s1, 0, mat, h32(1), {"from": core})
    with brownie.reverts(err("CertificateValueTooLarge", MAX128 + 1)):
        t.issue(world.s1, MAX128 + 1, mat, h32(1), {"from": core})
    with brownie.reverts(err("CertificateZeroDocumentHash")):
        t.issue(world.s1, 1, mat, h32(0), {"from": core})
    with brownie.reverts(err("MembershipCreditExceeded", core, CREDIT, CREDIT + 1)):
        t.issue(world.s1, CREDIT + 1, mat, h32(1), {"from": core})
    ts = next_timestamp(chain, web3)
    with brownie.reverts(err("CertificateInvalidMaturity", ts, ts + 1, ts + 365 * DAY)):
        t.issue(world.s1, 1, ts, h32(1), {"from": core})
    ts = next_timestamp(chain, web3)
    with brownie.reverts(err("CertificateInvalidMaturity", ts + 365 * DAY + 1, ts + 1, ts + 365 * DAY)):
        t.issue(world.s1, 1, ts + 365 * DAY + 1, h32(1), {"from": core})
    world.membership.setActive(core, False, {"from": world.op})
    with brownie.reverts(err("MembershipInactive", core)):
        t.issue(world.s1, 1, mat, h32(1), {"from": core})
    world.membership.pause({"from": world.op})
    with brownie.reverts(err("MembershipPaused")):
        t.issue(world.s1, 1, mat, h32(1), {"from": world.core2})


def test_accept(world):
    cert, token = world.issue(accept=False)
    tx = world.token.accept(cert, {"from": world.s1})
    assert names(tx) == ["CertificateStatusChanged"]
    assert_event(tx, "CertificateStatusChanged", certificateId=cert, status=ACTIVE)
    assert world.token.certificate(cert)[2] == ACTIVE


def test_reject(world):
    cert, token = world.issue(face=40_000, accept=False)
    tx = world.token.reject(cert, {"from": world.s1})
    assert_event(tx, "CertificateStatusChanged", certificateId=cert, status=REJECTED)
    assert_event(tx, "TransferValue", _fromTokenId=token, _toTokenId=0, _value=40_000)
    # a burn moves the holding out of its slot, as in the ERC-3525 reference implementation
    assert_event(tx, "SlotChanged", _tokenId=token, _oldSlot=cert, _newSlot=0)
    assert_event(tx, "Transfer", **{"from": world.s1, "to": ZERO, "tokenId": token})
    burn = [e.name for e in tx.events if e.name in ("TransferValue", "SlotChanged", "Transfer")]
    assert burn == ["TransferValue", "SlotChanged", "Transfer"]
    assert_event(tx, "CreditLineChanged", debtor=world.core, limit=CREDIT, used=0)
    assert world.token.certificate(cert)[2] == REJECTED
    assert world.membership.availableCredit(world.core) == CREDIT
    assert world.token.balanceOf["address"](world.s1) == 0
    with brownie.reverts(err("CertificateUnknownHolding", token)):
        world.token.holding(token)


def test_a_frozen_pending_holding_cannot_be_rejected(world):
    """Regression: rejecting burned a holding under a judicial freeze."""
    cert, token = world.issue(face=40_000, accept=False)
    world.token.freeze(token, h32(1), {"from": world.op})
    with brownie.reverts(err("CertificateFrozen", token)):
        world.token.reject(cert, {"from": world.s1})
    assert world.value(token) == 40_000
    # accepting moves nothing: allowed, and the holding stays frozen
    world.token.accept(cert, {"from": world.s1})
    assert world.token.holding(token)[5] is True
    world.token.unfreeze(token, h32(1), {"from": world.op})


@pytest.mark.parametrize("fn", ["accept", "reject"])
def test_accept_reject_reverts(world, fn):
    cert, _ = world.issue(accept=False)
    call = getattr(world.token, fn)
    with brownie.reverts(err("CertificateUnknownCertificate", 99)):
        call(99, {"from": world.s1})
    with brownie.reverts(err("CertificateNotPayee", cert, world.s2, world.s1)):
        call(cert, {"from": world.s2})
    with brownie.reverts(err("CertificateNotPayee", cert, world.core, world.s1)):
        call(cert, {"from": world.core})
    world.membership.setActive(world.s1, False, {"from": world.op})
    with brownie.reverts(err("MembershipInactive", world.s1)):
        call(cert, {"from": world.s1})
    world.membership.setActive(world.s1, True, {"from": world.op})
    world.membership.pause({"from": world.op})
    with brownie.reverts(err("MembershipPaused")):
        call(cert, {"from": world.s1})
    world.membership.unpause({"from": world.op})
    world.token.accept(cert, {"from": world.s1})
    with brownie.reverts(err("CertificateWrongStatus", cert, ACTIVE)):
        call(cert, {"from": world.s1})
    cert2, _ = world.issue(accept=False)
    world.token.reject(cert2, {"from": world.s1})
    with brownie.reverts(err("CertificateWrongStatus", cert2, REJECTED)):
        call(cert2, {"from": world.s1})


def test_split_transfer(world):
    cert, root = world.issue(face=100_000)
    tx = world.token.splitTransfer(root, world.s2, 30_001, h32(21), {"from": world.s1})
    new = tx.return_value
    assert new == root + 1
    assert names(tx) == ["Transfer", "SlotChanged", "HoldingCreated", "TransferValue"]
    assert_event(tx, "Transfer", **{"from": ZERO, "to": world.s2, "tokenId": new})
    assert_event(tx, "SlotChanged", _tokenId=new, _oldSlot=0, _newSlot=cert)
    assert_event(
        tx, "HoldingCreated", tokenId=new, certificateId=cert, parentTokenId=root, owner=world.s2,
        initialValue=30_001, tier=2, documentHash=h32(21),
    )
    assert_event(tx, "TransferValue", _fromTokenId=root, _toTokenId=new, _value=30_001)
    assert world.value(root) == 69_999
    assert tuple(world.token.holding(new)) == (cert, world.s2, 30_001, root, 2, False)
    assert world.token.balanceOf["address"](world.s2) == 1


def test_split_to_an_existing_holder_still_creates_a_holding(world):
    _, root = world.issue(face=100)
    a = world.split(root, world.s2, 10)
    b = world.split(root, world.s2, 10)
    assert a != b
    assert world.token.balanceOf["address"](world.s2) == 2


def test_split_to_oneself_reverts(world):
    """Regression: a split to the holding's own owner made a holding one tier deeper without a
    hop between members; repeated, it inflated the tiers reached."""
    t = world.token
    _, root = world.issue(face=100)
    with brownie.reverts(err("CertificateSelfTransfer", root, world.s1)):
        t.splitTransfer(root, world.s1, 10, h32(3), {"from": world.s1})
    with brownie.reverts(err("CertificateSelfTransfer", root, world.s1)):
        t.transferFrom["uint256,address,uint256"](root, world.s1, 10, {"from": world.s1})
    # nor by an approved operator sending the value back to the owner
    t.approve["uint256,address,uint256"](root, world.f1, 10, {"from": world.s1})
    with brownie.reverts(err("CertificateSelfTransfer", root, world.s1)):
        t.splitTransfer(root, world.s1, 10, h32(3), {"from": world.f1})
    assert t.tokenCount() == root and world.value(root) == 100
    # the same holder may still receive it back through a real hop: two tiers for two hops
    back = world.split(world.split(root, world.s2, 10), world.s1, 10)
    assert tuple(t.holding(back))[1:] == (world.s1, 10, root + 1, 3, False)


def test_deep_tiers(world, accounts):
    """Tier 3 and deeper must work: s1 -> s2 -> s3 -> f1 -> s1 -> ... down to tier 8."""
    _, token = world.issue(face=1_000_000)
    chain_of = [world.s2, world.s3, world.f1, world.s1, world.f2, world.s2, world.s3]
    parent = token
    for depth, holder in enumerate(chain_of, start=2):
        new = world.split(parent, holder, 1_000_000 // depth)
        h = world.token.holding(new)
        assert (h[3], h[4]) == (parent, depth)
        parent = new
    assert world.token.holding(parent)[4] == 8


def test_split_whole_value_leaves_an_empty_holding(world):
    cert, root = world.issue(face=500)
    new = world.split(root, world.s2, 500)
    assert world.value(root) == 0
    assert world.token.ownerOf(root) == world.s1
    assert world.value(new) == 500
    with brownie.reverts(err("CertificateInsufficientValue", root, 0, 1)):
        world.split(root, world.s2, 1)


def test_split_reverts(world):
    t = world.token
    cert, root = world.issue(face=1_000)
    with brownie.reverts(err("CertificateZeroDocumentHash")):
        t.splitTransfer(root, world.s2, 1, h32(0), {"from": world.s1})
    with brownie.reverts(err("CertificateUnknownHolding", 99)):
        t.splitTransfer(99, world.s2, 1, h32(3), {"from": world.s1})
    with brownie.reverts(err("CertificateNotOwnerNorApproved", root, world.s2)):
        t.splitTransfer(root, world.s2, 1, h32(3), {"from": world.s2})
    with brownie.reverts(err("CertificateZeroValue")):
        t.splitTransfer(root, world.s2, 0, h32(3), {"from": world.s1})
    with brownie.reverts(err("CertificateInsufficientValue", root, 1_000, 1_001)):
        t.splitTransfer(root, world.s2, 1_001, h32(3), {"from": world.s1})
    for bad, role in ((world.core, CORE), (world.auditor, 4), (world.outsider, 0)):
        with brownie.reverts(err("MembershipNotHolder", bad, role)):
            t.splitTransfer(root, bad, 1, h32(3), {"from": world.s1})
    with brownie.reverts(err("MembershipNotHolder", ZERO, 0)):
        t.splitTransfer(root, ZERO, 1, h32(3), {"from": world.s1})
    with brownie.reverts(err("MembershipInactive", world.suspended)):
        t.splitTransfer(root, world.suspended, 1, h32(3), {"from": world.s1})
    with brownie.reverts(err("CertificateSelfTransfer", root, world.s1)):
        t.splitTransfer(root, world.s1, 1, h32(3), {"from": world.s1})
    # pending certificate
    cert2, root2 = world.issue(accept=False)
    with brownie.reverts(err("CertificateWrongStatus", cert2, PENDING)):
        t.splitTransfer(root2, world.s2, 1, h32(3), {"from": world.s1})
    # frozen holding
    t.freeze(root, h32(9), {"from": world.op})
    with brownie.reverts(err("CertificateFrozen", root)):
        t.splitTransfer(root, world.s2, 1, h32(3), {"from": world.s1})
    t.unfreeze(root, h32(9), {"from": world.op})
    # suspended owner
    world.membership.setActive(world.s1, False, {"from": world.op})
    with brownie.reverts(err("MembershipInactive", world.s1)):
        t.splitTransfer(root, world.s2, 1, h32(3), {"from": world.s1})
    world.membership.setActive(world.s1, True, {"from": world.op})
    # paused
    world.membership.pause({"from": world.op})
    with brownie.reverts(err("MembershipPaused")):
        t.splitTransfer(root, world.s2, 1, h32(3), {"from": world.s1})
    world.membership.unpause({"from": world.op})
    # matured (and overdue)
    maturity = t.certificate(cert)[1]
    world.mature(cert)
    with brownie.reverts(err("CertificateMatured", cert, maturity)):
        t.splitTransfer(root, world.s2, 1, h32(3), {"from": world.s1})
    world.mature(cert, extra=31 * DAY)
    world.settlement.markOverdue(cert, {"from": world.outsider})
    with brownie.reverts(err("CertificateWrongStatus", cert, OVERDUE)):
        t.splitTransfer(root, world.s2, 1, h32(3), {"from": world.s1})


def test_freeze_unfreeze(world):
    t = world.token
    _, root = world.issue()
    tx = t.freeze(root, h32(66), {"from": world.op})
    assert_event(tx, "HoldingFrozen", tokenId=root, frozen=True, reasonHash=h32(66))
    assert t.holding(root)[5] is True
    with brownie.reverts(err("CertificateFreezeUnchanged", root, True)):
        t.freeze(root, h32(66), {"from": world.op})
    tx = t.unfreeze(root, h32(67), {"from": world.op})
    assert_event(tx, "HoldingFrozen", tokenId=root, frozen=False, reasonHash=h32(67))
    assert t.holding(root)[5] is False
    with brownie.reverts(err("CertificateFreezeUnchanged", root, False)):
        t.unfreeze(root, h32(67), {"from": world.op})
    with brownie.reverts(err("CertificateUnknownHolding", 99)):
        t.freeze(99, h32(1), {"from": world.op})
    with brownie.reverts(err("CertificateUnknownHolding", 99)):
        t.unfreeze(99, h32(1), {"from": world.op})
    for who in (world.core, world.s1, world.auditor):
        with brownie.reverts(err("CertificateUnauthorized", who)):
            t.freeze(root, h32(1), {"from": who})
        with brownie.reverts(err("CertificateUnauthorized", who)):
            t.unfreeze(root, h32(1), {"from": who})
    # a freeze works while the system is paused (judicial orders do not wait)
    world.membership.pause({"from": world.op})
    t.freeze(root, h32(1), {"from": world.op})


def test_set_max_term(world, chain, web3):
    t = world.token
    assert t.maxTerm() == 365 * DAY
    tx = t.setMaxTerm(180 * DAY, {"from": world.op})
    assert_event(tx, "MaxTermSet", maxTermSeconds=180 * DAY)
    assert t.maxTerm() == 180 * DAY
    ts = next_timestamp(chain, web3)
    with brownie.reverts(err("CertificateInvalidMaturity", ts + 181 * DAY, ts + 1, ts + 180 * DAY)):
        t.issue(world.s1, 1, ts + 181 * DAY, h32(1), {"from": world.core})
    world.issue(days=179)
    t.setMaxTerm(365 * DAY, {"from": world.op})
    with brownie.reverts(err("CertificateInvalidTerm", 0)):
        t.setMaxTerm(0, {"from": world.op})
    with brownie.reverts(err("CertificateInvalidTerm", 365 * DAY + 1)):
        t.setMaxTerm(365 * DAY + 1, {"from": world.op})
    with brownie.reverts(err("CertificateUnauthorized", world.core)):
        t.setMaxTerm(DAY, {"from": world.core})


def wired_token(world, CertificateToken, financing, settlement):
    """A second token on the world's membership, wired to `financing` and `settlement` (EOAs in
    tests, to call the agent entry points directly)."""
    t = CertificateToken.deploy(world.membership, "Receivable Certificate", "RCERT", {"from": world.op})
    world.membership.setSystemContract(t, True, {"from": world.op})
    t.setSystemContracts(financing, settlement, {"from": world.op})
    return t


def test_set_system_contracts(world, accounts, CertificateToken):
    t = world.token
    assert t.financing() == world.financing
    assert t.settlement() == world.settlement
    assert t.membership() == world.membership
    # wired once at deployment: the operator cannot point them at wallets of its own later
    with brownie.reverts(err("CertificateSystemContractsAlreadySet", world.financing, world.settlement)):
        t.setSystemContracts(accounts[12], accounts[13], {"from": world.op})
    with brownie.reverts(err("CertificateUnauthorized", world.s1)):
        t.setSystemContracts(accounts[12], accounts[13], {"from": world.s1})
    fresh = CertificateToken.deploy(world.membership, "Receivable Certificate", "RCERT", {"from": world.op})
    assert (fresh.financing(), fresh.settlement()) == (ZERO, ZERO)
    with brownie.reverts(err("CertificateZeroAddress")):
        fresh.setSystemContracts(ZERO, accounts[13], {"from": world.op})
    with brownie.reverts(err("CertificateZeroAddress")):
        fresh.setSystemContracts(accounts[12], ZERO, {"from": world.op})
    with brownie.reverts(err("CertificateUnauthorized", world.s1)):
        fresh.setSystemContracts(accounts[12], accounts[13], {"from": world.s1})
    tx = fresh.setSystemContracts(accounts[12], accounts[13], {"from": world.op})
    assert_event(tx, "SystemContractsSet", financing=accounts[12], settlement=accounts[13])
    assert (fresh.financing(), fresh.settlement()) == (accounts[12], accounts[13])
    with brownie.reverts(err("CertificateSystemContractsAlreadySet", accounts[12], accounts[13])):
        fresh.setSystemContracts(world.financing, world.settlement, {"from": world.op})


def test_system_only_entry_points(world):
    t = world.token
    cert, root = world.issue()
    for who in (world.op, world.core, world.s1, world.f1):
        with brownie.reverts(err("CertificateUnauthorized", who)):
            t.transferByAgent(root, world.s1, world.f1, 1, h32(0), {"from": who})
        with brownie.reverts(err("CertificateUnauthorized", who)):
            t.redeemValue(root, 1, {"from": who})
        with brownie.reverts(err("CertificateUnauthorized", who)):
            t.markOverdue(cert, {"from": who})


def test_agent_entry_points_directly(world, accounts, CertificateToken):
    """A token wired to EOAs as the financing and settlement contracts exercises the agent paths'
    own checks."""
    fin, stl = accounts[12], accounts[13]
    t = wired_token(world, CertificateToken, fin, stl)

    def issue(face, accept=True):
        cert, root = t.issue(world.s1, face, world.now() + 90 * DAY, h32(1), {"from": world.core}).return_value
        if accept:
            t.accept(cert, {"from": world.s1})
        return cert, root

    cert, root = issue(1_000)
    pending, proot = issue(10, accept=False)
    # transferByAgent
    with brownie.reverts(err("CertificateWrongOwner", root, world.s2, world.s1)):
        t.transferByAgent(root, world.s2, world.f1, 1, h32(5), {"from": fin})
    with brownie.reverts(err("CertificateUnknownHolding", 99)):
        t.transferByAgent(99, world.s2, world.f1, 1, h32(5), {"from": fin})
    with brownie.reverts(err("CertificateZeroDocumentHash")):
        t.transferByAgent(root, world.s1, world.f1, 1, h32(0), {"from": fin})
    with brownie.reverts(err("CertificateSelfTransfer", root, world.s1)):
        t.transferByAgent(root, world.s1, world.s1, 1, h32(5), {"from": fin})
    tx = t.transferByAgent(root, world.s1, world.f1, 300, h32(5), {"from": fin})
    new = tx.return_value
    assert_event(
        tx, "HoldingCreated", tokenId=new, certificateId=cert, parentTokenId=root, owner=world.f1,
        initialValue=300, tier=2, documentHash=h32(5),
    )
    # redeemValue
    with brownie.reverts(err("CertificateUnknownHolding", 99)):
        t.redeemValue(99, 1, {"from": stl})
    with brownie.reverts(err("CertificateWrongStatus", pending, PENDING)):
        t.redeemValue(proot, 1, {"from": stl})
    with brownie.reverts(err("CertificateInsufficientValue", new, 300, 301)):
        t.redeemValue(new, 301, {"from": stl})
    t.freeze(new, h32(1), {"from": world.op})
    with brownie.reverts(err("CertificateFrozen", new)):
        t.redeemValue(new, 1, {"from": stl})
    t.unfreeze(new, h32(1), {"from": world.op})
    tx = t.redeemValue(new, 300, {"from": stl})
    assert tx.return_value == world.f1
    assert_event(tx, "TransferValue", _fromTokenId=new, _toTokenId=0, _value=300)
    assert_event(tx, "Transfer", **{"from": world.f1, "to": ZERO, "tokenId": new})
    assert t.certificate(cert)[5] == 300
    tx = t.redeemValue(root, 700, {"from": stl})
    assert_event(tx, "CertificateStatusChanged", certificateId=cert, status=5)
    # markOverdue
    with brownie.reverts(err("CertificateUnknownCertificate", 99)):
        t.markOverdue(99, {"from": stl})
    with brownie.reverts(err("CertificateWrongStatus", pending, PENDING)):
        t.markOverdue(pending, {"from": stl})
    cert3, _ = issue(1_000)
    tx = t.markOverdue(cert3, {"from": stl})
    assert_event(tx, "CertificateStatusChanged", certificateId=cert3, status=OVERDUE)
    with brownie.reverts(err("CertificateWrongStatus", cert3, OVERDUE)):
        t.markOverdue(cert3, {"from": stl})


def test_views_revert_on_unknown(world):
    t = world.token
    with brownie.reverts(err("CertificateUnknownCertificate", 1)):
        t.certificate(1)
    with brownie.reverts(err("CertificateUnknownHolding", 1)):
        t.holding(1)
