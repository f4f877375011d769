"""The simulation of a write: eth_estimateGas once per kind of call, then one eth_call at that
figure (``operations.simulate_gas``); every failure of the short path is decided by the estimate."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from chain_gateway.metrics import EVENTS
from chain_gateway.operations import gas_key
from tests.gateway.conftest import Api, Scenario


def h32() -> str:
    return "0x" + secrets.token_hex(32)


@pytest.fixture
def calls(api: Api, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Every simulation the gateway asks the node for: ("estimate", tx) or ("call", tx, outcome)."""
    gw = api.client.app.state.gateway  # type: ignore[attr-defined]
    real = gw.rpc.call
    seen: list[tuple[str, Any]] = []

    async def call(method: str, *params: Any) -> Any:
        if method == "eth_estimateGas":
            seen.append(("estimate", params[0]))
        elif method == "eth_call" and "gas" in params[0]:
            try:
                result = await real(method, *params)
            except Exception:
                seen.append(("call failed", params[0]))
                raise
            seen.append(("call", params[0]))
            return result
        return await real(method, *params)

    monkeypatch.setattr(gw.rpc, "call", call)
    return seen


def simulations(how: str) -> float:
    return EVENTS.get_sample_value("scf_gateway_simulations_total", {"how": how}) or 0.0


def holding(api: Api, members: Scenario) -> int:
    core, core_key = members.core
    sup, sup_key = members.supplier
    cert = api.issue(core_key, sup)
    r = api.post(f"/v1/certificates/{cert['certificate_id']}/accept", sup_key)
    assert r.json()["state"] == "confirmed", r.text
    return int(cert["token_id"])


def split_key(api: Api, token: int, to: str) -> tuple[str, str, int]:
    gw = api.client.app.state.gateway  # type: ignore[attr-defined]
    data = gw.contracts.encode("CertificateToken", "splitTransfer", [token, to, 1, b"\x01" * 32])
    return gas_key({"to": gw.contracts.address("CertificateToken"), "data": data})


def gas_limit(api: Api, op_id: str) -> int:
    from sqlmodel import Session, select

    from chain_gateway.models import Operation

    gw = api.client.app.state.gateway  # type: ignore[attr-defined]
    with Session(gw.engine) as s:
        return int(s.exec(select(Operation.gas_limit).where(Operation.id == op_id)).one())


def split(api: Api, members: Scenario, token: int, value: int = 1) -> Any:
    return api.post(f"/v1/holdings/{token}/split-transfer", members.supplier[1],
                    {"to": members.supplier2[0], "value": value, "document_hash": h32()})


def test_a_call_alike_is_run_once_at_the_estimated_gas(api: Api, members: Scenario,
                                                        calls: list[tuple[str, Any]]) -> None:
    gw = api.client.app.state.gateway  # type: ignore[attr-defined]
    token = holding(api, members)
    key = split_key(api, token, members.supplier2[0])
    gw.gas_estimates.pop(key, None)
    calls.clear()
    first = split(api, members, token).json()
    assert first["state"] == "confirmed", first
    assert [kind for kind, _ in calls] == ["estimate"]
    estimate = gw.gas_estimates[key]
    assert gas_limit(api, first["id"]) == int(estimate * gw.settings.gas_multiplier) + gw.settings.gas_extra

    # a split's gas varies a little with the state (a figure too low falls back: the next test);
    # with room to spare, the known figure is what the one call runs with and what is signed
    known = gw.gas_estimates[key] = estimate + 10_000
    calls.clear()
    before = simulations("call"), simulations("estimate")
    second = split(api, members, token).json()
    assert second["state"] == "confirmed", second
    assert [(kind, tx.get("gas")) for kind, tx in calls] == [("call", hex(known))]  # no estimate
    assert gas_limit(api, second["id"]) == int(known * gw.settings.gas_multiplier) + gw.settings.gas_extra
    assert second["gas_used"] <= known
    assert gw.gas_estimates[key] == known
    assert (simulations("call"), simulations("estimate")) == (before[0] + 1, before[1])


def test_a_figure_too_low_falls_back_to_the_estimate(api: Api, members: Scenario,
                                                     calls: list[tuple[str, Any]]) -> None:
    gw = api.client.app.state.gateway  # type: ignore[attr-defined]
    token = holding(api, members)
    key = split_key(api, token, members.supplier2[0])
    gw.gas_estimates[key] = 30_000  # far below what a split needs: the call runs out of gas
    calls.clear()
    before = simulations("call"), simulations("estimate")
    op = split(api, members, token).json()
    assert op["state"] == "confirmed", op
    assert [kind for kind, _ in calls] == ["call failed", "estimate"]
    assert (simulations("call"), simulations("estimate")) == (before[0], before[1] + 1)
    assert gw.gas_estimates[key] > 30_000  # the estimate's figure, signed with its margin
    assert gas_limit(api, op["id"]) == int(gw.gas_estimates[key] * gw.settings.gas_multiplier) + gw.settings.gas_extra


def test_a_revert_on_the_short_path_is_decoded_by_the_estimate(api: Api, members: Scenario,
                                                               calls: list[tuple[str, Any]]) -> None:
    gw = api.client.app.state.gateway  # type: ignore[attr-defined]
    token = holding(api, members)
    assert split(api, members, token).json()["state"] == "confirmed"  # the figure is known now
    assert split_key(api, token, members.supplier2[0]) in gw.gas_estimates
    calls.clear()
    r = split(api, members, token, value=10**9)
    assert r.status_code == 422, r.text
    assert r.json()["details"]["error"] == "CertificateInsufficientValue"
    assert [kind for kind, _ in calls] == ["call failed", "estimate"]
