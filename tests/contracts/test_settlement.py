"""Settlement: repayment, redemption, batch settlement, overdue, and exact pro-rata payouts."""

import brownie
import pytest
from conftest import (
    ACTIVE,
    CORE,
    CREDIT,
    CURRENCY,
    DAY,
    OVERDUE,
    PENDING,
    SETTLED,
    SUPPLIER,
    ZERO,
    assert_event,
    events,
    h32,
    next_timestamp,
)
from errors import err


@pytest.fixture
def split_cert(world):
    """A 100,000 certificate (90 days): s1 60,000 (root), s2 25,000, f1 15,000."""
    cert, root = world.issue(face=100_000, days=90)
    t2 = world.split(root, world.s2, 25_000)
    t3 = world.split(root, world.f1, 15_000)
    return cert, {root: world.s1, t2: world.s2, t3: world.f1}


def test_repay(world, split_cert):
    s, c = world.settlement, world.currency
    cert, _ = split_cert
    tx = s.repay(cert, 40_000, {"from": world.core})  # before maturity: allowed
    assert_event(tx, "Repaid", certificateId=cert, debtor=world.core, amount=40_000, totalRepaid=40_000)
    assert_event(tx, "CreditLineChanged", debtor=world.core, limit=CREDIT, used=60_000)
    assert_event(tx, "Transfer", **{"from": world.core, "to": s, "value": 40_000})
    assert tuple(s.account(cert)) == (40_000, 0)
    assert c.balanceOf(s) == 40_000
    assert c.balanceOf(world.core) == CURRENCY - 40_000
    tx = s.repay(cert, 60_000, {"from": world.core})
    assert_event(tx, "Repaid", certificateId=cert, debtor=world.core, amount=60_000, totalRepaid=100_000)
    assert world.membership.availableCredit(world.core) == CREDIT


def test_repay_reverts(world, split_cert):
    s = world.settlement
    cert, _ = split_cert
    with brownie.reverts(err("MembershipWrongRole", world.s1, CORE, SUPPLIER)):
        s.repay(cert, 1, {"from": world.s1})
    with brownie.reverts(err("MembershipWrongRole", world.op, CORE, 0)):
        s.repay(cert, 1, {"from": world.op})
    with brownie.reverts(err("SettlementNotDebtor", cert, world.core2, world.core)):
        s.repay(cert, 1, {"from": world.core2})
    with brownie.reverts(err("CertificateUnknownCertificate", 99)):
        s.repay(99, 1, {"from": world.core})
    pcert, _ = world.issue(accept=False)
    with brownie.reverts(err("SettlementWrongStatus", pcert, PENDING)):
        s.repay(pcert, 1, {"from": world.core})
    with brownie.reverts(err("SettlementZeroAmount")):
        s.repay(cert, 0, {"from": world.core})
    with brownie.reverts(err("SettlementOverpayment", cert, 100_000, 100_001)):
        s.repay(cert, 100_001, {"from": world.core})
    s.repay(cert, 99_000, {"from": world.core})
    with brownie.reverts(err("SettlementOverpayment", cert, 1_000, 1_001)):
        s.repay(cert, 1_001, {"from": world.core})
    world.currency.burn(world.core, world.currency.balanceOf(world.core) - 10, {"from": world.clearing})
    with brownie.reverts(err("ERC20InsufficientBalance", world.core, 10, 11)):
        s.repay(cert, 11, {"from": world.core})
    s.repay(cert, 10, {"from": world.core})
    world.currency.mint(world.core, 10_000, {"from": world.clearing})
    s.repay(cert, 990, {"from": world.core})
    with brownie.reverts(err("SettlementFullyRepaid", cert)):
        s.repay(cert, 1, {"from": world.core})
    world.membership.setActive(world.core, False, {"from": world.op})
    with brownie.reverts(err("MembershipInactive", world.core)):
        s.repay(cert, 1, {"from": world.core})
    world.membership.setActive(world.core, True, {"from": world.op})
    world.membership.pause({"from": world.op})
    with brownie.reverts(err("MembershipPaused")):
        s.repay(cert, 1, {"from": world.core})


def test_redeem_in_full(world, split_cert):
    s, t, c = world.settlement, world.token, world.currency
    cert, holders = split_cert
    s.repay(cert, 100_000, {"from": world.core})
    world.mature(cert)
    total = 0
    for i, (token, holder) in enumerate(holders.items()):
        value = world.value(token)
        assert s.redeemable(token) == value
        tx = s.redeem(token, {"from": holder})
        assert tx.return_value == value
        total += value
        assert_event(tx, "Redeemed", certificateId=cert, tokenId=token, holder=holder, amount=value,
                     totalRedeemed=total)
        assert_event(tx, "TransferValue", _fromTokenId=token, _toTokenId=0, _value=value)
        assert_event(tx, "Transfer", 0, **{"from": holder, "to": ZERO, "tokenId": token})
        assert_event(tx, "SlotChanged", _tokenId=token, _oldSlot=cert, _newSlot=0)
        assert c.balanceOf(holder) == value + (CURRENCY if holder == world.f1 else 0)
        assert s.paid(token) == value
        with brownie.reverts(err("CertificateUnknownHolding", token)):
            t.holding(token)
        last = i == len(holders) - 1
        status = events(tx, "CertificateStatusChanged")
        assert status == ([{"certificateId": cert, "status": SETTLED}] if last else [])
    assert tuple(t.certificate(cert))[2] == SETTLED
    assert t.certificate(cert)[5] == 100_000
    assert tuple(s.account(cert)) == (100_000, 100_000)
    assert c.balanceOf(s) == 0


def test_redeem_reverts(world, chain, web3, split_cert):
    s = world.settlement
    cert, holders = split_cert
    root, t2, t3 = holders
    maturity = world.token.certificate(cert)[1]
    with brownie.reverts(err("CertificateUnknownHolding", 99)):
        s.redeem(99, {"from": world.s1})
    with brownie.reverts(err("SettlementNotHolder", root, world.s2, world.s1)):
        s.redeem(root, {"from": world.s2})
    ts = next_timestamp(chain, web3)
    with brownie.reverts(err("SettlementNotMatured", cert, maturity, ts)):
        s.redeem(root, {"from": world.s1})
    world.mature(cert)
    with brownie.reverts(err("SettlementNothingToRedeem", root)):
        s.redeem(root, {"from": world.s1})
    s.repay(cert, 100_000, {"from": world.core})
    world.token.freeze(root, h32(1), {"from": world.op})
    with brownie.reverts(err("CertificateFrozen", root)):
        s.redeem(root, {"from": world.s1})
    world.token.unfreeze(root, h32(1), {"from": world.op})
    world.membership.setActive(world.s1, False, {"from": world.op})
    with brownie.reverts(err("MembershipInactive", world.s1)):
        s.redeem(root, {"from": world.s1})
    world.membership.setActive(world.s1, True, {"from": world.op})
    world.membership.pause({"from": world.op})
    with brownie.reverts(err("MembershipPaused")):
        s.redeem(root, {"from": world.s1})
    world.membership.unpause({"from": world.op})
    s.redeem(root, {"from": world.s1})
    pcert, proot = world.issue(accept=False)
    world.mature(pcert)
    with brownie.reverts(err("SettlementWrongStatus", pcert, PENDING)):
        s.redeem(proot, {"from": world.s1})


def test_redeem_not_matured_even_when_fully_repaid(world, chain, web3, split_cert):
    cert, holders = split_cert
    root = next(iter(holders))
    world.settlement.repay(cert, 100_000, {"from": world.core})
    assert world.settlement.redeemable(root) == 60_000
    ts = next_timestamp(chain, web3)
    with brownie.reverts(err("SettlementNotMatured", cert, world.token.certificate(cert)[1], ts)):
        world.settlement.redeem(root, {"from": world.s1})


@pytest.mark.parametrize("caller", ["core", "op"])
def test_settle_batch(world, split_cert, caller):
    s, c = world.settlement, world.currency
    cert, holders = split_cert
    s.repay(cert, 100_000, {"from": world.core})
    world.mature(cert)
    tx = s.settleBatch(list(holders), {"from": getattr(world, caller)})
    assert tx.return_value == 100_000
    redeemed = events(tx, "Redeemed")
    assert [(e["tokenId"], e["holder"], e["amount"]) for e in redeemed] == [
        (token, holder, v) for (token, holder), v in zip(holders.items(), (60_000, 25_000, 15_000), strict=True)
    ]
    assert [e["totalRedeemed"] for e in redeemed] == [60_000, 85_000, 100_000]
    assert_event(tx, "CertificateStatusChanged", certificateId=cert, status=SETTLED)
    assert c.balanceOf(world.s2) == 25_000
    assert c.balanceOf(s) == 0


def test_settle_batch_partial_and_many_certificates(world):
    s = world.settlement
    certs = [world.issue(face=1_000 + i, days=30) for i in range(3)]
    for cert, _ in certs:
        s.repay(cert, 500, {"from": world.core})
    world.mature(certs[-1][0])
    tx = s.settleBatch([tok for _, tok in certs], {"from": world.core})
    assert tx.return_value == sum((1_000 + i) * 500 // (1_000 + i) for i in range(3))
    assert tx.return_value == 1_500
    assert s.settleBatch([], {"from": world.outsider}).return_value == 0


def test_settle_batch_reverts(world, split_cert):
    s = world.settlement
    cert, holders = split_cert
    root, t2, t3 = holders
    other, otok = world.issue(debtor=world.core2, face=10, days=90)
    s.repay(cert, 50_000, {"from": world.core})
    s.repay(other, 10, {"from": world.core2})
    world.mature(cert)
    with brownie.reverts(err("SettlementNothingToRedeem", t2)):  # already paid its share
        s.settleBatch([t2, root, t2], {"from": world.core})
    s.repay(cert, 50_000, {"from": world.core})
    for who in (world.s1, world.core2, world.auditor, world.outsider):
        with brownie.reverts(err("SettlementNotDebtor", cert, who, world.core)):
            s.settleBatch([root], {"from": who})
    # all or nothing: one holding of another debtor, a frozen one, or a repeated one
    with brownie.reverts(err("SettlementNotDebtor", other, world.core, world.core2)):
        s.settleBatch([root, otok], {"from": world.core})
    world.token.freeze(t3, h32(1), {"from": world.op})
    with brownie.reverts(err("CertificateFrozen", t3)):
        s.settleBatch([root, t2, t3], {"from": world.core})
    world.token.unfreeze(t3, h32(1), {"from": world.op})
    with brownie.reverts(err("CertificateUnknownHolding", t2)):  # burned by its first redemption
        s.settleBatch([t2, root, t2], {"from": world.core})
    assert world.value(root) == 60_000
    assert world.currency.balanceOf(world.s1) == 0
    with brownie.reverts(err("CertificateUnknownHolding", 99)):
        s.settleBatch([99], {"from": world.op})
    world.mature(other)
    s.settleBatch([root, otok], {"from": world.op})  # the operator settles across debtors


def test_mark_overdue(world, chain, web3, split_cert):
    s = world.settlement
    cert, holders = split_cert
    root = next(iter(holders))
    maturity = world.token.certificate(cert)[1]
    assert s.gracePeriod() == 30 * DAY
    overdue_at = maturity + 30 * DAY
    world.mature(cert)
    ts = next_timestamp(chain, web3)
    with brownie.reverts(err("SettlementNotOverdueYet", cert, overdue_at, ts)):
        s.markOverdue(cert, {"from": world.outsider})
    world.warp(overdue_at - 1)
    assert next_timestamp(chain, web3) == overdue_at  # the last second of grace
    with brownie.reverts(err("SettlementNotOverdueYet", cert, overdue_at, overdue_at)):
        s.markOverdue(cert, {"from": world.outsider})
    next_timestamp(chain, web3)
    s.repay(cert, 30_000, {"from": world.core})  # partial repayment does not prevent overdue
    tx = s.markOverdue(cert, {"from": world.outsider})  # anyone may call
    assert_event(tx, "CertificateStatusChanged", certificateId=cert, status=OVERDUE)
    assert world.token.certificate(cert)[2] == OVERDUE
    with brownie.reverts(err("SettlementWrongStatus", cert, OVERDUE)):
        s.markOverdue(cert, {"from": world.outsider})
    # an overdue certificate is still repaid and redeemed; it settles in the end
    assert s.redeem(root, {"from": world.s1}).return_value == 18_000
    s.repay(cert, 70_000, {"from": world.core})
    tx = s.settleBatch(list(holders), {"from": world.core})
    assert tx.return_value == 82_000
    assert_event(tx, "CertificateStatusChanged", certificateId=cert, status=SETTLED)
    with brownie.reverts(err("SettlementWrongStatus", cert, SETTLED)):
        s.markOverdue(cert, {"from": world.outsider})
    with brownie.reverts(err("SettlementWrongStatus", cert, SETTLED)):
        s.repay(cert, 1, {"from": world.core})


def test_mark_overdue_reverts(world, split_cert):
    s = world.settlement
    cert, _ = split_cert
    with brownie.reverts(err("CertificateUnknownCertificate", 99)):
        s.markOverdue(99, {"from": world.op})
    pcert, _ = world.issue(accept=False)
    with brownie.reverts(err("SettlementWrongStatus", pcert, PENDING)):
        s.markOverdue(pcert, {"from": world.op})
    s.repay(cert, 100_000, {"from": world.core})
    world.mature(cert, extra=31 * DAY)
    with brownie.reverts(err("SettlementFullyRepaid", cert)):
        s.markOverdue(cert, {"from": world.op})
    assert world.token.certificate(cert)[2] == ACTIVE


def test_set_grace_period(world, split_cert):
    s = world.settlement
    cert, _ = split_cert
    tx = s.setGracePeriod(0, {"from": world.op})
    assert_event(tx, "GracePeriodSet", gracePeriodSeconds=0)
    assert s.gracePeriod() == 0
    world.mature(cert, extra=1)
    s.markOverdue(cert, {"from": world.outsider})
    for who in (world.core, world.s1, world.auditor, world.outsider):
        with brownie.reverts(err("SettlementUnauthorized", who)):
            s.setGracePeriod(1, {"from": who})
    # at most a year: maturity + grace never nears overflow (it could, unbounded)
    assert s.MAX_GRACE_PERIOD() == 365 * DAY
    s.setGracePeriod(365 * DAY, {"from": world.op})
    for seconds in (365 * DAY + 1, 2**256 - 1):
        with brownie.reverts(err("SettlementInvalidGracePeriod", seconds, 365 * DAY)):
            s.setGracePeriod(seconds, {"from": world.op})
    assert s.gracePeriod() == 365 * DAY


# --- pro rata ---------------------------------------------------------------------------------


def test_partial_repayment_is_pro_rata_whatever_the_order(world):
    """Regression: the first redeemer must not drain a partial repayment by redeeming again."""
    s = world.settlement
    cert, a = world.issue(face=100, days=10)
    b = world.split(a, world.s2, 50)
    s.repay(cert, 50, {"from": world.core})
    world.mature(cert)
    assert s.redeem(a, {"from": world.s1}).return_value == 25
    assert s.redeemable(a) == 0
    with brownie.reverts(err("SettlementNothingToRedeem", a)):
        s.redeem(a, {"from": world.s1})
    assert s.redeemable(b) == 25
    assert s.redeem(b, {"from": world.s2}).return_value == 25
    s.repay(cert, 50, {"from": world.core})
    assert s.redeemable(a) == 25
    assert s.redeemable(b) == 25


def test_pro_rata_many_holders_odd_values(world):
    """Partial repayments in several steps, redemptions by many holders in between, odd values:
    every holder gets floor(u x repaid / face) at each point, and exactly its value in the end."""
    s, t, c = world.settlement, world.token, world.currency
    face = 1_000_003
    cert, root = world.issue(face=face, days=60)
    holders = [world.s1, world.s2, world.s3, world.f1, world.f2]
    cuts = [(root, world.s2, 333_333), (root, world.s3, 77_777), (root, world.f1, 1), (root, world.f2, 99_991)]
    tokens = {root: world.s1}
    for src, to, v in cuts:
        tokens[world.split(src, to, v)] = to
    # a tier-3 holding and a second holding of the same supplier
    t2 = list(tokens)[1]
    tokens[world.split(t2, world.s3, 11_111)] = world.s3
    tokens[world.split(t2, world.f1, 7)] = world.f1
    at_maturity = {tok: world.value(tok) for tok in tokens}
    assert sum(at_maturity.values()) == face
    start = {h: c.balanceOf(h) for h in holders}
    world.mature(cert)

    steps = [333_331, 1, 250_000, 17, 416_654]
    assert sum(steps) == face
    paid = dict.fromkeys(tokens, 0)
    repaid = 0
    order = list(tokens)
    for n, amount in enumerate(steps):
        s.repay(cert, amount, {"from": world.core})
        repaid += amount
        # a different subset redeems after each step, in a different order
        order = order[1:] + order[:1]
        for tok in order[: 2 + n % 4]:
            due = at_maturity[tok] * repaid // face - paid[tok]
            assert s.redeemable(tok) == due
            if due == 0:
                with brownie.reverts(err("SettlementNothingToRedeem", tok)):
                    s.redeem(tok, {"from": tokens[tok]})
                continue
            assert s.redeem(tok, {"from": tokens[tok]}).return_value == due
            paid[tok] += due
            assert s.paid(tok) == paid[tok]
        assert sum(paid.values()) <= repaid
        assert c.balanceOf(s) == repaid - sum(paid.values())
        # conservation: live value + redeemed = face
        live = sum(world.value(tok) for tok in tokens if paid[tok] < at_maturity[tok])
        assert live + t.certificate(cert)[5] == face
    # everyone left collects the rest in one batch
    rest = [tok for tok in tokens if paid[tok] < at_maturity[tok]]
    tx = s.settleBatch(rest, {"from": world.core})
    for e in events(tx, "Redeemed"):
        paid[e["tokenId"]] += e["amount"]
    assert paid == at_maturity
    got = {h: c.balanceOf(h) - start[h] for h in holders}
    for h in holders:
        assert got[h] == sum(v for tok, v in at_maturity.items() if tokens[tok] == h)
    assert sum(got.values()) == face
    assert c.balanceOf(s) == 0
    assert t.certificate(cert)[2] == SETTLED
    assert world.membership.availableCredit(world.core) == CREDIT
