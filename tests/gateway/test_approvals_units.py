"""Dual-control units without a chain: the policy's required approvals (hypothesis), and the
decision rules on a store of its own (quorum once, self-approval, one decision per checker)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session

from chain_gateway import approvals, schema
from chain_gateway.db import make_engine
from chain_gateway.errors import Conflict, Forbidden, InvalidRequest
from chain_gateway.models import ApiKey, MemberRole, Operation, OpState, Role, utcnow

KINDS = sorted(approvals.AMOUNT_FIELDS)
AMOUNT_KINDS = [k for k in KINDS if approvals.AMOUNT_FIELDS[k]]

rules_st = st.lists(st.fixed_dictionaries({
    "kind": st.sampled_from(AMOUNT_KINDS[:3]),
    "min_amount": st.none() | st.integers(0, 10**6),
    "approvals": st.integers(1, 5),
}), max_size=6)


def body(kind: str, amount: int) -> dict[str, Any]:
    field = approvals.AMOUNT_FIELDS[kind]
    return {field: amount} if field else {}


@given(rules_st, st.sampled_from(AMOUNT_KINDS[:3]), st.integers(0, 10**6), st.integers(0, 10**6))
def test_more_money_never_needs_fewer_approvals(rules: list[dict[str, Any]], kind: str, a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert approvals.required_approvals(rules, kind, body(kind, low)) <= approvals.required_approvals(
        rules, kind, body(kind, high))


@given(rules_st, st.sampled_from(KINDS), st.integers(0, 10**6))
def test_required_is_the_largest_matching_rule(rules: list[dict[str, Any]], kind: str, amount: int) -> None:
    matching = [r["approvals"] for r in rules if (r["kind"] == kind or kind in approvals.COVERS.get(r["kind"], ()))
                and (r["min_amount"] is None or amount >= r["min_amount"])]
    assert approvals.required_approvals(rules, kind, body(kind, amount)) == max(matching, default=0)


def test_every_rule_is_checked() -> None:
    assert approvals.check_rules([{"kind": "currency.mint", "min_amount": 1, "approvals": 1}])
    with pytest.raises(InvalidRequest, match="unknown"):
        approvals.check_rules([{"kind": "currency.mintx", "min_amount": None, "approvals": 1}])
    with pytest.raises(InvalidRequest, match="no amount"):
        approvals.check_rules([{"kind": "system.pause", "min_amount": 0, "approvals": 1}])


def test_every_write_kind_is_known() -> None:
    """Each kind a router writes can be put in a policy."""
    import re

    routers = Path(approvals.__file__).parent / "api" / "v1"
    written = {m for p in routers.glob("*.py") for m in re.findall(r'"((?:[a-z]+)\.[a-z_]+)", "[A-Z]\w+", "\w+"',
                                                                  p.read_text())}
    assert written and written <= set(KINDS)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    schema.upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def user(engine: Any, role: MemberRole, account: str = "0x1") -> ApiKey:
    row = ApiKey(key_hash=secrets.token_hex(32), prefix="p", account=account, role=Role.supplier,
                 member_role=role, label=role.value)
    with Session(engine, expire_on_commit=False) as s:
        s.add(row)
        s.commit()
    return row


def test_decisions_on_a_store(store: Any) -> None:
    maker, c1, c2 = user(store, MemberRole.maker), user(store, MemberRole.checker), user(store, MemberRole.checker)
    with Session(store) as s:
        s.add(Operation(id="op", api_account="0x1", signer="0x1", kind="k", contract="c", to_address="0x2", data="0x",
                        request_hash="h", state=OpState.awaiting_approval, maker_id=maker.id, approvals_required=2,
                        approval_expires_at=approvals.expiry(60)))
        s.commit()
    with pytest.raises(Forbidden):
        approvals.decide(store, "op", maker, True, "", False)
    assert approvals.decide(store, "op", c1, True, "", False).state == OpState.awaiting_approval
    with pytest.raises(Conflict, match="already"):
        approvals.decide(store, "op", c1, True, "", False)
    done = approvals.decide(store, "op", c2, True, "", False)
    assert done.state == OpState.queued and done.approvals == 2
    assert approvals.expire_due(store, False) == []  # queued: not expired


def test_expiry_on_a_store(store: Any) -> None:
    with Session(store) as s:
        s.add(Operation(id="old", api_account="0x1", signer="0x1", kind="k", contract="c", to_address="0x2",
                        data="0x", request_hash="h", state=OpState.awaiting_approval, approvals_required=1,
                        approval_expires_at=utcnow()))
        s.commit()
    [gone] = approvals.expire_due(store, True)
    assert gone.state == OpState.expired and gone.error is not None
    assert approvals.expire_due(store, True) == []


def test_a_rule_on_issuing_covers_issuing_on_invoices() -> None:
    rules = [{"kind": "certificates.issue", "min_amount": 500, "approvals": 1}]
    assert approvals.required_approvals(rules, "certificates.issue_with_invoices", {"face_value": 500}) == 1
    assert approvals.required_approvals(rules, "certificates.issue_with_invoices", {"face_value": 499}) == 0
    own = [{"kind": "certificates.issue_with_invoices", "min_amount": None, "approvals": 2}]
    assert approvals.check_rules(own) and approvals.required_approvals(own, "certificates.issue", {}) == 0

