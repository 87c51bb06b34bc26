"""One request budget per vendor account, shared by every sync to it, in every process.

Syncs run in Dagster runs of their own (one process each) and from `cdp sync`; two syncs to the same Klaviyo
account must together stay under Klaviyo's limit, or both meet 429 storms. The budget is a token bucket
whose state (tokens, time) lives in a small file under `$CDP_HOME/syncs/rate/`, read and updated under an
exclusive file lock: a few microseconds per request, negligible beside any vendor's rate.
"""

from __future__ import annotations

import fcntl
import json
import re
import time
from collections.abc import Callable
from pathlib import Path

from cdp.paths import syncs_dir


class SharedRateBudget:
    """`rate` requests per second sustained, bursts of `burst`, for everyone holding the same `name`."""

    def __init__(self, name: str, rate: float, burst: float = 1.0, folder: Path | None = None,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep):
        self.rate, self.burst = rate, max(1.0, burst)
        folder = folder or syncs_dir() / "rate"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / (re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".json")
        self._clock, self._sleep = clock, sleep

    def wait(self) -> None:
        """Take one request's token, sleeping as long as the bucket is in debt."""
        if self.rate <= 0:
            return
        with open(self.path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            try:
                state = json.loads(handle.read() or "{}")
            except ValueError:
                state = {}
            now = self._clock()
            tokens = min(self.burst, state.get("tokens", self.burst) + (now - state.get("at", now)) * self.rate)
            tokens -= 1  # may go negative: the debt is this caller's wait, and later callers queue behind it
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps({"tokens": tokens, "at": now}))
        if tokens < 0:
            self._sleep(-tokens / self.rate)
