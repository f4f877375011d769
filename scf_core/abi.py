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
    """A function's return data: the value, or the list of values if it returns several. Return
    data of static types only (words, and tuples of them: ``holding``'s struct) is sliced directly
    (``_static_output``, ~10x faster than eth_abi); anything else, or words eth_abi would refuse
    (short data, dirty padding), goes through eth_abi as before."""
    outputs = entry.get("outputs", [])
    raw = _bytes(data)
    fast = _static_output(entry, checksum)
    if fast is not None:
        decoded = fast(raw)
        if decoded is not _REFUSED:
            return decoded
    values = abi_decode(types(outputs), raw)
    decoded = [jsonable(v, p, checksum) for v, p in zip(values, outputs, strict=True)]
    return decoded[0] if len(decoded) == 1 else decoded


_REFUSED = object()  # a static word eth_abi would refuse (or the wrong length): eth_abi decides
_static_outputs: dict[tuple[int, bool], tuple[Entry, Callable[[bytes], Any] | None]] = {}


def _checked_word(typ: str, checksum: bool) -> Callable[[bytes], Any] | None:
    """A static word's decoder that returns _REFUSED where eth_abi raises (non-zero padding, a bool
    other than 0/1, an integer out of its type's range); None for a type that is not a word."""
    if not _is_static(typ) or typ.endswith("]"):
        return None
    dec = _word_decoder(typ, checksum)
    if typ == "address":
        return lambda w: dec(w) if not any(w[:12]) else _REFUSED
    if typ == "bool":
        return lambda w: dec(w) if not any(w[:31]) and w[31] < 2 else _REFUSED
    if typ.startswith("bytes"):
        n = int(typ[5:])
        return lambda w: dec(w) if not any(w[n:]) else _REFUSED
    bits = int((typ[4:] if typ.startswith("uint") else typ[3:]) or 256)
    if typ.startswith("uint"):
        limit = 1 << bits
        return lambda w: v if (v := dec(w)) < limit else _REFUSED
    low, high = -(1 << (bits - 1)), 1 << (bits - 1)
    return lambda w: v if low <= (v := dec(w)) < high else _REFUSED


def _static_reader(param: Entry, checksum: bool) -> tuple[int, Callable[[bytes, int], Any]] | None:
    """(words, read(data, first word)) of a static parameter (a word, or a tuple of static
    parameters as a dict by component name); None for anything dynamic."""
    if param["type"] == "tuple":
        parts = [(c["name"], _static_reader(c, checksum)) for c in param["components"]]
        if any(r is None for _, r in parts):
            return None
        readers = [(name, r) for name, r in parts if r is not None]

        def read_tuple(data: bytes, at: int) -> Any:
            out: dict[str, Any] = {}
            for name, (words, read) in readers:
                value = read(data, at)
                if value is _REFUSED:
                    return _REFUSED
                out[name] = value
                at += words
            return out

        return sum(words for _, (words, _) in readers), read_tuple
    word = _checked_word(param["type"], checksum)
    if word is None:
        return None
    return 1, lambda data, at: word(data[32 * at : 32 * at + 32])


def _static_output(entry: Entry, checksum: bool) -> Callable[[bytes], Any] | None:
    """The fast decoder of a function whose outputs are all static (built once per ABI entry), or None."""
    cached = _static_outputs.get((id(entry), checksum))
    if cached is not None and cached[0] is entry:
        return cached[1]
    outputs = entry.get("outputs", [])
    readers = [_static_reader(p, checksum) for p in outputs]
    fast: Callable[[bytes], Any] | None = None
    if outputs and all(r is not None for r in readers):
        parts = [r for r in readers if r is not None]
        size = 32 * sum(words for words, _ in parts)

        def fast(data: bytes) -> Any:
            if len(data) != size:
                return _REFUSED
            values, at = [], 0
            for words, read in parts:
                value = read(data, at)
                if value is _REFUSED:
                    return _REFUSED
                values.append(value)
                at += words
            return values[0] if len(values) == 1 else values

    _static_outputs[(id(entry), checksum)] = (entry, fast)
    return fast


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

