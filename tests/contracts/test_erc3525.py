"""Standard ERC-3525 / ERC-721 / ERC-165 behaviour of the certificate token."""

import brownie
import pytest
from conftest import AUDITOR, CORE, FACTOR, SPEND_HOLDINGS, SUPPLIER, ZERO, assert_event, h32
from errors import err

MAX256 = 2**256 - 1
ERC721_RECEIVED = "0x150b7a02"
ERC3525_RECEIVED = "0x009ce20b"


@pytest.fixture(scope="module")
def receiver(world, ReentrantReceiver):
    r = ReentrantReceiver.deploy({"from": world.op})
    world.membership.onboard(r, SUPPLIER, h32(500), {"from": world.op})
    return r


@pytest.fixture(scope="module")
def plain(world, PlainMember):
    p = PlainMember.deploy({"from": world.op})
    world.membership.onboard(p, FACTOR, h32(501), {"from": world.op})
    return p


@pytest.fixture
def held(world):
    """An active certificate of 100,000 held by s1 (root) with 20,000 split to s2."""
    cert, root = world.issue(face=100_000)
    other = world.split(root, world.s2, 20_000)
    return cert, root, other


@pytest.mark.parametrize(
    "interface_id,supported",
    [
        ("0xd5358140", True),  # ERC-3525
        ("0x80ac58cd", True),  # ERC-721
        ("0x01ffc9a7", True),  # ERC-165
        ("0x5b5e139f", False),  # ERC-721 metadata (no tokenURI)
        ("0x780e9d63", False),  # ERC-721 enumerable: left to the indexer
        ("0xffffffff", False),
        ("0x009ce20b", False),  # the receiver interface is not the token's
    ],
)
def test_supports_interface(world, interface_id, supported):
    assert world.token.supportsInterface(interface_id) is supported


def test_metadata_and_balances(world, held):
    t = world.token
    cert, root, other = held
    assert t.name() == "Receivable Certificate"
    assert t.symbol() == "RCERT"
    assert t.valueDecimals() == 2
    assert t.slotOf(root) == cert
    assert t.slotOf(other) == cert
    assert t.balanceOf["uint256"](root) == 80_000
    assert t.ownerOf(other) == world.s2
    assert t.balanceOf["address"](world.s1) == 1
    assert t.balanceOf["address"](world.outsider) == 0
    with brownie.reverts(err("CertificateZeroAddress")):
        t.balanceOf["address"](ZERO)
    for fn in (t.ownerOf, t.slotOf, t.balanceOf["uint256"], t.getApproved):
        with brownie.reverts(err("CertificateUnknownHolding", 99)):
            fn(99)
    with brownie.reverts(err("CertificateUnknownHolding", 99)):
        t.allowance(99, world.s2)


# --- ERC-3525 value approvals --------------------------------------------------------------


def test_value_approval_and_spending(world, held):
    t = world.token
    cert, root, _ = held
    tx = t.approve["uint256,address,uint256"](root, world.f1, 5_000, {"from": world.s1})
    assert_event(tx, "ApprovalValue", _tokenId=root, _operator=world.f1, _value=5_000)
    assert t.allowance(root, world.f1) == 5_000
    # the spender splits to itself or to another holder
    tx = t.splitTransfer(root, world.s3, 1_500, h32(3), {"from": world.f1})
    assert_event(tx, "ApprovalValue", _tokenId=root, _operator=world.f1, _value=3_500)
    assert t.ownerOf(tx.return_value) == world.s3
    tx = t.transferFrom["uint256,address,uint256"](root, world.f1, 3_000, {"from": world.f1})
    assert_event(tx, "ApprovalValue", _tokenId=root, _operator=world.f1, _value=500)
    assert t.allowance(root, world.f1) == 500
    with brownie.reverts(err("CertificateInsufficientAllowance", root, world.f1, 500, 501)):
        t.splitTransfer(root, world.s3, 501, h32(3), {"from": world.f1})
    t.splitTransfer(root, world.s3, 500, h32(3), {"from": world.f1})
    with brownie.reverts(err("CertificateNotOwnerNorApproved", root, world.f1)):
        t.splitTransfer(root, world.s3, 1, h32(3), {"from": world.f1})


def test_unlimited_value_approval_is_not_spent(world, held):
    t = world.token
    _, root, _ = held
    t.approve["uint256,address,uint256"](root, world.f1, MAX256, {"from": world.s1})
    tx = t.splitTransfer(root, world.s3, 1_000, h32(3), {"from": world.f1})
    assert "ApprovalValue" not in tx.events
    assert t.allowance(root, world.f1) == MAX256


def test_value_approval_reverts(world, held):
    t = world.token
    _, root, _ = held
    with brownie.reverts(err("CertificateApproveToOwner", root, world.s1)):
        t.approve["uint256,address,uint256"](root, world.s1, 1, {"from": world.s1})
    with brownie.reverts(err("CertificateNotOwnerNorApproved", root, world.s2)):
        t.approve["uint256,address,uint256"](root, world.s3, 1, {"from": world.s2})
    with brownie.reverts(err("CertificateUnknownHolding", 99)):
        t.approve["uint256,address,uint256"](99, world.s3, 1, {"from": world.s1})
    with brownie.reverts(err("CertificateZeroAddress")):  # as the EIP-3525 reference refuses it
        t.approve["uint256,address,uint256"](root, ZERO, 1, {"from": world.s1})
    # the holding's ERC-721 approvee may grant value allowances (EIP-3525), its own included
    t.approve["address,uint256"](world.f2, root, {"from": world.s1})
    tx = t.approve["uint256,address,uint256"](root, world.s3, 9, {"from": world.f2})
    assert_event(tx, "ApprovalValue", _tokenId=root, _operator=world.s3, _value=9)
    t.splitTransfer(root, world.f1, 9, h32(3), {"from": world.s3})
    # an operator approved for all may grant value allowances
    t.setApprovalForAll(world.s2, True, {"from": world.s1})
    tx = t.approve["uint256,address,uint256"](root, world.s3, 7, {"from": world.s2})
    assert_event(tx, "ApprovalValue", _tokenId=root, _operator=world.s3, _value=7)


def test_value_allowance_dies_with_an_erc721_transfer(world, held):
    t = world.token
    _, root, _ = held
    t.approve["uint256,address,uint256"](root, world.f1, 5_000, {"from": world.s1})
    t.transferFrom["address,address,uint256"](world.s1, world.s3, root, {"from": world.s1})
    assert t.allowance(root, world.f1) == 0
    with brownie.reverts(err("CertificateNotOwnerNorApproved", root, world.f1)):
        t.splitTransfer(root, world.f1, 1, h32(3), {"from": world.f1})


def test_value_allowance_does_not_revive_when_the_holding_comes_back(world, held):
    """Regression: allowances were keyed by owner, so A -> B -> A revived A's old allowances."""
    t = world.token
    xfer = t.transferFrom["address,address,uint256"]
    _, root, _ = held
    t.approve["uint256,address,uint256"](root, world.f1, 5_000, {"from": world.s1})
    xfer(world.s1, world.s3, root, {"from": world.s1})
    xfer(world.s3, world.s1, root, {"from": world.s3})
    assert t.ownerOf(root) == world.s1
    assert t.allowance(root, world.f1) == 0
    with brownie.reverts(err("CertificateNotOwnerNorApproved", root, world.f1)):
        t.splitTransfer(root, world.f1, 1, h32(3), {"from": world.f1})
    # a new allowance works as before
    t.approve["uint256,address,uint256"](root, world.f1, 10, {"from": world.s1})
    t.splitTransfer(root, world.f1, 10, h32(3), {"from": world.f1})
    assert t.allowance(root, world.f1) == 0


# --- ERC-3525 transfers ----------------------------------------------------------------------


def test_transfer_from_token_to_address(world, held):
    t = world.token
    cert, root, _ = held
    tx = t.transferFrom["uint256,address,uint256"](root, world.f2, 12_345, {"from": world.s1})
    new = tx.return_value
    assert_event(
        tx, "HoldingCreated", tokenId=new, certificateId=cert, parentTokenId=root, owner=world.f2,
        initialValue=12_345, tier=2, documentHash=h32(0),  # no hash in the standard call
    )
    assert_event(tx, "TransferValue", _fromTokenId=root, _toTokenId=new, _value=12_345)
    assert world.value(root) == 80_000 - 12_345


def test_value_merge(world, held):
    t = world.token
    cert, root, other = held
    tx = t.transferFrom["uint256,uint256,uint256"](root, other, 1_001, {"from": world.s1})
    assert [e.name for e in tx.events] == ["TransferValue"]
    assert_event(tx, "TransferValue", _fromTokenId=root, _toTokenId=other, _value=1_001)
    assert world.value(root) == 78_999
    assert world.value(other) == 21_001
    # the receiving holding keeps its owner, parent and tier
    assert tuple(t.holding(other)) == (cert, world.s2, 21_001, root, 2, False)
    # merging back, by an allowance holder
    t.approve["uint256,address,uint256"](other, world.f1, 1_001, {"from": world.s2})
    tx = t.transferFrom["uint256,uint256,uint256"](other, root, 1_001, {"from": world.f1})
    assert_event(tx, "ApprovalValue", _tokenId=other, _operator=world.f1, _value=0)
    assert world.value(root) == 80_000


def test_value_merge_between_own_holdings_keeps_tiers(world, held):
    """Merging value between two holdings of one owner creates no holding and changes no tier or
    parent, so it stays allowed (a holder may consolidate what it received)."""
    t = world.token
    cert, root, other = held
    mine = world.split(other, world.s1, 5_000)  # s2 -> s1: tier 3
    before = {x: tuple(t.holding(x)) for x in (root, mine)}
    tx = t.transferFrom["uint256,uint256,uint256"](root, mine, 1_000, {"from": world.s1})
    assert [e.name for e in tx.events] == ["TransferValue"]
    t.transferFrom["uint256,uint256,uint256"](mine, root, 6_000, {"from": world.s1})
    assert tuple(t.holding(root)) == before[root][:2] + (85_000,) + before[root][3:]
    assert tuple(t.holding(mine)) == (cert, world.s1, 0, other, 3, False)
    assert t.tokenCount() == mine


def test_value_merge_reverts(world, held):
    t = world.token
    merge = t.transferFrom["uint256,uint256,uint256"]
    cert, root, other = held
    cert2, root2 = world.issue(face=50)
    with brownie.reverts(err("CertificateSameToken", root)):
        merge(root, root, 1, {"from": world.s1})
    with brownie.reverts(err("CertificateUnknownHolding", 99)):
        merge(root, 99, 1, {"from": world.s1})
    with brownie.reverts(err("CertificateUnknownHolding", 99)):
        merge(99, root, 1, {"from": world.s1})
    with brownie.reverts(err("CertificateSlotMismatch", root, root2)):
        merge(root, root2, 1, {"from": world.s1})
    with brownie.reverts(err("CertificateNotOwnerNorApproved", root, world.s2)):
        merge(root, other, 1, {"from": world.s2})
    with brownie.reverts(err("CertificateZeroValue")):
        merge(root, other, 0, {"from": world.s1})
    with brownie.reverts(err("CertificateInsufficientValue", root, 80_000, 80_001)):
        merge(root, other, 80_001, {"from": world.s1})
    t.freeze(other, h32(1), {"from": world.op})
    with brownie.reverts(err("CertificateFrozen", other)):
        merge(root, other, 1, {"from": world.s1})
    t.unfreeze(other, h32(1), {"from": world.op})
    t.freeze(root, h32(1), {"from": world.op})
    with brownie.reverts(err("CertificateFrozen", root)):
        merge(root, other, 1, {"from": world.s1})
    t.unfreeze(root, h32(1), {"from": world.op})
    world.membership.setActive(world.s2, False, {"from": world.op})
    with brownie.reverts(err("MembershipInactive", world.s2)):
        merge(root, other, 1, {"from": world.s1})
    world.membership.setActive(world.s2, True, {"from": world.op})
    world.membership.pause({"from": world.op})
    with brownie.reverts(err("MembershipPaused")):
        merge(root, other, 1, {"from": world.s1})
    world.membership.unpause({"from": world.op})
    maturity = t.certificate(cert)[1]
    world.mature(cert)
    with brownie.reverts(err("CertificateMatured", cert, maturity)):
        merge(root, other, 1, {"from": world.s1})


# --- ERC-721 --------------------------------------------------------------------------------


def test_erc721_transfer_moves_the_whole_holding_one_tier_deeper(world, held):
    t = world.token
    cert, root, other = held
    tx = t.transferFrom["address,address,uint256"](world.s2, world.f1, other, {"from": world.s2})
    assert [e.name for e in tx.events] == ["Transfer", "HoldingTransferred"]
    assert_event(tx, "Transfer", **{"from": world.s2, "to": world.f1, "tokenId": other})
    assert_event(tx, "HoldingTransferred", tokenId=other, **{"from": world.s2, "to": world.f1, "tier": 3})
    assert tuple(t.holding(other)) == (cert, world.f1, 20_000, root, 3, False)
    assert t.balanceOf["address"](world.s2) == 0
    assert t.balanceOf["address"](world.f1) == 1
    # and again: tier 4
    tx = t.transferFrom["address,address,uint256"](world.f1, world.s3, other, {"from": world.f1})
    assert_event(tx, "HoldingTransferred", tokenId=other, tier=4)


@pytest.mark.parametrize("how", ["transferFrom", "safeTransferFrom", "safeTransferFrom(data)"])
def test_erc721_transfer_to_oneself_reverts(world, held, how):
    """Regression: three self-transfers took a holding from tier 2 to tier 5 without a hop."""
    t = world.token
    _, root, other = held
    calls = {
        "transferFrom": lambda who, sender: t.transferFrom["address,address,uint256"](who, who, other, sender),
        "safeTransferFrom": lambda who, sender: t.safeTransferFrom["address,address,uint256"](
            who, who, other, sender),
        "safeTransferFrom(data)": lambda who, sender: t.safeTransferFrom["address,address,uint256,bytes"](
            who, who, other, b"x", sender),
    }
    for _ in range(3):
        with brownie.reverts(err("CertificateSelfTransfer", other, world.s2)):
            calls[how](world.s2, {"from": world.s2})
    # nor by an approved operator
    t.setApprovalForAll(world.f1, True, {"from": world.s2})
    with brownie.reverts(err("CertificateSelfTransfer", other, world.s2)):
        calls[how](world.s2, {"from": world.f1})
    assert tuple(t.holding(other))[1:] == (world.s2, 20_000, root, 2, False)


def test_erc721_approvals(world, held):
    t = world.token
    _, root, other = held
    tx = t.approve["address,uint256"](world.f1, other, {"from": world.s2})
    assert_event(tx, "Approval", owner=world.s2, approved=world.f1, tokenId=other)
    assert t.getApproved(other) == world.f1
    # the approvee moves value without a value allowance, and nothing is spent
    tx = t.splitTransfer(other, world.s3, 100, h32(3), {"from": world.f1})
    assert "ApprovalValue" not in tx.events
    t.transferFrom["address,address,uint256"](world.s2, world.f1, other, {"from": world.f1})
    assert t.getApproved(other) == ZERO  # cleared by the transfer
    # approved for all
    tx = t.setApprovalForAll(world.f2, True, {"from": world.s1})
    assert_event(tx, "ApprovalForAll", owner=world.s1, operator=world.f2, approved=True)
    assert t.isApprovedForAll(world.s1, world.f2)
    t.approve["address,uint256"](world.s3, root, {"from": world.f2})  # an operator may approve
    assert t.getApproved(root) == world.s3
    t.transferFrom["address,address,uint256"](world.s1, world.f2, root, {"from": world.f2})
    assert t.ownerOf(root) == world.f2
    tx = t.setApprovalForAll(world.f2, False, {"from": world.s1})
    assert_event(tx, "ApprovalForAll", owner=world.s1, operator=world.f2, approved=False)
    # clearing an approval with the zero address
    t.approve["address,uint256"](world.s3, root, {"from": world.f2})
    t.approve["address,uint256"](ZERO, root, {"from": world.f2})
    assert t.getApproved(root) == ZERO


def test_erc721_approval_reverts(world, held):
    t = world.token
    _, root, _ = held
    with brownie.reverts(err("CertificateApproveToOwner", root, world.s1)):
        t.approve["address,uint256"](world.s1, root, {"from": world.s1})
    with brownie.reverts(err("CertificateNotOwnerNorApproved", root, world.s2)):
        t.approve["address,uint256"](world.s2, root, {"from": world.s2})
    with brownie.reverts(err("CertificateUnknownHolding", 99)):
        t.approve["address,uint256"](world.s2, 99, {"from": world.s1})
    with brownie.reverts(err("CertificateZeroAddress")):
        t.setApprovalForAll(ZERO, True, {"from": world.s1})
    with brownie.reverts(err("CertificateApproveToCaller", world.s1)):
        t.setApprovalForAll(world.s1, True, {"from": world.s1})
    with brownie.reverts(err("CertificateApproveToCaller", world.s1)):
        t.setApprovalForAll(world.s1, False, {"from": world.s1})


def test_erc721_transfer_reverts(world, held):
    t = world.token
    xfer = t.transferFrom["address,address,uint256"]
    cert, root, other = held
    with brownie.reverts(err("CertificateUnknownHolding", 99)):
        xfer(world.s1, world.s2, 99, {"from": world.s1})
    with brownie.reverts(err("CertificateWrongOwner", root, world.s2, world.s1)):
        xfer(world.s2, world.s3, root, {"from": world.s2})
    with brownie.reverts(err("CertificateNotOwnerNorApproved", root, world.s2)):
        xfer(world.s1, world.s3, root, {"from": world.s2})
    # a value allowance is no ERC-721 approval
    t.approve["uint256,address,uint256"](root, world.s2, MAX256, {"from": world.s1})
    with brownie.reverts(err("CertificateNotOwnerNorApproved", root, world.s2)):
        xfer(world.s1, world.s3, root, {"from": world.s2})
    with brownie.reverts(err("MembershipNotHolder", world.outsider, 0)):
        xfer(world.s1, world.outsider, root, {"from": world.s1})
    with brownie.reverts(err("MembershipNotHolder", ZERO, 0)):
        xfer(world.s1, ZERO, root, {"from": world.s1})
    with brownie.reverts(err("MembershipNotHolder", world.core, 1)):
        xfer(world.s1, world.core, root, {"from": world.s1})
    with brownie.reverts(err("MembershipInactive", world.suspended)):
        xfer(world.s1, world.suspended, root, {"from": world.s1})
    t.freeze(root, h32(1), {"from": world.op})
    with brownie.reverts(err("CertificateFrozen", root)):
        xfer(world.s1, world.s3, root, {"from": world.s1})
    t.unfreeze(root, h32(1), {"from": world.op})
    world.membership.pause({"from": world.op})
    with brownie.reverts(err("MembershipPaused")):
        xfer(world.s1, world.s3, root, {"from": world.s1})
    world.membership.unpause({"from": world.op})
    pcert, proot = world.issue(accept=False)
    with brownie.reverts(err("CertificateWrongStatus", pcert, 1)):
        xfer(world.s1, world.s3, proot, {"from": world.s1})
    maturity = t.certificate(cert)[1]
    world.mature(cert)
    with brownie.reverts(err("CertificateMatured", cert, maturity)):
        xfer(world.s1, world.s3, root, {"from": world.s1})


# --- approved spenders must be active members -------------------------------------------------

SPENDER_MOVES = {
    "splitTransfer": lambda t, h, who: t.splitTransfer(h, who["to"], 1, h32(3), who["tx"]),
    "transferFrom(id,to,value)": lambda t, h, who: t.transferFrom["uint256,address,uint256"](
        h, who["to"], 1, who["tx"]),
    "transferFrom(id,id,value)": lambda t, h, who: t.transferFrom["uint256,uint256,uint256"](
        h, who["into"], 1, who["tx"]),
    "transferFrom(from,to,id)": lambda t, h, who: t.transferFrom["address,address,uint256"](
        who["owner"], who["to"], h, who["tx"]),
    "safeTransferFrom(from,to,id)": lambda t, h, who: t.safeTransferFrom["address,address,uint256"](
        who["owner"], who["to"], h, who["tx"]),
}
APPROVALS = {
    "value allowance": lambda t, h, owner, spender: t.approve["uint256,address,uint256"](
        h, spender, 10, {"from": owner}),
    "token approval": lambda t, h, owner, spender: t.approve["address,uint256"](spender, h, {"from": owner}),
    "operator approval": lambda t, h, owner, spender: t.setApprovalForAll(spender, True, {"from": owner}),
}


# a value allowance is no ERC-721 approval (test_erc721_transfer_reverts)
SPENDER_CASES = [
    (move, approval) for move in SPENDER_MOVES for approval in APPROVALS
    if not (approval == "value allowance" and move.startswith(("transferFrom(from", "safe")))
]


@pytest.mark.parametrize(("move", "approval"), SPENDER_CASES)
def test_an_approved_spender_must_be_an_active_member(world, held, move, approval):
    """Regression: only owner and recipient were checked, so a suspended member could move a
    holding it had been approved for (an address never onboarded is refused the approval itself:
    test_approvals_go_only_to_roles_that_may_spend_holdings)."""
    t = world.token
    _, root, other = held
    args = {"owner": world.s1, "to": world.f2, "into": other}
    APPROVALS[approval](t, root, world.s1, world.s3)
    world.membership.setActive(world.s3, False, {"from": world.op})
    with brownie.reverts(err("MembershipInactive", world.s3)):
        SPENDER_MOVES[move](t, root, {**args, "tx": {"from": world.s3}})
    # reinstated, the same approval works again
    world.membership.setActive(world.s3, True, {"from": world.op})
    SPENDER_MOVES[move](t, root, {**args, "tx": {"from": world.s3}})


@pytest.mark.parametrize("approval", list(APPROVALS))
@pytest.mark.parametrize("party", ["auditor", "core", "outsider", "financing", "operator"])
def test_approvals_go_only_to_roles_that_may_spend_holdings(world, held, approval, party):
    """Trust: only suppliers and factors spend holdings. An auditor holds and moves nothing, a core
    enterprise never holds a holding, a system contract has no power over holdings beyond its
    wiring, the operator is no member: none of them is given an approval of any kind."""
    t = world.token
    _, root, _ = held
    who = getattr(world, {"operator": "op"}.get(party, party))
    expected = {
        "auditor": err("MembershipNotPermitted", who, AUDITOR, SPEND_HOLDINGS),
        "core": err("MembershipNotPermitted", who, CORE, SPEND_HOLDINGS),
        "outsider": err("MembershipUnknownMember", who),
        "financing": err("MembershipNotPermitted", who, 0, SPEND_HOLDINGS),
        "operator": err("MembershipUnknownMember", who),
    }[party]
    with brownie.reverts(expected):
        APPROVALS[approval](t, root, world.s1, who)
    assert t.allowance(root, who) == 0
    assert t.getApproved(root) == ZERO
    assert not t.isApprovedForAll(world.s1, who)
    # clearing never needs the right
    t.approve["uint256,address,uint256"](root, who, 0, {"from": world.s1})
    t.setApprovalForAll(who, False, {"from": world.s1})
    # nor can a holding's approvee pass a value allowance on to such a party
    t.approve["address,uint256"](world.f1, root, {"from": world.s1})
    with brownie.reverts(expected):
        t.approve["uint256,address,uint256"](root, who, 1, {"from": world.f1})


def test_a_suspended_member_may_be_approved_but_moves_nothing(world, held):
    """Granting checks the role only (approving moves nothing); using checks the status too."""
    t = world.token
    _, root, _ = held
    t.approve["uint256,address,uint256"](root, world.suspended, 100, {"from": world.s1})
    with brownie.reverts(err("MembershipInactive", world.suspended)):
        t.splitTransfer(root, world.s3, 100, h32(3), {"from": world.suspended})
    world.membership.pause({"from": world.op})
    t.approve["uint256,address,uint256"](root, world.f1, 100, {"from": world.s1})
    with brownie.reverts(err("MembershipPaused")):
        t.splitTransfer(root, world.s3, 100, h32(3), {"from": world.f1})


# --- receivers ------------------------------------------------------------------------------


@pytest.mark.parametrize("with_data", [False, True])
def test_safe_transfer_to_a_receiver_contract(world, held, receiver, with_data):
    t = world.token
    _, root, _ = held
    if with_data:
        t.safeTransferFrom["address,address,uint256,bytes"](world.s1, receiver, root, b"hi", {"from": world.s1})
    else:
        t.safeTransferFrom["address,address,uint256"](world.s1, receiver, root, {"from": world.s1})
    assert t.ownerOf(root) == receiver
    assert receiver.hookCalls() == 1
    assert receiver.lastOperator() == world.s1
    assert receiver.lastToTokenId() == root
    assert t.holding(root)[4] == 2


def test_safe_transfer_to_an_eoa_member(world, held):
    _, root, _ = held
    world.token.safeTransferFrom["address,address,uint256"](world.s1, world.s3, root, {"from": world.s1})
    assert world.token.ownerOf(root) == world.s3


def test_safe_transfer_refusals(world, held, receiver, plain):
    t = world.token
    safe = t.safeTransferFrom["address,address,uint256"]
    _, root, _ = held
    with brownie.reverts(err("ERC721InvalidReceiver", plain)):
        safe(world.s1, plain, root, {"from": world.s1})
    receiver.setBehaviour(True, ERC3525_RECEIVED, "0xdeadbeef", False, {"from": world.op})
    with brownie.reverts(err("ERC721InvalidReceiver", receiver)):
        safe(world.s1, receiver, root, {"from": world.s1})
    receiver.setBehaviour(True, ERC3525_RECEIVED, ERC721_RECEIVED, True, {"from": world.op})
    with brownie.reverts(err("ReceiverRefused")):
        safe(world.s1, receiver, root, {"from": world.s1})
    assert t.ownerOf(root) == world.s1
    # a plain transferFrom does not ask the receiver
    t.transferFrom["address,address,uint256"](world.s1, plain, root, {"from": world.s1})
    assert t.ownerOf(root) == plain


@pytest.mark.parametrize("how", ["splitTransfer", "transferToAddress", "merge"])
def test_erc3525_receiver_hook(world, held, receiver, how):
    t = world.token
    cert, root, _ = held
    if how == "merge":
        target = world.split(root, receiver, 1)
        t.transferFrom["uint256,uint256,uint256"](root, target, 250, {"from": world.s1})
        expected_to = target
        calls = 2
    else:
        if how == "splitTransfer":
            tx = t.splitTransfer(root, receiver, 250, h32(4), {"from": world.s1})
        else:
            tx = t.transferFrom["uint256,address,uint256"](root, receiver, 250, {"from": world.s1})
        expected_to = tx.return_value
        calls = 1
    assert receiver.hookCalls() == calls
    assert receiver.lastOperator() == world.s1
    assert receiver.lastFromTokenId() == root
    assert receiver.lastToTokenId() == expected_to
    assert receiver.lastValue() == 250


def test_erc3525_receiver_refusals(world, held, receiver, plain):
    t = world.token
    _, root, _ = held
    receiver.setBehaviour(True, "0x12345678", ERC721_RECEIVED, False, {"from": world.op})
    with brownie.reverts(err("CertificateReceiverRejected", receiver)):
        t.splitTransfer(root, receiver, 1, h32(3), {"from": world.s1})
    receiver.setBehaviour(True, ERC3525_RECEIVED, ERC721_RECEIVED, True, {"from": world.op})
    with brownie.reverts(err("ReceiverRefused")):
        t.splitTransfer(root, receiver, 1, h32(3), {"from": world.s1})
    assert world.value(root) == 80_000
    # a contract that does not declare the receiver interface is not called
    receiver.setBehaviour(False, "0x12345678", ERC721_RECEIVED, True, {"from": world.op})
    t.splitTransfer(root, receiver, 1, h32(3), {"from": world.s1})
    assert receiver.hookCalls() == 0
    # nor is one without ERC-165
    new = t.splitTransfer(root, plain, 1, h32(3), {"from": world.s1}).return_value
    assert t.ownerOf(new) == plain


def test_contract_member_acts_through_execute(world, held, receiver):
    """A contract member moves its own holdings (used by the reentrancy tests)."""
    t = world.token
    _, root, _ = held
    new = world.split(root, receiver, 500)
    data = t.splitTransfer.encode_input(new, world.s3, 200, h32(3))
    receiver.execute(t, data, {"from": world.op})
    assert world.value(new) == 300
    assert t.balanceOf["address"](world.s3) == 1
