"""Plan a sync in the warehouse: what the model says now against what the destination last confirmed.

One short step while the warehouse is held. It reads the sync's model (a segment, or a `sync_<destination>__
<object>` model), joins what the destination needs of each person from the profile, and compares it with
`syncs.sync_state`:
- add: a key the destination does not hold; change: a key whose payload differs; remove: a key that left
  the model (mirror syncs only); everything else is unchanged and costs no request.
- the mode narrows that: insert = adds only; update = changes, and adds only of people the destination
  already knows (from the ingested records of that vendor); upsert = adds and changes; mirror = all three.

Refusals (SyncRefused, nothing sent, the message says what to do): a null or duplicate key, failing identity
health checks, an operation the destination cannot do, or more changes and removes than the sync's
`max_change_share` of what the destination holds, unless forced. People without consent for the
destination's channel, or without any identifier it can use, are left out (and so removed when they were
members) and counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from cdp.activation_config import DEFAULT_MAX_CHANGE_SHARE
from reverse_etl.destinations.base import Destination
from reverse_etl.state import RUNS, STATE, RunFolder, ensure_tables

PROFILES = "marts.customer_profiles"
SOURCE_RECORDS = "marts.customer_source_records"
SAMPLE_SIZE = 5

# What a destination may ask to know of a person, as SQL over the model `m`, the profile `p` and the
# person's CRM contact `crm`.
IDENTITY_SQL = {
    "customer_id": "m.customer_id::varchar",
    "email": "p.primary_email",
    "phone": "p.primary_phone",
    "first_name": "p.first_name",
    "last_name": "p.last_name",
    "crm_owner_id": "p.crm_owner_id::varchar",
    "crm_contact_id": "crm.record_id",
    # The email HubSpot knows the person's live contact by (its own, not a merged contact's); null when the
    # warehouse has no CRM staging (then destinations use `email`).
    "crm_contact_email": "crm.email",
}
# Records the vendor has merged away or deleted (staging, per vendor: object_type, record_id), as the record
# types of customer_source_records. A sync never targets them, even while identity still lists one (a stale
# profile build): `known_to_destination` and `crm_contact_id` skip them.
GONE_RECORDS = {
    "staging.stg_hubspot__merges": "select 'hubspot', regexp_replace(object_type, 's$', ''), merged_id",
    "staging.stg_hubspot__deleted_records": "select 'hubspot', regexp_replace(object_type, 's$', ''), record_id",
    "staging.stg_shopify__deleted_records": "select 'shopify', regexp_replace(object_type, 's$', ''), record_id",
    "staging.stg_klaviyo__deleted_records": "select 'klaviyo', regexp_replace(object_type, 's$', ''), record_id",
}
CRM_CONTACTS = "staging.stg_hubspot__contacts"
# What a destination's confirmed `destination_id` is, where it is a vendor record the vendor may delete or merge.
DESTINATION_RECORDS = {"hubspot_contacts": ("hubspot", "contact"), "klaviyo_list": ("klaviyo", "profile"),
                       "klaviyo_profiles": ("klaviyo", "profile")}
CONSENT_SQL = {"email": "p.email_consent = 'subscribed'", "sms": "p.sms_consent = 'subscribed'"}
MODE_OPERATIONS = {"insert": ("add",), "update": ("add", "change"), "upsert": ("add", "change"),
                   "mirror": ("add", "change", "remove")}


class SyncRefused(RuntimeError):
    """The sync would do something unsafe or cannot be planned; nothing was sent."""


@dataclass(frozen=True)
class SyncSpec:
    """One declared sync (a model's `config.meta.cdp.syncs` entry) with where its model lives."""

    name: str  # <destination>__<segment>, unique
    model: str
    relation: str  # schema.table the model is built as
    destination: str
    key: str
    mode: str
    target: str
    fields: dict[str, str] = field(default_factory=dict)
    max_change_share: float = DEFAULT_MAX_CHANGE_SHARE


@dataclass
class PlanSummary:
    sync_name: str
    run_id: str | None
    adds: int = 0
    changes: int = 0
    removes: int = 0
    unchanged: int = 0
    skipped_no_consent: int = 0
    skipped_no_identifier: int = 0
    held: int = 0  # rows the destination was last confirmed to hold
    full_resync: bool = False
    forced: bool = False
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def planned(self) -> int:
        return self.adds + self.changes + self.removes

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "samples"}


def plan_sync(
    con: duckdb.DuckDBPyConnection,
    spec: SyncSpec,
    destination: type[Destination],
    run: RunFolder | None,
    planned_at: datetime,
    force: bool = False,
    full_resync: bool = False,
    failing_checks: tuple[str, ...] = (),
) -> PlanSummary:
    """Plan the sync; with a run folder, write the plan there and open the run in `syncs.sync_runs`.

    Without one (a dry run) nothing is written: the connection may be the read-only published copy.
    """
    if failing_checks:
        raise SyncRefused(
            f"{spec.name}: identity health checks failing ({', '.join(failing_checks)}); syncing now could send "
            "over-merged profiles. Look at the identity_resolution checks in Dagster, fix the cause, rebuild."
        )
    operations = MODE_OPERATIONS[spec.mode]
    unsupported = [op for op in operations if op not in destination.operations]
    if unsupported:
        raise SyncRefused(
            f"{spec.name}: mode {spec.mode} needs {', '.join(unsupported)}, which {spec.destination} cannot do; "
            f"fix: use mode {'insert' if destination.operations == ('add',) else 'upsert'} in {spec.model}'s "
            "config.meta.cdp.syncs."
        )
    if run is not None:
        ensure_tables(con)
    _build_desired(con, spec, destination)
    _diff(con, spec, full_resync, operations, forget=run is not None)
    summary = _summarise(con, spec, run, force, full_resync)
    _guard(spec, summary, force)
    if run is not None:
        con.execute(f"copy (select * from sync_plan order by op, key) to '{run.plan}' (format parquet)")
        con.execute(
            f"insert into {RUNS} (run_id, sync_name, destination, mode, planned_at, status, full_resync, forced, adds,"
            " changes, removes, unchanged, skipped_no_consent, skipped_no_identifier)"
            " values (?, ?, ?, ?, ?, 'planned', ?, ?, ?, ?, ?, ?, ?, ?)",
            [run.run_id, spec.name, spec.destination, spec.mode, planned_at, full_resync, force, summary.adds,
             summary.changes, summary.removes, summary.unchanged, summary.skipped_no_consent,
             summary.skipped_no_identifier],
        )
    return summary


def _build_desired(con: duckdb.DuckDBPyConnection, spec: SyncSpec, destination: type[Destination]) -> None:
    columns = {row[0] for row in con.execute(f"describe {spec.relation}").fetchall()}
    missing = sorted({spec.key, "customer_id", *spec.fields.values()} - columns)
    if missing:
        raise SyncRefused(
            f"{spec.name}: model {spec.model} has no column {', '.join(missing)}; fix its SQL or the sync's "
            f"key/fields (columns: {', '.join(sorted(columns))})."
        )
    nulls, duplicates = con.execute(
        f"select count(*) filter (where {_q(spec.key)} is null), count({_q(spec.key)}) - count(distinct {_q(spec.key)})"
        f" from {spec.relation}"
    ).fetchone()
    if nulls or duplicates:
        sample = [r[0] for r in con.execute(
            f"select {_q(spec.key)}::varchar from {spec.relation} where {_q(spec.key)} is not null"
            f" group by 1 having count(*) > 1 limit 5").fetchall()]
        raise SyncRefused(
            f"{spec.name}: key column {spec.key} of {spec.model} has {nulls} null and {duplicates} duplicate values"
            + (f" (e.g. {', '.join(sample)})" if sample else "")
            + "; a destination row must be exactly one model row. Fix the model so the key is unique and not null."
        )
    identity = ", ".join(f"{name} := {IDENTITY_SQL[name]}" for name in destination.identity)
    fields = ", ".join(f"{_q(name)} := m.{_q(column)}" for name, column in sorted(spec.fields.items()))
    payload = f"struct_pack(identity := struct_pack({identity})" + (
        f", fields := struct_pack({fields}))" if fields else ")"
    )
    consent = CONSENT_SQL[destination.consent_channel] if destination.consent_channel else "true"
    usable = " or ".join(f"({IDENTITY_SQL[name]}) is not null" for name in destination.required_any) or "true"
    _gone_records(con)
    live = ("not exists (select 1 from sync_gone_records g where g.source = sr.source"
            " and g.record_type = sr.record_type and g.record_id = sr.record_id)")
    exists = (
        f"exists (select 1 from {SOURCE_RECORDS} sr where sr.customer_id = m.customer_id and {destination.exists_sql}"
        f" and {live})"
        if destination.exists_sql else "false"
    )
    has_contacts = _relation_exists(con, CRM_CONTACTS)
    crm_email = "c.email" if has_contacts else "null::varchar"
    crm_join = f"left join {CRM_CONTACTS} c on c.contact_id = g.record_id" if has_contacts else ""
    con.execute(f"""
        create or replace temp table sync_candidates as
        select m.{_q(spec.key)}::varchar as key, to_json({payload})::varchar as payload,
               coalesce({consent}, false) as consent_ok, coalesce({usable}, false) as identifier_ok,
               {exists} as known_to_destination
        from {spec.relation} m
        left join {PROFILES} p on p.customer_id = m.customer_id
        left join (
            select g.customer_id, g.record_id, {crm_email} as email from (
                select sr.customer_id, max(sr.record_id) as record_id from {SOURCE_RECORDS} sr
                where sr.source = 'hubspot' and sr.record_type = 'contact' and {live} group by sr.customer_id
            ) g {crm_join}
        ) crm on crm.customer_id = m.customer_id""")
    con.execute("""
        create or replace temp table sync_desired as
        select key, payload, md5(payload) as row_hash, known_to_destination
        from sync_candidates where consent_ok and identifier_ok""")


def _relation_exists(con, relation: str) -> bool:
    schema, name = relation.split(".")
    return bool(con.execute("select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                            [schema, name]).fetchone()[0])


def _gone_records(con) -> None:
    """sync_gone_records(source, record_type, record_id): what the vendors merged away or deleted."""
    parts = [f"{select} from {relation}" for relation, select in GONE_RECORDS.items() if _relation_exists(con, relation)]
    con.execute("create or replace temp table sync_gone_records (source varchar, record_type varchar,"
                " record_id varchar)")
    if parts:
        con.execute("insert into sync_gone_records " + " union all ".join(parts))


def _diff(con, spec: SyncSpec, full_resync: bool, operations: tuple[str, ...], forget: bool = False) -> None:
    state_exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'syncs' and table_name = 'sync_state'"
    ).fetchone()[0]
    if state_exists:
        con.execute(
            f"create or replace temp table sync_held as select key, row_hash, payload, destination_id from {STATE}"
            " where sync_name = ?", [spec.name])
        if spec.destination in DESTINATION_RECORDS:
            # A row held on a record the vendor has since deleted or merged away is held no more: it is never
            # removed or changed there (that would write to a gone id); a row still desired is added afresh.
            source, record_type = DESTINATION_RECORDS[spec.destination]
            vanished = ("destination_id in (select record_id from sync_gone_records where source = ?"
                        " and record_type = ?)")
            con.execute(f"delete from sync_held where {vanished}", [source, record_type])
            if forget:
                con.execute(f"delete from {STATE} where sync_name = ? and {vanished}", [spec.name, source, record_type])
    else:
        con.execute("create or replace temp table sync_held (key varchar, row_hash varchar, payload varchar,"
                    " destination_id varchar)")
    # A full resync forgets what was confirmed for adds and changes (everything is sent again) but still removes
    # what the destination holds beyond the model.
    known = "false" if full_resync else "h.key is not null"
    adds_filter = "d.known_to_destination" if spec.mode == "update" else "true"
    parts = {
        "add": f"""select 'add' as op, d.key, d.payload, d.row_hash, null::varchar as previous, h.destination_id
            from sync_desired d left join sync_held h using (key) where not ({known}) and {adds_filter}""",
        "change": f"""select 'change', d.key, d.payload, d.row_hash, h.payload, h.destination_id
            from sync_desired d join sync_held h using (key) where {known} and d.row_hash <> h.row_hash""",
        "remove": """select 'remove', h.key, h.payload, h.row_hash, h.payload, h.destination_id
            from sync_held h anti join sync_desired d using (key)""",
    }
    con.execute("create or replace temp table sync_plan as "
                + " union all ".join(parts[op] for op in ("add", "change", "remove") if op in operations))


def _summarise(con, spec: SyncSpec, run: RunFolder | None, force: bool, full_resync: bool) -> PlanSummary:
    counts = dict(con.execute("select op, count(*) from sync_plan group by op").fetchall())
    no_consent, no_identifier = con.execute(
        "select count(*) filter (where not consent_ok), count(*) filter (where consent_ok and not identifier_ok)"
        " from sync_candidates").fetchone()
    held, = con.execute("select count(*) from sync_held").fetchone()
    desired, = con.execute("select count(*) from sync_desired").fetchone()
    samples = {}
    for op in ("add", "change", "remove"):
        rows = con.execute("select key, payload from sync_plan where op = ? order by key limit ?",
                           [op, SAMPLE_SIZE]).fetchall()
        samples[op] = [{"key": key, **json.loads(payload)} for key, payload in rows]
    return PlanSummary(
        sync_name=spec.name, run_id=run.run_id if run else None, adds=counts.get("add", 0),
        changes=counts.get("change", 0), removes=counts.get("remove", 0),
        unchanged=desired - counts.get("add", 0) - counts.get("change", 0),
        skipped_no_consent=no_consent, skipped_no_identifier=no_identifier, held=held,
        full_resync=full_resync, forced=force, samples=samples,
    )


def _guard(spec: SyncSpec, summary: PlanSummary, force: bool) -> None:
    """Refuse a run that would change or remove more than the allowed share of what the destination holds."""
    if force or summary.held == 0:
        return
    share = (summary.changes + summary.removes) / summary.held
    if share > spec.max_change_share:
        raise SyncRefused(
            f"{spec.name}: this run would change {summary.changes} and remove {summary.removes} of the "
            f"{summary.held} rows the destination holds ({share:.0%}, more than the allowed "
            f"{spec.max_change_share:.0%}). If that is intended (a rebuilt segment), run `cdp sync {spec.name} "
            "--force`, or raise max_change_share in the model's config.meta.cdp.syncs; otherwise look at what "
            f"changed in {spec.model} (`cdp sync {spec.name} --dry-run` shows samples)."
        )


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
