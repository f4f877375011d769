"""``python -m indexer run|sync|reconcile|reset|serve|hash-key``.

Exit codes: 0 done; 1 reconcile found differences (or a bug: traceback); 2 a fatal error
(`indexer.errors.FatalError`: another chain, a reorg deeper than the journal, reset without
--yes), printed on one line; 3 the node or the database unavailable (`sync`, `reconcile`: try
again; `run` waits instead)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time

from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential

from indexer.errors import FatalError
from indexer.settings import Settings
from scf_core import logs
from scf_core.apikeys import hash_key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m indexer", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("run", help="backfill from the deployment block, then follow the head (Ctrl-C stops)")
    sub.add_parser("sync", help="index up to the current head - confirmations, then exit")
    sub.add_parser("reconcile", help="compare SQL with the chain at the indexed block; exit 1 on differences")
    reset = sub.add_parser("reset", help="empty every table of the index (the only way it is ever emptied)")
    reset.add_argument("--yes", action="store_true", help="really delete the indexed data")
    serve = sub.add_parser("serve", help="the auditors' API (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8600)
    key = sub.add_parser("hash-key", help="print the sha256 of an auditor API key for SCF_INDEXER_AUDITOR_KEY_HASHES")
    key.add_argument("key")
    args = parser.parse_args(argv)
    log_settings = Settings()  # the services log at log_level; one-off commands warnings only
    level = "INFO" if args.verbose else log_settings.log_level if args.cmd in ("run", "serve") else "WARNING"
    logs.setup(level, log_settings.log_format)
    logging.getLogger("httpx").setLevel(logging.WARNING)

    if args.cmd == "hash-key":
        print(hash_key(args.key))
        return 0
    settings = Settings()
    try:
        return _run(args, settings)
    except FatalError as exc:
        print(f"indexer: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:
        from indexer.pipeline import retryable

        if not retryable(exc):
            raise
        print(f"indexer: node or database unavailable ({exc.__class__.__name__}: {exc}); try again", file=sys.stderr)
        return 3


def _log_database_unavailable(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    delay = state.next_action.sleep if state.next_action else 0.0
    logging.getLogger("indexer").warning("database unavailable (%s); retrying in %.1f s", exc, delay)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.cmd == "reset":
        if not args.yes:
            raise FatalError("reset deletes the whole index: run `python -m indexer reset --yes`")
        from indexer import store
        from indexer.db import make_engine, upgrade

        if settings.migrate:
            upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            with engine.begin() as conn:
                store.truncate_all(conn)
        finally:
            engine.dispose()
        print(f"index emptied: {settings.database_url.split('@')[-1]}")
        return 0
    if args.cmd == "serve":
        import uvicorn

        from indexer.api.main import create_app

        uvicorn.run(create_app(settings), host=args.host, port=args.port)
        return 0

    from indexer.pipeline import Indexer, retryable

    # the Indexer migrates: the database must answer. `run` waits for it (poll_interval_s doubling
    # up to max_backoff_s); `sync` and `reconcile` answer at once (exit code 3)
    ix = Retrying(
        retry=retry_if_exception(lambda exc: args.cmd == "run" and retryable(exc)),
        wait=wait_exponential(multiplier=settings.poll_interval_s, max=settings.max_backoff_s),
        before_sleep=_log_database_unavailable,
        sleep=time.sleep,
        reraise=True,
    )(Indexer, settings)
    try:
        if args.cmd == "sync":
            n = ix.sync()
            print(f"indexed {n} events; checkpoint {ix.checkpoint()['block_number']}")
            return 0
        if args.cmd == "run":
            stopping = False

            def _stop(*_: object) -> None:
                nonlocal stopping
                stopping = True

            signal.signal(signal.SIGTERM, _stop)
            signal.signal(signal.SIGINT, _stop)
            ix.follow(stop=lambda: stopping)
            return 0
        from indexer.reconcile import reconcile

        block, diffs = reconcile(ix.engine, ix.rpc, ix.manifest)
        for d in diffs:
            print(d)
        print(f"reconcile at block {block}: {len(diffs)} difference(s)", file=sys.stderr if diffs else sys.stdout)
        return 1 if diffs else 0
    finally:
        ix.close()
