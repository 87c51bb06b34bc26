"""What the HubSpot source reads: objects, their properties and associations, and HubSpot's limits."""

from __future__ import annotations

# CRM objects read through search, with the properties each one needs downstream (values come as strings).
OBJECT_PROPERTIES: dict[str, tuple[str, ...]] = {
    "contacts": (
        "email", "firstname", "lastname", "phone", "mobilephone", "company", "lifecyclestage",
        "hubspot_owner_id", "loyalty_number", "hs_email_optout", "createdate", "lastmodifieddate", "hs_object_id",
        # `;`-separated ids merged into this record: the merged ones stop appearing anywhere else.
        "hs_merged_object_ids",
    ),
    "companies": ("name", "domain", "industry", "is_trade_account", "createdate", "hs_lastmodifieddate", "hs_object_id"),
    "deals": (
        "dealname", "amount", "dealstage", "pipeline", "closedate", "hubspot_owner_id", "createdate",
        "hs_lastmodifieddate", "hs_object_id", "hs_merged_object_ids",
    ),
    "calls": (
        "hs_call_title", "hs_call_status", "hs_call_direction", "hs_call_duration", "hs_timestamp",
        "hubspot_owner_id", "hs_createdate", "hs_lastmodifieddate", "hs_object_id",
    ),
    "meetings": (
        "hs_meeting_title", "hs_meeting_start_time", "hs_meeting_end_time", "hs_meeting_outcome", "hs_timestamp",
        "hubspot_owner_id", "hs_createdate", "hs_lastmodifieddate", "hs_object_id",
    ),
    "tasks": (
        "hs_task_subject", "hs_task_body", "hs_task_status", "hs_task_priority", "hs_task_type", "hs_timestamp",
        "hubspot_owner_id", "hs_createdate", "hs_lastmodifieddate", "hs_object_id",
    ),
}  # fmt: skip

# Associations read through the v4 batch endpoint for every page of changed objects; each becomes a
# nested list `<object>.<to type>` (dlt child table `<object>__<to type>`).
OBJECT_ASSOCIATIONS: dict[str, tuple[str, ...]] = {
    "contacts": (),
    "companies": (),
    "deals": ("contacts", "companies"),
    "calls": ("contacts",),
    "meetings": ("contacts",),
    "tasks": ("contacts",),
}

# Objects whose archived records are listed on every run (`GET /crm/v3/objects/{type}?archived=true`): search
# never returns archived records, so without this an archived contact or deal would live on in the warehouse.
ARCHIVED_OBJECTS = ("contacts", "deals")
LIST_PAGE_SIZE = 100  # the object list's maximum

SEARCH_PAGE_SIZE = 200  # HubSpot's maximum for search
SEARCH_RESULT_CAP = 10_000  # one search query never pages past this many results
OWNERS_PAGE_SIZE = 100
ASSOCIATIONS_BATCH_SIZE = 1000  # v4 batch read maximum; a search page (200) always fits in one call


def modified_property(object_type: str) -> str:
    """The last-modified property the search filters on: contacts have their own name for it."""
    return "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"
