"""Klaviyo read API settings (revision 2026-07-15; limits from Klaviyo's OpenAPI, stable.json)."""

from __future__ import annotations

# Klaviyo dates its API: every request names the revision it was written against (header `revision`).
DEFAULT_REVISION = "2026-07-15"

# Used when no start date is configured: earlier than any Klaviyo account.
DEFAULT_START_DATE = "2012-01-01T00:00:00+00:00"

# The largest page each operation allows: fewer requests per run. Metrics take no page[size] (200 a page).
PAGE_SIZES = {"profiles": 100, "lists": 10, "campaigns": 100, "events": 1000}

# Klaviyo lists campaigns of one channel per request (a channel filter is required).
CAMPAIGN_CHANNELS = ("email", "sms", "mobile_push")


# Columns the staging models read, declared so each table has them even when a load saw only nulls
# (dlt creates a column from data only once a non-null value arrives).
_TEXT, _TIME, _BOOL = {"data_type": "text"}, {"data_type": "timestamp"}, {"data_type": "bool"}
_EMAIL_MARKETING = "attributes__subscriptions__email__marketing__"
_SMS_MARKETING = "attributes__subscriptions__sms__marketing__"
COLUMN_HINTS: dict[str, dict[str, dict]] = {
    "profiles": {
        "attributes__email": _TEXT,
        "attributes__phone_number": _TEXT,
        "attributes__external_id": _TEXT,
        "attributes__first_name": _TEXT,
        "attributes__last_name": _TEXT,
        "attributes__created": _TIME,
        "attributes__updated": _TIME,
        # Free-form objects whose keys vary by account: one JSON column rather than one column per key.
        "attributes__properties": {"data_type": "json"},
        f"{_EMAIL_MARKETING}consent": _TEXT,
        f"{_EMAIL_MARKETING}can_receive_email_marketing": _BOOL,
        f"{_EMAIL_MARKETING}consent_timestamp": _TIME,
        f"{_SMS_MARKETING}consent": _TEXT,
        f"{_SMS_MARKETING}can_receive_sms_marketing": _BOOL,
        f"{_SMS_MARKETING}consent_timestamp": _TIME,
    },
    "lists": {"attributes__name": _TEXT, "attributes__created": _TIME, "attributes__updated": _TIME,
              "attributes__opt_in_process": _TEXT},
    "metrics": {"attributes__name": _TEXT, "attributes__created": _TIME, "attributes__updated": _TIME,
                "attributes__integration__name": _TEXT, "attributes__integration__category": _TEXT},
    "campaigns": {"attributes__name": _TEXT, "attributes__status": _TEXT, "attributes__archived": _BOOL,
                  "attributes__created_at": _TIME, "attributes__updated_at": _TIME,
                  "attributes__scheduled_at": _TIME, "attributes__send_time": _TIME},
    "events": {
        "attributes__datetime": _TIME,
        "attributes__timestamp": {"data_type": "bigint"},
        "attributes__uuid": _TEXT,
        "attributes__event_properties": {"data_type": "json"},
        "relationships__profile__data__id": _TEXT,
        "relationships__metric__data__id": _TEXT,
    },
}  # fmt: skip
