"""What every destination tells the engine, and the one shape of a delivered row's outcome.

A destination is a real HTTP client of one vendor object (a Klaviyo list, a Meta audience, HubSpot contacts).
The engine plans which rows to add, change and remove; the destination only says
- what it needs to know of a person (`identity`: fields of the planned payload, see reverse_etl.plan),
- which consent channel a person must have granted (`consent_channel`, None for operational syncs),
- how a person is known to exist there already (`exists_sql`, for update-only syncs),
- how many rows one write request may carry (`batch_sizes`),
and then `prepare`s its object (creates the list, audience or properties when missing) and `write`s batches,
answering one Outcome per row it was given. It never decides what to send.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class PlannedRow:
    key: str
    payload: dict[str, Any]  # {"identity": {...}, "fields": {...}} as planned now (the old one for removes)
    previous: dict[str, Any] | None = None  # what the destination was last confirmed to hold (changes)
    destination_id: str | None = None  # the destination's id for the row, when an earlier run learned it


@dataclass(frozen=True)
class Outcome:
    key: str
    ok: bool
    error: str | None = None
    destination_id: str | None = None


@dataclass
class BatchResult:
    outcomes: list[Outcome]
    notes: dict[str, int] = field(default_factory=dict)  # e.g. Meta's num_invalid_entries


class DestinationError(RuntimeError):
    """The destination refused the whole sync (bad settings, unknown account): no batch can succeed."""


class Destination:
    vendor: ClassVar[str]
    identity: ClassVar[tuple[str, ...]] = ("customer_id", "email")
    # A row without these identity fields cannot be delivered (e.g. a list member needs an email).
    required_any: ClassVar[tuple[str, ...]] = ("email",)
    consent_channel: ClassVar[str | None] = None
    exists_sql: ClassVar[str | None] = None  # over `sr` (customer_source_records) for update-only syncs
    batch_sizes: ClassVar[dict[str, int]] = {"add": 100, "change": 100, "remove": 100}
    # The operations the destination supports; a mode asking for more is refused when the sync is planned.
    operations: ClassVar[tuple[str, ...]] = ("add", "change", "remove")
    can_replace: ClassVar[bool] = False  # a full resync may replace all members in one session (begin_replace)

    def __init__(self, target: str, fields: dict[str, str], sync_name: str = ""):
        self.target, self.fields, self.sync_name = target, fields, sync_name

    def prepare(self) -> None:
        """Create or find the destination object (list, audience, properties); idempotent."""

    def encode(self, op: str, rows: list[PlannedRow]) -> Any:
        """CPU work on a batch that needs no vendor (Meta's hashing). The engine encodes the next batch while
        the current one is in flight, so a slow encoding does not halve the throughput; `write` receives it."""
        return None

    def write(self, op: str, rows: list[PlannedRow], encoded: Any = None) -> BatchResult:
        raise NotImplementedError

    def begin_replace(self, total: int) -> None:
        """A full resync's adds replace the destination's members (only where the vendor can); the engine
        then sends no removes."""
        raise NotImplementedError
