"""Certificates: issue (core enterprise, with the invoices backing it), accept / reject (payee), read."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import AfterValidator, BaseModel, Field, model_validator
from pydantic_core import PydanticCustomError

from chain_gateway import operations
from chain_gateway.deps import (
    AUTHENTICATED,
    FINAL,
    Address,
    Bytes32,
    CallerDep,
    CoreDep,
    GatewayDep,
    IdemKey,
    PathUint256,
    SupplierDep,
    Uint64,
    Uint128,
    WaitDep,
    b32,
    write,
)
from chain_gateway.errors import Conflict, ContractRevert
from chain_gateway.models import OperationOut
from scf_core.invoices import invoice_key, normalise

router = APIRouter(prefix="/certificates", tags=["certificates"], responses=AUTHENTICATED)
STATUS = ["none", "pending", "active", "rejected", "overdue", "settled"]


MAX_INVOICES = 32  # the contract's limit (CertificateTooManyInvoices)
CHINA = dt.timezone(dt.timedelta(hours=8))  # invoice dates are China Standard Time dates
# after normalisation (scf_core.invoices): the 18-character unified social credit code (GB 32100
# alphabet), the invoice code (empty for a fully digital invoice, 全电发票) and number as printed
TAX_ID = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}")
CODE = re.compile(r"[0-9A-Z]{0,20}")
NUMBER = re.compile(r"[0-9A-Z]{1,20}")


def _field(pattern: re.Pattern[str], code: str, what: str) -> AfterValidator:
    def check(value: str) -> str:
        value = normalise(value)
        if not pattern.fullmatch(value):
            raise PydanticCustomError(code, "{what} is not valid after normalisation: {value}",
                                      {"what": what, "value": ascii(value)})
        return value

    return AfterValidator(check)


def _past_date(value: dt.date) -> dt.date:
    if value > dt.datetime.now(CHINA).date():
        raise PydanticCustomError("INVOICE_DATE_IN_FUTURE", "the invoice's issue date is in the future")
    return value


def _positive(value: int) -> int:
    if value == 0:
        raise PydanticCustomError("ZERO_AMOUNT", "the amount must be greater than 0")
    return value


Text = Annotated[str, Field(max_length=64)]


class InvoiceIn(BaseModel):
    """One invoice (增值税发票) backing the certificate. The fields are normalised (NFKC, trimmed,
    ASCII upper case) and the canonical key computed from them (docs/gateway.md)."""

    seller_tax_id: Annotated[Text, _field(TAX_ID, "INVALID_TAX_ID", "seller_tax_id (18-character unified social "
                                                                    "credit code)")]
    invoice_code: Annotated[Text, _field(CODE, "INVALID_INVOICE_CODE", "invoice_code (0-20 letters or digits)")] = ""
    invoice_number: Annotated[Text, _field(NUMBER, "INVALID_INVOICE_NUMBER", "invoice_number (1-20 letters or "
                                                                             "digits)")]
    amount: Annotated[Uint128, AfterValidator(_positive)] = Field(description="the invoice's amount, minor units")
    issue_date: Annotated[dt.date, AfterValidator(_past_date)] = Field(description="YYYY-MM-DD, not in the future")
    backed: Annotated[Uint128, AfterValidator(_positive)] | None = Field(
        None, description="the part of the certificate's face value it backs (default: its whole amount)")

    @model_validator(mode="after")
    def _backed_within_amount(self) -> InvoiceIn:
        if self.backed is not None and self.backed > self.amount:
            raise PydanticCustomError("INVOICE_OVERBACKED", "backed ({backed}) exceeds the invoice's amount ({amount})",
                                      {"backed": self.backed, "amount": self.amount})
        return self

    @property
    def key(self) -> bytes:
        return invoice_key(self.seller_tax_id, self.invoice_code, self.invoice_number)

    def backing(self) -> tuple[bytes, int, int]:
        """The contract's ``InvoiceBacking`` (key, amount, backed)."""
        return (self.key, self.amount, self.amount if self.backed is None else self.backed)


class IssueIn(BaseModel):
    payee: Address
    face_value: Uint128
    maturity: Uint64
    document_hash: Bytes32 = Field(description="hash of the uploaded trade documents (the evidence)")
    invoices: list[InvoiceIn] | None = Field(
        None, min_length=1, max_length=MAX_INVOICES,
        description="the invoices backing it (issueWithInvoices); their backed values add up to face_value. "
                    "Omitted: a plain issue, refused while the operator requires invoices")

    @model_validator(mode="after")
    def _backing_adds_up(self) -> IssueIn:
        if self.invoices is not None:
            backed = sum(i.backing()[2] for i in self.invoices)
            if backed != self.face_value:
                raise PydanticCustomError(
                    "INVOICE_BACKING_MISMATCH", "the invoices back {backed}, the face value is {face_value}",
                    {"backed": backed, "face_value": self.face_value})
        return self


# the registry's refusals of an invoice, as 409s that name the invoice (and the certificate using it)
INVOICE_CONFLICTS = {
    "CertificateInvoiceOverused": ("INVOICE_ALREADY_USED", "is already used by certificate {usedByCertificate} "
                                   "({used} of its amount {amount} backed; {requested} more requested)"),
    "CertificateInvoiceClosed": ("INVOICE_CLOSED", "was closed by the settled certificate {closedByCertificate} "
                                 "and backs no new certificate"),
    "CertificateDuplicateInvoice": ("INVOICE_DUPLICATE", "is listed twice"),
    "CertificateInvoiceAmountMismatch": ("INVOICE_AMOUNT_MISMATCH", "was registered with the amount {registered}, "
                                         "not {given}"),
}


def invoice_conflict(body: IssueIn, exc: ContractRevert) -> ContractRevert | Conflict:
    """A revert about one of the request's invoices as a named 409; any other revert unchanged."""
    name, args = exc.details.get("error"), exc.details.get("args") or {}
    if name not in INVOICE_CONFLICTS or not body.invoices:
        return exc
    code, text = INVOICE_CONFLICTS[name]
    key = str(args.get("key", ""))
    index = next((i for i, inv in enumerate(body.invoices) if "0x" + inv.key.hex() == key), None)
    invoice: dict[str, Any] = {"key": key}
    label = key
    if index is not None:
        inv = body.invoices[index]
        invoice = {"index": index, "key": key, "seller_tax_id": inv.seller_tax_id,
                   "invoice_code": inv.invoice_code, "invoice_number": inv.invoice_number}
        label = f"{inv.invoice_code or '-'}/{inv.invoice_number} of seller {inv.seller_tax_id}"
    details = {**exc.details, "invoice": invoice}
    certificate = args.get("usedByCertificate", args.get("closedByCertificate"))
    if certificate is not None:
        details["certificate_id"] = certificate
    return Conflict(f"invoice {label} " + text.format(**args), details, code=code)


@router.post("", status_code=202, response_model=OperationOut, responses=FINAL)
async def issue(body: IssueIn, gw: GatewayDep, caller: CoreDep, idem: IdemKey, wait: WaitDep, response: Response):
    """Issue a certificate (result: certificate_id, token_id). face_value in minor units (2 decimals).
    With `invoices`: issueWithInvoices, each invoice identified by its canonical key; an invoice
    already used up or closed is 409 `INVOICE_ALREADY_USED` / `INVOICE_CLOSED`, naming the certificate."""
    args: list[Any] = [body.payee, body.face_value, body.maturity, b32(body.document_hash)]
    if body.invoices is None:
        try:
            return await write(gw, caller, "certificates.issue", "CertificateToken", "issue", args,
                               body.model_dump(mode="json", exclude={"invoices"}), idem, wait, response)
        except ContractRevert as exc:
            if exc.details.get("error") == "CertificateInvoicesRequired":
                raise Conflict("the operator requires invoices: list the invoices backing the certificate "
                               "in `invoices`", exc.details, code="INVOICES_REQUIRED") from exc
            raise
    view = body.model_dump(mode="json")
    for shown, inv in zip(view["invoices"], body.invoices, strict=True):
        shown["key"] = "0x" + inv.key.hex()
    try:
        return await write(gw, caller, "certificates.issue", "CertificateToken", "issueWithInvoices",
                           [*args, [inv.backing() for inv in body.invoices]], view, idem, wait, response)
    except ContractRevert as exc:
        raise invoice_conflict(body, exc) from exc


@router.post("/{certificate_id}/accept", status_code=202, response_model=OperationOut, responses=FINAL)
async def accept(certificate_id: PathUint256, gw: GatewayDep, caller: SupplierDep, idem: IdemKey, wait: WaitDep,
                 response: Response):
    return await write(gw, caller, "certificates.accept", "CertificateToken", "accept", [certificate_id],
                       {"certificate_id": certificate_id}, idem, wait, response)


@router.post("/{certificate_id}/reject", status_code=202, response_model=OperationOut, responses=FINAL)
async def reject(certificate_id: PathUint256, gw: GatewayDep, caller: SupplierDep, idem: IdemKey, wait: WaitDep,
                 response: Response):
    return await write(gw, caller, "certificates.reject", "CertificateToken", "reject", [certificate_id],
                       {"certificate_id": certificate_id}, idem, wait, response)


@router.get("/{certificate_id}")
async def get_certificate(certificate_id: PathUint256, gw: GatewayDep, caller: CallerDep) -> dict[str, Any]:
    c = await operations.view(gw, "CertificateToken", "certificate", [certificate_id])
    if int(c["debtor"], 16) == 0:
        from chain_gateway.errors import NotFound

        raise NotFound("no such certificate", {"certificate_id": certificate_id})
    status = c["status"]
    backing = await operations.view(gw, "CertificateToken", "certificateInvoices", [certificate_id])
    return {
        "certificate_id": certificate_id, "debtor": c["debtor"], "issued_at": c["issuedAt"],
        "maturity": c["maturity"], "status": STATUS[status] if status < len(STATUS) else status,
        "face_value": c["faceValue"], "redeemed_value": c["redeemedValue"], "document_hash": c["documentHash"],
        "invoices": backing,
    }
