"""The follow loop: backfill from the deployment block, then follow head - confirmations.

Each step indexes one range of blocks [a, b]:
1. reorg check: the checkpoint block's hash must still be the chain's; otherwise find the common
   ancestor among stored blocks and roll back to it (one transaction), then continue from there;
2. eth_getLogs over an adaptive range, headers for the blocks inside the reorg window (all of them,
   parent-linked to the checkpoint) and for the range end;
3. decode, prefetch the state rows the events touch, apply the handlers in memory;
4. write rows, undo journal (blocks within the reorg window), blocks and the checkpoint in one
   database transaction.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential

from indexer import handlers, store
from indexer.db import make_engine, upgrade
from indexer.decode import Decoder, Event
from indexer.errors import ChainMismatch, DeepReorg, NodeError, ReorgDetected, RetryableError
from indexer.fetch import LogFetcher, connect
from indexer.settings import Settings
from scf_core.manifest import Manifest

log = logging.getLogger(__name__)

__all__ = ["Indexer", "ReorgDetected", "StepResult", "retryable"]


def retryable(exc: BaseException) -> bool:
    """Worth waiting for: the node (unreachable, rate-limiting, malformed answers, a reorg under
    way) or the database (down, restarting, locked) may answer properly later."""
    if isinstance(exc, RetryableError | httpx.HTTPError | OSError):
        return True
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated


@dataclass
class StepResult:
    from_block: int
    to_block: int
    events: int
    rows: int
    reorg: bool = False


@dataclass
class Batch:
    """A range prepared by the node's side of a step (`Indexer.prepare`), to be committed on top
    of the checkpoint `after`; `reorg`: that checkpoint's block is no longer on the chain."""

    after: dict[str, Any]
    head: int
    from_block: int
    to_block: int
    events: list[Event] = field(default_factory=list)
    blocks: dict[int, dict[str, Any]] = field(default_factory=dict)
    journal_from: int = 0
    reorg: bool = False


@contextlib.contextmanager
def _few_collections() -> Iterator[None]:
    """The cyclic garbage collector less often while batches are indexed. A batch allocates
    hundreds of thousands of objects (decoded events, rows) that live until it is written, and
    reference counting frees them; with the default thresholds (a young collection every 700
    allocations) the collector scanned them again and again, about a fifth of a backfill's CPU.
    The previous thresholds come back afterwards."""
    old = gc.get_threshold()
    if old[0]:  # 0: collection turned off altogether, left so
        gc.set_threshold(max(old[0], 10_000), max(old[1], 50), max(old[2], 100))
    try:
        yield
    finally:
        gc.set_threshold(*old)


class Indexer:
    def __init__(self, settings: Settings, manifest: Manifest | None = None, engine: Engine | None = None) -> None:
        self.settings = settings
        self.manifest = manifest or Manifest.load(settings.manifest)
        if settings.migrate:
            upgrade(settings.database_url)
        self.engine = engine or make_engine(settings.database_url, cache_mib=settings.sqlite_cache_mib)
        self.rpc = connect(settings.rpc_url, settings.rpc_timeout_s)
        self.decoder = Decoder(self.manifest)
        self.fetcher = LogFetcher(
            self.rpc,
            self.decoder.addresses,
            start=settings.batch_blocks,
            minimum=settings.min_batch_blocks,
            maximum=settings.max_batch_blocks,
            target=settings.target_logs_per_batch,
        )
        self.reorgs = 0
        self.errors = 0  # retryable errors since start (node, database, inconsistent ranges)
        self._guarded = False  # the chain guard passed since the last node error
        self._deployment_hash: str | None = None
        self.head: int | None = None
        self._status_written: tuple[Any, ...] = ()
        self._status_time = 0.0
        self._unrecorded: dict[str, Any] | None = None
        # state rows as committed, kept between batches (`store.RowCache`)
        self.rows = store.RowCache(settings.row_cache_rows)

    def close(self) -> None:
        self.rpc.close()
        self.engine.dispose()

    # --- checkpoint --------------------------------------------------------------------------

    def checkpoint(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            cp = store.load_checkpoint(conn)
        if cp is None:
            return {
                "chain_id": self.manifest.chain_id,
                "block_number": self.manifest.deployment_block - 1,
                "block_hash": None,
                "journal_floor": None,
                "events": 0,
                "deployment_block_hash": None,
                "history_from_block": self.manifest.deployment_block,
            }
        if cp["chain_id"] != self.manifest.chain_id:
            raise ChainMismatch(f"database indexes chain {cp['chain_id']}, manifest says {self.manifest.chain_id}")
        return cp

    # --- the chain guard ---------------------------------------------------------------------

    def guard(self, cp: dict[str, Any]) -> None:
        """The node must serve the chain this index was made from: the manifest's chain id, and
        the same block at the deployment height as recorded on the first start. Otherwise
        `ChainMismatch` (fatal): the tables are never emptied because the node changed."""
        chain_id = self.rpc.chain_id()
        if chain_id != self.manifest.chain_id:
            raise ChainMismatch(
                f"the node at {self.settings.rpc_url} serves chain id {chain_id}, the manifest and "
                f"this index chain id {self.manifest.chain_id}: refusing to index another chain"
            )
        n = self.manifest.deployment_block
        header = self.rpc.header(n)
        if header is None:
            raise NodeError(f"the node has no block {n} (the deployment block) yet")
        stored = cp.get("deployment_block_hash")
        if stored is not None and stored != header["hash"]:
            raise ChainMismatch(
                f"the node's block {n} (the deployment block) is {header['hash']}, this index was made "
                f"from a chain whose block {n} is {stored}: another chain (a restarted dev node?). "
                "Point SCF_INDEXER_RPC_URL at the indexed chain, or empty the index explicitly with "
                "`python -m indexer reset --yes` to index this one"
            )
        self._deployment_hash = header["hash"]
        if stored is None and cp.get("block_hash") is not None:  # an index made before the guard
            with self.engine.begin() as conn:
                store.save_checkpoint(conn, {"deployment_block_hash": header["hash"]})
        self._guarded = True

    # --- reorgs ------------------------------------------------------------------------------

    def _chain_hashes(self, numbers: list[int]) -> dict[int, str]:
        return {n: h["hash"] for n, h in self.rpc.headers(numbers).items()}

    def handle_reorg(self, cp: dict[str, Any]) -> None:
        """Roll back to the newest stored block that is still on the chain."""
        ancestor: int | None = None
        with self.engine.connect() as conn:
            upper = cp["block_number"]
            while ancestor is None:
                stored = store.stored_blocks_desc(conn, upper, 64)
                if not stored:
                    break
                chain = self._chain_hashes([n for n, _ in stored])
                for n, h in stored:
                    if chain.get(n) == h:
                        ancestor = n
                        break
                upper = stored[-1][0] - 1
        floor = cp.get("journal_floor")
        if ancestor is None or floor is None or ancestor < floor - 1:
            raise DeepReorg(
                f"reorg below the undo journal (newest common block {ancestor}, journal floor {floor}): "
                "the index cannot be rolled back. Re-index with `python -m indexer reset --yes`, "
                "then start again (and consider a larger SCF_INDEXER_REORG_WINDOW)"
            )
        self.reorgs += 1
        self.rows.clear()
        with self.engine.begin() as conn:
            undone = store.rollback(conn, ancestor)
            blocks = store.stored_blocks_desc(conn, ancestor, 1)
            store.save_checkpoint(conn, {"block_number": ancestor, "block_hash": blocks[0][1] if blocks else None})
        log.warning(
            "reorg: rolled back %d blocks to %d (%d undo entries)",
            cp["block_number"] - ancestor,
            ancestor,
            undone,
        )

    # --- one step ----------------------------------------------------------------------------

    def step(self, head: int | None = None, to_block: int | None = None) -> StepResult | None:
        """Index the next range of blocks (not beyond `to_block` when given); None when caught up."""
        cp = self.checkpoint()
        if not self._guarded:
            self.guard(cp)
        if head is None:
            head = self.rpc.block_number()
        self.head = head
        batch = self.prepare(cp, head, to_block)
        if batch is None:
            return None
        if batch.reorg:
            self.guard(cp)  # another chain altogether is not a reorg
            self.handle_reorg(cp)
            return StepResult(cp["block_number"], cp["block_number"], 0, 0, reorg=True)
        return self.commit(batch)

    def prepare(self, cp: dict[str, Any], head: int, to_block: int | None) -> Batch | None:
        """The node's part of a step, after the checkpoint `cp` (stored, or the end of the batch
        being written meanwhile): the reorg check of its block, the logs of the next range, the
        headers, the consistency checks, the decoded events. No database access (it runs in the
        fetch thread while the previous batch is written). None: caught up."""
        last = cp["block_number"]
        if cp["block_hash"] is not None:
            current = self.rpc.header(last)
            if current is None or current["hash"] != cp["block_hash"]:
                return Batch(cp, head, last, last, reorg=True)
        target = head - self.settings.confirmations
        if to_block is not None:
            target = min(target, to_block)
        if last >= target:
            return None
        a = last + 1
        b, logs = self.fetcher.fetch(a, target)
        window_start = head - self.settings.reorg_window + 1
        journal_from = max(a, window_start)
        # headers: every block inside the reorg window, the range end, and blocks whose logs lack a timestamp
        want = set(range(journal_from, b + 1)) if journal_from <= b else set()
        want.add(b)
        want.update(int(lg["blockNumber"], 16) for lg in logs if not lg.get("blockTimestamp"))
        headers = self.rpc.headers(sorted(want))
        if len(headers) != len(want):
            raise ReorgDetected("missing headers")
        # consistency: logs' block hashes match the headers; window headers are parent-linked
        for lg in logs:
            n = int(lg["blockNumber"], 16)
            if n in headers and headers[n]["hash"] != lg["blockHash"]:
                raise ReorgDetected(f"log of block {n} is from another branch")
        prev_hash = cp["block_hash"] if journal_from == a else None
        if journal_from <= b:
            for n in range(journal_from, b + 1):
                h = headers[n]
                if prev_hash is not None and h["parentHash"] != prev_hash:
                    raise ReorgDetected(f"block {n} does not link to its parent")
                prev_hash = h["hash"]
        events: list[Event] = []
        for lg in logs:
            if lg.get("removed"):
                continue
            ev = self.decoder.decode(lg)
            if ev is None:
                continue
            if ev.timestamp is None:
                ev.timestamp = int(headers[ev.block_number]["timestamp"], 16)
            events.append(ev)
        events.sort(key=lambda e: (e.block_number, e.log_index))
        blocks: dict[int, dict[str, Any]] = {
            n: {
                "number": n,
                "hash": h["hash"],
                "parent_hash": h["parentHash"],
                "timestamp": int(h["timestamp"], 16),
            }
            for n, h in headers.items()
        }
        for ev in events:
            if ev.block_number not in blocks:
                blocks[ev.block_number] = {
                    "number": ev.block_number,
                    "hash": ev.block_hash,
                    "parent_hash": None,
                    "timestamp": ev.timestamp or 0,
                }
        return Batch(cp, head, a, b, events=events, blocks=blocks, journal_from=journal_from)

    def commit(self, batch: Batch) -> StepResult:
        """The database's part of a step: handlers, rows, undo journal, blocks and checkpoint in
        one transaction, on top of the checkpoint the batch was prepared after (else
        `ReorgDetected`: prepared on a stale checkpoint, the range is fetched again). The rows
        written are kept in the follower's row cache once the transaction has committed."""
        b = batch.to_block
        ws = handlers.WorkSet(batch.journal_from if batch.journal_from <= b else None)
        try:
            res = self._commit(batch, ws)
        except BaseException:
            self.rows.clear()  # the transaction was rolled back: the cache may be ahead of it
            raise
        self.rows.absorb(ws, (b, batch.blocks[b]["hash"]))
        return res

    def _commit(self, batch: Batch, ws: handlers.WorkSet) -> StepResult:
        cp, head, a, b, events = batch.after, batch.head, batch.from_block, batch.to_block, batch.events
        journal_from = batch.journal_from
        journaling = journal_from <= b
        with self.engine.begin() as conn:
            stored = store.load_checkpoint(conn)
            if (stored or {}).get("block_number", self.manifest.deployment_block - 1) != cp["block_number"] or (
                stored or {}
            ).get("block_hash") != cp["block_hash"]:
                raise ReorgDetected("the checkpoint moved while the batch was fetched")
            cp = stored or cp
            cache = self.rows
            cache.valid_at(stored)
            store.prefetch(conn, ws, (k for ev in events for k in handlers.keys_of(ev)), cache)
            # the certificates of the holdings (unchanged ones too): the aggregates need their
            # status, and the cache usually has them
            store.prefetch(conn, ws, (("certificate", h["certificate_id"]) for h in ws.rows["holding"].values()
                                      if h is not None), cache)
            applied = handlers.apply(ws, events)
            rows = store.write(conn, ws, cache)
            store.save_blocks(conn, list(batch.blocks.values()))
            old_floor = cp.get("journal_floor")
            floor = old_floor
            if not journaling:
                floor = None
            elif floor is None or journal_from > a:
                floor = journal_from
            prune_below = head - self.settings.reorg_window + 1
            if floor is not None and floor < prune_below:
                floor = prune_below
            if floor != old_floor:
                # entries below the floor can never be used (rollback needs every block above
                # floor - 1): drop them whenever it moves, everything when journaling stops
                store.prune_journal(conn, floor if floor is not None else b + 1)
            store.save_checkpoint(
                conn,
                {
                    "chain_id": self.manifest.chain_id,
                    "block_number": b,
                    "block_hash": batch.blocks[b]["hash"],
                    "journal_floor": floor,
                    "events": (cp.get("events") or 0) + applied,
                    "deployment_block_hash": self._deployment_hash,
                    "history_from_block": cp.get("history_from_block"),
                },
            )
        return StepResult(a, b, len(events), rows)

    def steps(self, head: int | None = None, to_block: int | None = None,
              max_steps: int | None = None) -> Iterator[StepResult]:
        """Steps until caught up with `head` (default: the head now) or `to_block`, overlapped:
        while one batch is written, the next range is fetched and decoded in a thread (the node
        and the database work at the same time). Each batch is prepared after the checkpoint the
        previous one writes, and committed only on top of it; a reorg (or any error) drains the
        fetch in flight and is handled with nothing prepared ahead."""
        cp = self.checkpoint()
        if not self._guarded:
            self.guard(cp)
        if head is None:
            head = self.rpc.block_number()
        self.head = head
        done = 0
        with _few_collections(), ThreadPoolExecutor(1, thread_name_prefix="indexer-fetch") as pool:
            pending: Future[Batch | None] | None = pool.submit(self.prepare, cp, head, to_block)
            try:
                while pending is not None:
                    batch, pending = pending.result(), None
                    if batch is None:
                        return
                    if batch.reorg:  # its checkpoint is committed: read afresh (journal floor)
                        cp = self.checkpoint()
                        self.guard(cp)  # another chain altogether is not a reorg
                        self.handle_reorg(cp)
                        yield StepResult(cp["block_number"], cp["block_number"], 0, 0, reorg=True)
                        return
                    done += 1
                    if max_steps is None or done < max_steps:
                        end_hash = batch.blocks[batch.to_block]["hash"]
                        after = {**cp, "block_number": batch.to_block, "block_hash": end_hash}
                        pending = pool.submit(self.prepare, after, head, to_block)
                    res = self.commit(batch)
                    cp = {**cp, "block_number": res.to_block, "block_hash": batch.blocks[res.to_block]["hash"]}
                    yield res
            finally:
                if pending is not None:  # an error or an early stop: the prefetched batch is dropped
                    pending.cancel()
                    with contextlib.suppress(Exception):
                        pending.result()

    # --- loops -------------------------------------------------------------------------------

    def sync(self, max_steps: int | None = None, to_block: int | None = None) -> int:
        """Index until caught up with the head seen at the start (or with `to_block`, e.g. a fresh
        index stopped at a period end), fetching the next range while writing the previous one
        (`steps`); returns the events indexed."""
        head = self.rpc.block_number()
        total = 0
        steps = 0
        retries = 0
        while True:
            reorged = False
            try:
                for res in self.steps(head, to_block, None if max_steps is None else max_steps - steps):
                    total += res.events
                    steps += 1
                    retries = 0
                    reorged = reorged or res.reorg
            except ReorgDetected as exc:
                retries += 1
                if retries > 20:
                    raise
                log.warning("inconsistent range (%s); retrying", exc)
                time.sleep(min(2.0, 0.05 * retries))
                head = self.rpc.block_number()
                continue
            if not reorged or (max_steps is not None and steps >= max_steps):
                return total  # caught up (or the steps asked for are done)
            head = self.rpc.block_number()  # rolled back: on to the new branch's head

    def catch_up(self) -> StepResult | None:
        """The follower's unit of work: overlapped steps (`steps`) up to the head now, as one
        result (the blocks covered, events and rows); None when already caught up."""
        first: StepResult | None = None
        last: StepResult | None = None
        events = rows = 0
        for res in self.steps(max_steps=64):
            first = first or res
            last = res
            events += res.events
            rows += res.rows
        if first is None or last is None:
            return None
        return StepResult(first.from_block, last.to_block, events, rows, reorg=last.reorg)

    def follow(self, stop: Any = None) -> None:
        """Follow the chain until `stop()` is true. Retryable errors (node down, rate-limited or
        answering garbage; database unavailable; a reorg under way) never end it: it backs off
        (`poll_interval_s` doubling up to `max_backoff_s`), records the error in `indexer_status` (for
        `/health`) and resumes. Fatal errors (`indexer.errors.FatalError`) and bugs raise."""
        stopped: Callable[[], bool] = stop if stop is not None else (lambda: False)
        backoff = wait_exponential(multiplier=self.settings.poll_interval_s, max=self.settings.max_backoff_s)

        def failed(state: RetryCallState) -> None:  # after every failed step, stopping or not
            exc = state.outcome.exception() if state.outcome else None
            self.errors += 1
            self._guarded = False  # the node may have been replaced meanwhile
            log.warning(
                "%s (%s: %s); retrying in %.1f s",
                "inconsistent range" if isinstance(exc, ReorgDetected) else "node or database error",
                exc.__class__.__name__,
                exc,
                backoff(state),
            )
            self._record(error=exc, failures=state.attempt_number)

        # one step, retried while it fails with a retryable error (the back-off: poll_interval_s
        # doubling up to max_backoff_s), until it succeeds or `stop()`
        step_retried = Retrying(
            retry=retry_if_exception(retryable),
            wait=backoff,
            stop=lambda _state: stopped(),
            after=failed,
            sleep=lambda seconds: self._sleep(seconds, stop),
            reraise=True,
        )
        reorgs_in_row = 0
        while not stopped():
            try:
                res = step_retried(self.catch_up)
            except Exception as exc:
                if retryable(exc):  # stopped while backing off
                    return
                self._record(error=exc)
                raise
            self._record()
            if res is None:
                reorgs_in_row = 0
                self._sleep(self.settings.poll_interval_s, stop)
                continue
            log.info(
                "indexed blocks %d-%d: %d events, %d rows%s",
                res.from_block,
                res.to_block,
                res.events,
                res.rows,
                " (reorg)" if res.reorg else "",
            )
            reorgs_in_row = reorgs_in_row + 1 if res.reorg else 0
            if reorgs_in_row > 1:  # reorg after reorg: the node is unsettled, do not spin
                self._sleep(min(self.settings.max_backoff_s, self.settings.poll_interval_s * reorgs_in_row), stop)

    @staticmethod
    def _sleep(seconds: float, stop: Any) -> None:
        end = time.monotonic() + seconds
        while (stop is None or not stop()) and (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 0.1))

    def _record(self, error: BaseException | None = None, failures: int = 0) -> None:
        """The follower's status row (best effort: the database may be what is failing; an error
        it could not record is written with the next row that gets through). Written on every
        error and whenever head or failures change (at most once a second while they do)."""
        now = time.time()
        values: dict[str, Any] = {"head": self.head, "failures": failures, "reorgs": self.reorgs,
                                  "errors": self.errors}
        if error is not None:
            self._unrecorded = {"last_error": f"{error.__class__.__name__}: {error}"[:500], "last_error_at": int(now)}
        key: tuple[Any, ...] = (self.head, failures, self.reorgs)
        quiet = key == self._status_written or now - self._status_time < 1.0
        if error is None and self._unrecorded is None and quiet:
            return
        try:
            with self.engine.begin() as conn:
                cp = store.load_checkpoint(conn)
                values["indexed_block"] = cp["block_number"] if cp else None
                store.save_status(conn, {**values, **(self._unrecorded or {}), "updated_at": int(now)})
        except Exception as exc:
            log.debug("status not recorded (%s)", exc)
            return
        self._unrecorded = None
        self._status_written = key
        self._status_time = now
