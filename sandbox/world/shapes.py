"""Account shapes: the same world rendered as the different valid accounts a real business may have.

A well-filled sandbox flatters the pipeline: every optional field set, every child list filled, every kind
of object present. Real accounts are young, sparse, customised and changing. A shape rewrites each record as
it is filed (`Emitter.record`, in `generate` and `advance` alike), so the emulators serve it unchanged and the
truth files follow the records the pipeline can see.

- `full`: today's account, every field the world knows.
- `new_business`: six weeks of history (generate uses `HISTORY_DAYS`), a handful of customers, and the
  objects a young account has not made yet absent: no refunds, no abandoned checkouts, no CRM companies or
  meetings, no Klaviyo campaigns, no Meta campaigns or insights (a new ad account; its leads are organic).
- `sparse`: only what the vendors' reference documents mark required or always present; everything optional
  absent, null or empty, as each vendor does it (HubSpot nulls unset properties; Shopify nulls or omits
  fields and sends `[]` for empty lists; Klaviyo's attributes are nullable; Meta omits fields it has no value
  for). Klaviyo profiles carry no external id; Meta leads are organic (no ad, ad set or campaign).
- `customised`: what a real account adds: custom properties, extra nested objects, portal-defined enum
  values (`lifecyclestage`), unexpected `source_name`s (draft orders, an app's numeric id), customer states
  other than `enabled`, custom lead-form questions with empty answers.

Where the rules come from: Klaviyo's OpenAPI (`stable.json`, revision 2026-07-15) marks which profile
attributes are nullable and that `subscriptions` appears only when asked for; Shopify's Admin REST reference
(Order, Customer, Abandoned checkout) documents `customer` absent on guest orders, nullable `email`, `phone`,
names and addresses, empty `refunds`/`note_attributes`, null `product_id` on custom line items, the
`source_name` and customer `state` values; HubSpot's CRM v3 object reference returns every requested
property, null when unset, and lets a portal define its own lifecycle stages; Meta's Lead Ads reference
leaves `ad_id`, `adset_id` and `campaign_id` out of organic leads (`is_organic`), and insights omit `actions`
on days without any.

Decisions are deterministic per record (a hash of shape, record id and rule), so a record re-rendered by
`advance` keeps its shape, and a world is the same for any number of workers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

SHAPES = ("full", "new_business", "sparse", "customised")
DEFAULT_SHAPE = "full"

# A young business: about six weeks of history, so no customer has the months of orders predictions need.
NEW_BUSINESS_HISTORY_DAYS = 42

# Whole resources a young account has none of.
_ABSENT_RESOURCES = {
    "new_business": {("shopify", "checkouts"), ("hubspot", "companies"), ("hubspot", "meetings"),
                     ("klaviyo", "campaigns"), ("meta", "campaigns"), ("meta", "insights")},
}


def check_shape(shape: str) -> str:
    if shape not in SHAPES:
        raise ValueError(f"unknown account shape {shape!r}; choose one of {', '.join(SHAPES)}")
    return shape


def history_days(shape: str, default: int) -> int:
    return NEW_BUSINESS_HISTORY_DAYS if shape == "new_business" else default


def reshape(shape: str, vendor: str, resource: str, record_id: str, body: dict) -> dict | None:
    """The record as an account of `shape` holds it, or None when such an account has no such record."""
    if shape == "full":
        return body
    if (vendor, resource) in _ABSENT_RESOURCES.get(shape, ()):
        return None
    rule = _RULES.get((shape, vendor, resource))
    if rule is None:
        return body
    return rule(_Chance(shape, record_id), dict(body))


class _Chance:
    """Deterministic coin flips for one record: the same record, shape and rule always land the same way."""

    def __init__(self, shape: str, record_id: str) -> None:
        self.key = f"{shape}:{record_id}:"

    def __call__(self, rule: str, probability: float) -> bool:
        digest = hashlib.blake2b((self.key + rule).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64 < probability


def _drop(body: dict, *keys: str) -> None:
    for key in keys:
        body.pop(key, None)


# -- new business -----------------------------------------------------------------------------------------


def _new_business_order(chance: _Chance, body: dict) -> dict:
    _no_refunds(body)
    return body


def _no_refunds(body: dict) -> None:
    if body.get("refunds"):
        body["refunds"] = []
        if body.get("financial_status") in ("refunded", "partially_refunded"):
            body["financial_status"] = "paid"


def _no_company_links(chance: _Chance, body: dict) -> dict:
    associations = dict(body.get("associations") or {})
    associations.pop("companies", None)
    body["associations"] = associations
    return body


def _organic_lead(chance: _Chance, body: dict) -> dict:
    _drop(body, "ad_id", "adset_id", "campaign_id", "ad_name", "campaign_name")
    body["is_organic"] = True
    return body


# -- sparse -----------------------------------------------------------------------------------------------


def _sparse_order(chance: _Chance, body: dict) -> dict:
    _no_refunds(body)
    body["note_attributes"] = []
    body["discount_codes"] = []
    body["fulfillments"] = []
    _drop(body, "shipping_address", "billing_address", "landing_site", "referring_site", "cancelled_at",
          "closed_at", "location_id", "phone")
    if chance("guest", 0.3):
        _drop(body, "customer")
    elif body.get("customer") is not None:
        body["customer"] = {**body["customer"], "phone": None, "first_name": None, "last_name": None}
    if chance("no email", 0.2):
        body["email"] = None if chance("null email", 0.5) else ""
    for item in body.get("line_items") or []:
        if chance(f"custom item {item.get('id')}", 0.1):
            item["product_id"] = item["variant_id"] = None
        _drop(item, "sku")
    return body


def _sparse_customer(chance: _Chance, body: dict) -> dict:
    for key in ("first_name", "last_name", "phone"):
        if chance(key, 0.5):
            body[key] = None
    if chance("email", 0.1):
        body["email"] = None
    if body.get("email") is None:
        body["email_marketing_consent"] = None
    if body.get("phone") is None:
        body["sms_marketing_consent"] = None
    _drop(body, "default_address", "note")
    body["tags"] = ""
    return body


def _sparse_checkout(chance: _Chance, body: dict) -> dict:
    _drop(body, "landing_site", "phone", "completed_at")
    if chance("guest", 0.5):
        body["customer"] = None
        body["email"] = None
    return body


def _sparse_hubspot_object(optional: tuple[str, ...]) -> Callable[[_Chance, dict], dict]:
    def rule(chance: _Chance, body: dict) -> dict:
        properties = dict(body.get("properties") or {})
        for name in optional:
            if name in properties and chance(name, 0.6):
                properties[name] = None
        body["properties"] = properties
        associations = dict(body.get("associations") or {})
        associations.pop("companies", None)
        if chance("no contact", 0.3):
            associations.pop("contacts", None)
        body["associations"] = associations
        return body

    return rule


def _sparse_profile(chance: _Chance, body: dict) -> dict:
    attributes = dict(body.get("attributes") or {})
    attributes["external_id"] = None
    for key in ("first_name", "last_name", "organization", "title", "image", "locale", "phone_number"):
        if key in attributes and chance(key, 0.6):
            attributes[key] = None
    if chance("email", 0.1):
        attributes["email"] = None
    attributes["properties"] = {}
    attributes["location"] = None
    body["attributes"] = attributes
    return body


def _sparse_insight(chance: _Chance, body: dict) -> dict:
    _drop(body, "actions")
    return body


def _sparse_lead(chance: _Chance, body: dict) -> dict:
    _organic_lead(chance, body)
    answers = []
    for answer in body.get("field_data") or []:
        if chance(f"empty {answer.get('name')}", 0.2):
            answer = {**answer, "values": []}
        answers.append(answer)
    body["field_data"] = answers
    return body


# -- customised -------------------------------------------------------------------------------------------


def _customised_order(chance: _Chance, body: dict) -> dict:
    if body.get("source_name") == "web":
        if chance("draft", 0.05):
            body["source_name"] = "shopify_draft_order"
        elif chance("app", 0.05):
            body["source_name"] = "580111"  # an installed sales channel app reports its numeric id
    body["client_details"] = {"browser_ip": None, "accept_language": "en-GB", "user_agent": None}
    body["tax_lines"] = [{"title": "VAT", "price": "0.00", "rate": 0.2, "channel_liable": False}]
    body["note_attributes"] = [*(body.get("note_attributes") or []), {"name": "gift_message", "value": "Enjoy!"}]
    body["tags"] = "imported, wholesale"
    return body


def _customised_customer(chance: _Chance, body: dict) -> dict:
    if chance("state", 0.2):
        body["state"] = "invited" if chance("invited", 0.5) else "declined"
    body["tags"] = "vip, newsletter"
    body["multipass_identifier"] = None
    body["tax_exemptions"] = []
    return body


def _customised_contact(chance: _Chance, body: dict) -> dict:
    properties = dict(body.get("properties") or {})
    if chance("stage", 0.2):
        properties["lifecyclestage"] = "83712345"  # a portal-defined stage: HubSpot names it by number
    properties["favourite_room"] = "living room"
    body["properties"] = properties
    return body


def _customised_profile(chance: _Chance, body: dict) -> dict:
    attributes = dict(body.get("attributes") or {})
    attributes["properties"] = {**(attributes.get("properties") or {}),
                                "Accepts Marketing": True, "$source": "Shopify",
                                "favourite_rooms": ["kitchen", "office"], "shoe size": {"eu": 41}}
    attributes["location"] = {**(attributes.get("location") or {}), "ip": None, "timezone": "Europe/London"}
    body["attributes"] = attributes
    return body


def _customised_lead(chance: _Chance, body: dict) -> dict:
    body["field_data"] = [*(body.get("field_data") or []),
                          {"name": "what_is_your_budget?", "values": ["£1,000 - £5,000"]},
                          {"name": "anything_else", "values": []}]
    body["platform"] = "ig" if chance("platform", 0.5) else "fb"
    body["is_organic"] = False
    return body


_RULES: dict[tuple[str, str, str], Callable[[_Chance, dict], dict]] = {
    ("new_business", "shopify", "orders"): _new_business_order,
    ("new_business", "hubspot", "deals"): _no_company_links,
    ("new_business", "meta", "leads"): _organic_lead,
    ("sparse", "shopify", "orders"): _sparse_order,
    ("sparse", "shopify", "customers"): _sparse_customer,
    ("sparse", "shopify", "checkouts"): _sparse_checkout,
    ("sparse", "hubspot", "contacts"): _sparse_hubspot_object(
        ("firstname", "lastname", "phone", "mobilephone", "company", "lifecyclestage", "hubspot_owner_id",
         "loyalty_number", "hs_email_optout")),
    ("sparse", "hubspot", "deals"): _sparse_hubspot_object(("amount", "closedate", "hubspot_owner_id")),
    ("sparse", "hubspot", "calls"): _sparse_hubspot_object(
        ("hs_call_title", "hs_call_direction", "hs_call_duration", "hubspot_owner_id")),
    ("sparse", "hubspot", "meetings"): _sparse_hubspot_object(
        ("hs_meeting_title", "hs_meeting_outcome", "hs_meeting_end_time", "hubspot_owner_id")),
    ("sparse", "hubspot", "tasks"): _sparse_hubspot_object(
        ("hs_task_body", "hs_task_priority", "hs_task_type", "hubspot_owner_id")),
    ("sparse", "klaviyo", "profiles"): _sparse_profile,
    ("sparse", "meta", "insights"): _sparse_insight,
    ("sparse", "meta", "leads"): _sparse_lead,
    ("customised", "shopify", "orders"): _customised_order,
    ("customised", "shopify", "customers"): _customised_customer,
    ("customised", "hubspot", "contacts"): _customised_contact,
    ("customised", "klaviyo", "profiles"): _customised_profile,
    ("customised", "meta", "leads"): _customised_lead,
}
