"""issueWithInvoices: one invoice, one certificate (一票一证, no double financing). Each invoice's
backed value over the certificates that count never exceeds its amount; a rejection releases the
backing, a full settlement closes the invoice (its backing stays counted)."""

import unicodedata
from itertools import count

import brownie
from conftest import ACTIVE, CORE, DAY, PENDING, REJECTED, SETTLED, assert_event, events, h32
from errors import err
from eth_abi import encode
from eth_utils import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

K1, K2, K3 = h32(0xA1), h32(0xA2), h32(0xA3)


def invoice_key(seller_tax_id: str, invoice_code: str, invoice_number: str) -> bytes:
    """The documented canonical key: keccak256(abi.encode(string, string, string)) of the three
    fields normalised off chain (NFKC, trimmed, upper case)."""
    fields = [unicodedata.normalize("NFKC", f).strip().upper() for f in (seller_tax_id, invoice_code, invoice_number)]
    return keccak(encode(["string", "string", "string"], fields))


def issue(world, invoices, face=None, days=30, payee=None, debtor=None, accept=True):
    face = sum(b for _, _, b in invoices) if face is None else face
    tx = world.token.issueWithInvoices(
        payee or world.s1, face, world.now() + days * DAY, h32(1), invoices, {"from": debtor or world.core})
    cert, root = tx.return_value
    if accept:
        world.token.accept(cert, {"from": payee or world.s1})
    return tx, cert, root


def inv(world, key):
    amount, used, closed, certs = world.token.invoice(key)
    return amount, used, closed, list(certs)


def test_issue_with_invoices(world):
    t = world.token
    tx, cert, root = issue(world, [(K1, 60_000, 60_000), (K2, 100_000, 40_000)], accept=False)
    assert t.certificate(cert)[4] == 100_000 and t.certificate(cert)[2] == PENDING
    assert_event(tx, "CertificateIssued", certificateId=cert, faceValue=100_000)
    assert_event(tx, "InvoiceBacked", 0, key=K1, certificateId=cert, amount=60_000, backed=60_000, used=60_000)
    assert_event(tx, "InvoiceBacked", 1, key=K2, certificateId=cert, amount=100_000, backed=40_000, used=40_000)
    assert_event(tx, "HoldingCreated", tokenId=root, certificateId=cert, initialValue=100_000, tier=1)
    assert inv(world, K1) == (60_000, 60_000, False, [cert])
    assert inv(world, K2) == (100_000, 40_000, False, [cert])
    assert [tuple(b) for b in t.certificateInvoices(cert)] == [
        ("0x" + K1.hex(), 60_000, 60_000), ("0x" + K2.hex(), 100_000, 40_000)]
    assert inv(world, K3) == (0, 0, False, [])
    # the rest of K2 backs another certificate, of another debtor
    _, cert2, _ = issue(world, [(K2, 100_000, 60_000)], debtor=world.core2)
    assert inv(world, K2) == (100_000, 100_000, False, [cert, cert2])


def test_the_key_encoding_is_the_documented_one():
    assert invoice_key(" 91310000ma1fl8xq3b", "３100231130", "08123456 ") == keccak(
        encode(["string", "string", "string"], ["91310000MA1FL8XQ3B", "3100231130", "08123456"]))


def test_overuse_names_the_certificate_that_uses_it(world):
    _, cert, _ = issue(world, [(K1, 60_000, 50_000)])
    with brownie.reverts(err("CertificateInvoiceOverused", K1, cert, 60_000, 50_000, 10_001)):
        issue(world, [(K1, 60_000, 10_001)])
    issue(world, [(K1, 60_000, 10_000)])  # exactly the rest
    assert inv(world, K1)[1] == 60_000
    with brownie.reverts(err("CertificateInvoiceOverused", K1, cert + 1, 60_000, 60_000, 1)):
        issue(world, [(K1, 60_000, 1)])
    # beyond the amount on first use: no certificate uses it yet
    with brownie.reverts(err("CertificateInvoiceOverused", K2, 0, 100, 0, 101)):
        issue(world, [(K2, 100, 101)])


def test_refusals(world):
    _, cert, _ = issue(world, [(K1, 60_000, 50_000)])
    with brownie.reverts(err("CertificateInvoiceAmountMismatch", K1, 60_000, 70_000)):
        issue(world, [(K1, 70_000, 1)])
    for bad in [(h32(0), 1, 1), (K2, 0, 1), (K2, 1, 0)]:
        with brownie.reverts(err("CertificateInvalidInvoice", *bad)):
            issue(world, [bad], face=1)
    with brownie.reverts(err("CertificateDuplicateInvoice", K2)):
        issue(world, [(K2, 100, 10), (K2, 100, 10)])
    with brownie.reverts(err("CertificateInvoiceBackingMismatch", 100, 99)):
        issue(world, [(K2, 100, 99)], face=100)
    with brownie.reverts(err("CertificateTooManyInvoices", 0, 32)):
        issue(world, [], face=100)
    many = [(h32(1000 + i), 10, 1) for i in range(33)]
    with brownie.reverts(err("CertificateTooManyInvoices", 33, 32)):
        issue(world, many)
    issue(world, many[:32])  # 32 is the most
    # the checks of issue, through the same path
    with brownie.reverts(err("MembershipWrongRole", world.s1, CORE, 2)):
        issue(world, [(K2, 100, 10)], debtor=world.s1)
    with brownie.reverts(err("CertificateZeroValue")):
        issue(world, [(K2, 100, 10)], face=0)
    # nothing registered by the refusals
    assert inv(world, K2) == (0, 0, False, [])
    assert inv(world, K1) == (60_000, 50_000, False, [cert])


def test_reject_releases_the_backing(world):
    t = world.token
    _, c1, _ = issue(world, [(K1, 60_000, 20_000)])
    _, c2, _ = issue(world, [(K1, 60_000, 30_000), (K2, 10, 10)], accept=False)
    _, c3, _ = issue(world, [(K1, 60_000, 10_000)])
    assert inv(world, K1) == (60_000, 60_000, False, [c1, c2, c3])
    tx = t.reject(c2, {"from": world.s1})
    assert t.certificate(c2)[2] == REJECTED
    assert_event(tx, "InvoiceReleased", 0, key=K1, certificateId=c2, released=30_000, used=30_000)
    assert_event(tx, "InvoiceReleased", 1, key=K2, certificateId=c2, released=10, used=0)
    assert inv(world, K1) == (60_000, 30_000, False, [c1, c3])
    assert inv(world, K2) == (10, 0, False, [])  # the amount stays fixed
    _, c4, _ = issue(world, [(K1, 60_000, 30_000)])  # the released backing can back another
    assert inv(world, K1) == (60_000, 60_000, False, [c1, c3, c4])
    with brownie.reverts(err("CertificateInvoiceAmountMismatch", K2, 10, 11)):
        issue(world, [(K2, 11, 1)])


def test_full_settlement_closes_the_invoices(world):
    t, s = world.token, world.settlement
    _, c1, r1 = issue(world, [(K1, 60_000, 20_000), (K2, 5_000, 5_000)], days=10)
    _, c2, r2 = issue(world, [(K1, 60_000, 10_000)], days=20)
    s.repay(c1, 12_000, {"from": world.core})
    world.mature(c1)
    tx = s.redeem(r1, {"from": world.s1})
    assert "InvoiceClosed" not in tx.events and t.certificate(c1)[2] == ACTIVE  # partly paid
    s.repay(c1, 13_000, {"from": world.core})
    tx = s.redeem(r1, {"from": world.s1})
    assert t.certificate(c1)[2] == SETTLED
    assert [(e["key"], e["certificateId"]) for e in events(tx, "InvoiceClosed")] == [
        ("0x" + K1.hex(), c1), ("0x" + K2.hex(), c1)]
    assert inv(world, K1) == (60_000, 30_000, True, [c1, c2])  # backing stays counted
    with brownie.reverts(err("CertificateInvoiceClosed", K1, c1)):
        issue(world, [(K1, 60_000, 1)])
    # the other certificate on it settles too: the invoice stays closed by the first
    s.repay(c2, 10_000, {"from": world.core})
    world.mature(c2)
    tx = s.redeem(r2, {"from": world.s1})
    assert "InvoiceClosed" not in tx.events
    assert inv(world, K1) == (60_000, 30_000, True, [c1, c2])


def test_plain_issue_registers_nothing(world):
    cert, root = world.issue()
    assert list(world.token.certificateInvoices(cert)) == []
    world.settlement.repay(cert, 100_000, {"from": world.core})
    world.mature(cert)
    tx = world.settlement.redeem(root, {"from": world.s1})
    assert "InvoiceClosed" not in tx.events


_EXAMPLES = count(1)


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount=st.integers(1, 1_000), asks=st.lists(st.integers(1, 400), min_size=1, max_size=6))
def test_usage_never_exceeds_the_amount(world, amount, asks):
    """Whatever certificates ask of one invoice, its usage stays within its amount (a fresh
    invoice per example: the chain is not reverted between hypothesis examples)."""
    key = keccak(encode(["uint256"], [next(_EXAMPLES)]))
    used = 0
    for ask in asks:
        if used + ask <= amount:
            issue(world, [(key, amount, ask)], accept=False)
            used += ask
        else:
            with brownie.reverts():
                issue(world, [(key, amount, ask)], accept=False)
        assert inv(world, key)[1] == used <= amount
