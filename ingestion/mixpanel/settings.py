"""Mixpanel raw export: the endpoint, the typed columns pulled out of `properties`, and batch sizes."""

from __future__ import annotations

EXPORT_PATH = "/api/2.0/export"

# Events arrive up to 72 h late: every run re-exports this many days before the last exported day.
DEFAULT_LOOKBACK_DAYS = 3
# One export query per this many days: a failed download costs at most a month, and a first load of two
# years stays far below Mixpanel's 60 queries per hour.
DEFAULT_DAYS_PER_EXPORT = 30
# Arrow batches handed to dlt; bounded so memory stays flat whatever the export's size.
DEFAULT_ROWS_PER_BATCH = 500_000
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

# Typed columns come from the SQL above, so the table's shape changes only with this code: new properties
# land in the JSON `properties` column, and a type change in `time` fails the load (helpers.events_query).
CONTRACT = {"tables": "evolve", "columns": "evolve", "data_type": "freeze"}
