"""The request path refuses what it must, on its own: strict integers, checksums, the body limit,
reserved accounts, zero amounts; declares every status it answers; keeps store work off the event
loop; stores nothing while the node is down; lowercase state spellings; `scf config` masks secrets."""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import event
from sqlmodel import Session, func, select

from chain_gateway import deps
from chain_gateway.main import create_app
from chain_gateway.models import Operation, OpState, Role
from chain_gateway.settings import Settings
from gateway.conftest import OPERATOR_API_KEY, Api, Scenario
from scf_core.apikeys import hash_key

ERROR_KEYS = {"code", "message", "details"}


def h32() -> str:
    return "0x" + secrets.token_hex(32)


def error(r: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert set(body) == ERROR_KEYS, body
    if code is not None:
        assert body["code"] == code, body
    return body


# --- 1. integers: JSON integers only, the contracts' full range ---------------------------------


def test_body_integers_are_strict_and_bounded(api: Api, members: Scenario) -> None:
    core = members.core[0]
    clearing = {**api.h(api.clearing_key), "Content-Type": "application/json"}
    for raw in ('"7"', "true", "7.0", "1e2", "-1", str(2**256), "7.5"):
        r = api.client.post("/v1/currency/mint", headers=clearing, content=f'{{"to": "{core}", "amount": {raw}}}')
        error(r, 422, "VALIDATION_ERROR")
    # uint128 values: 2**128 refused by the gateway itself (not by a simulation), 2**128 - 1 accepted
    r = api.put(f"/v1/members/{core}/credit-limit", OPERATOR_API_KEY, {"limit": 2**128})
    error(r, 422, "VALIDATION_ERROR")
    r = api.put(f"/v1/members/{core}/credit-limit", OPERATOR_API_KEY, {"limit": 2**128 - 1})
    assert r.status_code == 200 and r.json()["state"] == "confirmed", r.text
    assert api.get(f"/v1/members/{core}", OPERATOR_API_KEY).json()["credit_limit"] == 2**128 - 1
    r = api.put(f"/v1/members/{core}/credit-limit", OPERATOR_API_KEY, {"limit": 10**12})
    assert r.json()["state"] == "confirmed", r.text
    sup_key = members.supplier[1]
    r = api.post("/v1/holdings/1/split-transfer", sup_key, {"to": core, "value": 2**128, "document_hash": h32()})
    error(r, 422, "VALIDATION_ERROR")
    # currency amounts: the full uint256 range passes validation (the simulation decides)
    r = api.post("/v1/currency/mint", api.clearing_key, {"to": core, "amount": 2**256 - 1}, wait=False)
    assert r.status_code == 202 or r.json()["code"] == "CONTRACT_REVERT", r.text


@pytest.mark.parametrize("path", [
    "/v1/holdings/\u0661\u0662",  # Arabic-Indic digits
    "/v1/holdings/%EF%BC%91",  # fullwidth 1
    "/v1/holdings/+1", "/v1/holdings/1_0", "/v1/holdings/%201", "/v1/holdings/1.0",
    f"/v1/holdings/{2**256}", "/v1/holdings/" + "9" * 5000, f"/v1/certificates/{2**256}",
    f"/v1/financing/offers/{2**256}", "/v1/settlement/certificates/-1",
    "/v1/financing/quote?value=\u0661&rate_bps=1&maturity=1",
    f"/v1/financing/quote?value=1&rate_bps={2**32}&maturity=1",
    "/v1/operations?limit=+5", "/v1/operations?offset=1_0", "/v1/operations?limit=\u0665",
])
def test_path_and_query_ids_out_of_range_or_not_ascii_are_422(api: Api, members: Scenario, path: str) -> None:
    error(api.client.get(path, headers=api.h(members.supplier[1])), 422, "VALIDATION_ERROR")


def test_largest_id_is_accepted(api: Api, members: Scenario) -> None:
    error(api.get(f"/v1/holdings/{2**256 - 1}", members.supplier[1]), 404, "NOT_FOUND")
    error(api.get(f"/v1/certificates/{2**256 - 1}", members.supplier[1]), 404, "NOT_FOUND")


# --- 2. EIP-55 checksums --------------------------------------------------------------------------


def test_mixed_case_addresses_must_pass_the_checksum(api: Api, members: Scenario) -> None:
    account = members.supplier[0]  # checksummed
    digits = account[2:]
    flipped = next(i for i, c in enumerate(digits) if c.isalpha())
    bad = "0x" + digits[:flipped] + digits[flipped].swapcase() + digits[flipped + 1:]
    body = error(api.get(f"/v1/members/{bad}", OPERATOR_API_KEY), 422, "ADDRESS_CHECKSUM")
    assert body["details"]["errors"][0]["type"] == "ADDRESS_CHECKSUM"
    r = api.post("/v1/members", OPERATOR_API_KEY, {"role": "supplier", "kyc_hash": h32(), "account": bad})
    error(r, 422, "ADDRESS_CHECKSUM")
    r = api.post("/v1/currency/mint", api.clearing_key, {"to": bad, "amount": 1})
    error(r, 422, "ADDRESS_CHECKSUM")
    for plain in ("0x" + digits.lower(), "0x" + digits.upper()):  # no checksum to check: accepted as is
        r = api.get(f"/v1/members/{plain}", OPERATOR_API_KEY)
        assert r.status_code == 200 and r.json()["account"] == account, r.text


# --- 3. the body limit ------------------------------------------------------------------------------


def asgi_post(app: Any, path: str, chunks: Any, headers: list[tuple[bytes, bytes]]) -> tuple[int, dict[str, Any], int]:
    """Runs one request through the ASGI app; returns (status, JSON body, chunks pulled)."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"test"), (b"content-type", b"application/json"), *headers],
             "client": ("127.0.0.1", 1), "server": ("test", 80)}
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body), pulled


def test_oversized_body_is_refused_while_streaming_and_before_authentication() -> None:
    """A 100 MiB chunked body: 413 after the first chunks past 1 MiB, the rest never pulled; no
    gateway state exists here (no lifespan), so reaching authentication would be a 500."""
    app = create_app(Settings())
    chunk = b"x" * 65536
    streamed = (chunk for _ in range(1600))  # 100 MiB
    status, body, pulled = asgi_post(app, "/v1/currency/mint", streamed, [])
    assert status == 413 and set(body) == ERROR_KEYS and body["code"] == "PAYLOAD_TOO_LARGE", body
    assert body["details"] == {"limit_bytes": 1_048_576}
    assert pulled == 1_048_576 // 65536 + 1  # refused at the first chunk past the limit
    # a declared Content-Length is refused before a byte is read
    never = iter([chunk])
    status, body, pulled = asgi_post(app, "/v1/currency/mint", never, [(b"content-length", b"104857600")])
    assert (status, body["code"], pulled) == (413, "PAYLOAD_TOO_LARGE", 0)
    small = create_app(Settings(max_body_bytes=10))
    status, body, _ = asgi_post(small, "/v1/currency/mint", iter([b'{"to": "0x1",', b' "amount": 1}']), [])
    assert (status, body["code"]) == (413, "PAYLOAD_TOO_LARGE")


def test_body_under_the_limit_is_served(api: Api, members: Scenario) -> None:
    body = json.dumps({"role": "supplier", "kyc_hash": h32(), "label": "x" * 100}).encode() + b" " * 500_000
    r = api.client.post("/v1/members", headers={**api.op, "Content-Type": "application/json"}, content=body)
    assert r.status_code == 202, r.text  # padding is fine JSON; only the size matters


def test_a_body_that_is_not_utf8_is_a_declared_400(api: Api) -> None:
    r = api.client.put("/v1/system/grace-period", headers={**api.op, "Content-Type": "application/json"},
                       content=b'{"grace_period_seconds": "\xff\xfe"}')
    error(r, 400, "BAD_REQUEST")


# --- 4. reserved accounts, zero KYC hash, zero amounts ----------------------------------------------


def test_reserved_accounts_zero_kyc_and_zero_amounts_are_refused_before_simulating(api: Api, members: Scenario,
                                                                                    monkeypatch: Any) -> None:
    gw = api.client.app.state.gateway  # type: ignore[attr-defined]
    real_call = gw.rpc.call
    simulated: list[str] = []

    async def call(method: str, *params: Any) -> Any:
        if method == "eth_estimateGas" or (method == "eth_call" and "gas" in params[0]):  # a simulation
            simulated.append(method)
        return await real_call(method, *params)

    monkeypatch.setattr(gw.rpc, "call", call)
    reserved = [gw.manifest.operator, "0x" + "0" * 40, *(c.address for c in gw.manifest.contracts.values())]
    for account in reserved:
        r = api.post("/v1/members", OPERATOR_API_KEY, {"role": "supplier", "kyc_hash": h32(), "account": account})
        error(r, 422, "RESERVED_ACCOUNT")
    r = api.post("/v1/members", OPERATOR_API_KEY, {"role": "supplier", "kyc_hash": "0x" + "0" * 64})
    error(r, 422, "ZERO_KYC_HASH")
    r = api.put(f"/v1/members/{members.supplier[0]}/kyc", OPERATOR_API_KEY, {"kyc_hash": "0x" + "0" * 64})
    error(r, 422, "ZERO_KYC_HASH")
    r = api.post("/v1/currency/mint", api.clearing_key, {"to": members.core[0], "amount": 0})
    error(r, 422, "ZERO_AMOUNT")
    r = api.post("/v1/currency/burn", api.clearing_key, {"account": members.core[0], "amount": 0})
    error(r, 422, "ZERO_AMOUNT")
    assert simulated == []


# --- 5. OpenAPI declares every status ---------------------------------------------------------------


def test_openapi_declares_every_status_with_the_error_schema() -> None:
    spec = create_app(Settings()).openapi()
    error_ref = {"$ref": "#/components/schemas/ErrorOut"}
    assert set(spec["components"]["schemas"]["ErrorOut"]["required"]) == ERROR_KEYS
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            declared = {int(s) for s in op["responses"]}
            unauthenticated = {"/v1/health": {413}, "/v1/ready": {413, 503}}
            expected = unauthenticated.get(path, {400, 401, 403, 404, 409, 413, 422, 503})
            if "202" in op["responses"]:  # a write: 202 queued, 200 final with ?wait=true
                expected |= {200, 202}
            assert expected <= declared, (method, path, sorted(declared))
            for status, resp in op["responses"].items():
                if int(status) >= 400:
                    assert resp["content"]["application/json"]["schema"] == error_ref, (method, path, status)
    # the bounds are exact (FastAPI's model would turn 2**256 - 1 into a float, i.e. 2**256)
    value = spec["components"]["schemas"]["SplitIn"]["properties"]["value"]
    assert value["maximum"] == 2**128 - 1 and isinstance(value["maximum"], int)


# --- 6. no store work on the event loop -------------------------------------------------------------


class SlowStore:
    """Holds the one query whose parameters contain `marker` until released (or 10 s)."""

    def __init__(self, engine: Any, marker: str):
        self.engine, self.marker = engine, marker
        self.entered, self.release = threading.Event(), threading.Event()
        event.listen(engine, "before_cursor_execute", self.hook)  # left in place: removing it while
        # another thread runs the engine's listeners breaks their iteration; `release` disarms it

    def hook(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        values = parameters.values() if isinstance(parameters, dict) else parameters
        if not self.release.is_set() and not self.entered.is_set() and self.marker in [str(v) for v in values]:
            self.entered.set()
            self.release.wait(10)

    def remove(self) -> None:
        self.release.set()


@pytest.mark.parametrize("case", ["list", "idempotency", "auth", "operation"])
def test_a_slow_store_round_trip_stalls_only_its_request(own_api: Api, case: str) -> None:
    api = own_api
    gw = api.client.app.state.gateway  # type: ignore[attr-defined]
    account, key = api.onboard("core_enterprise")
    op = api.post("/v1/system/pause", OPERATOR_API_KEY, wait=False).json()  # any stored operation
    assert op["state"] in ("queued", "submitted", "mined", "confirmed"), op
    api.get(f"/v1/operations/{op['id']}", OPERATOR_API_KEY, wait="true")
    api.post("/v1/system/unpause", OPERATOR_API_KEY)
    idem = "slow-" + secrets.token_hex(4)
    new_key = api.client.post(f"/v1/members/{account}/api-keys", headers=api.op).json()["api_key"]
    marker, request = {
        "list": (account, lambda: api.get("/v1/operations", key)),
        "idempotency": (idem, lambda: api.client.post("/v1/currency/mint", headers=api.h(api.clearing_key, idem),
                                                      json={"to": account, "amount": 5})),
        "auth": (hash_key(new_key), lambda: api.get("/v1/me", new_key)),
        "operation": (op["id"], lambda: api.get(f"/v1/operations/{op['id']}", OPERATOR_API_KEY)),
    }[case]
    slow = SlowStore(gw.engine, marker)
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(request()))
    try:
        worker.start()
        assert slow.entered.wait(10), "the slow query was not reached"
        # while that query is held: the event loop serves others
        assert api.client.get("/v1/health").json()["node"]["ok"] is True
        assert api.get("/v1/me", OPERATOR_API_KEY).status_code == 200
        assert api.get("/v1/operations", OPERATOR_API_KEY).status_code == 200
        assert worker.is_alive() and not slow.release.is_set()
    finally:
        slow.remove()
        worker.join(30)
    assert result and result[0].status_code in (200, 202), result


# --- 8. lowercase spellings -------------------------------------------------------------------------


def test_states_and_statuses_are_lowercase(api: Api, members: Scenario) -> None:
    from chain_gateway.api.v1.certificates import STATUS
    from chain_gateway.api.v1.financing import OFFER_STATUS

    for words in ([s.value for s in OpState], [r.value for r in Role], STATUS, OFFER_STATUS):
        assert all(w == w.lower() for w in words), words
    sup, sup_key = members.supplier
    cert = api.issue(members.core[1], sup)["certificate_id"]
    assert api.get(f"/v1/certificates/{cert}", sup_key).json()["status"] == "pending"
    assert api.get("/v1/me", sup_key).json()["role"] == "supplier"
    assert {o["state"] for o in api.get("/v1/operations", members.core[1]).json()} <= {s.value for s in OpState}


# --- 9. 503 with nothing stored ----------------------------------------------------------------------


def test_a_write_while_the_node_is_unreachable_is_503_and_stores_nothing(own_api: Api) -> None:
    from scf import devchain

    api = own_api
    gw = api.client.app.state.gateway  # type: ignore[attr-defined]
    account = api.onboard("supplier")[0]
    clearing_key = api.clearing_key  # onboarded while the node answers
    keystore = sorted(p.name for p in gw.settings.keystore_dir.glob("*.json"))
    with Session(gw.engine) as s:
        before = s.exec(select(func.count()).select_from(Operation)).one()
    url = gw.rpc.url
    gw.rpc.url = f"http://127.0.0.1:{devchain.free_port()}"  # nothing listens there
    try:
        r = api.client.post("/v1/currency/mint", headers=api.h(clearing_key, "down-1"),
                            json={"to": account, "amount": 1})
        error(r, 503, "NODE_UNAVAILABLE")
        r = api.client.post("/v1/members", headers=api.op, json={"role": "supplier", "kyc_hash": h32()})
        error(r, 503, "NODE_UNAVAILABLE")
    finally:
        gw.rpc.url = url
    with Session(gw.engine) as s:
        assert s.exec(select(func.count()).select_from(Operation)).one() == before
    assert sorted(p.name for p in gw.settings.keystore_dir.glob("*.json")) == keystore  # no member key written
    # the same Idempotency-Key once the node is back: a fresh operation, not a stored one
    r = api.client.post("/v1/currency/mint", headers=api.h(clearing_key, "down-1"),
                        json={"to": account, "amount": 1}, params={"wait": "true"})
    assert r.status_code == 200 and r.json()["state"] == "confirmed", r.text


# --- properties of the reusable types (hypothesis) ------------------------------------------------

class _Body(BaseModel):
    amount: deps.Uint128
    to: deps.Address


def _valid(amount: Any, to: str) -> bool:
    try:
        _Body.model_validate({"amount": amount, "to": to})
    except ValidationError:
        return False
    return True


ADDR = "0x" + "ab" * 20


@settings(deadline=None)  # a property, not a timing: no per-example deadline under a loaded CI
@given(st.integers())
def test_prop_uint128_accepts_exactly_its_range(n: int) -> None:
    assert _valid(n, ADDR) == (0 <= n <= 2**128 - 1)


@settings(deadline=None)  # a property, not a timing: no per-example deadline under a loaded CI
@given(st.one_of(st.floats(), st.booleans(), st.text(), st.integers().map(str), st.integers().map(float)))
def test_prop_non_integers_are_refused(value: Any) -> None:
    assert not _valid(value, ADDR)


@settings(deadline=None)  # a property, not a timing: no per-example deadline under a loaded CI
@given(st.binary(min_size=20, max_size=20), st.data())
def test_prop_addresses_checksum_or_single_case(raw: bytes, data: Any) -> None:
    from eth_utils import to_checksum_address

    good = to_checksum_address(raw)
    assert _valid(1, good) and _valid(1, good.lower()) and _valid(1, "0x" + good[2:].upper())
    letters = [i for i, c in enumerate(good[2:]) if c.isalpha()]
    if letters:
        i = 2 + data.draw(st.sampled_from(letters))
        flipped = good[:i] + good[i].swapcase() + good[i + 1:]
        single_case = flipped[2:] in (flipped[2:].lower(), flipped[2:].upper())
        assert _valid(1, flipped) == single_case


@settings(deadline=None)  # a property, not a timing: no per-example deadline under a loaded CI
@given(st.one_of(st.text(max_size=90), st.integers(min_value=0, max_value=2**257).map(str),
                 st.integers(min_value=0, max_value=10**6).map(lambda n: str(n).zfill(79))))
def test_prop_path_integers_are_ascii_digits_in_range(text: str) -> None:
    adapter = TypeAdapter(deps.PathUint256)
    try:
        value = adapter.validate_python(text)
    except ValidationError:
        assert not (text.isascii() and text.isdigit() and len(text) <= 78 and int(text) < 2**256)
    else:
        assert text.isascii() and text.isdigit() and len(text) <= 78 and value == int(text) < 2**256


def test_405_names_every_method_of_the_path(api: Api) -> None:
    """GET and POST of /v1/financing/offers live in two routers; `Allow` names both (Starlette alone
    names the first route's methods only: schemathesis' Allow-header check found it)."""
    r = api.client.request("OPTIONS", "/v1/financing/offers", headers=api.op)
    assert r.status_code == 405 and r.json()["code"] == "METHOD_NOT_ALLOWED"
    assert {"GET", "POST"} <= {m.strip() for m in r.headers["allow"].split(",")}
