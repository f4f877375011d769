"""setInvoicesRequired: the operator's switch that refuses plain issue (default false; true in
production once the gateway sends invoices)."""

import brownie
from conftest import DAY, assert_event, h32
from errors import err


def test_default_is_off_and_plain_issue_works(world):
    assert world.token.invoicesRequired() is False
    cert, _ = world.issue()
    assert world.token.certificate(cert)[4] == 100_000


def test_switch_on_refuses_plain_issue_only(world):
    t = world.token
    tx = t.setInvoicesRequired(True, {"from": world.op})
    assert_event(tx, "InvoicesRequiredSet", required=True)
    assert t.invoicesRequired() is True
    with brownie.reverts(err("CertificateInvoicesRequired")):
        t.issue(world.s1, 100, world.now() + DAY, h32(1), {"from": world.core})
    tx = t.issueWithInvoices(world.s1, 100, world.now() + DAY, h32(1), [(h32(5), 100, 100)], {"from": world.core})
    assert tx.return_value[0] == t.certificateCount()
    tx = t.setInvoicesRequired(False, {"from": world.op})
    assert_event(tx, "InvoicesRequiredSet", required=False)
    t.issue(world.s1, 100, world.now() + DAY, h32(1), {"from": world.core})


def test_only_the_operator(world):
    with brownie.reverts(err("CertificateUnauthorized", world.core)):
        world.token.setInvoicesRequired(True, {"from": world.core})
