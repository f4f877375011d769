"""Units without a chain: keystore signer, settings rules, error decoding, admin CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import keccak

from chain_gateway.contracts import ContractSet
from chain_gateway.errors import NoSigner
from chain_gateway.settings import Settings
from chain_gateway.signer import KeystoreSigner, SignerRegistry, write_keystore
from scf_core.apikeys import hash_key
from scf_core.build import load_artifacts
from scf_core.manifest import DeployedContract, Manifest


def test_keystore_signer_roundtrip(tmp_path: Path) -> None:
    acct = Account.create()
    path = write_keystore(tmp_path, acct.key, "pw", scrypt_n=2**4)
    ks = json.loads(path.read_text())
    assert ks["crypto"]["kdf"] == "scrypt" and acct.key.hex() not in path.read_text()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    signer = KeystoreSigner(path, lambda _a: "pw")
    assert signer.address == acct.address and "0x" not in repr(signer).replace(acct.address, "")
    tx = {"chainId": 1, "nonce": 0, "to": acct.address, "value": 0, "gas": 21000, "gasPrice": 0, "data": b""}
    raw, h = signer.sign_transaction(tx)
    assert Account.recover_transaction(raw) == acct.address and h.startswith("0x")
    bad = KeystoreSigner(path, lambda _a: "wrong")
    with pytest.raises(ValueError):
        bad.sign_transaction(tx)


def test_passphrase_sources_and_no_default_key(tmp_path: Path) -> None:
    acct = Account.create()
    write_keystore(tmp_path, acct.key, "from-file", scrypt_n=2**4)
    secret = tmp_path / "secret"
    secret.write_text("from-file\n")
    reg = SignerRegistry(Settings(keystore_dir=tmp_path, keystore_passphrase_file=secret))
    assert reg.has(acct.address)
    reg.get(acct.address).sign_transaction({"chainId": 1, "nonce": 0, "to": acct.address, "value": 0, "gas": 21000,
                                            "gasPrice": 0, "data": b""})
    # outside dev mode there is no default key (the anvil accounts are unknown)
    empty = SignerRegistry(Settings(keystore_dir=tmp_path / "none"))
    with pytest.raises(NoSigner):
        empty.get("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
    with pytest.raises(NoSigner):  # no passphrase configured: no new keys
        empty.create()
    dev = SignerRegistry(Settings(keystore_dir=tmp_path / "none", dev_mode=True))
    assert dev.has("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")


def test_settings_have_no_secret_defaults() -> None:
    s = Settings()
    assert s.keystore_passphrase is None and s.webhook_secret is None and s.dev_operator_api_key is None
    assert s.dev_mode is False and s.bootstrap_operator_key_hash is None
    assert "s3cr3t-value" not in repr(Settings(keystore_passphrase="s3cr3t-value"))


def _contract_set() -> ContractSet:
    arts = load_artifacts()
    names = ("Membership", "SettlementToken", "CertificateToken", "Financing", "Settlement")
    m = Manifest(chain_id=1, deployment_block=1, operator="0x" + "00" * 20, solc_version="x", evm_version="paris",
                 contracts={n: DeployedContract(address="0x" + f"{i + 1:040x}", abi=arts[n]["abi"])
                            for i, n in enumerate(names)})
    return ContractSet.from_manifest(m)


def test_error_decoding_by_selector() -> None:
    cs = _contract_set()
    from eth_abi import encode

    data = keccak(text="CertificateInsufficientValue(uint256,uint256,uint256)")[:4] + encode(
        ["uint256"] * 3, [7, 10, 11])
    d = cs.decode_error("0x" + data.hex())
    assert d is not None and d.name == "CertificateInsufficientValue"
    assert d.args == {"tokenId": 7, "available": 10, "requested": 11}
    assert cs.decode_error("0xdeadbeef").name == "Unknown"  # type: ignore[union-attr]
    assert cs.decode_error(None) is None
    panic = bytes.fromhex("4e487b71") + encode(["uint256"], [0x11])
    assert cs.decode_error(panic).args == {"code": 0x11}  # type: ignore[union-attr]


def test_logs_decode_by_the_emitting_contracts_abi() -> None:
    """ERC-20 and ERC-721 `Transfer` share topic0: each log is decoded with its own contract's ABI."""
    cs = _contract_set()
    topic0 = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
    a, b = "0x" + "00" * 12 + "11" * 20, "0x" + "00" * 12 + "22" * 20
    erc20 = {"address": cs.address("SettlementToken"), "topics": [topic0, a, b], "data": "0x" + f"{500:064x}"}
    ev = cs.decode_log(erc20)
    assert ev is not None and (ev.contract, ev.name) == ("SettlementToken", "Transfer")
    assert ev.args["value"] == 500 and ev.args["to"].lower() == "0x" + "22" * 20
    token_id = "0x" + f"{7:064x}"
    erc721 = {"address": cs.address("CertificateToken"), "topics": [topic0, a, b, token_id], "data": "0x"}
    ev = cs.decode_log(erc721)
    assert ev is not None and (ev.contract, ev.name) == ("CertificateToken", "Transfer")
    assert ev.args["tokenId"] == 7
    assert cs.decode_log({**erc20, "address": "0x" + "99" * 20}) is None  # not a platform contract


def test_admin_cli(tmp_path: Path) -> None:
    env = {"SCF_GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'gw.db'}", "SCF_GATEWAY_KEYSTORE_DIR": str(tmp_path),
           "SCF_GATEWAY_KEYSTORE_PASSPHRASE": "pw", "SCF_GATEWAY_KEYSTORE_SCRYPT_N": "16", "PATH": "/usr/bin:/bin"}

    def run(*args: str, stdin: str = "") -> str:
        out = subprocess.run([sys.executable, "-m", "chain_gateway.admin", *args], env=env, input=stdin,
                             capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[2])
        return out.stdout.strip()

    lines = run("hash-key").splitlines()
    key, digest = lines[0].split()[-1], lines[1].split()[-1]
    assert hash_key(key) == digest
    acct = Account.create()
    assert run("import-key", stdin=acct.key.hex() + "\n") == acct.address.lower()
    api_key = run("create-key", "--account", acct.address, "--role", "supplier")
    assert api_key.startswith("scf_")
    assert "revoked 1" in run("revoke", "--account", acct.address)
    assert run("new-signer").startswith("0x")


def test_webhook_url_without_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from chain_gateway.settings import Settings

    monkeypatch.setenv("SCF_GATEWAY_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    with pytest.raises(ValidationError, match="WEBHOOK_SECRET"):
        Settings()
    monkeypatch.setenv("SCF_GATEWAY_WEBHOOK_SECRET", "s3cret")
    assert Settings().webhook_url == "http://127.0.0.1:9/hook"


def test_keystore_unlock_and_new_keys_run_off_the_event_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """scrypt (~0.5 s at n = 2^18) never runs on the event loop: decryption and encryption go to a
    worker thread."""
    import asyncio
    import threading

    from chain_gateway.signer import unlock

    acct = Account.create()
    path = write_keystore(tmp_path, acct.key, "pw", scrypt_n=2**4)
    signer = KeystoreSigner(path, lambda _a: "pw")
    threads: dict[str, list[int]] = {"decrypt": [], "encrypt": []}

    def recording(name: str) -> object:
        original = getattr(Account, name)

        def call(*args: object, **kwargs: object) -> object:
            threads[name].append(threading.get_ident())
            return original(*args, **kwargs)

        return call

    reg = SignerRegistry(Settings(keystore_dir=tmp_path / "new", keystore_passphrase="pw", keystore_scrypt_n=2**4))

    async def main() -> int:
        assert not signer.unlocked
        await unlock(signer)
        assert signer.unlocked
        new = Account.create()
        await reg.create_async(new)
        assert reg.has(new.address) and (tmp_path / "new" / f"{new.address.lower()}.json").exists()
        return threading.get_ident()

    monkeypatch.setattr(Account, "decrypt", recording("decrypt"))
    monkeypatch.setattr(Account, "encrypt", recording("encrypt"))
    loop_thread = asyncio.run(main())
    assert threads["decrypt"] and loop_thread not in threads["decrypt"]
    assert threads["encrypt"] and loop_thread not in threads["encrypt"]


def test_key_cache_answers_from_memory_only_while_fresh(tmp_path: Path) -> None:
    """The event loop's fast path (``KeyCache.cached``) knows a key only after a store lookup, for
    `ttl` seconds, and forgets it when the cache is cleared (revocation through the API)."""
    from sqlmodel import Session

    from chain_gateway.auth import KeyCache
    from chain_gateway.db import make_engine
    from chain_gateway.models import ApiKey, Role
    from chain_gateway.schema import upgrade

    url = f"sqlite:///{tmp_path / 'gw.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as s:
        s.add(ApiKey(key_hash=hash_key("k1"), prefix="k1", account="0x" + "11" * 20, role=Role.supplier))
        s.commit()
    cache = KeyCache(engine, ttl=60)
    assert cache.cached("k1") is None  # never looked up: the caller asks the store
    row = cache.lookup("k1")
    assert row is not None and cache.cached("k1") is row
    assert cache.cached("k2") is None and cache.lookup("k2") is None
    cache.clear()
    assert cache.cached("k1") is None
    stale = KeyCache(engine, ttl=0)
    assert stale.lookup("k1") is not None and stale.cached("k1") is None  # expired at once


def test_the_v1_routers_are_included_in_the_app_itself() -> None:
    """FastAPI matches through nested included routers level by level: each /v1 router is one
    level down (``api.v1.include``), none of them behind a /v1 router."""
    from chain_gateway.api import v1
    from chain_gateway.main import create_app

    included = [getattr(r, "original_router", None) for r in create_app(Settings()).router.routes]
    assert [r for r in included if r is not None] == v1.ROUTERS
    assert all(not any(hasattr(x, "original_router") for x in r.routes) for r in v1.ROUTERS)


def test_concurrent_lock_checks_share_a_round_never_an_older_one() -> None:
    """Every write request asks `may_sign`: the callers that arrive while a check of the store's
    lock runs share the next check (one thread hop each round, not per request), and none gets
    the verdict of a check that started before it called."""
    import asyncio
    import threading

    from chain_gateway.submitter import Submitter

    class Lock:
        can_be_lost = True

        def __init__(self) -> None:
            self.calls = 0
            self.states = ["held", "lost", "held"]
            self.release = threading.Event()

        def held(self) -> str:
            self.calls += 1
            self.release.wait(5)  # the first check runs until the test lets it finish
            return self.states[self.calls - 1]

    async def run() -> None:
        lock = Lock()
        sub = object.__new__(Submitter)
        sub.instance_lock, sub.lock_error, sub.workers = lock, None, {}  # type: ignore[assignment]
        sub._lock_waiters, sub._lock_task = [], None
        first = [asyncio.create_task(sub.may_sign()) for _ in range(3)]
        await asyncio.sleep(0.05)  # the first check is running ("held")
        later = [asyncio.create_task(sub.may_sign()) for _ in range(50)]
        await asyncio.sleep(0.05)
        lock.release.set()
        assert await asyncio.gather(*first) == [True] * 3
        assert await asyncio.gather(*later) == [False] * 50  # the next check's verdict ("lost")
        assert lock.calls == 2 and sub.lock_error is not None
        assert await sub.may_sign() is False  # "held" again, but the loss is shown until "regained"

    asyncio.run(run())


def test_a_new_operation_is_stored_as_the_row_of_every_column(tmp_path: Path) -> None:
    """The request path's NewOperation holds exactly the store's columns but `seq`, and the group
    commit stores it as the ORM would: read back, every field is as made (defaults included)."""
    import uuid

    from sqlmodel import Session, select

    from chain_gateway import schema
    from chain_gateway.db import make_engine
    from chain_gateway.models import NewOperation, Operation, OperationOut, OpState, utcnow
    from chain_gateway.operations import _insert_many

    columns = {c.name for c in Operation.__table__.columns}  # type: ignore[attr-defined]
    assert set(NewOperation.__slots__) == columns - {"seq"}  # type: ignore[attr-defined]
    url = f"sqlite:///{tmp_path / 'g.db'}"
    schema.upgrade(url)
    engine = make_engine(url)
    now = utcnow()
    ops = [NewOperation(id=str(uuid.uuid4()), api_account="0x1", signer="0x1", kind="holdings.split_transfer",
                        contract="CertificateToken", to_address="0x2", data="0xab", args={"token_id": 2**256 - 1},
                        idempotency_key=key, request_hash="h", state=OpState.queued, gas_limit=90_000,
                        created_at=now, updated_at=now, maker_id=7) for key in ("k1", None, "k1")]
    assert _insert_many(engine, [op.row() for op in ops]) == [True, True, False]  # the key's second use loses
    with Session(engine) as s:
        stored = {op.id: op for op in s.exec(select(Operation)).all()}
    assert len(stored) == 2
    for op in ops[:2]:
        row = stored[op.id]
        assert {name: getattr(row, name) for name in op.row()} == op.row()
        assert OperationOut.of(row) == OperationOut.of(op)
