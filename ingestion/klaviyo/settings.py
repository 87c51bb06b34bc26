"""Klaviyo read API settings (revision 2026-07-15; limits from Klaviyo's OpenAPI, stable.json)."""

from __future__ import annotations

# Klaviyo dates its API: every request names the revision it was written against (header `revision`).
DEFAULT_REVISION = "2026-07-15"

# Used when no start date is configured: earlier than any Klaviyo account.
DEFAULT_START_DATE = "2012-01-01T00:00:00+00:00"

# The largest page each operation allows: fewer requests per run. Metrics take no page[size] (200 a page).
# Days between two reconciliations of profile ids (Klaviyo has no count to say when a profile was deleted).
RECONCILE_DAYS = 7.0

PAGE_SIZES = {"profiles": 100, "lists": 10, "campaigns": 100, "events": 1000}

# Klaviyo lists campaigns of one channel per request (a channel filter is required).
CAMPAIGN_CHANNELS = ("email", "sms", "mobile_push")


# Columns the staging models read, declared so each table has them even when a load saw only nulls
# (dlt creates a column from data only once a non-null value arrives). Each column gets a dict of its own:
# dlt writes the column's name into the hint it is given, so one dict shared by several columns collapsed
# them into one (profiles lost `attributes__external_id`).


def _text() -> dict:
    return {"data_type": "text"}


def _time() -> dict:
    return {"data_type": "timestamp"}


def _bool() -> dict:
    return {"data_type": "bool"}


_EMAIL_MARKETING = "attributes__subscriptions__email__marketing__"
_SMS_MARKETING = "attributes__subscriptions__sms__marketing__"
COLUMN_HINTS: dict[str, dict[str, dict]] = {
    "profiles": {
        "attributes__email": _text(),
        "attributes__phone_number": _text(),
        "attributes__external_id": _text(),
        "attributes__first_name": _text(),
        "attributes__last_name": _text(),
        "attributes__created": _time(),
        "attributes__updated": _time(),
        # Free-form objects whose keys vary by account: one JSON column rather than one column per key.
        "attributes__properties": {"data_type": "json"},
        f"{_EMAIL_MARKETING}consent": _text(),
        f"{_EMAIL_MARKETING}can_receive_email_marketing": _bool(),
        f"{_EMAIL_MARKETING}consent_timestamp": _time(),
        f"{_SMS_MARKETING}consent": _text(),
        f"{_SMS_MARKETING}can_receive_sms_marketing": _bool(),
        f"{_SMS_MARKETING}consent_timestamp": _time(),
    },
    "lists": {"attributes__name": _text(), "attributes__created": _time(), "attributes__updated": _time(),
              "attributes__opt_in_process": _text()},
    "metrics": {"attributes__name": _text(), "attributes__created": _time(), "attributes__updated": _time(),
                "attributes__integration__name": _text(), "attributes__integration__category": _text()},
    "campaigns": {"attributes__name": _text(), "attributes__status": _text(), "attributes__archived": _bool(),
                  "attributes__created_at": _time(), "attributes__updated_at": _time(),
                  "attributes__scheduled_at": _time(), "attributes__send_time": _time()},
    "events": {
        "attributes__datetime": _time(),
        "attributes__timestamp": {"data_type": "bigint"},
        "attributes__uuid": _text(),
        "attributes__event_properties": {"data_type": "json"},
        "relationships__profile__data__id": _text(),
        "relationships__metric__data__id": _text(),
    },
}  # fmt: skip
