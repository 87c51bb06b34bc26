"""Meta Marketing API: version, fields per edge, page size, lookbacks and the throttling codes."""

from __future__ import annotations

DEFAULT_API_VERSION = "v23.0"
DEFAULT_PAGE_SIZE = 100
# Meta restates the last days of insights as attributed conversions come in: re-read them every run.
DEFAULT_INSIGHTS_LOOKBACK_DAYS = 3

CAMPAIGN_FIELDS = ("id", "name", "status", "objective", "created_time", "updated_time")
INSIGHT_FIELDS = ("campaign_id", "campaign_name", "spend", "impressions", "clicks", "actions")
LEADGEN_FORM_FIELDS = ("id", "name", "status", "created_time", "page_id")
LEAD_FIELDS = ("id", "created_time", "ad_id", "campaign_id", "form_id", "field_data")

# Nested lists kept as JSON columns: one row per record, and staging pulls out the values it needs.
JSON_COLUMNS = {"insights": ("actions",), "leads": ("field_data",)}

# Meta throttles with HTTP 400 and one of these codes in the body, not with a 429: application (4), user
# (17), page (32), per-call-type (613) and business use case limits (80000-80014).
THROTTLING_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})
MAX_THROTTLED_ATTEMPTS = 5
# Exponential backoff when Meta gives no estimate: 30 s, 60 s, 120 s, ...; never more than an hour.
THROTTLE_BACKOFF_SECONDS = 30.0
MAX_THROTTLE_WAIT_SECONDS = 3600.0

# Meta sends numbers and dates as strings. Typing the counts and days the models compute on makes a change in them a
# refused type (the frozen contract) rather than text the staging casts would choke on later. (Spend stays text: staging reads its exact digits.)
TYPED_COLUMNS = {
    "insights": {
        "impressions": {"data_type": "bigint"},
        "clicks": {"data_type": "bigint"},
        "date_start": {"data_type": "date"},
        "date_stop": {"data_type": "date"},
    },
}
