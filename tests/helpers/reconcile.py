"""Compare what the warehouse holds with what the emulators serve: the check behind "loaded exactly once".

For each resource of the world store: the ids missing from the warehouse, the ids the warehouse has that the
store does not, duplicate keys, and records whose last-modified time differs (an old version kept).

The vendors also serve what the syncs created through their write APIs (Klaviyo lists, HubSpot tasks), which
the next ingestion loads like any record: `created` adds those ids to the store's side.

A record the vendor merged away or deleted stays in its raw table (the vendors send no deletion to load); the
warehouse marks it in staging (`stg_<vendor>__deleted_records`, `stg_hubspot__merges`). Marked ids leave the
warehouse's side, so one the store still serves counts as missing and one unmarked as extra.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

# (vendor, resource) -> (warehouse key expression, warehouse last-modified expression or None)
KEYS: dict[tuple[str, str], tuple[str, str | None]] = {
    ("hubspot", "contacts"): ("id", "updated_at"),
    ("hubspot", "companies"): ("id", "updated_at"),
    ("hubspot", "deals"): ("id", "updated_at"),
    ("hubspot", "calls"): ("id", "updated_at"),
    ("hubspot", "meetings"): ("id", "updated_at"),
    ("hubspot", "tasks"): ("id", "updated_at"),
    ("hubspot", "owners"): ("id", "updated_at"),
    ("hubspot", "pipelines"): ("id", None),
    ("shopify", "customers"): ("id::varchar", "updated_at"),
    ("shopify", "orders"): ("id::varchar", "updated_at"),
    ("shopify", "products"): ("id::varchar", "updated_at"),
    ("shopify", "checkouts"): ("id::varchar", "updated_at"),
    ("klaviyo", "profiles"): ("id", "attributes__updated"),
    ("klaviyo", "lists"): ("id", "attributes__updated"),
    ("klaviyo", "metrics"): ("id", "attributes__updated"),
    ("klaviyo", "campaigns"): ("id", "attributes__updated_at"),
    ("klaviyo", "events"): ("id", None),
    ("meta", "campaigns"): ("id", "updated_time"),
    ("meta", "insights"): ("campaign_id || ':' || strftime(date_start::date, '%Y-%m-%d')", None),
    ("meta", "leadgen_forms"): ("id", None),
    ("meta", "leads"): ("id", None),
}


@dataclass
class Difference:
    vendor: str
    resource: str
    store_rows: int
    warehouse_rows: int
    missing: int
    extra: int
    duplicates: int
    stale: int

    @property
    def exact(self) -> bool:
        return not (self.missing or self.extra or self.duplicates or self.stale)


def reconcile(world_dir: Path, warehouse: Path, created: dict[tuple[str, str], set[str]] | None = None
              ) -> list[Difference]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute("set timezone = 'UTC'")
        return [
            _compare(con, world_dir, vendor, resource, *exprs, created=(created or {}).get((vendor, resource), set()))
            for (vendor, resource), exprs in KEYS.items()
        ] + [_compare_events(con, world_dir)]
    finally:
        con.close()


def _compare(con, world_dir, vendor, resource, key, modified, created: frozenset[str] = frozenset()) -> Difference:
    store = f"read_parquet('{world_dir / vendor / f'{resource}.parquet'}')"
    version = f"({modified})::timestamptz" if modified else "null::timestamptz"
    gone = " union all ".join(_gone_ids(con, vendor, resource)) or "select null::varchar as k where false"
    con.execute(f"create or replace temp view w as select ({key})::varchar as k, {version} as m from {vendor}.{resource}"
                f" where ({key})::varchar not in (select k from ({gone}) as gone where k is not null)")
    # Created ids carry no version here: their last-modified time is the vendor's, not the world's.
    con.execute("create or replace temp table api_created (k varchar)")
    if created:
        con.executemany("insert into api_created values (?)", [(k,) for k in sorted(created)])
    con.execute(f"create or replace temp view s as select id as k, {'updated_at' if modified else 'null::timestamptz'} as m"
                f" from {store} union all select k, null from api_created")
    return _diff(con, vendor, resource)


# Staging views that mark a vendor's gone records: (relation, id column), filtered on object_type.
GONE_MARKS = {
    "hubspot": [("staging.stg_hubspot__deleted_records", "record_id"), ("staging.stg_hubspot__merges", "merged_id")],
    "shopify": [("staging.stg_shopify__deleted_records", "record_id")],
    "klaviyo": [("staging.stg_klaviyo__deleted_records", "record_id")],
}


def _gone_ids(con, vendor: str, resource: str) -> list[str]:
    built = {f"{s}.{t}" for s, t in con.execute("select table_schema, table_name from information_schema.tables")
             .fetchall()}
    return [f"select {column}::varchar as k from {relation} where object_type = '{resource}'"
            for relation, column in GONE_MARKS.get(vendor, []) if relation in built]


def _compare_events(con, world_dir) -> Difference:
    con.execute("create or replace temp table api_created (k varchar)")
    files = str(world_dir / "mixpanel" / "events" / "*.ndjson.gz")
    con.execute(
        "create or replace temp view s as select distinct properties->>'$.\"$insert_id\"' as k, null::timestamptz as m "
        f"from read_json('{files}', format='newline_delimited', columns={{'event': 'varchar', 'properties': 'json'}})"
    )
    con.execute("create or replace temp view w as select insert_id as k, null::timestamptz as m from mixpanel.events")
    return _diff(con, "mixpanel", "events")


def _diff(con, vendor, resource) -> Difference:
    one = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
    return Difference(
        vendor,
        resource,
        store_rows=one("select count(*) from s"),
        warehouse_rows=one("select count(*) from w"),
        missing=one("select count(*) from (select k from s except select k from w)"),
        extra=one("select count(*) from (select k from w except select k from s)"),
        duplicates=one("select count(*) - count(distinct k) from w"),
        stale=one("select count(*) from s join w using (k) where s.m is distinct from w.m"
                  " and k not in (select k from api_created)"),
    )


def describe(differences: list[Difference]) -> str:
    return "\n".join(
        f"{d.vendor}.{d.resource}: store {d.store_rows}, warehouse {d.warehouse_rows}, missing {d.missing}, "
        f"extra {d.extra}, duplicates {d.duplicates}, stale {d.stale}"
        for d in differences
        if not d.exact
    )
