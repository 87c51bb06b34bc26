"""The world clock: every time-relative rule asks this, never the wall clock.

The sandbox sets the clock in `$CDP_HOME/clock.json` (`{"as_of": "2026-10-01T00:00:00+00:00"}`) when it
generates or advances a world; in production there is no such file and the clock is simply now.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

from cdp.paths import cdp_home


def clock_file():
    return cdp_home() / "clock.json"


def as_of() -> datetime:
    """The current time of the world (timezone-aware, UTC)."""
    if override := os.environ.get("CDP_AS_OF"):
        return _parse(override)
    path = clock_file()
    if path.exists():
        return _parse(json.loads(path.read_text())["as_of"])
    return datetime.now(UTC)


def set_as_of(moment: datetime) -> None:
    path = clock_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"as_of": moment.astimezone(UTC).isoformat()}))
    tmp.replace(path)


def _parse(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
