"""One person's life over a window of time, written as the vendors would record it.

`simulate_person` plays the person's timeline in [t0, t1) in time order (registration, subscription, CRM
contact, purchases and browsing sessions, campaign sends, deal stages) and files what each vendor would
record into an Emitter. Entity records (customers, profiles, contacts, deals, companies) are rendered from
the person's state by `render_entities` at the end of the window, so they always show the latest state.
Purchases follow a Poisson process with rate lambda until the dropout time; browsing follows lambda (the
signal predictions find) and nearly stops after dropout.
"""

from __future__ import annotations

from bisect import bisect_right

import numpy as np

from sandbox.world.config import CATEGORIES, Rates
from sandbox.world.emit import Emitter, hubspot_time, klaviyo_time, meta_time, shopify_time
from sandbox.world.identity import JUNK_EMAILS, JUNK_PHONES, email_typo, email_variant, local_phone
from sandbox.world.people import DAY, hex_id, random_int

SHOWROOMS = {"US": 61001, "GB": 61002, "DE": 61003}
CURRENCY = {"US": "USD", "GB": "GBP", "DE": "EUR"}
DEAL_STAGES = {
    "design_consultation": ["appointmentscheduled", "consultation_held", "proposal_sent"],
    "trade": ["trade_application", "trade_qualified"],
}
DEAL_OUTCOMES = {"design_consultation": ("closedwon", "closedlost"), "trade": ("trade_onboarded", "trade_declined")}


class Context:
    """What every person's simulation shares: catalogue, campaigns, owners, id counters, rates.

    Ids come from `counters` (the last id handed out per kind). A chunk of people simulated on its own
    starts them at `id_base` and must stay below `id_base + id_span`, so chunks simulated in any order or
    process give the same ids; `advance` continues from the largest ids of all chunks.
    """

    def __init__(self, rates: Rates, products: list[dict], email_campaigns: list[dict], ad_campaigns: list[dict],
                 owners: list[str], forms: list[str], metric_ids: dict[str, str], counters: dict[str, int],
                 horizon: int, id_base: int = 0, id_span: int | None = None):
        self.rates = rates
        self.products = products
        self.by_category = {c: [p for p in products if p["category"] == c] for c in CATEGORIES}
        self.email_campaigns = email_campaigns
        self.ad_campaigns = ad_campaigns
        self.owners = owners
        self.forms = forms
        self.metric_ids = metric_ids
        self.counters = counters
        self.horizon = horizon  # the world's as_of at the end of this window: records show state up to it
        self.id_base = id_base
        self.id_limit = None if id_span is None else id_base + id_span
        self.interest_cdfs: dict[str, list[float]] = {}

    def next_id(self, name: str) -> int:
        n = self.counters[name] = self.counters.get(name, self.id_base) + 1
        if self.id_limit is not None and n >= self.id_limit:
            raise RuntimeError(f"chunk ran out of {name} ids (range {self.id_base}-{self.id_limit}); "
                               "make config.CHUNK_PEOPLE smaller or ID_SPAN larger")
        return n

    def interest_cdf(self, p: dict) -> list[float]:
        """The person's category distribution as numpy's `choice(p=...)` builds it: cumulative, scaled to 1."""
        cdf = self.interest_cdfs.get(p["person_id"])
        if cdf is None:
            weights = np.asarray(p["interests"]) / sum(p["interests"])
            scaled = weights.cumsum()
            scaled /= scaled[-1]
            cdf = self.interest_cdfs[p["person_id"]] = scaled.tolist()
        return cdf


def written_phone(e164: str, rng: np.random.Generator, rates: Rates) -> str:
    return local_phone(e164) if rng.random() < rates.phone_local_form else e164


def written_email(email: str, rng: np.random.Generator) -> str:
    """How an address gets typed into a form: mostly as is, sometimes cased/spaced/tagged, rarely mistyped."""
    u = rng.random()
    if u < 0.15:
        return email_variant(email, rng)
    if u < 0.18:
        return email_typo(email)
    return email


def junk_fields(fields: dict, rng: np.random.Generator, rates: Rates) -> dict:
    """With the junk rate, replace one identifier field of a record by a junk value used by many."""
    present = [k for k in ("email", "phone") if k in fields]
    if present and rng.random() < rates.junk_records:
        key = present[random_int(rng, 0, len(present))]
        pool = JUNK_EMAILS if key == "email" else JUNK_PHONES
        fields = dict(fields, **{key: pool[random_int(rng, 0, len(pool))]})
    return fields


def alive_at(p: dict, t: float) -> bool:
    return p["acquired_at"] <= t < p["dropout_at"]


def poisson_times(rng: np.random.Generator, rate_per_day: float, a: float, b: float) -> list[int]:
    if b <= a or rate_per_day <= 0:
        return []
    n = rng.poisson(rate_per_day * (b - a) / DAY)
    return sorted(int(x) for x in rng.uniform(a, b, n))


def simulate_person(p: dict, t0: int, t1: int, rng: np.random.Generator, ctx: Context, out: Emitter) -> None:
    rates = ctx.rates
    start = max(t0, int(p["acquired_at"]))
    if start >= t1:
        return
    alive_end = min(t1, int(p["dropout_at"]))
    timeline: list[tuple[int, int, str, object]] = []
    if t0 <= p["acquired_at"] < t1:
        timeline.append((int(p["acquired_at"]), 0, "first_visit", None))
        if p["source"] == "paid_social" and rng.random() < 0.25:
            timeline.append((int(p["acquired_at"]), 1, "lead", None))
        # when sales first meets the person (leads from the form become contacts too)
        p["crm_at"] = int(p["acquired_at"] + rng.exponential(40 * DAY))
    if p.get("crm_at") is not None and t0 <= p["crm_at"] < t1:
        timeline.append((p["crm_at"], 2, "crm", None))
    for key, kind in (("registration_at", "register"), ("subscribed_at", "subscribe")):
        if t0 <= p[key] < t1 and (kind == "subscribe" and p["subscribed"] or kind == "register"
                                   and p["wants_account"]):
            timeline.append((int(p[key]), 3, kind, None))
    prefs = p["prefs"]
    has_app = any(d["kind"] == "app" for d in p["devices"])
    online_share = prefs[0] + (prefs[1] if has_app else 0.0)
    for t in poisson_times(rng, p["lam"], start, alive_end):
        u = rng.random() * (prefs[0] + prefs[1] + prefs[2])
        channel = "web" if u < prefs[0] else ("app" if u < prefs[0] + prefs[1] and has_app else "pos")
        if channel == "app" and not has_app:
            channel = "web"
        timeline.append((t, 5, "purchase", channel))
    browse_rate = p["lam"] * online_share * (1.0 / rates.session_conversion - 1.0)
    for t in poisson_times(rng, browse_rate, start, alive_end):
        timeline.append((t, 6, "session", "alive"))
    for t in poisson_times(rng, browse_rate * rates.browsing_after_dropout, max(start, alive_end), t1):
        timeline.append((t, 6, "session", "dropped"))
    for campaign in ctx.email_campaigns:
        if start <= campaign["send_time"] < t1:
            timeline.append((campaign["send_time"], 7, "campaign", campaign))
    for deal in p["deals"]:
        for step in deal["path"] + deal["engagements"]:
            if t0 <= step["t"] < t1 and step["t"] > deal["created"]:
                timeline.append((step["t"], 8, "crm_step", (deal, step)))
    timeline.sort(key=lambda e: (e[0], e[1]))
    for t, _, kind, data in timeline:
        if kind == "first_visit":
            session(p, t, "browse", rng, ctx, out, first=True)
        elif kind == "lead":
            lead(p, t, rng, ctx, out)
        elif kind == "crm":
            crm_contact(p, t, rng, ctx, out)
        elif kind == "register":
            ensure_customer(p, t, rng, ctx)
        elif kind == "subscribe":
            ensure_profile(p, t, rng, ctx)
            p["profile_updated"] = t
        elif kind == "purchase":
            purchase(p, t, data, rng, ctx, out)
        elif kind == "session":
            cart_p = (1.0 / (1.0 - rates.cart_abandonment) - 1.0) / (1.0 / rates.session_conversion - 1.0)
            is_cart = data == "alive" and rng.random() < cart_p
            session(p, t, "cart" if is_cart else "browse", rng, ctx, out)
        elif kind == "campaign":
            campaign_send(p, t, data, rng, ctx, out)
        elif kind == "crm_step":
            crm_step(p, t, *data, ctx, out)
    # deals opened during this window play their planned steps up to its end
    planned = {id(step) for _, _, kind, data in timeline if kind == "crm_step" for step in data[1:]}
    for deal in p["deals"]:
        for step in sorted(deal["path"] + deal["engagements"], key=lambda s: s["t"]):
            if id(step) not in planned and deal["created"] < step["t"] < t1 and step["t"] >= t0:
                crm_step(p, step["t"], deal, step, ctx, out)


# -- identity-bearing entities -----------------------------------------------------------------------

def ensure_customer(p: dict, t: int, rng: np.random.Generator, ctx: Context) -> None:
    if p["customer_id"] is not None:
        return
    p["customer_id"] = str(7_000_000_000_000 + ctx.next_id("customer"))
    p["customer_created"] = p["customer_updated"] = t
    fields = {"email": written_email(p["emails"][0], rng)}
    if rng.random() < 0.5:
        fields["phone"] = written_phone(p["phone"], rng, ctx.rates)
    p["customer_fields"] = junk_fields(fields, rng, ctx.rates)
    if p["profile_id"] is not None:
        p["profile_updated"] = t  # the shop integration stamps the profile with its external id
    else:
        ensure_profile(p, t, rng, ctx)


def ensure_profile(p: dict, t: int, rng: np.random.Generator, ctx: Context) -> None:
    if p["profile_id"] is not None:
        return
    n = ctx.next_id("profile")
    p["profile_id"] = f"01K{n:011d}{hex_id(rng, 6).upper()}"
    p["profile_created"] = p["profile_updated"] = t
    fields = {"email": p["emails"][0]}
    p["profile_fields"] = junk_fields(fields, rng, ctx.rates)
    p["profile_phone"] = p["phone"] if rng.random() < 0.6 else None  # Klaviyo requires E.164
    p["profile_loyalty"] = rng.random() < 0.5


def crm_contact(p: dict, t: int, rng: np.random.Generator, ctx: Context, out: Emitter) -> None:
    """A design consultation, lead or trade account: a HubSpot contact, maybe a duplicate, a deal."""
    if p["contacts"] or not p["crm"]:
        return
    email = p["emails"][1] if len(p["emails"]) > 1 and rng.random() < 0.6 else p["emails"][0]
    owner = ctx.owners[random_int(rng, 0, len(ctx.owners))]
    fields = {"email": written_email(email, rng), "phone": written_phone(p["phone"], rng, ctx.rates)}
    p["contacts"].append(new_contact(ctx, t, junk_fields(fields, rng, ctx.rates), owner, rng))
    # 6% of contacts are duplicates: P(duplicate | person) = rate / (1 - rate)
    rate = ctx.rates.crm_duplicate_contacts
    if rng.random() < rate / (1.0 - rate):
        if rng.random() < 0.5:
            dup = {"email": email_variant(p["emails"][-1], rng)}
        else:
            dup = {"phone": written_phone(p["phone"], rng, ctx.rates)}
        later = min(t + int(rng.uniform(1, 90) * DAY), ctx.horizon - 1)
        p["contacts"].append(new_contact(ctx, later, junk_fields(dup, rng, ctx.rates), owner, rng))
    if p["trade"] and p["company_id"] is None:
        p["company_id"] = str(30_000_000_000 + ctx.next_id("company"))
        p["company_created"] = t
    new_deal(p, min(t + int(rng.uniform(0.5, 5) * DAY), ctx.horizon - 1), owner, rng, ctx)


def new_contact(ctx: Context, t: int, fields: dict, owner: str, rng: np.random.Generator) -> dict:
    return {"id": str(100 + ctx.next_id("contact")), "created": t, "updated": t, "fields": fields,
            "owner": owner, "loyalty": bool(rng.random() < 0.4), "mobile": bool(rng.random() < 0.3)}


def new_deal(p: dict, t: int, owner: str, rng: np.random.Generator, ctx: Context) -> None:
    """A deal with its whole path planned: stage changes and the calls, meetings and tasks along it."""
    pipeline = "trade" if p["trade"] else "design_consultation"
    steps, when = [], t
    for stage in DEAL_STAGES[pipeline][1:]:
        when += int(rng.exponential(8 * DAY)) + 3600
        steps.append({"t": when, "stage": stage})
    won_p = min(0.85, 0.25 + p["lam"] * 365 * 0.3)
    outcome = DEAL_OUTCOMES[pipeline][0 if rng.random() < won_p else 1]
    when += int(rng.exponential(10 * DAY)) + 3600
    steps.append({"t": when, "stage": outcome})
    category = CATEGORIES[int(np.argmax(p["interests"]))]
    base = ctx.by_category[category][0]["price"]
    engagements = [
        {"t": t + 3600, "kind": "calls"},
        {"t": t + int(2 * DAY), "kind": "meetings"},
        {"t": t + int(4 * DAY), "kind": "tasks"},
    ]
    p["deals"].append({
        "id": str(20_000_000_000 + ctx.next_id("deal")), "pipeline": pipeline, "created": t,
        "stage": DEAL_STAGES[pipeline][0], "updated": t, "owner": owner,
        "amount": f"{base * float(rng.uniform(2, 8)):.2f}", "closedate": when, "path": steps,
        "engagements": engagements,
    })


def crm_step(p: dict, t: int, deal: dict, step: dict, ctx: Context, out: Emitter) -> None:
    if "stage" in step:
        deal["stage"], deal["updated"] = step["stage"], t
        if step["stage"] in ("closedwon", "trade_onboarded"):
            for contact in p["contacts"]:
                contact["updated"] = t
                contact["stage"] = "customer"
        return
    kind, n = step["kind"], ctx.next_id("engagement")
    title = {"calls": "hs_call_title", "meetings": "hs_meeting_title", "tasks": "hs_task_subject"}[kind]
    props = {title: f"{deal['pipeline'].replace('_', ' ').title()} - {p['last_name']}",
             "hs_timestamp": hubspot_time(t), "hubspot_owner_id": deal["owner"],
             "hs_createdate": hubspot_time(t), "hs_lastmodifieddate": hubspot_time(t)}
    if kind == "calls":
        props.update(hs_call_status="COMPLETED", hs_call_direction="OUTBOUND", hs_call_duration="420000")
    elif kind == "meetings":
        props.update(hs_meeting_start_time=hubspot_time(t), hs_meeting_end_time=hubspot_time(t + 3600),
                     hs_meeting_outcome="COMPLETED")
    else:
        props.update(hs_task_body="Follow up on the design proposal", hs_task_status="COMPLETED",
                     hs_task_priority="MEDIUM", hs_task_type="CALL")
    record_id = str(40_000_000_000 + n)
    contact_id = p["contacts"][0]["id"]
    body = {"id": record_id, "properties": {**props, "hs_object_id": record_id},
            "createdAt": hubspot_time(t), "updatedAt": hubspot_time(t), "archived": False,
            "associations": {"contacts": {"results": [{"id": contact_id, "type": f"{kind[:-1]}_to_contact"}]}}}
    out.record("hubspot", kind, record_id, t, t, body)


def lead(p: dict, t: int, rng: np.random.Generator, ctx: Context, out: Emitter) -> None:
    campaign = active_ad_campaign(ctx, t, p)
    lead_id = str(800_000_000_000_000 + ctx.next_id("lead"))
    email = p["emails"][-1] if rng.random() < 0.3 else p["emails"][0]
    fields = junk_fields({"email": written_email(email, rng), "phone": written_phone(p["phone"], rng, ctx.rates)},
                         rng, ctx.rates)
    field_data = [{"name": "email", "values": [fields["email"]]},
                  {"name": "phone_number", "values": [fields["phone"]]},
                  {"name": "full_name", "values": [f"{p['first_name']} {p['last_name']}"]}]
    form_id = ctx.forms[random_int(rng, 0, len(ctx.forms))]
    body = {"id": lead_id, "created_time": meta_time(t), "ad_id": campaign["ad_id"], "campaign_id": campaign["id"],
            "form_id": form_id, "field_data": field_data}
    out.record("meta", "leads", lead_id, t, t, body, p["person_id"],
               [("meta_lead_id", lead_id), ("email", fields["email"]), ("phone", fields["phone"])], p["country"])
    out.count_meta(campaign["id"], meta_time(t)[:10], "lead")
    p["crm"] = True  # the lead form feeds the CRM


def active_ad_campaign(ctx: Context, t: int, p: dict) -> dict:
    active = [c for c in ctx.ad_campaigns if c["start"] <= t < c["stop"]] or ctx.ad_campaigns[:1]
    return active[int(p["lam"] * 1e6) % len(active)]


# -- shopping -----------------------------------------------------------------------------------------

def pick_products(p: dict, rng: np.random.Generator, ctx: Context, n: int) -> list[dict]:
    # Same draws as rng.choice(len(CATEGORIES), n, p=interests) (uniforms looked up in the cumulative
    # weights), without its per-call validation, which cost more than the rest of a session.
    cdf = ctx.interest_cdf(p)
    chosen = []
    for u in rng.random(n).tolist():
        options = ctx.by_category[CATEGORIES[bisect_right(cdf, u)]]
        chosen.append(options[random_int(rng, 0, len(options))])
    return chosen


def purchase(p: dict, t: int, channel: str, rng: np.random.Generator, ctx: Context, out: Emitter) -> None:
    items = pick_products(p, rng, ctx, 1 + int(rng.random() < 0.3))
    if channel == "pos":
        write_order(p, t, "pos", items, None, rng, ctx, out)
        return
    ensure_customer(p, t, rng, ctx)
    session(p, t, "purchase", rng, ctx, out, channel=channel, items=items)


def write_order(p: dict, t: int, source_name: str, items: list[dict], landing: str | None,
                rng: np.random.Generator, ctx: Context, out: Emitter) -> str:
    rates = ctx.rates
    n = ctx.next_id("order")
    order_id = str(5_000_000_000_000 + n)
    note_attributes, customer, fields = [], None, {}
    if source_name == "pos":
        if rng.random() < rates.pos_orders_without_email:
            if rng.random() < 0.5:
                fields["phone"] = written_phone(p["phone"], rng, rates)
            else:
                note_attributes.append({"name": "loyalty_number", "value": p["loyalty_number"]})
        else:
            fields["email"] = written_email(p["emails"][0], rng)
            if rng.random() < 0.5:
                note_attributes.append({"name": "loyalty_number", "value": p["loyalty_number"]})
            if p["customer_id"] is not None:
                customer = p["customer_id"]
    else:
        customer = p["customer_id"]
        fields["email"] = p["customer_fields"].get("email") or p["emails"][0]
        if rng.random() < 0.3:
            fields["phone"] = written_phone(p["phone"], rng, rates)
    fields = junk_fields(fields, rng, rates)
    subtotal = sum(item["price"] for item in items)
    discount = round(subtotal * 0.1, 2) if rng.random() < 0.15 else 0.0
    total = subtotal - discount
    line_items = [{"id": 13_000_000_000_000 + ctx.next_id("line_item"), "product_id": item["id"],
                   "variant_id": item["variant_id"], "sku": item["sku"], "title": item["title"], "quantity": 1,
                   "price": f"{item['price']:.2f}"} for item in items]
    updated, financial, fulfillment, refunds = t, "paid", None, []
    if t + 7 * DAY <= ctx.horizon:
        fulfillment, updated = "fulfilled", t + int(rng.uniform(1, 7) * DAY)
    if rng.random() < rates.order_refund:
        refund_t = t + int(rng.uniform(3, 40) * DAY)
        if refund_t <= ctx.horizon:
            refunds.append(refund_body(line_items[0], refund_t, ctx))
            financial = "refunded" if len(line_items) == 1 else "partially_refunded"
            updated = max(updated, refund_t)
    cust_body = None
    if customer is not None:
        cust_body = {"id": int(customer), "email": p["customer_fields"].get("email"),
                     "phone": p["customer_fields"].get("phone"), "first_name": p["first_name"],
                     "last_name": p["last_name"]}
    body = {
        "id": int(order_id), "name": f"#{1000 + n}", "order_number": 1000 + n,
        "email": fields.get("email"), "phone": fields.get("phone"),
        "created_at": shopify_time(t), "updated_at": shopify_time(updated), "processed_at": shopify_time(t),
        "cancelled_at": None, "source_name": source_name,
        "location_id": SHOWROOMS[p["country"]] if source_name == "pos" else None,
        "total_price": f"{total:.2f}", "subtotal_price": f"{subtotal:.2f}", "total_discounts": f"{discount:.2f}",
        "currency": CURRENCY[p["country"]], "financial_status": financial, "fulfillment_status": fulfillment,
        "landing_site": landing, "referring_site": "https://www.facebook.com/" if landing and "fbclid" in landing
        else None, "note_attributes": note_attributes, "customer": cust_body, "line_items": line_items,
        "refunds": refunds,
    }
    ident = [("shopify_order_id", order_id), ("shopify_customer_id", customer), ("email", fields.get("email")),
             ("phone", fields.get("phone"))]
    ident += [("loyalty_number", a["value"]) for a in note_attributes]
    if landing and "fbclid=" in landing:
        ident.append(("fbclid", landing.split("fbclid=")[1]))
    out.record("shopify", "orders", order_id, t, updated, body, p["person_id"], ident, p["country"])
    p["orders"] += 1
    p["spent"] += total
    p["first_order_at"] = p["first_order_at"] or t
    p["last_order_at"] = t
    if p["customer_id"] is not None:
        p["customer_updated"] = t
    return order_id


def refund_body(line_item: dict, t: int, ctx: Context) -> dict:
    return {"id": 900_000_000_000 + ctx.next_id("refund"), "created_at": shopify_time(t),
            "refund_line_items": [{"id": 910_000_000_000 + ctx.next_id("refund_line"),
                                   "line_item_id": line_item["id"], "quantity": 1, "subtotal": line_item["price"]}],
            "transactions": [{"id": 920_000_000_000 + ctx.next_id("transaction"), "amount": line_item["price"],
                              "kind": "refund"}]}


ENTRY_UTM = {
    "organic": {"utm_source": "google", "utm_medium": "organic"},
    "email": {"utm_source": "klaviyo", "utm_medium": "email", "utm_campaign": "welcome"},
    "referral": {"utm_source": "friend", "utm_medium": "referral"},
}


def session(p: dict, t: int, kind: str, rng: np.random.Generator, ctx: Context, out: Emitter,
            first: bool = False, channel: str | None = None, items: list[dict] | None = None) -> None:
    """One visit: entry page with UTM, product views in the person's interests, maybe a cart and an order."""
    rates = ctx.rates
    p["sessions"] += 1
    apps = [d for d in p["devices"] if d["kind"] == "app"]
    webs = [d for d in p["devices"] if d["kind"] == "web"]
    if channel is None:
        channel = "app" if apps and rng.random() < p["prefs"][1] / (p["prefs"][0] + p["prefs"][1]) else "web"
    device = apps[0] if channel == "app" and apps else webs[random_int(rng, 0, len(webs))]
    borrowed = p.get("borrowed_devices") or []
    if borrowed and kind != "purchase" and rng.random() < 0.3:
        device = borrowed[random_int(rng, 0, len(borrowed))]
    logs_in = p["customer_id"] is not None and (device["kind"] == "app" or device.get("logs_in", False))
    lib = device["lib"]
    os_name = {"web": "Windows" if rng.random() < 0.5 else "Mac OS X", "iphone": "iOS", "android": "Android"}[lib]
    clock = [t]

    def emit(event: str, extra: dict) -> None:
        clock[0] += random_int(rng, 5, 120)
        props = {"time": clock[0], "distinct_id": p["customer_id"] if logs_in else f"$device:{device['id']}",
                 "$insert_id": hex_id(rng, 16), "$device_id": device["id"], "mp_lib": lib, "$os": os_name}
        if logs_in:
            props["$user_id"] = p["customer_id"]
        if lib == "web":
            props["$current_url"] = f"https://www.hearthandhome.example/{extra.get('page_type', 'product')}"
        props.update(extra)
        late = rng.random() < rates.late_events
        arrives = clock[0] + (int(rng.uniform(600, rates.late_events_max_hours * 3600)) if late
                              else random_int(rng, 1, 60))
        out.event(clock[0], arrives, {"event": event, "properties": props})
        out.device_identifier(device["id"], p["person_id"], "device_id", device["id"], arrives)
        for key, id_type in (("$user_id", "shopify_customer_id"), ("order_id", "shopify_order_id"),
                             ("fbclid", "fbclid")):
            if props.get(key):
                out.device_identifier(device["id"], p["person_id"], id_type, str(props[key]), arrives)

    entry: dict = {}
    landing = None
    if first and p["source"] == "paid_social":
        campaign = active_ad_campaign(ctx, t, p)
        entry = {"utm_source": "facebook", "utm_medium": "paid_social", "utm_campaign": campaign["name"],
                 "fbclid": p["fbclid"]}
        out.count_meta(campaign["id"], meta_time(t)[:10], "link_click")
    elif first:
        entry = dict(ENTRY_UTM.get(p["source"], {}))
    elif kind == "purchase" and p["fbclid"] and p["orders"] == 0:
        # the first online order comes back through the ad the person clicked
        campaign = active_ad_campaign(ctx, t, p)
        entry = {"utm_source": "facebook", "utm_medium": "paid_social", "utm_campaign": campaign["name"],
                 "fbclid": p["fbclid"]}
        landing = f"/products?utm_source=facebook&fbclid={p['fbclid']}"
        out.count_meta(campaign["id"], meta_time(t)[:10], "purchase")
    if lib == "web":
        emit("Page Viewed", {"page_type": "home" if rng.random() < 0.6 else "category", **entry})
    else:
        emit("App Opened", entry)
    if logs_in and not device.get("signed_in"):
        emit("Signed In", {})
        device["signed_in"] = True
    if p["crm"] and rng.random() < 0.2:
        emit("Page Viewed", {"page_type": "consultation"})
    viewed = items or []
    for product in pick_products(p, rng, ctx, 1 + int(rng.poisson(1.2))):
        emit("Product Viewed", {"page_type": "product", "product_id": product["id"],
                                "category": product["category"], "price": product["price"]})
        viewed = viewed or [product]
    if kind == "browse":
        return
    cart_id = hex_id(rng, 8)
    for product in items or viewed[:1]:
        emit("Product Added", {"product_id": product["id"], "category": product["category"],
                               "price": product["price"], "cart_id": cart_id})
    if kind == "cart":
        if rng.random() < 0.5:
            emit("Checkout Started", {"cart_id": cart_id})
            if p["customer_id"] is not None:
                abandoned_checkout(p, clock[0], viewed[:1], rng, ctx, out)
        return
    emit("Checkout Started", {"cart_id": cart_id})
    source_name = "web" if lib == "web" else lib
    order_id = write_order(p, clock[0] + 30, source_name, items, landing, rng, ctx, out)
    total = sum(item["price"] for item in items)
    emit("Order Completed", {"order_id": order_id, "revenue": round(total, 2), "cart_id": cart_id})


def abandoned_checkout(p: dict, t: int, items: list[dict], rng: np.random.Generator, ctx: Context,
                       out: Emitter) -> None:
    checkout_id = str(6_000_000_000_000 + ctx.next_id("checkout"))
    line_items = [{"id": 13_000_000_000_000 + ctx.next_id("line_item"), "product_id": i["id"],
                   "variant_id": i["variant_id"], "sku": i["sku"], "title": i["title"], "quantity": 1,
                   "price": f"{i['price']:.2f}"} for i in items]
    body = {"id": int(checkout_id), "token": hex_id(rng, 16), "email": p["customer_fields"].get("email"),
            "phone": p["customer_fields"].get("phone"), "created_at": shopify_time(t),
            "updated_at": shopify_time(t), "completed_at": None,
            "total_price": f"{sum(i['price'] for i in items):.2f}", "currency": CURRENCY[p["country"]],
            "landing_site": "/", "customer": {"id": int(p["customer_id"]), "email": p["customer_fields"].get("email"),
                                              "first_name": p["first_name"], "last_name": p["last_name"]},
            "line_items": line_items}
    out.record("shopify", "checkouts", checkout_id, t, t, body)


# -- email --------------------------------------------------------------------------------------------

def campaign_send(p: dict, t: int, campaign: dict, rng: np.random.Generator, ctx: Context, out: Emitter) -> None:
    rates = ctx.rates
    if not p["subscribed"] or p["unsubscribed_at"] is not None or p["profile_id"] is None or t < p["subscribed_at"]:
        return
    if rng.random() >= rates.campaign_audience:
        return
    klaviyo_event(p, t, "Received Email", campaign, rng, ctx, out)
    engagement = p["email_propensity"] * (1.0 if alive_at(p, t) else 0.5)
    if rng.random() < engagement:
        klaviyo_event(p, t + int(rng.exponential(6 * 3600)) + 60, "Opened Email", campaign, rng, ctx, out)
        if rng.random() < rates.email_click / rates.email_open:
            klaviyo_event(p, t + int(rng.exponential(8 * 3600)) + 120, "Clicked Email", campaign, rng, ctx, out)
    if rng.random() < rates.email_unsubscribe * (1.0 if alive_at(p, t) else 2.0):
        when = t + int(rng.exponential(12 * 3600)) + 180
        klaviyo_event(p, when, "Unsubscribed", campaign, rng, ctx, out)
        p["unsubscribed_at"] = when
        p["profile_updated"] = when
        if p["customer_id"] is not None:
            p["customer_updated"] = when
        for contact in p["contacts"]:
            contact["updated"] = max(contact["updated"], when)


def klaviyo_event(p: dict, t: int, metric: str, campaign: dict, rng: np.random.Generator, ctx: Context,
                  out: Emitter) -> None:
    t = min(t, ctx.horizon - 1) if t >= ctx.horizon else t
    uid = hex_id(rng, 16)
    event_id = f"{ctx.next_id('klaviyo_event'):012d}{uid[:8]}"
    body = {"type": "event", "id": event_id,
            "attributes": {"timestamp": t, "datetime": klaviyo_time(t),
                           "uuid": f"{uid[:8]}-{uid[8:12]}-{uid[12:16]}-{uid[16:20]}-{uid[20:]}",
                           "event_properties": {"Campaign Name": campaign["name"], "Subject": campaign["subject"],
                                                "$message": campaign["id"]}},
            "relationships": {"profile": {"data": {"type": "profile", "id": p["profile_id"]}},
                              "metric": {"data": {"type": "metric", "id": ctx.metric_ids[metric]}}}}
    out.record("klaviyo", "events", event_id, t, t, body)
