"""Reentrancy, tested: a malicious member contract re-enters the platform from its receive hooks.

The hook of `ReentrantReceiver` fires inside the token's split (ERC-3525 `onERC3525Received`),
including the delivery leg of `Financing.acceptOffer`, and inside ERC-721 safe transfers. Settlement
never calls out to holders (the currency has no hooks), so the only way into `redeem` /
`settleBatch` from a hook is from a transfer, which happens before maturity by construction.
"""

import brownie
import pytest
from conftest import CURRENCY, FACTOR, OFFER_ACCEPTED, OFFER_OPEN, SUPPLIER, h32
from errors import encode_error, err


@pytest.fixture(scope="module")
def evil(world, ReentrantReceiver):
    """A malicious factor contract with currency to pay."""
    r = ReentrantReceiver.deploy({"from": world.op})
    world.membership.onboard(r, FACTOR, h32(600), {"from": world.op})
    world.currency.mint(r, CURRENCY, {"from": world.clearing})
    return r


@pytest.fixture(scope="module")
def evil_supplier(world, ReentrantReceiver):
    r = ReentrantReceiver.deploy({"from": world.op})
    world.membership.onboard(r, SUPPLIER, h32(601), {"from": world.op})
    return r


def total_value(world, tokens):
    return sum(world.value(t) for t in tokens)


def last_revert(receiver):
    return bytes(receiver.lastReturn())


@pytest.mark.parametrize("same_offer", [True, False])
def test_accept_offer_reentered_from_the_delivery_hook_is_refused(world, evil, same_offer):
    f, c = world.financing, world.currency
    cert, root = world.issue(face=100_000)
    oid1 = world.offer(root, 10_000, factor=evil)
    oid2 = world.offer(root, 20_000, factor=evil)
    price1 = f.offer(oid1)[4]
    evil.arm(f, f.acceptOffer.encode_input(oid1 if same_offer else oid2), False, {"from": world.op})
    tx = evil.execute(f, f.acceptOffer.encode_input(oid1), {"from": world.op})
    assert evil.hookCalls() == 1
    assert evil.lastSuccess() is False
    assert last_revert(evil) == encode_error("ReentrancyGuardReentrantCall")
    # exactly one deal happened
    assert len(tx.events["OfferAccepted"]) == 1
    assert f.offer(oid1)[8] == OFFER_ACCEPTED
    assert f.offer(oid2)[8] == OFFER_OPEN
    assert world.value(root) == 90_000
    assert c.balanceOf(evil) == CURRENCY - price1
    assert c.balanceOf(world.s1) == price1
    assert world.token.tokenCount() == 2


def test_accept_offer_reentry_bubbling_reverts_everything(world, evil):
    f, c = world.financing, world.currency
    cert, root = world.issue(face=100_000)
    oid1 = world.offer(root, 10_000, factor=evil)
    oid2 = world.offer(root, 20_000, factor=evil)
    evil.arm(f, f.acceptOffer.encode_input(oid2), True, {"from": world.op})
    with brownie.reverts(err("ReentrancyGuardReentrantCall")):
        evil.execute(f, f.acceptOffer.encode_input(oid1), {"from": world.op})
    assert f.offer(oid1)[8] == OFFER_OPEN
    assert f.offer(oid2)[8] == OFFER_OPEN
    assert world.value(root) == 100_000
    assert c.balanceOf(evil) == CURRENCY
    assert world.token.tokenCount() == 1


@pytest.mark.parametrize("target", ["redeem", "settleBatch"])
def test_settlement_reentered_from_the_delivery_hook_is_refused(world, chain, evil, target):
    f, s = world.financing, world.settlement
    cert, root = world.issue(face=100_000)
    s.repay(cert, 100_000, {"from": world.core})  # cash is there: only the rules stop a payout
    oid = world.offer(root, 10_000, factor=evil)
    new_token = root + 1  # the holding the hook is told about
    payload = s.redeem.encode_input(new_token) if target == "redeem" else s.settleBatch.encode_input([root])
    evil.arm(s, payload, False, {"from": world.op})
    tx = evil.execute(f, f.acceptOffer.encode_input(oid), {"from": world.op})
    assert evil.lastToTokenId() == new_token
    assert evil.lastSuccess() is False
    if target == "redeem":
        maturity = world.token.certificate(cert)[1]
        expected = encode_error("SettlementNotMatured", cert, maturity, tx.timestamp)
    else:
        expected = encode_error("SettlementNotDebtor", cert, evil, world.core)
    assert last_revert(evil) == expected
    assert tuple(s.account(cert)) == (100_000, 0)
    assert world.currency.balanceOf(s) == 100_000
    assert total_value(world, [root, new_token]) == 100_000


def test_redemption_calls_no_hook(world, evil):
    """Settlement pays a contract holder without calling it back: there is nothing to re-enter."""
    s = world.settlement
    cert, root = world.issue(face=1_000, days=10)
    new = world.split(root, evil, 400)
    calls = evil.hookCalls()
    s.repay(cert, 1_000, {"from": world.core})
    world.mature(cert)
    evil.arm(s, s.redeem.encode_input(new), True, {"from": world.op})
    evil.execute(s, s.redeem.encode_input(new), {"from": world.op})
    s.settleBatch([root], {"from": world.core})
    assert evil.hookCalls() == calls
    assert evil.armed() is True  # never triggered
    assert world.currency.balanceOf(evil) == CURRENCY + 400


def test_split_reentered_sees_the_updated_balance(world, evil_supplier):
    """The hook runs after every state write: a reentrant split cannot spend the value twice."""
    t = world.token
    cert, root = world.issue(face=1_000)
    t.setApprovalForAll(evil_supplier, True, {"from": world.s1})
    evil_supplier.arm(t, t.splitTransfer.encode_input(root, evil_supplier, 600, h32(3)), False, {"from": world.op})
    tx = t.splitTransfer(root, evil_supplier, 600, h32(3), {"from": world.s1})
    assert evil_supplier.lastSuccess() is False
    assert last_revert(evil_supplier) == encode_error("CertificateInsufficientValue", root, 400, 600)
    assert world.value(root) == 400
    assert world.value(tx.return_value) == 600
    assert t.tokenCount() == 2


def test_split_reentered_within_balance_conserves_value(world, evil_supplier):
    t = world.token
    cert, root = world.issue(face=1_000)
    t.setApprovalForAll(evil_supplier, True, {"from": world.s1})
    evil_supplier.arm(t, t.splitTransfer.encode_input(root, evil_supplier, 400, h32(3)), True, {"from": world.op})
    tx = t.splitTransfer(root, evil_supplier, 600, h32(3), {"from": world.s1})
    assert evil_supplier.lastSuccess() is True
    tokens = range(1, t.tokenCount() + 1)
    assert total_value(world, tokens) == 1_000
    assert world.value(root) == 0
    assert tx.events["TransferValue"][0]["_value"] + tx.events["TransferValue"][1]["_value"] == 1_000


def test_merge_back_from_the_hook_conserves_value(world, evil_supplier):
    t = world.token
    cert, root = world.issue(face=1_000)
    new = root + 1
    merge = t.transferFrom["uint256,uint256,uint256"]
    evil_supplier.arm(t, merge.encode_input(new, root, 250), True, {"from": world.op})
    t.splitTransfer(root, evil_supplier, 250, h32(3), {"from": world.s1})
    assert evil_supplier.lastSuccess() is True
    assert world.value(root) == 1_000
    assert world.value(new) == 0
    assert t.ownerOf(new) == evil_supplier


def test_the_bought_holding_moved_on_in_the_hook_still_pays_the_seller(world, evil, evil_supplier):
    """A factor passing its new holding on during delivery still pays the full price, atomically."""
    f, t, c = world.financing, world.token, world.currency
    cert, root = world.issue(face=10_000)
    oid = world.offer(root, 4_000, factor=evil)
    price = f.offer(oid)[4]
    new = root + 1
    evil.arm(t, t.splitTransfer.encode_input(new, evil_supplier, 4_000, h32(3)), True, {"from": world.op})
    evil.execute(f, f.acceptOffer.encode_input(oid), {"from": world.op})
    assert c.balanceOf(world.s1) == price
    assert c.balanceOf(evil) == CURRENCY - price
    assert total_value(world, range(1, t.tokenCount() + 1)) == 10_000
    assert world.value(new + 1) == 4_000
    assert t.ownerOf(new + 1) == evil_supplier


def test_paying_fails_after_the_hook_spent_the_factor_money(world, evil):
    """If the hook leaves the factor unable to pay, the delivery is undone too."""
    f, c = world.financing, world.currency
    cert, root = world.issue(face=10_000)
    oid = world.offer(root, 4_000, factor=evil)
    price = f.offer(oid)[4]
    evil.arm(c, c.transfer.encode_input(world.f2, CURRENCY), True, {"from": world.op})
    with brownie.reverts(err("ERC20InsufficientBalance", evil, 0, price)):
        evil.execute(f, f.acceptOffer.encode_input(oid), {"from": world.op})
    assert world.value(root) == 10_000
    assert c.balanceOf(evil) == CURRENCY
    assert f.offer(oid)[8] == OFFER_OPEN


def test_safe_transfer_reentry(world, evil_supplier):
    """An ERC-721 safe transfer's hook sending the holding straight back: tiers count both hops."""
    t = world.token
    cert, root = world.issue(face=1_000)
    xfer = t.transferFrom["address,address,uint256"]
    evil_supplier.arm(t, xfer.encode_input(evil_supplier, world.s1, root), True, {"from": world.op})
    tx = t.safeTransferFrom["address,address,uint256"](world.s1, evil_supplier, root, {"from": world.s1})
    assert t.ownerOf(root) == world.s1
    assert [e["tier"] for e in tx.events["HoldingTransferred"]] == [2, 3]
    assert world.value(root) == 1_000
