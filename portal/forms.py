"""Form values to API values and back: money in exact integer minor units (2 decimals, no float,
any size), rates in basis points, dates, document hashes."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime

from portal.errors import invalid

_AMOUNT = re.compile(r"([0-9]{1,3}(,[0-9]{3})+|[0-9]+)(\.[0-9]{1,2})?")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
UINT256 = 2**256 - 1


def money(minor: int | str | None) -> str:
    """123456789 -> '1,234,567.89' (exact for any integer)."""
    if minor is None or minor == "":
        return ""
    n = int(minor)
    sign, n = ("-", -n) if n < 0 else ("", n)
    units, cents = divmod(n, 100)
    return f"{sign}{units:,}.{cents:02d}"


def parse_amount(text: str, field: str = "amount") -> int:
    """'1,234.5' -> 123450 minor units. Digits with optional thousands commas and up to 2 decimals;
    refuses signs, exponents and more decimals (never rounds)."""
    s = (text or "").strip().replace(" ", "")
    if not _AMOUNT.fullmatch(s):
        raise invalid(f"{field}: not an amount with at most 2 decimals", field=field, value=text)
    units, _, cents = s.replace(",", "").partition(".")
    value = int(units) * 100 + int((cents + "00")[:2])
    if value == 0 or value > UINT256:
        raise invalid(f"{field}: must be above 0", field=field, value=text)
    return value


def parse_rate_bps(text: str) -> int:
    """An annual rate in percent with up to 2 decimals ('4.5') -> basis points (450)."""
    s = (text or "").strip().rstrip("%").strip()
    if not re.fullmatch(r"[0-9]{1,4}(\.[0-9]{1,2})?", s):
        raise invalid("rate: a percentage with at most 2 decimals", field="rate", value=text)
    whole, _, frac = s.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


def parse_address(text: str, field: str = "account") -> str:
    s = (text or "").strip()
    if not _ADDRESS.fullmatch(s):
        raise invalid(f"{field}: an account is 0x followed by 40 hex digits", field=field, value=text)
    return s


def parse_int(text: str, field: str) -> int:
    s = (text or "").strip().lstrip("#")
    if not re.fullmatch(r"[0-9]{1,78}", s) or int(s) > UINT256:
        raise invalid(f"{field}: a whole number", field=field, value=text)
    return int(s)


def parse_date(text: str, field: str = "date") -> int:
    """'2026-03-31' -> unix seconds of the end of that day (23:59:59 UTC)."""
    try:
        d = date.fromisoformat((text or "").strip())
    except ValueError as exc:
        raise invalid(f"{field}: a date YYYY-MM-DD", field=field, value=text) from exc
    return int(datetime(d.year, d.month, d.day, 23, 59, 59, tzinfo=UTC).timestamp())


def parse_moment(text: str, field: str = "deadline") -> int:
    """'2026-03-31T14:30' (a datetime-local field, UTC) -> unix seconds; a bare date is the end of that day."""
    s = (text or "").strip()
    if "T" not in s:
        return parse_date(s, field)
    try:
        moment_ = datetime.fromisoformat(s)
    except ValueError as exc:
        raise invalid(f"{field}: a date and time YYYY-MM-DDTHH:MM (UTC)", field=field, value=text) from exc
    if moment_.tzinfo is not None:
        raise invalid(f"{field}: a date and time without a zone (UTC)", field=field, value=text)
    return int(moment_.replace(tzinfo=UTC).timestamp())


def parse_accounts(text: str, field: str = "factors") -> list[str]:
    """Accounts separated by commas, spaces or lines; empty -> [] (everyone); duplicates kept once."""
    out: list[str] = []
    for part in re.split(r"[\s,;]+", text or ""):
        if part and part.lower() not in (a.lower() for a in out):
            out.append(parse_address(part, field))
    if len(out) > 100:
        raise invalid(f"{field}: at most 100 accounts", field=field, count=len(out))
    return out


def day(ts: int | str | None) -> str:
    if ts is None or ts == "":
        return ""
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%d")


def moment(ts: int | str | None) -> str:
    if ts is None or ts == "":
        return ""
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%d %H:%M UTC")


def when(iso: str | None) -> str:
    """An API timestamp (ISO 8601, UTC) as shown on the pages."""
    if not iso:
        return ""
    t = datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def document_hash(content: bytes | None, reference: str, field: str = "document") -> str:
    """sha256 of the uploaded file, else of the typed reference (UTF-8): the trade documents stay
    off chain, their hash goes on chain."""
    if content:
        return "0x" + hashlib.sha256(content).hexdigest()
    ref = (reference or "").strip()
    if not ref:
        raise invalid(f"{field}: upload the trade document or type its reference", field=field)
    return "0x" + hashlib.sha256(ref.encode()).hexdigest()


def text_hash(text: str, field: str) -> str:
    """A typed reference (KYC file, court order) -> its sha256."""
    return document_hash(None, text, field)


INVOICE_FIELDS = ("seller_tax_id", "invoice_code", "invoice_number", "amount", "issue_date", "backed")


def parse_invoices(rows: list[dict[str, str]], required: bool) -> list[dict[str, object]] | None:
    """The issue form's invoice rows -> the gateway's `invoices` (amounts in minor units, the date
    YYYY-MM-DD, `backed` only when typed). A row left blank is skipped; none typed: None (a plain
    issue), refused here when the operator requires invoices. The gateway normalises and checks
    the tax id, code and number."""
    out: list[dict[str, object]] = []
    for n, row in enumerate(rows, start=1):
        v = {k: (row.get(k) or "").strip() for k in INVOICE_FIELDS}
        if not any(v.values()):
            continue
        for k in ("seller_tax_id", "invoice_number"):
            if not v[k]:
                raise invalid(f"invoice {n}: {k} is missing", field=f"invoice {n}.{k}")
        inv: dict[str, object] = {
            "seller_tax_id": v["seller_tax_id"], "invoice_code": v["invoice_code"],
            "invoice_number": v["invoice_number"],
            "amount": parse_amount(v["amount"], f"invoice {n}.amount"),
            "issue_date": day(parse_date(v["issue_date"], f"invoice {n}.issue_date")),
        }
        if v["backed"]:
            inv["backed"] = parse_amount(v["backed"], f"invoice {n}.backed")
        out.append(inv)
    if not out and required:
        raise invalid("invoices: the operator requires at least one invoice for every certificate", field="invoices")
    return out or None
