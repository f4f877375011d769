"""Deploy and wire the whole platform; write the deployment manifest.

    python -m scf.deploy --rpc-url http://127.0.0.1:8545 --out var/manifest.json

The operator's key comes from `SCF_OPERATOR_KEY` (hex) or, with `--dev`, from the dev chain's
well-known first account. The operator owns Membership and so administers every contract.

`scf deploy` requires invoices for every certificate (`setInvoicesRequired(true)`: the gateway's
issue must list the invoices backing it); `--invoices-optional` leaves the contract's default
(plain issue allowed). The `deploy()` function leaves it off unless asked (test fixtures).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, cast

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.types import TxParams

from scf_core.build import EVM_VERSION, SOLC_VERSION, load_artifacts
from scf_core.manifest import DeployedContract, Manifest

CURRENCY_NAME = ("Settlement Deposit CNY", "DCNY")
CERTIFICATE_NAME = ("Receivable Certificate", "RCERT")


class _Sender:
    """Signs locally and sends with explicit nonces; waits for each receipt."""

    def __init__(self, w3: Web3, account: LocalAccount) -> None:
        self.w3 = w3
        self.account = account
        self.nonce: int = w3.eth.get_transaction_count(account.address, "pending")
        self.chain_id = w3.eth.chain_id
        self.first_block: int | None = None

    def send(self, tx: dict[str, Any]) -> Any:
        tx.pop("maxFeePerGas", None)  # legacy transactions: accepted by every permissioned network
        tx.pop("maxPriorityFeePerGas", None)
        tx.update(
            {
                "from": self.account.address,
                "nonce": self.nonce,
                "chainId": self.chain_id,
                "gasPrice": self.w3.eth.gas_price,
            }
        )
        tx["gas"] = int(self.w3.eth.estimate_gas(cast(TxParams, tx)) * 1.2) + 10_000
        signed = self.account.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        self.nonce += 1
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
        if receipt["status"] != 1:
            raise RuntimeError(f"deployment transaction {tx_hash.hex()} reverted")
        if self.first_block is None:
            self.first_block = receipt["blockNumber"]
        return receipt

    def deploy(self, artifact: dict[str, Any], *args: Any) -> ChecksumAddress:
        factory = self.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        receipt = self.send(factory.constructor(*args).build_transaction({"from": self.account.address}))
        return Web3.to_checksum_address(receipt["contractAddress"])

    def call(self, contract: Any, fn: str, *args: Any) -> None:
        self.send(getattr(contract.functions, fn)(*args).build_transaction({"from": self.account.address}))


def deploy(rpc_url: str, operator_key: str, *, invoices_required: bool = False) -> Manifest:
    """Deploy Membership, SettlementToken, CertificateToken, Financing and Settlement and wire them;
    with ``invoices_required``, require invoices for every certificate."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 60}))
    operator: LocalAccount = Account.from_key(operator_key)
    artifacts = load_artifacts()
    sender = _Sender(w3, operator)

    membership = sender.deploy(artifacts["Membership"], operator.address)
    currency = sender.deploy(artifacts["SettlementToken"], *CURRENCY_NAME, membership)
    token = sender.deploy(artifacts["CertificateToken"], membership, *CERTIFICATE_NAME)
    financing = sender.deploy(artifacts["Financing"], membership, token, currency)
    settlement = sender.deploy(artifacts["Settlement"], membership, token, currency)
    addresses = {
        "Membership": membership,
        "SettlementToken": currency,
        "CertificateToken": token,
        "Financing": financing,
        "Settlement": settlement,
    }
    contracts = {
        name: DeployedContract(address=address, abi=artifacts[name]["abi"]) for name, address in addresses.items()
    }
    m = w3.eth.contract(address=membership, abi=artifacts["Membership"]["abi"])
    t = w3.eth.contract(address=token, abi=artifacts["CertificateToken"]["abi"])
    c = w3.eth.contract(address=currency, abi=artifacts["SettlementToken"]["abi"])
    # wired once: the token's and the currency's agents (Financing, Settlement) never change after
    sender.call(t, "setSystemContracts", financing, settlement)
    sender.call(c, "setSystemContracts", financing, settlement)
    for system in (token, financing, settlement):
        sender.call(m, "setSystemContract", system, True)
    if invoices_required:
        sender.call(t, "setInvoicesRequired", True)

    assert sender.first_block is not None
    return Manifest(
        chain_id=sender.chain_id,
        deployment_block=sender.first_block,
        operator=operator.address,
        solc_version=SOLC_VERSION,
        evm_version=EVM_VERSION,
        contracts=contracts,
    )


def dev_operator_key() -> str:
    """The dev chain's first account (anvil's well-known mnemonic). Dev mode only."""
    from scf_core.devchain import DEV_MNEMONIC

    Account.enable_unaudited_hdwallet_features()
    key: str = Account.from_mnemonic(DEV_MNEMONIC, account_path="m/44'/60'/0'/0/0").key.hex()
    return key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rpc-url", default=os.environ.get("SCF_RPC_URL", "http://127.0.0.1:8545"))
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("SCF_MANIFEST", "var/manifest.json")))
    parser.add_argument("--dev", action="store_true", help="use the dev chain's first account as operator")
    parser.add_argument("--invoices-optional", action="store_true",
                        help="do not require invoices for issuing (default: required)")
    args = parser.parse_args(argv)
    key = os.environ.get("SCF_OPERATOR_KEY") or (dev_operator_key() if args.dev else None)
    if not key:
        print("set SCF_OPERATOR_KEY (the operator's private key) or pass --dev on a dev chain", file=sys.stderr)
        return 2
    manifest = deploy(args.rpc_url, key, invoices_required=not args.invoices_optional)
    manifest.save(args.out)
    print(f"deployed to chain {manifest.chain_id} from block {manifest.deployment_block}; manifest: {args.out}")
    for name, contract in manifest.contracts.items():
        print(f"  {name:<17} {contract.address}")
    print("invoices " + ("optional" if args.invoices_optional else "required for every certificate"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
