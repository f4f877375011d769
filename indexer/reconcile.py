"""Compare SQL with the chain at the indexed block (eth_call with that block number): every
holding's owner, value, tier, parent and freeze, every certificate's state, every member's role,
status and credit line, every offer's status (and a deal's registration reference), every
invoice's amount, used value and closure, and every settlement-currency balance, plus the
entity counts. The sets compared are the union of what SQL has and what the chain has (ids
1..count; members onboarded and currency holders from the chain's own logs up to the block), so a
row missing from SQL is a difference too. SQL is read in one snapshot (the follower may commit
meanwhile). Any difference is listed; the CLI exits non-zero."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select

from indexer import store
from indexer.decode import Decoder
from indexer.fetch import LogFetcher
from indexer.models import (
    CERT_STATUS_NAMES,
    EARLY_STATUS_NAMES,
    OFFER_STATUS_NAMES,
    QUOTE_STATUS_NAMES,
    RECOURSE_STATUS_NAMES,
    REQUEST_STATUS_NAMES,
    ROLE_NAMES,
    STATE_TABLES,
    ZERO_ADDRESS,
)
from scf_core import abi
from scf_core.manifest import Manifest
from scf_core.rpc import Rpc, RpcError


@dataclass(frozen=True)
class Difference:
    entity: str
    key: Any
    field: str
    sql: Any
    chain: Any

    def __str__(self) -> str:
        return f"{self.entity}[{self.key}].{self.field}: sql={self.sql!r} chain={self.chain!r}"


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
        address, item = self.fns[(contract, fn)]
        calls = [("eth_call", [{"to": address, "data": abi.encode_call(item, args)}, self.block]) for args in args_list]
        return [
            res if isinstance(res, RpcError) else abi.decode_output(item, res, checksum=False)
            for res in self.rpc.batch(calls, errors=True)
        ]

    def call(self, contract: str, fn: str, *args: Any) -> Any:
        return self.call_many(contract, fn, [list(args)])[0]


def read_snapshot(engine: Engine) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """The checkpoint and every state table, read in ONE snapshot: a follower committing a batch
    meanwhile must not mix two blocks' states (false differences). PostgreSQL: REPEATABLE READ;
    SQLite (WAL): an explicit BEGIN, since pysqlite opens no transaction for SELECTs."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN")
        else:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        return _read_all(conn)


def _read_all(conn: Connection) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    cp = store.load_checkpoint(conn)
    if cp is None:
        raise RuntimeError("nothing indexed yet")
    rows = {name: [dict(r) for r in conn.execute(select(t)).mappings()] for name, t in STATE_TABLES.items()}
    return cp, rows


def chain_logs(
    rpc: Rpc, decoder: Decoder, contract: str, address: str, event: str, from_block: int, to_block: int
) -> list[Any]:
    """Decoded logs of one event of one contract, straight from the node (adaptive ranges)."""
    topic0 = next(t for (a, t, _), d in decoder.by_key.items() if a == address.lower() and d.name == event)
    fetcher = LogFetcher(rpc, [address], start=100_000, topics=["0x" + topic0.hex()])
    out: list[Any] = []
    for logs in fetcher.fetch_all(from_block, to_block):
        for lg in logs:
            ev = decoder.decode(lg)
            if ev is not None and ev.contract == contract and ev.name == event:
                out.append(ev)
    return out


def reconcile(engine: Engine, rpc: Rpc, manifest: Manifest) -> tuple[int, list[Difference]]:
    """Returns (indexed block, differences)."""
    cp, rows = read_snapshot(engine)
    block = cp["block_number"]
    chain = ChainReader(rpc, manifest, block)
    decoder = Decoder(manifest)
    first = manifest.deployment_block

    def events(contract: str, event: str) -> list[Any]:
        return chain_logs(rpc, decoder, contract, manifest.contracts[contract].address, event, first, block)

    diffs: list[Difference] = []

    def cmp(entity: str, key: Any, field: str, sql: Any, onchain: Any) -> None:
        if sql != onchain:
            diffs.append(Difference(entity, key, field, sql, onchain))

    # holdings: ids 1..tokenCount on chain, plus whatever SQL has
    token_count = chain.call("CertificateToken", "tokenCount")
    by_token = {h["token_id"]: h for h in rows["holding"]}
    token_ids = sorted(set(by_token) | set(range(1, token_count + 1)))
    got = chain.call_many("CertificateToken", "holding", [[t] for t in token_ids])
    for key, c in zip(token_ids, got, strict=True):
        h = by_token.get(key)
        if h is None:
            # a burned holding no longer exists on chain: missing from SQL only if it is live there
            if not isinstance(c, RpcError):
                cmp("holding", key, "exists", False, True)
            continue
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
    cmp("holding", "*", "count", len(rows["holding"]), token_count)

    # certificates: ids 1..certificateCount, payee from the chain's CertificateIssued logs
    cert_count = chain.call("CertificateToken", "certificateCount")
    by_cert = {c["id"]: c for c in rows["certificate"]}
    cert_ids = sorted(set(by_cert) | set(range(1, cert_count + 1)))
    payees = {ev.args["certificateId"]: ev.args["payee"] for ev in events("CertificateToken", "CertificateIssued")}
    got = chain.call_many("CertificateToken", "certificate", [[i] for i in cert_ids])
    for key, c in zip(cert_ids, got, strict=True):
        s = by_cert.get(key)
        if s is None:
            cmp("certificate", key, "exists", False, not isinstance(c, RpcError))
            continue
        if isinstance(c, RpcError) or c["status"] == 0:
            cmp("certificate", key, "exists", True, False)
            continue
        cmp("certificate", key, "status", s["status"], CERT_STATUS_NAMES.get(c["status"], str(c["status"])))
        cmp("certificate", key, "debtor", s["debtor"], c["debtor"])
        cmp("certificate", key, "payee", s["payee"], payees.get(key))
        cmp("certificate", key, "face_value", s["face_value"], c["faceValue"])
        cmp("certificate", key, "redeemed_value", s["redeemed_value"], c["redeemedValue"])
        cmp("certificate", key, "issued_at", s["issued_at"], c["issuedAt"])
        cmp("certificate", key, "maturity", s["maturity"], c["maturity"])
        cmp("certificate", key, "document_hash", s["document_hash"], c["documentHash"])
        if "rootTokenId" in c:
            cmp("certificate", key, "first_token_id", s["first_token_id"], c["rootTokenId"])
    cmp("certificate", "*", "count", len(rows["certificate"]), cert_count)
    accounts = chain.call_many("Settlement", "account", [[c["id"]] for c in rows["certificate"]])
    for s, acct in zip(rows["certificate"], accounts, strict=True):
        if not isinstance(acct, RpcError):
            cmp("certificate", s["id"], "repaid_value", s["repaid_value"], acct["repaid"])

    # members and credit lines: SQL's and every account the chain's MemberOnboarded logs name
    by_member = {m["address"]: m for m in rows["member"]}
    credit = {r["debtor"]: r for r in rows["credit_line"]}
    onboarded = {ev.args["account"] for ev in events("Membership", "MemberOnboarded")}
    addresses = sorted(set(by_member) | onboarded | set(credit))
    got = chain.call_many("Membership", "memberOf", [[a] for a in addresses])
    for key, c in zip(addresses, got, strict=True):
        m = by_member.get(key)
        on_chain = not isinstance(c, RpcError) and c["role"] != 0
        if m is None or not on_chain:
            cmp("member", key, "exists", m is not None, on_chain)
            continue
        cmp("member", key, "role", m["role"], ROLE_NAMES.get(c["role"], str(c["role"])))
        cmp("member", key, "active", m["active"], c["active"])
        cmp("member", key, "kyc_hash", m["kyc_hash"], c["kycHash"])
        line = credit.get(key, {"limit": 0, "used": 0})
        cmp("credit_line", key, "limit", line["limit"], c["creditLimit"])
        cmp("credit_line", key, "used", line["used"], c["creditUsed"])

    # offers: ids 1..offerCount
    offer_count = chain.call("Financing", "offerCount")
    by_offer = {o["offer_id"]: o for o in rows["financing_offer"]}
    offer_ids = sorted(set(by_offer) | set(range(1, offer_count + 1)))
    got = chain.call_many("Financing", "offer", [[i] for i in offer_ids])
    for key, c in zip(offer_ids, got, strict=True):
        o = by_offer.get(key)
        if o is None:
            cmp("financing_offer", key, "exists", False, not isinstance(c, RpcError) and c["status"] != 0)
            continue
        if isinstance(c, RpcError):
            cmp("financing_offer", key, "exists", True, False)
            continue
        cmp("financing_offer", key, "status", o["status"], OFFER_STATUS_NAMES.get(c["status"]))
        cmp("financing_offer", key, "value", o["value"], c["value"])
        cmp("financing_offer", key, "factor", o["factor"], c["factor"])
        cmp("financing_offer", key, "price", o["price"], c["price"])
    cmp("financing_offer", "*", "count", len(rows["financing_offer"]), offer_count)
    zero = "0x" + "00" * 32
    deals = [o for o in rows["financing_offer"] if o["status"] == OFFER_STATUS_NAMES[2]]
    got = chain.call_many("Financing", "registration", [[o["offer_id"]] for o in deals])
    for o, c in zip(deals, got, strict=True):
        cmp("financing_offer", o["offer_id"], "registration_ref", o["registration_ref"] or zero, c)

    # invoices: SQL's and every key the chain's InvoiceBacked logs name
    by_key = {i["key"]: i for i in rows["invoice"]}
    keys = sorted(set(by_key) | {ev.args["key"] for ev in events("CertificateToken", "InvoiceBacked")})
    got = chain.call_many("CertificateToken", "invoice", [[bytes.fromhex(k[2:])] for k in keys])
    for key, c in zip(keys, got, strict=True):
        i = by_key.get(key)
        if i is None or isinstance(c, RpcError):
            cmp("invoice", key, "exists", i is not None, not isinstance(c, RpcError))
            continue
        cmp("invoice", key, "amount", i["amount"], c["amount"])
        cmp("invoice", key, "used", i["used"], c["used"])
        cmp("invoice", key, "closed", i["closed"], c["closed"])

    # the market: quote requests, quotes, early-payment offers, programmes (ids 1..count), and
    # the recourse status of every deal
    def entities(table: str, pk: str, contract: str, count_fn: str, view: str) -> list[tuple[Any, Any, Any]]:
        count = chain.call(contract, count_fn)
        mine = {r[pk]: r for r in rows[table]}
        ids = sorted(set(mine) | set(range(1, count + 1)))
        out = []
        for key, c in zip(ids, chain.call_many(contract, view, [[i] for i in ids]), strict=True):
            if key not in mine or isinstance(c, RpcError):
                cmp(table, key, "exists", key in mine, not isinstance(c, RpcError))
                continue
            out.append((key, mine[key], c))
        cmp(table, "*", "count", len(mine), count)
        return out

    for key, r, c in entities("quote_request", "request_id", "Financing", "quoteRequestCount", "quoteRequest"):
        cmp("quote_request", key, "status", r["status"], REQUEST_STATUS_NAMES.get(c["status"]))
        cmp("quote_request", key, "value", r["value"], c["value"])
        cmp("quote_request", key, "seller", r["seller"], c["seller"])
        cmp("quote_request", key, "token_id", r["token_id"], c["tokenId"])
        cmp("quote_request", key, "deadline", r["deadline"], c["deadline"])
    for key, r, c in entities("quote", "quote_id", "Financing", "quoteCount", "quoteOf"):
        cmp("quote", key, "status", r["status"], QUOTE_STATUS_NAMES.get(c["status"]))
        cmp("quote", key, "factor", r["factor"], c["factor"])
        cmp("quote", key, "price", r["price"], c["price"])
        cmp("quote", key, "rate_bps", r["rate_bps"], c["rateBps"])
    early = entities("early_payment_offer", "offer_id", "Settlement", "earlyPaymentOfferCount", "earlyPaymentOffer")
    for key, r, c in early:
        cmp("early_payment_offer", key, "status", r["status"], EARLY_STATUS_NAMES.get(c["status"]))
        cmp("early_payment_offer", key, "value", r["value"], c["value"])
        cmp("early_payment_offer", key, "debtor", r["debtor"], c["debtor"])
    for key, r, c in entities("programme", "programme_id", "Settlement", "programmeCount", "programme"):
        cmp("programme", key, "status", r["status"], "open" if c["open"] else "closed")
        cmp("programme", key, "budget", r["budget"], c["budget"])
        cmp("programme", key, "remaining", r["remaining"], c["remaining"])
    claims = {r["offer_id"]: r["status"] for r in rows["recourse_claim"]}
    deals = sorted({o["offer_id"] for o in rows["financing_offer"] if o["status"] == "accepted"} | set(claims))
    for key, c in zip(deals, chain.call_many("Financing", "deal", [[i] for i in deals]), strict=True):
        onchain = "error" if isinstance(c, RpcError) else RECOURSE_STATUS_NAMES.get(c["recourseStatus"])
        cmp("recourse_claim", key, "status", claims.get(key, "none"), onchain)

    # settlement currency: SQL's and every address the chain's Transfer logs name
    sql_balance = {b["address"]: b["balance"] for b in rows["currency_balance"]}
    parties = {a for ev in events("SettlementToken", "Transfer") for a in (ev.args["from"], ev.args["to"])}
    parties.discard(ZERO_ADDRESS)
    holders = sorted(set(sql_balance) | parties)
    got = chain.call_many("SettlementToken", "balanceOf", [[a] for a in holders])
    for key, c in zip(holders, got, strict=True):
        if key not in sql_balance:
            cmp("currency_balance", key, "exists", False, True)
        cmp("currency_balance", key, "balance", sql_balance.get(key, 0), c)
    supply = chain.call("SettlementToken", "totalSupply")
    cmp("currency_balance", "*", "total_supply", sum(sql_balance.values()), supply)
    return block, diffs
