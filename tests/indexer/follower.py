"""`Indexer.follow` in a thread for tests: any exception it lets out is kept (it must never stop)."""

from __future__ import annotations

import threading
import time
from typing import Any


class Follower:
    def __init__(self, ix: Any) -> None:
        self.ix = ix
        self.stopping = False
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.ix.follow(stop=lambda: self.stopping)
        except BaseException as exc:
            self.error = exc

    def alive(self) -> None:
        assert self.error is None and self.thread.is_alive(), f"follower stopped: {self.error!r}"

    def wait_for(self, block: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.alive()
            try:
                if self.ix.checkpoint()["block_number"] >= block:
                    return
            except Exception:  # the database may be the thing that is down
                pass
            assert time.monotonic() < deadline, "follower did not catch up"
            time.sleep(0.05)

    def stop(self) -> None:
        self.stopping = True
        self.thread.join(30)
