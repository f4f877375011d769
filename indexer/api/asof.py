"""`as_of_block` / `as_of`: every report, lineage and list "as of" a past block (period-end
reporting). `as_of_block=B`: the state after block B. `as_of=T` (unix seconds or ISO 8601, UTC
when no zone): the state after the last block whose timestamp is <= T. Mutually exclusive; absent:
the newest indexed block. Out of range (before the history, after the indexed block) is a 422."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query

from indexer import reports
from indexer.api.deps import MAX_ID, Conn, DateRange, Page, Time
from indexer.api.errors import ApiError


@dataclass(frozen=True)
class Moment:
    block: int | None  # the block the answer reflects (None: nothing indexed yet)
    time: int  # its timestamp: "today" of ageing and maturity
    historic: bool  # asked for (as_of_block / as_of): read the history tables

    @property
    def at(self) -> int | None:
        """The block to pass to `indexer.reports` (None: today's tables, today's queries)."""
        return self.block if self.historic else None

    def summary(self) -> dict[str, Any]:
        return {"as_of_block": self.block, "as_of_time": self.time}


def _out_of_range(message: str, **details: Any) -> ApiError:
    return ApiError(message, details)


def resolve(conn: Any, block: int | None, moment: int | None) -> Moment:
    if block is not None and moment is not None:
        raise ApiError("give as_of_block or as_of, not both", {"as_of_block": block, "as_of": moment})
    first, last = reports.history_range(conn)
    if block is None and moment is None:
        return Moment(last, reports.chain_time(conn), False)
    if last is None or first is None:
        raise _out_of_range("no history indexed yet", as_of_block=block, as_of=moment)
    newest = reports.block_time(conn, last) or 0
    if moment is not None:
        if moment > newest:
            raise _out_of_range(
                f"as_of is after the indexed block {last} (time {newest})",
                as_of=moment,
                indexed_block=last,
                indexed_time=newest,
            )
        found = reports.block_at_time(conn, moment)
        if found is None or found[0] < first:
            raise _out_of_range(
                f"as_of is before the first block of the history ({first})", as_of=moment, history_from_block=first
            )
        return Moment(found[0], found[1], True)
    assert block is not None
    if block < first or block > last:
        raise _out_of_range(
            f"as_of_block must be within {first}..{last} (the history and the indexed block)",
            as_of_block=block,
            history_from_block=first,
            indexed_block=last,
        )
    time = reports.block_time(conn, block)
    if time is None:
        raise _out_of_range(f"no indexed block at or below {block} (its time is unknown)", as_of_block=block)
    return Moment(block, time, True)


def as_of(
    conn: Conn,
    as_of_block: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="the state after this block (not with as_of)")
    ] = None,
    as_of: Annotated[
        Time | None,
        Query(
            description="the state after the last block with timestamp <= this moment: unix seconds or "
            "ISO 8601 date / date-time, UTC when no zone (not with as_of_block)"
        ),
    ] = None,
) -> Moment:
    return resolve(conn, as_of_block, as_of)


AsOf = Annotated[Moment, Depends(as_of)]


class ReportParams:
    """The parameters every report takes: its page (`limit`, `offset`), its date range
    (`date_from`, `date_to`) and the block it reflects (`as_of_block` / `as_of`)."""

    def __init__(self, page: Annotated[Page, Depends()], dates: Annotated[DateRange, Depends()], as_of: AsOf) -> None:
        self.page = page
        self.dates = dates
        self.as_of = as_of


Report = Annotated[ReportParams, Depends()]
