"""Mixpanel raw export: the endpoint, the typed columns pulled out of `properties`, and batch sizes."""

from __future__ import annotations

EXPORT_PATH = "/api/2.0/export"

# Events arrive up to 72 h late: every run re-exports this many days before the last exported day.
DEFAULT_LOOKBACK_DAYS = 3
# One export query per this many days: a failed download costs at most a month, and a first load of two
# years stays far below Mixpanel's 60 queries per hour.
DEFAULT_DAYS_PER_EXPORT = 30
# DuckDB's memory while it turns a run's exports into parquet; past it DuckDB spills to disk, so memory stays
# flat whatever the exports' size.
DUCKDB_MEMORY_LIMIT = "1GB"
# The download is streamed to a temporary file in chunks of this size.
DOWNLOAD_CHUNK_BYTES = 1 << 20

# Typed warehouse columns and the Mixpanel property each one comes from (all text unless listed below).
# Every other property stays in the JSON text column `properties`, so nothing is lost.
PROPERTY_COLUMNS = {
    "distinct_id": "distinct_id",
    "device_id": "$device_id",
    "user_id": "$user_id",
    "current_url": "$current_url",
    "referrer": "$referrer",
    "browser": "$browser",
    "os": "$os",
    "mp_lib": "mp_lib",
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "fbclid": "fbclid",
    "product_id": "product_id",
    "category": "category",
    "price": "price",
    "order_id": "order_id",
    "cart_id": "cart_id",
}
NUMERIC_COLUMNS = {"price"}

# The table's columns, declared: dlt imports the parquet files DuckDB writes without reading them. insert_id is
# never null (the export query derives one when an event has none) but is declared nullable: DuckDB's parquet
# writer marks every column optional, and a mismatch would make dlt rewrite each file in Python.
COLUMNS = {
    "insert_id": {"data_type": "text", "nullable": True},
    "event": {"data_type": "text"},
    "time": {"data_type": "timestamp", "timezone": True},
    **{column: {"data_type": "double" if column in NUMERIC_COLUMNS else "text"} for column in PROPERTY_COLUMNS},
    "properties": {"data_type": "text"},
}

# Typed columns come from the SQL above, so the table's shape changes only with this code: new properties
# land in the JSON `properties` column, and a type change in `time` fails the load (helpers.events_query).
CONTRACT = {"tables": "evolve", "columns": "evolve", "data_type": "freeze"}
