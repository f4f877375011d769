"""Administration CLI (reads SCF_GATEWAY_* settings like the service).

    python -m chain_gateway.admin create-key --account 0x... --role operator [--label ops]
        stores a new API key's hash and prints the key once
    python -m chain_gateway.admin hash-key
        prints a new random key and its sha256, for SCF_GATEWAY_BOOTSTRAP_OPERATOR_KEY_HASH
    python -m chain_gateway.admin import-key < key.txt
        encrypts a private key (hex, read from stdin) into the keystore directory with the
        configured passphrase (scrypt); prints the address
    python -m chain_gateway.admin new-signer
        creates a new encrypted key in the keystore directory; prints the address
    python -m chain_gateway.admin revoke --account 0x...
"""

from __future__ import annotations

import argparse
import sys

from eth_utils import to_checksum_address
from sqlmodel import Session, select

from chain_gateway import schema
from chain_gateway.auth import create_api_key
from chain_gateway.db import make_engine
from chain_gateway.models import ApiKey, Role
from chain_gateway.settings import Settings
from chain_gateway.signer import SignerRegistry, write_keystore
from scf_core.apikeys import hash_key, new_key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chain_gateway.admin", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    ck = sub.add_parser("create-key", help="store a new API key bound to an account; print it once")
    ck.add_argument("--account", required=True)
    ck.add_argument("--role", required=True, choices=[r.value for r in Role])
    ck.add_argument("--label", default="")
    sub.add_parser("hash-key", help="print a new key and its sha256 (for the bootstrap setting)")
    sub.add_parser("import-key", help="encrypt a private key read from stdin into the keystore")
    sub.add_parser("new-signer", help="create a new encrypted key in the keystore")
    rv = sub.add_parser("revoke", help="revoke every API key of an account")
    rv.add_argument("--account", required=True)
    args = parser.parse_args(argv)
    settings = Settings()

    if args.cmd == "hash-key":
        key = new_key()
        print(f"key:  {key}\nhash: {hash_key(key)}")
        return 0
    if args.cmd == "import-key":
        registry = SignerRegistry(settings)
        passphrase = registry._passphrase("0x0")
        key_hex = sys.stdin.readline().strip()
        path = write_keystore(settings.keystore_dir, key_hex, passphrase, settings.keystore_scrypt_n)
        print(path.stem)
        return 0
    if args.cmd == "new-signer":
        signer = SignerRegistry(settings).create()
        print(signer.address)
        return 0
    schema.upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    account = to_checksum_address(args.account)
    if args.cmd == "create-key":
        key, _ = create_api_key(engine, account, Role(args.role), args.label)
        print(key)
        return 0
    if args.cmd == "revoke":
        with Session(engine) as s:
            rows = s.exec(select(ApiKey).where(ApiKey.account == account)).all()
            for r in rows:
                r.revoked = True
                s.add(r)
            s.commit()
        print(f"revoked {len(rows)} key(s)")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
