"""Shopify Admin REST settings the source relies on."""

from __future__ import annotations

API_VERSION = "2025-07"
# Shopify's largest page: fewer requests against a 2-requests-per-second bucket.
MAX_PAGE_SIZE = 250

# Store resource name -> extra list parameters. Orders and abandoned checkouts show only open ones unless
# asked for every status.
RESOURCES: dict[str, dict[str, str]] = {
    "customers": {},
    "orders": {"status": "any"},
    "products": {"status": "active,archived,draft"},
    "checkouts": {"status": "any"},
}

# Columns staging reads that a page of real data may leave all-null (dlt creates no column for a field it
# has only seen as null, and a staging view over a missing column fails). Declared with their types so the
# warehouse tables always have them.
COLUMN_HINTS: dict[str, dict[str, dict[str, str]]] = {
    "customers": {
        "note": {"data_type": "text"},
        "phone": {"data_type": "text"},
        "email_marketing_consent__consent_updated_at": {"data_type": "timestamp"},
        "sms_marketing_consent__consent_updated_at": {"data_type": "timestamp"},
        "sms_marketing_consent__consent_collected_from": {"data_type": "text"},
    },
    "orders": {
        "phone": {"data_type": "text"},
        "cancelled_at": {"data_type": "timestamp"},
        "location_id": {"data_type": "bigint"},
        "landing_site": {"data_type": "text"},
        "referring_site": {"data_type": "text"},
        "customer__id": {"data_type": "bigint"},
        "customer__phone": {"data_type": "text"},
    },
    "products": {},
    "checkouts": {
        "phone": {"data_type": "text"},
        "completed_at": {"data_type": "timestamp"},
        "landing_site": {"data_type": "text"},
        "customer__id": {"data_type": "bigint"},
    },
}
