"""The portal's pieces without a stack: exact money, form parsing, document hashes, language
choice, labels, charts, sessions, and the API client's error mapping."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal import charts, forms, i18n
from portal.client import Api
from portal.errors import PortalError
from portal.sessions import Sessions
from portal.settings import PortalSettings

MAX = 2**256 - 1
T = TypeVar("T")
TEMPLATES = Path(__file__).resolve().parents[2] / "portal" / "templates"


def test_money_formats_exactly_beyond_2_pow_53() -> None:
    assert forms.money(0) == "0.00"
    assert forms.money(5) == "0.05"
    assert forms.money(123456789) == "1,234,567.89"
    assert forms.money(2**53 + 1) == "90,071,992,547,409.93"  # a float would print ...409.92
    assert forms.money(-150) == "-1.50"
    assert forms.money(MAX).replace(",", "").replace(".", "") == str(MAX)
    assert forms.money(MAX).endswith(",296,399.35")


@settings(deadline=None)
@given(st.integers(min_value=1, max_value=MAX))
def test_amounts_round_trip_through_the_form(n: int) -> None:
    assert forms.parse_amount(forms.money(n)) == n
    assert forms.parse_amount(forms.money(n).replace(",", "")) == n


@pytest.mark.parametrize("text, value", [("1", 100), ("1.5", 150), ("1,000,000.00", 100_000_000), (" 12.34 ", 1234),
                                         ("0.01", 1)])
def test_parse_amount_examples(text: str, value: int) -> None:
    assert forms.parse_amount(text) == value


@pytest.mark.parametrize("text", ["", "0", "0.00", "1.234", "-5", "1e5", "1,23", "12,34.5", "１２", "1.", ".5",
                                  str(MAX), "NaN"])
def test_parse_amount_refuses_what_it_cannot_read_exactly(text: str) -> None:
    with pytest.raises(PortalError) as err:
        forms.parse_amount(text)
    assert err.value.code == "INVALID_INPUT" and err.value.status == 422


def test_rates_dates_ids_addresses() -> None:
    assert forms.parse_rate_bps("4.5") == 450 and forms.parse_rate_bps("4.50%") == 450
    assert forms.parse_rate_bps("0.01") == 1 and forms.parse_rate_bps("12") == 1200
    for bad in ("4.555", "-1", "abc", ""):
        with pytest.raises(PortalError):
            forms.parse_rate_bps(bad)
    ts = forms.parse_date("2026-03-31")
    assert datetime.fromtimestamp(ts, UTC) == datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC)
    assert forms.day(ts) == "2026-03-31"
    with pytest.raises(PortalError):
        forms.parse_date("31/03/2026")
    assert forms.parse_int("#42", "holding") == 42
    with pytest.raises(PortalError):
        forms.parse_int("4２", "holding")
    assert forms.parse_address(" 0x" + "aB" * 20 + " ") == "0x" + "aB" * 20
    with pytest.raises(PortalError):
        forms.parse_address("0x123")


def test_document_hash_is_the_files_sha256_else_the_references() -> None:
    data = b"%PDF invoice"
    assert forms.document_hash(data, "ignored") == "0x" + hashlib.sha256(data).hexdigest()
    assert forms.document_hash(None, " INV-1 ") == "0x" + hashlib.sha256(b"INV-1").hexdigest()
    assert forms.document_hash(None, "发票 001") == "0x" + hashlib.sha256("发票 001".encode()).hexdigest()
    with pytest.raises(PortalError):
        forms.document_hash(None, "  ")


@pytest.mark.parametrize("cookie, header, expected", [
    ("en", "zh-CN", "en"),
    (None, "en-US,en;q=0.9", "en"),
    (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh"),
    (None, "fr-FR", "zh"),
    (None, None, "zh"),
    (None, "fr, en;q=0.5, zh;q=0.8", "zh"),
    (None, "fr, zh;q=0.5, en;q=0.8", "en"),
    ("xx", "de", "zh"),
])
def test_language_choice(cookie: str | None, header: str | None, expected: str) -> None:
    assert i18n.pick(cookie, header, "zh") == expected


def test_every_label_a_template_uses_exists_in_both_languages() -> None:
    used = set()
    for f in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"\bt\('([a-z_]+)'", f.read_text()))
    dynamic = {k for k in used if k.endswith("_")}  # prefixes: role_, state_, hstatus_
    missing = sorted(k for k in used - dynamic if k not in i18n.LABELS)
    assert missing == []
    states = ["queued", "submitted", "mined", "confirmed", "failed", "pending", "active", "rejected", "overdue",
              "settled", "open", "accepted", "cancelled"]
    roles = ["operator", "core_enterprise", "supplier", "factor", "auditor", "clearing_agent"]
    for key in [f"state_{s}" for s in states] + [f"role_{r}" for r in roles]:
        assert key in i18n.LABELS, key
    for zh, en in i18n.LABELS.values():
        assert zh and en


def test_bars_are_proportional_in_integers_and_escape_labels() -> None:
    svg = str(charts.bars([("<a>", 2**200), ("b", 2**199), ("c", 0)], "t"))
    widths = [int(w) for w in re.findall(r'<rect x="118" y="\d+" width="(\d+)"', svg)]
    assert widths == [charts.WIDTH, charts.WIDTH // 2, 0]
    assert "&lt;a&gt;" in svg and "<a>" not in svg
    assert "<rect" not in str(charts.bars([], "empty"))


def test_sessions_expire_and_csrf_tokens_are_bound_to_the_session() -> None:
    s = Sessions(b"k" * 32, idle_s=60)
    a, b = s.create("key-a", "supplier", "0x1"), s.create("key-b", "factor", "0x2")
    assert s.get(a.sid) is a and s.get("nope") is None
    assert s.csrf_ok(a, s.csrf(a)) and not s.csrf_ok(a, s.csrf(b)) and not s.csrf_ok(a, "")
    assert "key-a" not in repr(a)  # never in a log line by accident
    gone = Sessions(b"k" * 32, idle_s=-1)
    c = gone.create("key", "supplier", None)
    assert gone.get(c.sid) is None


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run in its own thread (Playwright's sync API may hold this thread's event loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _api(handler: httpx.MockTransport) -> Api:
    return Api(PortalSettings(gateway_url="http://gw", auditor_url="http://aud"), transport=handler)


def test_client_keeps_the_apis_error_shape_and_maps_the_auditor_apis() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["X-API-Key"] == "k"
        if request.url.host == "gw":
            return httpx.Response(422, json={"code": "CONTRACT_REVERT", "message": "would revert",
                                             "details": {"error": "X", "args": {"a": 1}}})
        return httpx.Response(404, json={"detail": "certificate 9 not indexed"})

    async def run() -> tuple[PortalError, PortalError]:
        api = _api(httpx.MockTransport(handler))
        errors = []
        for call in (api.write("k", "/x", {"v": 2**255}, idem="i"), api.audit("k", "/v1/certificates/9/lineage")):
            with pytest.raises(PortalError) as err:
                await call
            errors.append(err.value)
        await api.close()
        return errors[0], errors[1]

    gw, aud = run_async(run())
    assert (gw.code, gw.message, gw.details, gw.status) == ("CONTRACT_REVERT", "would revert",
                                                          {"error": "X", "args": {"a": 1}}, 422)
    assert (aud.code, aud.message, aud.status) == ("NOT_FOUND", "certificate 9 not indexed", 404)


def test_client_sends_big_amounts_exactly_and_the_idempotency_key() -> None:
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["body"], seen["idem"] = request.content, request.headers.get("Idempotency-Key")
        return httpx.Response(202, json={"id": "op", "state": "queued"})

    async def run() -> None:
        api = _api(httpx.MockTransport(handler))
        await api.write("k", "/holdings/1/split-transfer", {"value": 2**255 + 1}, idem="abc")
        await api.close()

    run_async(run())
    assert str(2**255 + 1).encode() in seen["body"] and seen["idem"] == "portal-abc"


def test_client_reports_an_unreachable_service() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    async def run() -> PortalError:
        api = _api(httpx.MockTransport(handler))
        with pytest.raises(PortalError) as err:
            await api.get("k", "/me")
        await api.close()
        return err.value

    err = run_async(run())
    assert (err.code, err.status) == ("SERVICE_UNAVAILABLE", 503)


def _portal_with(handler: Any) -> Any:
    from fastapi.testclient import TestClient

    from portal.app import create_app

    settings = PortalSettings(gateway_url="http://gw", auditor_url="http://aud")
    app = create_app(settings)
    app.state.api = Api(settings, transport=httpx.MockTransport(handler))
    return TestClient(app, base_url="http://portal")


def test_login_falls_back_to_the_auditor_api_and_shows_the_gateways_reason() -> None:
    def gateway_down(request: httpx.Request) -> httpx.Response:
        if request.url.host == "gw":
            raise httpx.ConnectError("refused")
        return httpx.Response(200, json={"buckets": []})

    with _portal_with(gateway_down) as client:
        r = client.post("/login", data={"api_key": "aud-key"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/audit"
        assert r.cookies.get("scf_portal") and "aud-key" not in r.headers["set-cookie"]

    def pending(request: httpx.Request) -> httpx.Response:
        if request.url.host == "gw":
            return httpx.Response(401, json={"code": "UNAUTHENTICATED", "message": "onboarding not confirmed yet",
                                             "details": {"operation_id": "op-1"}})
        return httpx.Response(403, json={"detail": "unknown auditor API key"})

    with _portal_with(pending) as client:
        r = client.post("/login", data={"api_key": "new-key"}, headers={"Accept-Language": "en"})
        assert r.status_code == 401 and "onboarding not confirmed yet" in r.text and "op-1" in r.text
        assert "new-key" not in r.text


def test_deadlines_accounts_and_the_as_of_choice() -> None:
    from portal.views.auditor import _as_of

    assert forms.parse_moment("2026-03-31T14:30") == int(datetime(2026, 3, 31, 14, 30, tzinfo=UTC).timestamp())
    assert forms.parse_moment("2026-03-31") == forms.parse_date("2026-03-31")  # a bare date: end of that day
    for bad in ("2026-03-31T25:00", "2026-03-31T14:30+08:00", "tomorrow"):
        with pytest.raises(PortalError):
            forms.parse_moment(bad)
    a, b = "0x" + "ab" * 20, "0x" + "CD" * 20
    assert forms.parse_accounts("") == []
    assert forms.parse_accounts(f" {a},\n{b}; {a.upper().replace('0X', '0x')} ") == [a, b]
    with pytest.raises(PortalError):
        forms.parse_accounts(f"{a}, 0x12")
    with pytest.raises(PortalError):
        forms.parse_accounts(" ".join(f"0x{i:040x}" for i in range(101)))
    assert _as_of("", "") == {}
    assert _as_of("2026-12-31T23:59", "") == {"as_of": "2026-12-31T23:59"}
    assert _as_of("2026-12-31", " 42 ") == {"as_of_block": "42"}  # the block wins: the API takes one
    with pytest.raises(PortalError):
        _as_of("", "block 7")


def test_best_quote_and_takeable_programmes() -> None:
    from portal.views.market import best_quote, takeable

    quotes = [{"quote_id": 1, "price": 990, "status": "open"}, {"quote_id": 2, "price": 995, "status": "withdrawn"},
              {"quote_id": 3, "price": 992, "status": "open"}, {"quote_id": 4, "price": 992, "status": "open"}]
    assert best_quote(quotes) == 3  # the highest price; on a tie the earlier quote
    assert best_quote([q for q in quotes if q["status"] != "open"]) is None
    debtor, other = "0x" + "aa" * 20, "0x" + "bb" * 20
    holdings = [{"token_id": 1, "frozen": False, "cert": {"debtor": debtor.upper().replace("0X", "0x"),
                                                          "status": "active"}},
                {"token_id": 2, "frozen": True, "cert": {"debtor": debtor, "status": "active"}},
                {"token_id": 3, "frozen": False, "cert": {"debtor": debtor, "status": "pending"}},
                {"token_id": 4, "frozen": False, "cert": {"debtor": other, "status": "active"}}]
    programmes = [{"programme_id": 1, "debtor": debtor, "open": True, "remaining": 5},
                  {"programme_id": 2, "debtor": debtor, "open": False, "remaining": 5},
                  {"programme_id": 3, "debtor": debtor, "open": True, "remaining": 0}]
    out = takeable(programmes, holdings)
    assert [p["programme_id"] for p in out] == [1]
    assert [h["token_id"] for h in out[0]["holdings"]] == [1]


def test_error_hints_by_contract_error_then_code() -> None:
    err = {"code": "CONFLICT", "message": "x", "details": {"error": "SettlementBudgetExceeded"}}
    assert i18n.hint("en", err) == "More than the programme has left."
    assert i18n.hint("zh", err) == "超过计划剩余额度。"
    assert i18n.hint("en", {"code": "FORBIDDEN", "details": {}}).startswith("Not yours")
    assert i18n.hint("en", {"code": "CONFLICT", "details": {"error": "SomethingElse"}}) == ""
    assert i18n.hint("en", {"code": "INVALID_INPUT", "details": {"field": "x"}}) == ""
    for zh, en in i18n.HINTS.values():
        assert zh and en


def _row(**kw: str) -> dict[str, str]:
    base = {"seller_tax_id": "91310000MA1FL8XQ30", "invoice_code": "3100261130", "invoice_number": "00072841",
            "amount": "300,000.00", "issue_date": "2026-11-30", "backed": ""}
    return {**base, **kw}


def test_invoice_rows_become_the_gateways_invoices() -> None:
    blank = dict.fromkeys(forms.INVOICE_FIELDS, " ")
    assert forms.parse_invoices([_row(), blank], required=True) == [
        {"seller_tax_id": "91310000MA1FL8XQ30", "invoice_code": "3100261130", "invoice_number": "00072841",
         "amount": 30_000_000, "issue_date": "2026-11-30"}]
    two = forms.parse_invoices([_row(), _row(invoice_number="00072842", invoice_code="", backed="100,000")], True)
    assert two is not None and two[1] == {"seller_tax_id": "91310000MA1FL8XQ30", "invoice_code": "",
                                          "invoice_number": "00072842", "amount": 30_000_000,
                                          "issue_date": "2026-11-30", "backed": 10_000_000}
    # none typed: a plain issue where invoices are optional, refused where they are required
    assert forms.parse_invoices([blank, blank], required=False) is None
    assert forms.parse_invoices([], required=False) is None
    with pytest.raises(PortalError) as exc:
        forms.parse_invoices([blank, blank], required=True)
    assert exc.value.details == {"field": "invoices"}


@pytest.mark.parametrize(("row", "field"), [
    (_row(seller_tax_id=""), "invoice 1.seller_tax_id"),
    (_row(invoice_number=" "), "invoice 1.invoice_number"),
    (_row(amount="1.234"), "invoice 1.amount"),
    (_row(amount=""), "invoice 1.amount"),
    (_row(issue_date="30/11/2026"), "invoice 1.issue_date"),
    (_row(backed="0"), "invoice 1.backed"),
])
def test_invoice_rows_refused_before_any_call(row: dict[str, str], field: str) -> None:
    with pytest.raises(PortalError) as exc:
        forms.parse_invoices([row], required=False)
    assert exc.value.code == "INVALID_INPUT" and exc.value.details["field"] == field


def test_invoice_refusals_have_hints_in_both_languages() -> None:
    used = {"code": "INVOICE_ALREADY_USED", "details": {"error": "CertificateInvoiceOverused", "certificate_id": 7}}
    assert "another certificate" in i18n.hint("en", used) and "重复" in i18n.hint("zh", used)
    assert i18n.hint("en", {"code": "INVALID_TAX_ID", "details": {"errors": []}}).startswith("The seller's tax id")


def test_abnormal_split_thresholds_and_each_reports_parameters() -> None:
    from portal.views.auditor import params, thresholds

    assert thresholds() == {}
    assert thresholds("0", "1,000.50", " 60 ", "2") == {"max_splits": 0, "min_value": 100_050, "max_seconds": 60,
                                                        "min_hops": 2}
    for bad in (("-1", "", "", ""), ("", "1.234", "", ""), ("", "", "1h", "")):
        with pytest.raises(PortalError):
            thresholds(*bad)
    f = {"date_from": "2026-01-01", "date_to": "", "member": "0xab", "as_of_block": "7"}
    assert params("abnormal-splits", f, {"min_hops": 2}) == {
        "date_from": "2026-01-01", "date_to": "", "as_of_block": "7", "member": "0xab", "min_hops": 2, "limit": 1000}
    assert params("rates-factor", f, {"min_hops": 2})["by"] == "factor"
    assert params("rates-factor", f, {})["limit"] == 1000
    assert "limit" not in params("concentration", f, {})  # its top N, not paged
    assert "member" not in params("invoices", f, {}) and "min_hops" not in params("invoices", f, {"min_hops": 2})
    assert params("certificates", f, {}) == {"date_from": "2026-01-01", "date_to": "", "as_of_block": "7",
                                               "debtor": "0xab", "limit": 200}


def test_the_auditors_report_values_have_labels_in_both_languages() -> None:
    """The dashboard labels the values the auditor API answers (`t('inv_' ~ state)` and the like)."""
    from indexer import reports

    keys = [f"inv_{s}" for s in reports.INVOICE_STATES] + [f"finding_{f}" for f in reports.FINDINGS]
    keys += ["kind_open_offer", "kind_quote_request", "rates_by_tier", "rates_by_factor", "state_expired",
             "state_recourse_unpaid", "state_recourse_settled"] + [f"reg_{d}" for d in reports.REGULATOR_COLUMNS]
    for key in keys:
        assert key in i18n.LABELS, key
