"""Fixtures for the sync engine: a small hand-made warehouse, the sandbox as every destination, and a
helper that runs one sync end to end (plan, deliver, record) the way the Dagster asset does.

The warehouse holds the two marts the planner reads (customer_profiles, customer_source_records) and a
segment table `segments.test_segment(customer_id, score)` that tests rewrite between runs.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import httpx
import pytest

from reverse_etl.engine import run_sync
from reverse_etl.plan import SyncSpec
from sandbox.credentials import dlt_environment
from sandbox.server import sandbox_in_thread
from tests.helpers.worlds import STARTED_AT, add_records, make_world
from tests.sandbox.test_hubspot_emulator import contact  # the vendors' record shapes the emulator tests use
from tests.sandbox.test_klaviyo_emulator import profile

PEOPLE = 40
# The first few people already exist in the vendors' worlds (a HubSpot contact, a Klaviyo profile).
EXISTING = 5


@dataclass
class Person:
    customer_id: str
    email: str | None
    phone: str | None
    first_name: str
    last_name: str
    email_consent: str
    crm_contact_id: str | None
    crm_owner_id: str | None


def people(count: int = PEOPLE) -> list[Person]:
    result = []
    for n in range(count):
        result.append(Person(
            customer_id=f"cus_{n:04d}",
            email=None if n % 13 == 12 else f"person{n}@example.com",
            phone=f"+4930{n:07d}",
            first_name=f"First{n}",
            last_name=f"Last{n}",
            # every 7th person unsubscribed from email marketing
            email_consent="unsubscribed" if n % 7 == 6 else "subscribed",
            crm_contact_id=str(n) if n < EXISTING else None,
            crm_owner_id="9001" if n < EXISTING else None,
        ))
    return result


def build_warehouse(path: Path, persons: list[Person]) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists marts")
        con.execute("create schema if not exists segments")
        con.execute("""create or replace table marts.customer_profiles (customer_id varchar, primary_email varchar,
            primary_phone varchar, first_name varchar, last_name varchar, email_consent varchar, sms_consent varchar,
            crm_owner_id varchar)""")
        con.executemany("insert into marts.customer_profiles values (?, ?, ?, ?, ?, ?, 'unknown', ?)",
                        [(p.customer_id, p.email, p.phone, p.first_name, p.last_name, p.email_consent,
                          p.crm_owner_id) for p in persons])
        con.execute("""create or replace table marts.customer_source_records (source varchar, record_type varchar,
            record_id varchar, customer_id varchar)""")
        con.executemany("insert into marts.customer_source_records values ('hubspot', 'contact', ?, ?)",
                        [(p.crm_contact_id, p.customer_id) for p in persons if p.crm_contact_id])
        con.executemany("insert into marts.customer_source_records values ('klaviyo', 'profile', ?, ?)",
                        [(f"01PROFILE{n:05d}", p.customer_id) for n, p in enumerate(persons[:EXISTING])])


def set_segment(path: Path, members: dict[str, float]) -> None:
    """Replace the segment's rows: customer_id -> score."""
    with duckdb.connect(str(path)) as con:
        con.execute("create or replace table segments.test_segment (customer_id varchar, score double,"
                    " task_key varchar, task_subject varchar)")
        con.executemany("insert into segments.test_segment values (?, ?, ?, ?)",
                        [(cid, score, f"call:{cid}", f"Call {cid}") for cid, score in members.items()])


class Sandbox:
    def __init__(self, base_url: str):
        self.base_url = base_url
        self.client = httpx.Client(base_url=base_url, timeout=30)

    def state(self, vendor: str) -> dict:
        return self.client.get(f"/_sandbox/destinations/{vendor}").raise_for_status().json()

    def requests(self) -> list[dict]:
        return self.client.get("/_sandbox/requests").raise_for_status().json()["requests"]

    def reset_requests(self) -> None:
        self.client.delete("/_sandbox/requests").raise_for_status()

    def writes(self, vendor: str) -> dict[tuple[str, str], int]:
        """(method, route) -> count, for the vendor's non-GET requests since the last reset."""
        return {(r["method"], r["route"]): r["count"] for r in self.requests()
                if r["vendor"] == vendor and r["method"] != "GET"}

    def count(self, vendor: str) -> int:
        return sum(r["count"] for r in self.requests() if r["vendor"] == vendor)

    def fault(self, **rule) -> None:
        self.client.post("/_sandbox/faults", json=rule).raise_for_status()

    def clear_faults(self) -> None:
        self.client.delete("/_sandbox/faults").raise_for_status()


@pytest.fixture
def sandbox(tmp_path, monkeypatch, isolated_cdp_home) -> Sandbox:
    world = make_world(tmp_path / "world")
    add_records(world, "hubspot", "contacts",
                [contact(n, STARTED_AT, STARTED_AT) for n in range(EXISTING)])
    add_records(world, "klaviyo", "profiles", [profile(n, STARTED_AT) for n in range(EXISTING)])
    with sandbox_in_thread(world) as base_url:
        for key, value in dlt_environment(json.loads((world / "world.json").read_text()), base_url).items():
            monkeypatch.setenv(key, value)
        # Fault tests run in seconds: short waits, and no client-side pacing beyond the emulators' limits.
        for vendor in ("KLAVIYO", "HUBSPOT", "META", "WEBHOOK"):
            monkeypatch.setenv(f"DESTINATIONS__{vendor}__HTTP_BACKOFF_SECONDS", "0.05")
            monkeypatch.setenv(f"DESTINATIONS__{vendor}__HTTP_MAX_WAIT_SECONDS", "2")
            monkeypatch.setenv(f"DESTINATIONS__{vendor}__HTTP_TIMEOUT", "5")
            monkeypatch.setenv(f"DESTINATIONS__{vendor}__REQUESTS_PER_SECOND", "0")
        monkeypatch.setattr("reverse_etl.destinations.klaviyo.JOB_POLL_SECONDS", 0.05)
        yield Sandbox(base_url)


@pytest.fixture
def warehouse(isolated_cdp_home) -> Path:
    isolated_cdp_home.mkdir(parents=True, exist_ok=True)
    path = isolated_cdp_home / "warehouse.duckdb"
    build_warehouse(path, people())
    return path


_runs = itertools.count(1)


def sync(spec: SyncSpec, warehouse: Path, **options):
    """One sync run now; returns (plan summary, delivery summary, run record)."""
    return run_sync(spec, f"run-{next(_runs):04d}", str(warehouse), **options)


def spec_for(destination: str, mode: str = "mirror", target: str = "Test segment", key: str = "customer_id",
             fields: dict | None = None, max_change_share: float = 1.0) -> SyncSpec:
    return SyncSpec(name=f"{destination}__test_segment", model="test_segment", relation="segments.test_segment",
                    destination=destination, key=key, mode=mode, target=target, fields=fields or {},
                    max_change_share=max_change_share)


def expected_members(members, consent_needed: bool = True, needs_email: bool = True) -> set[str]:
    by_id = {p.customer_id: p for p in people()}
    return {cid for cid in members
            if (not consent_needed or by_id[cid].email_consent == "subscribed")
            and (not needs_email or by_id[cid].email)}


def email_of(customer_id: str) -> str | None:
    return {p.customer_id: p.email for p in people()}[customer_id]
