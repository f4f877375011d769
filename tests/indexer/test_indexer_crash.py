"""Crash safety: SIGKILL a real indexer process during the backfill (several times), restart it:
the result is identical to an uninterrupted index (nothing lost, nothing doubled)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from indexer.db import make_engine
from indexer.models import CHECKPOINT

ROOT = Path(__file__).resolve().parents[2]


def _checkpoint(engine: Any) -> int:
    try:
        with engine.connect() as conn:
            value = conn.execute(select(CHECKPOINT.c.block_number)).scalar()
    except Exception:  # schema not created yet
        return -1
    return -1 if value is None else int(value)


def test_sigkill_during_backfill_then_resume(played: Any, databases: Any, dump_db: Any, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    played.manifest.save(manifest)
    url = databases.new()
    env = dict(
        os.environ,
        SCF_INDEXER_RPC_URL=played.url,
        SCF_INDEXER_MANIFEST=str(manifest),
        SCF_INDEXER_DATABASE_URL=url,
        SCF_INDEXER_BATCH_BLOCKS="1",
        SCF_INDEXER_MAX_BATCH_BLOCKS="2",
        PYTHONPATH=str(ROOT),
    )
    head = played.scenario.w3.eth.block_number
    engine = make_engine(url)
    rng = random.Random(3)
    midway_kills = 0  # kills that left the backfill unfinished (a fast machine may finish a round first)
    try:
        for _ in range(3):
            start = _checkpoint(engine)
            proc = subprocess.Popen([sys.executable, "-m", "indexer", "sync"], env=env, cwd=ROOT)
            deadline = time.monotonic() + 60
            while _checkpoint(engine) < start + rng.randint(3, 12) and proc.poll() is None:
                assert time.monotonic() < deadline
                time.sleep(0.005)
            time.sleep(rng.random() * 0.01)  # land anywhere: between or inside transactions
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(30)
                midway_kills += _checkpoint(engine) < head
            proc.wait(30)
        assert midway_kills >= 1, "no SIGKILL landed before the backfill finished"
        done = subprocess.run([sys.executable, "-m", "indexer", "sync"], env=env, cwd=ROOT, timeout=120)
        assert done.returncode == 0
        assert _checkpoint(engine) == head
        reference = played.index(databases.new())
        try:
            assert dump_db(engine) == dump_db(reference.engine)
        finally:
            reference.close()
    finally:
        engine.dispose()


def test_sigkill_during_first_start_migrations_sqlite(played: Any, dump_db: Any, tmp_path: Path) -> None:
    """SIGKILL while the first start creates the schema (Alembic on a fresh SQLite file), at random
    moments, several times: every later start works and the index is exact."""
    manifest = tmp_path / "manifest.json"
    played.manifest.save(manifest)
    db = tmp_path / "first.db"
    url = f"sqlite:///{db}"
    env = dict(
        os.environ,
        SCF_INDEXER_RPC_URL=played.url,
        SCF_INDEXER_MANIFEST=str(manifest),
        SCF_INDEXER_DATABASE_URL=url,
        PYTHONPATH=str(ROOT),
    )
    rng = random.Random(5)
    landed = 0  # kills that found the schema unfinished
    for _ in range(8):
        proc = subprocess.Popen([sys.executable, "-m", "indexer", "sync"], env=env, cwd=ROOT)
        deadline = time.monotonic() + 60
        while not db.exists() and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.001)
        time.sleep(rng.random() * 0.25)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            landed += _checkpoint_at(url) < 0
        proc.wait(30)
    assert landed >= 1, "no SIGKILL landed before the first batch"
    for _ in range(2):  # the start after the kills, and a later one
        done = subprocess.run([sys.executable, "-m", "indexer", "sync"], env=env, cwd=ROOT, timeout=120)
        assert done.returncode == 0
    engine = make_engine(url)
    reference = played.index(f"sqlite:///{tmp_path / 'reference.db'}")
    try:
        assert _checkpoint(engine) == played.scenario.w3.eth.block_number
        assert dump_db(engine) == dump_db(reference.engine)
    finally:
        reference.close()
        engine.dispose()


def _checkpoint_at(url: str) -> int:
    engine = make_engine(url)
    try:
        return _checkpoint(engine)
    finally:
        engine.dispose()
