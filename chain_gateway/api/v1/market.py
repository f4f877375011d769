"""The financing market: open offers, quotes (RFQ), deals and recourse (Financing); early payment by
the debtor and standing programmes (Settlement). Reads come from the contracts' views; lists scan
ids newest first in pages (`before` cursor), batched in JSON-RPC batches."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, BeforeValidator, Field

from chain_gateway import operations
from chain_gateway.api.v1.financing import OFFER_STATUS, get_offer, offer_out
from chain_gateway.api.v1.holdings import own_holding
from chain_gateway.deps import (
    AUTHENTICATED,
    FINAL,
    Address,
    Bytes32,
    CallerDep,
    CoreDep,
    FactorDep,
    GatewayDep,
    HolderDep,
    IdemKey,
    PathUint256,
    QueryUint256,
    Uint32,
    Uint64,
    Uint128,
    Uint256,
    WaitDep,
    ascii_digits,
    b32,
    same,
    write,
)
from chain_gateway.errors import Forbidden, NotFound
from chain_gateway.gateway import Gateway
from chain_gateway.models import ApiKey, OperationOut, Role
from scf_core.rpc import RpcError

financing = APIRouter(prefix="/financing", tags=["market"], responses=AUTHENTICATED)
settlement = APIRouter(prefix="/settlement", tags=["market"], responses=AUTHENTICATED)

REQUEST_STATUS = ["none", "open", "accepted", "cancelled"]
QUOTE_STATUS = ["none", "open", "accepted", "withdrawn"]
RECOURSE_STATUS = ["none", "unpaid", "settled"]
EARLY_STATUS = ["none", "open", "accepted", "cancelled"]
ZERO = "0x" + "0" * 40
SCAN = 1000  # ids looked at per list request at most (the page says where to go on: next_before)
BATCH = 200
OVERSEERS = (Role.operator, Role.auditor)

Limit = Annotated[int, BeforeValidator(ascii_digits), Query(ge=1, le=100, description="items per page")]
Status = Annotated[str | None, Query(pattern="^(open|accepted|cancelled|withdrawn)$", description="filter")]
For = Annotated[Literal["me"], Query(alias="for", description="lists are always for the caller (see docs)")]


def _name(names: list[str], value: int) -> str | int:
    return names[value] if value < len(names) else value


async def _views(gw: Gateway, contract: str, fn: str, ids: list[int]) -> dict[int, Any]:
    """fn(id) for every id, in JSON-RPC batches; ids the view refuses are left out."""
    to = gw.contracts.address(contract)
    out: dict[int, Any] = {}
    for i in range(0, len(ids), BATCH):
        part = ids[i : i + BATCH]
        calls = [("eth_call", [{"to": to, "data": gw.contracts.encode(contract, fn, [x])}, "latest"]) for x in part]
        for x, res in zip(part, await gw.rpc.batch(calls), strict=True):
            if not isinstance(res, RpcError):
                out[x] = gw.contracts.decode_output(contract, fn, res)
    return out


def scan_ids(count: int, before: int | None) -> list[int]:
    """The ids one page looks at: below `before`, newest first, at most SCAN (ids run 1..count)."""
    top = count if before is None else min(before - 1, count)
    return list(range(top, max(0, top - SCAN), -1))


async def _page_ids(gw: Gateway, contract: str, count_fn: str, before: int | None) -> list[int]:
    return scan_ids(int(await operations.view(gw, contract, count_fn, [])), before)


def page(items: list[dict[str, Any]], ids: list[int], key: str, limit: int) -> dict[str, Any]:
    """The first `limit` items; `next_before` continues after the last id returned (or scanned)."""
    if len(items) > limit:
        items = items[:limit]
        return {"items": items, "next_before": items[-1][key]}
    last = ids[-1] if ids else 0
    return {"items": items, "next_before": last if last > 1 else None}


async def _chain_now(gw: Gateway) -> int:
    block = await gw.rpc.call("eth_getBlockByNumber", "latest", False)
    return int(block["timestamp"], 16) if block else int(time.time())


# --- open offers ----------------------------------------------------------------------------


class OpenOfferIn(BaseModel):
    token_id: Uint256
    value: Uint128
    factors: list[Address] = Field(default_factory=list, max_length=100,
                                   description="the factors invited; empty: every active factor")
    rate_bps: Uint32 = Field(description="annual discount rate in basis points")
    expires_at: Uint64 = Field(description="unix seconds")
    recourse: bool = False
    document_hash: Bytes32


@financing.post("/open-offers", status_code=202, response_model=OperationOut, responses=FINAL)
async def create_open_offer(body: OpenOfferIn, gw: GatewayDep, caller: HolderDep, idem: IdemKey, wait: WaitDep,
                            response: Response):
    """Offer `value` of your holding to every active factor or to `factors`; the first invited factor
    to accept (`POST /financing/offers/{id}/accept`) gets it (result: offer_id, price)."""
    return await write(gw, caller, "financing.create_open_offer", "Financing", "createOpenOffer",
                       [body.token_id, body.value, body.factors, body.rate_bps, body.expires_at, body.recourse,
                        b32(body.document_hash)],
                       body.model_dump(mode="json"), idem, wait, response,
                       precheck=lambda: own_holding(gw, caller, body.token_id))


@financing.get("/offers")
async def list_offers(gw: GatewayDep, caller: CallerDep, status: Status = None, for_: For = "me",
                      before: QueryUint256 | None = None, limit: Limit = 50) -> dict[str, Any]:
    """Offers newest first: yours (as seller or factor) and the open offers you may accept (a factor
    invited to an open offer); the operator and the auditor see all."""
    ids = await _page_ids(gw, "Financing", "offerCount", before)
    offers = await _views(gw, "Financing", "offer", ids)
    items = []
    open_to_all = [i for i in ids if i in offers and offers[i]["factor"] == ZERO and offers[i]["status"] == 1]
    invited: dict[int, bool] = {}
    if caller.role == Role.factor and open_to_all:
        to = gw.contracts.address("Financing")
        calls = [("eth_call", [{"to": to, "data": gw.contracts.encode("Financing", "isInvited", [i, caller.account])},
                               "latest"]) for i in open_to_all]
        for i, res in zip(open_to_all, await gw.rpc.batch(calls), strict=True):
            invited[i] = not isinstance(res, RpcError) and bool(gw.contracts.decode_output("Financing", "isInvited",
                                                                                               res))
    for i in ids:
        o = offers.get(i)
        if o is None:
            continue
        out = offer_out(i, o)
        if status is not None and out["status"] != status:
            continue
        mine = same(o["seller"], caller.account) or same(o["factor"], caller.account) or invited.get(i, False)
        if caller.role in OVERSEERS or mine:
            items.append(out)
    return page(items, ids, "offer_id", limit)


# --- quotes (RFQ) ---------------------------------------------------------------------------


class QuoteRequestIn(BaseModel):
    token_id: Uint256
    value: Uint128
    deadline: Uint64 = Field(description="unix seconds; quotes are submitted and accepted before it")
    recourse: bool = False
    document_hash: Bytes32


class QuoteIn(BaseModel):
    rate_bps: Uint32 = Field(description="annual discount rate in basis points")


def request_out(request_id: int, r: dict[str, Any]) -> dict[str, Any]:
    return {
        "request_id": request_id, "token_id": r["tokenId"], "seller": r["seller"], "value": r["value"],
        "deadline": r["deadline"], "recourse": r["recourse"], "status": _name(REQUEST_STATUS, r["status"]),
        "document_hash": r["documentHash"],
    }


def quote_out(quote_id: int, q: dict[str, Any]) -> dict[str, Any]:
    return {
        "quote_id": quote_id, "request_id": q["requestId"], "factor": q["factor"], "price": q["price"],
        "rate_bps": q["rateBps"], "days_to_maturity": q["daysToMaturity"], "status": _name(QUOTE_STATUS, q["status"]),
    }


async def get_request(gw: Gateway, request_id: int) -> dict[str, Any]:
    return dict(await operations.view(gw, "Financing", "quoteRequest", [request_id]))


async def get_quote(gw: Gateway, quote_id: int) -> dict[str, Any]:
    return dict(await operations.view(gw, "Financing", "quoteOf", [quote_id]))


@financing.post("/quote-requests", status_code=202, response_model=OperationOut, responses=FINAL)
async def request_quotes(body: QuoteRequestIn, gw: GatewayDep, caller: HolderDep, idem: IdemKey, wait: WaitDep,
                         response: Response):
    """Ask every active factor for a quote on `value` of your holding until `deadline` (result: request_id)."""
    return await write(gw, caller, "financing.request_quotes", "Financing", "requestQuotes",
                       [body.token_id, body.value, body.deadline, body.recourse, b32(body.document_hash)],
                       body.model_dump(mode="json"), idem, wait, response,
                       precheck=lambda: own_holding(gw, caller, body.token_id))


async def _requester(gw: Gateway, caller: ApiKey, request_id: int) -> dict[str, Any]:
    r = await get_request(gw, request_id)
    if not same(r["seller"], caller.account):
        raise Forbidden("only the request's seller may do this", {"request_id": request_id})
    return r


async def _quoter(gw: Gateway, caller: ApiKey, quote_id: int) -> None:
    q = await get_quote(gw, quote_id)
    if not same(q["factor"], caller.account):
        raise Forbidden("only the quoting factor may do this", {"quote_id": quote_id})


async def _quote_requester(gw: Gateway, caller: ApiKey, quote_id: int) -> None:
    q = await get_quote(gw, quote_id)
    await _requester(gw, caller, q["requestId"])


@financing.post("/quote-requests/{request_id}/quotes", status_code=202, response_model=OperationOut,
                responses=FINAL)
async def submit_quote(request_id: PathUint256, body: QuoteIn, gw: GatewayDep, caller: FactorDep, idem: IdemKey,
                       wait: WaitDep, response: Response):
    """Quote a rate; the price is fixed now and the quote is firm until the deadline (result: quote_id,
    price, rate_bps, days_to_maturity)."""
    return await write(gw, caller, "financing.submit_quote", "Financing", "submitQuote", [request_id, body.rate_bps],
                       {"request_id": request_id, **body.model_dump(mode="json")}, idem, wait, response,
                       precheck=lambda: get_request(gw, request_id))


@financing.post("/quote-requests/{request_id}/cancel", status_code=202, response_model=OperationOut,
                responses=FINAL)
async def cancel_quote_request(request_id: PathUint256, gw: GatewayDep, caller: HolderDep, idem: IdemKey,
                               wait: WaitDep, response: Response):
    return await write(gw, caller, "financing.cancel_quote_request", "Financing", "cancelQuoteRequest", [request_id],
                       {"request_id": request_id}, idem, wait, response,
                       precheck=lambda: _requester(gw, caller, request_id))


@financing.post("/quotes/{quote_id}/withdraw", status_code=202, response_model=OperationOut, responses=FINAL)
async def withdraw_quote(quote_id: PathUint256, gw: GatewayDep, caller: FactorDep, idem: IdemKey, wait: WaitDep,
                         response: Response):
    return await write(gw, caller, "financing.withdraw_quote", "Financing", "withdrawQuote", [quote_id],
                       {"quote_id": quote_id}, idem, wait, response, precheck=lambda: _quoter(gw, caller, quote_id))


@financing.post("/quotes/{quote_id}/accept", status_code=202, response_model=OperationOut, responses=FINAL)
async def accept_quote(quote_id: PathUint256, gw: GatewayDep, caller: HolderDep, idem: IdemKey, wait: WaitDep,
                       response: Response):
    """The requester takes a quote: delivery versus payment (result: quote_id, offer_id, new_token_id, price)."""
    return await write(gw, caller, "financing.accept_quote", "Financing", "acceptQuote", [quote_id],
                       {"quote_id": quote_id}, idem, wait, response,
                       precheck=lambda: _quote_requester(gw, caller, quote_id))


def _sees_all_quotes(caller: ApiKey, r: dict[str, Any], now: int) -> bool:
    """Before the deadline a factor sees only its own quotes; the seller, operator and auditor see all."""
    return caller.role in OVERSEERS or same(r["seller"], caller.account) or now >= r["deadline"]


@financing.get("/quote-requests")
async def list_quote_requests(gw: GatewayDep, caller: CallerDep, status: Status = None, for_: For = "me",
                              before: QueryUint256 | None = None, limit: Limit = 50) -> dict[str, Any]:
    """Requests newest first: a factor sees every request (those with status open and before their
    deadline it may quote); a supplier its own; the operator and the auditor all."""
    ids = await _page_ids(gw, "Financing", "quoteRequestCount", before)
    requests = await _views(gw, "Financing", "quoteRequest", ids)
    now = await _chain_now(gw)
    items = []
    for i in ids:
        r = requests.get(i)
        if r is None:
            continue
        out = request_out(i, r)
        if status is not None and out["status"] != status:
            continue
        if status == "open" and now >= r["deadline"]:
            continue  # open on chain but no longer quotable
        if caller.role in OVERSEERS or caller.role == Role.factor or same(r["seller"], caller.account):
            items.append(out)
    return page(items, ids, "request_id", limit)


@financing.get("/quote-requests/{request_id}")
async def read_quote_request(request_id: PathUint256, gw: GatewayDep, caller: CallerDep) -> dict[str, Any]:
    """The request and its quotes (a factor sees only its own quotes before the deadline). The chain
    itself is public to the consortium's node operators: this privacy is the gateway's."""
    r = await get_request(gw, request_id)
    if caller.role not in OVERSEERS and caller.role != Role.factor and not same(r["seller"], caller.account):
        raise Forbidden("not your request", {"request_id": request_id})
    count = int(await operations.view(gw, "Financing", "quoteCount", []))
    quotes = await _views(gw, "Financing", "quoteOf", list(range(1, count + 1)))
    see_all = _sees_all_quotes(caller, r, await _chain_now(gw))
    out = request_out(request_id, r)
    out["quotes"] = [quote_out(i, q) for i, q in sorted(quotes.items())
                     if q["requestId"] == request_id and (see_all or same(q["factor"], caller.account))]
    out["quotes_visible"] = "all" if see_all else "own"
    return out


@financing.get("/quotes/{quote_id}")
async def read_quote(quote_id: PathUint256, gw: GatewayDep, caller: CallerDep) -> dict[str, Any]:
    q = await get_quote(gw, quote_id)
    r = await get_request(gw, q["requestId"])
    if not same(q["factor"], caller.account) and not _sees_all_quotes(caller, r, await _chain_now(gw)):
        raise Forbidden("not your quote", {"quote_id": quote_id})
    if caller.role not in OVERSEERS and caller.role != Role.factor and not same(r["seller"], caller.account):
        raise Forbidden("not your quote", {"quote_id": quote_id})
    return quote_out(quote_id, q)


# --- deals and recourse ---------------------------------------------------------------------


def deal_out(offer_id: int, d: dict[str, Any], amount: int, value: int) -> dict[str, Any]:
    return {
        "offer_id": offer_id, "seller": d["seller"], "factor": d["factor"], "value": d["value"], "price": d["price"],
        "recourse": d["recourse"], "new_token_id": d["newTokenId"],
        "recourse_status": _name(RECOURSE_STATUS, d["recourseStatus"]),
        "recourse_amount": amount, "value_left": value,
    }


async def _deal(gw: Gateway, offer_id: int) -> dict[str, Any]:
    o = await get_offer(gw, offer_id)
    if o["status"] != OFFER_STATUS.index("accepted"):
        raise NotFound("no such deal (an accepted offer)", {"offer_id": offer_id})
    return dict(await operations.view(gw, "Financing", "deal", [offer_id]))


async def _deal_party(gw: Gateway, caller: ApiKey, offer_id: int, fields: tuple[str, ...]) -> dict[str, Any]:
    d = await _deal(gw, offer_id)
    if not any(same(d[f], caller.account) for f in fields):
        raise Forbidden(f"only the deal's {' or '.join(fields)} may do this", {"offer_id": offer_id})
    return d


@financing.get("/deals/{offer_id}")
async def read_deal(offer_id: PathUint256, gw: GatewayDep, caller: CallerDep) -> dict[str, Any]:
    """An accepted offer: parties, price, the factor's new holding, recourse state and what buying
    the holding back would cost now (recourse_amount for value_left)."""
    d = await _deal(gw, offer_id)
    if caller.role not in OVERSEERS and not (same(d["seller"], caller.account) or same(d["factor"], caller.account)):
        raise Forbidden("not a party to this deal", {"offer_id": offer_id})
    amount, value = await operations.view(gw, "Financing", "recourseAmount", [offer_id])
    ref = await operations.view(gw, "Financing", "registration", [offer_id])
    return {**deal_out(offer_id, d, amount, value), "registration_ref": None if int(ref, 16) == 0 else ref}


@financing.post("/deals/{offer_id}/recourse", status_code=202, response_model=OperationOut, responses=FINAL)
async def exercise_recourse(offer_id: PathUint256, gw: GatewayDep, caller: FactorDep, idem: IdemKey, wait: WaitDep,
                            response: Response):
    """The factor makes the seller buy the holding back (certificate overdue); paid through the seller's
    currency allowance to Financing (`POST /financing/recourse-allowance`), else recorded unpaid
    (result: recourse `settled` or `unpaid`, recourse_amount)."""
    return await write(gw, caller, "financing.exercise_recourse", "Financing", "exerciseRecourse", [offer_id],
                       {"offer_id": offer_id}, idem, wait, response,
                       precheck=lambda: _deal_party(gw, caller, offer_id, ("factor",)))


@financing.post("/deals/{offer_id}/settle-recourse", status_code=202, response_model=OperationOut,
                responses=FINAL)
async def settle_recourse(offer_id: PathUint256, gw: GatewayDep, caller: HolderDep, idem: IdemKey, wait: WaitDep,
                          response: Response):
    """Settle an unpaid recourse claim (seller or factor; result: recourse `settled`, recourse_amount)."""
    return await write(gw, caller, "financing.settle_recourse", "Financing", "settleRecourse", [offer_id],
                       {"offer_id": offer_id}, idem, wait, response,
                       precheck=lambda: _deal_party(gw, caller, offer_id, ("seller", "factor")))


class RegistrationIn(BaseModel):
    ref: Bytes32 = Field(description="hash of the deal's registration number at the receivables registry "
                                     "(中登网); set once, never zero")


@financing.post("/deals/{offer_id}/registration", status_code=202, response_model=OperationOut, responses=FINAL)
async def set_registration(offer_id: PathUint256, body: RegistrationIn, gw: GatewayDep, caller: FactorDep,
                           idem: IdemKey, wait: WaitDep, response: Response):
    """The deal's factor records its registration reference (`Financing.setRegistration`; once:
    a second is `FinancingRegistrationAlreadySet`, zero is `FinancingZeroRegistration`)."""
    return await write(gw, caller, "financing.set_registration", "Financing", "setRegistration",
                       [offer_id, b32(body.ref)], {"offer_id": offer_id, **body.model_dump()}, idem, wait, response,
                       precheck=lambda: _deal_party(gw, caller, offer_id, ("factor",)))


class AllowanceIn(BaseModel):
    amount: Uint128 = Field(description="currency Financing may take from you for recourse (0 clears it)")


@financing.post("/recourse-allowance", status_code=202, response_model=OperationOut, responses=FINAL)
async def recourse_allowance(body: AllowanceIn, gw: GatewayDep, caller: HolderDep, idem: IdemKey, wait: WaitDep,
                             response: Response):
    """Set your currency allowance to the Financing contract (`SettlementToken.approve`): what a recourse
    buy-back of your deals may take."""
    return await write(gw, caller, "financing.recourse_allowance", "SettlementToken", "approve",
                       [gw.contracts.address("Financing"), body.amount], body.model_dump(mode="json"), idem, wait,
                       response)


# --- early payment by the debtor ------------------------------------------------------------


class EarlyPaymentIn(BaseModel):
    token_id: Uint256
    value: Uint128
    rate_bps: Uint32 = Field(description="annual discount rate in basis points")
    expires_at: Uint64 = Field(description="unix seconds")


class ProgrammeIn(BaseModel):
    rate_bps: Uint32 = Field(description="annual discount rate in basis points")
    budget: Uint128 = Field(description="face value the programme settles early at most")


class TakeIn(BaseModel):
    token_id: Uint256
    value: Uint128


def early_out(offer_id: int, o: dict[str, Any]) -> dict[str, Any]:
    return {
        "early_payment_id": offer_id, "token_id": o["tokenId"], "debtor": o["debtor"], "value": o["value"],
        "rate_bps": o["rateBps"], "expires_at": o["expiresAt"], "status": _name(EARLY_STATUS, o["status"]),
    }


def programme_out(programme_id: int, p: dict[str, Any]) -> dict[str, Any]:
    return {
        "programme_id": programme_id, "debtor": p["debtor"], "rate_bps": p["rateBps"], "open": p["open"],
        "budget": p["budget"], "remaining": p["remaining"],
    }


async def get_early(gw: Gateway, offer_id: int) -> dict[str, Any]:
    return dict(await operations.view(gw, "Settlement", "earlyPaymentOffer", [offer_id]))


async def get_programme(gw: Gateway, programme_id: int) -> dict[str, Any]:
    return dict(await operations.view(gw, "Settlement", "programme", [programme_id]))


async def _certificate_debtor(gw: Gateway, caller: ApiKey, token_id: int) -> None:
    h = await operations.view(gw, "CertificateToken", "holding", [token_id])
    if int(h["owner"], 16) == 0 and h["value"] == 0:
        raise NotFound("no such holding", {"token_id": token_id})
    c = await operations.view(gw, "CertificateToken", "certificate", [h["certificateId"]])
    if not same(c["debtor"], caller.account):
        raise Forbidden("only the certificate's debtor offers early payment", {"token_id": token_id})


async def _early_debtor(gw: Gateway, caller: ApiKey, offer_id: int) -> None:
    if not same((await get_early(gw, offer_id))["debtor"], caller.account):
        raise Forbidden("only the offer's debtor may do this", {"early_payment_id": offer_id})


async def _early_holder(gw: Gateway, caller: ApiKey, offer_id: int) -> None:
    await own_holding(gw, caller, (await get_early(gw, offer_id))["tokenId"])


async def _programme_debtor(gw: Gateway, caller: ApiKey, programme_id: int) -> None:
    if not same((await get_programme(gw, programme_id))["debtor"], caller.account):
        raise Forbidden("only the programme's debtor may do this", {"programme_id": programme_id})


async def _programme_holder(gw: Gateway, caller: ApiKey, programme_id: int, token_id: int) -> None:
    await get_programme(gw, programme_id)
    await own_holding(gw, caller, token_id)


@settlement.post("/early-payments", status_code=202, response_model=OperationOut, responses=FINAL)
async def offer_early_payment(body: EarlyPaymentIn, gw: GatewayDep, caller: CoreDep, idem: IdemKey, wait: WaitDep,
                              response: Response):
    """The debtor offers to pay `value` of a holding of its certificate early (result: early_payment_id)."""
    return await write(gw, caller, "settlement.offer_early_payment", "Settlement", "offerEarlyPayment",
                       [body.token_id, body.value, body.rate_bps, body.expires_at],
                       body.model_dump(mode="json"), idem, wait, response,
                       precheck=lambda: _certificate_debtor(gw, caller, body.token_id))


@settlement.get("/early-payments/{offer_id}")
async def read_early_payment(offer_id: PathUint256, gw: GatewayDep, caller: CallerDep) -> dict[str, Any]:
    o = await get_early(gw, offer_id)
    if caller.role not in OVERSEERS and not same(o["debtor"], caller.account):
        h = await operations.view(gw, "CertificateToken", "holding", [o["tokenId"]])
        if not same(h["owner"], caller.account):
            raise Forbidden("neither the debtor nor the holder", {"early_payment_id": offer_id})
    return early_out(offer_id, o)


@settlement.post("/early-payments/{offer_id}/accept", status_code=202, response_model=OperationOut,
                 responses=FINAL)
async def accept_early_payment(offer_id: PathUint256, gw: GatewayDep, caller: HolderDep, idem: IdemKey,
                               wait: WaitDep, response: Response):
    """The holder takes it: paid the discounted price now, the value burned (result: price, value, days_early)."""
    return await write(gw, caller, "settlement.accept_early_payment", "Settlement", "acceptEarlyPayment", [offer_id],
                       {"early_payment_id": offer_id}, idem, wait, response,
                       precheck=lambda: _early_holder(gw, caller, offer_id))


@settlement.post("/early-payments/{offer_id}/cancel", status_code=202, response_model=OperationOut,
                 responses=FINAL)
async def cancel_early_payment(offer_id: PathUint256, gw: GatewayDep, caller: CoreDep, idem: IdemKey,
                               wait: WaitDep, response: Response):
    return await write(gw, caller, "settlement.cancel_early_payment", "Settlement", "cancelEarlyPayment", [offer_id],
                       {"early_payment_id": offer_id}, idem, wait, response,
                       precheck=lambda: _early_debtor(gw, caller, offer_id))


@settlement.post("/programmes", status_code=202, response_model=OperationOut, responses=FINAL)
async def open_programme(body: ProgrammeIn, gw: GatewayDep, caller: CoreDep, idem: IdemKey, wait: WaitDep,
                         response: Response):
    """A standing early-payment programme (result: programme_id)."""
    return await write(gw, caller, "settlement.open_programme", "Settlement", "openProgramme",
                       [body.rate_bps, body.budget], body.model_dump(mode="json"), idem, wait, response)


@settlement.get("/programmes/{programme_id}")
async def read_programme(programme_id: PathUint256, gw: GatewayDep, caller: CallerDep) -> dict[str, Any]:
    return programme_out(programme_id, await get_programme(gw, programme_id))


@settlement.post("/programmes/{programme_id}/take", status_code=202, response_model=OperationOut, responses=FINAL)
async def take_programme(programme_id: PathUint256, body: TakeIn, gw: GatewayDep, caller: HolderDep, idem: IdemKey,
                         wait: WaitDep, response: Response):
    """A holder of the debtor's certificate sells `value` of its holding into the programme (result:
    price, value, days_early)."""
    return await write(gw, caller, "settlement.take_programme", "Settlement", "takeProgramme",
                       [programme_id, body.token_id, body.value],
                       {"programme_id": programme_id, **body.model_dump(mode="json")}, idem, wait, response,
                       precheck=lambda: _programme_holder(gw, caller, programme_id, body.token_id))


@settlement.post("/programmes/{programme_id}/close", status_code=202, response_model=OperationOut,
                 responses=FINAL)
async def close_programme(programme_id: PathUint256, gw: GatewayDep, caller: CoreDep, idem: IdemKey, wait: WaitDep,
                          response: Response):
    return await write(gw, caller, "settlement.close_programme", "Settlement", "closeProgramme", [programme_id],
                       {"programme_id": programme_id}, idem, wait, response,
                       precheck=lambda: _programme_debtor(gw, caller, programme_id))

