import brownie
from errors import err


def test_issue_and_split(system, accounts, chain):
    membership, currency, token, financing, settlement = system
    op, core, s1, s2 = accounts[0], accounts[1], accounts[2], accounts[3]
    membership.onboard(core, 1, b"\x01" * 32, {"from": op})
    membership.onboard(s1, 2, b"\x02" * 32, {"from": op})
    membership.onboard(s2, 2, b"\x03" * 32, {"from": op})
    membership.setCreditLimit(core, 1_000_000, {"from": op})
    tx = token.issue(s1, 100_000, chain.time() + 86400 * 90, b"\x09" * 32, {"from": core})
    cert_id, token_id = tx.return_value
    token.accept(cert_id, {"from": s1})
    tx = token.splitTransfer(token_id, s2, 40_000, b"\x0a" * 32, {"from": s1})
    print("split gas", tx.gas_used)
    assert token.balanceOf["uint256"](token_id) == 60_000
    with brownie.reverts(err("CertificateInsufficientValue", token_id, 60_000, 70_000)):
        token.splitTransfer(token_id, s2, 70_000, b"\x0b" * 32, {"from": s1})
