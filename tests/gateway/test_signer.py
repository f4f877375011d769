"""The lean legacy-transaction signer gives eth-account's raw transaction and hash byte for byte."""

from __future__ import annotations

import random

import pytest
from eth_account import Account

from chain_gateway.signer import LocalSigner, rlp_list


def reference(acct, tx):
    signed = acct.sign_transaction(tx)
    return "0x" + bytes(signed.raw_transaction).hex(), "0x" + bytes(signed.hash).hex()


@pytest.mark.parametrize("seed", range(5))
def test_lean_signing_equals_eth_account(seed: int) -> None:
    rnd = random.Random(seed)
    acct = Account.from_key(rnd.randbytes(32))
    signer = LocalSigner(acct)
    # the boundaries of RLP's short and long forms (55/56 bytes), empty data, zero and huge integers
    sizes = [0, 1, 54, 55, 56, 57, 255, 256, 1100, 70_000]
    for i in range(60):
        tx = {
            "chainId": rnd.choice([1, 1337, 31337, 2**40 + 7]),
            "nonce": rnd.choice([0, 1, 127, 128, 255, 256, rnd.randrange(2**64)]),
            "gasPrice": rnd.choice([0, 1, 10**9, 2**255]),
            "gas": rnd.choice([21_000, 30_000_000, 10**9]),
            "to": Account.from_key(rnd.randbytes(32)).address,
            "value": rnd.choice([0, 1, 0x7F, 0x80, 2**256 - 1]),
            "data": ("0x" + rnd.randbytes(sizes[i % len(sizes)]).hex()) if i % 3
            else rnd.randbytes(sizes[i % len(sizes)]),
        }
        assert signer.sign_transaction(tx) == reference(acct, tx), tx


def test_other_shapes_go_through_eth_account() -> None:
    acct = Account.from_key(b"\x01" * 32)
    tx = {"chainId": 1, "nonce": 3, "maxFeePerGas": 2, "maxPriorityFeePerGas": 1, "gas": 21_000,
          "to": acct.address, "value": 5, "data": "0x"}
    assert LocalSigner(acct).sign_transaction(tx) == reference(acct, tx)


def test_rlp_known_vectors() -> None:
    # from the Ethereum RLP specification
    assert rlp_list([]) == bytes([0xC0])
    assert rlp_list([b"cat", b"dog"]) == bytes([0xC8, 0x83]) + b"cat" + bytes([0x83]) + b"dog"
    assert rlp_list([0, 15, 1024]) == bytes([0xC5, 0x80, 0x0F, 0x82, 0x04, 0x00])
    long = b"Lorem ipsum dolor sit amet, consectetur adipisicing elit"
    assert rlp_list([long]) == bytes([0xF8, 0x3A, 0xB8, 0x38]) + long


def test_keystore_signer_signs_on_the_lean_path(tmp_path) -> None:
    from chain_gateway.signer import KeystoreSigner, write_keystore

    acct = Account.from_key(b"\x07" * 32)
    path = write_keystore(tmp_path, bytes(acct.key), "pw", 2**4)
    signer = KeystoreSigner(path, lambda _a: "pw")
    tx = {"chainId": 31337, "nonce": 1, "gasPrice": 0, "gas": 50_000, "to": acct.address, "value": 0, "data": "0x12"}
    assert signer.sign_transaction(tx) == reference(acct, tx)
