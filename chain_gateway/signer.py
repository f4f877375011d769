"""Signers. ``Signer`` is the interface a KMS/HSM backend implements; ``KeystoreSigner`` decrypts an
eth-account (v3, scrypt) keystore file with a passphrase from the environment or a secret file.
Keys and passphrases are never logged, returned or written in clear."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import coincurve
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak  # eth_utils' keccak validates its argument first: ~4 us more per call
from eth_utils import to_checksum_address

from chain_gateway.errors import NoSigner
from chain_gateway.settings import Settings


@runtime_checkable
class Signer(Protocol):
    @property
    def address(self) -> str: ...

    def sign_transaction(self, tx: dict[str, Any]) -> tuple[str, str]:
        """Returns (raw transaction hex, transaction hash hex)."""
        ...


# --- lean signing of legacy (EIP-155) transactions -------------------------------------------------
# eth-account validates and converts a transaction dict through several layers (~0.35 ms each); the
# gateway signs thousands of transactions of one shape, so it encodes them here: RLP by hand, keccak,
# secp256k1 through coincurve (deterministic RFC 6979, low s: the same signature as eth-account's,
# which uses coincurve too; tests/gateway/test_signer.py compares both byte for byte).

LEGACY_FIELDS = frozenset({"chainId", "nonce", "gasPrice", "gas", "to", "value", "data"})


def _rlp_length(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes([offset + length])
    n = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([offset + 55 + len(n)]) + n


def _rlp_item(value: bytes | int) -> bytes:
    if isinstance(value, int):
        if value < 0:
            raise ValueError("RLP encodes unsigned integers only")
        value = value.to_bytes((value.bit_length() + 7) // 8, "big")  # 0 -> b""
    if len(value) == 1 and value[0] < 0x80:
        return value
    return _rlp_length(len(value), 0x80) + value


def rlp_list(items: list[bytes | int]) -> bytes:
    body = b"".join(_rlp_item(i) for i in items)
    return _rlp_length(len(body), 0xC0) + body


def _hex_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return bytes.fromhex(str(value).removeprefix("0x"))


def sign_legacy(key: coincurve.PrivateKey, tx: dict[str, Any]) -> tuple[str, str]:
    """(raw transaction hex, transaction hash hex) of an EIP-155 legacy transaction."""
    chain_id = int(tx["chainId"])
    fields: list[bytes | int] = [
        int(tx["nonce"]), int(tx["gasPrice"]), int(tx["gas"]), _hex_bytes(tx["to"]), int(tx["value"]),
        _hex_bytes(tx["data"]),
    ]
    if len(fields[3]) != 20:  # type: ignore[arg-type]
        raise ValueError("`to` must be a 20-byte address")
    sig = key.sign_recoverable(keccak(rlp_list([*fields, chain_id, 0, 0])), hasher=None)
    r, s, v = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64] + 35 + 2 * chain_id
    raw = rlp_list([*fields, v, r, s])
    return "0x" + raw.hex(), "0x" + keccak(raw).hex()


class LocalSigner:
    """A decrypted key held in memory (keystore-backed or, in dev mode, mnemonic-derived)."""

    _key: coincurve.PrivateKey | None = None  # the key for the lean path, made on first use

    def __init__(self, account: LocalAccount):
        self._account = account

    @property
    def address(self) -> str:
        return str(self._account.address)

    def sign_transaction(self, tx: dict[str, Any]) -> tuple[str, str]:
        if tx.keys() == LEGACY_FIELDS:  # the gateway's own transactions: the lean path
            if self._key is None:
                self._key = coincurve.PrivateKey(bytes(self._account.key))
            return sign_legacy(self._key, tx)
        signed = self._account.sign_transaction(tx)
        return "0x" + bytes(signed.raw_transaction).hex(), "0x" + bytes(signed.hash).hex()

    def __repr__(self) -> str:  # never show the key
        return f"LocalSigner({self.address})"


class KeystoreSigner(LocalSigner):
    """Decrypts the keystore file once, on first use."""

    def __init__(self, path: Path, passphrase_source: Any):
        self.path = path
        self._address = to_checksum_address("0x" + json.loads(path.read_text())["address"].removeprefix("0x"))
        self._passphrase_source = passphrase_source
        self._loaded: LocalAccount | None = None

    @property
    def address(self) -> str:
        return self._address

    @property
    def unlocked(self) -> bool:
        return self._loaded is not None

    def unlock(self) -> None:
        """Decrypt the key (scrypt: ~0.5 s at n = 2^18; the service calls it through ``unlock``, in a
        worker thread). A wrong passphrase raises ValueError."""
        if self._loaded is None:
            passphrase = self._passphrase_source(self._address)
            key = Account.decrypt(json.loads(self.path.read_text()), passphrase)
            self._loaded = Account.from_key(key)
            self._account = self._loaded

    def sign_transaction(self, tx: dict[str, Any]) -> tuple[str, str]:
        self.unlock()
        return super().sign_transaction(tx)

    def __repr__(self) -> str:
        return f"KeystoreSigner({self._address})"


async def unlock(signer: Signer) -> None:
    """Make ``signer`` ready to sign without blocking the event loop: a keystore signer's first
    decryption runs in a worker thread. Raises what the decryption raises (ValueError: wrong
    passphrase or corrupt file; OSError: unreadable file; NoSigner: no passphrase configured)."""
    if not getattr(signer, "unlocked", True):
        await asyncio.to_thread(signer.unlock)  # type: ignore[attr-defined]


# chain ids of local development chains (anvil, hardhat: 31337; ganache and geth --dev: 1337): the
# only chains where dev mode's well-known mnemonic accounts may sign
DEV_CHAIN_IDS = (31337, 1337)


def dev_accounts(count: int = 20) -> list[LocalAccount]:
    from scf_core.devchain import DEV_MNEMONIC

    Account.enable_unaudited_hdwallet_features()
    return [Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(count)]


class SignerRegistry:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.signers: dict[str, Signer] = {}
        self.reload()

    def _passphrase(self, address: str) -> str:
        s = self.settings
        per_account = s.keystore_dir / f"{address.lower()}.pass"
        if per_account.exists():
            return per_account.read_text().strip()
        if s.keystore_passphrase is not None:
            return s.keystore_passphrase.get_secret_value()
        if s.keystore_passphrase_file is not None:
            return Path(s.keystore_passphrase_file).read_text().strip()
        raise NoSigner("no keystore passphrase configured", {"account": address})

    def reload(self) -> None:
        if self.settings.dev_mode:
            for acct in dev_accounts():
                self.signers.setdefault(acct.address.lower(), LocalSigner(acct))
        directory = self.settings.keystore_dir
        if directory.is_dir():
            for path in sorted(directory.glob("*.json")):
                try:
                    signer = KeystoreSigner(path, self._passphrase)
                except (ValueError, KeyError, json.JSONDecodeError):
                    continue
                self.signers[signer.address.lower()] = signer

    def get(self, address: str) -> Signer:
        signer = self.signers.get(address.lower())
        if signer is None:
            raise NoSigner("the gateway holds no key for this account", {"account": address})
        return signer

    def has(self, address: str) -> bool:
        return address.lower() in self.signers

    def can_create(self) -> None:
        """NoSigner unless new keys can be encrypted (a passphrase is configured)."""
        self._passphrase("0x0")

    def create(self, acct: LocalAccount | None = None) -> Signer:
        """A new key (or `acct`), written encrypted (scrypt) to the keystore directory."""
        acct = acct or Account.create()
        self._write(acct)
        return self._register(acct)

    async def create_async(self, acct: LocalAccount) -> Signer:
        """``create`` with the scrypt encryption (~0.5 s at n = 2^18) in a worker thread."""
        await asyncio.to_thread(self._write, acct)
        return self._register(acct)

    def _register(self, acct: LocalAccount) -> Signer:
        signer = LocalSigner(acct)
        self.signers[acct.address.lower()] = signer
        return signer

    def _write(self, acct: LocalAccount) -> None:
        passphrase = self._passphrase("0x0")
        keystore = Account.encrypt(acct.key, passphrase, kdf="scrypt", iterations=self.settings.keystore_scrypt_n)
        directory = self.settings.keystore_dir
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{acct.address.lower()}.json"
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(keystore, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


def write_keystore(directory: Path, key: bytes | str, passphrase: str, scrypt_n: int = 2**18) -> Path:
    """Encrypt a key into ``directory`` (used by the admin CLI and tests)."""
    acct = Account.from_key(key)
    keystore = Account.encrypt(acct.key, passphrase, kdf="scrypt", iterations=scrypt_n)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{acct.address.lower()}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(keystore, f)
    return path
