"""The shared layer both services use (scf_core: rpc, abi, db, apikeys, http_errors): one JSON-RPC
protocol with two transports, one ABI codec, one engine factory, one API-key parser, one error body."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import random
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from scf_core import abi, apikeys, db, rpc

# --- rpc: answer validation -------------------------------------------------------------------


class Refused(rpc.RpcError):
    pass


class Down(rpc.NodeUnavailable):
    pass


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(), min_size=1, max_size=20), st.randoms(use_true_random=False))
def test_answers_come_back_in_request_order_whatever_the_answer_order(values: list[int], rnd: random.Random) -> None:
    ids = list(range(1, len(values) + 1))
    items = [{"jsonrpc": "2.0", "id": i, "result": hex(v)} for i, v in zip(ids, values, strict=True)]
    rnd.shuffle(items)
    assert rpc.answers(items, ids) == [hex(v) for v in values]


def test_malformed_items_are_unavailable_error_objects_are_rpc_errors() -> None:
    revert = "0x08c379a0" + "00" * 4
    body = [
        {"jsonrpc": "2.0", "id": 1, "result": "0x1"},
        {"jsonrpc": "2.0", "id": 2, "error": {"code": 3, "message": "execution reverted", "data": revert}},
        {"jsonrpc": "2.0", "id": 3},  # neither result nor error
        {"jsonrpc": "2.0", "id": 4, "result": "0x1"},
        {"jsonrpc": "2.0", "id": 4, "result": "0x2"},  # repeated
        "not an object",
    ]
    got = rpc.answers(body, [1, 2, 3, 4, 5], Refused, Down)
    assert got[0] == "0x1"
    assert isinstance(got[1], Refused) and got[1].code == 3 and got[1].revert_data == revert
    assert [type(g) for g in got[2:]] == [Down, Down, Down]  # no result, repeated, missing


def test_an_object_answering_another_id_leaves_every_slot_unavailable() -> None:
    got = rpc.answers({"jsonrpc": "2.0", "id": 9, "result": "0x1"}, [1, 2], Refused, Down)
    assert [type(g) for g in got] == [Down, Down]


@pytest.mark.parametrize("body", ["a string", 12, None])
def test_a_body_that_is_no_answer_raises_unavailable(body: Any) -> None:
    with pytest.raises(Down):
        rpc.answers(body, [1, 2], Refused, Down)


def test_a_refused_request_raises_its_rpc_error() -> None:
    with pytest.raises(Refused, match="batch too large"):
        rpc.answers({"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "batch too large"}}, [1, 2],
                    Refused, Down)
    assert rpc.RpcError.from_error("garbage").code == 0
    assert rpc.RpcError.from_error({"code": "x", "message": 5}).message == "5"


# --- rpc: the two transports raise the caller's classes ---------------------------------------------


def test_sync_client_raises_the_services_classes() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if isinstance(body, dict):
            return httpx.Response(200, content=b"<html>proxy error</html>")
        return httpx.Response(200, json=[{"jsonrpc": "2.0", "id": r["id"], "error": {"code": 3, "message": "no"}}
                                         for r in body])

    client = rpc.Rpc("http://node.invalid", rpc_error=Refused, unavailable=Down)
    client.client = httpx.Client(transport=httpx.MockTransport(handle))
    with pytest.raises(Down):
        client.block_number()
    got = client.batch([("eth_call", [{}, "latest"])] * 3, errors=True)
    assert all(isinstance(g, Refused) for g in got) and len(got) == 3
    with pytest.raises(Refused):
        client.batch([("eth_call", [{}, "latest"])])


def test_async_client_lanes_answers_and_outages() -> None:
    """A missing or repeated item is a transient RpcError (-1) in its slot; an HTTP error or a body
    that is not JSON raises the caller's unavailable class; concurrent calls are coalesced."""

    async def node(request: web.Request) -> web.Response:
        body = await request.json()
        if request.query.get("down"):
            return web.Response(status=502, text="bad gateway")
        if isinstance(body, dict):
            body = [body]
        items = [{"jsonrpc": "2.0", "id": r["id"], "result": r["method"]} for r in body]
        if len(items) > 2:
            items = items[:-1] + [items[0]]  # the last one missing, the first one repeated
        return web.json_response(items[0] if len(items) == 1 else items)

    async def run() -> None:
        app = web.Application()
        app.router.add_post("/", node)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        client = rpc.AsyncRpc(f"http://127.0.0.1:{port}/", timeout=5, rpc_error=Refused, unavailable=Down)
        down = rpc.AsyncRpc(f"http://127.0.0.1:{port}/?down=1", timeout=5, rpc_error=Refused, unavailable=Down)
        try:
            assert await client.call("eth_chainId") == "eth_chainId"
            assert await client.call("eth_big", 2**70) == "eth_big"  # beyond orjson's integers: the stdlib encodes it
            assert await client.batch([("a", []), ("b", [])]) == ["a", "b"]
            first, second, third = await client.batch([("a", []), ("b", []), ("c", [])])
            assert isinstance(first, Refused) and first.code == -1  # repeated
            assert second == "b"
            assert isinstance(third, Refused) and third.code == -1  # missing
            assert rpc.lane_of(["eth_sendRawTransaction", "eth_call"]) == "send"
            assert rpc.lane_of(["eth_call", "eth_estimateGas"]) == "call"
            assert rpc.lane_of(["eth_getLogs"]) == "read"
            with pytest.raises(Down):
                await down.call("eth_chainId")
            with pytest.raises(Down):
                await down.batch([("a", [])])
        finally:
            await client.close()
            await down.close()
            await runner.cleanup()

    # a loop of its own in a thread of its own: another test (Playwright's sync API) may have left
    # a running event loop in this thread
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


# --- abi ----------------------------------------------------------------------------------------------

EVENT = {
    "type": "event",
    "name": "Moved",
    "inputs": [
        {"name": "id", "type": "uint256", "indexed": True},
        {"name": "to", "type": "address", "indexed": True},
        {"name": "delta", "type": "int64", "indexed": False},
        {"name": "ok", "type": "bool", "indexed": False},
        {"name": "doc", "type": "bytes32", "indexed": False},
        {"name": "who", "type": "address", "indexed": False},
    ],
}


@settings(max_examples=50, deadline=None)
@given(
    st.integers(0, 2**256 - 1), st.binary(min_size=20, max_size=20), st.integers(-(2**63), 2**63 - 1), st.booleans(),
    st.binary(min_size=32, max_size=32), st.binary(min_size=20, max_size=20), st.booleans(),
)
def test_fast_event_decoder_equals_eth_abi(
    id_: int, to: bytes, delta: int, ok: bool, doc: bytes, who: bytes, checksum: bool
) -> None:
    to_a, who_a = "0x" + to.hex(), "0x" + who.hex()
    topics = [keccak(text="Moved(uint256,address,int64,bool,bytes32,address)"),
              abi_encode(["uint256"], [id_]), abi_encode(["address"], [to_a])]
    data = abi_encode(["int64", "bool", "bytes32", "address"], [delta, ok, doc, who_a])
    dec = abi.event_decoder("C", EVENT, checksum=checksum)
    assert dec.topic0 == topics[0] and "0x" + dec.topic0.hex() == abi.event_topic(abi.signature(EVENT))
    assert dec.data_static is not None  # the fast path
    fmt = to_checksum_address if checksum else str.lower
    assert dec.decode(topics, data) == {
        "id": id_, "to": fmt(to_a), "delta": delta, "ok": ok, "doc": "0x" + doc.hex(), "who": fmt(who_a)
    }
    with pytest.raises(ValueError):
        dec.decode(topics, data + b"\0" * 32)


STATIC_FN = {"type": "function", "name": "holding", "inputs": [], "outputs": [
    {"name": "h", "type": "tuple", "components": [
        {"name": "id", "type": "uint256"}, {"name": "owner", "type": "address"}, {"name": "tier", "type": "uint32"},
        {"name": "delta", "type": "int64"}, {"name": "frozen", "type": "bool"}, {"name": "doc", "type": "bytes4"}]},
    {"name": "n", "type": "uint8"}]}
STATIC_TYPES = ["(uint256,address,uint32,int64,bool,bytes4)", "uint8"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), min_size=7, max_size=7), st.integers(0, 6),
       st.sampled_from([b"", b"\0" * 32]), st.booleans())
def test_fast_static_output_decoder_equals_eth_abi(
    words: list[bytes], clean: int, extra: bytes, checksum: bool
) -> None:
    """Return data of static types is sliced directly, with eth_abi's verdict on every word: random
    words (mostly dirty: eth_abi refuses them), words made valid, and data of the wrong length."""
    valid = [(7).to_bytes(32, "big"), b"\0" * 12 + words[1][:20], (2**32 - 1).to_bytes(32, "big"),
             (-5).to_bytes(32, "big", signed=True), (1).to_bytes(32, "big"), words[5][:4] + b"\0" * 28,
             (255).to_bytes(32, "big")]
    data = b"".join(valid[i] if i != clean else words[i] for i in range(7)) + extra
    try:
        values = abi_decode(STATIC_TYPES, data)
        expected: Any = [abi.jsonable(v, p, checksum) for v, p in zip(values, STATIC_FN["outputs"], strict=True)]
    except Exception as exc:
        expected = type(exc)
    assert abi._static_output(STATIC_FN, checksum) is not None  # the fast path applies
    try:
        got: Any = abi.decode_output(STATIC_FN, data, checksum)
    except Exception as exc:
        got = type(exc)
    assert got == expected


def test_functions_and_errors() -> None:
    fn = {"type": "function", "name": "holding", "inputs": [{"name": "id", "type": "uint256"}],
          "outputs": [{"name": "h", "type": "tuple", "components": [
              {"name": "owner", "type": "address"}, {"name": "value", "type": "uint256"}]}]}
    assert abi.encode_call(fn, [5]) == "0x" + (keccak(text="holding(uint256)")[:4] + abi_encode(["uint256"], [5])).hex()
    owner = "0x" + "ab" * 20
    out = abi_encode(["(address,uint256)"], [(owner, 7)])
    assert abi.decode_output(fn, "0x" + out.hex()) == {"owner": to_checksum_address(owner), "value": 7}
    assert abi.decode_output(fn, out, checksum=False) == {"owner": owner, "value": 7}
    assert abi_decode(["uint256"], abi_encode(["uint256"], [1])) == (1,)

    err = {"type": "error", "name": "NotPayee", "inputs": [{"name": "account", "type": "address"}]}
    table = abi.error_table([("Token", [err, fn])])
    custom = abi.selector(err) + abi_encode(["address"], [owner])
    assert abi.decode_error("0x" + custom.hex(), table) == abi.DecodedError(
        "NotPayee", {"account": to_checksum_address(owner)}, "Token", "0x" + abi.selector(err).hex()
    )
    reason = abi.ERROR_STRING_SELECTOR + abi_encode(["string"], ["boom"])
    assert abi.decode_error(reason, table).as_dict()["args"] == {"message": "boom"}  # type: ignore[union-attr]
    panic = abi.PANIC_SELECTOR + abi_encode(["uint256"], [0x11])
    assert abi.decode_error(panic, table).args == {"code": 0x11}  # type: ignore[union-attr]
    assert abi.decode_error("0xdeadbeef01", table).name == "Unknown"  # type: ignore[union-attr]
    assert abi.decode_error(abi.selector(err) + b"\1", table).name == "Unknown"  # type: ignore[union-attr]
    assert abi.decode_error(None, table) is None and abi.decode_error("0x12", table) is None


# --- apikeys -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers,key",
    [
        ({"x-api-key": "k1"}, "k1"),
        ({"x-api-key": "k1", "authorization": "Bearer k2"}, "k1"),
        ({"x-api-key": "", "authorization": "bearer  k2 "}, "k2"),
        ({"authorization": "Basic k2"}, None),
        ({"authorization": "Bearer "}, None),
        ({}, None),
    ],
)
def test_parse_key(headers: dict[str, str], key: str | None) -> None:
    assert apikeys.parse_key(headers) == key


def test_keys_and_hashes() -> None:
    key = apikeys.new_key()
    assert key.startswith(apikeys.KEY_PREFIX) and len(key) > 40
    assert apikeys.hash_key("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


# --- db ----------------------------------------------------------------------------------------------


def test_sqlite_engine_pragmas_hook_and_read_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/sub/dir/x.db"
    seen: list[Any] = []
    engine = db.make_engine(url, on_connect=seen.append)
    with engine.begin() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    assert len(seen) == 1
    engine.dispose()
    ro = db.make_engine(url, read_only=True)
    with ro.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0
        with pytest.raises(OperationalError):
            conn.execute(text("INSERT INTO t VALUES (1)"))
    ro.dispose()


# --- http_errors: the same body for the same situation in both services --------------------------------


def test_both_services_answer_the_same_error_bodies(tmp_path: Path) -> None:
    from chain_gateway.main import create_app as gateway_app
    from chain_gateway.settings import Settings as GatewaySettings
    from indexer.api.main import create_app as indexer_app
    from indexer.settings import Settings as IndexerSettings

    ix = indexer_app(IndexerSettings(database_url=f"sqlite:///{tmp_path}/ix.db"))
    gw = gateway_app(GatewaySettings())
    try:
        # no lifespan: the gateway needs no node for the framework's own errors
        gw_client, ix_client = TestClient(gw, raise_server_exceptions=False), TestClient(ix)
        for path in ("/nowhere", "/v1/nowhere"):
            a, b = gw_client.get(path), ix_client.get(path)
            assert a.status_code == b.status_code == 404 and a.json() == b.json()
            assert a.json() == {"code": "NOT_FOUND", "message": "Not Found", "details": {}}
        a, b = gw_client.delete("/v1/health"), ix_client.delete("/health")
        assert a.status_code == b.status_code == 405 and a.json() == b.json()
        assert a.json()["code"] == "METHOD_NOT_ALLOWED"
    finally:
        ix.state.engine.dispose()


# --- collector: tuned while a service runs, restored after the last one -----------------------


def test_service_collector_tunes_while_services_run_and_restores_after_the_last(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from scf_core import collector
    from scf_core.collector import YOUNG, service_collector

    monkeypatch.setattr(collector, "_running", [])  # as if no service ran (a test's gateway may)
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        with service_collector():
            assert gc.get_threshold()[0] == YOUNG
            assert gc.get_freeze_count() > 0  # what existed at the start is out of the collector's reach
            with service_collector():  # a second service in the same process (tests)
                assert gc.get_threshold()[0] == YOUNG
            assert gc.get_threshold()[0] == YOUNG  # the first one still runs
        assert gc.get_threshold() == (700, 10, 10)
        assert gc.get_freeze_count() == 0
        gc.set_threshold(0, 10, 10)  # the collector turned off stays off
        with service_collector():
            assert gc.get_threshold()[0] == 0
        assert gc.get_threshold() == (0, 10, 10)
    finally:
        gc.set_threshold(*before)
