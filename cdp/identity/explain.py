"""`cdp identity explain <type>:<value>`: which profile holds an identifier, and why its records are together.

Reads the published read copy (cdp.warehouse.read_connection), never the live warehouse. The chain of edges is
a breadth-first walk over the profile's kept links from the records carrying the identifier: each step names
the record reached, the identifier it shares with a record already reached, and the rule behind the link.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import duckdb

from cdp.identity.normalize import email_match_key, phone_to_e164
from cdp.identity.step import SCHEMA

CANDIDATE_COUNTRIES = ("US", "GB", "DE")


@dataclass(frozen=True)
class Hop:
    record: str
    via_record: str | None
    id_type: str | None
    match_key: str | None
    rule: str | None


def parse_identifier(text: str) -> tuple[str, str]:
    id_type, sep, value = text.partition(":")
    if not sep or not id_type or not value.strip():
        raise ValueError(f"Expected <type>:<value>, e.g. email:jo@example.com, got {text!r}.")
    return id_type.strip(), value.strip()


def match_keys_for(id_type: str, value: str) -> set[str]:
    keys = {value, value.strip()}
    if id_type == "email":
        keys |= {value.strip().lower(), email_match_key(value)}
    if id_type == "phone":
        e164 = phone_to_e164(value, None, CANDIDATE_COUNTRIES)
        if e164:
            keys.add(e164)
    return keys


def chain(start: list[str], links: list[tuple[str, str, str, str]]) -> list[Hop]:
    """Breadth-first hops over links (record, id_type, match_key, rule) from the start records."""
    by_value: dict[tuple[str, str], list[tuple[str, str]]] = {}
    by_record: dict[str, list[tuple[str, str]]] = {}
    for record, id_type, key, rule in links:
        by_value.setdefault((id_type, key), []).append((record, rule))
        by_record.setdefault(record, []).append((id_type, key))
    hops = [Hop(r, None, None, None, None) for r in start]
    seen = set(start)
    queue = deque(start)
    while queue:
        record = queue.popleft()
        for id_type, key in sorted(by_record.get(record, [])):
            for other, rule in sorted(by_value[(id_type, key)]):
                if other not in seen:
                    seen.add(other)
                    hops.append(Hop(other, record, id_type, key, rule))
                    queue.append(other)
    return hops


def explain(con: duckdb.DuckDBPyConnection, text: str) -> list[str]:
    id_type, value = parse_identifier(text)
    keys = sorted(match_keys_for(id_type, value))
    marks = ", ".join("?" for _ in keys)
    record_key = "source || ':' || record_type || ':' || record_id"
    carriers = con.execute(f"""
        select distinct {record_key}, match_key from {SCHEMA}.int_identity__record_identifiers
        where id_type = ? and (match_key in ({marks}) or id_value in ({marks}) or written_value in ({marks}))""",
                           [id_type, *keys, *keys, *keys]).fetchall()
    if not carriers:
        return [f"No record carries {id_type}:{value}."]
    lines = []
    for (match_key,) in {(k,) for _, k in carriers if k}:
        blocked = con.execute(f"select reason from {SCHEMA}.int_identity__blocked_values "
                              "where id_type = ? and match_key = ?", [id_type, match_key]).fetchone()
        refused = con.execute(f"select reason from {SCHEMA}.refused_values where id_type = ? and match_key = ?",
                              [id_type, match_key]).fetchone()
        if blocked:
            lines.append(f"{id_type}:{match_key} links nothing: blocked ({blocked[0]}).")
        if refused:
            lines.append(f"{id_type}:{match_key} links nothing: refused ({refused[0]}).")
    profiles = con.execute(f"""
        select distinct a.customer_id from {SCHEMA}.record_assignments a
        where {record_key} in (select unnest(?))""", [[r for r, _ in carriers]]).fetchall()
    for (customer_id,) in sorted(profiles):
        members = con.execute(f"""select {record_key} from {SCHEMA}.record_assignments
            where customer_id = ? order by 1""", [customer_id]).fetchall()
        links = con.execute(f"""
            select {record_key}, e.id_type, e.match_key, e.rule
            from {SCHEMA}.int_identity__edges e
            join {SCHEMA}.record_assignments a using (source, record_type, record_id)
            where a.customer_id = ?
              and not exists (select 1 from {SCHEMA}.refused_values r
                              where r.id_type = e.id_type and r.match_key = e.match_key)""",
                            [customer_id]).fetchall()
        identifiers = sorted({(t, k) for _, t, k, _ in links})
        lines.append(f"profile {customer_id}: {len(members)} records, {len(identifiers)} identifiers")
        lines.append("  identifiers:")
        lines += [f"    {t}:{k}" for t, k in identifiers]
        start = sorted(r for r, _ in carriers if (r,) in set(members))
        lines.append("  why these records are together:")
        for hop in chain(start, links):
            if hop.via_record is None:
                lines.append(f"    {hop.record}  carries {id_type}:{value}")
            else:
                lines.append(f"    {hop.record}  <- {hop.via_record} via {hop.id_type}:{hop.match_key} "
                             f"({hop.rule})")
    return lines
