"""The /v1 API."""

from fastapi import APIRouter

from chain_gateway.api.v1 import (
    approvals,
    certificates,
    currency,
    financing,
    holdings,
    market,
    members,
    operations,
    settlement,
    signers,
    system,
    users,
)

router = APIRouter(prefix="/v1")
router.include_router(system.health_router)
for module in (system, members, certificates, holdings, financing, settlement, currency, operations, signers,
               users, approvals):
    router.include_router(module.router)
router.include_router(market.financing)
router.include_router(market.settlement)
