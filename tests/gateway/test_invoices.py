"""Issuing with invoices (issueWithInvoices) through the API on a chain of the module's own: the
canonical key, invoices used up / closed / listed twice refused as named 409s naming the
certificate, bad fields 422 before simulating, the operator's switch that requires invoices."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from gateway.conftest import OPERATOR_API_KEY, Api, rpc
from gateway.test_api import chain_nonce, confirmed, h32
from scf_core.invoices import invoice_key

TAX_ID = "91310000MA1FL8XQ30"
DAY = 86400


def invoice(number: str, amount: int, backed: int | None = None, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"seller_tax_id": TAX_ID, "invoice_code": "3100231130", "invoice_number": number,
                           "amount": amount, "issue_date": "2026-11-02", **fields}
    if backed is not None:
        out["backed"] = backed
    return out


def issue_body(api: Api, payee: str, invoices: list[dict[str, Any]] | None, face: int | None = None,
               days: int = 30) -> dict[str, Any]:
    if face is None:
        face = sum(i.get("backed", i["amount"]) for i in invoices or [])
    body: dict[str, Any] = {"payee": payee, "face_value": face, "maturity": api.now() + days * DAY,
                            "document_hash": h32()}
    if invoices is not None:
        body["invoices"] = invoices
    return body


@pytest.fixture(scope="module")
def parties(own_api: Api) -> dict[str, tuple[str, str]]:
    return {"core": own_api.onboard("core_enterprise", credit=10**12), "sup": own_api.onboard("supplier"),
            "sup2": own_api.onboard("supplier")}


def test_issue_with_invoices_and_reuse_refused(own_api: Api, parties: dict[str, tuple[str, str]]) -> None:
    api = own_api
    core, core_key = parties["core"]
    sup, _ = parties["sup"]
    invoices = [invoice("00000001", 60_000), invoice("00000002", 100_000, 40_000)]
    first = confirmed(api.post("/v1/certificates", core_key, issue_body(api, sup, invoices)))
    cert = first["result"]["certificate_id"]
    assert first["kind"] == "certificates.issue"  # one kind, so one policy (dual control) covers both ways
    key1 = "0x" + invoice_key(TAX_ID, "3100231130", "00000001").hex()
    assert first["args"]["invoices"][0]["key"] == key1
    c = api.get(f"/v1/certificates/{cert}", core_key).json()
    assert c["face_value"] == 100_000
    key2 = "0x" + invoice_key(TAX_ID, "3100231130", "00000002").hex()
    assert c["invoices"] == [{"key": key1, "amount": 60_000, "backed": 60_000},
                             {"key": key2, "amount": 100_000, "backed": 40_000}]

    # the same invoice typed otherwise (lower case, full width, spaces) is the same invoice: refused
    # before anything is signed, naming the certificate that uses it
    before = chain_nonce(api, core)
    again = invoice(" ００００００01 ", 60_000, seller_tax_id=TAX_ID.lower() + " ")
    r = api.post("/v1/certificates", core_key, issue_body(api, sup, [again]))
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["code"] == "INVOICE_ALREADY_USED" and body["details"]["certificate_id"] == cert
    assert f"certificate {cert}" in body["message"] and "00000001" in body["message"]
    assert body["details"]["invoice"] == {"index": 0, "key": key1, "seller_tax_id": TAX_ID,
                                          "invoice_code": "3100231130", "invoice_number": "00000001"}
    assert body["details"]["error"] == "CertificateInvoiceOverused"
    assert chain_nonce(api, core) == before

    # the second invoice has 60_000 left: another certificate backs exactly that, then nothing more
    confirmed(api.post("/v1/certificates", core_key, issue_body(api, sup, [invoice("00000002", 100_000, 60_000)])))
    r = api.post("/v1/certificates", core_key, issue_body(api, sup, [invoice("00000002", 100_000, 1)]))
    assert r.status_code == 409 and r.json()["code"] == "INVOICE_ALREADY_USED"
    # its amount is fixed at the first registration
    r = api.post("/v1/certificates", core_key, issue_body(api, sup, [invoice("00000002", 90_000, 1)]))
    assert r.status_code == 409 and r.json()["code"] == "INVOICE_AMOUNT_MISMATCH"
    # the same invoice twice in one request
    r = api.post("/v1/certificates", core_key,
                 issue_body(api, sup, [invoice("00000003", 10), invoice("0000 0003".replace(" ", ""), 10)]))
    assert r.status_code == 409 and r.json()["code"] == "INVOICE_DUPLICATE"
    assert r.json()["details"]["invoice"]["invoice_number"] == "00000003"
    assert chain_nonce(api, core) == before + 1


def test_rejection_releases_the_invoice(own_api: Api, parties: dict[str, tuple[str, str]]) -> None:
    api = own_api
    _, core_key = parties["core"]
    sup, sup_key = parties["sup"]
    cert = confirmed(api.post("/v1/certificates", core_key,
                              issue_body(api, sup, [invoice("00000010", 5_000)])))["result"]["certificate_id"]
    confirmed(api.post(f"/v1/certificates/{cert}/reject", sup_key))
    confirmed(api.post("/v1/certificates", core_key, issue_body(api, sup, [invoice("00000010", 5_000)])))


@pytest.mark.parametrize(("change", "code"), [
    ({"seller_tax_id": "91310000MA1FL8XQ3"}, "INVALID_TAX_ID"),  # 17 characters
    ({"seller_tax_id": "91310000MA1FL8XQ3O"}, "INVALID_TAX_ID"),  # O is not in the code's alphabet
    ({"invoice_number": ""}, "INVALID_INVOICE_NUMBER"),
    ({"invoice_number": "12-34"}, "INVALID_INVOICE_NUMBER"),
    ({"invoice_code": "3100/2311"}, "INVALID_INVOICE_CODE"),
    ({"amount": 0}, "ZERO_AMOUNT"),
    ({"amount": "100"}, "VALIDATION_ERROR"),  # JSON integers only
    ({"issue_date": "2026-13-01"}, "VALIDATION_ERROR"),
    ({"backed": 0}, "ZERO_AMOUNT"),
    ({"backed": 101}, "INVOICE_OVERBACKED"),
])
def test_bad_invoice_fields_are_422(own_api: Api, parties: dict[str, tuple[str, str]], change: dict[str, Any],
                                    code: str) -> None:
    api = own_api
    core, core_key = parties["core"]
    sup, _ = parties["sup"]
    before = chain_nonce(api, core)
    r = api.post("/v1/certificates", core_key, issue_body(api, sup, [{**invoice("00000020", 100), **change}], face=100))
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code, r.json()
    if code.startswith("INVALID_"):  # the message names the field and shows its normalised value
        assert "after normalisation: '" in r.json()["details"]["errors"][0]["msg"]
    assert chain_nonce(api, core) == before


def test_bad_invoice_lists_are_422(own_api: Api, parties: dict[str, tuple[str, str]]) -> None:
    api = own_api
    _, core_key = parties["core"]
    sup, _ = parties["sup"]
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).date().isoformat()
    cases = [
        (issue_body(api, sup, [invoice("00000030", 100, issue_date=future)]), "INVOICE_DATE_IN_FUTURE"),
        (issue_body(api, sup, [invoice("00000030", 100)], face=99), "INVOICE_BACKING_MISMATCH"),
        (issue_body(api, sup, []), "VALIDATION_ERROR"),
        (issue_body(api, sup, [invoice(f"{n:08d}", 1) for n in range(33)]), "VALIDATION_ERROR"),
    ]
    for body, code in cases:
        r = api.post("/v1/certificates", core_key, body)
        assert r.status_code == 422 and r.json()["code"] == code, r.text


def test_operator_requires_invoices(own_api: Api, parties: dict[str, tuple[str, str]]) -> None:
    api = own_api
    _, core_key = parties["core"]
    sup, _ = parties["sup"]
    r = api.put("/v1/system/invoices-required", core_key, {"required": True})
    assert r.status_code == 403
    r = api.put("/v1/system/invoices-required", OPERATOR_API_KEY, {"required": "yes"})
    assert r.status_code == 422
    confirmed(api.put("/v1/system/invoices-required", OPERATOR_API_KEY, {"required": True}))
    try:
        assert api.get("/v1/system/info", core_key).json()["invoices_required"] is True
        r = api.post("/v1/certificates", core_key, issue_body(api, sup, None, face=1_000))
        assert r.status_code == 409 and r.json()["code"] == "INVOICES_REQUIRED", r.text
        confirmed(api.post("/v1/certificates", core_key, issue_body(api, sup, [invoice("00000040", 1_000)])))
    finally:
        confirmed(api.put("/v1/system/invoices-required", OPERATOR_API_KEY, {"required": False}))
    assert api.get("/v1/system/info", core_key).json()["invoices_required"] is False
    plain = confirmed(api.post("/v1/certificates", core_key, issue_body(api, sup, None, face=1_000)))
    assert plain["kind"] == "certificates.issue"
    assert api.get(f"/v1/certificates/{plain['result']['certificate_id']}", core_key).json()["invoices"] == []


def test_settled_certificate_closes_its_invoice(own_api: Api, parties: dict[str, tuple[str, str]]) -> None:
    """Last: it moves the chain's clock."""
    api = own_api
    core, core_key = parties["core"]
    sup, sup_key = parties["sup"]
    confirmed(api.post("/v1/currency/mint", api.clearing_key, {"to": core, "amount": 1_000}))
    res = confirmed(api.post("/v1/certificates", core_key,
                             issue_body(api, sup, [invoice("00000050", 2_000, 1_000)], days=10)))["result"]
    cert = res["certificate_id"]
    confirmed(api.post(f"/v1/certificates/{cert}/accept", sup_key))
    confirmed(api.post("/v1/settlement/repay", core_key, {"certificate_id": cert, "amount": 1_000}))
    rpc(api.chain.url, "evm_increaseTime", 11 * DAY)
    rpc(api.chain.url, "evm_mine")
    confirmed(api.post("/v1/settlement/redeem", sup_key, {"token_id": res["token_id"]}))
    assert api.get(f"/v1/certificates/{cert}", sup_key).json()["status"] == "settled"
    r = api.post("/v1/certificates", core_key, issue_body(api, sup, [invoice("00000050", 2_000, 1_000)]))
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "INVOICE_CLOSED" and r.json()["details"]["certificate_id"] == cert
    assert f"certificate {cert}" in r.json()["message"]
