"""The platform's one ABI codec (over eth_abi): function selectors and calldata, return values,
revert data (the contracts' custom errors by selector, ``Panic(uint256)``, ``Error(string)``) and
events (topic0 and a fast decoder: every event of the platform has only static parameters, so
their 32-byte words are sliced directly; other data falls back to eth_abi).

Decoded values are JSON-friendly: named structs as dicts, bytes as ``0x`` hex, addresses
checksummed (``checksum=True``, the gateway's API) or lower case (``checksum=False``, the index).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address
from eth_utils.abi import collapse_if_tuple

PANIC_SELECTOR = bytes.fromhex("4e487b71")
ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")

Entry = dict[str, Any]  # one item of a contract's JSON ABI


def types(params: list[Entry]) -> list[str]:
    """The canonical types of ABI parameters (tuples spelled out: ``(uint256,address)[]``)."""
    return [collapse_if_tuple(p) for p in params]


def signature(entry: Entry) -> str:
    return f"{entry['name']}({','.join(types(entry.get('inputs', [])))})"


@lru_cache(maxsize=4096)
def _selector(sig: str) -> bytes:
    return keccak(text=sig)[:4]


def selector(entry: Entry) -> bytes:
    """A function's or error's 4-byte selector (the keccak of each signature computed once)."""
    return _selector(signature(entry))


@lru_cache(maxsize=65_536)
def checksum_address(raw: bytes | str) -> str:
    """`eth_utils.to_checksum_address`, remembered: a platform has few accounts, and the keccak
    of the checksum is most of the cost of decoding a view's answer."""
    return str(to_checksum_address(raw))


def event_topic(sig: str) -> str:
    """topic0 of an event signature, e.g. ``Transfer(address,address,uint256)``, as ``0x`` hex."""
    return "0x" + keccak(text=sig).hex()


def _bytes(data: str | bytes) -> bytes:
    if isinstance(data, bytes):
        return data
    return bytes.fromhex(data[2:] if data.startswith("0x") else data)


def jsonable(value: Any, param: Entry, checksum: bool = True) -> Any:
    """An ABI-decoded value -> JSON-friendly (named structs as dicts, bytes as 0x hex)."""
    typ: str = param["type"]
    if typ.endswith("]"):
        inner = dict(param, type=typ[: typ.rindex("[")])
        return [jsonable(v, inner, checksum) for v in value]
    if typ == "tuple":
        return {c["name"]: jsonable(v, c, checksum) for v, c in zip(value, param["components"], strict=True)}
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if typ == "address":
        return checksum_address(value) if checksum else value.lower()
    return value


# --- functions --------------------------------------------------------------------------------------


def encode_call(entry: Entry, args: list[Any]) -> str:
    """The calldata (``0x`` hex) of a call of the function ``entry`` with ``args``."""
    return "0x" + (selector(entry) + abi_encode(types(entry["inputs"]), args)).hex()


def decode_output(entry: Entry, data: str | bytes, checksum: bool = True) -> Any:
    """A function's return data: the value, or the list of values if it returns several."""
    outputs = entry.get("outputs", [])
    values = abi_decode(types(outputs), _bytes(data))
    decoded = [jsonable(v, p, checksum) for v, p in zip(values, outputs, strict=True)]
    return decoded[0] if len(decoded) == 1 else decoded


# --- errors -----------------------------------------------------------------------------------------


@dataclass
class DecodedError:
    name: str
    args: dict[str, Any]
    contract: str | None = None
    selector: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"error": self.name, "args": self.args, "contract": self.contract, "selector": self.selector}


def error_table(abis: Iterable[tuple[str, list[Entry]]]) -> dict[bytes, tuple[str, Entry]]:
    """selector -> (contract, error entry) over the custom errors of (contract, ABI) pairs (the
    first contract declaring a selector names it)."""
    table: dict[bytes, tuple[str, Entry]] = {}
    for contract, abi in abis:
        for entry in abi:
            if entry.get("type") == "error":
                table.setdefault(selector(entry), (contract, entry))
    return table


def decode_error(data: str | bytes | None, errors: Mapping[bytes, tuple[str, Entry]]) -> DecodedError | None:
    """Revert data -> its error: ``Error(string)``, ``Panic(uint256)``, a custom error of
    ``errors`` (``error_table``), else ``Unknown`` with the raw data; None without data."""
    if not data:
        return None
    raw = _bytes(data)
    if len(raw) < 4:
        return None
    sel, body = raw[:4], raw[4:]
    try:
        if sel == ERROR_STRING_SELECTOR:
            (msg,) = abi_decode(["string"], body)
            return DecodedError("Error", {"message": msg}, None, "0x" + sel.hex())
        if sel == PANIC_SELECTOR:
            (code,) = abi_decode(["uint256"], body)
            return DecodedError("Panic", {"code": code}, None, "0x" + sel.hex())
        if sel in errors:
            contract, entry = errors[sel]
            inputs = entry.get("inputs", [])
            values = abi_decode(types(inputs), body)
            args = {
                (p["name"] or f"arg{i}"): jsonable(v, p) for i, (v, p) in enumerate(zip(values, inputs, strict=True))
            }
            return DecodedError(entry["name"], args, contract, "0x" + sel.hex())
    except Exception:  # malformed data: report the selector only
        pass
    return DecodedError("Unknown", {"data": "0x" + raw.hex()}, None, "0x" + sel.hex())


# --- events -----------------------------------------------------------------------------------------


def _is_static(typ: str) -> bool:
    return (
        typ == "address"
        or typ == "bool"
        or typ.startswith(("uint", "int"))
        or (typ.startswith("bytes") and typ != "bytes")
    )


def _word_decoder(typ: str, checksum: bool) -> Callable[[bytes], Any]:
    if typ == "address":
        if checksum:
            return lambda w: checksum_address(w[12:])
        return lambda w: "0x" + w[12:].hex()
    if typ == "bool":
        return lambda w: w[31] != 0
    if typ.startswith("bytes") and typ != "bytes":
        n = int(typ[5:])
        return lambda w: "0x" + w[:n].hex()
    if typ.startswith("uint"):
        return lambda w: int.from_bytes(w, "big")
    if typ.startswith("int"):
        return lambda w: int.from_bytes(w, "big", signed=True)
    raise ValueError(f"{typ} is not a static ABI type")


@dataclass(slots=True)
class EventDecoder:
    """One event's decoder: indexed parameters (static types only) from the topics, the others
    from the data (32-byte words sliced directly when all are static, else eth_abi)."""

    contract: str
    name: str
    topic0: bytes
    indexed: list[tuple[str, Callable[[bytes], Any]]]
    data_params: list[Entry]
    data_static: list[Callable[[bytes], Any]] | None
    checksum: bool

    def decode(self, topics: list[bytes], data: bytes) -> dict[str, Any]:
        """The event's arguments; ValueError (or eth_abi's errors) when the log is not of its shape."""
        if len(topics) != 1 + len(self.indexed):
            raise ValueError(f"{len(topics)} topics, expected {1 + len(self.indexed)}")
        args: dict[str, Any] = {}
        for (name, dec), topic in zip(self.indexed, topics[1:], strict=True):
            args[name] = dec(topic)
        if self.data_static is not None:
            if len(data) != 32 * len(self.data_params):
                raise ValueError(f"{len(data)} data bytes, expected {32 * len(self.data_params)}")
            for i, (p, dec) in enumerate(zip(self.data_params, self.data_static, strict=True)):
                args[p["name"]] = dec(data[32 * i : 32 * i + 32])
        elif self.data_params:
            values = abi_decode(types(self.data_params), data)
            for p, v in zip(self.data_params, values, strict=True):
                args[p["name"]] = jsonable(v, p, self.checksum)
        return args


def event_decoder(contract: str, entry: Entry, checksum: bool = True) -> EventDecoder:
    """The decoder of the (non-anonymous) event ``entry`` of ``contract``; ValueError for an event
    with indexed parameters of dynamic or tuple types (their topics are hashes)."""
    indexed = [p for p in entry["inputs"] if p.get("indexed")]
    data = [p for p in entry["inputs"] if not p.get("indexed")]
    static = all(_is_static(p["type"]) for p in data)
    return EventDecoder(
        contract=contract,
        name=entry["name"],
        topic0=keccak(text=signature(entry)),
        indexed=[(p["name"], _word_decoder(p["type"], checksum)) for p in indexed],
        data_params=data,
        data_static=[_word_decoder(p["type"], checksum) for p in data] if static else None,
        checksum=checksum,
    )

