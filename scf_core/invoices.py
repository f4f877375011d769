"""An invoice's canonical key, as the contracts document it (docs/contracts.md, "Controls"):
``keccak256(abi.encode(sellerTaxId, invoiceCode, invoiceNumber))`` over three Solidity ``string``s
(ABI-encoded, not packed), each normalised first: Unicode NFKC, surrounding whitespace removed,
ASCII letters upper case. One invoice has one key whatever way its fields were typed, so the
registry on chain refuses to let it back more than its amount.
"""

from __future__ import annotations

import string
import unicodedata

from eth_abi import encode
from eth_utils import keccak

_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)


def normalise(field: str) -> str:
    """NFKC, trimmed, ASCII letters upper case (full-width ``９１ａ`` becomes ``91A``)."""
    return unicodedata.normalize("NFKC", field).strip().translate(_UPPER)


def invoice_key(seller_tax_id: str, invoice_code: str, invoice_number: str) -> bytes:
    """The 32-byte canonical key of an invoice (fields normalised here)."""
    fields = [normalise(f) for f in (seller_tax_id, invoice_code, invoice_number)]
    return keccak(encode(["string", "string", "string"], fields))
