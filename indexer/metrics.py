"""The indexer's Prometheus metrics, served by the auditor API (``GET /metrics``) from the status
row the follower writes (``indexer_status``) and the checkpoint: they hold whether the follower
and the API run as one process or two. Computed at scrape time (two one-row reads)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.engine import Engine

from indexer import reports


def snapshot(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        out = reports.status(conn)
        row = conn.execute(text("SELECT reorgs, errors FROM indexer_status WHERE id = 1")).mappings().first()
    out["reorgs"] = row["reorgs"] if row else 0
    out["errors"] = row["errors"] if row else 0
    return out


class StatusCollector(Collector):
    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self) -> Iterator[Any]:
        up = GaugeMetricFamily("scf_indexer_store_up", "1 if the index database answered this scrape")
        try:
            s = snapshot(self.engine)
        except Exception:  # database down or not migrated: say so, nothing else
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        gauges = (
            ("scf_indexer_chain_head", "The node's head block the follower last saw", s["head"]),
            ("scf_indexer_indexed_block", "The last block indexed", s["indexed_block"]),
            ("scf_indexer_lag_blocks", "Blocks the index is behind the node's head", s["lag"]),
            ("scf_indexer_consecutive_failures", "The follower's errors in a row (0: healthy)", s["failures"]),
            ("scf_indexer_last_error_timestamp_seconds", "When the follower last recorded an error",
             s["last_error_at"]),
        )
        for name, doc, value in gauges:
            if value is not None:
                yield GaugeMetricFamily(name, doc, value=value)
        if s["status_updated_at"] is not None:
            yield GaugeMetricFamily("scf_indexer_status_age_seconds", "Seconds since the follower wrote its status",
                                    value=max(0.0, time.time() - s["status_updated_at"]))
        yield CounterMetricFamily("scf_indexer_events_indexed", "Events indexed (the checkpoint's count)",
                                  value=s["events"] or 0)
        yield CounterMetricFamily("scf_indexer_reorgs", "Reorgs rolled back since the follower started",
                                  value=s["reorgs"] or 0)
        yield CounterMetricFamily("scf_indexer_errors", "Retryable follower errors (node, database) since it started",
                                  value=s["errors"] or 0)
