"""The follower's back-off (tenacity): after retryable errors in a row it waits poll_interval_s,
doubling up to max_backoff_s, records each failure, and starts over after a success; a fatal
error is recorded and raised; `stop()` during the back-off ends it quietly."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.errors import DeepReorg, NodeError
from indexer.pipeline import Indexer
from indexer.settings import Settings


def follower(poll: float, cap: float, script: list[Any]) -> tuple[Indexer, list[float], list[tuple[Any, int]]]:
    """An Indexer whose step plays `script` (an exception to raise, or a result), nothing else."""
    ix = object.__new__(Indexer)
    ix.settings = Settings(poll_interval_s=poll, max_backoff_s=cap)
    ix._guarded = True
    ix.errors = 0
    sleeps: list[float] = []
    records: list[tuple[Any, int]] = []
    steps = iter(script)

    def step() -> Any:
        item = next(steps)
        if isinstance(item, BaseException):
            raise item
        return item

    ix.catch_up = step  # type: ignore[method-assign]  # the follower's unit of work
    ix._sleep = lambda seconds, stop: sleeps.append(seconds)  # type: ignore[method-assign]
    ix._record = lambda error=None, failures=0: records.append(  # type: ignore[method-assign]
        (type(error).__name__ if error else None, failures))
    return ix, sleeps, records


@settings(max_examples=50, deadline=None)
@given(
    poll=st.floats(0.01, 5), cap=st.floats(0.01, 60),
    runs=st.lists(st.integers(0, 12), min_size=1, max_size=3),
)
def test_backoff_doubles_up_to_the_cap_and_restarts_after_a_success(poll: float, cap: float, runs: list[int]) -> None:
    script: list[Any] = []
    for n in runs:
        script += [NodeError("down")] * n + [None]  # n failures, then caught up (None)
    ix, sleeps, records = follower(poll, cap, script)
    total = len(script)

    def stop() -> bool:
        return len(records) >= total

    ix.follow(stop=stop)
    expected_sleeps: list[float] = []
    expected_records: list[tuple[Any, int]] = []
    for n in runs:
        expected_sleeps += [min(cap, poll * 2**k) for k in range(n)] + [poll]  # back-off, then the poll
        expected_records += [("NodeError", k + 1) for k in range(n)] + [(None, 0)]
    assert records == expected_records
    assert sleeps == pytest.approx(expected_sleeps)


def test_a_fatal_error_is_recorded_and_raised() -> None:
    ix, sleeps, records = follower(1.0, 30.0, [NodeError("down"), DeepReorg("too deep")])
    with pytest.raises(DeepReorg):
        ix.follow()
    assert records == [("NodeError", 1), ("DeepReorg", 0)]
    assert sleeps == [1.0]


def test_stop_during_the_backoff_ends_quietly() -> None:
    ix, sleeps, records = follower(1.0, 30.0, [NodeError("down")] * 3)
    ix.follow(stop=lambda: len(records) >= 2)
    assert records == [("NodeError", 1), ("NodeError", 2)]
    assert sleeps == [1.0]  # the second failure stopped it before its back-off
