"""The world's shared fixtures: products, CRM owners and pipelines, email and ad campaigns, credentials."""

from __future__ import annotations

import numpy as np

from sandbox.world.config import CATEGORIES
from sandbox.world.emit import Emitter, hubspot_time, klaviyo_time, meta_time, shopify_time
from sandbox.world.people import DAY

PRICE_RANGE = {"sofas": (600, 3200), "beds": (400, 2500), "tables": (250, 1800), "lighting": (40, 450),
               "rugs": (80, 900), "storage": (120, 1400), "decor": (15, 180), "outdoor": (90, 1600),
               "kitchen": (20, 350), "office": (150, 1200)}
ADJECTIVES = ("Oslo", "Harbour", "Linden", "Marlow", "Aster", "Kite", "Fern", "Nord", "Sable", "Juniper",
              "Cove", "Alder", "Brook", "Ember", "Sage")
OWNER_NAMES = (("Alex", "Morgan"), ("Sam", "Patel"), ("Jordan", "Becker"), ("Taylor", "Reed"),
               ("Casey", "Nguyen"), ("Robin", "Schulz"), ("Jamie", "Okafor"), ("Morgan", "Lindqvist"))
METRICS = {"Received Email": "RcvE1m", "Opened Email": "OpnE2m", "Clicked Email": "ClkE3m",
           "Unsubscribed": "UnsE4m"}
PIPELINES = [
    ("design_consultation", "Design consultation",
     [("appointmentscheduled", "Consultation booked", 0.2, False), ("consultation_held", "Consultation held", 0.4,
      False), ("proposal_sent", "Proposal sent", 0.6, False), ("closedwon", "Closed won", 1.0, True),
      ("closedlost", "Closed lost", 0.0, True)]),
    ("trade", "Trade accounts",
     [("trade_application", "Application received", 0.3, False), ("trade_qualified", "Qualified", 0.6, False),
      ("trade_onboarded", "Onboarded", 1.0, True), ("trade_declined", "Declined", 0.0, True)]),
]


def products(seed: int, started: int) -> list[dict]:
    rng = np.random.default_rng([seed, 11])
    out = []
    for c_ix, category in enumerate(CATEGORIES):
        low, high = PRICE_RANGE[category]
        for k in range(30):
            n = c_ix * 30 + k
            price = float(np.round(rng.uniform(low, high), 0)) - 0.01
            out.append({"id": 8_000_000_000_000 + n, "variant_id": 44_000_000_000_000 + n,
                        "sku": f"{category[:3].upper()}-{n:04d}", "category": category,
                        "title": f"{ADJECTIVES[k % len(ADJECTIVES)]} {category.rstrip('s').title()} {k // 15 + 1}",
                        "price": round(price, 2), "in_stock": bool(rng.random() >= 0.08),
                        "created": started - int(rng.uniform(30, 400) * DAY)})
    return out


def owners() -> list[str]:
    return [str(52_000_001 + i) for i in range(len(OWNER_NAMES))]


def email_campaigns(started: int, until: int) -> list[dict]:
    """A campaign every week on Tuesday-ish at 10:00 UTC, planned ahead so `advance` keeps sending."""
    out, t, n = [], started + 3 * int(DAY) + 10 * 3600, 0
    subjects = ("New season arrivals", "Design ideas for small spaces", "Our sofa sale starts now",
                "Outdoor living, sorted", "Bedroom refresh", "Lighting that changes a room")
    while t < until:
        n += 1
        out.append({"id": f"01KCMP{n:08d}", "name": f"Weekly {n:03d}", "subject": subjects[n % len(subjects)],
                    "send_time": t})
        t += 7 * int(DAY)
    return out


def ad_campaigns(started: int, until: int) -> list[dict]:
    """An always-on prospecting campaign plus seasonal ones of about six months."""
    out = [{"id": "23850000000000001", "ad_id": "23850000000100001", "name": "Prospecting - Always On",
            "objective": "OUTCOME_SALES", "start": started, "stop": until}]
    t, n = started + 30 * int(DAY), 1
    while t < until:
        n += 1
        out.append({"id": f"238500000000000{n:02d}", "ad_id": f"238500000001000{n:02d}",
                    "name": f"Season {n - 1:02d} - {('Lead form', 'Catalogue sales')[n % 2]}",
                    "objective": ("OUTCOME_LEADS", "OUTCOME_SALES")[n % 2], "start": t, "stop": t + 180 * int(DAY)})
        t += 120 * int(DAY)
    return out


def lead_forms() -> list[str]:
    return ["611000000000001", "611000000000002", "611000000000003"]


def credentials(seed: int) -> dict:
    rng = np.random.default_rng([seed, 99])

    def token(n: int) -> str:
        return rng.bytes(n).hex()

    return {
        "hubspot": {"access_token": f"pat-na1-{token(16)}"},
        "shopify": {"access_token": f"shpat_{token(16)}", "client_id": token(16), "client_secret": token(16),
                    "shop": "hearth-and-home"},
        "mixpanel": {"project_id": str(3_000_000 + int(rng.integers(0, 999_999))),
                     "username": f"cdp-sandbox.{token(3)}.mp-service-account", "secret": token(16)},
        "klaviyo": {"api_key": f"pk_{token(17)}"},
        "meta": {"access_token": f"EAAB{token(24)}", "ad_account_id": str(int(rng.integers(10**14, 10**15))),
                 "page_id": str(int(rng.integers(10**14, 10**15)))},
    }


def emit_fixtures(out: Emitter, seed: int, started: int, as_of: int, state: dict, page_id: str) -> None:
    """Records that do not belong to one person, as they stand at `as_of`."""
    for prod in state["products"]:
        created = prod["created"]
        body = {"id": prod["id"], "title": prod["title"], "product_type": prod["category"].title(),
                "vendor": "Hearth & Home", "status": "active", "created_at": shopify_time(created),
                "updated_at": shopify_time(created),
                "variants": [{"id": prod["variant_id"], "sku": prod["sku"], "price": f"{prod['price']:.2f}",
                              "inventory_quantity": 0 if not prod["in_stock"] else 5 + prod["id"] % 40}]}
        out.record("shopify", "products", str(prod["id"]), created, created, body)
    for i, owner_id in enumerate(state["owners"]):
        first, last = OWNER_NAMES[i]
        t = started - 200 * int(DAY)
        out.record("hubspot", "owners", owner_id, t, t, {
            "id": owner_id, "email": f"{first.lower()}.{last.lower()}@hearthandhome.example", "firstName": first,
            "lastName": last, "createdAt": hubspot_time(t), "updatedAt": hubspot_time(t), "archived": False})
    for order, (pid, label, stages) in enumerate(PIPELINES):
        t = started - 300 * int(DAY)
        out.record("hubspot", "pipelines", pid, t, t, {
            "id": pid, "label": label, "displayOrder": order, "archived": False,
            "stages": [{"id": sid, "label": slabel, "displayOrder": k,
                        "metadata": {"probability": str(prob), "isClosed": "true" if closed else "false"}}
                       for k, (sid, slabel, prob, closed) in enumerate(stages)]})
    t = started - 100 * int(DAY)
    for name, mid in METRICS.items():
        out.record("klaviyo", "metrics", mid, t, t, {"type": "metric", "id": mid, "attributes": {
            "name": name, "created": klaviyo_time(t), "updated": klaviyo_time(t),
            "integration": {"object": "integration", "id": "0eMvjm", "name": "Klaviyo", "category": "Internal"}}})
    for lid, name in (("Xk9Nws", "Newsletter"), ("Vp3Cst", "VIP customers")):
        out.record("klaviyo", "lists", lid, t, t, {"type": "list", "id": lid, "attributes": {
            "name": name, "created": klaviyo_time(t), "updated": klaviyo_time(t), "opt_in_process": "single_opt_in"}})
    for c in state["email_campaigns"]:
        if c["send_time"] >= as_of:
            continue
        made, sent = c["send_time"] - 2 * int(DAY), c["send_time"]
        out.record("klaviyo", "campaigns", c["id"], made, sent, {"type": "campaign", "id": c["id"], "attributes": {
            "name": c["name"], "status": "Sent", "archived": False, "channel": "email",
            "audiences": {"included": ["Xk9Nws"], "excluded": []}, "send_time": klaviyo_time(sent),
            "created_at": klaviyo_time(made), "updated_at": klaviyo_time(sent), "scheduled_at": klaviyo_time(made)}})
    for c in state["ad_campaigns"]:
        if c["start"] >= as_of:
            continue
        paused = c["stop"] <= as_of
        updated = c["stop"] if paused else c["start"]
        out.record("meta", "campaigns", c["id"], c["start"], updated, {
            "id": c["id"], "name": c["name"], "status": "PAUSED" if paused else "ACTIVE", "objective": c["objective"],
            "created_time": meta_time(c["start"]), "updated_time": meta_time(updated)})
    for k, form_id in enumerate(state["forms"]):
        t = started - 10 * int(DAY)
        out.record("meta", "leadgen_forms", form_id, t, t, {
            "id": form_id, "name": ("Book a design consultation", "Trade account enquiry", "Catalogue request")[k],
            "status": "ACTIVE", "created_time": meta_time(t), "page_id": page_id})


def insight_rows(seed: int, state: dict, day_from: int, day_to: int, scale: float) -> list[tuple]:
    """Daily campaign insights for days in [day_from, day_to); clicks include the people the ads brought."""
    rows = []
    for c_ix, c in enumerate(state["ad_campaigns"]):
        first = max(day_from, c["start"] // int(DAY))
        last = min(day_to, c["stop"] // int(DAY))
        for day in range(first, last):
            rng = np.random.default_rng([seed, 7, c_ix, day])
            date = shopify_time(day * int(DAY))[:10]
            counts = state["meta_counts"].get(f"{c['id']}|{date}", {})
            clicks = counts.get("link_click", 0) + int(rng.poisson(12 * scale))
            impressions = clicks * int(rng.integers(40, 90)) + int(rng.poisson(500 * scale))
            spend = clicks * float(rng.uniform(0.6, 1.6))
            actions = [{"action_type": "link_click", "value": str(clicks)}]
            if counts.get("lead"):
                actions.append({"action_type": "lead", "value": str(counts["lead"])})
            if counts.get("purchase"):
                actions.append({"action_type": "offsite_conversion.fb_pixel_purchase",
                                "value": str(counts["purchase"])})
            body = {"campaign_id": c["id"], "campaign_name": c["name"], "date_start": date, "date_stop": date,
                    "spend": f"{spend:.2f}", "impressions": str(impressions), "clicks": str(clicks),
                    "actions": actions}
            end_of_day = (day + 1) * int(DAY) - 1
            rows.append((f"{c['id']}:{date}", day * int(DAY), end_of_day, body))
    return rows
