"""scf_core.invoices: the invoice's canonical key is the one docs/contracts.md defines (and the
contract tests compute), and every spelling of one invoice gives one key."""

from __future__ import annotations

import unicodedata

from eth_abi import decode, encode
from eth_utils import keccak
from hypothesis import given
from hypothesis import strategies as st

from scf_core.invoices import invoice_key, normalise

TAX_ID = "91310000MA1FL8XQ30"


def test_key_is_keccak_of_abi_encoded_strings() -> None:
    expected = keccak(encode(["string", "string", "string"], [TAX_ID, "3100231130", "00012345"]))
    assert invoice_key(TAX_ID, "3100231130", "00012345") == expected
    # abi.encode, not packed: the three strings come back as they went in
    assert invoice_key(TAX_ID, "", "1") != keccak(TAX_ID.encode() + b"1")


def test_spellings_of_one_invoice_share_a_key() -> None:
    key = invoice_key(TAX_ID, "3100231130", "00012345")
    full_width = "９１３１００００ｍａ１ｆｌ８ｘｑ３０"
    assert unicodedata.normalize("NFKC", full_width).upper() == TAX_ID
    assert invoice_key(full_width, " 3100231130\t", "00012345 ") == key
    assert invoice_key(TAX_ID.lower(), "3100231130", "00012345") == key
    assert invoice_key(TAX_ID, "3100231130", "12345") != key  # leading zeros are kept


def test_normalise_upper_cases_ascii_only() -> None:
    assert normalise("  ab\u00e9c ") == "AB\u00e9C"
    assert normalise("ｆａ") == "FA"


fields = st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", max_size=20)


@given(fields, fields, fields)
def test_key_round_trips_the_fields(tax_id: str, code: str, number: str) -> None:
    """Different field triples never share an encoding (no field runs into the next)."""
    encoded = encode(["string", "string", "string"], [tax_id, code, number])
    assert decode(["string", "string", "string"], encoded) == (tax_id, code, number)
    assert invoice_key(tax_id.lower(), f" {code} ", number) == keccak(encoded)


@given(fields.filter(bool), st.data())
def test_moving_characters_between_fields_changes_the_key(text: str, data: st.DataObject) -> None:
    i, j = data.draw(st.lists(st.integers(0, len(text)), min_size=2, max_size=2, unique=True))
    assert invoice_key(text[:i], text[i:], "1") != invoice_key(text[:j], text[j:], "1")
