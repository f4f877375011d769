"""`scf demo` / `make demo`: a whole supply chain on a fresh local chain, then the auditor's view.

1. A fresh anvil on a free loopback port, the contracts deployed (operator: the dev chain's first
   account, written to an encrypted keystore like any production key).
2. The gateway, the indexer follower and the indexer's auditor API started as real processes
   (uvicorn on loopback, free ports), each in its own process group, with their databases,
   keystores and logs in a fresh run directory ``var/demo-<timestamp>/``.
3. The scenario, through the gateway's HTTP API only: onboarding (2 core enterprises, 14
   suppliers, 2 factors, 1 auditor, 1 clearing bank), credit lines, currency minted by the
   clearing bank, invoices required, certificates issued on invoices and accepted (an invoice used
   twice refused; one issue approved by a second user), split down to tier 3, financed, repaid in
   full / in part / not at all, marked overdue.
   The only direct node calls are dev-chain controls (``evm_increaseTime``/``evm_mine``) and reads.
4. The auditor's report from the indexer's API (lineage tree, exposure, tiers reached, financing)
   and a reconcile pass of the indexer's SQL against the chain.

Every process started is stopped on exit, error or Ctrl-C (process groups, SIGTERM then SIGKILL).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.tree import Tree

from scf_core import rpc
from scf_core.paths import ROOT

# piped into a log (no terminal) rich would assume 80 columns; the audit tables need more
console = Console(highlight=False, width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 120)
PY = sys.executable
DAY = 86_400
UNIT = 100  # settlement currency minor units (2 decimals)


class DemoError(RuntimeError):
    pass


# --- processes --------------------------------------------------------------------------------


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    url: str | None = None


@dataclass
class Processes:
    """Children in their own process groups; `stop_all` ends each group (TERM, then KILL)."""

    services: list[Service] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str], log: Path, url: str | None = None) -> Service:
        log.parent.mkdir(parents=True, exist_ok=True)
        with interrupts_deferred(), open(log, "ab") as out:
            process = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            service = Service(name, process, log, url)
            self.services.append(service)
        return service

    def adopt(self, name: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.services.append(Service(name, process, log))

    def check(self) -> None:
        for s in self.services:
            if s.process.poll() is not None:
                raise DemoError(f"{s.name} exited with code {s.process.returncode}:\n{tail(s.log)}")

    def stop_all(self, timeout: float = 10.0) -> None:
        for s in reversed(self.services):
            _signal_group(s.process, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for s in reversed(self.services):
            try:
                s.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(s.process, signal.SIGKILL)
                s.process.wait()
            # anything the service left behind in its group
            _signal_group(s.process, signal.SIGKILL)
        self.services.clear()


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def free_port() -> int:
    from scf.devchain import free_port as fp

    return fp()


def wait_http(procs: Processes, url: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        procs.check()
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code < 500:
                return
        if time.monotonic() > deadline:
            raise DemoError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.2)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (and SIGHUP) raise KeyboardInterrupt so `finally` blocks stop the children."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, h in previous.items():
            signal.signal(sig, h)


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Ctrl-C / SIGTERM arriving while a child is being started and registered is delivered just
    after, so no child escapes the clean-up."""
    received: list[int] = []
    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, lambda signum, _f: received.append(signum)) for sig in sigs}
    try:
        yield
    finally:
        for sig, h in previous.items():
            signal.signal(sig, h)
    if received:
        raise KeyboardInterrupt


@contextlib.contextmanager
def signals_ignored() -> Iterator[None]:
    """While stopping the children, a second Ctrl-C must not cut the clean-up short."""
    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in sigs}
    try:
        yield
    finally:
        for sig, h in previous.items():
            signal.signal(sig, h)


# --- chain helpers (dev-chain control and reads only) -----------------------------------------


class NodeRefused(rpc.RpcError, DemoError):
    """The chain node answered a JSON-RPC error."""


class NodeUnavailable(rpc.NodeUnavailable, DemoError):
    """The chain node's answer is malformed."""


class Node(rpc.Rpc):
    def __init__(self, url: str) -> None:
        super().__init__(url, 30, rpc_error=NodeRefused, unavailable=NodeUnavailable)

    def now(self) -> int:
        return int(self.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16)

    def head(self) -> int:
        return self.block_number()

    def travel(self, seconds: int) -> None:
        """Dev chain only: move the clock forward and mine a block."""
        self.call("evm_increaseTime", seconds)
        self.call("evm_mine")


# --- the gateway client -----------------------------------------------------------------------


def doc(label: str) -> str:
    """A stand-in for the hash of trade documents (invoice, contract, delivery note)."""
    return "0x" + hashlib.sha256(label.encode()).hexdigest()


class GatewayClient:
    """Thin client of the gateway's /v1 API: every write waits for its confirmed operation."""

    def __init__(self, base: str, timeout: float = 120.0) -> None:
        self.http = httpx.Client(base_url=base, timeout=timeout)
        self.writes = 0

    def _check(self, r: httpx.Response, what: str) -> Any:
        if r.status_code >= 400:
            raise DemoError(f"{what}: HTTP {r.status_code} {r.text[:500]}")
        return r.json()

    def get(self, key: str, path: str, **params: Any) -> Any:
        return self._check(self.http.get(path, headers={"X-API-Key": key}, params=params), f"GET {path}")

    def post(self, key: str, path: str, body: dict[str, Any] | None = None, method: str = "POST") -> dict[str, Any]:
        headers = {"X-API-Key": key, "Idempotency-Key": secrets.token_hex(12)}
        r = self.http.request(method, path, json=body or {}, headers=headers, params={"wait": "true"})
        data = self._check(r, f"{method} {path}")
        op = data.get("operation", data)
        if op.get("state") != "confirmed":
            raise DemoError(f"{method} {path}: operation {op.get('id')} ended {op.get('state')}: {op.get('error')}")
        self.writes += 1
        return dict(data)

    def put(self, key: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.post(key, path, body, method="PUT")


# --- the cast ---------------------------------------------------------------------------------


@dataclass
class Member:
    name: str
    role: str
    account: str = ""
    key: str = ""


CORES = ["Huaxin Motors", "Dongfang Grid"]
TIER1 = ["Changjiang Body Works", "Nanfeng Electric", "Qilu Cable", "Minjiang Transformers"]
TIER2 = ["Anhe Stamping", "Baiyun Wiring", "Chengxin Castings", "Dacheng Copper", "Eastlake Insulators"]
TIER3 = ["Fuxing Steel Strip", "Guangming Fasteners", "Hengtai Polymer", "Jinqiao Coatings", "Kaiyuan Logistics"]
FACTORS = ["Bank of Ningbo Factoring", "Pudong Supply Chain Finance"]
AUDITOR = "Consortium Audit Office"
CLEARING = "Shanghai Clearing Bank"  # the clearing agent: mints and burns the settlement currency


@dataclass
class Run:
    gw: GatewayClient
    node: Node
    operator_key: str
    members: dict[str, Member] = field(default_factory=dict)
    certs: dict[str, dict[str, Any]] = field(default_factory=dict)  # label -> {id, token, ...}
    holdings: dict[str, int] = field(default_factory=dict)  # label -> token id
    step: Callable[[str], None] = lambda _m: None

    def m(self, name: str) -> Member:
        return self.members[name]


def onboard(run: Run) -> None:
    cast = [(n, "core_enterprise") for n in CORES]
    cast += [(n, "supplier") for n in TIER1 + TIER2 + TIER3]
    cast += [(n, "factor") for n in FACTORS] + [(AUDITOR, "auditor"), (CLEARING, "clearing_agent")]
    for name, role in cast:
        data = run.gw.post(
            run.operator_key, "/v1/members", {"role": role, "kyc_hash": doc(f"kyc:{name}"), "label": name}
        )
        run.members[name] = Member(name, role, data["account"], data["api_key"])
        run.step(f"onboarded {role.replace('_', ' ')} {name} ({data['account'][:10]}...)")


def invoice(seller: str, number: str, amount: int, backed: int | None = None) -> dict[str, Any]:
    """A VAT invoice (增值税发票) of `seller` to its customer; the seller's unified social credit code
    is made up from its name (18 characters of the code's alphabet)."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    digest = hashlib.sha256(seller.encode()).digest()
    tax_id = "91" + "".join(alphabet[b % len(alphabet)] for b in digest[:16])
    out = {"seller_tax_id": tax_id, "invoice_code": "3100261130", "invoice_number": number, "amount": amount,
           "issue_date": datetime.now(UTC).date().isoformat()}
    return out if backed is None else {**out, "backed": backed}


def issue(run: Run, label: str, core: str, payee: str, face: int, days: int,
          invoices: list[dict[str, Any]] | None = None) -> None:
    """Issue backed by `invoices` (default: one invoice of the payee for the face value)."""
    maturity = run.node.now() + days * DAY
    number = f"{int(hashlib.sha256(label.encode()).hexdigest(), 16) % 10**8:08d}"
    op = run.gw.post(
        run.m(core).key,
        "/v1/certificates",
        {"payee": run.m(payee).account, "face_value": face, "maturity": maturity,
         "document_hash": doc(f"invoice:{label}"), "invoices": invoices or [invoice(payee, number, face)]},
    )
    res = op["result"]
    run.certs[label] = {"id": res["certificate_id"], "token": res["token_id"], "core": core, "face": face,
                        "maturity": maturity}
    run.holdings[f"{label}/{payee}"] = res["token_id"]
    run.gw.post(run.m(payee).key, f"/v1/certificates/{res['certificate_id']}/accept")
    run.step(f"{core} issued {label} ({money(face)}, {days} d) to {payee}; accepted")


def split(run: Run, label: str, frm: str, to: str, value: int) -> int:
    token = run.holdings[f"{label}/{frm}"]
    op = run.gw.post(
        run.m(frm).key,
        f"/v1/holdings/{token}/split-transfer",
        {"to": run.m(to).account, "value": value, "document_hash": doc(f"po:{label}:{frm}->{to}")},
    )
    new = int(op["result"]["new_token_id"])
    run.holdings[f"{label}/{to}"] = new
    run.step(f"{label}: {frm} paid {to} {money(value)} (holding #{new})")
    return new


def finance(run: Run, label: str, seller: str, factor: str, value: int, rate_bps: int) -> int:
    token = run.holdings[f"{label}/{seller}"]
    expires = run.node.now() + 7 * DAY
    offer = run.gw.post(
        run.m(seller).key,
        "/v1/financing/offers",
        {"token_id": token, "value": value, "factor": run.m(factor).account, "rate_bps": rate_bps,
         "expires_at": expires, "recourse": False, "document_hash": doc(f"factoring:{label}:{seller}")},
    )["result"]
    deal = run.gw.post(run.m(factor).key, f"/v1/financing/offers/{offer['offer_id']}/accept")["result"]
    run.holdings[f"{label}/{factor}"] = int(deal["new_token_id"])
    run.step(f"{label}: {seller} sold {money(value)} to {factor} at {rate_bps / 100:.2f}% for {money(deal['price'])}")
    return int(deal["price"])


def live(run: Run, label: str) -> list[int]:
    """The holdings of a certificate that still carry value (read through the gateway)."""
    tokens = sorted({tok for k, tok in run.holdings.items() if k.startswith(f"{label}/")})
    out = []
    for t in tokens:
        r = run.gw.http.get(f"/v1/holdings/{t}", headers={"X-API-Key": run.operator_key})
        if r.status_code == 404:  # burned
            continue
        if int(run.gw._check(r, f"GET /v1/holdings/{t}")["value"]) > 0:
            out.append(t)
    return out


def approval_scenario(run: Run) -> None:
    """Dual control (maker-checker): Dongfang Grid's admin adds a maker and a checker and sets a
    policy (issuing 500,000.00 or more needs one checker's approval); the maker's issue of CERT-E
    waits unsigned until the checker approves it, then it is confirmed and accepted."""
    core, payee = run.m(CORES[1]), run.m(TIER1[2])
    gw, headers = run.gw, {"X-API-Key": core.key}
    users = {}
    for label, role in [("Li Na, treasury clerk", "maker"), ("Wang Qiang, finance manager", "checker")]:
        users[role] = gw._check(gw.http.post("/v1/users", json={"label": label, "role": role}, headers=headers),
                                "POST /v1/users")
        run.step(f"dual control: {CORES[1]} added user {label!r} ({role})")
    threshold = 500_000 * UNIT
    gw._check(gw.http.put("/v1/approval-policy", headers=headers, json={
        "rules": [{"kind": "certificates.issue", "min_amount": threshold, "approvals": 1}]}), "PUT /v1/approval-policy")
    run.step(f"dual control: {CORES[1]} policy: issuing {money(threshold)} or more needs 1 checker's approval")
    face, maturity = 600_000 * UNIT, run.node.now() + 180 * DAY
    body = {"payee": payee.account, "face_value": face, "maturity": maturity, "document_hash": doc("invoice:CERT-E"),
            "invoices": [invoice(payee.name, "00081501", face)]}
    op = gw._check(gw.http.post("/v1/certificates", json=body, params={"wait": "true"},
                                headers={"X-API-Key": users["maker"]["api_key"]}), "POST /v1/certificates")
    if op["state"] != "awaiting_approval" or op["nonce"] is not None:
        raise DemoError(f"CERT-E should await approval unsigned: {op}")
    run.step(f"dual control: maker {users['maker']['label']} issued CERT-E ({money(face)}): awaiting approval, "
             f"0/{op['approvals_required']} approvals, not signed (no nonce)")
    checker = {"X-API-Key": users["checker"]["api_key"]}
    inbox = gw._check(gw.http.get("/v1/approvals", headers=checker), "GET /v1/approvals")
    if [item["id"] for item in inbox] != [op["id"]]:
        raise DemoError(f"the checker's inbox should hold CERT-E only: {inbox}")
    gw._check(gw.http.post(f"/v1/operations/{op['id']}/approve", json={"reason": "contract and invoice checked"},
                           headers=checker), "POST approve")
    done = gw.get(core.key, f"/v1/operations/{op['id']}", wait="true")
    if done["state"] != "confirmed":
        raise DemoError(f"CERT-E ended {done['state']}: {done['error']}")
    gw.writes += 1
    res = done["result"]
    run.certs["CERT-E"] = {"id": res["certificate_id"], "token": res["token_id"], "core": CORES[1], "face": face,
                           "maturity": maturity}
    run.holdings[f"CERT-E/{payee.name}"] = res["token_id"]
    gw.post(payee.key, f"/v1/certificates/{res['certificate_id']}/accept")
    run.step(f"dual control: checker {users['checker']['label']} approved CERT-E (\"contract and invoice "
             f"checked\"): signed, confirmed as certificate #{res['certificate_id']}; {payee.name} accepted")


def market_scenario(run: Run) -> dict[str, Any]:
    """The financing market: a tier-3 supplier asks every factor for quotes on part of its holding,
    both factors quote, it takes the better (lower) rate (delivery versus payment); then a core
    enterprise pays a tier-3 holding early at a discount, offered to and accepted by the holder. Returns
    facts for the report."""
    seller, factors, core = TIER3[2], FACTORS, CORES[1]
    token = run.holdings[f"CERT-A/{seller}"]
    value = 50_000 * UNIT
    deadline = run.node.now() + 2 * DAY
    request = run.gw.post(
        run.m(seller).key,
        "/v1/financing/quote-requests",
        {"token_id": token, "value": value, "deadline": deadline, "recourse": False,
         "document_hash": doc(f"factoring:CERT-A:{seller}:rfq")},
    )["result"]["request_id"]
    run.step(f"CERT-A: {seller} (tier 3) asked every factor for quotes on {money(value)} (request #{request})")
    quotes = []
    for factor, rate in zip(factors, (480, 430), strict=True):
        q = run.gw.post(run.m(factor).key, f"/v1/financing/quote-requests/{request}/quotes", {"rate_bps": rate})
        quotes.append((int(q["result"]["price"]), factor, rate, int(q["result"]["quote_id"])))
        run.step(f"  {factor} quoted {rate / 100:.2f}% a year: price {money(q['result']['price'])}")
    price, factor, rate, quote = max(quotes)  # the best quote pays the seller most
    deal = run.gw.post(run.m(seller).key, f"/v1/financing/quotes/{quote}/accept")["result"]
    run.holdings[f"CERT-A/{factor}/rfq"] = int(deal["new_token_id"])
    run.step(f"  {seller} took {factor}'s quote at {rate / 100:.2f}%: {money(value)} for {money(deal['price'])}, "
             f"delivery versus payment (holding #{deal['new_token_id']}, deal #{deal['offer_id']})")

    holder = TIER3[0]
    early_token = run.holdings[f"CERT-D/{holder}"]
    early_value = 40_000 * UNIT
    offer = run.gw.post(
        run.m(core).key,
        "/v1/settlement/early-payments",
        {"token_id": early_token, "value": early_value, "rate_bps": 300, "expires_at": run.node.now() + 3 * DAY},
    )["result"]["early_payment_id"]
    paid = run.gw.post(run.m(holder).key, f"/v1/settlement/early-payments/{offer}/accept")["result"]
    run.step(f"CERT-D: {core} paid {money(early_value)} of {holder}'s holding #{early_token} "
             f"{paid['days_early']} days early at 3.00%: {money(paid['price'])} "
             f"(saved {money(early_value - int(paid['price']))})")
    return {"market": {"request": request, "deal": int(deal["offer_id"]), "early_payment": offer}}


def invoice_scenario(run: Run) -> None:
    """一票一证: a certificate backed by two invoices, then a second certificate on one of them refused."""
    core, seller = CORES[0], TIER1[1]
    inv1 = invoice(seller, "00072841", 300_000 * UNIT)
    inv2 = invoice(seller, "00072842", 250_000 * UNIT, backed=100_000 * UNIT)
    issue(run, "CERT-F", core, seller, 400_000 * UNIT, 180, [inv1, inv2])
    first = run.certs["CERT-F"]["id"]
    run.step(f"CERT-F (#{first}) rests on invoices {inv1['invoice_number']} ({money(inv1['amount'])}) and "
             f"{inv2['invoice_number']} ({money(100_000 * UNIT)} of {money(inv2['amount'])})")
    # the same invoice again, typed in lower case with spaces (the canonical key is the same): refused
    again = {**inv1, "seller_tax_id": f" {inv1['seller_tax_id'].lower()} "}
    body = {"payee": run.m(TIER1[2]).account, "face_value": again["amount"], "maturity": run.node.now() + 90 * DAY,
            "document_hash": doc("invoice:CERT-F-again"), "invoices": [again]}
    r = run.gw.http.post("/v1/certificates", json=body, headers={"X-API-Key": run.m(CORES[1]).key})
    err = r.json()
    refused = r.status_code == 409 and err.get("code") == "INVOICE_ALREADY_USED"
    if not refused or err["details"].get("certificate_id") != first:
        raise DemoError(f"invoice {inv1['invoice_number']} used twice was not refused: {r.status_code} {r.text[:300]}")
    run.step(f"{CORES[1]} tried to issue on invoice {inv1['invoice_number']} again: REFUSED "
             f"(HTTP 409 {err['code']}: {err['message']})")


def money(minor: int | float) -> str:
    return f"¥{minor / UNIT:,.2f}"


def play(run: Run) -> dict[str, Any]:
    """The scenario. Returns facts for the report (which certificate is which)."""
    op = run.operator_key
    onboard(run)

    # credit lines (授信) and currency, minted by the clearing bank against deposits (the operator
    # never touches client money): cores repay, factors pay for financing
    for core, limit in zip(CORES, (5_000_000 * UNIT, 3_000_000 * UNIT), strict=True):
        run.gw.put(op, f"/v1/members/{run.m(core).account}/credit-limit", {"limit": limit})
        run.step(f"credit line of {core}: {money(limit)}")
    run.gw.put(op, "/v1/system/invoices-required", {"required": True})
    run.step("operator requires invoices for every certificate (one invoice, one certificate)")
    for name, amount in [(CORES[0], 4_000_000 * UNIT), (CORES[1], 2_000_000 * UNIT),
                         (FACTORS[0], 2_000_000 * UNIT), (FACTORS[1], 2_000_000 * UNIT)]:
        run.gw.post(run.m(CLEARING).key, "/v1/currency/mint", {"to": run.m(name).account, "amount": amount})
        run.step(f"{CLEARING} minted {money(amount)} settlement currency to {name} against its deposit")

    t1, t2, t3 = TIER1, TIER2, TIER3
    # CERT-A: repaid in full and redeemed -- the one whose lineage is shown
    issue(run, "CERT-A", CORES[0], t1[0], 1_000_000 * UNIT, 90)
    split(run, "CERT-A", t1[0], t2[0], 400_000 * UNIT)
    split(run, "CERT-A", t1[0], t2[1], 250_000 * UNIT)
    split(run, "CERT-A", t2[0], t3[0], 150_000 * UNIT)
    split(run, "CERT-A", t2[0], t3[1], 100_000 * UNIT)
    split(run, "CERT-A", t2[1], t3[2], 80_000 * UNIT)
    # CERT-B: repaid in part (pro-rata)
    issue(run, "CERT-B", CORES[0], t1[1], 600_000 * UNIT, 90)
    split(run, "CERT-B", t1[1], t2[2], 300_000 * UNIT)
    split(run, "CERT-B", t2[2], t3[3], 120_000 * UNIT)
    # CERT-C: left unpaid, marked overdue
    issue(run, "CERT-C", CORES[1], t1[2], 800_000 * UNIT, 90)
    split(run, "CERT-C", t1[2], t2[3], 350_000 * UNIT)
    split(run, "CERT-C", t2[3], t3[4], 100_000 * UNIT)
    # CERT-D: longer term, still outstanding at the end
    issue(run, "CERT-D", CORES[1], t1[3], 500_000 * UNIT, 180)
    split(run, "CERT-D", t1[3], t2[4], 200_000 * UNIT)
    split(run, "CERT-D", t2[4], t3[0], 60_000 * UNIT)
    approval_scenario(run)  # CERT-E: dual control (maker-checker)
    invoice_scenario(run)  # CERT-F: one invoice, one certificate (a second certificate on it refused)

    # financing (保理): discounted sale, delivery versus payment
    finance(run, "CERT-A", t2[0], FACTORS[0], 100_000 * UNIT, 450)
    finance(run, "CERT-A", t3[1], FACTORS[1], 100_000 * UNIT, 520)
    finance(run, "CERT-B", t3[3], FACTORS[0], 120_000 * UNIT, 480)
    finance(run, "CERT-C", t2[3], FACTORS[1], 150_000 * UNIT, 600)
    finance(run, "CERT-D", t1[3], FACTORS[0], 100_000 * UNIT, 500)
    market = market_scenario(run)  # the market: quotes from two factors, early payment by the debtor

    # a judicial freeze (司法冻结) on one holding of CERT-D, kept in place
    frozen = run.holdings[f"CERT-D/{t3[0]}"]
    run.gw.post(op, f"/v1/holdings/{frozen}/freeze", {"reason_hash": doc("court-order:2026-0042")})
    run.step(f"operator froze holding #{frozen} (court order)")

    # maturity of A, B, C: the dev chain's clock moves on 91 days
    run.node.travel(91 * DAY)
    run.step("dev chain clock +91 days: CERT-A, CERT-B, CERT-C matured")

    a, b, c = run.certs["CERT-A"], run.certs["CERT-B"], run.certs["CERT-C"]
    run.gw.post(run.m(CORES[0]).key, "/v1/settlement/repay", {"certificate_id": a["id"], "amount": a["face"]})
    run.step(f"{CORES[0]} repaid CERT-A in full ({money(a['face'])})")
    # one holder redeems itself, the debtor settles the rest in one batch
    own = run.holdings[f"CERT-A/{t3[0]}"]
    run.gw.post(run.m(t3[0]).key, "/v1/settlement/redeem", {"token_id": own})
    run.step(f"{t3[0]} redeemed its holding #{own}")
    rest = [tok for tok in live(run, "CERT-A") if tok != own]
    run.gw.post(run.m(CORES[0]).key, "/v1/settlement/batch", {"token_ids": rest})
    run.step(f"{CORES[0]} settled the other {len(rest)} holdings of CERT-A in one batch")

    part = b["face"] * 60 // 100
    run.gw.post(run.m(CORES[0]).key, "/v1/settlement/repay", {"certificate_id": b["id"], "amount": part})
    b_tokens = live(run, "CERT-B")
    run.gw.post(run.m(CORES[0]).key, "/v1/settlement/batch", {"token_ids": b_tokens})
    run.step(f"{CORES[0]} repaid 60% of CERT-B ({money(part)}); paid out pro rata to {len(b_tokens)} holdings")

    run.node.travel(31 * DAY)
    run.gw.post(op, "/v1/settlement/mark-overdue", {"certificate_id": c["id"]})
    run.step("dev chain clock +31 days: grace period over; operator marked CERT-C overdue")
    return {"lineage": [("CERT-A, repaid in full and redeemed", a["id"]), ("CERT-C, overdue", c["id"])], **market}


# --- the auditor's report ---------------------------------------------------------------------


class AuditorClient:
    def __init__(self, base: str, key: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=60, headers={"X-API-Key": key})

    def get(self, path: str, **params: Any) -> Any:
        r = self.http.get(path, params=params)
        if r.status_code >= 400:
            raise DemoError(f"auditor API GET {path}: HTTP {r.status_code} {r.text[:300]}")
        return r.json()


def wait_indexed(auditor: AuditorClient, node: Node, procs: Processes, timeout: float = 120.0) -> int:
    head = node.head()
    deadline = time.monotonic() + timeout
    while True:
        procs.check()
        status = auditor.get("/health")
        block = int(status.get("indexed_block") or -1)
        if block >= head:
            return block
        if time.monotonic() > deadline:
            raise DemoError(f"the indexer is at block {block}, the chain at {head}")
        time.sleep(0.3)


def names_by_account(run: Run) -> dict[str, str]:
    return {m.account.lower(): m.name for m in run.members.values()}


def lineage_tree(run: Run, data: dict[str, Any]) -> Tree:
    names = names_by_account(run)

    def label(h: dict[str, Any]) -> str:
        owner = names.get(str(h["owner"]).lower(), str(h["owner"]))
        role = next((m.role for m in run.members.values() if m.account.lower() == str(h["owner"]).lower()), "")
        if h["status"] == "live":
            now = f"holds {money(h['value'])}" if h["value"] else "passed all of it on"
        else:
            now = "redeemed" if h["status"] == "burned" else h["status"]
        moved = f", moved {len(h['transfers'])}x" if h.get("transfers") else ""
        frozen = " [red]FROZEN[/]" if h.get("frozen") else ""
        return (f"[bold]#{h['token_id']}[/] tier {h['tier']} [cyan]{owner}[/] ({role.replace('_', ' ')}): "
                f"received {money(h['initial_value'])}, {now}{moved}{frozen} "
                f"[dim]doc {str(h['document_hash'])[:10]}... tx {str(h['created_tx'])[:10]}...[/]")

    cert = data["certificate"]
    debtor = names.get(str(cert["debtor"]).lower(), cert["debtor"])
    root = Tree(f"[bold cyan]certificate {cert['id']}[/] of {debtor}: face {money(cert['face_value'])}, "
                f"{cert['status']}, {data['holdings']} holdings down to tier {data['max_tier']}")

    def add(node: Tree, h: dict[str, Any]) -> None:
        branch = node.add(label(h))
        for child in h.get("children", []):
            add(branch, child)

    for h in data["tree"]:
        add(root, h)
    return root


def cell(value: Any, is_money: bool) -> str:
    if is_money:
        return money(value or 0)
    if isinstance(value, float):
        return f"{value:,.2f}"
    return "" if value is None else str(value)


def table(title: str, rows: list[dict[str, Any]], columns: list[tuple[str, str]],
          money_cols: set[str] | None = None) -> Table:
    t = Table(title=title, title_justify="left")
    for _, header in columns:
        left = header in ("member", "tier", "factor", "debtor", "bucket", "certificate", "status", "item", "seller",
                          "buyer", "holder")
        # fold, never ellipsize: a figure cut to "¥1,300,…" would misreport the audit
        t.add_column(header, justify="left" if left else "right", overflow="fold")
    for row in rows:
        t.add_row(*[cell(row.get(k), bool(money_cols and k in money_cols)) for k, _ in columns])
    return t


def report(run: Run, auditor: AuditorClient, facts: dict[str, Any]) -> None:
    names = names_by_account(run)
    console.print(Panel.fit("Auditor's report (from the indexer's API)", style="bold"))
    for title, cert_id in facts["lineage"]:
        lineage = auditor.get(f"/v1/certificates/{cert_id}/lineage")
        console.print(f"[bold]Lineage (penetration) of {title}[/]")
        console.print(lineage_tree(run, lineage))

    exposure = auditor.get("/v1/reports/exposure")
    rows = exposure.get("items", exposure) if isinstance(exposure, dict) else exposure
    for r in rows:
        r["member"] = names.get(str(r.get("debtor", "")).lower(), r.get("debtor"))
    console.print(table("Exposure per core enterprise", rows,
                        [("member", "debtor"), ("certificates", "certificates"), ("issued", "issued"),
                         ("outstanding", "outstanding"), ("financed", "financed"), ("repaid", "repaid"),
                         ("overdue", "overdue")],
                        {"issued", "outstanding", "financed", "repaid", "overdue"}))

    tiers = auditor.get("/v1/reports/tiers")
    rows = tiers.get("items", tiers) if isinstance(tiers, dict) else tiers
    console.print(table("Suppliers reached per tier", rows,
                        [("tier", "tier"), ("suppliers", "suppliers"), ("holders", "holders"),
                         ("holdings", "holdings"), ("value_received", "value received"),
                         ("value_held", "value held now")], {"value_received", "value_held"}))

    ageing = auditor.get("/v1/reports/ageing")
    rows = [b for b in ageing["buckets"] if b.get("certificates")]
    console.print(table("Ageing of outstanding value (days to maturity / past maturity, chain time)", rows,
                        [("bucket", "bucket"), ("certificates", "certificates"), ("outstanding", "outstanding"),
                         ("marked_overdue", "of which marked overdue")], {"outstanding", "marked_overdue"}))

    conservation = []
    for label, c in run.certs.items():
        data = auditor.get(f"/v1/certificates/{c['id']}/lineage")
        cert = data["certificate"]
        live, redeemed, face = int(data["live_value"]), int(cert["redeemed_value"]), int(cert["face_value"])
        if live + redeemed != face:
            raise DemoError(f"{label}: live {live} + redeemed {redeemed} != face {face}")
        conservation.append({"certificate": f"{label} (#{c['id']})", "status": cert["status"], "live": live,
                             "redeemed": redeemed, "face": face, "ok": "✓"})
    console.print(table("Invariant: live holdings + redeemed = face value", conservation,
                        [("certificate", "certificate"), ("status", "status"), ("live", "live"),
                         ("redeemed", "redeemed"), ("face", "face"), ("ok", "ok")], {"live", "redeemed", "face"}))

    fin = auditor.get("/v1/reports/financing")
    rows = fin.get("items", fin) if isinstance(fin, dict) else fin
    for r in rows:
        r["member"] = names.get(str(r.get("factor", "")).lower(), r.get("factor"))
    console.print(table("Financing per factor", rows,
                        [("member", "factor"), ("deals", "deals"), ("volume", "volume"),
                         ("paid", "paid"), ("discount", "discount"), ("avg_rate_bps", "avg rate (bps/yr)")],
                        {"volume", "paid", "discount"}))
    market_report(auditor, names)


def market_report(auditor: AuditorClient, names: dict[str, str]) -> None:
    """The market from the auditor API: requests for quotes and open offers, rates achieved per
    tier, and what early payment by the debtor saved."""
    rows = auditor.get("/v1/reports/market")["items"]
    for r in rows:
        r["member"] = names.get(str(r["seller"]).lower(), r["seller"])
        r["buyer"] = names.get(str(r["factor"] or "").lower(), r["factor"] or "")
        r["item"] = f"{r['kind'].replace('_', ' ')} #{r['id']}"
    console.print(table("Market: quote requests and open offers (best quote = lowest rate)", rows,
                        [("item", "item"), ("certificate_id", "certificate"), ("tier", "tier"), ("member", "seller"),
                         ("value", "value"), ("quotes", "quotes"), ("best_rate_bps", "best rate (bps/yr)"),
                         ("best_price", "best price"), ("buyer", "buyer"), ("state", "status")],
                        {"value", "best_price"}))
    rows = auditor.get("/v1/reports/rates", by="tier")["items"]
    console.print(table("Rates achieved per tier (all deals)", rows,
                        [("tier", "tier"), ("deals", "deals"), ("volume", "volume"), ("min_rate_bps", "min bps"),
                         ("avg_rate_bps", "volume-weighted bps"), ("max_rate_bps", "max bps")], {"volume"}))
    rows = auditor.get("/v1/reports/early-payments")["items"]
    for r in rows:
        r["member"] = names.get(str(r["debtor"]).lower(), r["debtor"])
        r["holder_name"] = names.get(str(r["holder"]).lower(), r["holder"])
    console.print(table("Early payments by the debtor (dynamic discounting)", rows,
                        [("member", "debtor"), ("holder_name", "holder"), ("value", "value"), ("paid", "paid"),
                         ("discount", "discount saved"), ("avg_days_early", "days early")],
                        {"value", "paid", "discount"}))


# --- the run ----------------------------------------------------------------------------------


def run(workdir: Path | None = None, keep: bool = False, audit: bool = True, serve: bool = False) -> int:
    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    work = (workdir or ROOT / "var" / f"demo-{stamp}-{os.getpid()}").resolve()
    work.mkdir(parents=True, exist_ok=True)
    procs = Processes()
    ok = interrupted = False
    try:
        with sigterm_as_interrupt():
            ok = _run(work, procs, started, audit, serve)
    except KeyboardInterrupt:
        interrupted = True
        console.print("[yellow]interrupted[/]")
    except DemoError as exc:
        console.print(f"[red]demo failed:[/] {exc}")
    finally:
        with signals_ignored(), console.status("stopping every process the demo started"):
            procs.stop_all()
        console.print("[green]✓[/] every process the demo started is stopped")
    if keep or (not ok and not interrupted):
        console.print(f"logs and databases kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else (130 if interrupted else 1)


@dataclass
class Stack:
    """A running stack: its URLs, this run's operator and auditor API keys, the services' environment."""

    env: dict[str, str]
    chain_url: str
    gateway_url: str
    auditor_url: str | None
    portal_url: str | None
    operator_key: str
    auditor_key: str
    logs: Path


def start_stack(work: Path, procs: Processes, audit: bool = True, portal: bool = True) -> Stack:
    """A fresh anvil, the contracts deployed, then the gateway, the indexer with its auditor API and
    the portal as processes on loopback (free ports), registered in `procs` (which stops them)."""
    from chain_gateway.signer import write_keystore
    from scf import devchain
    from scf.deploy import deploy, dev_operator_key

    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    with console.status("starting a fresh dev chain (anvil)"), interrupts_deferred():
        chain = devchain.start(None)
        procs.adopt("anvil", chain.process, logs / "anvil.log")
    console.print(f"[green]✓[/] anvil on {chain.url} (chain id {devchain.DEV_CHAIN_ID})")

    with console.status("deploying the contracts"):
        operator_key = dev_operator_key()
        manifest = deploy(chain.url, operator_key)
        manifest_path = work / "manifest.json"
        manifest.save(manifest_path)
    console.print(f"[green]✓[/] deployed from block {manifest.deployment_block}: "
                  + ", ".join(f"{n} {c.address[:10]}..." for n, c in manifest.contracts.items()))

    # secrets of this run: keystore passphrase in a 0600 file, API keys random, stored hashed
    secrets_dir = work / "secrets"
    secrets_dir.mkdir(mode=0o700)
    passphrase_file = secrets_dir / "keystore.pass"
    passphrase_file.write_text(secrets.token_urlsafe(24))
    passphrase_file.chmod(0o600)
    keystore = work / "keystore"
    write_keystore(keystore, operator_key, passphrase_file.read_text(), scrypt_n=2**14)
    operator_api_key = "scf_" + secrets.token_urlsafe(32)
    auditor_api_key = "scf_" + secrets.token_urlsafe(32)

    gw_port, aud_port, portal_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCF_")}  # the run is self-contained
    env.update({
        "PYTHONUNBUFFERED": "1",
        "SCF_RPC_URL": chain.url,
        "SCF_MANIFEST": str(manifest_path),
        "SCF_VAR_DIR": str(work),  # the databases and the keystore (work/keystore) live here
        "SCF_GATEWAY_KEYSTORE_PASSPHRASE_FILE": str(passphrase_file),
        "SCF_GATEWAY_KEYSTORE_SCRYPT_N": str(2**14),  # demo speed; production keeps 2**18
        "SCF_GATEWAY_BOOTSTRAP_OPERATOR_KEY_HASH": hashlib.sha256(operator_api_key.encode()).hexdigest(),
        "SCF_GATEWAY_CONFIRMATIONS": "1",
        "SCF_INDEXER_AUDITOR_KEY_HASHES": hashlib.sha256(auditor_api_key.encode()).hexdigest(),
        "SCF_INDEXER_POLL_INTERVAL_S": "0.2",
        "SCF_PORTAL_GATEWAY_URL": f"http://127.0.0.1:{gw_port}",
        "SCF_PORTAL_AUDITOR_URL": f"http://127.0.0.1:{aud_port}",
    })
    cli = [PY, "-m", "scf.cli"]
    auditor_url = portal_url = None

    with console.status("starting the gateway, the indexer, the auditor API and the portal"):
        gateway = procs.start("gateway", [*cli, "gateway", "--port", str(gw_port)], env, logs / "gateway.log",
                              f"http://127.0.0.1:{gw_port}")
        if audit:
            # the schema first (Alembic), so the follower and the API do not race to create it
            from indexer.db import upgrade

            upgrade(f"sqlite:///{work / 'indexer.db'}")  # SCF_VAR_DIR's indexer.db
            procs.start("indexer", [*cli, "indexer", "--verbose"], env, logs / "indexer.log")
            auditor_url = f"http://127.0.0.1:{aud_port}"
            procs.start("auditor-api", [*cli, "auditor-api", "--port", str(aud_port)], env, logs / "auditor-api.log",
                        auditor_url)
            wait_http(procs, f"{auditor_url}/openapi.json")
        if portal:
            portal_url = f"http://127.0.0.1:{portal_port}"
            procs.start("portal", [*cli, "portal", "--port", str(portal_port)], env, logs / "portal.log", portal_url)
            wait_http(procs, f"{portal_url}/login")
        wait_http(procs, f"{gateway.url}/v1/health")
    console.print(f"[green]✓[/] gateway {gateway.url}"
                  + (f", auditor API {auditor_url}, indexer following" if audit else "")
                  + (f", portal {portal_url}" if portal else "")
                  + f" (logs in {logs})")
    return Stack(env, chain.url, str(gateway.url), auditor_url, portal_url, operator_api_key, auditor_api_key, logs)


def _run(work: Path, procs: Processes, started: float, audit: bool = True, serve: bool = False) -> bool:
    console.print(Panel.fit("Supply-chain finance on a permissioned EVM chain: the demo", style="bold cyan"))
    console.print(f"run directory: {work}")
    stack = start_stack(work, procs, audit=audit)
    chain_url, env, cli = stack.chain_url, stack.env, [PY, "-m", "scf.cli"]
    operator_api_key, auditor_api_key = stack.operator_key, stack.auditor_key

    node = Node(chain_url)
    gw = GatewayClient(stack.gateway_url)
    count = {"n": 0}

    def step(message: str) -> None:
        procs.check()
        count["n"] += 1
        console.print(f"  [dim]{count['n']:>3}[/] {message}")

    console.rule("the supply chain, through the gateway's API")
    run_ = Run(gw=gw, node=node, operator_key=operator_api_key, step=step)
    facts = play(run_)
    console.print(f"[green]✓[/] {gw.writes} confirmed operations through the gateway")
    if not audit:
        return True

    auditor = AuditorClient(str(stack.auditor_url), auditor_api_key)
    with console.status("waiting for the indexer to reach the chain's head"):
        block = wait_indexed(auditor, node, procs)
    console.print(f"[green]✓[/] indexed up to block {block}")
    console.rule("the auditor's view")
    report(run_, auditor, facts)

    with console.status("reconciling the indexer's SQL against the chain"):
        rec = subprocess.run([*cli, "reconcile"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if rec.returncode != 0:
        raise DemoError(f"reconcile found differences (exit {rec.returncode}):\n{rec.stdout}\n{rec.stderr}")
    summary = (rec.stdout.strip().splitlines() or [""])[-1]
    console.print(f"[green]✓[/] reconcile against the chain: {summary} (holdings, certificates, members, credit "
                  "lines, offers, balances)")
    console.print(f"[bold green]demo complete[/] in {time.monotonic() - started:.0f} s")
    if serve:
        serve_until_interrupted(procs, stack, run_)
    else:
        console.print(f"portal: {stack.portal_url} (up while the demo runs; `scf demo --serve` keeps it up, with "
                      "the API keys to log in with)")
    return True


def serve_until_interrupted(procs: Processes, stack: Stack, run_: Run) -> None:
    """`--serve`: leave the stack up for exploring (the portal, OpenAPI pages, curl) until Ctrl-C."""
    t = Table(title="The stack stays up until Ctrl-C (dev keys of this run only)", title_justify="left")
    t.add_column("what")
    t.add_column("where / key", overflow="fold")
    t.add_row("chain (anvil)", stack.chain_url)
    t.add_row("gateway", f"{stack.gateway_url}/docs")
    t.add_row("auditor API", f"{stack.auditor_url}/docs")
    t.add_row("portal", f"{stack.portal_url} (log in with a key below)")
    t.add_row("operator API key", stack.operator_key)
    t.add_row("auditor API key (auditor API, portal dashboard)", stack.auditor_key)
    for m in run_.members.values():
        t.add_row(f"{m.name} ({m.role.replace('_', ' ')})", m.key)
    console.print(t)
    try:
        while True:
            procs.check()
            time.sleep(1)
    except KeyboardInterrupt:
        console.print("stopping")
