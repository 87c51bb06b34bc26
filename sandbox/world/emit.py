"""What one simulated window produces: vendor records, analytics event lines and the truth rows beside them.

Every record goes through `record`, which also files its ground-truth row and its identifier values, so the
truth is one to one with the store by construction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

import orjson
import pyarrow as pa

from sandbox.world.identity import normalize
from sandbox.world.shapes import DEFAULT_SHAPE, reshape

IDENT_SCHEMA = pa.schema([
    ("source", pa.string()), ("record_type", pa.string()), ("record_id", pa.string()),
    ("person_id", pa.string()), ("id_type", pa.string()), ("id_value", pa.string()),
    ("normalized_value", pa.string()), ("seen_at", pa.int64()),
])
GT_SCHEMA = pa.schema([
    ("source", pa.string()), ("record_type", pa.string()), ("record_id", pa.string()),
    ("person_id", pa.string()), ("shared", pa.bool_()),
])
EVENT_SCHEMA = pa.schema([("time", pa.int64()), ("arrives_at", pa.int64()), ("day", pa.string()),
                          ("late", pa.bool_()), ("line", pa.string())])

# (vendor, resource) -> the ground-truth record_type of an entity record the pipeline can see
ENTITY_TYPES = {
    ("hubspot", "contacts"): ("hubspot", "contact"),
    ("shopify", "customers"): ("shopify", "customer"),
    ("shopify", "orders"): ("shopify", "order"),
    ("klaviyo", "profiles"): ("klaviyo", "profile"),
    ("meta", "leads"): ("meta", "lead"),
}


def ts(seconds: int) -> datetime:
    return datetime.fromtimestamp(int(seconds), UTC)


def hubspot_time(seconds: int) -> str:
    return ts(seconds).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def shopify_time(seconds: int) -> str:
    return ts(seconds).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def klaviyo_time(seconds: int) -> str:
    return ts(seconds).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def meta_time(seconds: int) -> str:
    return ts(seconds).strftime("%Y-%m-%dT%H:%M:%S+0000")


def day_of(seconds: int) -> str:
    return day_name(int(seconds) // 86_400)


@lru_cache(maxsize=4096)
def day_name(day_number: int) -> str:
    return ts(day_number * 86_400).strftime("%Y-%m-%d")


def json_text(value: dict) -> str:
    """Compact JSON, the same text as json.dumps(value, separators=(",", ":")) for the bodies written here
    (ASCII text, ints, floats of a few digits) at a tenth of the cost: there is one per event."""
    return orjson.dumps(value).decode()


class Emitter:
    def __init__(self, shape: str = DEFAULT_SHAPE) -> None:
        # The account shape (sandbox/world/shapes.py) every record is filed in.
        self.shape = shape
        self.records: dict[tuple[str, str], list[tuple[str, int, int, str]]] = {}
        self.ground_truth: list[tuple] = []
        self.identifiers: list[tuple] = []
        # (device, person, id_type, value) -> earliest arrival: a device repeats its identifiers on every
        # event, and the truth only needs when each one was first seen.
        self.device_identifiers: dict[tuple[str, str, str, str], int] = {}
        self.events: list[list] = [[] for _ in EVENT_SCHEMA]  # one list per column of EVENT_SCHEMA
        self.meta_counts: dict[tuple[str, str], dict[str, int]] = {}

    def record(self, vendor: str, resource: str, record_id: str, created: int, updated: int, body: dict,
               person_id: str | None = None, identifiers: list[tuple[str, str | None]] = (),
               country: str | None = None) -> None:
        """File one record, in the world's account shape; entity records also get their truth rows
        (identifiers: (id_type, value) pairs), for the identifiers the shaped record still carries."""
        body = reshape(self.shape, vendor, resource, str(record_id), body)
        if body is None:
            return
        text = json_text(body)
        self.records.setdefault((vendor, resource), []).append((str(record_id), int(created), int(updated), text))
        entity = ENTITY_TYPES.get((vendor, resource))
        if entity is None or person_id is None:
            return
        self.ground_truth.append((*entity, str(record_id), person_id, False))
        for id_type, value in identifiers:
            if value and (self.shape == DEFAULT_SHAPE or json_text(str(value)) in text):
                self.identifiers.append((*entity, str(record_id), person_id, id_type, value,
                                         normalize(id_type, value, country), None))

    def device_identifier(self, device_id: str, person_id: str, id_type: str, value: str, seen_at: int) -> None:
        """An identifier seen on a device (its own id, a user id, an order id, a click id) by `person_id`."""
        key = (device_id, person_id, id_type, value)
        first_seen = self.device_identifiers.get(key)
        if first_seen is None or seen_at < first_seen:
            self.device_identifiers[key] = int(seen_at)

    def event(self, time: int, arrives_at: int, line: dict) -> None:
        times, arrivals, days, late, lines = self.events
        times.append(int(time))
        arrivals.append(int(arrives_at))
        days.append(day_of(time))
        late.append(arrives_at - time > 600)
        lines.append(json_text(line))

    def count_meta(self, campaign_id: str, day: str, action: str) -> None:
        counts = self.meta_counts.setdefault((campaign_id, day), {})
        counts[action] = counts.get(action, 0) + 1

    # -- tables ---------------------------------------------------------------------------------------
    def record_table(self, key: tuple[str, str]) -> pa.Table:
        from sandbox.world.store import RECORD_SCHEMA

        rows = sorted(self.records.get(key, []), key=lambda r: (r[1], r[0]))
        return pa.table([
            [r[0] for r in rows],
            pa.array([r[1] * 1_000_000 for r in rows], pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            pa.array([r[2] * 1_000_000 for r in rows], pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            [r[3] for r in rows],
        ], schema=RECORD_SCHEMA)

    def identifier_table(self) -> pa.Table:
        devices = [("mixpanel", "device", device_id, person_id, id_type, value, value, seen_at)
                   for (device_id, person_id, id_type, value), seen_at in self.device_identifiers.items()]
        return rows_table(self.identifiers + devices, IDENT_SCHEMA)

    def ground_truth_table(self) -> pa.Table:
        return rows_table(self.ground_truth, GT_SCHEMA)

    def event_table(self) -> pa.Table:
        """Events in time order (ties broken by every column, as sorting the row tuples would)."""
        table = pa.Table.from_arrays([pa.array(c, f.type) for c, f in zip(self.events, EVENT_SCHEMA, strict=True)],
                                     schema=EVENT_SCHEMA)
        return table.sort_by([(name, "ascending") for name in EVENT_SCHEMA.names])


def rows_table(rows: list[tuple], schema: pa.Schema) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    return pa.Table.from_arrays([pa.array(list(c), f.type) for c, f in zip(columns, schema, strict=True)],
                                schema=schema)
