"""Compare SQL with the chain at the indexed block (eth_call with that block number): every
holding's owner, value, tier, parent and freeze, every certificate's state, every member's role,
status and credit line, every offer's status and every settlement-currency balance, plus the
entity counts. Any difference is listed; the CLI exits non-zero."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak
from sqlalchemy import Engine, func, select

from indexer import store
from indexer.models import (
    CERT_STATUS_NAMES,
    OFFER_STATUS_NAMES,
    ROLE_NAMES,
    STATE_TABLES,
)
from indexer.rpc import Rpc, RpcError
from scf.manifest import Manifest


@dataclass(frozen=True)
class Difference:
    entity: str
    key: Any
    field: str
    sql: Any
    chain: Any

    def __str__(self) -> str:
        return f"{self.entity}[{self.key}].{self.field}: sql={self.sql!r} chain={self.chain!r}"


def _type(item: dict[str, Any]) -> str:
    t: str = item["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(_type(c) for c in item["components"]) + ")" + t[5:]
    return t


def _named(item: dict[str, Any], value: Any) -> Any:
    if item["type"] == "tuple":
        return {c["name"]: _named(c, v) for c, v in zip(item["components"], value, strict=True)}
    if item["type"] == "address":
        return value.lower()
    if item["type"].startswith("bytes") and isinstance(value, bytes):
        return "0x" + value.hex()
    return value


class ChainReader:
    """Batched eth_call of view functions of the manifest's contracts at one block."""

    def __init__(self, rpc: Rpc, manifest: Manifest, block: int) -> None:
        self.rpc = rpc
        self.block = hex(block)
        self.fns: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        for cname, c in manifest.contracts.items():
            for item in c.abi:
                if item.get("type") == "function":
                    self.fns.setdefault((cname, item["name"]), (c.address, item))

    def call_many(self, contract: str, fn: str, args_list: list[list[Any]]) -> list[Any]:
        from eth_abi import encode

        address, item = self.fns[(contract, fn)]
        in_types = [_type(i) for i in item["inputs"]]
        selector = keccak(text=f"{fn}({','.join(in_types)})")[:4]
        out_types = [_type(o) for o in item["outputs"]]
        calls = [
            ("eth_call", [{"to": address, "data": "0x" + (selector + encode(in_types, args)).hex()}, self.block])
            for args in args_list
        ]
        out: list[Any] = []
        for res in self.rpc.batch(calls, errors=True):
            if isinstance(res, RpcError):
                out.append(res)
                continue
            values = abi_decode(out_types, bytes.fromhex(res[2:]))
            named = [_named(o, v) for o, v in zip(item["outputs"], values, strict=True)]
            out.append(named[0] if len(named) == 1 else named)
        return out

    def call(self, contract: str, fn: str, *args: Any) -> Any:
        return self.call_many(contract, fn, [list(args)])[0]


def reconcile(engine: Engine, rpc: Rpc, manifest: Manifest) -> tuple[int, list[Difference]]:
    """Returns (indexed block, differences)."""
    with engine.connect() as conn:
        cp = store.load_checkpoint(conn)
        if cp is None:
            raise RuntimeError("nothing indexed yet")
        block = cp["block_number"]
        rows = {name: [dict(r) for r in conn.execute(select(t)).mappings()] for name, t in STATE_TABLES.items()}
        n_holdings = conn.execute(select(func.count()).select_from(STATE_TABLES["holding"])).scalar_one()
    chain = ChainReader(rpc, manifest, block)
    diffs: list[Difference] = []

    def cmp(entity: str, key: Any, field: str, sql: Any, onchain: Any) -> None:
        if sql != onchain:
            diffs.append(Difference(entity, key, field, sql, onchain))

    # holdings
    holdings = rows["holding"]
    got = chain.call_many("CertificateToken", "holding", [[h["token_id"]] for h in holdings])
    for h, c in zip(holdings, got, strict=True):
        key = h["token_id"]
        if isinstance(c, RpcError):
            if h["status"] != "burned":
                cmp("holding", key, "exists", True, False)
            continue
        if h["status"] == "burned":
            cmp("holding", key, "exists", False, True)
            continue
        cmp("holding", key, "owner", h["owner"], c["owner"])
        cmp("holding", key, "value", h["value"], c["value"])
        cmp("holding", key, "certificate_id", h["certificate_id"], c["certificateId"])
        cmp("holding", key, "parent_token_id", h["parent_token_id"], c["parentTokenId"])
        cmp("holding", key, "tier", h["tier"], c["tier"])
        cmp("holding", key, "frozen", h["frozen"], c["frozen"])
    if ("CertificateToken", "tokenCount") in chain.fns:
        cmp("holding", "*", "count", n_holdings, chain.call("CertificateToken", "tokenCount"))

    # certificates
    certs = rows["certificate"]
    got = chain.call_many("CertificateToken", "certificate", [[c["id"]] for c in certs])
    for s, c in zip(certs, got, strict=True):
        key = s["id"]
        if isinstance(c, RpcError):
            cmp("certificate", key, "exists", True, False)
            continue
        cmp("certificate", key, "status", s["status"], CERT_STATUS_NAMES.get(c["status"], str(c["status"])))
        cmp("certificate", key, "debtor", s["debtor"], c["debtor"])
        cmp("certificate", key, "face_value", s["face_value"], c["faceValue"])
        cmp("certificate", key, "redeemed_value", s["redeemed_value"], c["redeemedValue"])
        cmp("certificate", key, "maturity", s["maturity"], c["maturity"])
        cmp("certificate", key, "document_hash", s["document_hash"], c["documentHash"])
    cmp("certificate", "*", "count", len(certs), chain.call("CertificateToken", "certificateCount"))
    accounts = chain.call_many("Settlement", "account", [[c["id"]] for c in certs])
    for s, acct in zip(certs, accounts, strict=True):
        if not isinstance(acct, RpcError):
            cmp("certificate", s["id"], "repaid_value", s["repaid_value"], acct["repaid"])

    # members and credit lines
    members = rows["member"]
    credit = {r["debtor"]: r for r in rows["credit_line"]}
    got = chain.call_many("Membership", "memberOf", [[m["address"]] for m in members])
    for m, c in zip(members, got, strict=True):
        key = m["address"]
        if isinstance(c, RpcError):
            cmp("member", key, "exists", True, False)
            continue
        cmp("member", key, "role", m["role"], ROLE_NAMES.get(c["role"], str(c["role"])))
        cmp("member", key, "active", m["active"], c["active"])
        cmp("member", key, "kyc_hash", m["kyc_hash"], c["kycHash"])
        line = credit.get(key, {"limit": 0, "used": 0})
        cmp("credit_line", key, "limit", line["limit"], c["creditLimit"])
        cmp("credit_line", key, "used", line["used"], c["creditUsed"])

    # offers
    offers = rows["financing_offer"]
    got = chain.call_many("Financing", "offer", [[o["offer_id"]] for o in offers])
    for o, c in zip(offers, got, strict=True):
        if isinstance(c, RpcError):
            cmp("financing_offer", o["offer_id"], "exists", True, False)
            continue
        cmp("financing_offer", o["offer_id"], "status", o["status"], OFFER_STATUS_NAMES.get(c["status"]))
        cmp("financing_offer", o["offer_id"], "value", o["value"], c["value"])
    cmp("financing_offer", "*", "count", len(offers), chain.call("Financing", "offerCount"))

    # settlement currency
    balances = rows["currency_balance"]
    got = chain.call_many("SettlementToken", "balanceOf", [[b["address"]] for b in balances])
    for b, c in zip(balances, got, strict=True):
        cmp("currency_balance", b["address"], "balance", b["balance"], c)
    total = sum(b["balance"] for b in balances)
    cmp("currency_balance", "*", "total_supply", total, chain.call("SettlementToken", "totalSupply"))
    return block, diffs
