"""Market units without a chain: list paging (every match once, newest first) and the quote-privacy rule."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chain_gateway.api.v1.market import SCAN, _sees_all_quotes, page, scan_ids
from chain_gateway.models import ApiKey, Role

SELLER = "0x" + "aa" * 20
FACTOR = "0x" + "bb" * 20


def walk(count: int, matches: set[int], limit: int) -> list[int]:
    """Follow `next_before` from the first page to the end, as a client does."""
    seen: list[int] = []
    before: int | None = None
    for _ in range(count + 2):
        ids = scan_ids(count, before)
        items = [{"id": i} for i in ids if i in matches]
        p = page(items, ids, "id", limit)
        assert len(p["items"]) <= limit
        seen += [x["id"] for x in p["items"]]
        if p["next_before"] is None:
            return seen
        assert before is None or p["next_before"] < before  # always progresses
        before = p["next_before"]
    raise AssertionError("paging did not end")


@settings(deadline=None, max_examples=150)
@given(count=st.integers(0, 3 * SCAN + 5), data=st.data(), limit=st.integers(1, 100))
def test_paging_returns_every_match_once_newest_first(count: int, data: Any, limit: int) -> None:
    matches = data.draw(st.sets(st.integers(1, max(1, count)), max_size=300)) if count else set()
    assert walk(count, matches, limit) == sorted(matches, reverse=True)


def test_scan_ids_bounds() -> None:
    assert scan_ids(0, None) == [] and scan_ids(5, 1) == [] and scan_ids(5, 0) == []
    assert scan_ids(5, None) == [5, 4, 3, 2, 1] and scan_ids(5, 10**80) == [5, 4, 3, 2, 1]
    assert len(scan_ids(10 * SCAN, None)) == SCAN


def key(role: Role, account: str) -> ApiKey:
    return ApiKey(key_hash="x", prefix="x", account=account, role=role)


@given(now=st.integers(0, 2**64), deadline=st.integers(0, 2**64))
def test_quote_privacy_rule(now: int, deadline: int) -> None:
    request = {"seller": SELLER, "deadline": deadline}
    # a factor sees the others' quotes only from the deadline on
    assert _sees_all_quotes(key(Role.factor, FACTOR), request, now) is (now >= deadline)
    # the seller, the operator and the auditor always
    for k in (key(Role.supplier, SELLER), key(Role.operator, FACTOR), key(Role.auditor, FACTOR)):
        assert _sees_all_quotes(k, request, now)
