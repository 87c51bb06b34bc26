"""The world's rates beside the brief's targets, measured from the generated records and the truth files."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from sandbox.world.config import DEFAULT_RATES


def world_stats(world_dir: Path) -> list[dict]:
    world_dir = Path(world_dir)
    sandbox = world_dir.parent
    r = DEFAULT_RATES
    con = duckdb.connect()

    def one(sql: str) -> float:
        value = con.execute(sql).fetchone()[0]
        return round(float(value or 0.0), 4)

    def rec(vendor: str, resource: str) -> str:
        return f"read_parquet('{world_dir}/{vendor}/{resource}.parquet')"

    ids = f"read_parquet('{sandbox}/identifier_truth.parquet')"
    gt = f"read_parquet('{sandbox}/ground_truth.parquet')"
    people = f"read_parquet('{sandbox}/person_truth.parquet')"
    events = f"read_json('{world_dir}/mixpanel/events/*.ndjson.gz', format='newline_delimited', " \
             "columns={event: 'varchar', properties: 'json'})"
    klaviyo = (f"(select json_extract_string(body, '$.relationships.metric.data.id') m from "
               f"{rec('klaviyo', 'events')})")
    orders = f"(select body::json j from {rec('shopify', 'orders')})"
    state = json.loads((sandbox / "world_state.json").read_text())
    device, user = "json_extract_string(properties, '$.\"$device_id\"')", \
        "json_extract_string(properties, '$.\"$user_id\"')"
    con.execute(f"create table ev as select event, {device} device, {user} uid, properties->>'cart_id' cart, "
                f"properties->>'mp_lib' lib, properties from {events}")
    dirt = [
        ("people with two or more emails", r.people_with_two_emails, one(f"select avg((n_emails >= 2)::int) from {people}")),
        ("phone values in a local, non-E.164 form (outside Klaviyo, which requires E.164)", r.phone_local_form,
         one(f"select avg((id_value not like '+%')::int) from {ids} where id_type = 'phone' and kind <> 'junk'")),
        ("CRM contacts that duplicate another contact", r.crm_duplicate_contacts,
         one(f"select 1 - count(distinct person_id) / count(*) from {gt} where record_type = 'contact'")),
        ("people sharing a family email", r.family_email_people, one(f"select avg(family_email::int) * 2 from {people}")),
        ("devices used by two people", r.shared_devices,
         one(f"select avg(shared::int) from {gt} where record_type = 'device'")),
        ("records carrying a junk value", r.junk_records, one(
            f"select count(distinct (source, record_type, record_id)) / (select count(*) from {gt} where "
            f"record_type <> 'device') from read_parquet('{sandbox}/record_identifiers.parquet') where "
            f"record_type <> 'device' and normalized_value in (select normalized_value from {ids} where kind = 'junk')")),
        ("web devices that never log in", r.web_devices_never_log_in, one(
            "select 1 - count(distinct device) filter (where uid is not null) / count(distinct device) "
            "from ev where lib = 'web'")),
        ("POS orders without an email", r.pos_orders_without_email,
         one(f"select avg((j->>'email' is null)::int) from {orders} where j->>'source_name' = 'pos'")),
        ("analytics events that arrived late (up to 72 h)", r.late_events,
         round(state["events"]["late"] / max(1, state["events"]["total"]), 4)),
    ]
    received = one(f"select count(*) from {klaviyo} where m = 'RcvE1m'") or 1.0
    carts = one("select count(distinct cart) from ev where event = 'Product Added'") or 1.0
    sessions = one("select count(*) from ev where event in ('Page Viewed', 'App Opened') and "
                   "coalesce(properties->>'page_type', '') <> 'consultation'")
    behaviour = [
        ("carts abandoned", r.cart_abandonment, round(1 - one("select count(distinct cart) from ev where event = "
                                                               "'Order Completed'") / carts, 4)),
        ("sessions that convert (online order)", r.session_conversion,
         round(one("select count(*) from ev where event = 'Order Completed'") / max(sessions, 1), 4)),
        ("emails opened of delivered", r.email_open, round(one(f"select count(*) from {klaviyo} where m = 'OpnE2m'")
                                                          / received, 4)),
        ("emails clicked of delivered", r.email_click, round(one(f"select count(*) from {klaviyo} where m = "
                                                                "'ClkE3m'") / received, 4)),
        ("unsubscribes per send", r.email_unsubscribe, round(one(f"select count(*) from {klaviyo} where m = "
                                                                 "'UnsE4m'") / received, 4)),
        ("first-time buyers who bought again within a year (at most)", r.repeat_within_year_max, one(
            f"with o as (select j->'customer'->>'id' c, (j->>'created_at')::timestamptz t from {orders} "
            "where j->'customer'->>'id' is not null), f as (select c, min(t) f from o group by c) "
            "select avg((exists (select 1 from o where o.c = f.c and o.t > f.f and o.t <= f.f + interval 365 day))"
            "::int) from f")),
        ("orders refunded", r.order_refund, one(f"select avg((json_array_length(j->'refunds') > 0)::int) from {orders}")),
    ]
    con.execute("drop table ev")
    return ([{"group": "dirt", "metric": m, "target": t, "actual": a} for m, t, a in dirt]
            + [{"group": "behaviour", "metric": m, "target": t, "actual": a} for m, t, a in behaviour])
