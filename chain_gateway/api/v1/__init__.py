"""The /v1 API."""

from fastapi import APIRouter, Depends

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
from chain_gateway.deps import store_lock_held

# every write first checks that this gateway holds its store's lock (503 STORE_LOCK_LOST otherwise)
router = APIRouter(prefix="/v1", dependencies=[Depends(store_lock_held)])
router.include_router(system.health_router)
for module in (system, members, certificates, holdings, financing, settlement, currency, operations, signers,
               users, approvals):
    router.include_router(module.router)
router.include_router(market.financing)
router.include_router(market.settlement)
