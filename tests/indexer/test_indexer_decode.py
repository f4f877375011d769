"""The indexer's generated per-event decoders (`indexer.decode.inline_decoder`) give exactly the
values of `scf_core.abi`'s event decoders, for every event of the platform's contracts and for
every static ABI type, on random words; both refuse logs of the wrong shape."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.decode import inline_decoder
from scf_core import abi
from scf_core.paths import ARTIFACTS

WORD = st.binary(min_size=32, max_size=32)
# one event with every kind of static word, indexed and not (the platform's events use a subset)
ALL_TYPES = {"type": "event", "name": "AllTypes", "anonymous": False, "inputs": [
    {"name": "a", "type": "address", "indexed": True}, {"name": "b", "type": "int64", "indexed": True},
    {"name": "c", "type": "bytes32", "indexed": True}, {"name": "d", "type": "bool", "indexed": False},
    {"name": "e", "type": "bytes4", "indexed": False}, {"name": "f", "type": "int256", "indexed": False},
    {"name": "g", "type": "uint8", "indexed": False}, {"name": "h", "type": "address", "indexed": False},
    {"name": "i", "type": "uint256", "indexed": False}]}


def _events() -> list[tuple[str, dict[str, Any]]]:
    out = [("Test", ALL_TYPES)]
    for name, art in json.loads(ARTIFACTS.read_text()).items():
        out += [(name, e) for e in art["abi"] if e.get("type") == "event" and not e.get("anonymous")]
    return out


EVENTS = _events()


@pytest.mark.parametrize(("contract", "entry"), EVENTS, ids=[f"{c}.{e['name']}" for c, e in EVENTS])
@settings(max_examples=40, deadline=None)
@given(words=st.lists(WORD, min_size=24, max_size=24), short=st.integers(1, 31))
def test_inline_decoder_equals_the_abi_decoder(contract: str, entry: dict[str, Any], words: list[bytes],
                                               short: int) -> None:
    try:
        dec = abi.event_decoder(contract, entry, checksum=False)
    except ValueError:
        return  # indexed dynamic parameters: the indexer does not decode the event
    fast = inline_decoder(dec, entry)
    n_topics = 1 + len(dec.indexed)
    topics = [dec.topic0, *words[: n_topics - 1]]
    if dec.data_static is None:
        assert fast == dec.decode  # dynamic data: eth_abi through the ABI decoder itself
        return
    data = b"".join(words[n_topics - 1 : n_topics - 1 + len(dec.data_params)])
    if len(data) != 32 * len(dec.data_params):
        return  # more parameters than words drawn
    assert fast(topics, data) == dec.decode(topics, data)
    for bad in (data + b"\0" * 32, data[:-short] if data else b"\0"):
        with pytest.raises(ValueError):
            fast(topics, bad)
        with pytest.raises(ValueError):
            dec.decode(topics, bad)
    with pytest.raises(ValueError):
        fast(topics[:-1], data)
