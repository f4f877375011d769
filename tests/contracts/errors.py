"""Expected revert strings for custom errors, built from the compiled ABIs.

``err("CertificateInsufficientValue", token_id, 60_000, 70_000)`` ABI-encodes the error with its
declared argument types and decodes it the way brownie decodes a revert, so
``brownie.reverts(err(...))`` checks the exact error name and every argument.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from brownie.exceptions import decode_typed_error
from eth_abi import encode
from eth_utils import keccak

_BUILD = Path(__file__).resolve().parents[2] / "build" / "brownie"


def _load_errors() -> dict[str, dict[str, Any]]:
    errors: dict[str, dict[str, Any]] = {}
    for folder in ("contracts", "interfaces"):
        for path in sorted((_BUILD / folder).glob("*.json")):
            for item in json.loads(path.read_text()).get("abi", []):
                if item.get("type") == "error":
                    errors.setdefault(item["name"], item)
    return errors


_ERRORS: dict[str, dict[str, Any]] = {}


def _abi(name: str) -> dict[str, Any]:
    if name not in _ERRORS:
        _ERRORS.update(_load_errors())
    if name not in _ERRORS:
        raise KeyError(f"no custom error {name} in the compiled ABIs")
    return _ERRORS[name]


def signature(name: str) -> str:
    abi = _abi(name)
    return f"{name}({','.join(i['type'] for i in abi['inputs'])})"


def selector(name: str) -> bytes:
    return keccak(text=signature(name))[:4]


def _normalize(value: Any) -> Any:
    if hasattr(value, "address"):  # brownie Account / Contract
        return str(value.address)
    if isinstance(value, bool):
        return value
    if hasattr(value, "value") and isinstance(value.value, int):  # enum members
        return value.value
    return value


def encode_error(name: str, *args: Any) -> bytes:
    abi = _abi(name)
    types = [i["type"] for i in abi["inputs"]]
    if len(types) != len(args):
        raise TypeError(f"{signature(name)} takes {len(types)} arguments, got {len(args)}")
    return selector(name) + encode(types, [_normalize(a) for a in args])


def err(name: str, *args: Any) -> str:
    """The revert message brownie reports for custom error ``name(*args)``."""
    return decode_typed_error("0x" + encode_error(name, *args).hex())

