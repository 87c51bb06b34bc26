"""What every vendor emulator shares: its context, throttling primitives and the request log.

Each vendor module (hubspot.py, shopify.py, ...) exposes `create_app(ctx: EmulatorContext) -> Starlette`
and is mounted under `/<vendor>` by app.py. Throttling answers are each vendor's own (status, headers,
body); the primitives here only decide *whether* a request is over the limit and for how long.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

from sandbox.emulators.destinations import DestinationStore
from sandbox.emulators.store import WorldStore


@dataclass
class Limits:
    """Vendor throttling, as documented; `scale` multiplies every allowance (tests turn limits down or up)."""

    scale: float = 1.0
    enabled: bool = True


@dataclass
class EmulatorContext:
    store: WorldStore
    limits: Limits = field(default_factory=Limits)
    requests: RequestLog = field(default_factory=lambda: RequestLog())
    # What the write APIs received (destinations.py); app.create_app opens it beside the world.
    destinations: DestinationStore | None = None


class RequestLog:
    """Counts requests per vendor and route, so a test or the demo can see what an ingestion run cost."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str, str]] = Counter()

    def record(self, vendor: str, method: str, route: str) -> None:
        with self._lock:
            self._counts[(vendor, method, route)] += 1

    def snapshot(self) -> list[dict]:
        with self._lock:
            return [
                {"vendor": v, "method": m, "route": r, "count": n}
                for (v, m, r), n in sorted(self._counts.items())
            ]

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


class RollingWindow:
    """At most `limit` requests in any `seconds`-long window (HubSpot's TEN_SECONDLY_ROLLING)."""

    def __init__(self, limit: int, seconds: float):
        self.limit, self.seconds = limit, seconds
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def try_acquire(self) -> tuple[bool, int, float]:
        """(allowed, remaining, seconds until a slot frees)."""
        now = time.monotonic()
        with self._lock:
            while self._times and now - self._times[0] >= self.seconds:
                self._times.popleft()
            if len(self._times) >= self.limit:
                return False, 0, self.seconds - (now - self._times[0])
            self._times.append(now)
            return True, self.limit - len(self._times), 0.0


class LeakyBucket:
    """Shopify's bucket: `size` requests, leaking `leak_per_second`; full bucket -> 429."""

    def __init__(self, size: int, leak_per_second: float):
        self.size, self.leak = size, leak_per_second
        self._level = 0.0
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def try_acquire(self) -> tuple[bool, float, float]:
        """(allowed, level after the request, seconds until one request fits)."""
        now = time.monotonic()
        with self._lock:
            self._level = max(0.0, self._level - (now - self._at) * self.leak)
            self._at = now
            if self._level + 1 > self.size:
                return False, self._level, (self._level + 1 - self.size) / self.leak
            self._level += 1
            return True, self._level, 0.0


def scaled(limit: float, limits: Limits) -> float:
    """A documented allowance under the test's scale; effectively unlimited when limits are off."""
    return limit * limits.scale if limits.enabled else 1e12
