"""What a receipt tells: the decoded events and results of a mined operation, and the contract
error of a reverted one (replayed on the parent block's state)."""

from __future__ import annotations

from typing import Any

from chain_gateway.contracts import ContractSet
from chain_gateway.errors import NodeUnavailable
from chain_gateway.models import Operation
from scf_core.rpc import AsyncRpc, RpcError


async def revert_reason(rpc: AsyncRpc, contracts: ContractSet, op: Operation) -> dict[str, Any]:
    """Replay the reverted call on the parent block's state to name the error."""
    err: dict[str, Any] = {"code": "REVERTED_ON_CHAIN", "message": "the transaction reverted"}
    try:
        block = hex(max(0, (op.block_number or 1) - 1))
        await rpc.call(
            "eth_call", {"from": op.signer, "to": op.to_address, "data": op.data, "gas": hex(op.gas_limit)}, block
        )
    except RpcError as exc:
        decoded = contracts.decode_error(exc.revert_data)
        if decoded:
            err.update(decoded.as_dict())
    except NodeUnavailable:
        pass
    return err


def parse_result(contracts: ContractSet, logs: list[dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    events = []
    for lg in logs:
        ev = contracts.decode_log(lg)
        if ev is None:
            continue
        events.append({"contract": ev.contract, "event": ev.name, "args": ev.args})
        a = ev.args
        if ev.name == "CertificateIssued":
            result["certificate_id"] = a["certificateId"]
            result["token_id"] = a["tokenId"]
        elif ev.name == "HoldingCreated":
            result.setdefault("new_token_ids", []).append(a["tokenId"])
            result["new_token_id"] = a["tokenId"]
        elif ev.name == "OfferCreated":
            result["offer_id"] = a["offerId"]
            result["price"] = a["price"]
        elif ev.name == "OfferAccepted":
            result["new_token_id"] = a["newTokenId"]
            result["price"] = a["price"]
        elif ev.name == "QuotesRequested":
            result["request_id"] = a["requestId"]
        elif ev.name == "QuoteSubmitted":
            result.update(quote_id=a["quoteId"], request_id=a["requestId"], price=a["price"], rate_bps=a["rateBps"],
                          days_to_maturity=a["daysToMaturity"])
        elif ev.name in ("QuoteWithdrawn", "QuoteAccepted"):
            result.update(quote_id=a["quoteId"], request_id=a["requestId"])
            if "offerId" in a:
                result["offer_id"] = a["offerId"]
        elif ev.name in ("RecourseUnpaid", "RecourseSettled"):
            result.update(recourse="unpaid" if ev.name == "RecourseUnpaid" else "settled",
                          recourse_amount=a["amount"], value=a["value"], token_id=a["tokenId"])
        elif ev.name == "EarlyPaymentOffered":
            result["early_payment_id"] = a["offerId"]
        elif ev.name == "EarlyPaid":
            result.update(price=a["price"], value=a["value"], days_early=a["daysEarly"])
        elif ev.name == "ProgrammeOpened":
            result["programme_id"] = a["programmeId"]
        elif ev.name == "ProgrammeClosed":
            result["remaining"] = a["remaining"]
        elif ev.name == "Redeemed":
            result["redeemed"] = result.get("redeemed", 0) + a["amount"]
    result["events"] = events
    return result
