"""Staging reads each vendor table through its declared columns (macro `declared_source`), so an account
that has sent no rows for a table, or no value for a column, still builds: the shapes a real, young or sparse
account takes, which a well-filled sandbox never shows."""

from __future__ import annotations

import duckdb
import pytest
import yaml

from cdp.paths import dbt_project_dir, warehouse_path
from tests.helpers.dbt import build

pytestmark = pytest.mark.slow


def declared_columns() -> dict[tuple[str, str], list[str]]:
    declared = {}
    for path in (dbt_project_dir() / "models" / "staging").glob("*/_*__sources.yml"):
        for source in yaml.safe_load(path.read_text())["sources"]:
            for table in source["tables"]:
                declared[(source["name"], table["name"])] = [c["name"] for c in table.get("columns", [])]
    return declared


def test_every_source_table_declares_the_columns_it_is_read_by():
    declared = declared_columns()
    assert declared, "no sources found"
    undeclared = sorted(f"{s}.{t}" for (s, t), columns in declared.items() if not columns)
    assert not undeclared, f"source tables without declared columns: {undeclared}"


def test_staging_builds_on_a_warehouse_where_no_vendor_table_exists_yet(tmp_path, monkeypatch):
    warehouse_path().parent.mkdir(parents=True, exist_ok=True)
    result = build("staging", tmp_path, monkeypatch)
    failed = [r.node.name for r in result.result if r.status not in ("success", "pass")]
    assert result.success and not failed, failed
    with duckdb.connect(str(warehouse_path())) as con:
        views = dict(con.sql("select table_name, count(*) from information_schema.columns "
                             "where table_schema = 'staging' group by 1").fetchall())
        rows = {name: con.sql(f'select count(*) from staging."{name}"').fetchone()[0] for name in views}
    assert len(views) >= 30 and set(rows.values()) == {0}


def test_a_table_missing_some_declared_columns_reads_them_as_nulls(tmp_path, monkeypatch):
    # A young shop: orders carry no customer, no location and no landing site at all.
    warehouse_path().parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse_path())) as con:
        con.execute("create schema shopify")
        con.execute("create table shopify.orders (id bigint, name varchar, source_name varchar, "
                    "currency varchar, total_price varchar, created_at timestamptz, updated_at timestamptz, "
                    "_dlt_id varchar)")
        con.execute("insert into shopify.orders values (1, '#1001', 'pos', 'USD', '10.00', "
                    "'2026-09-01 10:00:00+00', '2026-09-01 10:00:00+00', 'a')")
    result = build("stg_shopify__orders", tmp_path, monkeypatch)
    assert result.success
    with duckdb.connect(str(warehouse_path())) as con:
        row = con.sql("select order_id, customer_id, location_id, landing_site, channel, total_price "
                      "from staging.stg_shopify__orders").fetchone()
    assert row == (1, None, None, None, "pos", 10)
