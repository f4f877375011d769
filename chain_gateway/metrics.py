"""The gateway's Prometheus metrics (``GET /metrics``, see docs/gateway.md "Observability").

Event counters (resends, fee bumps, simulations, node errors, webhook deliveries, confirmation latency) live in
the process-wide ``EVENTS`` registry, incremented where the event happens. Store-derived values
(operations by state and kind, per-signer queue depth, in-flight count, oldest pending age) are
computed at scrape time by ``StoreCollector``: two grouped queries, run in the scrape's worker
thread (``/metrics`` is a plain ``def`` route)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.engine import Engine

EVENTS = CollectorRegistry()
CONFIRMATION_SECONDS = Histogram(
    "scf_gateway_confirmation_seconds", "Time from an operation's creation to its confirmation",
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600), registry=EVENTS,
)
RESENDS = Counter("scf_gateway_resends_total", "Signed transactions broadcast again (unmined too long)",
                  registry=EVENTS)
BATCH_GAPS = Counter("scf_gateway_batch_gaps_total", "Batched sends after which the node's pending nonce stopped "
                     "short of the batch (sent again one at a time, in nonce order)", registry=EVENTS)
FEE_BUMPS = Counter("scf_gateway_fee_bumps_total", "Stuck transactions re-signed with a higher gas price",
                    registry=EVENTS)
SIMULATIONS = Counter("scf_gateway_simulations_total", "Simulations of writes: one eth_call at a known gas figure "
                      "(call) or eth_estimateGas (estimate)", ["how"], registry=EVENTS)
NODE_ERRORS = Counter("scf_gateway_node_errors_total", "Failed requests to the chain node by kind",
                      ["kind"], registry=EVENTS)
WEBHOOK_DELIVERIES = Counter("scf_gateway_webhook_deliveries_total", "Webhook delivery attempts by outcome",
                             ["outcome"], registry=EVENTS)

PENDING = ("queued", "submitted", "mined")


def node_error_kind(exc: BaseException | None = None, status: int | None = None) -> str:
    """A bounded label: ``http_error``, ``timeout``, ``connection`` or ``bad_answer``."""
    if status is not None:
        return "http_error"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ValueError):
        return "bad_answer"
    return "connection"


def count_node_error(exc: BaseException | None, status: int | None) -> None:
    """``AsyncRpc``'s ``on_failure``: one failed request to the node."""
    NODE_ERRORS.labels(node_error_kind(exc, status)).inc()


def aware(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite returns aggregates as text
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def store_snapshot(engine: Engine) -> tuple[list[tuple[str, str, int]], list[tuple[str, str, int, datetime | None]]]:
    """(state, kind, count) of every operation; (signer, state, count, oldest created_at) of the
    unfinished ones (ix_gw_op_signer_state_nonce)."""
    with engine.connect() as conn:
        by_kind = [(str(s), str(k), int(n)) for s, k, n in conn.execute(text(
            "SELECT state, kind, count(*) FROM gw_operation GROUP BY state, kind"
        ))]
        by_signer = [(str(a), str(s), int(n), aware(t) if t is not None else None) for a, s, n, t in conn.execute(text(
            "SELECT signer, state, count(*), min(created_at) FROM gw_operation "
            "WHERE state IN ('queued', 'submitted', 'mined') GROUP BY signer, state"
        ))]
    return by_kind, by_signer


class StoreCollector(Collector):
    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        ops = GaugeMetricFamily("scf_gateway_operations", "Operations in the store by state and kind",
                                labels=["state", "kind"])
        queued = GaugeMetricFamily("scf_gateway_signer_queued", "A signer's queued (unsigned) operations",
                                   labels=["signer"])
        inflight = GaugeMetricFamily("scf_gateway_signer_in_flight",
                                     "A signer's submitted or mined (unconfirmed) operations", labels=["signer"])
        oldest = GaugeMetricFamily("scf_gateway_signer_oldest_pending_seconds",
                                   "Age of a signer's oldest unfinished operation", labels=["signer"])
        by_kind, by_signer = store_snapshot(self.engine)
        for state, kind, n in by_kind:
            ops.add_metric([state, kind], n)
        now = datetime.now(UTC)
        signers: dict[str, dict[str, Any]] = {}
        for signer, state, n, created in by_signer:
            entry = signers.setdefault(signer, {"queued": 0, "in_flight": 0, "oldest": None})
            entry["queued" if state == "queued" else "in_flight"] += n
            if created is not None and (entry["oldest"] is None or created < entry["oldest"]):
                entry["oldest"] = created
        for signer, entry in sorted(signers.items()):
            queued.add_metric([signer], entry["queued"])
            inflight.add_metric([signer], entry["in_flight"])
            oldest.add_metric([signer], (now - entry["oldest"]).total_seconds() if entry["oldest"] else 0.0)
        yield from (ops, queued, inflight, oldest)
