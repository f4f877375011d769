import pytest


@pytest.fixture(scope="module")
def operator(accounts):
    return accounts[0]


@pytest.fixture(scope="module")
def system(operator, Membership, SettlementToken, CertificateToken, Financing, Settlement):
    membership = Membership.deploy(operator, {"from": operator})
    currency = SettlementToken.deploy("Settlement Deposit CNY", "DCNY", membership, {"from": operator})
    token = CertificateToken.deploy(membership, "Receivable Certificate", "RCERT", {"from": operator})
    financing = Financing.deploy(membership, token, currency, {"from": operator})
    settlement = Settlement.deploy(membership, token, currency, {"from": operator})
    token.setSystemContracts(financing, settlement, {"from": operator})
    for c in (token, financing, settlement):
        membership.setSystemContract(c, True, {"from": operator})
    return membership, currency, token, financing, settlement


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    pass
