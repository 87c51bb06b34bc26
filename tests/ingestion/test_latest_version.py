"""A record read twice in one run (it changed while the pages were being read) keeps its latest version."""

from __future__ import annotations

from datetime import UTC, datetime

import dlt
import duckdb
import pytest

from cdp.paths import warehouse_path
from ingestion.pipeline import latest_version_wins, make_pipeline, source_factory

# Every merge table whose records change in place, and the column saying when they last changed.
UPDATED_COLUMN = {
    ("hubspot", "contacts"): "updated_at",
    ("hubspot", "deals"): "updated_at",
    ("shopify", "customers"): "updated_at",
    ("shopify", "orders"): "updated_at",
    ("klaviyo", "profiles"): "attributes__updated",
    ("klaviyo", "lists"): "attributes__updated",
    ("klaviyo", "campaigns"): "attributes__updated_at",
    ("meta", "campaigns"): "updated_time",
}


def test_the_latest_version_of_a_record_read_twice_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("CDP_HOME", str(tmp_path))
    older, newer = datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 9, 2, tzinfo=UTC)

    @dlt.resource(name="contacts", primary_key="id", write_disposition="merge",
                  columns=latest_version_wins("updated_at"))
    def contacts():
        # As a run paging oldest change first meets them: the old version, later the new one.
        yield [{"id": 1, "email": "old@example.com", "updated_at": older},
               {"id": 2, "email": "other@example.com", "updated_at": older},
               {"id": 1, "email": "new@example.com", "updated_at": newer}]

    make_pipeline("versions").run(contacts())
    with duckdb.connect(str(warehouse_path()), read_only=True) as con:
        rows = con.execute("select id, email from versions.contacts order by id").fetchall()
    assert rows == [(1, "new@example.com"), (2, "other@example.com")]


@pytest.mark.parametrize(("vendor", "table"), sorted(UPDATED_COLUMN))
def test_each_changing_table_declares_its_update_time(vendor, table, monkeypatch):
    for key, value in {
        "SOURCES__HUBSPOT__ACCESS_TOKEN": "t", "SOURCES__SHOPIFY__CLIENT_ID": "i",
        "SOURCES__SHOPIFY__CLIENT_SECRET": "s", "SOURCES__KLAVIYO__API_KEY": "k", "SOURCES__META__ACCESS_TOKEN": "t",
        "SOURCES__META__AD_ACCOUNT_ID": "1", "SOURCES__META__PAGE_ID": "2", "SOURCES__META__START_DATE": "2026-01-01",
    }.items():
        monkeypatch.setenv(key, value)
    source = source_factory(vendor)()
    columns = source.resources[table].compute_table_schema()["columns"]
    assert columns[UPDATED_COLUMN[(vendor, table)]].get("dedup_sort") == "desc"
