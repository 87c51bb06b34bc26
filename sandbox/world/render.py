"""Entity records rendered from a person's current state: Shopify customers, Klaviyo profiles, HubSpot
contacts, deals and companies. Rendering again after a change gives the updated record (same id)."""

from __future__ import annotations

from sandbox.world.emit import Emitter, hubspot_time, klaviyo_time, shopify_time


def render_person(p: dict, out: Emitter) -> None:
    if p["customer_id"] is not None:
        render_customer(p, out)
    if p["profile_id"] is not None:
        render_profile(p, out)
    for contact in p["contacts"]:
        render_contact(p, contact, out)
    for deal in p["deals"]:
        render_deal(p, deal, out)
    if p["company_id"] is not None:
        render_company(p, out)


def email_consent_state(p: dict) -> str:
    if p["unsubscribed_at"] is not None:
        return "unsubscribed"
    return "subscribed" if p["subscribed"] and p["profile_created"] is not None and \
        p["subscribed_at"] <= p["profile_updated"] else "not_subscribed"


def render_customer(p: dict, out: Emitter) -> None:
    created, updated = p["customer_created"], p["customer_updated"]
    fields = p["customer_fields"]
    state = email_consent_state(p)
    consent_at = p["unsubscribed_at"] or (p["subscribed_at"] if state == "subscribed" else None)
    body = {
        "id": int(p["customer_id"]), "email": fields.get("email"), "phone": fields.get("phone"),
        "first_name": p["first_name"], "last_name": p["last_name"],
        "created_at": shopify_time(created), "updated_at": shopify_time(updated), "state": "enabled",
        "tags": "trade" if p["trade"] else "", "orders_count": p["orders"], "total_spent": f"{p['spent']:.2f}",
        "note": None, "verified_email": True,
        "default_address": {"first_name": p["first_name"], "last_name": p["last_name"], "city": p["city"],
                            "zip": p["zip"], "country_code": p["country"], "default": True},
        "email_marketing_consent": {"state": state, "opt_in_level": "single_opt_in",
                                    "consent_updated_at": shopify_time(int(consent_at)) if consent_at else None},
        "sms_marketing_consent": {"state": "not_subscribed", "opt_in_level": "single_opt_in",
                                  "consent_updated_at": None, "consent_collected_from": "SHOPIFY"}
        if fields.get("phone") else None,
    }
    out.record("shopify", "customers", p["customer_id"], created, updated, body, p["person_id"],
               [("shopify_customer_id", p["customer_id"]), ("email", fields.get("email")),
                ("phone", fields.get("phone"))], p["country"])


def render_profile(p: dict, out: Emitter) -> None:
    created, updated = p["profile_created"], p["profile_updated"]
    fields = p["profile_fields"]
    state = email_consent_state(p)
    consent = {"subscribed": "SUBSCRIBED", "unsubscribed": "UNSUBSCRIBED"}.get(state, "NEVER_SUBSCRIBED")
    consent_at = p["unsubscribed_at"] or (p["subscribed_at"] if state == "subscribed" else None)
    properties = {"country": p["country"]}
    if p["profile_loyalty"]:
        properties["loyalty_number"] = p["loyalty_number"]
    external_id = p["customer_id"] if p["customer_id"] is not None and p["customer_created"] <= updated else None
    body = {"type": "profile", "id": p["profile_id"], "attributes": {
        "email": fields.get("email"), "phone_number": p["profile_phone"], "external_id": external_id,
        "first_name": p["first_name"], "last_name": p["last_name"], "organization": None,
        "location": {"city": p["city"], "country": p["country"], "zip": p["zip"]},
        "created": klaviyo_time(created), "updated": klaviyo_time(updated), "properties": properties,
        "subscriptions": {
            "email": {"marketing": {"can_receive_email_marketing": consent == "SUBSCRIBED", "consent": consent,
                                    "consent_timestamp": klaviyo_time(int(consent_at)) if consent_at else None,
                                    "method": "FORM" if consent != "NEVER_SUBSCRIBED" else None,
                                    "suppression": []}},
            "sms": {"marketing": {"can_receive_sms_marketing": False, "consent": "NEVER_SUBSCRIBED",
                                  "consent_timestamp": None}},
        }}}
    out.record("klaviyo", "profiles", p["profile_id"], created, updated, body, p["person_id"],
               [("klaviyo_profile_id", p["profile_id"]), ("email", fields.get("email")),
                ("phone", p["profile_phone"]), ("shopify_customer_id", external_id),
                ("loyalty_number", properties.get("loyalty_number"))], p["country"])


def render_contact(p: dict, contact: dict, out: Emitter) -> None:
    created, updated = contact["created"], contact["updated"]
    fields = contact["fields"]
    stage = contact.get("stage") or ("customer" if p["orders"] else "lead")
    props = {
        "email": fields.get("email"), "firstname": p["first_name"], "lastname": p["last_name"],
        "phone": fields.get("phone"), "mobilephone": fields.get("phone") if contact["mobile"] else None,
        "company": f"{p['last_name']} Interiors" if p["trade"] else None, "lifecyclestage": stage,
        "hubspot_owner_id": contact["owner"],
        "loyalty_number": p["loyalty_number"] if contact["loyalty"] else None,
        "hs_email_optout": "true" if p["unsubscribed_at"] is not None and p["unsubscribed_at"] <= updated
        else "false",
        "country": p["country"],
        "createdate": hubspot_time(created), "lastmodifieddate": hubspot_time(updated),
        "hs_object_id": contact["id"],
    }
    body = {"id": contact["id"], "properties": props, "createdAt": hubspot_time(created),
            "updatedAt": hubspot_time(updated), "archived": False}
    out.record("hubspot", "contacts", contact["id"], created, updated, body, p["person_id"],
               [("hubspot_contact_id", contact["id"]), ("email", fields.get("email")),
                ("phone", fields.get("phone")), ("loyalty_number", props["loyalty_number"])], p["country"])


def render_deal(p: dict, deal: dict, out: Emitter) -> None:
    created, updated = deal["created"], deal["updated"]
    props = {"dealname": f"{p['first_name']} {p['last_name']} - {deal['pipeline'].replace('_', ' ')}",
             "amount": deal["amount"], "dealstage": deal["stage"], "pipeline": deal["pipeline"],
             "closedate": hubspot_time(deal["closedate"]), "hubspot_owner_id": deal["owner"],
             "createdate": hubspot_time(created), "hs_lastmodifieddate": hubspot_time(updated),
             "hs_object_id": deal["id"]}
    associations = {"contacts": {"results": [{"id": c["id"], "type": "deal_to_contact"} for c in p["contacts"]]}}
    if p["company_id"] is not None:
        associations["companies"] = {"results": [{"id": p["company_id"], "type": "deal_to_company"}]}
    body = {"id": deal["id"], "properties": props, "createdAt": hubspot_time(created),
            "updatedAt": hubspot_time(updated), "archived": False, "associations": associations}
    out.record("hubspot", "deals", deal["id"], created, updated, body)


def render_company(p: dict, out: Emitter) -> None:
    t = p["company_created"]
    slug = p["last_name"].lower()
    props = {"name": f"{p['last_name']} Interiors", "domain": f"{slug}-interiors-{p['person_id'][-4:]}.com",
             "industry": "Interior Design", "is_trade_account": "true", "country": p["country"],
             "createdate": hubspot_time(t), "hs_lastmodifieddate": hubspot_time(t), "hs_object_id": p["company_id"]}
    body = {"id": p["company_id"], "properties": props, "createdAt": hubspot_time(t), "updatedAt": hubspot_time(t),
            "archived": False}
    out.record("hubspot", "companies", p["company_id"], t, t, body)
