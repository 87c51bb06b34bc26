"""Advance plays the vendors' deletions and merges on the tiny world, and the emulators serve them as the
vendors do: merged and archived HubSpot records leave listings and search (archived=true lists the archived
ones), the survivor lists what was merged into it, deleted Shopify customers and Klaviyo profiles are gone,
suppressed profiles stay unsubscribable; the truth keeps a merged contact and drops deleted records."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from sandbox.emulators.common import Limits
from sandbox.server import sandbox_in_thread
from sandbox.world.advance import advance_world
from sandbox.world.generate import generate_world

QUIET = lambda _: None  # noqa: E731
DAYS = 3


@pytest.fixture(scope="module")
def advanced(tmp_path_factory) -> tuple[Path, dict]:
    world_dir = tmp_path_factory.mktemp("tiny") / "world"
    generate_world(world_dir, "tiny", 7, progress=QUIET)
    advance_world(world_dir, DAYS, progress=QUIET)
    ledger = json.loads((world_dir.parent / "world_state.json").read_text())["vendor_changes"]
    return world_dir, ledger


def ids(world_dir: Path, vendor: str, resource: str) -> set[str]:
    path = world_dir / vendor / f"{resource}.parquet"
    return set(pq.read_table(path)["id"].to_pylist()) if path.exists() else set()


def truth_keys(world_dir: Path) -> set[tuple[str, str]]:
    return {(r["source"], r["record_id"]) for r in pq.read_table(world_dir.parent / "ground_truth.parquet").to_pylist()}


def test_each_day_plays_every_kind_of_change_and_the_ledger_keeps_them_gone(advanced):
    world_dir, ledger = advanced
    # Each share rounds up, so a tiny world sees each kind of change every day it has a candidate.
    assert ledger["merged"]  # a day with no duplicate left to merge may come, so at least one
    for kind in ("archived_contacts", "archived_deals", "deleted_customers", "deleted_profiles",
                 "suppressed_profiles"):
        assert len(ledger[kind]) == DAYS, kind
    contacts = ids(world_dir, "hubspot", "contacts")
    assert not contacts & (set(ledger["merged"]) | set(ledger["archived_contacts"]))
    assert set(ledger["merged"].values()) <= contacts  # every survivor is live
    assert ids(world_dir, "hubspot", "archived_contacts") == set(ledger["archived_contacts"])
    assert ids(world_dir, "hubspot", "archived_deals") == set(ledger["archived_deals"])
    assert not ids(world_dir, "hubspot", "deals") & set(ledger["archived_deals"])
    assert not ids(world_dir, "shopify", "customers") & set(ledger["deleted_customers"])
    assert not ids(world_dir, "klaviyo", "profiles") & set(ledger["deleted_profiles"])
    # A merged contact is still its person's record; archived and deleted ones are no longer visible.
    truth = truth_keys(world_dir)
    assert {("hubspot", i) for i in ledger["merged"]} <= truth
    gone = ({("hubspot", i) for i in ledger["archived_contacts"]} | {("shopify", i) for i in ledger["deleted_customers"]}
            | {("klaviyo", i) for i in ledger["deleted_profiles"]})
    assert not truth & gone
    people = {r["record_id"]: r["person_id"] for r in pq.read_table(world_dir.parent / "ground_truth.parquet")
              .to_pylist() if r["source"] == "hubspot"}
    for duplicate, survivor in ledger["merged"].items():
        assert people[duplicate] == people[survivor]  # merged into a contact of the same person


def test_the_emulators_serve_the_changes_as_the_vendors_do(advanced):
    world_dir, ledger = advanced
    world = json.loads((world_dir / "world.json").read_text())
    hubspot = {"Authorization": f"Bearer {world['credentials']['hubspot']['access_token']}"}
    with sandbox_in_thread(world_dir, Limits(enabled=False)) as base:
        client = httpx.Client(base_url=f"{base}/hubspot", headers=hubspot)

        def listed(object_type: str, **params) -> list[dict]:
            results, after = [], None
            while True:
                page = client.get(f"/crm/v3/objects/{object_type}", params={
                    "limit": 100, "properties": "hs_merged_object_ids", **params,
                    **({"after": after} if after else {})}).json()
                results += page["results"]
                after = ((page.get("paging") or {}).get("next") or {}).get("after")
                if not after:
                    return results

        live = {r["id"]: r for r in listed("contacts")}
        assert not set(live) & (set(ledger["merged"]) | set(ledger["archived_contacts"]))
        for duplicate, survivor in ledger["merged"].items():
            assert duplicate in live[survivor]["properties"]["hs_merged_object_ids"].split(";")
            # the merged id's GET answers with the survivor
            assert client.get(f"/crm/v3/objects/contacts/{duplicate}").json()["id"] == survivor
        archived = listed("contacts", archived="true")
        assert {r["id"] for r in archived} == set(ledger["archived_contacts"])
        assert all(r["archived"] and r["archivedAt"] for r in archived)
        assert {r["id"] for r in listed("deals", archived="true")} == set(ledger["archived_deals"])
        found = client.post("/crm/v3/objects/contacts/search", json={"limit": 200}).json()
        assert found["total"] == len(live)

        klaviyo = {"Authorization": f"Klaviyo-API-Key {world['credentials']['klaviyo']['api_key']}",
                   "revision": "2026-07-15"}
        suppressed = next(iter(ledger["suppressed_profiles"]))
        if suppressed not in ledger["deleted_profiles"]:
            body = httpx.get(f"{base}/klaviyo/api/profiles/{suppressed}/", headers=klaviyo,
                             params={"additional-fields[profile]": "subscriptions"}).json()["data"]
            marketing = body["attributes"]["subscriptions"]["email"]["marketing"]
            assert marketing["can_receive_email_marketing"] is False
            assert marketing["suppression"][0]["reason"] == "USER_SUPPRESSED"
        gone = next(iter(ledger["deleted_profiles"]))
        assert httpx.get(f"{base}/klaviyo/api/profiles/{gone}/", headers=klaviyo).status_code == 404
